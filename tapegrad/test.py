"""Numerical gradient checking (``tapegrad.test.compute_gradient``, TensorFlow's name).

>>> import tapegrad as tf
>>> theoretical, numerical = tf.test.compute_gradient(lambda x: x * x, [tf.constant([1.0, 2.0])])
>>> bool(abs(theoretical[0] - numerical[0]).max() < 1e-2)
True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from tapegrad._core.backend import np
from tapegrad._core.registry import Op
from tapegrad._core.tensor import Tensor, apply, array_of, convert_to_tensor, wrap
from tapegrad.autodiff.tape import GradientTape
from tapegrad.ops._sample import Sample


def _values(xs) -> list:
    return [np.array(array_of(x if isinstance(x, Tensor) else convert_to_tensor(x))) for x in xs]


def _theoretical(f, values: list) -> list:
    sources = [wrap(v) for v in values]
    with GradientTape(persistent=True) as tape:
        tape.watch(sources)
        y = convert_to_tensor(f(*sources))
    y_value = array_of(y)
    y_size = int(np.prod(y_value.shape))
    jacobians = [np.zeros((y_size, v.size), dtype=np.float64) for v in values]
    for row in range(y_size):
        seed = np.zeros(y_value.shape, dtype=y_value.dtype)
        seed.reshape(-1)[row] = 1
        grads = tape.gradient(y, sources, output_gradients=wrap(seed))
        for jacobian, grad in zip(jacobians, grads):
            if grad is not None:
                jacobian[row] = np.asarray(array_of(convert_to_tensor(grad)),
                                           dtype=np.float64).reshape(-1)
    return jacobians


def _numerical(f, values: list, delta: float) -> list:
    jacobians = []
    for index, value in enumerate(values):
        columns = []
        for element in range(value.size):
            shifted = []
            for sign in (1.0, -1.0):
                probe = [v.copy() for v in values]
                probe[index].reshape(-1)[element] += sign * delta
                out = f(*[wrap(p) for p in probe])
                shifted.append(np.asarray(array_of(convert_to_tensor(out)), dtype=np.float64))
            columns.append(((shifted[0] - shifted[1]) / (2 * delta)).reshape(-1))
        y_size = columns[0].size if columns else int(np.prod(np.shape(
            array_of(convert_to_tensor(f(*[wrap(v) for v in values]))))))
        jacobians.append(np.stack(columns, axis=1) if columns else np.zeros((y_size, 0)))
    return jacobians


def compute_gradient(f: Callable, x: Sequence, delta: float | None = None):
    """Theoretical and numerical Jacobians of ``f`` at ``x`` (a list of arguments).

    Returns two tuples with one 2-D array per argument, of shape ``(y_size, x_size)``: the
    first from the tape, the second from central differences with step ``delta`` (default
    1/1024, as TensorFlow).
    """
    values = _values(x)
    step = 1.0 / 1024 if delta is None else delta
    return tuple(_theoretical(f, values)), tuple(_numerical(f, values, step))


def max_error(theoretical, numerical) -> float:
    """Largest absolute difference between two lists of Jacobians."""
    return max((float(np.max(np.abs(t - n))) if t.size else 0.0)
               for t, n in zip(theoretical, numerical))


def assert_gradients_close(f: Callable, x: Sequence, rtol: float = 1e-5, atol: float = 1e-6,
                           delta: float = 1e-6) -> None:
    """Raise AssertionError when the tape's Jacobian of ``f`` disagrees with finite differences.

    Use float64 inputs: the default step and tolerances are chosen for them.
    """
    theoretical, numerical = compute_gradient(f, x, delta)
    for i, (t, n) in enumerate(zip(theoretical, numerical)):
        if not np.allclose(t, n, rtol=rtol, atol=atol, equal_nan=True):
            raise AssertionError(f"argument {i}: tape Jacobian\n{t}\ndiffers from the numerical "
                                 f"one\n{n}\n(max abs error {np.max(np.abs(t - n)):.3g})")


def op_function(op: Op, sample: Sample) -> tuple[Callable, list]:
    """A real function of the sample's differentiable inputs that applies ``op``, and its
    arguments (float64).

    Complex inputs become two real arguments (real and imaginary part); complex outputs are
    mapped to ``real(y) + 0.5 * imag(y)``; a multi-output op returns its outputs concatenated.
    """
    from tapegrad.ops.array import concat, reshape
    from tapegrad.ops.math import complex_, imag, real

    wrt = sample.wrt if sample.wrt is not None else tuple(
        i for i, v in enumerate(sample.inputs) if np.asarray(v).dtype.kind in "fc")
    fixed = [wrap(np.asarray(v)) for v in sample.inputs]
    arguments = []
    for i in wrt:
        value = np.asarray(sample.inputs[i])
        if value.dtype.kind == "c":
            arguments.extend([value.real.astype(np.float64), value.imag.astype(np.float64)])
        else:
            arguments.append(value.astype(np.float64))

    def realify(out):
        return real(out) + 0.5 * imag(out) if array_of(out).dtype.kind == "c" else out

    def f(*args):
        inputs = list(fixed)
        remaining = list(args)
        for position in wrt:
            if np.asarray(sample.inputs[position]).dtype.kind == "c":
                inputs[position] = complex_(remaining.pop(0), remaining.pop(0))
            else:
                inputs[position] = remaining.pop(0)
        out = apply(op, tuple(inputs), sample.attrs or None)
        if isinstance(out, tuple):
            return concat([reshape(realify(o), [-1]) for o in out], 0)
        return realify(out)

    return f, arguments
