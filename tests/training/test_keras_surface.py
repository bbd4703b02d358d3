"""The rest of the Keras 3 surface: keras.ops, keras.random, keras.utils, regularizers,
applications, more layers, and operators on symbolic tensors."""

import numpy as np
import pytest

import tapegrad as tf

keras = tf.keras
ops = keras.ops
RNG = np.random.default_rng(0)
A = RNG.normal(size=(3, 4)).astype(np.float32)
B = RNG.normal(size=(4, 2)).astype(np.float32)


@pytest.mark.parametrize("name,args,expected", [
    ("mean", (A,), A.mean()), ("sum", (A, 1), A.sum(1)), ("max", (A, 0), A.max(0)),
    ("min", (A,), A.min()), ("matmul", (A, B), A @ B), ("dot", (A, B), A @ B),
    ("square", (A,), A ** 2), ("abs", (A,), np.abs(A)), ("exp", (A,), np.exp(A)),
    ("maximum", (A, 0.0), np.maximum(A, 0)), ("clip", (A, -0.5, 0.5), np.clip(A, -0.5, 0.5)),
    ("concatenate", ([A, A], 1), np.concatenate([A, A], 1)),
    ("stack", ([A, A],), np.stack([A, A])), ("transpose", (A,), A.T),
    ("reshape", (A, (2, 6)), A.reshape(2, 6)), ("expand_dims", (A, 0), A[None]),
    ("argmax", (A, 1), A.argmax(1)), ("argmin", (A,), A.argmin()),
    ("where", (A > 0, A, 0.0), np.where(A > 0, A, 0)), ("relu", (A,), np.maximum(A, 0)),
    ("softmax", (A,), np.exp(A) / np.exp(A).sum(-1, keepdims=True)),
    ("one_hot", (np.array([0, 2]), 3), np.eye(3)[[0, 2]]),
    ("var", (A, 0), A.var(0)), ("std", (A,), A.std()),
    ("split", (A, [1, 3], 1), np.split(A, [1, 3], 1)),
])
def test_ops_match_numpy(name, args, expected):
    result = getattr(ops, name)(*args)
    if isinstance(expected, list):
        for got, want in zip(result, expected):
            np.testing.assert_allclose(ops.convert_to_numpy(got), want, rtol=1e-5, atol=1e-6)
    else:
        np.testing.assert_allclose(ops.convert_to_numpy(result), expected, rtol=1e-5,
                                   atol=1e-6)


def test_ops_are_differentiable_and_shape_is_a_tuple():
    x = tf.Variable(A)
    with tf.GradientTape() as tape:
        loss = ops.sum(ops.square(ops.matmul(x, B)))
    np.testing.assert_allclose(tape.gradient(loss, x).numpy(), 2 * (A @ B) @ B.T, rtol=1e-5)
    assert ops.shape(A) == (3, 4)


def test_operators_and_ops_on_symbolic_tensors_become_graph_nodes():
    a, b = keras.Input((3,)), keras.Input((3,))
    mixed = (a + b) * 2.0 - ops.mean(a, axis=-1, keepdims=True)
    model = keras.Model([a, b], [mixed, mixed[:, 0], -a / 2.0])
    assert [t.shape for t in model.outputs] == [(None, 3), (None,), (None, 3)]
    assert model.layers[2:] == []          # operations are not layers
    x, y = RNG.normal(size=(2, 3)), RNG.normal(size=(2, 3))
    expected = (x + y) * 2 - x.mean(-1, keepdims=True)
    out = model([x.astype(np.float32), y.astype(np.float32)])
    np.testing.assert_allclose(out[0].numpy(), expected, rtol=1e-5)
    np.testing.assert_allclose(out[1].numpy(), expected[:, 0], rtol=1e-5)
    with pytest.raises(NotImplementedError, match="wrap them in layers"):
        model.get_config()
    with pytest.raises(TypeError, match="cannot be converted to a NumPy array"):
        np.asarray(a)


