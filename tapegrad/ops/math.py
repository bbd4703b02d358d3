"""Elementwise math: unary functions, broadcasting binary arithmetic, comparisons, casts.

Every op follows TensorFlow's gradient conventions: for complex inputs the reverse rule of a
holomorphic ``f`` is ``upstream * conj(f'(z))``; values at kinks (``divide_no_nan`` at 0,
``xlogy`` at 0, ``sqrt``'s zero upstream...) are TensorFlow's.
"""

from __future__ import annotations

from tapegrad._core import dtypes as _dt
from tapegrad._core.backend import np
from tapegrad._core.errors import InvalidArgumentError
from tapegrad._core.registry import NO_GRADIENT, register
from tapegrad._core.tensor import (
    Tensor,
    apply,
    apply1,
    apply2,
    convert_to_tensor,
    wrap,
)
from tapegrad.ops._sample import Sample
from tapegrad.ops._util import (
    FLOAT32_64,
    FLOATS,
    INEXACT,
    NUMBERS,
    REAL,
    SIGNED,
    randn,
)
from tapegrad.ops._vocab import (
    broadcast_tangent,
    doubled,
    run,
    select,
    shape_of,
    sum_like,
    sum_tangents,
)
from tapegrad.ops._vocab import conj as rule_conj
from tapegrad.ops._vocab import sin as rule_sin

_ndarray = np.ndarray
_TWO_OVER_ROOT_PI = 2.0 / float(np.sqrt(np.pi))
_ROOT_PI_OVER_TWO = float(np.sqrt(np.pi)) / 2.0


def _is_complex(value) -> bool:
    return getattr(value, "_value", value).dtype.kind == "c" if hasattr(
        getattr(value, "_value", value), "dtype") else isinstance(value, complex)


def _special():
    """``scipy.special``, imported on first use (SciPy is an optional dependency)."""
    try:
        import scipy.special
    except ImportError:  # pragma: no cover - SciPy is in the test extra
        raise ImportError('this op needs SciPy; install it with pip install "tapegrad[special]"'
                          ) from None
    return scipy.special


def _have_scipy() -> bool:
    try:
        import scipy.special  # noqa: F401
    except ImportError:  # pragma: no cover
        return False
    return True


def _arrays(x, y):
    """Both operands as NumPy values of one dtype (a Python scalar adopts the other's)."""
    if not isinstance(x, (np.ndarray, np.generic)):
        x = np.asarray(x, dtype=y.dtype)
    if not isinstance(y, (np.ndarray, np.generic)):
        y = np.asarray(y, dtype=x.dtype)
    return x, y


def _same_kind(result, like):
    """``result`` in ``like``'s dtype (SciPy computes float16 in float32)."""
    result = np.asarray(result) if not isinstance(result, (np.ndarray, np.generic)) else result
    return result if result.dtype == like.dtype else result.astype(like.dtype)


def conj(x, name=None):
    """Complex conjugate; the input itself for real tensors (as ``tf.math.conj``).

    >>> import tapegrad as tf
    >>> tf.math.conj(tf.constant([1 + 2j])).numpy().tolist()
    [(1-2j)]
    """
    if isinstance(x, Tensor):
        _check_numeric(x, "Expected numeric or variant tensor")
        return x if x._value.dtype.kind != "c" else apply1(CONJ, x)
    if type(x) is float or type(x) is int:
        return x
    if type(x) is complex:
        return x.conjugate()
    return conj(convert_to_tensor(x))


# -- unary ops from one derivative ---------------------------------------------------------

def _unary(name: str, forward, derivative, samples, guarded: bool = False, *,
           sample_note=None, dtypes=INEXACT):
    """Register an elementwise op whose derivative is ``derivative(x, out)``.

    The reverse rule is ``upstream * conj(f'(x))`` and the forward rule ``tangent * f'(x)``:
    TensorFlow's convention for complex inputs. ``guarded`` ops' reverse rules give exactly 0
    wherever the upstream is 0, even where ``f'`` is infinite (TensorFlow's SqrtGrad,
    RsqrtGrad and ReciprocalGrad kernels); their forward rules are not guarded (TensorFlow's
    forward mode gives ``0 * inf = nan`` there). Elementwise rules take batched cotangents.
    """
    if guarded:
        def vjp(inputs, output, attrs, upstream, needs):
            return (apply2(MUL_NO_NAN, conj(derivative(inputs[0], output)), upstream),)
    else:
        def vjp(inputs, output, attrs, upstream, needs):
            local = derivative(inputs[0], output)
            if output._value.dtype.kind == "c":
                local = conj(local)
            return (apply2(MUL, upstream, local),)

    def jvp(inputs, output, attrs, tangents):
        return apply2(MUL, tangents[0], derivative(inputs[0], output))

    return register(name, forward, vjp, jvp, samples, batchable=True, sample_note=sample_note,
                    dtypes=dtypes, elementwise=True)


def _analytic(name: str, forward, samples, *, derivative=None, times_derivative=None,
              fused=None, dtypes=INEXACT):
    """Register an elementwise op of a real-analytic ``f`` (``f(conj z) = conj f(z)``) whose
    rules take arrays and batched cotangents. Its derivative is given in one of three forms,
    in the rule vocabulary:

    * ``derivative``, the op computing ``f'(x)`` from ``x`` (Cos for Sin);
    * ``times_derivative(g, x, y)``, ``g * f'(x)`` for ``y = f(x)`` (e.g. ``g * y`` for Exp);
    * ``fused``, an op computing ``f'(x) * g`` from ``(y, g)`` in one dispatch (TensorFlow's
      TanhGrad).

    The forward rule is ``tangent * f'(x)`` and the reverse rule ``upstream * conj(f'(x))``
    (TensorFlow's convention for complex inputs), computed as ``f'(conj x)``.
    """
    # (each form's reverse rule is written out: one call less on the hottest rules)
    if derivative is not None:
        def times_derivative(g, x, y):
            return g * run(derivative, x)

        derivative_of_array = derivative.forward

        def vjp(inputs, output, attrs, upstream, needs):
            x = inputs[0]
            if type(x) is _ndarray or isinstance(x, np.generic):  # (real: nothing to conjugate)
                return (upstream * derivative_of_array(x),)
            return (upstream * apply1(derivative, rule_conj(x)),)
    elif fused is not None:
        local_times = fused.forward

        def times_derivative(g, x, y):  # run(fused, y, g)
            if type(g) is _ndarray or isinstance(g, np.generic):
                return local_times(y, g)
            return apply2(fused, y, g)

        def vjp(inputs, output, attrs, upstream, needs):
            if type(upstream) is _ndarray:  # (arrays hold real values: nothing to conjugate)
                return (local_times(output, upstream),)
            return (times_derivative(upstream, None, rule_conj(output)),)
    else:
        def vjp(inputs, output, attrs, upstream, needs):
            if type(upstream) is _ndarray:  # (arrays hold real values: nothing to conjugate)
                return (times_derivative(upstream, inputs[0], output),)
            return (times_derivative(upstream, rule_conj(inputs[0]), rule_conj(output)),)

    def jvp(inputs, output, attrs, tangents):
        return times_derivative(tangents[0], inputs[0], output)

    return register(name, forward, vjp, jvp, samples, batchable=True, dtypes=dtypes,
                    array_rules=True, elementwise=True)


def _positive(*shape):
    return randn(*shape, low=0.5)


def _complex_sample(*shape, positive=False, small=False):
    re = randn(*shape, low=0.5) if positive else randn(*shape)
    im = randn(*shape, seed=1)
    value = re + 1j * im
    return value * 0.3 if small else value


def _standard_unary_samples(positive=False, unit=False, low=None, complex_=False,
                            complex_positive=False, complex_small=False):
    def make():
        if positive:
            samples = [Sample((_positive(3),)), Sample((_positive(2, 3),)),
                       Sample((_positive(),))]
        elif unit:
            samples = [Sample((np.array([-0.7, -0.2, 0.3, 0.6]),)),
                       Sample((np.array([[0.1, -0.5], [0.4, 0.8]]),))]
        elif low is not None:
            samples = [Sample((randn(3, low=low),)), Sample((randn(2, 3, low=low),)),
                       Sample((randn(low=low),))]
        else:
            samples = [Sample((randn(3),)), Sample((randn(2, 3),)), Sample((randn(),)),
                       Sample((np.zeros((0, 2)),))]
        if complex_:
            samples.append(Sample((_complex_sample(3, positive=complex_positive,
                                                   small=complex_small),)))
            samples.append(Sample((_complex_sample(2, 2, positive=complex_positive,
                                                   small=complex_small),)))
        return samples
    return make


def _safe_unit(x, magnitude):
    """``x / |x|`` as a complex tensor, 0 where ``|x|`` is 0."""
    unit = apply2(DIV, x, complex_(magnitude, zeros_like(magnitude)))
    return select(apply2(EQUAL, magnitude, 0.0), zeros_like(unit), unit)




NEG = _analytic("Neg", np.negative, _standard_unary_samples(complex_=True),
                times_derivative=lambda g, x, y: -g, dtypes=SIGNED)
EXP = _analytic("Exp", np.exp, _standard_unary_samples(complex_=True),
                times_derivative=lambda g, x, y: g * y)
EXPM1 = _unary("Expm1", np.expm1, lambda x, y: exp(x), _standard_unary_samples(complex_=True))
LOG = _analytic("Log", np.log,
                _standard_unary_samples(positive=True, complex_=True, complex_positive=True),
                times_derivative=lambda g, x, y: g / x)
LOG1P = _unary("Log1p", np.log1p, lambda x, y: reciprocal(1.0 + x),
               _standard_unary_samples(low=-0.5, complex_=True, complex_small=True))
COS = _analytic("Cos", np.cos, _standard_unary_samples(complex_=True),
                times_derivative=lambda g, x, y: -(g * rule_sin(x)))
SIN = _analytic("Sin", np.sin, _standard_unary_samples(complex_=True), derivative=COS)
TAN = _unary("Tan", np.tan, lambda x, y: square(reciprocal(cos(x))),
             _standard_unary_samples(low=-1.0, complex_=True, complex_small=True))


def _inverse_sqrt_one_minus_square(x):
    return reciprocal(sqrt(1.0 - square(x)))


