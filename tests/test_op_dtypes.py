"""Ops declare the dtypes their first input accepts (``register(..., dtypes=...)``); the
dispatcher refuses any other with TensorFlow's InvalidArgumentError naming op and dtypes."""

import numpy as np
import pytest

import tapegrad as tf
from tapegrad._core.registry import _dtype_set
from tapegrad.errors import InvalidArgumentError


def test_kinds_and_names_become_numpy_dtypes():
    assert _dtype_set("f") == {np.dtype(n) for n in ("float16", "float32", "float64")}
    assert _dtype_set(frozenset({"int32", "c"})) == {
        np.dtype("int32"), np.dtype("complex64"), np.dtype("complex128")}
    assert _dtype_set(None) is None
    with pytest.raises(ValueError, match="unknown dtype kind"):
        _dtype_set("x")


@pytest.mark.parametrize("call", [
    lambda: tf.math.tanh(tf.constant([1, 2])),  # the fast path (a Tensor input)
    lambda: tf.math.tanh([1, 2]),  # the converting path
    lambda: tf.math.multiply(tf.constant([True]), tf.constant([False])),
    lambda: tf.constant([True]) - tf.constant([True]),  # the operator's fast path
    lambda: tf.math.erfinv(tf.constant([0.5], tf.float16)),
    lambda: tf.math.reduce_max(tf.constant([1j])),
])
def test_refused_dtypes_raise_invalid_argument(call):
    with pytest.raises(InvalidArgumentError, match="not in the list of allowed values"):
        call()


def test_the_error_names_the_op_the_dtype_and_the_accepted_ones():
    with pytest.raises(InvalidArgumentError) as info:
        tf.sqrt(tf.constant([True]))
    message = str(info.value)
    assert "bool" in message and "Sqrt" in message
    assert "float16, float32, float64, complex64, complex128" in message


def test_python_floats_never_change_an_integer_tensor_dtype():
    x = tf.constant([1, 2])
    for call in (lambda: x * 2.0, lambda: 2.0 * x, lambda: x - 2.0, lambda: x / 2.0,
                 lambda: x < 2.5):
        with pytest.raises(TypeError, match="int32"):
            call()
    with pytest.raises(InvalidArgumentError, match="int32"):
        x + 2.0  # (TensorFlow's + converts the number alone, then the kernel refuses it)
    assert (x * 2).dtype == tf.int32 and (x * 2).numpy().tolist() == [2, 4]


def test_bool_times_is_logical_and_as_tensorflow():
    x = tf.constant([True, True, False])
    assert (x * tf.constant([True, False, True])).numpy().tolist() == [True, False, False]
    assert (True * x).dtype == tf.bool