def test_random_seed_generator_and_distributions():
    first = keras.random.normal((1000,), seed=keras.random.SeedGenerator(3)).numpy()
    again = keras.random.normal((1000,), seed=keras.random.SeedGenerator(3)).numpy()
    np.testing.assert_array_equal(first, again)
    assert abs(first.mean()) < 0.1 and abs(first.std() - 1) < 0.1
    gen = keras.random.SeedGenerator(3)
    assert not np.array_equal(keras.random.uniform((5,), seed=gen).numpy(),
                              keras.random.uniform((5,), seed=gen).numpy())
    u = keras.random.uniform((1000,), minval=2, maxval=3, seed=1).numpy()
    assert u.min() >= 2 and u.max() < 3 and u.dtype == np.float32
    t = keras.random.truncated_normal((1000,), seed=1).numpy()
    assert np.abs(t).max() <= 2
    ints = keras.random.randint((100,), 0, 5, seed=1).numpy()
    assert set(ints.tolist()) <= set(range(5)) and ints.dtype == np.int32
    with pytest.raises(ValueError, match="Argument `seed` must be"):
        keras.random.normal((2,), seed="x")


def test_utils_to_categorical_set_random_seed_and_pack():
    np.testing.assert_array_equal(keras.utils.to_categorical([[1], [0]], 3),
                                  [[0, 1, 0], [1, 0, 0]])
    with pytest.raises(ValueError, match="labels must lie in"):
        keras.utils.to_categorical([3], 2)
    keras.utils.set_random_seed(5)
    a = np.random.random()
    keras.utils.set_random_seed(5)
    assert np.random.random() == a
    assert keras.utils.unpack_x_y_sample_weight((1, 2, 3)) == (1, 2, 3)
    assert keras.utils.pack_x_y_sample_weight(1, None, None) == 1


def test_regularizers_values_and_configs():
    w = np.array([[1.0, -2.0], [3.0, 0.5]], np.float32)
    assert float(keras.regularizers.L1(0.1)(tf.constant(w))) == pytest.approx(0.65)
    assert float(keras.regularizers.L2(0.1)(tf.constant(w))) == pytest.approx(1.425)
    both = keras.regularizers.L1L2(l1=0.1, l2=0.1)
    assert float(both(tf.constant(w))) == pytest.approx(2.075)
    assert keras.regularizers.get("l2").get_config() == {"l2": 0.01}
    assert isinstance(keras.regularizers.deserialize(keras.regularizers.serialize(both)),
                      keras.regularizers.L1L2)
    with pytest.raises(ValueError, match="non-negative"):
        keras.regularizers.L2(-1.0)


def test_vgg_param_counts_match_keras():
    # Keras' documented counts: VGG16 conv base 14,714,688; VGG19 conv base 20,024,384.
    assert keras.applications.VGG16(weights=None, include_top=False,
                                    input_shape=(32, 32, 3)).count_params() == 14714688
    vgg19 = keras.applications.VGG19(weights=None, include_top=False, pooling="avg",
                                     input_shape=(32, 32, 3))
    assert vgg19.count_params() == 20024384 and vgg19.output.shape == (None, 512)
    assert vgg19.get_layer("block5_conv4").output.shape == (None, 2, 2, 512)
    with pytest.raises(ValueError, match="weights=None"):
        keras.applications.VGG16()


def _numpy_lstm(x, kernel, recurrent, bias, units):
    def sigmoid(v):
        return 1 / (1 + np.exp(-v))
    h = np.zeros((x.shape[0], units))
    c = np.zeros((x.shape[0], units))
    for t in range(x.shape[1]):
        z = x[:, t] @ kernel + h @ recurrent + bias
        i, f, g, o = np.split(z, 4, axis=-1)
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
    return h


