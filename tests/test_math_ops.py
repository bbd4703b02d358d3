"""Elementwise math ops: TensorFlow's values at kinks, dtype rules, complex convention, errors.

Expected values come from analytic formulas, SciPy, central differences, or TensorFlow's own
gradient definitions (math_grad.py / cwise_ops_gradients.h) quoted in the comments.
"""

import math

import numpy as np
import pytest

import tapegrad as tf
from tapegrad.errors import InvalidArgumentError


def grad(fn, x, dtype=tf.float64, upstream=None):
    x = tf.constant(x, dtype=dtype)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = fn(x)
    g = tape.gradient(y, x, output_gradients=upstream)
    return None if g is None else g.numpy()


# -- kinks, as TensorFlow's gradient definitions give them -----------------------------------

def test_divide_no_nan_gradients_at_zero_denominator():
    # DivNoNanGrad: div_no_nan(g, y) and g * div_no_nan(div_no_nan(-x, y), y)
    np.testing.assert_array_equal(grad(lambda y: tf.math.divide_no_nan(3.0, y), [0.0, 2.0]),
                                  [0.0, -0.75])
    np.testing.assert_array_equal(grad(lambda x: tf.math.divide_no_nan(x, 0.0), [1.0, 5.0]),
                                  [0.0, 0.0])


def test_xlogy_and_xdivy_gradients_at_zero():
    # XlogyGrad: partial_x = xlogy(x != 0, y), partial_y = xdivy(x, y)
    np.testing.assert_array_equal(grad(lambda x: tf.math.xlogy(x, x), [0.0, 1.0]), [0.0, 1.0])
    # XdivyGrad: partial_x = xdivy(x != 0, y), partial_y = xdivy(-x, y**2)
    np.testing.assert_array_equal(grad(lambda x: tf.math.xdivy(x, x), [0.0, 2.0]), [0.0, 0.0])
    np.testing.assert_array_equal(grad(lambda y: tf.math.xlogy(0.0, y), [0.0, 2.0]), [0.0, 0.0])
    np.testing.assert_allclose(grad(lambda y: tf.math.xlog1py(2.0, y), [1.0]), [1.0])


def test_multiply_no_nan_routes_zero_where_y_is_zero():
    x = tf.constant([np.inf, 2.0, np.nan], tf.float64)
    y = tf.constant([0.0, 3.0, 0.0], tf.float64)
    with tf.GradientTape() as tape:
        tape.watch([x, y])
        out = tf.math.multiply_no_nan(x, y)
    np.testing.assert_array_equal(out.numpy(), [0.0, 6.0, 0.0])
    gx, gy = tape.gradient(out, [x, y])
    np.testing.assert_array_equal(gx.numpy(), [0.0, 3.0, 0.0])  # mul_no_nan(g, y)
    np.testing.assert_array_equal(gy.numpy(), [np.inf, 2.0, np.nan])  # mul_no_nan(x, g)


@pytest.mark.parametrize("fn", [tf.sqrt, tf.math.rsqrt, tf.math.reciprocal])
def test_guarded_kernels_give_zero_for_zero_upstream(fn):
    # SqrtGrad, RsqrtGrad and ReciprocalGrad return 0 wherever the upstream gradient is 0.
    got = grad(fn, [0.0, 4.0], upstream=tf.constant([0.0, 0.0], tf.float64))
    np.testing.assert_array_equal(got, [0.0, 0.0])


def test_guarded_kernels_values_at_zero():
    assert grad(tf.sqrt, [0.0])[0] == np.inf
    assert grad(tf.math.rsqrt, [0.0])[0] == -np.inf
    assert grad(tf.math.reciprocal, [0.0])[0] == -np.inf


def test_pow_at_zero_and_exponent_gradient_mask():
    assert grad(lambda x: tf.pow(x, 2.0), [0.0])[0] == 0.0
    assert grad(lambda x: tf.pow(x, 0.5), [0.0])[0] == np.inf
    # PowGrad: d/dy uses log(x) only where x > 0, else 0
    base = tf.constant([0.0, -2.0, 2.0], tf.float64)
    got = grad(lambda y: tf.pow(base, y), [2.0, 2.0, 2.0])
    np.testing.assert_allclose(got, [0.0, 0.0, 4.0 * math.log(2.0)])


def test_pow_python_base_keeps_the_exponent_dtype():
    for dtype in (tf.float16, tf.float32, tf.float64):
        g = grad(lambda y: 2.0 ** y, [3.0], dtype=dtype)
        assert g.dtype == dtype.as_numpy_dtype
        np.testing.assert_allclose(g, [8.0 * math.log(2.0)], rtol=1e-3)


