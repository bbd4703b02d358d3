"""tf.nn ops: values at kinks and ties (which central differences cannot check), convolutions
and pooling against direct loop definitions, and the composites against their formulas."""

import math

import numpy as np
import pytest

import tapegrad as tf
from tapegrad.errors import InvalidArgumentError


def grad(f, values, dtype=tf.float32):
    x = tf.constant(values, dtype=dtype)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = f(x)
    return tape.gradient(y, x).numpy()


# -- kinks (TensorFlow's values, spec R12.3) ---------------------------------------------------

def test_activation_kinks():
    np.testing.assert_array_equal(grad(tf.nn.relu, [-1.0, 0.0, 1.0]), [0, 0, 1])
    np.testing.assert_array_equal(grad(tf.nn.relu6, [-1.0, 0.0, 3.0, 6.0, 7.0]), [0, 0, 1, 0, 0])
    np.testing.assert_allclose(grad(lambda x: tf.nn.leaky_relu(x, 0.3), [-1.0, 0.0, 1.0]),
                               [0.3, 0.3, 1.0])
    np.testing.assert_allclose(grad(tf.nn.elu, [-1.0, 0.0, 1.0]), [math.exp(-1), 1.0, 1.0],
                               rtol=1e-6)
    np.testing.assert_allclose(grad(tf.nn.selu, [0.0]), [1.0507009873554805], rtol=1e-6)


def test_relu_second_derivative_is_connected_zero():
    x = tf.constant([-1.0, 2.0])
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = tf.nn.relu(x) * x
        dy = inner.gradient(y, x)
    # d/dx (relu(x) + x * relu'(x)) = 2 relu'(x)
    np.testing.assert_array_equal(outer.gradient(dy, x).numpy(), [0.0, 2.0])


def test_elu_selu_second_derivative():
    for f, scale, alpha in ((tf.nn.elu, 1.0, 1.0),
                            (tf.nn.selu, 1.0507009873554805, 1.6732632423543772)):
        x = tf.constant([-0.5, 0.7], dtype=tf.float64)
        with tf.GradientTape() as outer:
            outer.watch(x)
            with tf.GradientTape() as inner:
                inner.watch(x)
                y = f(x)
            dy = inner.gradient(y, x)
        np.testing.assert_allclose(outer.gradient(dy, x).numpy(),
                                   [scale * alpha * math.exp(-0.5), 0.0], rtol=1e-12)


# -- softmax and losses -------------------------------------------------------------------------

def test_softmax_large_logits_do_not_overflow():
    np.testing.assert_allclose(tf.nn.softmax(tf.constant([1000.0, 1000.0])).numpy(), [0.5, 0.5])
    np.testing.assert_allclose(tf.nn.log_softmax(tf.constant([1000.0, 0.0])).numpy(),
                               [0.0, -1000.0])
    loss = tf.nn.softmax_cross_entropy_with_logits([[0.0, 1.0]], [[1000.0, 0.0]])
    np.testing.assert_allclose(loss.numpy(), [1000.0])


def test_softmax_axis():
    x = np.array([[1.0, 2.0], [3.0, 5.0]])
    e = np.exp(x)
    np.testing.assert_allclose(tf.nn.softmax(tf.constant(x), axis=0).numpy(),
                               e / e.sum(axis=0, keepdims=True))
    labels = np.array([[0.2, 0.4], [0.8, 0.6]])
    loss = tf.nn.softmax_cross_entropy_with_logits(labels, tf.constant(x), axis=0)
    expected = -(labels * np.log(e / e.sum(axis=0, keepdims=True))).sum(axis=0)
    np.testing.assert_allclose(loss.numpy(), expected)


