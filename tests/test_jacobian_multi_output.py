"""tape.jacobian of one output of a multi-output op (the others unused), on both jacobian
paths, against central differences: every multi-output op x every sample x every output."""

import numpy as np
import pytest

import tapegrad as tf
from tapegrad._core.registry import REGISTRY
from tapegrad._core.tensor import apply, wrap

MULTI_OUTPUT = sorted(name for name, op in REGISTRY.items()
                      if op.n_outputs != 1 and op.differentiable)


def _samples(op):
    return list((op.samples() if callable(op.samples) else op.samples) or [])


def _output_count(op, sample):
    out = apply(op, tuple(wrap(np.asarray(v)) for v in sample.inputs), sample.attrs or None)
    return len(out) if isinstance(out, tuple) else 1


CASES = [(name, i, k) for name in MULTI_OUTPUT
         for i, sample in enumerate(_samples(REGISTRY[name]))
         for k in range(_output_count(REGISTRY[name], sample))]


def _central_jacobian(f, x, h=1e-6):
    y0 = np.asarray(f(wrap(x))._value)
    columns = []
    for index in range(x.size):
        step = np.zeros(x.size)
        step[index] = h
        step = step.reshape(x.shape)
        columns.append((np.asarray(f(wrap(x + step))._value) -
                        np.asarray(f(wrap(x - step))._value)) / (2 * h))
    return np.stack(columns, axis=-1).reshape(y0.shape + x.shape)


def _check(f, x):
    expected = _central_jacobian(f, x)
    for use_pfor in (True, False):
        source = wrap(x)
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(source)
            y = f(source)
        got = tape.jacobian(y, source, experimental_use_pfor=use_pfor,
                            unconnected_gradients="zero")
        np.testing.assert_allclose(got.numpy(), expected, rtol=1e-5, atol=1e-6,
                                   err_msg=f"experimental_use_pfor={use_pfor}")


@pytest.mark.parametrize("case", CASES, ids=[f"{n}-{i}-out{k}" for n, i, k in CASES])
def test_jacobian_of_one_output_matches_finite_differences(case):
    name, index, k = case
    op = REGISTRY[name]
    sample = _samples(op)[index]
    wrt = sample.wrt if sample.wrt is not None else tuple(
        i for i, v in enumerate(sample.inputs) if np.asarray(v).dtype.kind == "f")
    if len(wrt) != 1 or any(np.iscomplexobj(v) for v in sample.inputs):
        pytest.skip("one real floating input per case")
    position = wrt[0]

    def f(x):
        inputs = [wrap(np.asarray(v)) for v in sample.inputs]
        inputs[position] = x
        out = apply(op, tuple(inputs), sample.attrs or None)
        return out[k] if isinstance(out, tuple) else out

    x = np.asarray(sample.inputs[position], dtype=np.float64)
    if f(wrap(x))._value.dtype.kind != "f":
        pytest.skip("integer output")
    _check(f, x)


def _symmetric(*shape):
    a = np.random.default_rng(0).standard_normal(shape)
    return a + np.swapaxes(a, -1, -2)


PUBLIC = {
    "eigh values, batch": (lambda x: tf.linalg.eigh(x)[0], _symmetric(2, 3, 3)),
    "eigh vectors, batch": (lambda x: tf.linalg.eigh(x)[1], _symmetric(2, 3, 3)),
    "eigh vectors": (lambda x: tf.linalg.eigh(x)[1], _symmetric(3, 3)),
    "eigvalsh": (lambda x: tf.linalg.eigvalsh(x), _symmetric(3, 3)),
    "qr r of 1x2": (lambda x: tf.linalg.qr(x)[1], np.array([[1.0, 2.0]])),
    "qr q": (lambda x: tf.linalg.qr(x)[0], np.array([[1.0, 2.0], [3.0, -1.0], [0.5, 2.0]])),
    "unstack axis 1": (lambda x: tf.unstack(x, axis=1)[1], np.arange(6.0).reshape(2, 3)),
    "split second": (lambda x: tf.split(x, 2)[1], np.array([1.0, -2.0, 3.0, 0.5])),
    "split first of three": (lambda x: tf.split(x, [1, 2, 1], axis=1)[0],
                             np.arange(8.0).reshape(2, 4)),
    "svd values only": (lambda x: tf.linalg.svd(x, compute_uv=False),
                        np.array([[1.0, 2.0], [3.0, -1.0], [0.5, 2.0]])),
    "svd u": (lambda x: tf.linalg.svd(x)[1], np.array([[1.0, 2.0], [3.0, -1.0], [0.5, 2.0]])),
    "slogdet log": (lambda x: tf.linalg.slogdet(x)[1], np.array([[2.0, 1.0], [0.5, -3.0]])),
    "slogdet log, batch": (lambda x: tf.linalg.slogdet(x)[1],
                           np.array([[[2.0, 1.0], [0.5, -3.0]], [[1.0, 0.2], [0.1, 1.5]]])),
}


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_public_multi_output_functions(name):
    f, x = PUBLIC[name]
    _check(f, x)
