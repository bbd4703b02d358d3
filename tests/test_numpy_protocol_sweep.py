"""NumPy functions, ufuncs and their keywords on tensors give NumPy's own answer on the same
arrays (values, dtype, shape, or the same exception type) as NumPy values, never tensors: as on
TensorFlow's eager tensors, NumPy sees a tensor as the array ``__array__`` gives
(the numpy_* probes of tests/api compare with TensorFlow's recorded answers)."""

import warnings

import numpy as np
import pytest

import tapegrad as tf

M = np.array([[1.5, -2.0, 3.0], [0.5, 4.0, -1.0]], np.float32)
V = np.array([3.0, -1.0, 2.0, 2.0], np.float32)
S = np.array([[2.0, 0.5], [0.5, 3.0]], np.float64)
N = np.array([3, 1, 2], np.int32)

UFUNCS = (np.add, np.subtract, np.multiply, np.true_divide, np.floor_divide, np.remainder,
          np.power, np.negative, np.positive, np.absolute, np.sign, np.exp, np.expm1, np.log,
          np.log1p, np.sqrt, np.square, np.reciprocal, np.sin, np.cos, np.tan, np.arcsin,
          np.arccos, np.arctan, np.arctan2, np.sinh, np.cosh, np.tanh, np.arcsinh, np.arccosh,
          np.arctanh, np.maximum, np.minimum, np.equal, np.not_equal, np.less, np.less_equal,
          np.greater, np.greater_equal, np.floor, np.ceil, np.rint, np.isnan, np.isfinite,
          np.isinf, np.conjugate, np.matmul)


def _ufunc_call(ufunc):
    return lambda a: ufunc(a) if ufunc.nin == 1 else ufunc(a, a)