def test_softmax_cross_entropy_gradient_is_softmax_minus_labels():
    # TensorFlow's kernel: softmax - labels even when the labels do not sum to one
    logits = tf.constant([[1.0, 2.0, 3.0]], dtype=tf.float64)
    labels = tf.constant([[0.5, 0.5, 0.5]], dtype=tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(logits)
        loss = tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    e = np.exp([1.0, 2.0, 3.0])
    np.testing.assert_allclose(tape.gradient(loss, logits).numpy()[0], e / e.sum() - 0.5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_many_short_rows_take_the_fast_reductions_and_agree(dtype):
    # 96 rows of 10 classes: the row max and sums run on a transposed copy / as a product,
    # and the reverse rule reuses the forward's softmax (persistent: twice, unchanged).
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((96, 10)) * 30).astype(dtype)
    x[5] = 1e4  # a row of large logits
    labels = rng.dirichlet(np.ones(10), 96).astype(dtype)
    e = np.exp(x.astype(np.float64) - x.max(axis=1, keepdims=True))
    softmax = e / e.sum(axis=1, keepdims=True)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(tf.nn.softmax(tf.constant(x)).numpy(), softmax, rtol=rtol,
                               atol=1e-30)
    np.testing.assert_allclose(tf.nn.log_softmax(tf.constant(x)).numpy(), np.log(softmax),
                               rtol=rtol, atol=1e-4 if dtype == np.float32 else 1e-9)
    logits, label_tensor = tf.constant(x), tf.constant(labels)
    scale = tf.constant(rng.standard_normal(96).astype(dtype))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([logits, label_tensor])
        loss = tf.reduce_sum(
            tf.nn.softmax_cross_entropy_with_logits(label_tensor, logits) * scale)
    expected_loss = -(labels * np.log(softmax)).sum(axis=1) @ scale.numpy()
    np.testing.assert_allclose(float(loss), expected_loss, rtol=rtol * 10)
    expected = (softmax - labels) * scale.numpy()[:, None]
    atol = 1e-6 if dtype == np.float32 else 1e-12
    for _ in range(2):
        np.testing.assert_allclose(tape.gradient(loss, logits).numpy(), expected, rtol=rtol,
                                   atol=atol)
    # the labels get -log_softmax(logits), scaled (TensorFlow's rule)
    np.testing.assert_allclose(tape.gradient(loss, label_tensor).numpy(),
                               -np.log(softmax) * scale.numpy()[:, None], rtol=rtol * 10,
                               atol=1e-3 if dtype == np.float32 else 1e-9)


def test_relu_gradient_passes_upstream_only_where_active():
    x = tf.constant([[-1.0, 2.0], [3.0, -4.0]])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.nn.relu(x)
    grad = tape.gradient(y, x, output_gradients=tf.constant([[5.0, 6.0], [7.0, 8.0]]))
    assert grad.numpy().tolist() == [[0.0, 6.0], [7.0, 0.0]]


def test_sparse_softmax_cross_entropy_errors():
    with pytest.raises(InvalidArgumentError, match="outside the valid range"):
        tf.nn.sparse_softmax_cross_entropy_with_logits([3], [[1.0, 2.0, 3.0]])
    with pytest.raises(ValueError, match="Rank mismatch"):
        tf.nn.sparse_softmax_cross_entropy_with_logits([[1]], [[1.0, 2.0, 3.0]])
    with pytest.raises(TypeError):
        tf.nn.sparse_softmax_cross_entropy_with_logits([1.0], [[1.0, 2.0, 3.0]])


def test_sigmoid_cross_entropy_matches_formula():
    x = np.array([-30.0, -1.0, 0.0, 2.0, 40.0])
    z = np.array([1.0, 0.0, 1.0, 0.5, 0.0])
    loss = tf.nn.sigmoid_cross_entropy_with_logits(tf.constant(z, tf.float64),
                                                   tf.constant(x, tf.float64))
    np.testing.assert_allclose(loss.numpy(), np.logaddexp(0, x) - x * z, rtol=1e-12)


# -- convolutions against direct loops -----------------------------------------------------------

def naive_conv2d(x, w, strides, pads, dilations=(1, 1)):
    n, h, wd, c = x.shape
    kh, kw, _, o = w.shape
    xp = np.pad(x, ((0, 0), pads[0], pads[1], (0, 0)))
    ho = (xp.shape[1] - (kh - 1) * dilations[0] - 1) // strides[0] + 1
    wo = (xp.shape[2] - (kw - 1) * dilations[1] - 1) // strides[1] + 1
    y = np.zeros((n, ho, wo, o))
    for b in range(n):
        for r in range(ho):
            for q in range(wo):
                for i in range(kh):
                    for j in range(kw):
                        pixel = xp[b, r * strides[0] + i * dilations[0],
                                   q * strides[1] + j * dilations[1]]
                        y[b, r, q] += pixel @ w[i, j]
    return y


@pytest.mark.parametrize("padding,strides,dilations,pads", [
    ("VALID", 1, 1, ((0, 0), (0, 0))),
    ("SAME", 1, 1, ((1, 1), (1, 1))),
    ("SAME", 2, 1, ((0, 1), (1, 1))),   # 6 rows: out 3, total pad 1 (0 before, 1 after)
    ("SAME", 1, 2, ((2, 2), (2, 2))),
    ("VALID", (2, 1), 1, ((0, 0), (0, 0))),
])
def test_conv2d_matches_loops(padding, strides, dilations, pads):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 6, 5, 3))
    w = rng.standard_normal((3, 3, 3, 4))
    y = tf.nn.conv2d(tf.constant(x), tf.constant(w), strides, padding, dilations=dilations)
    s = (strides, strides) if isinstance(strides, int) else strides
    expected = naive_conv2d(x, w, s, pads, (dilations, dilations))
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-10, atol=1e-12)


