"""compile/fit/evaluate/predict, custom train_step, progress output and bad input (Keras 3)."""

import io
import sys

import numpy as np
import pytest

import tapegrad as tf
from tests.keras_guides.sections import _custom_model_class

keras = tf.keras


def _linear_model(w, b):
    model = keras.Sequential([keras.Input((w.shape[0],)),
                              keras.layers.Dense(w.shape[1])])
    model.layers[0].set_weights([w, b])
    return model


def _numpy_sgd_losses(x, y, w, b, lr, epochs, batch):
    """Reference: per-epoch mean-squared-error losses of minibatch SGD, written in NumPy."""
    w, b = w.astype(np.float64), b.astype(np.float64)
    out = []
    for _ in range(epochs):
        total, count = 0.0, 0
        for start in range(0, len(x), batch):
            xb, yb = x[start:start + batch], y[start:start + batch]
            err = xb @ w + b - yb
            total += float(np.mean(err ** 2)) * len(xb)
            count += len(xb)
            grad = 2.0 * err / err.size
            w = w - lr * xb.T @ grad
            b = b - lr * grad.sum(0)
        out.append(total / count)
    return out, w, b


@pytest.fixture
def regression():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 3)).astype(np.float32)
    y = (x @ np.array([[1.0], [-2.0], [0.5]]) + 0.3).astype(np.float32)
    w = rng.normal(size=(3, 1)).astype(np.float32) * 0.1
    b = np.zeros(1, np.float32)
    return x, y, w, b


def test_fit_matches_a_numpy_sgd_reference(regression):
    x, y, w, b = regression
    model = _linear_model(w, b)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    history = model.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0)
    expected, w_end, b_end = _numpy_sgd_losses(x, y, w, b, 0.1, 3, 8)
    np.testing.assert_allclose(history.history["loss"], expected, rtol=1e-5)
    np.testing.assert_allclose(model.layers[0].kernel.numpy(), w_end, rtol=1e-4, atol=1e-6)
    assert history.params == {"verbose": 0, "epochs": 3, "steps": 3}
    assert history.epoch == [0, 1, 2] and model.history is history


@pytest.mark.parametrize("kind", ["numpy", "tensor", "dataset", "pydataset", "generator"])
def test_fit_over_each_input_kind_gives_the_same_losses(regression, kind):
    x, y, w, b = regression
    expected, _, _ = _numpy_sgd_losses(x, y, w, b, 0.05, 2, 10)
    model = _linear_model(w, b)
    model.compile(keras.optimizers.SGD(0.05), keras.losses.MeanSquaredError())
    if kind == "numpy":
        history = model.fit(x, y, batch_size=10, epochs=2, shuffle=False, verbose=0)
    elif kind == "tensor":
        history = model.fit(tf.constant(x), tf.constant(y), batch_size=10, epochs=2,
                            shuffle=False, verbose=0)
    elif kind == "dataset":
        data = tf.data.Dataset.from_tensor_slices((x, y)).batch(10)
        history = model.fit(data, epochs=2, verbose=0)
    elif kind == "pydataset":
        class Batches(keras.utils.PyDataset):
            def __len__(self):
                return 2

            def __getitem__(self, i):
                return x[i * 10:(i + 1) * 10], y[i * 10:(i + 1) * 10]
        history = model.fit(Batches(), epochs=2, verbose=0)
    else:
        def batches():
            while True:
                for i in range(2):
                    yield x[i * 10:(i + 1) * 10], y[i * 10:(i + 1) * 10]
        history = model.fit(batches(), epochs=2, steps_per_epoch=2, verbose=0)
    np.testing.assert_allclose(history.history["loss"], expected, rtol=1e-5)


def test_fit_over_dict_inputs_of_a_functional_model():
    a, b = keras.Input((2,), name="a"), keras.Input((1,), name="b")
    merged = keras.layers.Concatenate()([a, b])
    model = keras.Model({"a": a, "b": b}, keras.layers.Dense(1, kernel_initializer="ones",
                                                             use_bias=False)(merged))
    model.compile("sgd", "mae")
    xs = {"a": np.ones((4, 2), np.float32), "b": np.ones((4, 1), np.float32)}
    logs = model.evaluate(xs, np.zeros((4, 1)), verbose=0, return_dict=True)
    assert logs == {"loss": pytest.approx(3.0)}