ASIN = _unary("Asin", np.arcsin, lambda x, y: _inverse_sqrt_one_minus_square(x),
              _standard_unary_samples(unit=True, complex_=True, complex_small=True))
ACOS = _unary("Acos", np.arccos, lambda x, y: -_inverse_sqrt_one_minus_square(x),
              _standard_unary_samples(unit=True, complex_=True, complex_small=True))
ATAN = _unary("Atan", np.arctan, lambda x, y: reciprocal(1.0 + square(x)),
              _standard_unary_samples(complex_=True, complex_small=True))
SINH = _unary("Sinh", np.sinh, lambda x, y: cosh(x), _standard_unary_samples(complex_=True))
COSH = _unary("Cosh", np.cosh, lambda x, y: sinh(x), _standard_unary_samples(complex_=True))


def _fused_grad(name: str, local_times, times_local_prime, samples):
    """TensorFlow-style fused reverse op ``name(y, g) = local(y) * g`` for a real-analytic
    unary op whose derivative is a function of its output: one dispatch instead of three on
    the hot path. ``local_times(y, t)`` is ``local(y) * t`` (the op's forward) and
    ``times_local_prime(t, g, y)`` is ``t * g * local'(y)``, both in the rule vocabulary
    (polynomials with real coefficients, so conjugating their arguments conjugates them)."""

    def vjp(inputs, output, attrs, upstream, needs):
        y, g = inputs
        if type(upstream) is not _ndarray:  # (arrays hold real values: nothing to conjugate)
            y, g = rule_conj(y), rule_conj(g)
        return (times_local_prime(upstream, g, y) if needs[0] else None,
                local_times(y, upstream) if needs[1] else None)

    def jvp(inputs, output, attrs, tangents):
        y, g = inputs
        ty, tg = tangents
        return broadcast_tangent(sum_tangents(
            None if tg is None else local_times(y, tg),
            None if ty is None else times_local_prime(ty, g, y)), shape_of(output))

    return register(name, local_times, vjp, jvp, samples, batchable=True, array_rules=True)


def _fused_samples():
    return [Sample((randn(3, low=-0.9) / 1.5, randn(3, seed=1))),
            Sample((randn(2, 3, low=-0.9) / 1.5, randn(2, 3, seed=2)))]


def _one_minus_square_times(y, t):
    if t.ndim != y.ndim:  # batched rows (a jacobian's): find 1 - y^2 once, on y's shape
        return t * (1 - y * y)
    return t - (t * y) * y  # (1 - y * y) t without a Python scalar


def _itself_one_minus_itself_times(y, t):
    if t.ndim != y.ndim:  # batched rows (a jacobian's): find y (1 - y) once, on y's shape
        return t * (y - y * y)
    scaled = t * y
    return scaled - scaled * y  # y (1 - y) t


def _times_derivative_of_itself(t, y):
    return t - doubled(t * y)  # t * (1 - 2 y)


# TanhGrad(y, g) = g (1 - y^2): d/dy = -2 g y.  SigmoidGrad(y, g) = g y (1 - y): d/dy = g (1 - 2y)
TANH_GRAD = _fused_grad("TanhGrad", _one_minus_square_times,
                        lambda t, g, y: -doubled((g * y) * t), _fused_samples)
SIGMOID_GRAD = _fused_grad("SigmoidGrad", _itself_one_minus_itself_times,
                           lambda t, g, y: _times_derivative_of_itself(t * g, y), _fused_samples)


TANH = _analytic("Tanh", np.tanh, _standard_unary_samples(complex_=True), fused=TANH_GRAD)
ASINH = _unary("Asinh", np.arcsinh, lambda x, y: reciprocal(cosh(y)),
               _standard_unary_samples(complex_=True, complex_small=True))
ACOSH = _unary("Acosh", np.arccosh, lambda x, y: reciprocal(sinh(y)),
               _standard_unary_samples(low=1.2, complex_=True, complex_positive=True))
ATANH = _unary("Atanh", np.arctanh, lambda x, y: reciprocal(1.0 - square(x)),
               _standard_unary_samples(unit=True, complex_=True, complex_small=True))


SQUARE = _analytic("Square", np.square, _standard_unary_samples(complex_=True),
                   times_derivative=lambda g, x, y: doubled(g * x), dtypes=NUMBERS)
RECIPROCAL = _unary("Reciprocal", np.reciprocal, lambda x, y: -(y * y),
                    _standard_unary_samples(positive=True, complex_=True,
                                            complex_positive=True), guarded=True)


def _rsqrt_forward(x):
    return 1.0 / np.sqrt(x)


RSQRT = _unary("Rsqrt", _rsqrt_forward, lambda x, y: -0.5 * (y * y * y),
               _standard_unary_samples(positive=True, complex_=True, complex_positive=True),
               guarded=True)
SQRT = _unary("Sqrt", np.sqrt, lambda x, y: 0.5 / y,
              _standard_unary_samples(positive=True, complex_=True, complex_positive=True),
              guarded=True)


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


SIGMOID = _analytic("Sigmoid", _sigmoid_forward,
                    _standard_unary_samples(complex_=True, complex_small=True),
                    fused=SIGMOID_GRAD)


def _softplus_forward(x):
    return np.logaddexp(0.0, x).astype(x.dtype, copy=False)


SOFTPLUS = _unary("Softplus", _softplus_forward, lambda x, y: sigmoid(x),
                  lambda: [Sample((randn(3),)), Sample((randn(2, 3),)), Sample((randn(),)),
                           Sample((np.array([-30.0, 0.0, 30.0]),)), Sample((np.zeros((0, 2)),))],
                  dtypes=FLOATS)


def _softsign_forward(x):
    return x / (1.0 + np.abs(x))


SOFTSIGN = _unary("Softsign", _softsign_forward,
                  lambda x, y: reciprocal(square(1.0 + abs(x))),
                  lambda: [Sample((randn(3),)), Sample((randn(2, 3),)),
                           Sample((np.array([0.0]),), second_order=False)], dtypes=FLOATS)


def _abs_vjp(inputs, output, attrs, upstream, needs):
    x = inputs[0]
    if _is_complex(x):
        # TensorFlow's ComplexAbsGrad: div_no_nan(complex(upstream, 0) * x, complex(|x|, 0))
        return (apply2(MUL, complex_(upstream, zeros_like(upstream)), _safe_unit(x, output)),)
    return (apply2(MUL, upstream, sign(x)),)


def _abs_jvp(inputs, output, attrs, tangents):
    x = inputs[0]
    if _is_complex(x):
        return real(apply2(MUL, conj(_safe_unit(x, output)), tangents[0]))
    return apply2(MUL, tangents[0], sign(x))


ABS = register("Abs", np.abs, _abs_vjp, _abs_jvp,
               lambda: [Sample((np.array([-1.5, 0.7, 2.0]),)), Sample((randn(2, 3),)),
                        Sample((_complex_sample(3),)), Sample((_complex_sample(2, 2),))],
               dtypes=SIGNED, elementwise=True)

def _complex_sign_derivative(x, output, v):
    """``(v - conj(v) * sign(x)**2) / (2 |x|)``: how ``sign(x) = x / |x|`` moves along ``v`` for
    complex ``x`` (both Wirtinger parts, as TensorFlow's rule), 0 at ``x = 0``."""
    scale = apply2(DIV_NO_NAN, 0.5, apply1(ABS, x))
    along = apply2(SUB, v, apply2(MUL, conj(v), apply2(MUL, output, output)))
    return apply2(MUL, complex_(scale, zeros_like(scale)), along)


def _sign_vjp(inputs, output, attrs, upstream, needs):
    if _is_complex(inputs[0]):
        return (_complex_sign_derivative(inputs[0], output, upstream),)
    return (zeros_like(inputs[0]),)


def _sign_jvp(inputs, output, attrs, tangents):
    if _is_complex(inputs[0]):
        return _complex_sign_derivative(inputs[0], output, tangents[0])
    return zeros_like(output)


SIGN = register("Sign", np.sign, _sign_vjp, _sign_jvp,
                lambda: [Sample((np.array([-1.5, 0.7, 2.0]),), second_order=False),
                         Sample((_complex_sample(3),)), Sample((_complex_sample(2, 2),))],
                dtypes=SIGNED)


def _no_grad(name, forward, dtypes):
    return register(name, forward, None, None, samples=lambda: [Sample((randn(3),))],
                    dtypes=dtypes)


ROUND = _no_grad("Round", np.round, REAL)
RINT = _no_grad("Rint", np.rint, FLOAT32_64)
FLOOR = _no_grad("Floor", np.floor, FLOATS)
CEIL = _no_grad("Ceil", np.ceil, FLOATS)
CONJ = register("Conj", np.conj,
                lambda inputs, output, attrs, upstream, needs: (conj(upstream),),
                lambda inputs, output, attrs, tangents: conj(tangents[0]),
                lambda: [Sample((randn(3),)), Sample((_complex_sample(3),))])


def _angle_vjp(inputs, output, attrs, upstream, needs):
    # TensorFlow's AngleGrad: -complex(upstream, 0) / complex(imag(x), real(x))
    x = inputs[0]
    turned = reciprocal(complex_(imag(x), real(x)))
    return (negative(apply2(MUL, complex_(upstream, zeros_like(upstream)), turned)),)


def _angle_jvp(inputs, output, attrs, tangents):
    return imag(apply2(DIV, tangents[0], inputs[0]))


ANGLE = register("Angle", np.angle, _angle_vjp, _angle_jvp,
                 lambda: [Sample((_complex_sample(3),)), Sample((_complex_sample(2, 2),))])


# -- special functions (SciPy, imported lazily) ----------------------------------------------

def _erf_forward(x):
    return _same_kind(_special().erf(x), x)


def _erfc_forward(x):
    return _same_kind(_special().erfc(x), x)


def _erfinv_forward(x):
    return _same_kind(_special().erfinv(x), x)


def _lgamma_forward(x):
    return _same_kind(_special().gammaln(x), x)


def _digamma_forward(x):
    return _same_kind(_special().psi(x), x)


def _scipy_samples(make):
    """Samples of a SciPy-backed op; none (with a note on the op) when SciPy is missing."""
    def samples():
        return make() if _have_scipy() else []
    return samples