def test_conv2d_single_channel_and_explicit_padding():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((1, 5, 5, 1))
    w = rng.standard_normal((2, 3, 1, 2))
    y = tf.nn.conv2d(x, w, 1, [[0, 0], [1, 0], [2, 1], [0, 0]])
    np.testing.assert_allclose(y.numpy(), naive_conv2d(x, w, (1, 1), ((1, 0), (2, 1))),
                               rtol=1e-10)


def test_conv2d_transpose_is_the_adjoint():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 7, 6, 3))
    w = rng.standard_normal((3, 2, 3, 4))
    g = rng.standard_normal((2, 4, 3, 4))
    y = naive_conv2d(x, w, (2, 2), ((1, 1), (0, 1)))
    assert y.shape == g.shape
    dx = tf.nn.conv2d_transpose(tf.constant(g), tf.constant(w), [2, 7, 6, 3], 2, "SAME")
    np.testing.assert_allclose(np.sum(dx.numpy() * x), np.sum(y * g), rtol=1e-10)


def test_depthwise_conv2d_matches_per_channel_convolutions():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 5, 5, 3))
    w = rng.standard_normal((3, 3, 3, 2))
    y = tf.nn.depthwise_conv2d(x, w, [1, 1, 1, 1], "SAME").numpy()
    for c in range(3):
        expected = naive_conv2d(x[..., c:c + 1], w[:, :, c:c + 1, :], (1, 1),
                                ((1, 1), (1, 1)))
        np.testing.assert_allclose(y[..., 2 * c:2 * c + 2], expected, rtol=1e-10)


def test_conv1d_and_nchw():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 7, 3))
    w = rng.standard_normal((3, 3, 2))
    y = tf.nn.conv1d(x, w, 2, "SAME").numpy()
    expected = naive_conv2d(x[:, None], w[None], (1, 2), ((0, 0), (1, 1)))[:, 0]
    np.testing.assert_allclose(y, expected, rtol=1e-10)
    x4 = rng.standard_normal((2, 5, 4, 3))
    w4 = rng.standard_normal((3, 3, 3, 2))
    nhwc = tf.nn.conv2d(x4, w4, 1, "SAME").numpy()
    nchw = tf.nn.conv2d(x4.transpose(0, 3, 1, 2), w4, 1, "SAME", data_format="NCHW").numpy()
    np.testing.assert_allclose(nchw, nhwc.transpose(0, 3, 1, 2), rtol=1e-12)