# (label, function of (np-like arrays...), the arrays): each runs on ndarrays and on tensors.
CASES = [
    ("sum", lambda a: np.sum(a), (M,)), ("sum axis", lambda a: np.sum(a, axis=1), (M,)),
    ("sum keepdims", lambda a: np.sum(a, 0, keepdims=True), (M,)),
    ("sum dtype", lambda a: np.sum(a, dtype=np.float64), (M,)),
    ("sum initial", lambda a: np.sum(a, initial=5.0), (M,)),
    ("sum where", lambda a: np.sum(a, where=np.array([True, False, True])), (M,)),
    ("sum int", lambda a: np.sum(a), (N,)),
    ("mean", lambda a: np.mean(a, axis=0), (M,)), ("mean int", lambda a: np.mean(a), (N,)),
    ("mean empty", lambda a: np.mean(a), (np.zeros((0,), np.float32),)),
    ("max", lambda a: np.max(a, axis=1), (M,)), ("max empty", lambda a: np.max(a),
                                                  (np.zeros((0,), np.float32),)),
    ("min initial", lambda a: np.min(a, initial=-9.0), (M,)),
    ("prod", lambda a: np.prod(a, axis=0), (M,)),
    ("std", lambda a: np.std(a), (M,)), ("std ddof", lambda a: np.std(a, ddof=1), (M,)),
    ("var axis", lambda a: np.var(a, axis=1), (M,)),
    ("var ddof", lambda a: np.var(a, axis=0, ddof=1), (M,)),
    ("cumsum", lambda a: np.cumsum(a), (M,)), ("cumsum axis", lambda a: np.cumsum(a, 1), (M,)),
    ("cumprod dtype", lambda a: np.cumprod(a, dtype=np.float64), (M,)),
    ("dot", lambda a, b: np.dot(a, b), (M, M.T.copy())), ("dot vec", lambda a: np.dot(a, a), (V,)),
    ("concatenate", lambda a: np.concatenate([a, a], axis=1), (M,)),
    ("stack", lambda a: np.stack([a, a], axis=-1), (M,)),
    ("where 3", lambda a: np.where(a > 0, a, -a), (M,)),
    ("where 1", lambda a: np.where(a > 0), (M,)),
    ("reshape", lambda a: np.reshape(a, (3, 2)), (M,)),
    ("reshape order F", lambda a: np.reshape(a, -1, order="F"), (M,)),
    ("transpose", lambda a: np.transpose(a), (M,)),
    ("moveaxis", lambda a: np.moveaxis(a, 0, -1), (M,)),
    ("moveaxis lists", lambda a: np.moveaxis(a[None], [0, 1], [2, 0]), (M,)),
    ("swapaxes", lambda a: np.swapaxes(a, 0, 1), (M,)),
    ("squeeze", lambda a: np.squeeze(a[None]), (M,)),
    ("expand_dims", lambda a: np.expand_dims(a, 1), (M,)),
    ("clip", lambda a: np.clip(a, -1.0, 1.0), (M,)),
    ("clip one side", lambda a: np.clip(a, None, 1.0), (M,)),
    ("tile", lambda a: np.tile(a, 2), (V,)), ("tile 2d", lambda a: np.tile(a, (2, 1)), (M,)),
    ("broadcast_to", lambda a: np.broadcast_to(a, (2, 4)), (V,)),
    ("einsum", lambda a: np.einsum("ij,kj->ik", a, a), (M,)),
    ("tensordot", lambda a: np.tensordot(a, a, axes=([1], [1])), (M,)),
    ("outer", lambda a: np.outer(a, a), (V,)),
    ("trace", lambda a: np.trace(a), (S,)), ("trace offset", lambda a: np.trace(a, 1), (M,)),
    ("flip", lambda a: np.flip(a), (M,)), ("flip axis", lambda a: np.flip(a, 1), (M,)),
    ("roll", lambda a: np.roll(a, 1, axis=1), (M,)), ("roll flat", lambda a: np.roll(a, 1), (M,)),
    ("sort", lambda a: np.sort(a), (M,)),
    ("sort axis None", lambda a: np.sort(a, axis=None), (M,)),
    ("sort axis 0", lambda a: np.sort(a, axis=0, kind="stable"), (M,)),
    ("take", lambda a: np.take(a, [0, 2]), (M,)),
    ("take negative", lambda a: np.take(a, [-1]), (M,)),
    ("take axis", lambda a: np.take(a, [1], axis=1), (M,)),
    ("take clip", lambda a: np.take(a, [9], mode="clip"), (M,)),
    ("round", lambda a: np.round(a), (M,)),
    ("round decimals", lambda a: np.round(a * 1.234, 2), (M,)),
    ("inv", lambda a: np.linalg.inv(a), (S,)), ("det", lambda a: np.linalg.det(a), (S,)),
    ("solve", lambda a: np.linalg.solve(a, a), (S,)),
    ("cholesky", lambda a: np.linalg.cholesky(a), (S,)),
    ("cholesky upper", lambda a: np.linalg.cholesky(a, upper=True), (S,)),
    ("norm", lambda a: np.linalg.norm(a), (M,)), ("norm 1", lambda a: np.linalg.norm(a, 1), (M,)),
    ("norm axis", lambda a: np.linalg.norm(a, axis=1), (M,)),
    ("norm inf vector", lambda a: np.linalg.norm(a, np.inf), (V,)),
    ("norm fro", lambda a: np.linalg.norm(a, "fro"), (M,)),
    # functions without a tapegrad op
    ("median", lambda a: np.median(a), (M,)), ("unique", lambda a: np.unique(a), (V,)),
    ("percentile", lambda a: np.percentile(a, 30), (M,)),
    ("histogram", lambda a: np.histogram(a, bins=3), (V,)),
    ("nonzero", lambda a: np.nonzero(a), (M,)), ("split", lambda a: np.split(a, 2), (V,)),
    ("broadcast_arrays", lambda a: np.broadcast_arrays(a, a[:1]), (M,)),
    ("argmax", lambda a: np.argmax(a), (M,)), ("argsort", lambda a: np.argsort(a), (V,)),
    ("zeros_like", lambda a: np.zeros_like(a), (M,)), ("shape", lambda a: np.shape(a), (M,)),
    ("allclose", lambda a: np.allclose(a, a), (M,)),
    ("atleast_2d", lambda a: np.atleast_2d(a), (V,)),
    ("any", lambda a: np.any(a > 2), (M,)), ("all", lambda a: np.all(a, axis=0), (M,)),
    # ufuncs and their reduce method
    ("add scalar", lambda a: np.add(a, 1.5), (M,)), ("add int", lambda a: np.add(a, 1), (N,)),
    ("add mixed", lambda a: np.add(a, np.float64(1.5)), (M,)),
    ("add arrays of two dtypes", lambda a, b: np.add(a, b), (V, V.astype(np.float64))),
    ("add dtype", lambda a: np.add(a, a, dtype=np.float64), (M,)),
    ("multiply where", lambda a: np.multiply(a, 2.0, where=a > 0, out=np.zeros_like(np.asarray(a))),
     (M,)),
    ("add.reduce", lambda a: np.add.reduce(a, axis=1), (M,)),
    ("maximum.reduce keepdims", lambda a: np.maximum.reduce(a, axis=0, keepdims=True), (M,)),
    ("add.accumulate", lambda a: np.add.accumulate(a), (V,)),
    ("bitwise_and int", lambda a: np.bitwise_and(a, 1), (N,)),
    ("sinc", lambda a: np.sinc(a), (V,)),
] + [(f"ufunc {u.__name__}", _ufunc_call(u), (np.abs(M) * 0.3 + 0.2,)) for u in UFUNCS]


