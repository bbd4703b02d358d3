"""Elementwise math: unary functions, broadcasting binary arithmetic, comparisons, casts."""

from __future__ import annotations

from tapegrad._core import dtypes as _dt
from tapegrad._core.backend import np
from tapegrad._core.registry import register
from tapegrad._core.sample import Sample
from tapegrad._core.tensor import Tensor, _wrap, apply1, apply2, convert_to_tensor
from tapegrad.ops._util import broadcast_tangent, randn, shape_of, sum_tangents, unbroadcast


def _is_complex(value) -> bool:
    return getattr(value, "_value", value).dtype.kind == "c" if hasattr(
        getattr(value, "_value", value), "dtype") else isinstance(value, complex)


def conj(x, name=None):
    """Complex conjugate; the input itself for real tensors (as ``tf.math.conj``)."""
    if isinstance(x, Tensor):
        return x if x._value.dtype.kind != "c" else apply1(CONJ, x)
    if type(x) is float or type(x) is int:
        return x
    if type(x) is complex:
        return x.conjugate()
    return conj(convert_to_tensor(x))


# -- unary ops from one derivative ---------------------------------------------------------

def _unary(name: str, forward, derivative, samples):
    """Register an elementwise op whose derivative is ``derivative(x, out)``.

    The reverse rule is ``upstream * conj(f'(x))`` and the forward rule ``tangent * f'(x)``:
    TensorFlow's convention for complex inputs.
    """

    def vjp(inputs, output, attrs, upstream, needs):
        return (apply2(MUL, upstream, conj(derivative(inputs[0], output))),)

    def jvp(inputs, output, attrs, tangents):
        return apply2(MUL, tangents[0], derivative(inputs[0], output))

    return register(name, forward, vjp, jvp, samples)


def _positive(*shape):
    return randn(*shape, low=0.5)


def _standard_unary_samples(positive=False, unit=False):
    def make():
        if positive:
            return [Sample((_positive(3),)), Sample((_positive(2, 3),)), Sample((_positive(),))]
        if unit:
            return [Sample((np.array([-0.7, -0.2, 0.3, 0.6]),)),
                    Sample((np.array([[0.1, -0.5], [0.4, 0.8]]),))]
        return [Sample((randn(3),)), Sample((randn(2, 3),)), Sample((randn(),)),
                Sample((np.zeros((0, 2)),))]
    return make


NEG = _unary("Neg", np.negative, lambda x, y: -1.0 if not _is_complex(x) else
             _wrap(np.asarray(-1.0, x._value.dtype)), _standard_unary_samples())
EXP = _unary("Exp", np.exp, lambda x, y: y, _standard_unary_samples())
LOG = _unary("Log", np.log, lambda x, y: reciprocal(x), _standard_unary_samples(positive=True))
SIN = _unary("Sin", np.sin, lambda x, y: cos(x), _standard_unary_samples())
COS = _unary("Cos", np.cos, lambda x, y: -sin(x), _standard_unary_samples())
TANH = _unary("Tanh", np.tanh, lambda x, y: 1.0 - y * y, _standard_unary_samples())
SQUARE = _unary("Square", np.square, lambda x, y: 2.0 * x, _standard_unary_samples())
RECIPROCAL = _unary("Reciprocal", np.reciprocal, lambda x, y: -(y * y),
                    _standard_unary_samples(positive=True))


def _sigmoid_forward(x):
    # Two branches keep exp from overflowing for large |x|.
    out = np.empty_like(x) if isinstance(x, np.ndarray) else None
    if out is None or x.dtype.kind == "c":
        return 1.0 / (1.0 + np.exp(-x))
    positive = x >= 0
    exp_neg = np.exp(-np.abs(x))
    np.divide(1.0, 1.0 + exp_neg, out=out, where=positive)
    np.divide(exp_neg, 1.0 + exp_neg, out=out, where=~positive)
    return out


SIGMOID = _unary("Sigmoid", _sigmoid_forward, lambda x, y: y * (1.0 - y),
                 _standard_unary_samples())


def _sqrt_vjp(inputs, output, attrs, upstream, needs):
    # TensorFlow's SqrtGrad: 0.5 * upstream / sqrt(x), and exactly 0 wherever upstream is 0.
    from tapegrad.ops.array import where
    scaled = apply2(DIV, apply2(MUL, upstream, 0.5), conj(output))
    return (where(apply2(EQUAL, upstream, 0.0), zeros_like(scaled), scaled),)


SQRT = register("Sqrt", np.sqrt, _sqrt_vjp,
                lambda inputs, output, attrs, tangents: apply2(
                    DIV, apply2(MUL, tangents[0], 0.5), output),
                _standard_unary_samples(positive=True))