_SCIPY_NOTE = 'needs SciPy (pip install "tapegrad[special]"); the sweep skips it without SciPy'

ERF = _unary("Erf", _erf_forward, lambda x, y: _TWO_OVER_ROOT_PI * exp(-square(x)),
             _scipy_samples(_standard_unary_samples()),
             sample_note=_SCIPY_NOTE, dtypes=FLOATS)
ERFC = _unary("Erfc", _erfc_forward, lambda x, y: -_TWO_OVER_ROOT_PI * exp(-square(x)),
              _scipy_samples(_standard_unary_samples()),
              sample_note=_SCIPY_NOTE, dtypes=FLOATS)
ERFINV = _unary("Erfinv", _erfinv_forward, lambda x, y: _ROOT_PI_OVER_TWO * exp(square(y)),
                _scipy_samples(_standard_unary_samples(unit=True)),
                sample_note=_SCIPY_NOTE, dtypes=FLOAT32_64)
LGAMMA = _unary("Lgamma", _lgamma_forward, lambda x, y: digamma(x),
                _scipy_samples(lambda: _standard_unary_samples(positive=True)() + [
                    Sample((np.array([-1.5, -0.3, 2.5, 7.0]),))]),
                sample_note=_SCIPY_NOTE, dtypes=FLOATS)
DIGAMMA = _unary("Digamma", _digamma_forward,
                 lambda x, y: polygamma(wrap(np.ones((), x._value.dtype)), x),
                 _scipy_samples(lambda: _standard_unary_samples(positive=True)() + [
                     Sample((np.array([-1.5, -0.3, 2.5, 7.0]),))]),
                 sample_note=_SCIPY_NOTE, dtypes=FLOATS)


def _polygamma_forward(a, x):
    a, x = _arrays(a, x)
    valid = (a == np.floor(a)) & (a >= 0)
    with np.errstate(all="ignore"):
        out = _special().polygamma(np.where(valid, a, 0.0), x)
    return _same_kind(np.where(valid, out, np.nan), x)


def _polygamma_vjp(inputs, output, attrs, upstream, needs):
    a, x = inputs
    if not needs[1]:
        return None, None
    partial = polygamma(apply2(ADD, a, 1.0) if isinstance(a, Tensor) else a + 1, x)
    return None, sum_like(apply2(MUL, upstream, partial), x, output)


def _polygamma_jvp(inputs, output, attrs, tangents):
    a, x = inputs
    if tangents[1] is None:
        return None
    partial = polygamma(apply2(ADD, a, 1.0) if isinstance(a, Tensor) else a + 1, x)
    return broadcast_tangent(apply2(MUL, tangents[1], partial), output._value.shape)


POLYGAMMA = register("Polygamma", _polygamma_forward, _polygamma_vjp, _polygamma_jvp,
                     _scipy_samples(lambda: [
                         Sample((np.array([0.0, 1.0, 2.0]), _positive(3)), wrt=(1,)),
                         Sample((np.array([[1.0], [3.0]]), _positive(3)), wrt=(1,)),
                         Sample((np.array(1.0), _positive(2, 2)), wrt=(1,))]),
                     sample_note=_SCIPY_NOTE, dtypes=FLOAT32_64)


def _zeta_forward(x, q):
    x, q = _arrays(x, q)
    with np.errstate(all="ignore"):
        return _same_kind(_special().zeta(x, q), q)


def _zeta_partial(x, q):
    return apply2(MUL, negative(x) if isinstance(x, Tensor) else -x,
                  zeta(apply2(ADD, x, 1.0) if isinstance(x, Tensor) else x + 1, q))


def _zeta_vjp(inputs, output, attrs, upstream, needs):
    x, q = inputs
    if not needs[1]:
        return None, None
    return None, sum_like(apply2(MUL, upstream, conj(_zeta_partial(x, q))), q, output)


def _zeta_jvp(inputs, output, attrs, tangents):
    x, q = inputs
    if tangents[1] is None:
        return None
    return broadcast_tangent(apply2(MUL, tangents[1], _zeta_partial(x, q)),
                             output._value.shape)


ZETA = register("Zeta", _zeta_forward, _zeta_vjp, _zeta_jvp,
                _scipy_samples(lambda: [
                    Sample((np.array([2.0, 3.0, 2.5]), _positive(3)), wrt=(1,)),
                    Sample((np.array([[2.0], [4.0]]), _positive(3)), wrt=(1,))]),
                sample_note=_SCIPY_NOTE, dtypes=FLOAT32_64)


# -- binary ops ------------------------------------------------------------------------------


def _binary_samples():
    return [Sample((randn(3), randn(3, seed=1))), Sample((randn(2, 3), randn(3, seed=1))),
            Sample((randn(2, 1), randn(1, 3, seed=1))), Sample((randn(), randn(2, 2, seed=1)))]


def _complex_binary_samples():
    return [Sample((_complex_sample(3), _complex_sample(3, positive=True) * (1 - 0.5j))),
            Sample((_complex_sample(2, 1), _complex_sample(3, positive=True)))]


def _add_vjp(inputs, output, attrs, upstream, needs):
    # (in the output's shape: the engine sums each to its input's)
    return upstream if needs[0] else None, upstream if needs[1] else None


def _add_jvp(inputs, output, attrs, tangents):
    tx, ty = tangents
    return broadcast_tangent(tx if ty is None else ty if tx is None else tx + ty,
                             shape_of(output))


def _sub_vjp(inputs, output, attrs, upstream, needs):
    return upstream if needs[0] else None, -upstream if needs[1] else None


def _sub_jvp(inputs, output, attrs, tangents):
    tx, ty = tangents
    return broadcast_tangent(tx if ty is None else -ty if tx is None else tx - ty,
                             shape_of(output))


def _mul_vjp(inputs, output, attrs, upstream, needs):
    x, y = inputs
    if type(upstream) is _ndarray:  # (arrays hold real values: nothing to conjugate)
        return (upstream * y if needs[0] else None, x * upstream if needs[1] else None)
    return (upstream * rule_conj(y) if needs[0] else None,
            rule_conj(x) * upstream if needs[1] else None)


def _mul_jvp(inputs, output, attrs, tangents):
    x, y = inputs
    tx, ty = tangents
    return broadcast_tangent(sum_tangents(None if tx is None else tx * y,
                                          None if ty is None else x * ty), shape_of(output))


def _div_vjp(inputs, output, attrs, upstream, needs):
    x, y = inputs
    # -upstream * x / y**2, as (-x / y) / y so that it stays finite where it can
    return (upstream / rule_conj(y) if needs[0] else None,
            upstream * rule_conj(-x / y / y) if needs[1] else None)


def _div_jvp(inputs, output, attrs, tangents):
    tx, ty = tangents
    numerator = tx if ty is None else -(output * ty) if tx is None else tx - output * ty
    return broadcast_tangent(numerator / inputs[1], shape_of(output))


def _negate(x):
    return -x if type(x) is float or type(x) is int or type(x) is complex else apply1(NEG, x)


def _pow_log_x(x, output):
    """log(x) where it is defined, 0 elsewhere (TensorFlow's PowGrad, no false singularity)."""
    x_tensor = x if isinstance(x, Tensor) else wrap(np.asarray(x, output._value.dtype))
    mask = (apply2(NOT_EQUAL, x_tensor, 0.0) if _is_complex(x_tensor)
            else apply2(GREATER, x_tensor, 0.0))
    safe_x = select(mask, x_tensor, ones_like(x_tensor))
    return select(mask, log(safe_x), zeros_like(x_tensor))


def _y_minus_1(y):
    return y - 1 if type(y) is float or type(y) is int else apply2(SUB, y, 1)


def _pow_vjp(inputs, output, attrs, upstream, needs):
    x, y = inputs
    grad_x = grad_y = None
    if needs[0]:
        # y * x**(y - 1); written so that x = 0 with y = 2 gives 0, as TensorFlow
        local = apply2(MUL, y, apply2(POW, x, _y_minus_1(y)))
        grad_x = sum_like(apply2(MUL, upstream, conj(local)), x, output)
    if needs[1]:
        local = apply2(MUL, output, _pow_log_x(x, output))
        grad_y = sum_like(apply2(MUL, upstream, conj(local)), y, output)
    return grad_x, grad_y


def _pow_jvp(inputs, output, attrs, tangents):
    x, y = inputs
    tx, ty = tangents
    shape = output._value.shape
    terms = []
    if tx is not None:
        terms.append(broadcast_tangent(
            apply2(MUL, tx, apply2(MUL, y, apply2(POW, x, _y_minus_1(y)))), shape))
    if ty is not None:
        terms.append(broadcast_tangent(
            apply2(MUL, ty, apply2(MUL, output, _pow_log_x(x, output))), shape))
    return sum_tangents(*terms)


def _maximum_vjp(inputs, output, attrs, upstream, needs, compare=None):
    x, y = inputs
    # Ties send the whole gradient to the first argument, as TensorFlow.
    first = apply2(compare or GREATER_EQUAL, x, y)
    zeros = zeros_like(upstream)
    return (sum_like(select(first, upstream, zeros), x, output) if needs[0] else None,
            sum_like(select(first, zeros, upstream), y, output) if needs[1] else None)


def _minimum_vjp(inputs, output, attrs, upstream, needs):
    return _maximum_vjp(inputs, output, attrs, upstream, needs, compare=LESS_EQUAL)


def _maximum_jvp(inputs, output, attrs, tangents, compare=None):
    x, y = inputs
    shape = output._value.shape
    tx, ty = tangents
    tx = zeros_like(output) if tx is None else broadcast_tangent(tx, shape)
    ty = zeros_like(output) if ty is None else broadcast_tangent(ty, shape)
    return select(apply2(compare or GREATER_EQUAL, x, y), tx, ty)


def _minimum_jvp(inputs, output, attrs, tangents):
    return _maximum_jvp(inputs, output, attrs, tangents, compare=LESS_EQUAL)


ADD = register("AddV2", np.add, _add_vjp, _add_jvp,
               lambda: _binary_samples() + _complex_binary_samples(), batchable=True,
               dtypes=NUMBERS, array_rules=True, broadcasting=True)


