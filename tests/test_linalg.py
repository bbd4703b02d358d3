"""tf.linalg: values and gradients recorded from TensorFlow 2.21, errors, and checks the generic
op sweep cannot make (complex eigenvectors / singular vectors are defined only up to a phase,
so they are checked through phase-invariant functions)."""

import numpy as np
import pytest

import tapegrad as tf
from tapegrad._core.registry import REGISTRY
from tapegrad._core.tensor import apply, wrap
from tapegrad.errors import InvalidArgumentError
from tapegrad.test import assert_gradients_close

B = np.array([[4., 1., 0.5], [1., 3., 0.2], [0.5, 0.2, 2.]])
W3 = np.array([[1., 0., 0.], [2., 3., 0.], [-1., 0.5, 2.]])
C = np.array([[4., 1., 0.5], [1., 3., 0.2]])
A2 = np.array([[3., 1.], [0.5, 2.]])
W2 = np.array([[1., 2.], [3., 4.]])
AC = np.array([[2 + 0j, 1 - 1j, 0.5j], [1 + 1j, 3 + 0j, 0.2], [-0.5j, 0.2, -1 + 0j]])
WC = np.array([[1., 2., 0.5], [-1., 0.3, 2.], [0.7, -0.4, 1.1]])
CC = np.array([[1 + 1j, 2, 0.5 - 1j], [0.3j, -1 + 0.5j, 2]])


def _grad(f, x):
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = f(x)
    return tape.gradient(y, x).numpy()


# -- gradients recorded from TensorFlow 2.21 (float64) ----------------------------------------

def _eigh3(b):
    e, v = tf.linalg.eigh(b)
    return tf.reduce_sum(e * tf.constant([1., -2., 0.5], tf.float64)) + tf.reduce_sum(v * v * W3)


def _svd23(c):
    s, u, v = tf.linalg.svd(c)
    return (tf.reduce_sum(s * tf.constant([1., -2.], tf.float64)) + tf.reduce_sum(u * u * W2)
            + tf.reduce_sum(v * v * W3[:2].T))


def _qr32(c):
    q, r = tf.linalg.qr(tf.transpose(c))
    return tf.reduce_sum(q * W3[:, :2]) + tf.reduce_sum(r * np.array([[1., 2.], [0., 4.]]))


