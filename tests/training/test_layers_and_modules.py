"""Layers, models and Module: lazy building, training vs inference, seeds, summaries."""

import numpy as np
import pytest

import tapegrad as tf


def test_module_collects_variables_recursively():
    class Inner(tf.Module):
        def __init__(self):
            super().__init__()
            self.w = tf.Variable(1.0, name="w")
            self.frozen = tf.Variable(2.0, trainable=False, name="f")

    class Outer(tf.Module):
        def __init__(self):
            super().__init__(name="outer")
            self.blocks = [Inner(), {"z": Inner()}]
            self.shared = self.blocks[0].w          # the same variable twice: listed once
            self.b = tf.Variable(0.0, name="b")

    outer = Outer()
    assert outer.name == "outer"
    assert len(outer.variables) == 5
    assert len(outer.trainable_variables) == 3
    assert [type(m).__name__ for m in outer.submodules] == ["Inner", "Inner"]
    assert outer.name_scope.name == "outer/"
    with pytest.raises(ValueError, match="valid module name"):
        tf.Module(name="not valid!")


def test_layers_build_lazily_from_the_first_input():
    dense = tf.keras.layers.Dense(3)
    assert not dense.built and dense.trainable_variables == []
    dense(tf.ones([2, 5]))
    assert dense.built and dense.kernel.shape == (5, 3)
    assert [v.name for v in dense.weights] == ["kernel", "bias"]


def test_float64_numpy_inputs_are_cast_to_the_layer_dtype():
    out = tf.keras.layers.Dense(2)(np.ones((1, 3)))
    assert out.dtype == tf.float32


def test_dropout_only_in_training_and_scales_kept_values():
    tf.random.set_seed(0)
    drop = tf.keras.layers.Dropout(0.25)
    x = tf.ones([4000])
    assert np.array_equal(drop(x).numpy(), np.ones(4000))
    assert np.array_equal(drop(x, training=False).numpy(), np.ones(4000))
    y = drop(x, training=True).numpy()
    np.testing.assert_allclose(np.unique(y), [0.0, 1 / 0.75], rtol=1e-6)
    assert abs((y == 0).mean() - 0.25) < 0.03


def test_training_flag_reaches_nested_layers():
    model = tf.keras.Sequential([tf.keras.layers.Dropout(0.5, seed=3)])
    x = tf.ones([200])
    assert (model(x, training=True).numpy() == 0).any()
    assert (model(x).numpy() == 1).all()


def test_batch_normalization_training_vs_inference():
    bn = tf.keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-3)
    x = np.array([[1.0, 10.0], [3.0, 14.0], [5.0, 6.0]], np.float32)
    inference = bn(x).numpy()                      # moving mean 0, variance 1
    np.testing.assert_allclose(inference, x / np.sqrt(1 + 1e-3), rtol=1e-6)
    assert bn.moving_mean.numpy().tolist() == [0.0, 0.0]   # inference leaves them alone

    trained = bn(x, training=True).numpy()
    mean, var = x.mean(0), x.var(0)
    np.testing.assert_allclose(trained, (x - mean) / np.sqrt(var + 1e-3), rtol=1e-5)
    np.testing.assert_allclose(bn.moving_mean.numpy(), 0.1 * mean, rtol=1e-6)
    np.testing.assert_allclose(bn.moving_variance.numpy(), 0.9 + 0.1 * var, rtol=1e-6)
    assert [v.name for v in bn.trainable_variables] == ["gamma", "beta"]
    assert [v.name for v in bn.non_trainable_variables] == ["moving_mean", "moving_variance"]


