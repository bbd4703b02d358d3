"""``Dataset.shard`` against TensorFlow's recorded behaviour (record_shard_tf.py)."""

import json
import os

import pytest

import tapegrad as tf
from tests.distributed.record_shard_tf import BAD, CASES, element, pipelines

with open(os.path.join(os.path.dirname(__file__), "shard_tf.json")) as f:
    RECORDED = json.load(f)


@pytest.mark.parametrize("pipeline", sorted(pipelines(tf)))
@pytest.mark.parametrize("num_shards,index", CASES)
def test_shard_matches_tensorflow(pipeline, num_shards, index):
    ds = pipelines(tf)[pipeline](num_shards, index)
    expected = RECORDED["cases"][f"{pipeline}/{num_shards}/{index}"]
    assert [element(e) for e in ds.as_numpy_iterator()] == expected["elements"]
    assert int(ds.cardinality()) == expected["cardinality"]


def test_shard_of_infinite_dataset_is_infinite():
    ds = tf.data.Dataset.range(10).repeat().shard(3, 1)
    assert int(ds.cardinality()) == RECORDED["infinite_cardinality"]
    assert [int(x) for x in ds.take(5)] == [1, 4, 7, 0, 3]


@pytest.mark.parametrize("num_shards,index", BAD)
def test_bad_shard_arguments_raise_tensorflows_errors(num_shards, index):
    error_type, message = RECORDED["errors"][repr((num_shards, index))]
    with pytest.raises(getattr(tf.errors, error_type, TypeError)) as caught:
        list(tf.data.Dataset.range(10).shard(num_shards, index))
    assert type(caught.value).__name__ == error_type
    assert str(caught.value) == message


def test_shards_partition_the_data():
    data = tf.data.Dataset.range(23).shuffle(23, seed=4, reshuffle_each_iteration=False)
    parts = [[int(x) for x in data.shard(4, i)] for i in range(4)]
    assert sorted(sum(parts, [])) == list(range(23))


def test_integer_tensor_arguments_are_accepted():
    ds = tf.data.Dataset.range(6).shard(tf.constant(2), tf.constant(1, dtype=tf.int64))
    assert [int(x) for x in ds] == [1, 3, 5]
