"""Checkpoint restore into tf.Module variables created later (deferred, as TensorFlow), and
tf.train.list_variables."""

from __future__ import annotations

import numpy as np
import pytest

import tapegrad as tf


class LazyDense(tf.Module):
    """Creates its variables on the first call, as the intro_to_modules guide's module."""

    def __init__(self, units, name=None):
        super().__init__(name=name)
        self.units = units
        self.is_built = False

    def __call__(self, x):
        if not self.is_built:
            self.w = tf.Variable(tf.random.normal([x.shape[-1], self.units]), name="w")
            self.b = tf.Variable(tf.random.normal([self.units]), name="b")
            self.is_built = True
        return tf.matmul(x, self.w) + self.b


class TwoLayers(tf.Module):
    def __init__(self, inner=3, name=None):
        super().__init__(name=name)
        self.dense_1 = LazyDense(inner)
        self.dense_2 = LazyDense(2)

    def __call__(self, x):
        return self.dense_2(tf.nn.relu(self.dense_1(x)))


X = tf.constant([[2.0, -1.0, 0.5]])


def _saved(tmp_path):
    model = TwoLayers()
    expected = model(X).numpy()
    prefix = tf.train.Checkpoint(model=model).write(str(tmp_path / "ckpt"))
    return model, expected, prefix


def test_values_wait_for_variables_and_land_when_they_are_attached(tmp_path):
    model, expected, prefix = _saved(tmp_path)
    fresh = TwoLayers()
    status = tf.train.Checkpoint(model=fresh).restore(prefix)
    with pytest.raises(AssertionError, match="not created yet"):
        status.assert_consumed()
    # dense_1 runs (restored) before dense_2 creates its variables: each is restored on creation
    np.testing.assert_array_equal(fresh(X).numpy(), expected)
    for mine, theirs in zip(fresh.variables, model.variables):
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())
    status.assert_consumed()


def test_existing_variables_restore_at_once_and_the_rest_later(tmp_path):
    model, expected, prefix = _saved(tmp_path)
    fresh = TwoLayers()
    fresh.dense_1(X)  # dense_1 built before the restore, dense_2 not
    tf.train.Checkpoint(model=fresh).restore(prefix)
    np.testing.assert_array_equal(fresh.dense_1.w.numpy(), model.dense_1.w.numpy())
    np.testing.assert_array_equal(fresh(X).numpy(), expected)


def test_a_variable_created_with_another_shape_is_refused(tmp_path):
    _, _, prefix = _saved(tmp_path)
    fresh = TwoLayers(inner=4)
    tf.train.Checkpoint(model=fresh).restore(prefix)
    with pytest.raises(ValueError, match="model/dense_1"):
        fresh(X)


def test_list_variables_names_and_shapes(tmp_path):
    _, _, prefix = _saved(tmp_path)
    suffix = "/.ATTRIBUTES/VARIABLE_VALUE"   # TensorFlow 2.21's names
    assert tf.train.list_variables(prefix) == [("_CHECKPOINTABLE_OBJECT_GRAPH", [])] + [
        (name + suffix, shape) for name, shape in [
            ("model/dense_1/b", [3]), ("model/dense_1/w", [3, 3]), ("model/dense_2/b", [2]),
            ("model/dense_2/w", [3, 2])]]    # (write() before any save(): no save_counter)


def test_list_variables_of_a_folder_reads_its_latest_checkpoint(tmp_path):
    checkpoint = tf.train.Checkpoint(v=tf.Variable([1.0, 2.0, 3.0]))
    checkpoint.save(str(tmp_path / "ckpt"))
    assert ("v/.ATTRIBUTES/VARIABLE_VALUE", [3]) in tf.train.list_variables(str(tmp_path))
    assert tf.train.load_variable(str(tmp_path), "v/.ATTRIBUTES/VARIABLE_VALUE").tolist() == \
        [1.0, 2.0, 3.0]
    with pytest.raises(tf.errors.NotFoundError, match="list_variables"):
        tf.train.load_variable(str(tmp_path), "w")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="Couldn't find"):
        tf.train.list_variables(str(tmp_path / "empty"))
    with pytest.raises(tf.errors.NotFoundError):
        tf.train.list_variables(str(tmp_path / "missing"))


def test_write_stores_the_save_counter_only_after_a_save(tmp_path):
    # TensorFlow 2.21: write() before any save() holds no save_counter; after a save it does
    checkpoint = tf.train.Checkpoint(v=tf.Variable([1.0, 2.0]))
    names = [n for n, _ in tf.train.list_variables(checkpoint.write(str(tmp_path / "a")))]
    assert names == ["_CHECKPOINTABLE_OBJECT_GRAPH", "v/.ATTRIBUTES/VARIABLE_VALUE"]
    saved = checkpoint.save(str(tmp_path / "b"))
    assert "save_counter/.ATTRIBUTES/VARIABLE_VALUE" in [n for n, _ in
                                                        tf.train.list_variables(saved)]
    again = [n for n, _ in tf.train.list_variables(checkpoint.write(str(tmp_path / "c")))]
    assert "save_counter/.ATTRIBUTES/VARIABLE_VALUE" in again
