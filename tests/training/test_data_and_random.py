"""tf.data pipelines and tf.random: structure, batching by slicing, seeds."""

import numpy as np
import pytest

import tapegrad as tf


def _collect(ds):
    return [tuple(t.numpy().tolist() for t in e) if isinstance(e, tuple) else e.numpy().tolist()
            for e in ds]


def test_from_tensor_slices_tuples_dicts_and_batches():
    x = np.arange(10, dtype=np.float32).reshape(5, 2)
    y = np.arange(5)
    batches = list(tf.data.Dataset.from_tensor_slices((x, y)).batch(2))
    assert [b[1].numpy().tolist() for b in batches] == [[0, 1], [2, 3], [4]]
    assert batches[0][0].shape == (2, 2) and batches[0][0].dtype == tf.float32
    dropped = tf.data.Dataset.from_tensor_slices((x, y)).batch(2, drop_remainder=True)
    assert len(list(dropped)) == 2 and len(dropped) == 2
    dicts = list(tf.data.Dataset.from_tensor_slices({"x": x, "y": y}).batch(4))
    assert dicts[0]["x"].shape == (4, 2) and dicts[1]["y"].numpy().tolist() == [4]
    with pytest.raises(ValueError, match="first dimensions"):
        tf.data.Dataset.from_tensor_slices((x, np.arange(3)))


def test_map_take_skip_repeat_prefetch():
    ds = tf.data.Dataset.range(6).map(lambda v: v * 2).take(4).repeat(2).prefetch(1)
    assert [int(v) for v in ds] == [0, 2, 4, 6] * 2
    pairs = tf.data.Dataset.from_tensor_slices(([1.0, 2.0, 3.0], [4.0, 5.0, 6.0]))
    assert _collect(pairs.skip(1).map(lambda a, b: a + b)) == [7.0, 9.0]
    batched_then_mapped = tf.data.Dataset.from_tensor_slices(np.arange(5.0)).batch(2).map(
        lambda b: b * 10)
    assert _collect(batched_then_mapped) == [[0.0, 10.0], [20.0, 30.0], [40.0]]
    assert len(tf.data.Dataset.range(5).repeat(3)) == 15
    assert int(tf.data.Dataset.range(5).repeat().cardinality()) == tf.data.INFINITE_CARDINALITY


def test_batches_span_repeats():
    ds = tf.data.Dataset.from_tensor_slices(np.arange(5)).repeat(2).batch(4)
    assert _collect(ds) == [[0, 1, 2, 3], [4, 0, 1, 2], [3, 4]]


def test_shuffle_is_a_seeded_permutation_reshuffled_each_epoch():
    ds = tf.data.Dataset.from_tensor_slices(np.arange(50)).shuffle(50, seed=3)
    first, second = _collect(ds), _collect(ds)
    assert sorted(first) == list(range(50)) and sorted(second) == list(range(50))
    assert first != second and first != list(range(50))
    again = tf.data.Dataset.from_tensor_slices(np.arange(50)).shuffle(50, seed=3)
    assert _collect(again) == first
    fixed = tf.data.Dataset.from_tensor_slices(np.arange(20)).shuffle(
        20, seed=1, reshuffle_each_iteration=False)
    assert _collect(fixed) == _collect(fixed)


def test_small_shuffle_buffer_only_mixes_nearby_elements():
    order = _collect(tf.data.Dataset.range(100).shuffle(4, seed=0))
    assert sorted(order) == list(range(100))
    assert order[0] < 4            # the first element comes from the first buffer
    assert all(abs(v - i) < 60 for i, v in enumerate(order))


def test_batching_slices_whole_arrays_not_elements(monkeypatch):
    from tapegrad.training import data

    calls = []
    original = data._pack

    def counting(skeleton, arrays):
        calls.append(arrays[0].shape)
        return original(skeleton, arrays)

    monkeypatch.setattr(data, "_pack", counting)
    n = 10_000
    ds = tf.data.Dataset.from_tensor_slices((np.zeros((n, 3)), np.zeros(n))).shuffle(n, seed=0)
    batches = list(ds.batch(1000))
    assert len(batches) == 10 and len(calls) == 10 and calls[0] == (1000, 3)


def test_random_reproducible_under_global_and_op_seeds():
    tf.random.set_seed(11)
    a = [tf.random.normal([3]).numpy(), tf.random.uniform([2], seed=5).numpy()]
    tf.random.set_seed(11)
    b = [tf.random.normal([3]).numpy(), tf.random.uniform([2], seed=5).numpy()]
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    tf.random.set_seed(12)
    assert not np.array_equal(tf.random.normal([3]).numpy(), a[0])


def test_random_distributions():
    tf.random.set_seed(0)
    t = tf.random.truncated_normal([5000], mean=1.0, stddev=2.0).numpy()
    assert np.abs(t - 1.0).max() <= 4.0 + 1e-6
    u = tf.random.uniform([5000], minval=-1, maxval=3).numpy()
    assert u.min() >= -1 and u.max() < 3 and u.dtype == np.float32
    ints = tf.random.uniform([100], maxval=5, dtype=tf.int32).numpy()
    assert ints.min() >= 0 and ints.max() < 5
    n = tf.random.normal([20000], mean=2.0, stddev=0.5, dtype=tf.float64).numpy()
    assert abs(n.mean() - 2.0) < 0.02 and abs(n.std() - 0.5) < 0.02 and n.dtype == np.float64
    s = tf.random.shuffle(tf.constant([[1, 2], [3, 4], [5, 6]])).numpy()
    assert sorted(map(tuple, s)) == [(1, 2), (3, 4), (5, 6)]


def test_generator_from_seed():
    g1, g2 = tf.random.Generator.from_seed(9), tf.random.Generator.from_seed(9)
    np.testing.assert_array_equal(g1.normal([4]).numpy(), g2.normal([4]).numpy())
    np.testing.assert_array_equal(g1.uniform([2, 2]).numpy(), g2.uniform([2, 2]).numpy())
    assert not np.array_equal(g1.normal([4]).numpy(), tf.random.Generator.from_seed(10)
                              .normal([4]).numpy())
    seeds = tf.random.Generator.from_seed(1).make_seeds(2)
    assert seeds.shape == (2, 2)
    a = tf.random.stateless_normal([3], seed=seeds[:, 0])
    b = tf.random.stateless_normal([3], seed=seeds[:, 0])
    np.testing.assert_array_equal(a.numpy(), b.numpy())