def test_conv_errors():
    with pytest.raises(InvalidArgumentError, match="negative"):
        tf.nn.conv2d(tf.ones([1, 2, 2, 1]), tf.ones([3, 3, 1, 1]), 1, "VALID")
    with pytest.raises(InvalidArgumentError, match="depth"):
        tf.nn.conv2d(tf.ones([1, 4, 4, 2]), tf.ones([3, 3, 1, 1]), 1, "SAME")
    with pytest.raises(ValueError, match="padding"):
        tf.nn.conv2d(tf.ones([1, 4, 4, 1]), tf.ones([3, 3, 1, 1]), 1, "FULL")


# -- pooling ---------------------------------------------------------------------------------------

def test_max_pool_ties_go_to_the_first_maximum():
    x = np.array([[1.0, 3.0, 2.0, 2.0],
                  [3.0, 0.0, 2.0, 2.0]]).reshape(1, 2, 4, 1)
    g = grad(lambda v: tf.nn.max_pool2d(v, 2, 2, "VALID"), x)
    np.testing.assert_array_equal(g.reshape(2, 4), [[0, 1, 1, 0], [0, 0, 0, 0]])


def test_max_pool_overlapping_windows_accumulate():
    x = np.array([0.0, 5.0, 1.0, 2.0]).reshape(1, 1, 4, 1)
    g = grad(lambda v: tf.nn.max_pool2d(v, (1, 3), 1, "VALID"), x)
    np.testing.assert_array_equal(g.ravel(), [0, 2, 0, 0])
    same = grad(lambda v: tf.nn.max_pool2d(v, (1, 3), 1, "SAME"), x)
    np.testing.assert_array_equal(same.ravel(), [0, 3, 0, 1])


def test_avg_pool_same_divides_by_real_elements():
    x = np.arange(9.0).reshape(1, 3, 3, 1)
    y = tf.nn.avg_pool2d(x, 2, 2, "SAME").numpy().reshape(2, 2)
    np.testing.assert_allclose(y, [[(0 + 1 + 3 + 4) / 4, (2 + 5) / 2], [(6 + 7) / 2, 8.0]])
    g = grad(lambda v: tf.nn.avg_pool2d(v, 2, 2, "SAME"), x, tf.float64).reshape(3, 3)
    np.testing.assert_allclose(g, [[0.25, 0.25, 0.5], [0.25, 0.25, 0.5], [0.5, 0.5, 1.0]])


def test_pool_aliases_and_1d():
    x = tf.constant(np.arange(8.0).reshape(1, 8, 1))
    np.testing.assert_array_equal(tf.nn.max_pool(x, 2, 2, "VALID").numpy().ravel(), [1, 3, 5, 7])
    np.testing.assert_array_equal(tf.nn.avg_pool1d(x, 4, 4, "VALID").numpy().ravel(),
                                  [1.5, 5.5])


# -- composites ----------------------------------------------------------------------------------

def test_gelu_matches_formulas():
    x = np.array([-2.0, -0.5, 0.0, 1.0, 3.0])
    exact = np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in x])
    np.testing.assert_allclose(tf.nn.gelu(tf.constant(x)).numpy(), exact, rtol=1e-12)
    approx = 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    np.testing.assert_allclose(tf.nn.gelu(tf.constant(x), approximate=True).numpy(), approx,
                               rtol=1e-12)
    # d/dx x*Phi(x) = Phi(x) + x*phi(x)
    expected = [0.5 * (1 + math.erf(v / math.sqrt(2))) +
                v * math.exp(-v * v / 2) / math.sqrt(2 * math.pi) for v in x]
    np.testing.assert_allclose(grad(tf.nn.gelu, x, tf.float64), expected, rtol=1e-10)


def test_silu_and_swish():
    x = np.array([-1.0, 0.5])
    np.testing.assert_allclose(tf.nn.silu(tf.constant(x)).numpy(), x / (1 + np.exp(-x)))
    assert tf.nn.swish is tf.nn.silu