def _answer(function, arrays):
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # (NumPy's own, both sides alike)
            return function(*arrays)
    except Exception as error:  # noqa: BLE001 - the exception type is part of the answer
        return error


def _same(expected, got, label):
    if isinstance(expected, Exception):
        assert isinstance(got, type(expected)), f"{label}: NumPy raises {expected!r}, got {got!r}"
        return
    assert not isinstance(got, Exception), f"{label}: NumPy answers, tapegrad raises {got!r}"
    if isinstance(expected, (tuple, list)):
        assert isinstance(got, (tuple, list)) and len(got) == len(expected), label
        for e, g in zip(expected, got):
            _same(e, g, label)
        return
    if isinstance(expected, (bool, int, float, np.generic, np.ndarray)):
        got_array = np.asarray(got)
        expected_array = np.asarray(expected)
        assert got_array.shape == expected_array.shape, f"{label}: shape"
        assert got_array.dtype == expected_array.dtype, \
            f"{label}: dtype {got_array.dtype} != {expected_array.dtype}"
        np.testing.assert_allclose(got_array, expected_array, rtol=1e-6, err_msg=label)
        return
    assert got == expected, label


def _holds_a_tensor(value) -> bool:
    if isinstance(value, (list, tuple)):
        return any(_holds_a_tensor(item) for item in value)
    return isinstance(value, (tf.Tensor, tf.Variable))


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_numpy_function_gives_numpy_answer(case):
    label, function, arrays = case
    expected = _answer(function, arrays)
    got = _answer(function, [tf.constant(a) for a in arrays])
    _same(expected, got, label)
    # (np.flip indexes any value with an `ndim`, so a tensor's own __getitem__ answers, as
    # with TensorFlow's tensors)
    assert _holds_a_tensor(got) == label.startswith("flip"), f"{label}: {type(got)}"


def test_numpy_calls_leave_the_tape():
    x = tf.constant(M)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = np.sum(np.tanh(x) * np.cumsum(x, axis=1))
        z = tf.reduce_sum(x * np.float32(y))
    assert isinstance(y, np.float32)
    assert tape.gradient(tf.constant(y), x) is None
    np.testing.assert_allclose(tape.gradient(z, x), np.full(M.shape, y))  # y is a constant


def test_matplotlib_plots_tensors():
    pyplot = pytest.importorskip("matplotlib.pyplot")
    figure = pyplot.figure()
    try:
        bars = pyplot.bar(range(2), tf.constant([1.0, 3.0]))
        pyplot.plot(tf.constant([1.0, 2.0]), tf.constant([3.0, 4.0]))
        pyplot.hist(tf.constant([1.0, 2.0, 2.0]))
        assert [b.get_height() for b in bars] == [1.0, 3.0]
    finally:
        pyplot.close(figure)