def _abs_vjp(inputs, output, attrs, upstream, needs):
    x = inputs[0]
    if _is_complex(x):
        from tapegrad.ops.array import where
        unit = apply2(DIV, x, cast(output, x.dtype))
        safe = where(apply2(EQUAL, output, 0.0), zeros_like(unit), unit)
        return (apply2(MUL, cast(upstream, x.dtype), safe),)
    return (apply2(MUL, upstream, sign(x)),)


ABS = register("Abs", np.abs, _abs_vjp,
               lambda inputs, output, attrs, tangents: apply2(MUL, tangents[0], sign(inputs[0])),
               lambda: [Sample((np.array([-1.5, 0.7, 2.0]),)), Sample((randn(2, 3),))])

SIGN = register("Sign", np.sign,
                lambda inputs, output, attrs, upstream, needs: (zeros_like(inputs[0]),),
                lambda inputs, output, attrs, tangents: zeros_like(output),
                lambda: [Sample((np.array([-1.5, 0.7, 2.0]),), second_order=False)])


def _no_grad(name, forward):
    return register(name, forward, None, None, samples=lambda: [Sample((randn(3),))])


ROUND = _no_grad("Round", np.round)
FLOOR = _no_grad("Floor", np.floor)
CEIL = _no_grad("Ceil", np.ceil)
CONJ = register("Conj", np.conj,
                lambda inputs, output, attrs, upstream, needs: (conj(upstream),),
                lambda inputs, output, attrs, tangents: conj(tangents[0]),
                lambda: [Sample((randn(3),))])

# -- binary ops ------------------------------------------------------------------------------


def _binary_samples():
    return [Sample((randn(3), randn(3, seed=1))), Sample((randn(2, 3), randn(3, seed=1))),
            Sample((randn(2, 1), randn(1, 3, seed=1))), Sample((randn(), randn(2, 2, seed=1)))]


def _add_vjp(inputs, output, attrs, upstream, needs):
    x, y = inputs
    return (unbroadcast(upstream, shape_of(x)) if needs[0] else None,
            unbroadcast(upstream, shape_of(y)) if needs[1] else None)


def _add_jvp(inputs, output, attrs, tangents):
    shape = output._value.shape
    tx, ty = tangents
    return sum_tangents(None if tx is None else broadcast_tangent(tx, shape),
                        None if ty is None else broadcast_tangent(ty, shape))


def _sub_vjp(inputs, output, attrs, upstream, needs):
    x, y = inputs
    return (unbroadcast(upstream, shape_of(x)) if needs[0] else None,
            unbroadcast(apply1(NEG, upstream), shape_of(y)) if needs[1] else None)


def _sub_jvp(inputs, output, attrs, tangents):
    shape = output._value.shape
    tx, ty = tangents
    return sum_tangents(None if tx is None else broadcast_tangent(tx, shape),
                        None if ty is None else broadcast_tangent(apply1(NEG, ty), shape))


def _mul_vjp(inputs, output, attrs, upstream, needs):
    x, y = inputs
    return (unbroadcast(apply2(MUL, upstream, conj(y)), shape_of(x)) if needs[0] else None,
            unbroadcast(apply2(MUL, conj(x), upstream), shape_of(y)) if needs[1] else None)


def _mul_jvp(inputs, output, attrs, tangents):
    x, y = inputs
    tx, ty = tangents
    shape = output._value.shape
    return sum_tangents(None if tx is None else broadcast_tangent(apply2(MUL, tx, y), shape),
                        None if ty is None else broadcast_tangent(apply2(MUL, x, ty), shape))


def _div_vjp(inputs, output, attrs, upstream, needs):
    x, y = inputs
    grad_x = grad_y = None
    if needs[0]:
        grad_x = unbroadcast(apply2(DIV, upstream, conj(y)), shape_of(x))
    if needs[1]:
        # -upstream * x / y**2, as (-x / y) / y so that it stays finite where it can
        grad_y = unbroadcast(
            apply2(MUL, upstream, conj(apply2(DIV, apply2(DIV, apply1(NEG, x), y), y))),
            shape_of(y))
    return grad_x, grad_y


def _div_jvp(inputs, output, attrs, tangents):
    x, y = inputs
    tx, ty = tangents
    shape = output._value.shape
    return sum_tangents(
        None if tx is None else broadcast_tangent(apply2(DIV, tx, y), shape),
        None if ty is None else broadcast_tangent(
            apply1(NEG, apply2(MUL, ty, apply2(DIV, output, y))), shape))