def _string_add(x, y):
    out = np.add(x, y)  # bytes concatenation, elementwise on object arrays
    return out if isinstance(out, np.ndarray) else np.array(out, dtype=object)


# TensorFlow's ``+`` on strings runs the older Add kernel (AddV2 takes numbers only)
STRING_ADD = register("Add", _string_add, NO_GRADIENT, None,
                      lambda: [Sample((_dt.string_array([b"a", b"b"]), _dt.string_array(b"c")),
                                      wrt=(), note="strings have no gradient")],
                      differentiable=False, dtypes=("object",))
SUB = register("Sub", np.subtract, _sub_vjp, _sub_jvp,
               lambda: _binary_samples() + _complex_binary_samples(), batchable=True,
               dtypes=NUMBERS, array_rules=True, broadcasting=True)
MUL = register("Mul", np.multiply, _mul_vjp, _mul_jvp,
               lambda: _binary_samples() + _complex_binary_samples(), batchable=True,
               dtypes=NUMBERS, array_rules=True, broadcasting=True)
DIV = register("RealDiv", np.true_divide, _div_vjp, _div_jvp,
               lambda: [Sample((randn(3), randn(3, low=0.5))),
                        Sample((randn(2, 3), randn(3, low=0.5))),
                        Sample((randn(2, 1), randn(1, 3, low=0.5)))]
               + _complex_binary_samples(), batchable=True, dtypes=NUMBERS, array_rules=True,
               broadcasting=True)






POW = register("Pow", np.power, _pow_vjp, _pow_jvp,
               lambda: [Sample((randn(3, low=0.5), randn(3, seed=1))),
                        Sample((randn(2, 3, low=0.5), randn(3, seed=2))),
                        Sample((randn(2, 1, low=0.5), randn(1, 3, seed=2))),
                        Sample((np.array([-1.5, 2.0, -0.5]), np.array(2.0)), wrt=(0,)),
                        Sample((_complex_sample(3, positive=True), _complex_sample(3) * 0.5))],
               batchable=True, dtypes=SIGNED)
MAXIMUM = register("Maximum", np.maximum, _maximum_vjp, _maximum_jvp, _binary_samples,
                   batchable=True, dtypes=REAL)
MINIMUM = register("Minimum", np.minimum, _minimum_vjp, _minimum_jvp, _binary_samples,
                   batchable=True, dtypes=REAL)


def _squared_difference_forward(x, y):
    difference = np.subtract(x, y)
    if difference.dtype.kind == "c":
        return difference * np.conj(difference)
    return np.square(difference)


def _squared_difference_vjp(inputs, output, attrs, upstream, needs):
    # TensorFlow: x_grad = 2 * upstream * (x - y), y_grad = -x_grad
    x, y = inputs
    x_grad = apply2(MUL, apply2(MUL, upstream, 2.0), apply2(SUB, x, y))
    return (sum_like(x_grad, x, output) if needs[0] else None,
            sum_like(apply1(NEG, x_grad), y, output) if needs[1] else None)


def _squared_difference_jvp(inputs, output, attrs, tangents):
    x, y = inputs
    tx, ty = tangents
    shape = output._value.shape
    dt = sum_tangents(None if tx is None else broadcast_tangent(tx, shape),
                      None if ty is None else broadcast_tangent(apply1(NEG, ty), shape))
    difference = apply2(SUB, x, y)
    if _is_complex(difference):
        # TensorFlow's forward mode (the transpose of its reverse rule 2 g (x - y)):
        # 2 conj(x - y) dt, not the derivative 2 Re(conj(x - y) dt) of the real |x - y|^2.
        difference = conj(difference)
    return apply2(MUL, apply2(MUL, dt, 2.0), difference)


_SQUARED_DIFFERENCE_DTYPES = frozenset({"int32", "int64", "f", "c"})
SQUARED_DIFFERENCE = register("SquaredDifference", _squared_difference_forward,
                              _squared_difference_vjp, _squared_difference_jvp, _binary_samples,
                              batchable=True, dtypes=_SQUARED_DIFFERENCE_DTYPES)


def _like(value, tensor):
    """A Python scalar operand as a constant of ``tensor``'s dtype; tensors pass through."""
    if isinstance(value, Tensor):
        return value
    return wrap(np.asarray(getattr(value, "_value", value), tensor._value.dtype))


def _atan2_vjp(inputs, output, attrs, upstream, needs):
    # TensorFlow: with atan2(y, x), grad_inv = upstream / (x^2 + y^2); (x, -y) * grad_inv
    y, x = (_like(v, upstream) for v in inputs)
    grad_inv = apply2(DIV, upstream, apply2(ADD, square(x), square(y)))
    return (sum_like(apply2(MUL, x, grad_inv), y, output) if needs[0] else None,
            sum_like(apply2(MUL, _negate(y), grad_inv), x, output) if needs[1] else None)


def _atan2_jvp(inputs, output, attrs, tangents):
    y, x = (_like(v, output) for v in inputs)
    ty, tx = tangents
    shape = output._value.shape
    scale = reciprocal(apply2(ADD, square(x), square(y)))
    return sum_tangents(
        None if ty is None else broadcast_tangent(apply2(MUL, ty, apply2(MUL, x, scale)), shape),
        None if tx is None else broadcast_tangent(
            apply2(MUL, tx, apply2(MUL, _negate(y), scale)), shape))


ATAN2 = register("Atan2", np.arctan2, _atan2_vjp, _atan2_jvp, _binary_samples, dtypes=FLOATS)


def _nonzero(x):
    """1 where ``x`` is nonzero, else 0, in ``x``'s dtype (a constant, cut from the tape)."""
    value = x._value
    return wrap(np.asarray(value != 0).astype(value.dtype))


def _binary_from_partials(partial_x, partial_y):
    """Reverse and forward rules of an op with local derivatives ``partial_x(x, y, out)`` and
    ``partial_y(x, y, out)`` (each called only when that input needs it). For complex values
    the reverse rule multiplies by the partials themselves, not their conjugates: TensorFlow's
    XlogyGrad, Xlog1pyGrad and XdivyGrad do so (unlike its other complex rules)."""

    def vjp(inputs, output, attrs, upstream, needs):
        x, y = inputs
        return (sum_like(apply2(MUL, upstream, partial_x(x, y, output)), x, output)
                if needs[0] else None,
                sum_like(apply2(MUL, upstream, partial_y(x, y, output)), y, output)
                if needs[1] else None)

    def jvp(inputs, output, attrs, tangents):
        x, y = inputs
        tx, ty = tangents
        shape = output._value.shape
        return sum_tangents(
            None if tx is None else broadcast_tangent(
                apply2(MUL, tx, partial_x(x, y, output)), shape),
            None if ty is None else broadcast_tangent(
                apply2(MUL, ty, partial_y(x, y, output)), shape))

    return vjp, jvp


def _where_x_zero(x, y, compute):
    x, y = _arrays(x, y)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        out = np.where(x == 0, np.zeros((), np.result_type(x, y)), compute(x, y))
    return out


def _xlogy_forward(x, y):
    return _where_x_zero(x, y, lambda a, b: a * np.log(b))


def _xlog1py_forward(x, y):
    return _where_x_zero(x, y, lambda a, b: a * np.log1p(b))


def _xdivy_forward(x, y):
    return _where_x_zero(x, y, lambda a, b: a / b)


XLOGY = register("Xlogy", _xlogy_forward, *_binary_from_partials(
    lambda x, y, out: xlogy(_nonzero(x), y), lambda x, y, out: xdivy(x, y)),
    samples=lambda: [Sample((randn(3), randn(3, low=0.5))),
                     Sample((randn(2, 3), randn(3, low=0.5))),
                     Sample((randn(2, 1), randn(1, 3, low=0.5))),
                     Sample((np.array([0.0, 1.5, 0.0]), randn(3, low=0.5)), wrt=(1,))],
                 dtypes=INEXACT)
XLOG1PY = register("Xlog1py", _xlog1py_forward, *_binary_from_partials(
    lambda x, y, out: xlog1py(_nonzero(x), y),
    lambda x, y, out: xdivy(x, apply2(ADD, y, 1.0))),
    samples=lambda: [Sample((randn(3), randn(3, low=-0.5))),
                     Sample((randn(2, 3), randn(3, low=-0.5))),
                     Sample((np.array([0.0, 1.5, 0.0]), randn(3, low=0.5)), wrt=(1,))],
                   dtypes=INEXACT)
XDIVY = register("Xdivy", _xdivy_forward, *_binary_from_partials(
    lambda x, y, out: xdivy(_nonzero(x), y),
    lambda x, y, out: xdivy(_negate(x), square(y))),
    samples=lambda: [Sample((randn(3), randn(3, low=0.5))),
                     Sample((randn(2, 3), randn(3, low=0.5))),
                     Sample((randn(2, 1), randn(1, 3, low=0.5))),
                     Sample((np.array([0.0, 1.5, 0.0]), randn(3, low=0.5)), wrt=(1,))],
                 dtypes=INEXACT)


def _div_no_nan_forward(x, y):
    x, y = _arrays(x, y)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return np.where(y == 0, np.zeros((), np.result_type(x, y)), np.true_divide(x, y))


def _div_no_nan_vjp(inputs, output, attrs, upstream, needs):
    # TensorFlow's DivNoNanGrad: div_no_nan(upstream, y); upstream * ((-x / y) / y), no-nan
    x, y = inputs
    grad_x = grad_y = None
    if needs[0]:
        grad_x = sum_like(apply2(DIV_NO_NAN, upstream, conj(y)), x, output)
    if needs[1]:
        local = apply2(DIV_NO_NAN, apply2(DIV_NO_NAN, _negate(conj(x)), conj(y)), conj(y))
        grad_y = sum_like(apply2(MUL, upstream, local), y, output)
    return grad_x, grad_y


def _div_no_nan_jvp(inputs, output, attrs, tangents):
    x, y = inputs
    tx, ty = tangents
    shape = output._value.shape
    return sum_tangents(
        None if tx is None else broadcast_tangent(apply2(DIV_NO_NAN, tx, y), shape),
        None if ty is None else broadcast_tangent(apply2(MUL, ty, apply2(
            DIV_NO_NAN, apply2(DIV_NO_NAN, _negate(x), y), y)), shape))