def test_floormod_gradient_and_floordiv_none():
    x = tf.constant([5.5, -5.5], tf.float64)
    y = tf.constant([2.0, 2.0], tf.float64)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([x, y])
        r = tf.math.floormod(x, y)
        q = tf.math.floordiv(x, y)
    np.testing.assert_array_equal(r.numpy(), [1.5, 0.5])
    gx, gy = tape.gradient(r, [x, y])
    np.testing.assert_array_equal(gx.numpy(), [1.0, 1.0])
    np.testing.assert_array_equal(gy.numpy(), [-2.0, 3.0])  # -floor(x / y)
    assert tape.gradient(q, [x, y]) == [None, None]


def test_softsign_and_softplus_gradients():
    np.testing.assert_allclose(grad(tf.math.softsign, [0.0, 1.0, -3.0]),
                               [1.0, 0.25, 1.0 / 16.0])
    np.testing.assert_allclose(grad(tf.math.softplus, [0.0, 100.0, -100.0]),
                               [0.5, 1.0, 1.0 / (1.0 + math.exp(100.0))])
    values = tf.math.softplus(tf.constant([100.0, -100.0], tf.float64)).numpy()
    np.testing.assert_allclose(values, [100.0, math.exp(-100.0)], rtol=1e-12)
    np.testing.assert_allclose(tf.math.log_sigmoid(tf.constant([-100.0, 0.0], tf.float64)),
                               [-100.0, -math.log(2.0)], rtol=1e-12)


def test_round_floor_ceil_rint_have_no_gradient_and_sign_has_zero():
    for fn in (tf.round, tf.floor, tf.math.ceil, tf.math.rint):
        assert grad(fn, [1.3]) is None
    np.testing.assert_array_equal(grad(tf.sign, [-1.0, 0.0, 2.0]), [0.0, 0.0, 0.0])


def test_comparisons_and_predicates_return_bool_without_gradient():
    for fn in (tf.equal, tf.not_equal, tf.less, tf.less_equal, tf.greater, tf.greater_equal):
        x = tf.constant([1.0, 2.0])
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = fn(x, 1.5)
        assert out.dtype == tf.bool
        assert tape.gradient(out, x) is None
    values = tf.constant([1.0, np.inf, -np.inf, np.nan])
    assert tf.math.is_inf(values).numpy().tolist() == [False, True, True, False]
    assert tf.math.is_nan(values).numpy().tolist() == [False, False, False, True]
    assert tf.math.is_finite(values).numpy().tolist() == [True, False, False, False]
    assert tf.math.logical_xor(tf.constant([True, True, False]),
                               tf.constant([True, False, False])).numpy().tolist() == \
        [False, True, False]


# -- smooth ops against formulas and SciPy ---------------------------------------------------

@pytest.mark.parametrize("fn, derivative, x", [
    (tf.tan, lambda x: 1.0 / np.cos(x) ** 2, [0.3, -1.0]),
    (tf.asin, lambda x: 1.0 / np.sqrt(1 - x * x), [0.3, -0.6]),
    (tf.acos, lambda x: -1.0 / np.sqrt(1 - x * x), [0.3, -0.6]),
    (tf.atan, lambda x: 1.0 / (1 + x * x), [0.3, -2.0]),
    (tf.asinh, lambda x: 1.0 / np.sqrt(x * x + 1), [0.3, -2.0]),
    (tf.acosh, lambda x: 1.0 / np.sqrt(x * x - 1), [1.3, 3.0]),
    (tf.atanh, lambda x: 1.0 / (1 - x * x), [0.3, -0.6]),
    (tf.math.expm1, np.exp, [1e-10, 2.0]),
    (tf.math.log1p, lambda x: 1.0 / (1 + x), [1e-10, 2.0]),
    (tf.math.erf, lambda x: 2 / np.sqrt(np.pi) * np.exp(-x * x), [0.0, 1.2]),
    (tf.math.erfc, lambda x: -2 / np.sqrt(np.pi) * np.exp(-x * x), [0.0, 1.2]),
])
def test_unary_derivatives(fn, derivative, x):
    np.testing.assert_allclose(grad(fn, x), derivative(np.array(x)), rtol=1e-12)