def test_metric_names_history_keys_and_evaluate_order():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int32)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    assert model.metrics_names == []
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    assert model.metrics_names == ["loss", "compile_metrics"]
    history = model.fit(x, y, epochs=2, batch_size=16, validation_split=0.25, verbose=0)
    assert sorted(history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    loss, accuracy = model.evaluate(x, y, verbose=0)
    probs = model.predict(x, verbose=0)
    reference = -np.mean(np.log(np.clip(probs[np.arange(40), y], 1e-7, 1 - 1e-7)))
    assert loss == pytest.approx(reference, rel=1e-5)
    assert accuracy == pytest.approx(np.mean(probs.argmax(1) == y))
    assert isinstance(model.metrics[1], keras.metrics.Metric)


def test_class_weight_and_sample_weight_weight_the_loss():
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, kernel_initializer="zeros")])
    model.compile("sgd", "mse")
    x = np.zeros((4, 1), np.float32)
    y = np.array([[1.0], [1.0], [0.0], [0.0]], np.float32)
    weights = np.array([3.0, 1.0, 1.0, 1.0], np.float32)
    logs = model.evaluate(x, y, sample_weight=weights, verbose=0, return_dict=True)
    assert logs["loss"] == pytest.approx((3 + 1) / 4)
    labels = np.array([1, 1, 0, 0])
    history = model.fit(x, labels.reshape(-1, 1).astype(np.float32), epochs=1, verbose=0,
                        class_weight={0: 1.0, 1: 2.0}, shuffle=False)
    assert history.history["loss"] == [pytest.approx((2 + 2) / 4)]


def test_on_batch_methods_and_predict_structure(regression):
    x, y, w, b = regression
    model = _linear_model(w, b)
    model.compile(keras.optimizers.SGD(0.0), "mse", metrics=["mae"])
    loss, mae = model.test_on_batch(x, y)
    pred = x @ w + b
    assert loss == pytest.approx(np.mean((pred - y) ** 2), rel=1e-5)
    assert mae == pytest.approx(np.mean(np.abs(pred - y)), rel=1e-5)
    assert model.train_on_batch(x, y, return_dict=True)["loss"] == pytest.approx(loss, rel=1e-5)
    np.testing.assert_allclose(model.predict_on_batch(x), pred, rtol=1e-5)
    np.testing.assert_allclose(model.predict(x, batch_size=7, verbose=0), pred, rtol=1e-5)


def test_custom_train_step_from_the_guide(regression):
    """The train_step of Keras' "Customizing what happens in fit()" guide, checked exactly."""
    x, y, w, b = regression
    inputs = keras.Input((3,))
    dense = keras.layers.Dense(1)
    model = _custom_model_class(keras, tf)(inputs, dense(inputs))
    dense.set_weights([w, b])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse", metrics=["mae"])
    history = model.fit(x, y, batch_size=20, epochs=3, shuffle=False, verbose=0)
    expected, _, _ = _numpy_sgd_losses(x, y, w, b, 0.1, 3, 20)
    np.testing.assert_allclose(history.history["loss"], expected, rtol=1e-5)
    assert sorted(history.history) == ["loss", "mae"]


def test_custom_metrics_and_loss_tracker_in_a_subclass():
    class Tracked(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(1)
            self.loss_tracker = keras.metrics.Mean(name="loss")

        def call(self, x):
            return self.dense(x)

        def train_step(self, data):
            x, y = data
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(self(x, training=True) - y))
            self.optimizer.apply_gradients(zip(tape.gradient(loss, self.trainable_variables),
                                               self.trainable_variables))
            self.loss_tracker.update_state(loss)
            return {"loss": self.loss_tracker.result()}

        @property
        def metrics(self):
            return [self.loss_tracker]

    model = Tracked()
    model.compile(optimizer="adam")
    history = model.fit(np.ones((8, 2)), np.ones((8, 1)), epochs=3, verbose=0)
    losses = history.history["loss"]
    assert len(losses) == 3 and losses[-1] < losses[0]


def test_add_loss_and_regularizers_join_the_training_loss():
    layer = keras.layers.Dense(1, kernel_initializer="ones", use_bias=False,
                               kernel_regularizer=keras.regularizers.L2(0.5))
    model = keras.Sequential([keras.Input((2,)), layer])
    model.compile("sgd", "mse")
    logs = model.evaluate(np.zeros((2, 2)), np.zeros((2, 1)), verbose=0, return_dict=True)
    assert logs["loss"] == pytest.approx(0.5 * 2)          # 0.5 * sum(ones(2, 1) ** 2)