DIV_NO_NAN = register("DivNoNan", _div_no_nan_forward, _div_no_nan_vjp, _div_no_nan_jvp,
                      lambda: [Sample((randn(3), randn(3, low=0.5))),
                               Sample((randn(2, 3), randn(3, low=0.5))),
                               Sample((randn(2, 1), randn(1, 3, low=0.5))),
                               Sample((randn(3), np.array([0.0, 1.0, 0.0])), wrt=(0,))])


def _mul_no_nan_forward(x, y):
    x, y = _arrays(x, y)
    with np.errstate(invalid="ignore", over="ignore"):
        return np.where(y == 0, np.zeros((), np.result_type(x, y)), np.multiply(x, y))


def _mul_no_nan_vjp(inputs, output, attrs, upstream, needs):
    # TensorFlow's MulNoNanGrad: mul_no_nan(upstream, y), mul_no_nan(x, upstream). The
    # conjugates (absent in TF, which makes its complex MulNoNan gradient break the conj(f')
    # convention every other op follows) change nothing for real inputs.
    x, y = inputs
    return (sum_like(apply2(MUL_NO_NAN, upstream, conj(y)), x, output)
            if needs[0] else None,
            sum_like(apply2(MUL_NO_NAN, conj(x), upstream), y, output)
            if needs[1] else None)


def _mul_no_nan_jvp(inputs, output, attrs, tangents):
    x, y = inputs
    tx, ty = tangents
    shape = output._value.shape
    return sum_tangents(
        None if tx is None else broadcast_tangent(apply2(MUL_NO_NAN, tx, y), shape),
        None if ty is None else broadcast_tangent(apply2(MUL_NO_NAN, x, ty), shape))


MUL_NO_NAN = register("MulNoNan", _mul_no_nan_forward, _mul_no_nan_vjp, _mul_no_nan_jvp,
                      lambda: _binary_samples() + _complex_binary_samples() + [
                          Sample((np.array([np.inf, 2.0, np.nan]), np.array([0.0, 1.5, 0.0])),
                                 wrt=(1,), second_order=False)], dtypes=INEXACT)


def _compare(name, forward, dtypes=None):
    return register(name, forward, None, None,
                    samples=lambda: [Sample((randn(3), randn(3, seed=1)))], dtypes=dtypes)


EQUAL = _compare("Equal", np.equal)
NOT_EQUAL = _compare("NotEqual", np.not_equal)
LESS = _compare("Less", np.less, REAL)
LESS_EQUAL = _compare("LessEqual", np.less_equal, REAL)
GREATER = _compare("Greater", np.greater, REAL)
GREATER_EQUAL = _compare("GreaterEqual", np.greater_equal, REAL)
LOGICAL_AND = _compare("LogicalAnd", np.logical_and)
LOGICAL_OR = _compare("LogicalOr", np.logical_or)
LOGICAL_NOT = register("LogicalNot", np.logical_not, None, None,
                       samples=lambda: [Sample((np.array([True, False]),))])
FLOOR_DIV = _compare("FloorDiv", np.floor_divide, REAL)


def _integer_samples():
    return [Sample((np.array([5, 3, -2], np.int32), np.array([1, 6, 3], np.int32)))]


# Bitwise operators on integer tensors (``&``, ``|``, ``^``, ``~``; tf.bitwise's kernels).
BITWISE_AND = register("BitwiseAnd", np.bitwise_and, None, None, _integer_samples, dtypes="iu")
BITWISE_OR = register("BitwiseOr", np.bitwise_or, None, None, _integer_samples, dtypes="iu")
BITWISE_XOR = register("BitwiseXor", np.bitwise_xor, None, None, _integer_samples, dtypes="iu")
INVERT = register("Invert", np.invert, None, None,
                  lambda: [Sample((np.array([5, -1, 0], np.int32),))], dtypes="iu")


def _floor_mod_vjp(inputs, output, attrs, upstream, needs):
    # TensorFlow: upstream * (1, -floor_div(x, y))
    x, y = inputs
    grad_y = None
    if needs[1]:
        quotient = apply2(FLOOR_DIV, conj(x), conj(y))
        grad_y = sum_like(apply2(MUL, upstream, apply1(NEG, quotient)), y, output)
    return (sum_like(upstream, x, output) if needs[0] else None), grad_y


def _floor_mod_jvp(inputs, output, attrs, tangents):
    x, y = inputs
    tx, ty = tangents
    shape = output._value.shape
    return sum_tangents(
        None if tx is None else broadcast_tangent(tx, shape),
        None if ty is None else broadcast_tangent(
            apply2(MUL, ty, apply1(NEG, apply2(FLOOR_DIV, x, y))), shape))


FLOOR_MOD = register("FloorMod", np.mod, _floor_mod_vjp, _floor_mod_jvp,
                     lambda: [Sample((np.array([5.3, -5.3, 2.2]), np.array([2.1, 2.1, -0.9]))),
                              Sample((np.array([[7.3, -1.2, 0.4]]), np.array([[2.3], [-1.7]]))),
                              Sample((np.array([4.7, -3.1]), np.array(1.3)))], dtypes=REAL)


def _add_n_forward(*values):
    total = values[0]
    for value in values[1:]:
        total = total + value
    return total


ADD_N = register("AddN", _add_n_forward,
                 lambda inputs, output, attrs, upstream, needs: tuple(
                     upstream if need else None for need in needs),
                 lambda inputs, output, attrs, tangents: sum_tangents(*tangents),
                 lambda: [Sample((randn(3),)), Sample((randn(2, 3), randn(2, 3, seed=1))),
                          Sample((randn(), randn(seed=1), randn(seed=2))),
                          Sample((np.zeros((0, 2)), np.zeros((0, 2))))])

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
                         Sample((randn(3),), {"dtype": np.dtype(np.complex128)})], batchable=True)


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
                lambda: [Sample((_complex_sample(3),)), Sample((_complex_sample(2, 2),))])
IMAG = register("Imag", np.imag,
                lambda inputs, output, attrs, upstream, needs: (
                    complex_(zeros_like(upstream), upstream),),
                lambda inputs, output, attrs, tangents: imag(tangents[0]),
                lambda: [Sample((_complex_sample(3),)), Sample((_complex_sample(2, 2),))])


def _complex_forward(re, im):
    re, im = _arrays(re, im)
    out = np.empty(np.broadcast_shapes(np.shape(re), np.shape(im)),
                   np.complex128 if re.dtype == np.float64 else np.complex64)
    # Assigning the parts (not re + 1j * im) keeps inf/nan parts where they belong.
    out.real = re
    out.imag = im
    return out


COMPLEX = register("Complex", _complex_forward,
                   lambda inputs, output, attrs, upstream, needs: (
                       sum_like(real(upstream), inputs[0], output) if needs[0] else None,
                       sum_like(imag(upstream), inputs[1], output) if needs[1] else None),
                   lambda inputs, output, attrs, tangents: complex_(
                       zeros_like(inputs[0]) if tangents[0] is None else tangents[0],
                       zeros_like(inputs[1]) if tangents[1] is None else tangents[1]),
                   lambda: [Sample((randn(3), randn(3, seed=1))),
                            Sample((randn(2, 3), randn(3, seed=1))),
                            Sample((randn(2, 1), randn(1, 3, seed=1)))])


def real(input, name=None):  # noqa: A002 - TensorFlow's argument name
    """Real part; the input itself for real tensors (as ``tf.math.real``).

    >>> import tapegrad as tf
    >>> tf.math.real(tf.constant([1 + 2j])).numpy().tolist()
    [1.0]
    """
    x = input if isinstance(input, Tensor) else convert_to_tensor(input)
    _check_numeric(x, "input must be a numeric tensor")
    return apply1(REAL, x) if x._value.dtype.kind == "c" else x


def _check_numeric(x, message: str):
    """TensorFlow's Python-level refusal of bool (and string) tensors."""
    if x._value.dtype.kind not in "iufc":
        raise TypeError(f"{message}, but got tensor with dtype {x.dtype.name}; cast it first "
                        "(tapegrad.cast(x, tapegrad.float32)).")


def imag(input, name=None):  # noqa: A002 - TensorFlow's argument name
    """Imaginary part; zeros for real tensors (as ``tf.math.imag``).

    >>> import tapegrad as tf
    >>> tf.math.imag(tf.constant([1 + 2j])).numpy().tolist()
    [2.0]
    """
    x = input if isinstance(input, Tensor) else convert_to_tensor(input)
    return apply1(IMAG, x) if x._value.dtype.kind == "c" else zeros_like(x)


def complex_(real, imag, name=None):  # noqa: A002 - TensorFlow's argument names
    """``real + 1j * imag`` (as ``tf.complex``); float32 parts give complex64, float64 parts
    complex128.

    >>> import tapegrad as tf
    >>> tf.complex(tf.constant([1.0]), tf.constant([2.0])).numpy().tolist()
    [(1+2j)]
    """
    re = real if isinstance(real, Tensor) else convert_to_tensor(real)
    im = imag if isinstance(imag, Tensor) else convert_to_tensor(imag)
    kinds = (re._value.dtype, im._value.dtype)
    if kinds not in ((np.dtype(np.float32),) * 2, (np.dtype(np.float64),) * 2):
        raise TypeError(f"The `real` and `imag` components have incorrect types: "
                        f"{re.dtype.name} {im.dtype.name}. They must be consistent, and one of "
                        f"[tf.float32, tf.float64]; cast them with tapegrad.cast.")
    return apply2(COMPLEX, re, im)


def angle(input, name=None):  # noqa: A002 - TensorFlow's argument name
    """The argument (phase) of a complex tensor; for a real tensor ``pi`` where it is negative
    and 0 elsewhere (as ``tf.math.angle``).

    >>> import tapegrad as tf
    >>> float(tf.math.angle(tf.constant(1j)))
    1.5707963267948966
    """
    x = input if isinstance(input, Tensor) else convert_to_tensor(input)
    if x._value.dtype.kind == "c":
        return apply1(ANGLE, x)
    if x._value.dtype.kind != "f":
        raise TypeError(f"angle takes a float or complex tensor, got {x.dtype.name} (TensorFlow "
                        "cannot convert pi to it); cast it first (tapegrad.cast(x, "
                        "tapegrad.float32)).")
    return select(apply2(LESS, x, 0), wrap(np.full(x._value.shape, np.pi, x._value.dtype)),
                  zeros_like(x))


