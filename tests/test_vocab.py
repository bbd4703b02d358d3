"""The rule vocabulary's words give on NumPy arrays what they give on tensors (where they run
the registered op, so that a tape records them); expectations come from NumPy itself."""

import numpy as np
import pytest

import tapegrad as tf
from tapegrad.ops import _vocab as vocab

X = np.arange(24, dtype=np.float32).reshape(2, 3, 4) - 5.0

# (word, NumPy's own expectation)
CASES = {
    "zeros_like": (vocab.zeros_like, np.zeros_like),
    "cast to float64": (lambda x: vocab.cast(x, np.float64), lambda x: x.astype(np.float64)),
    "cast a mask": (lambda x: vocab.cast(x > 0, np.float32),
                    lambda x: (x > 0).astype(np.float32)),
    "expand_dims 0": (lambda x: vocab.expand_dims(x, 0), lambda x: np.expand_dims(x, 0)),
    "expand_dims -1": (lambda x: vocab.expand_dims(x, -1), lambda x: np.expand_dims(x, -1)),
    "expand_dims -2": (lambda x: vocab.expand_dims(x, -2), lambda x: np.expand_dims(x, -2)),
    "matrix_transpose": (vocab.matrix_transpose, lambda x: np.swapaxes(x, -1, -2)),
    "matrix_adjoint": (vocab.matrix_adjoint, lambda x: np.conj(np.swapaxes(x, -1, -2))),
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("dtype", [np.float32, np.complex128])
def test_a_word_agrees_on_arrays_and_tensors(name, dtype):
    word, expected_of = CASES[name]
    x = (X + 1j * X[::-1]).astype(dtype) if np.dtype(dtype).kind == "c" else X.astype(dtype)
    if name.startswith("cast") and np.dtype(dtype).kind == "c":
        pytest.skip("complex values have no order and no real cast (see the test below)")
    expected = expected_of(x)
    on_array = word(x)
    on_tensor = word(tf.constant(x))
    assert isinstance(on_array, np.ndarray) and isinstance(on_tensor, tf.Tensor)
    for result in (on_array, np.asarray(on_tensor.numpy())):
        assert result.dtype == expected.dtype and result.shape == expected.shape
        np.testing.assert_array_equal(result, expected)


@pytest.mark.parametrize("value", [X + 1j, tf.constant(X + 1j)], ids=["array", "tensor"])
def test_cast_refuses_to_drop_an_imaginary_part(value):
    with pytest.raises(TypeError, match="imaginary part"):
        vocab.cast(value, np.float64)
    assert vocab.cast(X, np.complex64).dtype == np.complex64


def test_words_on_tensors_are_recorded():
    # d/dx sum(w * word(x)) is word's transpose applied to w: computed here with NumPy
    x = tf.constant(X)
    w = np.linspace(-1.0, 1.0, 24).reshape(2, 4, 3)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(vocab.matrix_transpose(vocab.cast(x, np.float64)) * w)
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), np.swapaxes(w, -1, -2), rtol=1e-6)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(vocab.expand_dims(x, 1) * X[:, None])
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), X)


def test_zeros_like_is_not_connected():
    x = tf.constant(X)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(vocab.zeros_like(x))
    assert tape.gradient(y, x) is None


G = np.arange(2 * 3 * 4, dtype=np.float64).reshape(2, 3, 4) / 7.0

# (gradient, operand's shape, batch axes, NumPy's own sum back to that shape)
SUMS = {
    "a bias (rows of a matrix)": (G[0], (4,), 0, lambda g: g.sum(axis=0)),
    "a leading axis": (G, (3, 4), 0, lambda g: g.sum(axis=0)),
    "a size-1 axis": (G, (2, 1, 4), 0, lambda g: g.sum(axis=1, keepdims=True)),
    "to a scalar": (G, (), 0, lambda g: g.sum()),
    "nothing to sum": (G, (2, 3, 4), 0, lambda g: g),
    "batch rows kept": (G, (4,), 1, lambda g: g.sum(axis=1)),
    "batch rows, a size-1 axis": (G, (1, 4), 1, lambda g: g.sum(axis=1, keepdims=True)),
    "batch rows, nothing to sum": (G, (3, 4), 1, lambda g: g),
}


@pytest.mark.parametrize("name", sorted(SUMS))
def test_sum_to_shape_undoes_broadcasting_on_arrays_and_tensors(name):
    grad, shape, batch, expected_of = SUMS[name]
    expected = expected_of(grad)
    on_array = vocab.sum_to_shape(grad, shape, batch)
    on_tensor = vocab.sum_to_shape(tf.constant(grad), shape, batch)
    assert isinstance(on_tensor, tf.Tensor)
    for result in (np.asarray(on_array), on_tensor.numpy()):
        assert result.shape == expected.shape
        np.testing.assert_allclose(result, expected, rtol=1e-12)