def test_special_functions_against_scipy():
    special = pytest.importorskip("scipy.special")
    x = np.array([0.3, 2.5, 7.0, -1.5])
    np.testing.assert_allclose(tf.math.lgamma(tf.constant(x)).numpy(), special.gammaln(x))
    np.testing.assert_allclose(grad(tf.math.lgamma, x), special.psi(x))
    np.testing.assert_allclose(grad(tf.math.digamma, x), special.polygamma(1, x))
    q = tf.constant([0.5, 2.0], tf.float64)
    np.testing.assert_allclose(tf.math.zeta(tf.constant([2.0, 3.0], tf.float64), q).numpy(),
                               special.zeta([2.0, 3.0], [0.5, 2.0]))
    np.testing.assert_allclose(grad(lambda v: tf.math.zeta(3.0, v), [0.5, 2.0]),
                               -3.0 * special.zeta(4.0, [0.5, 2.0]))
    np.testing.assert_allclose(grad(lambda v: tf.math.polygamma(2.0, v), [0.5, 2.0]),
                               special.polygamma(3, [0.5, 2.0]))
    bad_order = tf.math.polygamma(tf.constant([0.5, -1.0]), tf.constant([1.0, 1.0]))
    assert np.isnan(bad_order.numpy()).all()


def test_polygamma_order_gets_no_gradient():
    a = tf.constant(1.0, tf.float64)
    x = tf.constant(2.0, tf.float64)
    with tf.GradientTape() as tape:
        tape.watch([a, x])
        y = tf.math.polygamma(a, x)
    assert tape.gradient(y, a) is None


def test_atan2_broadcast_gradients():
    y = tf.constant([[1.0], [2.0]], tf.float64)
    x = tf.constant([3.0, -1.0, 0.5], tf.float64)
    with tf.GradientTape() as tape:
        tape.watch([y, x])
        out = tf.math.atan2(y, x)
    gy, gx = tape.gradient(out, [y, x])
    yy, xx = np.meshgrid([1.0, 2.0], [3.0, -1.0, 0.5], indexing="ij")
    np.testing.assert_allclose(gy.numpy(), (xx / (xx ** 2 + yy ** 2)).sum(1, keepdims=True))
    np.testing.assert_allclose(gx.numpy(), (-yy / (xx ** 2 + yy ** 2)).sum(0))


def test_squared_difference_gradients():
    x = tf.constant([3.0, 1.0], tf.float64)
    y = tf.constant(2.0, tf.float64)
    with tf.GradientTape() as tape:
        tape.watch([x, y])
        out = tf.math.squared_difference(x, y)
    gx, gy = tape.gradient(out, [x, y])
    np.testing.assert_array_equal(gx.numpy(), [2.0, -2.0])
    assert float(gy) == 0.0


def test_sqrt_second_derivative():
    x = tf.constant(4.0, tf.float64)
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = tf.sqrt(x)
        g = inner.gradient(y, x)
    assert float(outer.gradient(g, x)) == pytest.approx(-0.25 * 4.0 ** -1.5)


# -- add_n -----------------------------------------------------------------------------------

def test_add_n_values_gradients_and_errors():
    v = tf.Variable([1.0, 2.0])
    with tf.GradientTape() as tape:
        total = tf.add_n([v, v * 2.0, tf.constant([1.0, 1.0])])
    np.testing.assert_array_equal(total.numpy(), [4.0, 7.0])
    np.testing.assert_array_equal(tape.gradient(total, v).numpy(), [3.0, 3.0])
    single = tf.constant([1.0])
    assert tf.add_n([single]) is single
    with pytest.raises(InvalidArgumentError, match="same size and shape"):
        tf.add_n([tf.ones([2]), tf.ones([3])])
    with pytest.raises(ValueError, match="at least one"):
        tf.add_n([])
    with pytest.raises(InvalidArgumentError):
        tf.add_n([tf.ones([2]), tf.ones([2], tf.float64)])


# -- dtype rules -----------------------------------------------------------------------------

UNARY = ["abs", "negative", "sign", "square", "sqrt", "rsqrt", "reciprocal", "exp", "expm1",
         "log", "log1p", "log_sigmoid", "sin", "cos", "tan", "asin", "acos", "atan", "sinh",
         "cosh", "tanh", "asinh", "atanh", "sigmoid", "softplus", "softsign", "erf", "erfc",
         "lgamma", "digamma", "floor", "ceil", "round"]
BINARY = ["add", "subtract", "multiply", "divide", "floordiv", "floormod", "pow", "maximum",
          "minimum", "squared_difference", "atan2", "xlogy", "xdivy", "divide_no_nan",
          "multiply_no_nan"]