TF_GRADIENTS = {
    "cholesky": (lambda b: tf.reduce_sum(tf.linalg.cholesky(b) * W3), B,
                 [[0.23198808499743223, 0.2583667078682764, -0.37263809571601053],
                  [0.2583667078682764, 0.9009571605721215, 0.13115201590954562],
                  [-0.37263809571601053, 0.13115201590954562, 0.718800733908993]]),
    "eigh": (_eigh3, B,
             [[0.16478308789076235, 0.0, 0.0],
              [1.7642378585408802, -1.90010702875096, 0.0],
              [0.5317975376605839, -0.07704935643352928, 1.2353239408601981]]),
    "eigh_reads_lower": (
        lambda a: tf.reduce_sum(tf.linalg.eigh(a)[0] * tf.constant([1., 2.], tf.float64)),
        np.array([[4., 1.], [2., 3.]]),
        [[1.6212678125181665, 0.0], [0.9701425001453321, 1.3787321874818337]]),
    "svd": (_svd23, C,
            [[0.5331935533609355, 1.0318828802061286, 0.031163972073049405],
             [1.2765995087495414, -1.5336033330426433, 0.12456057287681742]]),
    "qr": (_qr32, C,
           [[-1.0375729580596529, -0.11359751502037924, 0.22115483159990734],
            [-0.9388000750316289, -4.358146843368411, -0.38655343884629534]]),
    "pinv": (lambda c: tf.reduce_sum(tf.linalg.pinv(c) * W3[:, :2]), C,
             [[-0.024887985537629533, 0.10313178004878616, -0.12020740343947504],
              [-0.08730933673953624, -0.34154868689127577, 0.10693450457781281]]),
    "lstsq": (lambda c: tf.reduce_sum(tf.linalg.lstsq(
        tf.transpose(c), tf.constant([[1.], [2.], [3.]], tf.float64), l2_regularizer=0.1)), C,
              [[-0.039419052796427725, -0.04870462945285107, 0.06248804126747272],
               [-0.13878261904346, -0.1730732497066846, 0.20975599739220158]]),
    "logdet": (tf.linalg.logdet, B,
               [[0.2799436355096289, -0.08924377642085486, -0.06106153123532173],
                [-0.08924377642085486, 0.36402066697980273, -0.014091122592766557],
                [-0.06106153123532173, -0.014091122592766557, 0.516674495068107]]),
    "expm": (lambda a: tf.reduce_sum(tf.linalg.expm(a) * W2), A2,
             [[55.118641568661246, 46.918018071753195], [80.07259456220038, 57.62669649429667]]),
    "inv": (lambda a: tf.reduce_sum(tf.linalg.inv(a) * W2), A2,
            [[0.033057851239669436, -0.19008264462809915],
             [-0.1983471074380165, -0.8595041322314052]]),
    "inv_adjoint": (lambda a: tf.reduce_sum(tf.linalg.inv(a, adjoint=True) * W2), A2,
                    [[0.06611570247933882, -0.3801652892561984],
                     [-0.03305785123966936, -0.8099173553719011]]),
    "triangular_solve_broadcast": (
        lambda m: tf.reduce_sum(tf.linalg.triangular_solve(
            m, np.arange(12.).reshape(3, 2, 2), adjoint=True) * np.arange(12.).reshape(3, 2, 2)),
        np.array([[2., 0.], [1., 3.]]),
        [[-26.66666666666667, 0.0], [-40.166666666666664, -22.055555555555554]]),
    # complex inputs, through phase-invariant functions
    "eigh_complex": (
        lambda a: (tf.reduce_sum(tf.math.real(tf.linalg.eigh(a)[0]) * np.array([1., -2., 0.5]))
                   + tf.reduce_sum(tf.math.real(tf.linalg.eigh(a)[1]
                                                * tf.math.conj(tf.linalg.eigh(a)[1])) * WC)),
        AC,
        [[-1.4434556572900554 + 0j, 0j, 0j],
         [1.3401842616803372 + 1.2339162362111018j, 0.197571012810612 + 0j, 0j],
         [0.21253605093847244 + 1.4725825339231906j, -0.7470673991230317 - 0.5313401273461803j,
          0.7458846444794436 + 0j]]),
    "svd_complex": (
        lambda c: _svd_complex_loss(c), CC,
        [[-0.10041288366850437 - 0.29305134039837j, 0.7369411831389485 + 1.469604750523632j,
          -0.9709352131357616 + 0.39484894188553615j],
         [-1.6037232439571407 + 0.5637493942071248j, 1.392981784167202 + 1.1068435494921758j,
          0.13046370568612042 + 1.5749169821232407j]]),
    "qr_complex": (
        lambda c: (tf.reduce_sum(tf.math.real(tf.linalg.qr(tf.transpose(c)).r) * WC[:2, :2])
                   + tf.reduce_sum(tf.math.imag(tf.linalg.qr(tf.transpose(c)).q) * WC[:, :2])),
        CC,
        [[-0.8118752276994181 - 0.8097464513163544j, 0.1652419147482669 - 0.30982602072065435j,
          -1.8343788290181433 + 0.4842551395389416j],
         [-0.6491977800516461 - 0.06368657836536537j, -1.9633959524782327 - 0.2560692590665345j,
          -0.35689356434698033 + 0.5670417615875373j]]),
    "expm_complex": (
        lambda a: tf.math.real(tf.reduce_sum(tf.linalg.expm(a * 0.3) * WC.astype(complex))), AC,
        [[0.6832057922177797 + 0.2769611541413948j, 1.490603669147975 - 0.12049048121414989j,
          0.3504291095314999 - 0.08128264908306458j],
         [-0.5406590874742333 + 0.09387664403730055j, 0.37819079398257754 + 0.29856772028293405j,
          0.9386988826762759 + 0.012310500996532655j],
         [0.23515756312565037 - 0.08738977662067726j, -0.1183232308094527 - 0.12461339849234906j,
          0.2622298740753145 - 0.0039327790678847j]]),
    "logdet_complex": (
        lambda a: tf.linalg.logdet(a + 3 * np.eye(3)), AC,
        [[0.2210720887245841 + 0j, -0.03696857670979667 + 0.038817005545286505j,
          0.003696857670979668 - 0.059149722735674676j],
         [-0.03696857670979667 - 0.038817005545286505j, 0.18022181146025876 + 0j,
          -0.027726432532347512 + 0.009242144177449167j],
         [0.003696857670979668 + 0.059149722735674676j,
          -0.027726432532347512 - 0.009242144177449167j, 0.5175600739371534 + 0j]]),
    "slogdet_complex": (
        lambda a: tf.linalg.slogdet(a)[1],
        np.array([[2 + 1j, 1 - 1j], [0.5j, 3 + 0j]]),
        [[0.452054794520548 + 0.20547945205479454j, -0.03424657534246575 + 0.07534246575342465j],
         [-0.0821917808219178 - 0.2191780821917808j, 0.3698630136986301 - 0.0136986301369863j]]),
}