def _pow_vjp(inputs, output, attrs, upstream, needs):
    from tapegrad.ops.array import where
    x, y = inputs
    grad_x = grad_y = None
    if needs[0]:
        # y * x**(y - 1); written so that x = 0 with y = 2 gives 0, as TensorFlow
        y_minus_1 = y - 1 if type(y) is float or type(y) is int else apply2(SUB, y, 1)
        local = apply2(MUL, y, apply2(POW, x, y_minus_1))
        grad_x = unbroadcast(apply2(MUL, upstream, conj(local)), shape_of(x))
    if needs[1]:
        if _is_complex(x):
            log_x = log(x)
        else:
            x_tensor = convert_to_tensor(x) if not isinstance(x, Tensor) else x
            positive = apply2(GREATER, x_tensor, 0.0)
            safe_x = where(positive, x_tensor, ones_like(x_tensor))
            log_x = where(positive, log(safe_x), zeros_like(x_tensor))
        grad_y = unbroadcast(apply2(MUL, upstream, conj(apply2(MUL, output, log_x))),
                             shape_of(y))
    return grad_x, grad_y


def _pow_jvp(inputs, output, attrs, tangents):
    x, y = inputs
    tx, ty = tangents
    shape = output._value.shape
    terms = []
    if tx is not None:
        terms.append(broadcast_tangent(
            apply2(MUL, tx, apply2(MUL, y, apply2(
                POW, x, y - 1 if type(y) is float or type(y) is int else apply2(SUB, y, 1)))),
            shape))
    if ty is not None:
        terms.append(broadcast_tangent(apply2(MUL, ty, apply2(MUL, output, log(x))), shape))
    return sum_tangents(*terms)


def _maximum_vjp(inputs, output, attrs, upstream, needs, compare=None):
    from tapegrad.ops.array import where
    x, y = inputs
    # Ties send the whole gradient to the first argument, as TensorFlow.
    first = apply2(compare or GREATER_EQUAL, x, y)
    zeros = zeros_like(upstream)
    return (unbroadcast(where(first, upstream, zeros), shape_of(x)) if needs[0] else None,
            unbroadcast(where(first, zeros, upstream), shape_of(y)) if needs[1] else None)


def _minimum_vjp(inputs, output, attrs, upstream, needs):
    return _maximum_vjp(inputs, output, attrs, upstream, needs, compare=LESS_EQUAL)


def _select_jvp(compare):
    def jvp(inputs, output, attrs, tangents):
        from tapegrad.ops.array import where
        x, y = inputs
        shape = output._value.shape
        tx, ty = tangents
        tx = zeros_like(output) if tx is None else broadcast_tangent(tx, shape)
        ty = zeros_like(output) if ty is None else broadcast_tangent(ty, shape)
        return where(apply2(compare, x, y), tx, ty)
    return jvp


ADD = register("AddV2", np.add, _add_vjp, _add_jvp, _binary_samples)
SUB = register("Sub", np.subtract, _sub_vjp, _sub_jvp, _binary_samples)
MUL = register("Mul", np.multiply, _mul_vjp, _mul_jvp, _binary_samples)
DIV = register("RealDiv", np.true_divide, _div_vjp, _div_jvp,
               lambda: [Sample((randn(3), randn(3, low=0.5))),
                        Sample((randn(2, 3), randn(3, low=0.5)))])
POW = register("Pow", np.power, _pow_vjp, _pow_jvp,
               lambda: [Sample((randn(3, low=0.5), randn(3, seed=1))),
                        Sample((randn(2, 3, low=0.5), randn(3, seed=2)))])
MAXIMUM = register("Maximum", np.maximum, _maximum_vjp, None, _binary_samples)
MINIMUM = register("Minimum", np.minimum, _minimum_vjp, None, _binary_samples)


def _compare(name, forward):
    return register(name, forward, None, None,
                    samples=lambda: [Sample((randn(3), randn(3, seed=1)))])


EQUAL = _compare("Equal", np.equal)
NOT_EQUAL = _compare("NotEqual", np.not_equal)
LESS = _compare("Less", np.less)
LESS_EQUAL = _compare("LessEqual", np.less_equal)
GREATER = _compare("Greater", np.greater)
GREATER_EQUAL = _compare("GreaterEqual", np.greater_equal)
MAXIMUM.jvp = _select_jvp(GREATER_EQUAL)
MINIMUM.jvp = _select_jvp(LESS_EQUAL)
LOGICAL_AND = _compare("LogicalAnd", np.logical_and)
LOGICAL_OR = _compare("LogicalOr", np.logical_or)
LOGICAL_NOT = register("LogicalNot", np.logical_not, None, None,
                       samples=lambda: [Sample((np.array([True, False]),))])