def test_progress_output_like_keras(regression, monkeypatch):
    x, y, w, b = regression
    model = _linear_model(w, b)
    model.compile("sgd", "mse", metrics=["mae"])
    buffer = io.StringIO()
    monkeypatch.setattr(sys, "stdout", buffer)
    model.fit(x, y, batch_size=10, epochs=2, verbose=1)
    text = buffer.getvalue()
    assert text.startswith("Epoch 1/2\n2/2 ")
    assert "\r" not in text and text.count("\n") == 4       # one line per epoch off a tty
    assert " - loss: " in text and " - mae: " in text and "/step" in text
    buffer.truncate(0)
    buffer.seek(0)
    model.fit(x, y, batch_size=10, epochs=1, verbose=2)
    lines = buffer.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("2/2 - ")
    buffer.truncate(0)
    buffer.seek(0)
    model.fit(x, y, epochs=1, verbose=0)
    assert buffer.getvalue() == ""


def test_progress_bar_redraws_in_place_on_a_terminal(regression, monkeypatch):
    x, y, w, b = regression
    model = _linear_model(w, b)
    model.compile("sgd", "mse")
    buffer = io.StringIO()
    buffer.isatty = lambda: True
    monkeypatch.setattr(sys, "stdout", buffer)
    model.fit(x, y, batch_size=2, epochs=1, verbose=1)
    text = buffer.getvalue()
    assert text.startswith("\r") and text.endswith("\n") and text.count("\n") == 1
    assert "10/10 ━━━━━━━━━━━━━━━━━━━━" in text


def test_bad_input_raises_keras_errors(regression):
    x, y, w, b = regression
    model = _linear_model(w, b)
    with pytest.raises(ValueError, match=r"You must call `compile\(\)` before using the model"):
        model.fit(x, y)
    with pytest.raises(ValueError, match="Could not interpret optimizer identifier: 'adamx'"):
        model.compile("adamx", "mse")
    with pytest.raises(ValueError, match="Could not interpret loss identifier: msex"):
        model.compile("adam", "msex")
    with pytest.raises(ValueError, match="Could not interpret metric identifier: nope"):
        model.compile("adam", "mse", metrics=["nope"])
    model.compile("sgd", "mse")
    with pytest.raises(ValueError, match=r"Data cardinality is ambiguous.*'x' sizes: 20\n'y' "
                                         r"sizes: 5"):
        model.fit(x, y[:5], verbose=0)
    with pytest.raises(ValueError, match=r"expected shape=\(None, 3\), found shape=\(4, 5\)"):
        model.fit(np.zeros((4, 5)), np.zeros((4, 1)), verbose=0)
    unbuilt = keras.Sequential([keras.layers.Dense(1)])
    unbuilt.compile("sgd", "mse")
    unbuilt.fit(np.zeros((4, 3)), np.zeros((4, 1)), verbose=0)
    with pytest.raises(ValueError, match="expected axis -1 of input shape to have value 3"):
        unbuilt.fit(np.zeros((4, 5)), np.zeros((4, 1)), verbose=0)
    with pytest.raises(ValueError, match="`y` should not be passed"):
        model.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(4), y, verbose=0)
    with pytest.raises(ValueError, match="validation_split` is only supported for Tensors"):
        model.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(4), validation_split=0.5)


def test_bad_losses_name_the_fix():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])

    def over_the_batch(y_true, y_pred):
        return tf.reduce_mean(y_pred, axis=0)

    model.compile("sgd", over_the_batch)
    with pytest.raises(tf.errors.InvalidArgumentError, match="one value per example"):
        model.fit(np.zeros((8, 3)), np.zeros((8, 2)), sample_weight=np.ones(8), verbose=0)
    model.compile("sgd", lambda y_true, y_pred: None)
    with pytest.raises(ValueError, match="returned None"):
        model.fit(np.zeros((8, 3)), np.zeros((8, 2)), verbose=0)
    model.compile("sgd", "sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="for one-hot labels use categorical_crossentropy"):
        model.fit(np.zeros((8, 3)), np.zeros((8, 2)), verbose=0)


def test_initial_epoch_and_validation_freq():
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    x = np.ones((4, 1), np.float32)
    history = model.fit(x, x, epochs=5, initial_epoch=2, verbose=0, validation_data=(x, x),
                        validation_freq=2)
    assert history.epoch == [2, 3, 4]
    assert len(history.history["loss"]) == 3
    assert len(history.history["val_loss"]) == 1        # only "Epoch 4/5" (index 3) validates


def test_functional_model_input_shape_error():
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    with pytest.raises(ValueError, match=r"expected shape=\(None, 3\), found shape=\(2, 4\)"):
        model(np.zeros((2, 4), np.float32))