def _svd_complex_loss(c):
    s, u, v = tf.linalg.svd(c)
    rec = tf.matmul(u * np.array([1., 2.], dtype=complex), v, adjoint_b=True)
    return (tf.reduce_sum(s * np.array([1., -2.])) +
            tf.reduce_sum(tf.math.real(u * tf.math.conj(u)) * WC[:2, :2])
            + tf.reduce_sum(tf.math.real(rec) * WC[:2]) + tf.reduce_sum(tf.math.imag(rec)))


@pytest.mark.parametrize("name", sorted(TF_GRADIENTS))
def test_gradient_matches_tensorflow(name):
    f, x, expected = TF_GRADIENTS[name]
    np.testing.assert_allclose(_grad(f, x), np.array(expected), rtol=1e-6, atol=1e-9)


# -- forward values recorded from TensorFlow ------------------------------------------------

def test_forward_values_match_tensorflow():
    np.testing.assert_allclose(tf.linalg.expm(tf.constant(A2)).numpy(),
                               [[23.925411770722196, 13.763441581305967],
                                [6.881720790652985, 10.161970189416241]], rtol=1e-12)
    expm32 = tf.linalg.expm(tf.constant([[0., 1.], [-1., 0.]]))
    assert expm32.dtype == tf.float32
    np.testing.assert_allclose(expm32.numpy(), [[np.cos(1), np.sin(1)], [-np.sin(1), np.cos(1)]],
                               rtol=1e-6)
    q, r = tf.linalg.qr(tf.constant(C.T))
    np.testing.assert_allclose(r.numpy(), [[-4.15331193, -1.70947911], [0., -2.66789827]],
                               rtol=1e-8)
    assert round(float(tf.linalg.logdet(tf.constant([[4., 1.], [1., 3.]]))), 5) == 2.3979
    np.testing.assert_allclose(tf.linalg.pinv(tf.constant([[1., 2.], [2., 4.]])).numpy(),
                               [[0.04, 0.08], [0.08, 0.16]], rtol=1e-5)
    np.testing.assert_allclose(
        tf.linalg.lstsq(tf.constant([[1., 0.], [0., 1.], [1., 1.]]),
                        tf.constant([[1.], [2.], [3.]])).numpy(), [[1.0], [2.0]], rtol=1e-5)
    assert tf.linalg.eigh(tf.constant(AC))[0].dtype == tf.complex128
    assert tf.linalg.svd(tf.constant(CC), compute_uv=False).dtype == tf.float64
    assert float(tf.linalg.det(tf.zeros([0, 0]))) == 1.0
    assert tf.linalg.inv(tf.zeros([0, 2, 2])).shape.as_list() == [0, 2, 2]