def _numpy_gru(x, kernel, recurrent, bias, units):
    def sigmoid(v):
        return 1 / (1 + np.exp(-v))
    h = np.zeros((x.shape[0], units))
    for t in range(x.shape[1]):
        xz, xr, xh = np.split(x[:, t] @ kernel + bias[0], 3, axis=-1)
        rz, rr, rh = np.split(h @ recurrent + bias[1], 3, axis=-1)
        z, r = sigmoid(xz + rz), sigmoid(xr + rr)
        h = z * h + (1 - z) * np.tanh(xh + r * rh)
    return h


def test_recurrent_layers_match_numpy_and_train():
    x = RNG.normal(size=(2, 5, 3)).astype(np.float32)
    lstm = keras.layers.LSTM(4)
    out = lstm(x).numpy()
    np.testing.assert_allclose(out, _numpy_lstm(x, *lstm.get_weights(), 4), rtol=1e-5,
                               atol=1e-6)
    assert lstm.get_weights()[2][4:8].tolist() == [1.0] * 4        # unit forget bias
    gru = keras.layers.GRU(4)
    np.testing.assert_allclose(gru(x).numpy(), _numpy_gru(x, *gru.get_weights(), 4),
                               rtol=1e-5, atol=1e-6)
    rnn = keras.layers.SimpleRNN(4, return_sequences=True, return_state=True)
    sequences, state = rnn(x)
    assert tuple(sequences.shape) == (2, 5, 4)
    np.testing.assert_allclose(sequences.numpy()[:, -1], state.numpy())
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(lstm(x))
    grads = tape.gradient(loss, lstm.trainable_weights)
    assert all(g is not None and np.isfinite(g.numpy()).all() for g in grads)


def test_conv_transpose_is_the_adjoint_of_conv():
    x = RNG.normal(size=(1, 5, 5, 2)).astype(np.float32)
    y = RNG.normal(size=(1, 2, 2, 4)).astype(np.float32)
    conv = keras.layers.Conv2D(4, 3, strides=2, use_bias=False)
    conv(x)
    transposed = keras.layers.Conv2DTranspose(2, 3, strides=2, use_bias=False)
    assert tuple(transposed(y).shape) == (1, 5, 5, 2)
    transposed.set_weights(conv.get_weights())
    # <conv(x), y> == <x, conv_transpose(y)>
    left = np.sum(conv(x).numpy() * y)
    right = np.sum(x * transposed(y).numpy())
    assert left == pytest.approx(right, rel=1e-4)


def test_normalization_adapt_and_merge_layers():
    data = RNG.normal(loc=3.0, scale=2.0, size=(200, 2)).astype(np.float32)
    norm = keras.layers.Normalization()
    norm.adapt(data)
    out = norm(data).numpy()
    np.testing.assert_allclose(out.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(0), 1, rtol=1e-4)
    a, b = np.ones((2, 3), np.float32), np.full((2, 3), 3.0, np.float32)
    layers = keras.layers
    np.testing.assert_allclose(layers.average([a, b]).numpy(), 2.0)
    np.testing.assert_allclose(layers.multiply([a, b]).numpy(), 3.0)
    np.testing.assert_allclose(layers.maximum([a, b]).numpy(), 3.0)
    np.testing.assert_allclose(layers.subtract([a, b]).numpy(), -2.0)
    np.testing.assert_allclose(layers.Rescaling(1 / 255.0)(np.array([255], np.uint8)).numpy(),
                               [1.0])
    with pytest.raises(ValueError, match="should be called on a list of inputs"):
        layers.Add()(a)
    with pytest.raises(ValueError, match="no longer supported"):
        layers.LeakyReLU(alpha=0.1)


def test_tensorboard_and_datasets_say_what_to_do_instead():
    with pytest.raises(NotImplementedError, match="CSVLogger"):
        keras.callbacks.TensorBoard(log_dir="logs")
    with pytest.raises(RuntimeError, match="tapegrad downloads nothing"):
        keras.datasets.mnist.load_data()