def test_batch_normalization_gradient_matches_finite_differences():
    bn = tf.keras.layers.BatchNormalization()
    x = tf.Variable(np.random.default_rng(0).normal(size=(4, 3)))
    bn = tf.keras.layers.BatchNormalization(dtype="float64")
    weights = tf.constant(np.arange(12.0).reshape(4, 3))

    def loss_at(value):
        return float(tf.reduce_sum(bn(tf.constant(value), training=True) * weights))

    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(bn(x, training=True) * weights)
    grad = tape.gradient(loss, x).numpy()
    base = x.numpy()
    numeric = np.zeros_like(base)
    for i in np.ndindex(base.shape):
        step = np.zeros_like(base)
        step[i] = 1e-6
        numeric[i] = (loss_at(base + step) - loss_at(base - step)) / 2e-6
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-6)


def test_seeded_initializers_and_global_seed_are_reproducible():
    init = tf.keras.initializers.GlorotUniform(seed=7)
    assert np.array_equal(init((3, 4)).numpy(), init((3, 4)).numpy())
    limit = np.sqrt(6 / (3 + 4))
    assert np.abs(init((3, 4)).numpy()).max() <= limit

    def build():
        tf.random.set_seed(42)
        model = tf.keras.Sequential([tf.keras.layers.Dense(4), tf.keras.layers.Dense(1)])
        model(tf.ones([1, 2]))
        return [v.numpy() for v in model.variables]

    for a, b in zip(build(), build()):
        np.testing.assert_array_equal(a, b)


def test_he_normal_scale():
    values = tf.keras.initializers.HeNormal(seed=1)((400, 300)).numpy()
    assert abs(values.std() - np.sqrt(2 / 400)) < 0.05 * np.sqrt(2 / 400)
    assert tf.keras.initializers.Zeros()((2,)).numpy().tolist() == [0.0, 0.0]
    rn = tf.keras.initializers.RandomNormal(mean=1.0, stddev=0.1, seed=2)((2000,)).numpy()
    assert abs(rn.mean() - 1.0) < 0.02


def test_subclassed_model_and_summary(capsys):
    class Net(tf.keras.Model):
        def __init__(self):
            super().__init__()
            self.hidden = tf.keras.layers.Dense(8, activation="relu")
            self.out = tf.keras.layers.Dense(2)

        def call(self, x, training=False):
            return self.out(self.hidden(x))

    net = Net()
    net(tf.ones([3, 4]))
    assert len(net.trainable_variables) == 4
    assert net.count_params() == 4 * 8 + 8 + 8 * 2 + 2
    net.summary()
    text = capsys.readouterr().out
    assert "Total params: 58" in text and "Dense" in text


def test_sequential_built_from_input_shape():
    model = tf.keras.Sequential([tf.keras.Input(shape=(8, 8, 1)),
                                 tf.keras.layers.Conv2D(4, 3, padding="same"),
                                 tf.keras.layers.MaxPooling2D(),
                                 tf.keras.layers.Flatten(),
                                 tf.keras.layers.Dense(3)])
    assert model.built
    assert model.layers[0].kernel.shape == (3, 3, 1, 4)
    assert model(np.zeros((2, 8, 8, 1), np.float32)).shape == (2, 3)


def test_set_weights_validates_everything_first():
    dense = tf.keras.layers.Dense(2)
    dense(tf.ones([1, 3]))
    before = [w.copy() for w in dense.get_weights()]
    with pytest.raises(ValueError, match="shape"):
        dense.set_weights([np.ones((3, 2)), np.ones(5)])
    for a, b in zip(before, dense.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_losses_and_metrics_basics():
    loss = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="sum")
    logits = np.array([[2.0, 0.0], [0.0, 0.0]], np.float32)
    expected = np.log(1 + np.exp(-2.0)) + np.log(2.0)
    assert float(loss([0, 1], logits)) == pytest.approx(expected, rel=1e-6)
    with pytest.raises(ValueError, match="reduction"):
        tf.keras.losses.MeanSquaredError(reduction="average")
    acc = tf.keras.metrics.CategoricalAccuracy()
    acc.update_state([[0, 1], [1, 0]], [[0.3, 0.7], [0.2, 0.8]])
    assert float(acc.result()) == 0.5
    acc.reset_state()
    assert float(acc.result()) == 0.0
