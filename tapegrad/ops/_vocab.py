"""The rule vocabulary: the words reverse and forward rules are written in.

A rule written only with Python operators and these words runs on NumPy arrays as well as on
tensors. When nothing records the backward pass, the engines hand such rules (ops declared
with ``array_rules=True``) arrays, and each word runs plain NumPy; when something records
(higher order, diagnostics), they hand them tensors, and each word runs the registered op, so
that the enclosing tape records it (the primitive check of autograd's tracer). The words find
ops by name through the core's registry, so no op family has to import another for its rules.
"""

from __future__ import annotations

from tapegrad._core.backend import np, ones
from tapegrad._core.registry import REGISTRY, Op
from tapegrad._core.tensor import Tensor, apply, apply1, apply2, wrap

_ndarray = np.ndarray
_generic = np.generic
_np_matmul = np.matmul


def run(op: Op, *operands, **attrs):
    """``op`` on ``operands``: its NumPy forward when no operand is a tensor, else the
    recorded op (e.g. ``run(TANH_GRAD, y, upstream)``)."""
    for operand in operands:
        if type(operand) is not _ndarray and isinstance(operand, Tensor):
            if len(operands) == 1:
                return apply1(op, operand, attrs or None)
            if len(operands) == 2:
                return apply2(op, operands[0], operands[1], attrs or None)
            return apply(op, operands, attrs or None)
    return op.forward(*operands, **attrs) if attrs else op.forward(*operands)


def _elementwise(name: str):
    """The vocabulary word for the one-input elementwise op ``name``."""

    def word(x):
        op = REGISTRY[name]
        if type(x) is _ndarray or isinstance(x, _generic):
            return op.forward(x)
        return apply1(op, x)

    word.__name__ = word.__qualname__ = name.lower()
    word.__doc__ = f"The elementwise {name} op."
    return word


sin = _elementwise("Sin")


def shape_of(value) -> tuple:
    """The shape of an array, a tensor or a Python number, as a tuple."""
    kind = type(value)
    if kind is _ndarray:
        return value.shape
    if kind is Tensor:
        return value._value.shape
    if isinstance(value, _generic):  # (a NumPy scalar: a scalar loss's seed)
        return ()
    if isinstance(value, Tensor):  # (a subclass: `_raw` is its array for the rules)
        return value._raw.shape
    return getattr(getattr(value, "_value", value), "shape", ())


def conj(value):
    """The complex conjugate (the value itself when it is real)."""
    kind = type(value)
    if kind is Tensor:  # (the usual caller: a rule on tensors; arrays hold real values)
        return apply1(REGISTRY["Conj"], value) if value._value.dtype.kind == "c" else value
    if kind is _ndarray or isinstance(value, _generic):
        return value.conjugate() if value.dtype.kind == "c" else value
    if kind is float or kind is int:
        return value
    if kind is complex:
        return value.conjugate()
    array = value._raw if isinstance(value, Tensor) else value._value
    return apply1(REGISTRY["Conj"], value) if array.dtype.kind == "c" else value


def zeros_like(x):
    """Zeros of ``x``'s shape and dtype (not connected to ``x``)."""
    if type(x) is _ndarray or isinstance(x, _generic):
        return np.zeros_like(x)
    return wrap(np.zeros(shape_of(x), x.dtype.as_numpy_dtype))


def cast(x, dtype):
    """``x`` in the NumPy ``dtype`` (a bool mask as the dtype of the values it weighs, a real
    value as a complex one); complex values are refused a real dtype (that would drop their
    imaginary part: take the real part first)."""
    dtype = np.dtype(dtype)
    array = x if type(x) is _ndarray or isinstance(x, _generic) else None
    if dtype.kind != "c" and (x.dtype.kind == "c" if array is not None else x.dtype.is_complex):
        raise TypeError(f"cast: casting complex values to {dtype.name} would drop their "
                        "imaginary part; take the real part (the Real op) first.")
    if array is not None:
        return array.astype(dtype)
    return apply1(REGISTRY["Cast"], x, {"dtype": dtype})


def doubled(value):
    """``2 * value``, as ``value + value`` (no Python scalar to convert)."""
    return value + value


def divide_by(value, number: int):
    """``value / number`` in ``value``'s floating dtype (the number promotes nothing)."""
    if type(value) is _ndarray or isinstance(value, _generic):
        return value / value.dtype.type(number)
    return apply2(REGISTRY["RealDiv"], value, float(number))


def reshape(x, shape):
    """``x`` in ``shape`` (the same elements)."""
    if type(x) is _ndarray or isinstance(x, _generic):
        return x.reshape(shape)
    return apply1(REGISTRY["Reshape"], x, {"shape": tuple(shape)})


def broadcast_to(x, shape):
    """``x`` repeated along new or size-1 axes to ``shape``."""
    op = REGISTRY["BroadcastTo"]
    if type(shape) is not tuple:
        shape = tuple(shape)
    if type(x) is _ndarray or isinstance(x, _generic):
        return op.forward(x, shape)
    return apply1(op, x, {"shape": shape})