IDENTITY = register("Identity", lambda x: x,
                    lambda inputs, output, attrs, upstream, needs: (upstream,),
                    lambda inputs, output, attrs, tangents: tangents[0],
                    lambda: [Sample((randn(3),))], batchable=True)
STOP_GRADIENT = register("StopGradient", lambda x: x, None, None,
                         samples=lambda: [Sample((randn(3),))])


def identity(x, name=None):
    """The same value as a new tensor (the gradient passes through)."""
    return apply1(IDENTITY, x)


def stop_gradient(x, name=None):
    """The same value, with the gradient path cut (as ``tf.stop_gradient``)."""
    return apply1(STOP_GRADIENT, x)



# -- public functions ------------------------------------------------------------------------

def add(x, y, name=None) -> Tensor:
    """``x + y`` with broadcasting (as ``tf.math.add``).

    >>> import tapegrad as tf
    >>> tf.add(tf.constant([1.0, 2.0]), 1.0).numpy().tolist()
    [2.0, 3.0]
    >>> tf.add(tf.constant(["a", "b"]), "c").numpy().tolist()
    [b'ac', b'bc']
    """
    if getattr(_operand_dtype(x), "kind", None) == "O":  # strings (a number stays a number)
        return apply2(STRING_ADD, x, y if _operand_dtype(y) is not None or
                      isinstance(y, (str, bytes)) else convert_to_tensor(y))
    if type(x) in (int, float) and _operand_dtype(y) is not None:
        # TensorFlow converts a leading Python number on its own (int32 or float32) here,
        # unlike the other binary functions: tf.math.add(2, int64_tensor) is a mismatch.
        x = convert_to_tensor(x)
    return apply2(ADD, x, y)


def subtract(x, y, name=None) -> Tensor:
    """``x - y`` with broadcasting.

    >>> import tapegrad as tf
    >>> tf.subtract(tf.constant([3.0]), tf.constant([1.0])).numpy().tolist()
    [2.0]
    """
    return apply2(SUB, x, y)


def multiply(x, y, name=None) -> Tensor:
    """``x * y`` with broadcasting.

    >>> import tapegrad as tf
    >>> tf.multiply(tf.constant([2.0, 3.0]), 2.0).numpy().tolist()
    [4.0, 6.0]
    """
    return apply2(MUL, x, y)


# Integer dtypes and the float dtype tf.truediv converts them to.
_TRUEDIV_TARGET = {np.dtype(np.int8): _dt.float32, np.dtype(np.uint8): _dt.float32,
                   np.dtype(np.int16): _dt.float32, np.dtype(np.uint16): _dt.float32,
                   np.dtype(np.int32): _dt.float64, np.dtype(np.uint32): _dt.float64,
                   np.dtype(np.int64): _dt.float64, np.dtype(np.uint64): _dt.float64}


def _operand_dtype(value):
    array = getattr(value, "_value", None)
    return None if array is None else array.dtype


def truediv(x, y, name=None) -> Tensor:
    """``x / y``; integer tensors are first cast to a float dtype (int8/int16 to float32,
    int32/int64 to float64), as ``tf.math.truediv``.

    >>> import tapegrad as tf
    >>> tf.math.truediv(tf.constant([3]), tf.constant([2])).numpy().tolist()
    [1.5]
    """
    dtype = _operand_dtype(x)
    if dtype is None:
        dtype = _operand_dtype(y)
        if dtype is None:
            x = convert_to_tensor(x)
            dtype = x._value.dtype
    if dtype.kind == "b":
        raise TypeError("Invalid dtype tf.bool in __truediv__: expected a number; cast it "
                        "first (tapegrad.cast(x, tapegrad.float32)).")
    target = _TRUEDIV_TARGET.get(dtype)
    if target is not None:
        other_operand = y if _operand_dtype(x) == dtype else x
        other = _operand_dtype(other_operand)
        if type(other_operand) is float:
            other = np.dtype(np.float32)  # (TensorFlow converts it alone: an int tensor refuses)
        if other is not None and other != dtype:
            raise TypeError(f"x and y must have the same dtype, got {_dt.from_numpy(dtype).name}"
                            f" != {_dt.from_numpy(other).name}; cast one with tapegrad.cast.")
        x = cast(x if _operand_dtype(x) is not None else convert_to_tensor(x, dtype), target)
        y = cast(y if _operand_dtype(y) is not None else convert_to_tensor(y, dtype), target)
    else:
        other = _operand_dtype(y)
        if other is not None and other != dtype:
            raise TypeError(f"`x` and `y` must have the same dtype, got "
                            f"{_dt.from_numpy(dtype).name} != {_dt.from_numpy(other).name}; "
                            "cast one with tapegrad.cast.")
    return apply2(DIV, x, y)


def divide(x, y, name=None) -> Tensor:
    """``x / y`` (as ``tf.math.divide``); integer inputs are converted to float first.

    >>> import tapegrad as tf
    >>> tf.divide(tf.constant([1.0]), 4.0).numpy().tolist()
    [0.25]
    """
    return truediv(x, y)


def realdiv(x, y, name=None) -> Tensor:
    """``x / y`` for float or complex tensors, no conversion (as ``tf.realdiv``)."""
    return apply2(DIV, x, y)


def _check_integer_divisor(x, y, what: str) -> None:
    y_value = getattr(y, "_value", None)
    if y_value is None:
        if type(y) is int and y == 0:
            x_value = getattr(x, "_value", None)
            if x_value is not None and x_value.dtype.kind in "iu":
                raise InvalidArgumentError(f"{what}: Integer division by zero; make the divisor "
                                           "nonzero or use float tensors.")
        return
    if y_value.dtype.kind in "iu" and np.any(y_value == 0):
        raise InvalidArgumentError(f"{what}: Integer division by zero; make the divisor nonzero "
                                   "or use float tensors.")


def floordiv(x, y, name=None) -> Tensor:
    """``floor(x / y)`` (as ``tf.math.floordiv`` and ``//``); no gradient.

    >>> import tapegrad as tf
    >>> tf.math.floordiv(tf.constant([7, -7]), 2).numpy().tolist()
    [3, -4]
    """
    _check_integer_divisor(x, y, "FloorDiv")
    return apply2(FLOOR_DIV, x, y)


def floormod(x, y, name=None) -> Tensor:
    """Remainder of the floor division, with the sign of ``y`` (as ``tf.math.floormod``/``%``).

    >>> import tapegrad as tf
    >>> tf.math.floormod(tf.constant([7, -7]), 3).numpy().tolist()
    [1, 2]
    """
    _check_integer_divisor(x, y, "FloorMod")
    return apply2(FLOOR_MOD, x, y)


mod = floormod


def pow(x, y, name=None) -> Tensor:  # noqa: A001 - TensorFlow's public name
    """``x ** y`` with broadcasting (as ``tf.pow``).

    >>> import tapegrad as tf
    >>> tf.pow(tf.constant([2.0, 3.0]), 2.0).numpy().tolist()
    [4.0, 9.0]
    """
    return apply2(POW, x, y)


def maximum(x, y, name=None) -> Tensor:
    """Elementwise maximum; on a tie the gradient goes to ``x``.

    >>> import tapegrad as tf
    >>> tf.maximum(tf.constant([1.0, 5.0]), 2.0).numpy().tolist()
    [2.0, 5.0]
    """
    return apply2(MAXIMUM, x, y)


def minimum(x, y, name=None) -> Tensor:
    """Elementwise minimum; on a tie the gradient goes to ``x``.

    >>> import tapegrad as tf
    >>> tf.minimum(tf.constant([1.0, 5.0]), 2.0).numpy().tolist()
    [1.0, 2.0]
    """
    return apply2(MINIMUM, x, y)


def squared_difference(x, y, name=None) -> Tensor:
    """``(x - y) * conj(x - y)`` with broadcasting.

    >>> import tapegrad as tf
    >>> tf.math.squared_difference(tf.constant([3.0]), 1.0).numpy().tolist()
    [4.0]
    """
    return apply2(SQUARED_DIFFERENCE, x, y)


def atan2(y, x, name=None) -> Tensor:
    """The angle of the point ``(x, y)``, in ``[-pi, pi]`` (as ``tf.math.atan2``).

    >>> import tapegrad as tf
    >>> print(f"{float(tf.math.atan2(1.0, 1.0)):.4f}")
    0.7854
    """
    return apply2(ATAN2, y, x)


def xlogy(x, y, name=None) -> Tensor:
    """``x * log(y)``, and 0 where ``x`` is 0 (gradients there are 0 too, as TensorFlow).

    >>> import tapegrad as tf
    >>> tf.math.xlogy(tf.constant([0.0, 2.0]), tf.constant([0.0, 1.0])).numpy().tolist()
    [0.0, 0.0]
    """
    return apply2(XLOGY, x, y)


def xlog1py(x, y, name=None) -> Tensor:
    """``x * log1p(y)``, and 0 where ``x`` is 0.

    >>> import tapegrad as tf
    >>> tf.math.xlog1py(tf.constant([0.0]), tf.constant([-1.0])).numpy().tolist()
    [0.0]
    """
    return apply2(XLOG1PY, x, y)


def xdivy(x, y, name=None) -> Tensor:
    """``x / y``, and 0 where ``x`` is 0.

    >>> import tapegrad as tf
    >>> tf.math.xdivy(tf.constant([0.0, 1.0]), tf.constant([0.0, 2.0])).numpy().tolist()
    [0.0, 0.5]
    """
    return apply2(XDIVY, x, y)


def divide_no_nan(x, y, name=None) -> Tensor:
    """``x / y``, and 0 where ``y`` is 0 (gradients there are 0 too, as TensorFlow).

    >>> import tapegrad as tf
    >>> tf.math.divide_no_nan(1.0, tf.constant([0.0, 2.0])).numpy().tolist()
    [0.0, 0.5]
    """
    dtype = _operand_dtype(x) if _operand_dtype(x) is not None else _operand_dtype(y)
    if dtype is not None and dtype.kind in "biu":
        # Integers divide as floats (as truediv); TensorFlow refuses bool in Python.
        if dtype.kind == "b":
            raise TypeError("Invalid dtype tf.bool in tf.math.divide_no_nan: expected a "
                            "number; cast it first (tapegrad.cast(x, tapegrad.float32)).")
        x = cast(x if _operand_dtype(x) is not None else convert_to_tensor(x, dtype),
                 _TRUEDIV_TARGET[dtype])
        y = cast(y if _operand_dtype(y) is not None else convert_to_tensor(y, dtype),
                 _TRUEDIV_TARGET[dtype])
    return apply2(DIV_NO_NAN, x, y)


