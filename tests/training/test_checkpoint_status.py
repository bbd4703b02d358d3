"""Checkpoint load statuses and CheckpointManager numbering compared with TensorFlow 2.21
(recorded by ``record_checkpoint_status_tf.py`` into ``expected_tf_checkpoint_status.json``)."""

import json
import os

import pytest

import tapegrad as tf
from tests.training import checkpoint_status_cases as cases

with open(os.path.join(os.path.dirname(__file__), "expected_tf_checkpoint_status.json")) as f:
    EXPECTED = json.load(f)


@pytest.mark.parametrize("name", sorted(cases.PROBES))
def test_probe_matches_tensorflow(name, tmp_path):
    assert cases.PROBES[name](tf, str(tmp_path)) == EXPECTED[name]


def test_every_probe_was_recorded():
    assert set(EXPECTED) - {"_recorded_with"} == set(cases.PROBES)


def test_messages_name_what_was_left_over(tmp_path):
    path = tf.train.Checkpoint(a=tf.Variable(1.0), b=tf.Variable(2.0)).save(
        str(tmp_path / "ckpt"))
    with pytest.raises(AssertionError, match=r"\['b'\].*expect_partial"):
        tf.train.Checkpoint(a=tf.Variable(0.0)).restore(path).assert_consumed()
    with pytest.raises(AssertionError, match=r"\['c'\]"):
        tf.train.Checkpoint(a=tf.Variable(0.0), c=tf.Variable(0.0)).restore(
            path).assert_existing_objects_matched()
    with pytest.raises(ValueError, match="max_to_keep.*got 0"):
        tf.train.CheckpointManager(tf.train.Checkpoint(), str(tmp_path), max_to_keep=0)