def reduce_sum(x, axes, keepdims: bool = False):
    """The sum of ``x`` over the non-negative ``axes``."""
    axes = tuple(sorted(set(axes)))
    if type(x) is _ndarray or isinstance(x, _generic):
        return np.add.reduce(x, axis=axes, keepdims=keepdims)
    return apply1(REGISTRY["Sum"], x, {"axis": axes, "keepdims": keepdims})


def matmul(a, b, adjoint_a: bool = False, adjoint_b: bool = False):
    """The matrix product ``a @ b`` (leading axes broadcast), each factor conjugate-transposed
    in its last two axes first when asked."""
    if type(a) is _ndarray and type(b) is _ndarray:
        if a.ndim == 2 and b.ndim == 2 and a.dtype.kind != "c":
            # (real matrices straight to NumPy; stacks through the op's forward, which makes
            # them one GEMM where NumPy would loop)
            return _np_matmul(a.T if adjoint_a else a, b.T if adjoint_b else b)
        return REGISTRY["MatMul"].forward(matrix_adjoint(a) if adjoint_a else a,
                                          matrix_adjoint(b) if adjoint_b else b)
    return apply2(REGISTRY["MatMul"], matrix_adjoint(a) if adjoint_a else a,
                  matrix_adjoint(b) if adjoint_b else b)


def matrix_transpose(x):
    """The last two axes swapped."""
    if type(x) is _ndarray:
        return x.swapaxes(-1, -2)
    rank = x._value.ndim
    return apply1(REGISTRY["Transpose"], x, {"perm": (*range(rank - 2), rank - 1, rank - 2)})


def matrix_adjoint(x):
    """The conjugate transpose of the last two axes."""
    return conj(matrix_transpose(x))


def expand_dims(x, axis: int):
    """``x`` with a new size-1 axis at ``axis`` (negative counts from the end of the result)."""
    shape = list(shape_of(x))
    shape.insert(axis % (len(shape) + 1), 1)
    return reshape(x, shape)


def select(condition, x, y):
    """``x`` where the boolean ``condition`` holds, else ``y`` (broadcasting)."""
    return apply(REGISTRY["SelectV2"], (condition, x, y))


def batch_shape(upstream, output) -> tuple:
    """The leading batch axes of a reverse rule's ``upstream`` in a vectorised backward pass
    (all rows of a jacobian at once): the axes it has in front of ``output``'s; else ``()``."""
    upstream_shape = shape_of(upstream)
    lead = len(upstream_shape) - len(shape_of(output))
    return tuple(upstream_shape[:lead]) if lead > 0 else ()


def sum_like(grad, operand, output):
    """``grad`` (shaped as ``output``, behind any leading batch axes of a vectorised backward
    pass) summed over the axes broadcasting added to ``operand`` (an array, a tensor or a
    Python number), so it has ``operand``'s shape behind the batch axes."""
    grad_shape = grad.shape if type(grad) is _ndarray else shape_of(grad)
    shape = operand.shape if type(operand) is _ndarray else shape_of(operand)
    if grad_shape == shape:
        return grad
    batch = len(grad_shape) - len(output.shape if type(output) is _ndarray else
                                  shape_of(output))
    return sum_to_shape(grad, shape, batch if batch > 0 else 0)


def sum_to_shape(grad, shape: tuple, batch: int = 0):
    """``grad`` summed over the axes broadcasting added to ``shape`` (the reverse of
    broadcasting), keeping ``batch`` leading axes (a vectorised backward pass's rows)."""
    grad_shape = grad.shape if type(grad) is _ndarray else shape_of(grad)
    if batch:
        if grad_shape[batch:] == shape:
            return grad
        shape = grad_shape[:batch] + tuple(shape)
    elif len(grad_shape) == 2 and len(shape) == 1 and shape[0] == grad_shape[1] and \
            type(grad) is _ndarray:
        # a bias's gradient, the rows' sum: a matrix-vector product is much faster than np.sum
        return ones((grad_shape[0],), grad.dtype) @ grad
    lead = len(grad_shape) - len(shape)
    axes = list(range(batch, batch + lead))
    axes.extend(i + lead for i, d in enumerate(shape)
                if i >= batch and d == 1 and grad_shape[i + lead] != 1)
    if axes:
        grad = reduce_sum(grad, axes)
    return reshape(grad, shape) if shape_of(grad) != shape else grad


def broadcast_tangent(tangent, shape: tuple):
    """A tangent of an operand, broadcast to the op's output ``shape``."""
    if shape_of(tangent) == shape:
        return tangent
    if type(tangent) is _ndarray or isinstance(tangent, _generic):
        return np.broadcast_to(tangent, shape)
    return apply1(REGISTRY["BroadcastTo"], tangent, {"shape": tuple(shape)})


def sum_tangents(*terms):
    """Sum of the non-None tangent terms (None when all are None)."""
    total = None
    for term in terms:
        if term is not None:
            total = term if total is None else total + term
    return total
