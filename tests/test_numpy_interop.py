"""NumPy functions on tapegrad values run tapegrad ops and are recorded."""

import numpy as np

import tapegrad as tf


def test_numpy_ufuncs_and_functions_are_recorded():
    x0 = np.array([0.3, -1.2, 2.0])
    x = tf.constant(x0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = (np.sum(np.exp(x) * np.tanh(x), axis=0) + np.mean(np.concatenate([x, x ** 2]))
             + np.max(np.where(x > 0, x, np.zeros_like(x))) + np.dot(x, x))
    expected = (np.exp(x0) * np.tanh(x0) + np.exp(x0) * (1 - np.tanh(x0) ** 2)
                + (1 + 2 * x0) / 6 + np.array([0.0, 0.0, 1.0]) + 2 * x0)
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), expected, rtol=1e-12)


def test_numpy_matmul_and_array_on_the_left():
    w = tf.Variable(np.eye(2))
    a = np.array([[1.0, 2.0]])
    with tf.GradientTape() as tape:
        y = np.sum(a @ w) + np.sum(np.ones(2) * w)
    np.testing.assert_allclose(tape.gradient(y, w).numpy(), [[2.0, 2.0], [3.0, 3.0]])


def test_numpy_functions_without_an_exact_op_give_numpy_answers_off_the_tape():
    x = tf.constant([1.0, 2.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = np.sinc(x)
    assert isinstance(y, np.ndarray)
    np.testing.assert_array_equal(y, np.sinc(np.array([1.0, 2.0], np.float32)))
    assert tape.gradient(tf.constant(y), x) is None
    np.testing.assert_allclose(np.fft.fft(x), np.fft.fft([1.0, 2.0]))
    out = np.zeros(2, np.float32)
    assert np.add(x, x, out=out) is out and out.tolist() == [2.0, 4.0]


def test_value_only_functions_and_conversion():
    x = tf.constant([[1.0, 2.0]])
    assert np.shape(x) == (1, 2) and np.ndim(x) == 2 and np.allclose(x, [[1.0, 2.0]])
    assert isinstance(np.asarray(x), np.ndarray)