FLOOR_DIV = _compare("FloorDiv", np.floor_divide)
FLOOR_MOD = _compare("FloorMod", np.mod)


# -- casts and identity ----------------------------------------------------------------------

def _cast_forward(x, dtype):
    return x.astype(dtype, copy=False) if isinstance(x, np.ndarray) else np.asarray(x, dtype)


def _cast_vjp(inputs, output, attrs, upstream, needs):
    source = inputs[0]._value.dtype
    if source.kind not in "fc":
        return (None,)
    if upstream._value.dtype.kind == "c" and source.kind == "f":
        upstream = real(upstream)
    return (apply1(CAST, upstream, {"dtype": source}),)


def _cast_jvp(inputs, output, attrs, tangents):
    if output._value.dtype.kind not in "fc":
        return None
    return apply1(CAST, tangents[0], {"dtype": output._value.dtype})


CAST = register("Cast", _cast_forward, _cast_vjp, _cast_jvp,
                lambda: [Sample((randn(3),), {"dtype": np.dtype(np.float64)}),
                         Sample((randn(3),), {"dtype": np.dtype(np.complex128)})])


def cast(x, dtype, name=None):
    """Cast to ``dtype``; float-to-float casts are differentiable, integer casts cut the path.

    >>> import tapegrad as tf
    >>> tf.cast(tf.constant([1.7, -2.2]), tf.int32).numpy().tolist()
    [1, -2]
    """
    target = _dt.as_dtype(dtype)._np
    if isinstance(x, Tensor) and x._value.dtype == target:
        return x
    if not isinstance(x, Tensor) and not hasattr(x, "_read_for_op"):
        x = convert_to_tensor(x)
        if x._value.dtype == target:
            return x
    value = x._value
    if value.dtype.kind == "c" and target.kind != "c":
        return apply1(CAST, real(x), {"dtype": target})
    if value.dtype.kind == "f" and target.kind in "iu":
        # TensorFlow truncates toward zero
        return apply1(CAST, x, {"dtype": target})
    return apply1(CAST, x, {"dtype": target})


REAL = register("Real", np.real,
                lambda inputs, output, attrs, upstream, needs: (
                    complex_(upstream, zeros_like(upstream)),),
                lambda inputs, output, attrs, tangents: real(tangents[0]),
                lambda: [Sample((randn(3) + 1j * randn(3, seed=1),))])
IMAG = register("Imag", np.imag,
                lambda inputs, output, attrs, upstream, needs: (
                    complex_(zeros_like(upstream), upstream),),
                lambda inputs, output, attrs, tangents: imag(tangents[0]),
                lambda: [Sample((randn(3) + 1j * randn(3, seed=1),))])


def _complex_forward(re, im):
    return re + 1j * im if re.dtype == np.float64 else (re + 1j * im).astype(np.complex64)


COMPLEX = register("Complex", _complex_forward,
                   lambda inputs, output, attrs, upstream, needs: (
                       unbroadcast(real(upstream), shape_of(inputs[0])) if needs[0] else None,
                       unbroadcast(imag(upstream), shape_of(inputs[1])) if needs[1] else None),
                   lambda inputs, output, attrs, tangents: complex_(
                       zeros_like(inputs[0]) if tangents[0] is None else tangents[0],
                       zeros_like(inputs[1]) if tangents[1] is None else tangents[1]),
                   lambda: [Sample((randn(3), randn(3, seed=1))),
                            Sample((randn(2, 3), randn(3, seed=1)))])


def real(x, name=None):
    """Real part (the input itself for real tensors)."""
    x = x if isinstance(x, Tensor) else convert_to_tensor(x)
    return apply1(REAL, x) if x._value.dtype.kind == "c" else x


def imag(x, name=None):
    """Imaginary part (zeros for real tensors)."""
    x = x if isinstance(x, Tensor) else convert_to_tensor(x)
    return apply1(IMAG, x) if x._value.dtype.kind == "c" else zeros_like(x)


def complex_(real_part, imag_part, name=None):
    """``real + 1j * imag`` (as ``tf.complex``)."""
    return apply2(COMPLEX, real_part, imag_part)


IDENTITY = register("Identity", lambda x: x,
                    lambda inputs, output, attrs, upstream, needs: (upstream,),
                    lambda inputs, output, attrs, tangents: tangents[0],
                    lambda: [Sample((randn(3),))])
STOP_GRADIENT = register("StopGradient", lambda x: x, None, None,
                         samples=lambda: [Sample((randn(3),))])