@pytest.mark.parametrize("dtype", [tf.float16, tf.float32, tf.float64])
def test_ops_keep_the_float_dtype_in_values_and_gradients(dtype):
    pytest.importorskip("scipy.special")
    x = tf.constant([0.5, 0.7], dtype)
    for name in UNARY:
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = getattr(tf.math, name)(x)
        assert y.dtype == dtype, name
        if name == "digamma" and dtype == tf.float16:
            # TensorFlow's gradient runs polygamma, which has no float16 kernel.
            with pytest.raises(InvalidArgumentError, match="float16"):
                tape.gradient(y, x)
            continue
        g = tape.gradient(y, x)
        assert g is None or g.dtype == dtype, name
    for name in BINARY:
        for args in ((x, x), (x, 2.0), (2.0, x)):
            if name == "add" and type(args[0]) is float and dtype != tf.float32:
                # tf.math.add converts a leading Python number alone (to float32).
                with pytest.raises(InvalidArgumentError, match="float32"):
                    tf.math.add(*args)
                continue
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = getattr(tf.math, name)(*args)
            assert y.dtype == dtype, name
            g = tape.gradient(y, x)
            assert g is None or g.dtype == dtype, name


def test_truediv_converts_integers_like_tensorflow():
    assert tf.divide(tf.constant([3]), tf.constant([2])).dtype == tf.float64
    assert (tf.constant([3], tf.int16) / tf.constant([2], tf.int16)).dtype == tf.float32
    assert (tf.constant([3], tf.int8) / 2).dtype == tf.float32
    assert tf.divide(1, 2).numpy() == 0.5


def test_integer_division_by_zero_raises():
    with pytest.raises(InvalidArgumentError, match="Integer division by zero"):
        tf.constant([7]) // 0
    with pytest.raises(InvalidArgumentError, match="Integer division by zero"):
        tf.math.floormod(tf.constant([7]), tf.constant([0]))
    assert (tf.constant([-7]) // 2).numpy().tolist() == [-4]
    assert (tf.constant([-7]) % 3).numpy().tolist() == [2]


def test_logical_ops_need_bool():
    with pytest.raises(InvalidArgumentError, match="bool"):
        tf.logical_and(tf.constant([1]), tf.constant([1]))


# -- complex ---------------------------------------------------------------------------------

@pytest.mark.parametrize("fn", [tf.exp, tf.math.log, tf.sin, tf.sqrt, tf.math.reciprocal,
                                tf.square, tf.tanh, tf.sigmoid, lambda z: z * (1.0 + 2.0j),
                                lambda z: (0.5 - 1.0j) / z, lambda z: z ** (1.5 + 0.5j)])
def test_complex_holomorphic_gradient_is_conjugate_derivative(fn):
    z0 = 1.0 + 2.0j
    h = 1e-6
    derivative = (fn(tf.constant(z0 + h)).numpy() - fn(tf.constant(z0 - h)).numpy()) / (2 * h)
    got = grad(fn, z0, dtype=tf.complex128)
    np.testing.assert_allclose(got, np.conj(derivative), rtol=1e-7)


def test_complex_real_valued_functions():
    z0 = 3.0 + 4.0j
    # d|z|/dx + i d|z|/dy = z / |z|; angle: (-y + i x) / |z|^2
    np.testing.assert_allclose(grad(tf.abs, z0, dtype=tf.complex128), z0 / 5.0)
    np.testing.assert_allclose(grad(tf.math.angle, z0, dtype=tf.complex128),
                               (-4.0 + 3.0j) / 25.0)
    assert grad(tf.abs, 0j, dtype=tf.complex128) == 0
    np.testing.assert_allclose(grad(tf.math.real, z0, dtype=tf.complex128), 1.0)
    np.testing.assert_allclose(grad(tf.math.imag, z0, dtype=tf.complex128), 1.0j)


def test_complex_constructor_rules():
    assert tf.complex(1.0, 2.0).dtype == tf.complex64
    z = tf.complex(tf.constant(np.inf, tf.float64), tf.constant(0.0, tf.float64))
    assert z.numpy() == complex(np.inf, 0.0)
    with pytest.raises(TypeError, match="incorrect types"):
        tf.complex(1.0, tf.constant(2.0, tf.float64))
    re = tf.constant([1.0, 2.0], tf.float64)
    im = tf.constant(3.0, tf.float64)
    with tf.GradientTape() as tape:
        tape.watch([re, im])
        y = tf.math.real(tf.complex(re, im) * (1.0 + 1.0j))
    g_re, g_im = tape.gradient(y, [re, im])
    np.testing.assert_array_equal(g_re.numpy(), [1.0, 1.0])
    assert float(g_im) == -2.0


def test_angle_of_real_tensor():
    np.testing.assert_allclose(tf.math.angle(tf.constant([-1.0, 2.0])).numpy(), [np.pi, 0.0])