def multiply_no_nan(x, y, name=None) -> Tensor:
    """``x * y``, and 0 where ``y`` is 0 even if ``x`` is inf or nan.

    >>> import tapegrad as tf
    >>> tf.math.multiply_no_nan(tf.constant([float("inf")]), 0.0).numpy().tolist()
    [0.0]
    """
    return apply2(MUL_NO_NAN, x, y)


def reciprocal_no_nan(x, name=None) -> Tensor:
    """``1 / x``, and 0 where ``x`` is 0.

    >>> import tapegrad as tf
    >>> tf.math.reciprocal_no_nan(tf.constant([0.0, 4.0])).numpy().tolist()
    [0.0, 0.25]
    """
    x = x if isinstance(x, Tensor) else convert_to_tensor(x)
    return apply2(DIV_NO_NAN, wrap(np.ones((), x._value.dtype)), x)


def scalar_mul(scalar, x, name=None) -> Tensor:
    """``scalar * x`` for a scalar (Python number or rank-0 tensor).

    >>> import tapegrad as tf
    >>> tf.math.scalar_mul(2.0, tf.constant([1.0, 2.0])).numpy().tolist()
    [2.0, 4.0]
    """
    if np.ndim(getattr(scalar, "_value", scalar)) != 0:
        raise ValueError(f"scalar_mul needs a scalar, got shape {list(np.shape(scalar))}; use "
                         "tapegrad.multiply for tensors.")
    return apply2(MUL, scalar, x)


def add_n(inputs, name=None) -> Tensor:
    """The sum of a list of tensors of one shape and dtype (no broadcasting), as ``tf.add_n``.

    >>> import tapegrad as tf
    >>> tf.add_n([tf.constant([1.0]), tf.constant([2.0]), tf.constant([3.0])]).numpy().tolist()
    [6.0]
    """
    if isinstance(inputs, Tensor) or not inputs or not hasattr(inputs, "__iter__"):
        raise ValueError("inputs must be an iterable of at least one Tensor/IndexedSlices with "
                         "the same dtype and shape.")
    inputs = [item._tensor_conversion() if hasattr(item, "_tensor_conversion") and not
              isinstance(item, Tensor) and not hasattr(item, "_read_for_op") else item
              for item in inputs]
    if len(inputs) == 1:
        item = inputs[0]
        return item if isinstance(item, Tensor) else convert_to_tensor(item)
    shapes = [np.shape(getattr(item, "_value", item)) for item in inputs]
    for i, item_shape in enumerate(shapes[1:], 1):
        if item_shape != shapes[0]:
            raise InvalidArgumentError(
                f"Inputs to operation AddN of type AddN must have the same size and shape. "
                f"Input 0: {list(shapes[0])} != input {i}: {list(item_shape)}; reshape or "
                f"broadcast them first (add_n does not broadcast).")
    return apply(ADD_N, inputs, same_dtype=True)


def negative(x, name=None) -> Tensor:
    """``-x``.

    >>> import tapegrad as tf
    >>> tf.negative(tf.constant([1.0])).numpy().tolist()
    [-1.0]
    """
    return apply1(NEG, x)


def abs(x, name=None) -> Tensor:  # noqa: A001 - TensorFlow's public name
    """``|x|``; a complex tensor gives its real magnitude. The gradient at 0 is 0.

    >>> import tapegrad as tf
    >>> tf.abs(tf.constant([-2.0, 3.0])).numpy().tolist()
    [2.0, 3.0]
    """
    return apply1(ABS, x)


def sign(x, name=None) -> Tensor:
    """-1, 0 or 1 (``x / |x|`` for complex); its gradient is 0.

    >>> import tapegrad as tf
    >>> tf.sign(tf.constant([-2.0, 0.0, 3.0])).numpy().tolist()
    [-1.0, 0.0, 1.0]
    """
    return apply1(SIGN, x)


def square(x, name=None) -> Tensor:
    """``x * x``.

    >>> import tapegrad as tf
    >>> tf.square(tf.constant([3.0])).numpy().tolist()
    [9.0]
    """
    return apply1(SQUARE, x)


def sqrt(x, name=None) -> Tensor:
    """Square root; the gradient at 0 is inf (0 where the upstream gradient is 0).

    >>> import tapegrad as tf
    >>> tf.sqrt(tf.constant([4.0])).numpy().tolist()
    [2.0]
    """
    return apply1(SQRT, x)


def rsqrt(x, name=None) -> Tensor:
    """``1 / sqrt(x)``.

    >>> import tapegrad as tf
    >>> tf.math.rsqrt(tf.constant([4.0])).numpy().tolist()
    [0.5]
    """
    return apply1(RSQRT, x)


def reciprocal(x, name=None) -> Tensor:
    """``1 / x``.

    >>> import tapegrad as tf
    >>> tf.math.reciprocal(tf.constant([4.0])).numpy().tolist()
    [0.25]
    """
    return apply1(RECIPROCAL, x)


def exp(x, name=None) -> Tensor:
    """``e ** x``.

    >>> import tapegrad as tf
    >>> tf.exp(tf.constant([0.0])).numpy().tolist()
    [1.0]
    """
    return apply1(EXP, x)


def expm1(x, name=None) -> Tensor:
    """``exp(x) - 1``, accurate near 0.

    >>> import tapegrad as tf
    >>> tf.math.expm1(tf.constant([0.0])).numpy().tolist()
    [0.0]
    """
    return apply1(EXPM1, x)


def log(x, name=None) -> Tensor:
    """Natural logarithm.

    >>> import tapegrad as tf
    >>> tf.math.log(tf.constant([1.0])).numpy().tolist()
    [0.0]
    """
    return apply1(LOG, x)


def log1p(x, name=None) -> Tensor:
    """``log(1 + x)``, accurate near 0.

    >>> import tapegrad as tf
    >>> tf.math.log1p(tf.constant([0.0])).numpy().tolist()
    [0.0]
    """
    return apply1(LOG1P, x)


def sin(x, name=None) -> Tensor:
    """Sine.

    >>> import tapegrad as tf
    >>> tf.sin(tf.constant([0.0])).numpy().tolist()
    [0.0]
    """
    return apply1(SIN, x)


def cos(x, name=None) -> Tensor:
    """Cosine.

    >>> import tapegrad as tf
    >>> tf.cos(tf.constant([0.0])).numpy().tolist()
    [1.0]
    """
    return apply1(COS, x)


def tan(x, name=None) -> Tensor:
    """Tangent.

    >>> import tapegrad as tf
    >>> tf.tan(tf.constant([0.0])).numpy().tolist()
    [0.0]
    """
    return apply1(TAN, x)


def asin(x, name=None) -> Tensor:
    """Inverse sine.

    >>> import tapegrad as tf
    >>> tf.asin(tf.constant([0.0])).numpy().tolist()
    [0.0]
    """
    return apply1(ASIN, x)


def acos(x, name=None) -> Tensor:
    """Inverse cosine.

    >>> import tapegrad as tf
    >>> tf.acos(tf.constant([1.0])).numpy().tolist()
    [0.0]
    """
    return apply1(ACOS, x)


def atan(x, name=None) -> Tensor:
    """Inverse tangent.

    >>> import tapegrad as tf
    >>> tf.atan(tf.constant([0.0])).numpy().tolist()
    [0.0]
    """
    return apply1(ATAN, x)


def sinh(x, name=None) -> Tensor:
    """Hyperbolic sine.

    >>> import tapegrad as tf
    >>> tf.sinh(tf.constant([0.0])).numpy().tolist()
    [0.0]
    """
    return apply1(SINH, x)


def cosh(x, name=None) -> Tensor:
    """Hyperbolic cosine.

    >>> import tapegrad as tf
    >>> tf.cosh(tf.constant([0.0])).numpy().tolist()
    [1.0]
    """
    return apply1(COSH, x)


def tanh(x, name=None) -> Tensor:
    """Hyperbolic tangent.

    >>> import tapegrad as tf
    >>> tf.tanh(tf.constant([0.0])).numpy().tolist()
    [0.0]
    """
    return apply1(TANH, x)


def asinh(x, name=None) -> Tensor:
    """Inverse hyperbolic sine.

    >>> import tapegrad as tf
    >>> tf.asinh(tf.constant([0.0])).numpy().tolist()
    [0.0]
    """
    return apply1(ASINH, x)


def acosh(x, name=None) -> Tensor:
    """Inverse hyperbolic cosine (defined for ``x >= 1``).

    >>> import tapegrad as tf
    >>> tf.acosh(tf.constant([1.0])).numpy().tolist()
    [0.0]
    """
    return apply1(ACOSH, x)


def atanh(x, name=None) -> Tensor:
    """Inverse hyperbolic tangent.

    >>> import tapegrad as tf
    >>> tf.atanh(tf.constant([0.0])).numpy().tolist()
    [0.0]
    """
    return apply1(ATANH, x)


def sigmoid(x, name=None) -> Tensor:
    """``1 / (1 + exp(-x))``, computed without overflow.

    >>> import tapegrad as tf
    >>> tf.sigmoid(tf.constant([0.0])).numpy().tolist()
    [0.5]
    """
    return apply1(SIGMOID, x)


def log_sigmoid(x, name=None) -> Tensor:
    """``log(sigmoid(x))``, computed as ``-softplus(-x)``.

    >>> import tapegrad as tf
    >>> print(f"{float(tf.math.log_sigmoid(tf.constant(0.0))):.4f}")
    -0.6931
    """
    return apply1(NEG, apply1(SOFTPLUS, apply1(NEG, x)))