def test_diag_family_matches_tensorflow():
    assert tf.linalg.diag(tf.constant([1., 2.]), k=1).numpy().tolist() == [
        [0.0, 1.0, 0.0], [0.0, 0.0, 2.0], [0.0, 0.0, 0.0]]
    assert tf.linalg.diag(tf.constant([1., 2.]), num_rows=3).numpy().tolist() == [
        [1.0, 0.0], [0.0, 2.0], [0.0, 0.0]]
    assert tf.linalg.diag(tf.constant([[1., 2.], [3., 4.]]), k=-1, num_rows=3, num_cols=3,
                          padding_value=7.).numpy().tolist() == [
        [[7.0, 7.0, 7.0], [1.0, 7.0, 7.0], [7.0, 2.0, 7.0]],
        [[7.0, 7.0, 7.0], [3.0, 7.0, 7.0], [7.0, 4.0, 7.0]]]
    assert tf.linalg.diag_part(tf.reshape(tf.range(6.), [2, 3]), k=1).numpy().tolist() == [
        1.0, 5.0]
    assert tf.linalg.set_diag(tf.zeros([2, 3]), tf.constant([1., 2.]), k=1).numpy().tolist() == [
        [0.0, 1.0, 0.0], [0.0, 0.0, 2.0]]
    assert tf.linalg.band_part(tf.reshape(tf.range(12.), [3, 4]), 1, 2).numpy().tolist() == [
        [0.0, 1.0, 2.0, 0.0], [4.0, 5.0, 6.0, 7.0], [0.0, 9.0, 10.0, 11.0]]


def test_namedtuples_and_return_shapes():
    sign, log_abs = tf.linalg.slogdet(tf.constant([[0., 1.], [1., 0.]]))
    assert float(sign) == -1.0 and float(log_abs) == 0.0
    result = tf.linalg.slogdet(tf.eye(2))
    assert result.sign is result[0] and result.log_abs_determinant is result[1]
    q, r = result_qr = tf.linalg.qr(tf.ones([3, 2]), full_matrices=True)
    assert result_qr.q.shape.as_list() == [3, 3] and r.shape.as_list() == [3, 2]
    s, u, v = tf.linalg.svd(tf.ones([4, 2]))
    assert (s.shape.as_list(), u.shape.as_list(), v.shape.as_list()) == ([2], [4, 2], [2, 2])
    s, u, v = tf.linalg.svd(tf.ones([4, 2]), full_matrices=True)
    assert (u.shape.as_list(), v.shape.as_list()) == ([4, 4], [2, 2])
    assert isinstance(tf.linalg.eigh(tf.eye(2)), tuple)


# -- TF's edge behaviour and errors -----------------------------------------------------------

def test_singular_and_invalid_inputs():
    singular = tf.constant([[1., 2.], [2., 4.]])
    with pytest.raises(InvalidArgumentError, match="^Input is not invertible"):
        tf.linalg.inv(singular)
    with pytest.raises(InvalidArgumentError, match="^Input matrix is not invertible"):
        tf.linalg.solve(singular, tf.ones([2, 1]))
    for function in (tf.linalg.inv, tf.linalg.det, tf.linalg.cholesky, tf.linalg.eigh,
                     tf.linalg.slogdet, tf.linalg.expm):
        with pytest.raises(InvalidArgumentError, match=r"must be square, got shape \[2, 3\]"):
            function(tf.ones([2, 3]))
    with pytest.raises(InvalidArgumentError, match="same rank"):
        tf.linalg.solve(tf.eye(2, batch_shape=[3]), tf.ones([2, 1]))
    with pytest.raises(InvalidArgumentError, match="incompatible"):
        tf.linalg.solve(tf.eye(2), tf.ones([3, 1]))
    # TensorFlow: det of a singular matrix is 0, slogdet gives (0, -inf)
    assert float(tf.linalg.det(singular)) == 0.0
    sign, log_abs = tf.linalg.slogdet(singular)
    assert float(sign) == 0.0 and float(log_abs) == -np.inf
    # TensorFlow: a zero pivot in a triangular solve gives inf, not an error
    x = tf.linalg.triangular_solve(tf.constant([[0., 0.], [1., 1.]]), tf.ones([2, 1]))
    assert x.numpy().ravel().tolist() == [np.inf, -np.inf]
    # TensorFlow: Cholesky of a matrix that is not positive definite is NaN
    chol = tf.linalg.cholesky(tf.constant([[[1., 2.], [2., 1.]], [[4., 2.], [2., 2.]]])).numpy()
    assert np.isnan(chol[0][np.tril_indices(2)]).all() and chol[0, 0, 1] == 0
    np.testing.assert_allclose(chol[1], [[2., 0.], [1., 1.]])
    with pytest.raises(InvalidArgumentError, match="not successful"):
        tf.linalg.eigh(tf.constant([[np.nan, 0.], [0., 1.]]))