def test_moments_and_batch_normalization():
    x = np.array([[1.0, 2.0], [3.0, 6.0], [5.0, 7.0]])
    mean, variance = tf.nn.moments(tf.constant(x), axes=[0])
    np.testing.assert_allclose(mean.numpy(), x.mean(axis=0))
    np.testing.assert_allclose(variance.numpy(), x.var(axis=0))
    y = tf.nn.batch_normalization(tf.constant(x), mean, variance, offset=1.0, scale=2.0,
                                  variance_epsilon=1e-3)
    np.testing.assert_allclose(y.numpy(), (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-3) * 2 + 1)
    mean_k, _ = tf.nn.moments(tf.constant(x), axes=[0], keepdims=True)
    assert mean_k.shape.as_list() == [1, 2]


def test_l2_loss_and_l2_normalize():
    assert float(tf.nn.l2_loss(tf.constant([1.0, 2.0, 3.0]))) == 7.0
    x = np.array([[3.0, 4.0], [0.0, 0.0]])
    np.testing.assert_allclose(tf.nn.l2_normalize(tf.constant(x), axis=1).numpy(),
                               [[0.6, 0.8], [0.0, 0.0]])


def test_bias_add():
    y = tf.nn.bias_add(tf.zeros([2, 2, 3]), tf.constant([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(y.numpy()[1, 1], [1, 2, 3])
    nchw = tf.nn.bias_add(tf.zeros([1, 3, 2]), tf.constant([1.0, 2.0, 3.0]), "NCHW")
    np.testing.assert_array_equal(nchw.numpy()[0, :, 0], [1, 2, 3])
    with pytest.raises(InvalidArgumentError):
        tf.nn.bias_add(tf.zeros([2, 4]), tf.constant([1.0, 2.0, 3.0]))
    v = tf.Variable([0.0, 0.0])
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(tf.nn.bias_add(tf.ones([100, 2]), v) * tf.constant([1.0, 2.0]))
    np.testing.assert_array_equal(tape.gradient(y, v).numpy(), [100.0, 200.0])


def test_dropout():
    x = tf.ones([1000])
    tf.random.set_seed(5)
    a = tf.nn.dropout(x, rate=0.25, seed=3).numpy()
    tf.random.set_seed(5)
    b = tf.nn.dropout(x, rate=0.25, seed=3).numpy()
    np.testing.assert_array_equal(a, b)
    assert set(np.unique(a)) <= {0.0, np.float32(1 / 0.75)}
    assert 150 < np.sum(a == 0) < 350
    assert tf.nn.dropout(x, rate=0.0) is x
    with pytest.raises(ValueError):
        tf.nn.dropout(x, rate=1.0)
    mask = tf.nn.dropout(tf.ones([4, 6]), 0.5, noise_shape=[4, 1], seed=1).numpy()
    assert all(len(set(row)) == 1 for row in mask)
    v = tf.Variable(tf.ones([50]))
    with tf.GradientTape() as tape:
        y = tf.nn.dropout(v, 0.5, seed=2)
    np.testing.assert_array_equal(tape.gradient(y, v).numpy(), y.numpy())


def test_embedding_lookup_gradient_is_indexed_slices():
    params = tf.Variable([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(tf.nn.embedding_lookup(params, [2, 0, 2]))
    g = tape.gradient(y, params)
    assert isinstance(g, tf.IndexedSlices)
    np.testing.assert_array_equal(g.indices.numpy(), [2, 0, 2])
    np.testing.assert_array_equal(tf.convert_to_tensor(g).numpy(), [[1, 1], [0, 0], [2, 2]])
    clipped = tf.nn.embedding_lookup(tf.constant([[3.0, 4.0]]), [0], max_norm=1.0)
    np.testing.assert_allclose(clipped.numpy(), [[0.6, 0.8]], rtol=1e-6)