def softplus(features, name=None) -> Tensor:
    """``log(exp(features) + 1)``, computed without overflow (as ``tf.math.softplus``).

    >>> import tapegrad as tf
    >>> print(f"{float(tf.math.softplus(tf.constant(0.0))):.4f}")
    0.6931
    """
    return apply1(SOFTPLUS, features)


def softsign(features, name=None) -> Tensor:
    """``features / (abs(features) + 1)``.

    >>> import tapegrad as tf
    >>> tf.math.softsign(tf.constant([1.0])).numpy().tolist()
    [0.5]
    """
    return apply1(SOFTSIGN, features)


def erf(x, name=None) -> Tensor:
    """The error function (needs SciPy).

    >>> import tapegrad as tf
    >>> tf.math.erf(tf.constant([0.0])).numpy().tolist()
    [0.0]
    """
    return apply1(ERF, x)


def erfc(x, name=None) -> Tensor:
    """``1 - erf(x)``, accurate for large ``x`` (needs SciPy).

    >>> import tapegrad as tf
    >>> tf.math.erfc(tf.constant([0.0])).numpy().tolist()
    [1.0]
    """
    return apply1(ERFC, x)


def erfinv(x, name=None) -> Tensor:
    """The inverse error function (needs SciPy).

    >>> import tapegrad as tf
    >>> tf.math.erfinv(tf.constant([0.0])).numpy().tolist()
    [0.0]
    """
    return apply1(ERFINV, x)


def lgamma(x, name=None) -> Tensor:
    """``log(|Gamma(x)|)``; its gradient is ``digamma(x)`` (needs SciPy).

    >>> import tapegrad as tf
    >>> tf.math.lgamma(tf.constant([1.0, 2.0])).numpy().tolist()
    [0.0, 0.0]
    """
    return apply1(LGAMMA, x)


def digamma(x, name=None) -> Tensor:
    """``d/dx lgamma(x)``; its gradient is ``polygamma(1, x)`` (needs SciPy).

    >>> import tapegrad as tf
    >>> print(f"{float(tf.math.digamma(tf.constant(1.0))):.4f}")
    -0.5772
    """
    return apply1(DIGAMMA, x)


def polygamma(a, x, name=None) -> Tensor:
    """The ``a``-th derivative of digamma at ``x``; NaN where ``a`` is not a whole number
    ``>= 0``. ``a`` gets no gradient (needs SciPy).

    >>> import tapegrad as tf
    >>> print(f"{float(tf.math.polygamma(tf.constant(1.0), tf.constant(1.0))):.4f}")
    1.6449
    """
    return apply2(POLYGAMMA, a, x)


def zeta(x, q, name=None) -> Tensor:
    """The Hurwitz zeta function ``sum((n + q) ** -x)``; ``x`` gets no gradient (needs SciPy).

    >>> import tapegrad as tf
    >>> print(f"{float(tf.math.zeta(tf.constant(2.0), tf.constant(1.0))):.4f}")
    1.6449
    """
    return apply2(ZETA, x, q)


def round(x, name=None) -> Tensor:  # noqa: A001 - TensorFlow's public name
    """Round half to even (no gradient, as TensorFlow).

    >>> import tapegrad as tf
    >>> tf.round(tf.constant([0.5, 1.5, 2.7])).numpy().tolist()
    [0.0, 2.0, 3.0]
    """
    return apply1(ROUND, x)


def rint(x, name=None) -> Tensor:
    """Round half to even (no gradient).

    >>> import tapegrad as tf
    >>> tf.math.rint(tf.constant([2.5])).numpy().tolist()
    [2.0]
    """
    return apply1(RINT, x)


def floor(x, name=None) -> Tensor:
    """Largest whole number not above ``x`` (no gradient).

    >>> import tapegrad as tf
    >>> tf.floor(tf.constant([-1.5, 1.5])).numpy().tolist()
    [-2.0, 1.0]
    """
    return apply1(FLOOR, x)


def ceil(x, name=None) -> Tensor:
    """Smallest whole number not below ``x`` (no gradient).

    >>> import tapegrad as tf
    >>> tf.math.ceil(tf.constant([-1.5, 1.5])).numpy().tolist()
    [-1.0, 2.0]
    """
    return apply1(CEIL, x)


def equal(x, y, name=None) -> Tensor:
    """``x == y`` elementwise (bool, no gradient).

    >>> import tapegrad as tf
    >>> tf.equal(tf.constant([1.0, 2.0]), 2.0).numpy().tolist()
    [False, True]
    """
    return apply2(EQUAL, x, y)


def not_equal(x, y, name=None) -> Tensor:
    """``x != y`` elementwise (bool, no gradient).

    >>> import tapegrad as tf
    >>> tf.not_equal(tf.constant([1.0, 2.0]), 2.0).numpy().tolist()
    [True, False]
    """
    return apply2(NOT_EQUAL, x, y)


def less(x, y, name=None) -> Tensor:
    """``x < y`` elementwise (bool, no gradient).

    >>> import tapegrad as tf
    >>> tf.less(tf.constant([1.0, 2.0]), 2.0).numpy().tolist()
    [True, False]
    """
    return apply2(LESS, x, y)


def less_equal(x, y, name=None) -> Tensor:
    """``x <= y`` elementwise (bool, no gradient).

    >>> import tapegrad as tf
    >>> tf.less_equal(tf.constant([1.0, 3.0]), 2.0).numpy().tolist()
    [True, False]
    """
    return apply2(LESS_EQUAL, x, y)


def greater(x, y, name=None) -> Tensor:
    """``x > y`` elementwise (bool, no gradient).

    >>> import tapegrad as tf
    >>> tf.greater(tf.constant([1.0, 3.0]), 2.0).numpy().tolist()
    [False, True]
    """
    return apply2(GREATER, x, y)


def greater_equal(x, y, name=None) -> Tensor:
    """``x >= y`` elementwise (bool, no gradient).

    >>> import tapegrad as tf
    >>> tf.greater_equal(tf.constant([1.0, 2.0]), 2.0).numpy().tolist()
    [False, True]
    """
    return apply2(GREATER_EQUAL, x, y)


def _check_bool(op, *values) -> None:
    for value in values:
        array = getattr(value, "_value", None)
        if array is not None and array.dtype != np.bool_:
            raise InvalidArgumentError(
                f"{op.name} needs bool tensors, got {_dt.from_numpy(array.dtype).name}; compare "
                "first (x > 0) or cast with tapegrad.cast(x, tapegrad.bool).")


def logical_and(x, y, name=None) -> Tensor:
    """``x AND y`` for bool tensors.

    >>> import tapegrad as tf
    >>> tf.logical_and(tf.constant([True, True]), tf.constant([True, False])).numpy().tolist()
    [True, False]
    """
    _check_bool(LOGICAL_AND, x, y)
    return apply2(LOGICAL_AND, x, y)


def logical_or(x, y, name=None) -> Tensor:
    """``x OR y`` for bool tensors.

    >>> import tapegrad as tf
    >>> tf.logical_or(tf.constant([False, False]), tf.constant([True, False])).numpy().tolist()
    [True, False]
    """
    _check_bool(LOGICAL_OR, x, y)
    return apply2(LOGICAL_OR, x, y)


def logical_not(x, name=None) -> Tensor:
    """``NOT x`` for a bool tensor.

    >>> import tapegrad as tf
    >>> tf.logical_not(tf.constant([True, False])).numpy().tolist()
    [False, True]
    """
    _check_bool(LOGICAL_NOT, x)
    return apply1(LOGICAL_NOT, x)


def logical_xor(x, y, name="LogicalXor") -> Tensor:
    """``x XOR y`` for bool tensors (TensorFlow's composite of and/or/not).

    >>> import tapegrad as tf
    >>> tf.math.logical_xor(tf.constant([True, True]), tf.constant([True, False])).numpy().tolist()
    [False, True]
    """
    return logical_and(logical_or(x, y), logical_not(logical_and(x, y)))


def zeros_like(x, dtype=None, name=None) -> Tensor:
    """Zeros of ``x``'s shape (and dtype unless given); not connected to ``x``.

    >>> import tapegrad as tf
    >>> tf.zeros_like(tf.constant([1.0, 2.0])).numpy().tolist()
    [0.0, 0.0]
    """
    value = getattr(x, "_value", None)
    if value is None:
        value = convert_to_tensor(x)._value
    target = _dt.as_dtype(dtype)._np if dtype is not None else value.dtype
    return wrap(np.zeros(value.shape, dtype=target))


def ones_like(x, dtype=None, name=None) -> Tensor:
    """Ones of ``x``'s shape (and dtype unless given); not connected to ``x``.

    >>> import tapegrad as tf
    >>> tf.ones_like(tf.constant([1.0, 2.0])).numpy().tolist()
    [1.0, 1.0]
    """
    value = getattr(x, "_value", None)
    if value is None:
        value = convert_to_tensor(x)._value
    target = _dt.as_dtype(dtype)._np if dtype is not None else value.dtype
    return wrap(np.ones(value.shape, dtype=target))


def _no_grad_samples():
    return [Sample((np.array([1.0, np.inf, -np.inf, np.nan]),))]


IS_FINITE = register("IsFinite", np.isfinite, None, None, samples=_no_grad_samples,
                     dtypes=FLOATS)
IS_NAN = register("IsNan", np.isnan, None, None, samples=_no_grad_samples, dtypes=FLOATS)
IS_INF = register("IsInf", np.isinf, None, None, samples=_no_grad_samples, dtypes=FLOATS)


def is_finite(x, name=None) -> Tensor:
    """True where ``x`` is neither inf nor nan.

    >>> import tapegrad as tf
    >>> tf.math.is_finite(tf.constant([1.0, float("inf")])).numpy().tolist()
    [True, False]
    """
    return apply1(IS_FINITE, x)


def is_nan(x, name=None) -> Tensor:
    """True where ``x`` is nan.

    >>> import tapegrad as tf
    >>> tf.math.is_nan(tf.constant([1.0, float("nan")])).numpy().tolist()
    [False, True]
    """
    return apply1(IS_NAN, x)


def is_inf(x, name=None) -> Tensor:
    """True where ``x`` is +inf or -inf.

    >>> import tapegrad as tf
    >>> tf.math.is_inf(tf.constant([1.0, float("-inf")])).numpy().tolist()
    [False, True]
    """
    return apply1(IS_INF, x)