def test_complex_det_gradient_uses_tensorflows_complex_convention():
    # d det = det * tr(A^-1 dA): TF's convention (upstream * conj(f')) gives conj(det) * A^-H.
    a = np.array([[2 + 1j, 1 - 1j], [0.5j, 3 + 0j]])
    expected = np.conj(np.linalg.det(a)) * np.conj(np.linalg.inv(a)).T
    np.testing.assert_allclose(_grad(tf.linalg.det, a), expected, rtol=1e-12)


# -- phase (gauge) invariance: checked by finite differences on real and imaginary parts --------

def _complex_args(f):
    return lambda re, im: f(tf.complex(re, im))


def test_complex_eigh_gradient_through_phase_invariant_functions():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((2, 3, 3)) + 1j * rng.standard_normal((2, 3, 3))
    a = a + np.conj(np.swapaxes(a, -1, -2)) + np.diag([0., 2., 5.])
    weights = rng.standard_normal((3, 3))

    def loss(x):
        e, v = tf.linalg.eigh(x)
        projector = tf.matmul(v * np.array([1., -1., 2.], dtype=complex), v, adjoint_b=True)
        return (tf.reduce_sum(tf.math.real(e) * weights[0])
                + tf.reduce_sum(tf.math.real(v * tf.math.conj(v)) * weights)
                + tf.reduce_sum(tf.math.real(projector) * weights)
                + tf.reduce_sum(tf.math.imag(projector)))

    assert_gradients_close(_complex_args(loss), [a.real, a.imag])


@pytest.mark.parametrize("shape", [(3, 3), (4, 3), (3, 4), (2, 3, 2)])
def test_complex_svd_gradient_through_phase_invariant_functions(shape):
    rng = np.random.default_rng(1)
    a = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    k = min(shape[-2:])
    weights = rng.standard_normal(shape[-2:])

    def loss(x):
        s, u, v = tf.linalg.svd(x)
        rec = tf.matmul(u * np.arange(1., k + 1).astype(complex), v, adjoint_b=True)
        return (tf.reduce_sum(s * np.arange(1., k + 1))
                + tf.reduce_sum(tf.math.real(u * tf.math.conj(u)) * weights[:, :k])
                + tf.reduce_sum(tf.math.real(v * tf.math.conj(v)) * weights.T[:, :k])
                + tf.reduce_sum(tf.math.real(rec) * weights) + tf.reduce_sum(tf.math.imag(rec)))

    assert_gradients_close(_complex_args(loss), [a.real, a.imag])


def test_real_eigenvectors_and_singular_vectors_have_a_fixed_sign():
    rng = np.random.default_rng(2)
    a = rng.standard_normal((4, 4))
    a = a + a.T
    e, v = tf.linalg.eigh(a)
    vv = v.numpy()
    np.testing.assert_allclose(vv @ np.diag(e.numpy()) @ vv.T, a, atol=1e-12)
    picked = vv[np.argmax(np.abs(vv), axis=0), np.arange(4)]
    assert (picked > 0).all()
    m = rng.standard_normal((5, 3))
    s, u, v = tf.linalg.svd(m)
    np.testing.assert_allclose(u.numpy() * s.numpy() @ v.numpy().T, m, atol=1e-12)
    uu = u.numpy()
    assert (uu[np.argmax(np.abs(uu), axis=0), np.arange(3)] > 0).all()