def identity(x, name=None):
    """The same value as a new tensor (the gradient passes through)."""
    return apply1(IDENTITY, x)


def stop_gradient(x, name=None):
    """The same value, with the gradient path cut (as ``tf.stop_gradient``)."""
    return apply1(STOP_GRADIENT, x)


# -- public functions ------------------------------------------------------------------------

def add(x, y, name=None):
    return apply2(ADD, x, y)


def subtract(x, y, name=None):
    return apply2(SUB, x, y)


def multiply(x, y, name=None):
    return apply2(MUL, x, y)


def divide(x, y, name=None):
    """``x / y``; integer inputs are converted to float64 first, as ``tf.divide``."""
    return truediv(x, y)


def truediv(x, y, name=None):
    xv = getattr(x, "_value", None)
    if xv is not None and xv.dtype.kind in "iu":
        x = cast(x, _dt.float64)
        y = cast(y, _dt.float64)
    return apply2(DIV, x, y)


def realdiv(x, y, name=None):
    return apply2(DIV, x, y)


def floordiv(x, y, name=None):
    return apply2(FLOOR_DIV, x, y)


def floormod(x, y, name=None):
    return apply2(FLOOR_MOD, x, y)


mod = floormod


def pow(x, y, name=None):  # noqa: A001 - TensorFlow's public name
    return apply2(POW, x, y)


def maximum(x, y, name=None):
    return apply2(MAXIMUM, x, y)


def minimum(x, y, name=None):
    return apply2(MINIMUM, x, y)


def negative(x, name=None):
    return apply1(NEG, x)


def exp(x, name=None):
    return apply1(EXP, x)


def log(x, name=None):
    return apply1(LOG, x)


def sin(x, name=None):
    return apply1(SIN, x)


def cos(x, name=None):
    return apply1(COS, x)


def tanh(x, name=None):
    return apply1(TANH, x)


def sigmoid(x, name=None):
    return apply1(SIGMOID, x)


def sqrt(x, name=None):
    return apply1(SQRT, x)


def square(x, name=None):
    return apply1(SQUARE, x)


def reciprocal(x, name=None):
    return apply1(RECIPROCAL, x)


def abs(x, name=None):  # noqa: A001 - TensorFlow's public name
    return apply1(ABS, x)


def sign(x, name=None):
    return apply1(SIGN, x)


def round(x, name=None):  # noqa: A001 - TensorFlow's public name
    """Round half to even (no gradient, as TensorFlow)."""
    return apply1(ROUND, x)


def floor(x, name=None):
    return apply1(FLOOR, x)


def ceil(x, name=None):
    return apply1(CEIL, x)


def equal(x, y, name=None):
    return apply2(EQUAL, x, y)


def not_equal(x, y, name=None):
    return apply2(NOT_EQUAL, x, y)


def less(x, y, name=None):
    return apply2(LESS, x, y)


def less_equal(x, y, name=None):
    return apply2(LESS_EQUAL, x, y)


def greater(x, y, name=None):
    return apply2(GREATER, x, y)


def greater_equal(x, y, name=None):
    return apply2(GREATER_EQUAL, x, y)


def logical_and(x, y, name=None):
    return apply2(LOGICAL_AND, x, y)


def logical_or(x, y, name=None):
    return apply2(LOGICAL_OR, x, y)


def logical_not(x, name=None):
    return apply1(LOGICAL_NOT, x)


def zeros_like(x, dtype=None, name=None):
    """Zeros of ``x``'s shape (and dtype unless given); not connected to ``x``."""
    value = getattr(x, "_value", None)
    if value is None:
        value = convert_to_tensor(x)._value
    target = _dt.as_dtype(dtype)._np if dtype is not None else value.dtype
    return _wrap(np.zeros(value.shape, dtype=target))


def ones_like(x, dtype=None, name=None):
    """Ones of ``x``'s shape (and dtype unless given); not connected to ``x``."""
    value = getattr(x, "_value", None)
    if value is None:
        value = convert_to_tensor(x)._value
    target = _dt.as_dtype(dtype)._np if dtype is not None else value.dtype
    return _wrap(np.ones(value.shape, dtype=target))


IS_FINITE = register("IsFinite", np.isfinite, None, None,
                     samples=lambda: [Sample((np.array([1.0, np.inf, np.nan]),))])
IS_NAN = register("IsNan", np.isnan, None, None,
                  samples=lambda: [Sample((np.array([1.0, np.inf, np.nan]),))])


def is_finite(x, name=None):
    return apply1(IS_FINITE, x)


def is_nan(x, name=None):
    return apply1(IS_NAN, x)