# -- forward rules are the adjoints of the reverse rules (complex inputs included) ----------

ADJOINT_CASES = [
    ("SelfAdjointEigV2", AC + 4 * np.eye(3) * np.arange(3), {"compute_v": True}),
    ("SelfAdjointEigV2", AC, {"compute_v": False}),
    ("Svd", CC, {"full_matrices": False, "compute_uv": True}),
    ("Svd", CC.T, {"full_matrices": False, "compute_uv": True}),
    ("Svd", AC, {"full_matrices": False, "compute_uv": True}),
    ("Svd", CC, {"full_matrices": False, "compute_uv": False}),
    ("Qr", CC, {"full_matrices": False}),
    ("Qr", CC.T, {"full_matrices": False}),
    ("MatrixExponential", AC, None),
    ("Cholesky", AC + 5 * np.eye(3), None),
    ("MatrixInverse", AC, {"adjoint": True}),
    ("MatrixDeterminant", AC, None),
    ("LogMatrixDeterminant", AC, None),
]


@pytest.mark.parametrize("case", ADJOINT_CASES, ids=[f"{c[0]}-{i}"
                                                     for i, c in enumerate(ADJOINT_CASES)])
def test_forward_rule_is_adjoint_of_reverse_rule(case):
    name, x, attrs = case
    op = REGISTRY[name]
    rng = np.random.default_rng(4)
    xt = wrap(np.asarray(x))
    out = apply(op, (xt,), attrs)
    outs = out if isinstance(out, tuple) else (out,)
    tangent = rng.standard_normal(x.shape) + 1j * rng.standard_normal(x.shape)
    seeds = []
    for o in outs:
        seed = rng.standard_normal(o._value.shape)
        if o._value.dtype.kind == "c":
            seed = seed + 1j * rng.standard_normal(o._value.shape)
        seeds.append(wrap(seed.astype(o._value.dtype)))
    if name == "LogMatrixDeterminant":   # no gradient flows through the sign (as TF)
        seeds[0] = wrap(np.zeros_like(seeds[0]._value))
        seeds[1] = wrap(seeds[1]._value.real.astype(seeds[1]._value.dtype))
    jvp = op.jvp((xt,), out, attrs, [wrap(tangent)])
    jvps = jvp if isinstance(jvp, tuple) else (jvp,)
    vjp = op.vjp((xt,), out, attrs, tuple(seeds) if isinstance(out, tuple) else seeds[0],
                 [True])[0]
    lhs = sum(np.real(np.sum(np.conj(s._value) * j._value)) for s, j in zip(seeds, jvps))
    rhs = np.real(np.sum(np.conj(vjp._value) * tangent))
    np.testing.assert_allclose(lhs, rhs, rtol=1e-9, atol=1e-9)


def test_linalg_gradients_keep_float32():
    x = tf.Variable([[4.0, 1.0], [1.0, 3.0]])
    with tf.GradientTape() as tape:
        y = (tf.linalg.logdet(x) + tf.reduce_sum(tf.linalg.inv(x)) + tf.linalg.det(x)
             + tf.reduce_sum(tf.linalg.eigvalsh(x)) + tf.reduce_sum(tf.linalg.expm(x * 0.1))
             + tf.reduce_sum(tf.linalg.svd(x, compute_uv=False)))
    grad = tape.gradient(y, x)
    assert grad.dtype == tf.float32 and np.isfinite(grad.numpy()).all()


def test_cholesky_solve_and_matvec():
    spd = B
    rhs = np.array([[1.], [2.], [3.]])
    chol = tf.linalg.cholesky(tf.constant(spd))
    np.testing.assert_allclose(tf.linalg.cholesky_solve(chol, tf.constant(rhs)).numpy(),
                               np.linalg.solve(spd, rhs), rtol=1e-12)
    np.testing.assert_allclose(tf.linalg.matvec(tf.constant(spd), tf.constant(rhs[:, 0]),
                                                transpose_a=True).numpy(), spd.T @ rhs[:, 0])
