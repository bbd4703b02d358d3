"""The sections of the keras-io guides (Keras 3 versions), rewritten as checks.

Each section is a function ``section(keras, tf)`` run once with real Keras 3 / TensorFlow
(``record_tf.py``) and once with ``tapegrad.keras`` / ``tapegrad`` (``test_guides.py``). The
guides' downloads are replaced by seeded synthetic data of the same shapes (smaller), epochs
are shrunk and plots skipped; checks are what random initialisation leaves deterministic:
shapes, parameter counts, history keys, metric names, losses that fall.
"""

import numpy as np

SECTIONS = {}


def section(guide):
    def register(fn):
        SECTIONS[f"{guide}::{fn.__name__}"] = fn
        return fn
    return register


def _mnist(n=256, seed=0):
    """MNIST-shaped vectors: class k lights up its own block of pixels, plus noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, size=n)
    x = rng.uniform(0, 0.3, size=(n, 784)).astype("float32")
    for k in range(10):
        x[y == k, k * 78:(k + 1) * 78] += 0.7
    return x, y.astype("int32")


def _images(n, shape, classes, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.uniform(size=(n,) + shape).astype("float32"),
            rng.integers(0, classes, size=n).astype("int32"))


def _falls(losses):
    assert losses[-1] < losses[0], f"loss did not fall: {losses}"


# --- functional_api.py ---------------------------------------------------------------------------

def _mnist_model(keras, name="mnist_model"):
    layers = keras.layers
    inputs = keras.Input(shape=(784,))
    x = layers.Dense(64, activation="relu")(inputs)
    x = layers.Dense(64, activation="relu")(x)
    outputs = layers.Dense(10)(x)
    return keras.Model(inputs=inputs, outputs=outputs, name=name)


@section("functional_api")
def introduction(keras, tf):
    inputs = keras.Input(shape=(784,))
    assert tuple(inputs.shape) == (None, 784)
    assert str(inputs.dtype).endswith("float32")
    img_inputs = keras.Input(shape=(32, 32, 3))
    assert tuple(img_inputs.shape) == (None, 32, 32, 3)
    model = _mnist_model(keras)
    lines = []
    model.summary(print_fn=lambda line, *a, **k: lines.append(line))
    text = "\n".join(lines)
    assert "Total params: 55,050" in text and '"mnist_model"' in text
    assert "(None, 64)" in text and "(None, 10)" in text


@section("functional_api")
def training_evaluation_inference(keras, tf):
    x_train, y_train = _mnist(400)
    x_test, y_test = _mnist(100, seed=1)
    model = _mnist_model(keras)
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  optimizer=keras.optimizers.RMSprop(), metrics=["accuracy"])
    history = model.fit(x_train, y_train, batch_size=64, epochs=2, validation_split=0.2,
                        verbose=0)
    assert sorted(history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    _falls(history.history["loss"])
    test_scores = model.evaluate(x_test, y_test, verbose=0)
    assert len(test_scores) == 2 and test_scores[1] > 0.5


@section("functional_api")
def save_and_serialize(keras, tf, tmp=None):
    import os
    import tempfile
    model = _mnist_model(keras)
    model.compile(loss="sparse_categorical_crossentropy", optimizer="rmsprop")
    path = os.path.join(tempfile.mkdtemp(), "path_to_my_model.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    x = np.ones((2, 784), "float32")
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), rtol=1e-5)


def _encoder(keras, name):
    layers = keras.layers
    encoder_input = keras.Input(shape=(28, 28, 1), name=name)
    x = layers.Conv2D(16, 3, activation="relu")(encoder_input)
    x = layers.Conv2D(32, 3, activation="relu")(x)
    x = layers.MaxPooling2D(3)(x)
    x = layers.Conv2D(32, 3, activation="relu")(x)
    x = layers.Conv2D(16, 3, activation="relu")(x)
    return encoder_input, layers.GlobalMaxPooling2D()(x)


def _decoder_stack(keras, x):
    layers = keras.layers
    x = layers.Reshape((4, 4, 1))(x)
    x = layers.Conv2DTranspose(16, 3, activation="relu")(x)
    x = layers.Conv2DTranspose(32, 3, activation="relu")(x)
    x = layers.UpSampling2D(3)(x)
    x = layers.Conv2DTranspose(16, 3, activation="relu")(x)
    return layers.Conv2DTranspose(1, 3, activation="relu")(x)


@section("functional_api")
def same_graph_several_models(keras, tf):
    encoder_input, encoder_output = _encoder(keras, "img")
    encoder = keras.Model(encoder_input, encoder_output, name="encoder")
    assert encoder.count_params() == 18672
    autoencoder = keras.Model(encoder_input, _decoder_stack(keras, encoder_output),
                              name="autoencoder")
    assert tuple(autoencoder.output.shape) == (None, 28, 28, 1)
    assert autoencoder.count_params() == 28241


@section("functional_api")
def models_are_callable(keras, tf):
    layers = keras.layers
    encoder_input, encoder_output = _encoder(keras, "original_img")
    encoder = keras.Model(encoder_input, encoder_output, name="encoder")
    decoder_input = keras.Input(shape=(16,), name="encoded_img")
    decoder = keras.Model(decoder_input, _decoder_stack(keras, decoder_input), name="decoder")
    autoencoder_input = keras.Input(shape=(28, 28, 1), name="img")
    decoded = decoder(encoder(autoencoder_input))
    autoencoder = keras.Model(autoencoder_input, decoded, name="autoencoder")
    assert autoencoder.count_params() == encoder.count_params() + decoder.count_params()
    out = autoencoder(np.zeros((2, 28, 28, 1), "float32"))
    assert tuple(out.shape) == (2, 28, 28, 1)

    def get_model():
        inputs = keras.Input(shape=(128,))
        return keras.Model(inputs, layers.Dense(1)(inputs))

    models = [get_model() for _ in range(3)]
    inputs = keras.Input(shape=(128,))
    outputs = layers.average([m(inputs) for m in models])
    ensemble = keras.Model(inputs=inputs, outputs=outputs)
    x = np.random.default_rng(0).normal(size=(4, 128)).astype("float32")
    expected = np.mean([np.asarray(m(x)) for m in models], axis=0)
    np.testing.assert_allclose(np.asarray(ensemble(x)), expected, rtol=1e-5, atol=1e-6)


def _ticket_model(keras, num_tags=12, num_words=1000, num_departments=4):
    layers = keras.layers
    title_input = keras.Input(shape=(None,), name="title")
    body_input = keras.Input(shape=(None,), name="body")
    tags_input = keras.Input(shape=(num_tags,), name="tags")
    title_features = layers.LSTM(16)(layers.Embedding(num_words, 8)(title_input))
    body_features = layers.LSTM(8)(layers.Embedding(num_words, 8)(body_input))
    x = layers.concatenate([title_features, body_features, tags_input])
    priority_pred = layers.Dense(1, name="priority")(x)
    department_pred = layers.Dense(num_departments, name="department")(x)
    return keras.Model(inputs=[title_input, body_input, tags_input],
                       outputs=[priority_pred, department_pred])


@section("functional_api")
def multiple_inputs_and_outputs(keras, tf):
    model = _ticket_model(keras)
    model.compile(optimizer=keras.optimizers.RMSprop(1e-3),
                  loss=[keras.losses.BinaryCrossentropy(from_logits=True),
                        keras.losses.CategoricalCrossentropy(from_logits=True)],
                  loss_weights=[1.0, 0.2])
    model.compile(optimizer=keras.optimizers.RMSprop(1e-3),
                  loss={"priority": keras.losses.BinaryCrossentropy(from_logits=True),
                        "department": keras.losses.CategoricalCrossentropy(from_logits=True)},
                  loss_weights={"priority": 1.0, "department": 0.2})
    rng = np.random.default_rng(0)
    title_data = rng.integers(1000, size=(64, 10))
    body_data = rng.integers(1000, size=(64, 20))
    tags_data = rng.integers(2, size=(64, 12)).astype("float32")
    priority_targets = rng.random(size=(64, 1))
    dept_targets = rng.integers(2, size=(64, 4))
    history = model.fit({"title": title_data, "body": body_data, "tags": tags_data},
                        {"priority": priority_targets, "department": dept_targets},
                        epochs=2, batch_size=32, verbose=0)
    assert sorted(history.history) == ["department_loss", "loss", "priority_loss"]


@section("functional_api")
def toy_resnet(keras, tf):
    layers = keras.layers
    inputs = keras.Input(shape=(32, 32, 3), name="img")
    x = layers.Conv2D(32, 3, activation="relu")(inputs)
    x = layers.Conv2D(64, 3, activation="relu")(x)
    block_1_output = layers.MaxPooling2D(3)(x)
    x = layers.Conv2D(64, 3, activation="relu", padding="same")(block_1_output)
    x = layers.Conv2D(64, 3, activation="relu", padding="same")(x)
    block_2_output = layers.add([x, block_1_output])
    x = layers.Conv2D(64, 3, activation="relu", padding="same")(block_2_output)
    x = layers.Conv2D(64, 3, activation="relu", padding="same")(x)
    block_3_output = layers.add([x, block_2_output])
    x = layers.Conv2D(64, 3, activation="relu")(block_3_output)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(256, activation="relu")(x)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(10)(x)
    model = keras.Model(inputs, outputs, name="toy_resnet")
    assert model.count_params() == 223242
    x_train, y_train = _images(40, (32, 32, 3), 10)
    y_train = keras.utils.to_categorical(y_train, 10)
    model.compile(optimizer=keras.optimizers.RMSprop(1e-3),
                  loss=keras.losses.CategoricalCrossentropy(from_logits=True), metrics=["acc"])
    history = model.fit(x_train, y_train, batch_size=16, epochs=1, validation_split=0.2,
                        verbose=0)
    assert sorted(history.history) == ["acc", "loss", "val_acc", "val_loss"]


@section("functional_api")
def shared_layers(keras, tf):
    layers = keras.layers
    shared_embedding = layers.Embedding(1000, 128)
    text_input_a = keras.Input(shape=(None,), dtype="int32")
    text_input_b = keras.Input(shape=(None,), dtype="int32")
    encoded_input_a = shared_embedding(text_input_a)
    encoded_input_b = shared_embedding(text_input_b)
    model = keras.Model([text_input_a, text_input_b], [encoded_input_a, encoded_input_b])
    assert model.count_params() == 128000
    a, b = model([np.array([[1, 2]]), np.array([[1, 5, 9]])])
    np.testing.assert_allclose(np.asarray(a)[0, 0], np.asarray(b)[0, 0])


@section("functional_api")
def extract_and_reuse_nodes(keras, tf):
    vgg19 = keras.applications.VGG19(weights=None, include_top=False, input_shape=(32, 32, 3))
    features_list = [layer.output for layer in vgg19.layers]
    feat_extraction_model = keras.Model(inputs=vgg19.input, outputs=features_list)
    img = np.random.random((1, 32, 32, 3)).astype("float32")
    extracted_features = feat_extraction_model(img)
    assert len(extracted_features) == 22
    assert tuple(extracted_features[-1].shape) == (1, 1, 1, 512)


def _custom_dense(keras, tf):
    class CustomDense(keras.layers.Layer):
        def __init__(self, units=32, **kwargs):
            super().__init__(**kwargs)
            self.units = units

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], self.units),
                                     initializer="random_normal", trainable=True)
            self.b = self.add_weight(shape=(self.units,), initializer="random_normal",
                                     trainable=True)

        def call(self, inputs):
            return keras.ops.matmul(inputs, self.w) + self.b

        def get_config(self):
            return {**super().get_config(), "units": self.units}
    return CustomDense


@section("functional_api")
def extend_the_api_with_custom_layers(keras, tf):
    CustomDense = _custom_dense(keras, tf)  # noqa: N806 - the guide's class name
    inputs = keras.Input((4,))
    outputs = CustomDense(10)(inputs)
    model = keras.Model(inputs, outputs)
    config = model.get_config()
    new_model = keras.Model.from_config(config, custom_objects={"CustomDense": CustomDense})
    assert new_model.count_params() == model.count_params() == 50


@section("functional_api")
def mix_and_match_api_styles(keras, tf):
    layers = keras.layers
    units, timesteps, input_dim = 32, 10, 5
    inputs = keras.Input((None, units))
    x = layers.GlobalAveragePooling1D()(inputs)
    outputs = layers.Dense(1)(x)
    model = keras.Model(inputs, outputs)

    class CustomRNN(layers.Layer):
        def __init__(self):
            super().__init__()
            self.units = units
            self.projection_1 = layers.Dense(units=units, activation="tanh")
            self.projection_2 = layers.Dense(units=units, activation="tanh")
            self.classifier = model

        def call(self, inputs):
            outputs = []
            state = keras.ops.zeros(shape=(inputs.shape[0], self.units))
            for t in range(inputs.shape[1]):
                x = inputs[:, t, :]
                h = self.projection_1(x)
                y = h + self.projection_2(state)
                state = y
                outputs.append(y)
            features = keras.ops.stack(outputs, axis=1)
            return self.classifier(features)

    rnn_model = CustomRNN()
    out = rnn_model(keras.ops.zeros((1, timesteps, input_dim)))
    assert tuple(out.shape) == (1, 1)


# --- training_with_built_in_methods.py ----------------------------------------------------------

def _uncompiled(keras):
    layers = keras.layers
    inputs = keras.Input(shape=(784,), name="digits")
    x = layers.Dense(64, activation="relu", name="dense_1")(inputs)
    x = layers.Dense(64, activation="relu", name="dense_2")(x)
    outputs = layers.Dense(10, activation="softmax", name="predictions")(x)
    return keras.Model(inputs=inputs, outputs=outputs)


def _compiled(keras):
    model = _uncompiled(keras)
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy",
                  metrics=["sparse_categorical_accuracy"])
    return model


@section("training_with_built_in_methods")
def api_overview(keras, tf):
    x, y = _mnist(300)
    x_val, y_val = _mnist(60, seed=2)
    model = _uncompiled(keras)
    model.compile(optimizer=keras.optimizers.RMSprop(),
                  loss=keras.losses.SparseCategoricalCrossentropy(),
                  metrics=[keras.metrics.SparseCategoricalAccuracy()])
    history = model.fit(x, y, batch_size=64, epochs=2, validation_data=(x_val, y_val),
                        verbose=0)
    assert sorted(history.history) == ["loss", "sparse_categorical_accuracy", "val_loss",
                                       "val_sparse_categorical_accuracy"]
    results = model.evaluate(x_val, y_val, batch_size=128, verbose=0)
    assert len(results) == 2
    predictions = model.predict(x_val[:3], verbose=0)
    assert predictions.shape == (3, 10)


@section("training_with_built_in_methods")
def compile_with_strings(keras, tf):
    model = _compiled(keras)
    x, y = _mnist(128)
    history = model.fit(x, y, batch_size=64, epochs=1, verbose=0)
    assert sorted(history.history) == ["loss", "sparse_categorical_accuracy"]


@section("training_with_built_in_methods")
def custom_losses(keras, tf):
    x, y = _mnist(128)
    y_one_hot = keras.ops.one_hot(y, num_classes=10)

    def custom_mean_squared_error(y_true, y_pred):
        return keras.ops.mean(keras.ops.square(y_true - y_pred), axis=-1)

    model = _uncompiled(keras)
    model.compile(optimizer=keras.optimizers.Adam(), loss=custom_mean_squared_error)
    history = model.fit(x, y_one_hot, batch_size=64, epochs=2, verbose=0)
    _falls(history.history["loss"])

    class CustomMSE(keras.losses.Loss):
        def __init__(self, regularization_factor=0.1, name="custom_mse"):
            super().__init__(name=name)
            self.regularization_factor = regularization_factor

        def call(self, y_true, y_pred):
            mse = keras.ops.mean(keras.ops.square(y_true - y_pred), axis=-1)
            reg = keras.ops.mean(keras.ops.square(0.5 - y_pred), axis=-1)
            return mse + reg * self.regularization_factor

    model = _uncompiled(keras)
    model.compile(optimizer=keras.optimizers.Adam(), loss=CustomMSE())
    history = model.fit(x, y_one_hot, batch_size=64, epochs=1, verbose=0)
    assert list(history.history) == ["loss"]


@section("training_with_built_in_methods")
def custom_metrics(keras, tf):
    ops = keras.ops

    class CategoricalTruePositives(keras.metrics.Metric):
        def __init__(self, name="categorical_true_positives", **kwargs):
            super().__init__(name=name, **kwargs)
            self.true_positives = self.add_variable(shape=(), name="ctp",
                                                    initializer="zeros")

        def update_state(self, y_true, y_pred, sample_weight=None):
            y_pred = ops.reshape(ops.argmax(y_pred, axis=1), (-1, 1))
            values = ops.cast(y_true, "int32") == ops.cast(y_pred, "int32")
            values = ops.cast(values, "float32")
            if sample_weight is not None:
                values = ops.multiply(values, ops.cast(sample_weight, "float32"))
            self.true_positives.assign_add(ops.sum(values))

        def result(self):
            return self.true_positives

        def reset_state(self):
            self.true_positives.assign(0.0)

    x, y = _mnist(128)
    model = _uncompiled(keras)
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(),
                  metrics=[CategoricalTruePositives()])
    history = model.fit(x, y.reshape(-1, 1), batch_size=64, epochs=2, verbose=0)
    assert sorted(history.history) == ["categorical_true_positives", "loss"]
    assert 0 <= history.history["categorical_true_positives"][-1] <= 128


@section("training_with_built_in_methods")
def losses_and_metrics_outside_the_standard_signature(keras, tf):
    layers = keras.layers

    class ActivityRegularizationLayer(layers.Layer):
        def call(self, inputs):
            self.add_loss(keras.ops.sum(inputs) * 0.1)
            return inputs

    inputs = keras.Input(shape=(784,), name="digits")
    x = layers.Dense(64, activation="relu", name="dense_1")(inputs)
    x = ActivityRegularizationLayer()(x)
    x = layers.Dense(64, activation="relu", name="dense_2")(x)
    outputs = layers.Dense(10, name="predictions")(x)
    model = keras.Model(inputs=inputs, outputs=outputs)
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x, y = _mnist(128)
    plain = _uncompiled(keras)
    plain.set_weights(model.get_weights())
    history = model.fit(x, y, batch_size=64, epochs=1, verbose=0)
    assert history.history["loss"][0] > 1.0          # the activity term is large


@section("training_with_built_in_methods")
def endpoint_layer_pattern(keras, tf):
    class LogisticEndpoint(keras.layers.Layer):
        def __init__(self, name=None):
            super().__init__(name=name)
            self.loss_fn = keras.losses.BinaryCrossentropy(from_logits=True)

        def call(self, targets, logits, sample_weights=None):
            loss = self.loss_fn(targets, logits, sample_weights)
            self.add_loss(loss)
            return keras.ops.softmax(logits)

    inputs = keras.Input(shape=(3,), name="inputs")
    targets = keras.Input(shape=(10,), name="targets")
    logits = keras.layers.Dense(10)(inputs)
    predictions = LogisticEndpoint(name="predictions")(targets, logits)
    model = keras.Model(inputs=[inputs, targets], outputs=predictions)
    model.compile(optimizer="adam")
    data = {"inputs": np.random.random((6, 3)), "targets": np.random.random((6, 10))}
    history = model.fit(data, verbose=0)
    assert list(history.history) == ["loss"]


@section("training_with_built_in_methods")
def validation_split(keras, tf):
    x, y = _mnist(200)
    model = _compiled(keras)
    history = model.fit(x, y, batch_size=64, validation_split=0.2, epochs=1, verbose=0)
    assert "val_loss" in history.history


@section("training_with_built_in_methods")
def training_from_tf_data_datasets(keras, tf):
    x, y = _mnist(256)
    model = _compiled(keras)
    train_dataset = tf.data.Dataset.from_tensor_slices((x[:192], y[:192]))
    train_dataset = train_dataset.shuffle(buffer_size=1024).batch(64)
    test_dataset = tf.data.Dataset.from_tensor_slices((x[192:], y[192:])).batch(64)
    history = model.fit(train_dataset, epochs=3, verbose=0)
    _falls(history.history["loss"])
    result = model.evaluate(test_dataset, return_dict=True, verbose=0)
    assert sorted(result) == ["loss", "sparse_categorical_accuracy"]
    model = _compiled(keras)
    history = model.fit(train_dataset.repeat(), epochs=2, steps_per_epoch=2, verbose=0)
    assert len(history.history["loss"]) == 2
    val_dataset = tf.data.Dataset.from_tensor_slices((x[192:], y[192:])).batch(32)
    history = model.fit(train_dataset, epochs=1, validation_data=val_dataset,
                        validation_steps=1, verbose=0)
    assert "val_loss" in history.history


@section("training_with_built_in_methods")
def pydataset_instances(keras, tf):
    class ExamplePyDataset(keras.utils.PyDataset):
        def __init__(self, x, y, batch_size, **kwargs):
            super().__init__(**kwargs)
            self.x, self.y, self.batch_size = x, y, batch_size

        def __len__(self):
            return int(np.ceil(len(self.x) / float(self.batch_size)))

        def __getitem__(self, idx):
            batch_x = self.x[idx * self.batch_size:(idx + 1) * self.batch_size]
            batch_y = self.y[idx * self.batch_size:(idx + 1) * self.batch_size]
            return batch_x, batch_y

    x, y = _mnist(160)
    train_py_dataset = ExamplePyDataset(x[:128], y[:128], batch_size=32)
    val_py_dataset = ExamplePyDataset(x[128:], y[128:], batch_size=32)
    model = _compiled(keras)
    history = model.fit(train_py_dataset, validation_data=val_py_dataset, epochs=1, verbose=0)
    assert history.params["steps"] == 4 and "val_loss" in history.history


@section("training_with_built_in_methods")
def class_weights(keras, tf):
    class_weight = {k: 1.0 for k in range(10)}
    class_weight[5] = 2.0
    x, y = _mnist(128)
    model = _compiled(keras)
    history = model.fit(x, y, class_weight=class_weight, batch_size=64, epochs=1, verbose=0)
    assert len(history.history["loss"]) == 1


@section("training_with_built_in_methods")
def sample_weights(keras, tf):
    x, y = _mnist(128)
    sample_weight = np.ones(shape=(len(y),))
    sample_weight[y == 5] = 2.0
    model = _compiled(keras)
    model.fit(x, y, sample_weight=sample_weight, batch_size=64, epochs=1, verbose=0)
    train_dataset = tf.data.Dataset.from_tensor_slices((x, y, sample_weight))
    train_dataset = train_dataset.shuffle(buffer_size=1024).batch(64)
    model = _compiled(keras)
    history = model.fit(train_dataset, epochs=1, verbose=0)
    assert sorted(history.history) == ["loss", "sparse_categorical_accuracy"]


def _image_timeseries_model(keras):
    layers = keras.layers
    image_input = keras.Input(shape=(32, 32, 3), name="img_input")
    timeseries_input = keras.Input(shape=(None, 10), name="ts_input")
    x1 = layers.Conv2D(3, 3)(image_input)
    x1 = layers.GlobalMaxPooling2D()(x1)
    x2 = layers.Conv1D(3, 3)(timeseries_input)
    x2 = layers.GlobalMaxPooling1D()(x2)
    x = layers.concatenate([x1, x2])
    score_output = layers.Dense(1, name="score_output")(x)
    class_output = layers.Dense(5, name="class_output")(x)
    return keras.Model(inputs=[image_input, timeseries_input],
                       outputs=[score_output, class_output])


@section("training_with_built_in_methods")
def multi_input_multi_output_models(keras, tf):
    model = _image_timeseries_model(keras)
    assert model.count_params() == 84 + 93 + 7 + 35
    model.compile(optimizer=keras.optimizers.RMSprop(1e-3),
                  loss={"score_output": keras.losses.MeanSquaredError(),
                        "class_output": keras.losses.CategoricalCrossentropy()},
                  metrics={"score_output": [keras.metrics.MeanAbsolutePercentageError(),
                                            keras.metrics.MeanAbsoluteError()],
                           "class_output": [keras.metrics.CategoricalAccuracy()]},
                  loss_weights={"score_output": 2.0, "class_output": 1.0})
    rng = np.random.default_rng(0)
    img_data = rng.random(size=(40, 32, 32, 3))
    ts_data = rng.random(size=(40, 20, 10))
    score_targets = rng.random(size=(40, 1))
    class_targets = rng.random(size=(40, 5))
    history = model.fit([img_data, ts_data], [score_targets, class_targets], batch_size=20,
                        epochs=1, verbose=0)
    assert sorted(history.history) == [
        "class_output_categorical_accuracy", "class_output_loss", "loss",
        "score_output_loss", "score_output_mean_absolute_error",
        "score_output_mean_absolute_percentage_error"]
    model = _image_timeseries_model(keras)
    model.compile(optimizer=keras.optimizers.RMSprop(1e-3),
                  loss={"score_output": keras.losses.MeanSquaredError(),
                        "class_output": keras.losses.CategoricalCrossentropy()})
    train_dataset = tf.data.Dataset.from_tensor_slices(
        ({"img_input": img_data, "ts_input": ts_data},
         {"score_output": score_targets, "class_output": class_targets})).batch(20)
    history = model.fit(train_dataset, epochs=1, verbose=0)
    assert "class_output_loss" in history.history


@section("training_with_built_in_methods")
def early_stopping_callback(keras, tf):
    x, y = _mnist(200)
    model = _compiled(keras)
    callbacks = [keras.callbacks.EarlyStopping(monitor="val_loss", min_delta=1e-2, patience=2,
                                               verbose=0)]
    history = model.fit(x, y, epochs=3, batch_size=64, callbacks=callbacks,
                        validation_split=0.2, verbose=0)
    assert 1 <= len(history.history["loss"]) <= 3


@section("training_with_built_in_methods")
def writing_your_own_callback(keras, tf):
    class LossHistory(keras.callbacks.Callback):
        def on_train_begin(self, logs):
            self.per_batch_losses = []

        def on_batch_end(self, batch, logs):
            self.per_batch_losses.append(logs.get("loss"))

    x, y = _mnist(128)
    history = LossHistory()
    _compiled(keras).fit(x, y, batch_size=32, epochs=1, callbacks=[history], verbose=0)
    assert len(history.per_batch_losses) == 4


@section("training_with_built_in_methods")
def checkpointing_models(keras, tf):
    import os
    import tempfile
    directory = tempfile.mkdtemp()
    x, y = _mnist(128)
    callbacks = [keras.callbacks.ModelCheckpoint(
        filepath=os.path.join(directory, "mymodel_{epoch}.keras"), save_best_only=True,
        monitor="val_loss", verbose=0)]
    _compiled(keras).fit(x, y, epochs=2, batch_size=64, callbacks=callbacks,
                         validation_split=0.2, verbose=0)
    assert os.listdir(directory)


@section("training_with_built_in_methods")
def checkpointing_weights(keras, tf):
    import os
    import tempfile
    directory = tempfile.mkdtemp()
    x, y = _mnist(128)
    callbacks = [keras.callbacks.ModelCheckpoint(
        filepath=os.path.join(directory, "ckpt-{epoch}.weights.h5"), save_weights_only=True)]
    _compiled(keras).fit(x, y, epochs=2, batch_size=64, callbacks=callbacks, verbose=0)
    assert sorted(os.listdir(directory)) == ["ckpt-1.weights.h5", "ckpt-2.weights.h5"]


@section("training_with_built_in_methods")
def learning_rate_schedules(keras, tf):
    initial_learning_rate = 0.1
    lr_schedule = keras.optimizers.schedules.ExponentialDecay(
        initial_learning_rate, decay_steps=100000, decay_rate=0.96, staircase=True)
    optimizer = keras.optimizers.RMSprop(learning_rate=lr_schedule)
    model = _uncompiled(keras)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    x, y = _mnist(64)
    model.fit(x, y, epochs=1, verbose=0)
    assert float(np.asarray(optimizer.learning_rate)) == np.float32(0.1)


# --- writing_a_custom_training_loop_in_tensorflow.py ----------------------------------------------

def _loop_model(keras):
    inputs = keras.Input(shape=(784,), name="digits")
    x1 = keras.layers.Dense(64, activation="relu")(inputs)
    x2 = keras.layers.Dense(64, activation="relu")(x1)
    outputs = keras.layers.Dense(10, name="predictions")(x2)
    return keras.Model(inputs=inputs, outputs=outputs)


@section("writing_a_custom_training_loop_in_tensorflow")
def end_to_end_loop(keras, tf):
    model = _loop_model(keras)
    optimizer = keras.optimizers.Adam(learning_rate=1e-3)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    x, y = _mnist(256)
    train_dataset = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(1024).batch(32)
    epoch_losses = []
    for _epoch in range(2):
        losses = []
        for x_batch_train, y_batch_train in train_dataset:
            with tf.GradientTape() as tape:
                logits = model(x_batch_train, training=True)
                loss_value = loss_fn(y_batch_train, logits)
            grads = tape.gradient(loss_value, model.trainable_weights)
            optimizer.apply(grads, model.trainable_weights)
            losses.append(float(loss_value))
        epoch_losses.append(np.mean(losses))
    _falls(epoch_losses)


@section("writing_a_custom_training_loop_in_tensorflow")
def low_level_handling_of_metrics(keras, tf):
    model = _loop_model(keras)
    optimizer = keras.optimizers.Adam(learning_rate=1e-3)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    train_acc_metric = keras.metrics.SparseCategoricalAccuracy()
    val_acc_metric = keras.metrics.SparseCategoricalAccuracy()
    x, y = _mnist(256)
    train_dataset = tf.data.Dataset.from_tensor_slices((x[:192], y[:192])).batch(32)
    val_dataset = tf.data.Dataset.from_tensor_slices((x[192:], y[192:])).batch(32)
    accuracies = []
    for _epoch in range(3):
        for x_batch_train, y_batch_train in train_dataset:
            with tf.GradientTape() as tape:
                logits = model(x_batch_train, training=True)
                loss_value = loss_fn(y_batch_train, logits)
            grads = tape.gradient(loss_value, model.trainable_weights)
            optimizer.apply(grads, model.trainable_weights)
            train_acc_metric.update_state(y_batch_train, logits)
        accuracies.append(float(train_acc_metric.result()))
        train_acc_metric.reset_state()
        for x_batch_val, y_batch_val in val_dataset:
            val_acc_metric.update_state(y_batch_val, model(x_batch_val, training=False))
        val_acc = float(val_acc_metric.result())
        val_acc_metric.reset_state()
    assert accuracies[-1] > accuracies[0] and 0 <= val_acc <= 1


@section("writing_a_custom_training_loop_in_tensorflow")
def speeding_up_with_tf_function(keras, tf):
    model = _loop_model(keras)
    optimizer = keras.optimizers.Adam(learning_rate=1e-3)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    train_acc_metric = keras.metrics.SparseCategoricalAccuracy()

    @tf.function
    def train_step(x, y):
        with tf.GradientTape() as tape:
            logits = model(x, training=True)
            loss_value = loss_fn(y, logits)
        grads = tape.gradient(loss_value, model.trainable_weights)
        optimizer.apply(grads, model.trainable_weights)
        train_acc_metric.update_state(y, logits)
        return loss_value

    x, y = _mnist(128)
    losses = [float(train_step(x[i:i + 32], y[i:i + 32])) for i in range(0, 128, 32)] * 1
    losses += [float(train_step(x[i:i + 32], y[i:i + 32])) for i in range(0, 128, 32)]
    assert np.mean(losses[4:]) < np.mean(losses[:4])


@section("writing_a_custom_training_loop_in_tensorflow")
def losses_tracked_by_the_model(keras, tf):
    layers = keras.layers

    class ActivityRegularizationLayer(layers.Layer):
        def call(self, inputs):
            self.add_loss(1e-2 * keras.ops.sum(inputs))
            return inputs

    inputs = keras.Input(shape=(784,), name="digits")
    x = layers.Dense(64, activation="relu")(inputs)
    x = ActivityRegularizationLayer()(x)
    x = layers.Dense(64, activation="relu")(x)
    outputs = layers.Dense(10, name="predictions")(x)
    model = keras.Model(inputs=inputs, outputs=outputs)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    optimizer = keras.optimizers.Adam(learning_rate=1e-3)
    x, y = _mnist(64)
    with tf.GradientTape() as tape:
        logits = model(x, training=True)
        loss_value = loss_fn(y, logits)
        assert len(model.losses) == 1
        loss_value += sum(model.losses)
    grads = tape.gradient(loss_value, model.trainable_weights)
    optimizer.apply(grads, model.trainable_weights)
    assert all(g is not None for g in grads)


def _gan_parts(keras, latent_dim=16):
    layers = keras.layers
    discriminator = keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(16, (3, 3), strides=(2, 2), padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2D(32, (3, 3), strides=(2, 2), padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.GlobalMaxPooling2D(),
        layers.Dense(1)], name="discriminator")
    generator = keras.Sequential([
        keras.Input(shape=(latent_dim,)),
        layers.Dense(7 * 7 * 16),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Reshape((7, 7, 16)),
        layers.Conv2DTranspose(16, (4, 4), strides=(2, 2), padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2DTranspose(16, (4, 4), strides=(2, 2), padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2D(1, (7, 7), padding="same", activation="sigmoid")], name="generator")
    return discriminator, generator


@section("writing_a_custom_training_loop_in_tensorflow")
def gan_training_loop(keras, tf):
    latent_dim = 16
    discriminator, generator = _gan_parts(keras, latent_dim)
    assert discriminator.count_params() == 160 + 4640 + 33
    d_optimizer = keras.optimizers.Adam(learning_rate=0.0003)
    g_optimizer = keras.optimizers.Adam(learning_rate=0.0004)
    loss_fn = keras.losses.BinaryCrossentropy(from_logits=True)

    def train_step(real_images):
        batch = real_images.shape[0]
        random_latent_vectors = tf.random.normal(shape=(batch, latent_dim))
        generated_images = generator(random_latent_vectors)
        combined_images = tf.concat([generated_images, real_images], axis=0)
        labels = tf.concat([tf.ones((batch, 1)), tf.zeros((batch, 1))], axis=0)
        labels += 0.05 * tf.random.uniform(labels.shape)
        with tf.GradientTape() as tape:
            d_loss = loss_fn(labels, discriminator(combined_images))
        grads = tape.gradient(d_loss, discriminator.trainable_weights)
        d_optimizer.apply(grads, discriminator.trainable_weights)
        random_latent_vectors = tf.random.normal(shape=(batch, latent_dim))
        misleading_labels = tf.zeros((batch, 1))
        with tf.GradientTape() as tape:
            g_loss = loss_fn(misleading_labels, discriminator(generator(random_latent_vectors)))
        grads = tape.gradient(g_loss, generator.trainable_weights)
        g_optimizer.apply(grads, generator.trainable_weights)
        return d_loss, g_loss, generated_images

    images = _images(16, (28, 28, 1), 10)[0]
    dataset = tf.data.Dataset.from_tensor_slices(images).batch(8)
    for real_images in dataset:
        d_loss, g_loss, generated = train_step(real_images)
    assert tuple(generated.shape) == (8, 28, 28, 1)
    assert np.isfinite(float(d_loss)) and np.isfinite(float(g_loss))


# --- custom_train_step_in_tensorflow.py -------------------------------------------------------

def _custom_model_class(keras, tf):
    class CustomModel(keras.Model):
        def train_step(self, data):
            x, y = data
            with tf.GradientTape() as tape:
                y_pred = self(x, training=True)
                loss = self.compute_loss(y=y, y_pred=y_pred)
            trainable_vars = self.trainable_variables
            gradients = tape.gradient(loss, trainable_vars)
            self.optimizer.apply(gradients, trainable_vars)
            for metric in self.metrics:
                if metric.name == "loss":
                    metric.update_state(loss)
                else:
                    metric.update_state(y, y_pred)
            return {m.name: m.result() for m in self.metrics}
    return CustomModel


@section("custom_train_step_in_tensorflow")
def a_first_simple_example(keras, tf):
    CustomModel = _custom_model_class(keras, tf)  # noqa: N806
    inputs = keras.Input(shape=(32,))
    outputs = keras.layers.Dense(1)(inputs)
    model = CustomModel(inputs, outputs)
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    rng = np.random.default_rng(0)
    x, y = rng.random((1000, 32)), rng.random((1000, 1))
    history = model.fit(x, y, epochs=3, verbose=0)
    assert sorted(history.history) == ["loss", "mae"]
    _falls(history.history["loss"])


@section("custom_train_step_in_tensorflow")
def going_lower_level(keras, tf):
    class CustomModel(keras.Model):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.loss_tracker = keras.metrics.Mean(name="loss")
            self.mae_metric = keras.metrics.MeanAbsoluteError(name="mae")
            self.loss_fn = keras.losses.MeanSquaredError()

        def train_step(self, data):
            x, y = data
            with tf.GradientTape() as tape:
                y_pred = self(x, training=True)
                loss = self.loss_fn(y, y_pred)
            trainable_vars = self.trainable_variables
            gradients = tape.gradient(loss, trainable_vars)
            self.optimizer.apply(gradients, trainable_vars)
            self.loss_tracker.update_state(loss)
            self.mae_metric.update_state(y, y_pred)
            return {"loss": self.loss_tracker.result(), "mae": self.mae_metric.result()}

        @property
        def metrics(self):
            return [self.loss_tracker, self.mae_metric]

    inputs = keras.Input(shape=(32,))
    outputs = keras.layers.Dense(1)(inputs)
    model = CustomModel(inputs, outputs)
    model.compile(optimizer="adam")
    rng = np.random.default_rng(0)
    history = model.fit(rng.random((1000, 32)), rng.random((1000, 1)), epochs=3, verbose=0)
    assert sorted(history.history) == ["loss", "mae"]
    _falls(history.history["loss"])


@section("custom_train_step_in_tensorflow")
def sample_weight_and_class_weight(keras, tf):
    class CustomModel(keras.Model):
        def train_step(self, data):
            if len(data) == 3:
                x, y, sample_weight = data
            else:
                sample_weight = None
                x, y = data
            with tf.GradientTape() as tape:
                y_pred = self(x, training=True)
                loss = self.compute_loss(y=y, y_pred=y_pred, sample_weight=sample_weight)
            trainable_vars = self.trainable_variables
            gradients = tape.gradient(loss, trainable_vars)
            self.optimizer.apply(gradients, trainable_vars)
            for metric in self.metrics:
                if metric.name == "loss":
                    metric.update_state(loss)
                else:
                    metric.update_state(y, y_pred, sample_weight=sample_weight)
            return {m.name: m.result() for m in self.metrics}

    inputs = keras.Input(shape=(32,))
    outputs = keras.layers.Dense(1)(inputs)
    model = CustomModel(inputs, outputs)
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    rng = np.random.default_rng(0)
    x, y, sw = rng.random((200, 32)), rng.random((200, 1)), rng.random((200, 1))
    history = model.fit(x, y, sample_weight=sw, epochs=3, verbose=0)
    assert sorted(history.history) == ["loss", "mae"]


@section("custom_train_step_in_tensorflow")
def providing_your_own_evaluation_step(keras, tf):
    class CustomModel(keras.Model):
        def test_step(self, data):
            x, y = data
            y_pred = self(x, training=False)
            loss = self.compute_loss(y=y, y_pred=y_pred)
            for metric in self.metrics:
                if metric.name == "loss":
                    metric.update_state(loss)
                else:
                    metric.update_state(y, y_pred)
            return {m.name: m.result() for m in self.metrics}

    inputs = keras.Input(shape=(32,))
    outputs = keras.layers.Dense(1)(inputs)
    model = CustomModel(inputs, outputs)
    model.compile(loss="mse", metrics=["mae"])
    rng = np.random.default_rng(0)
    result = model.evaluate(rng.random((100, 32)), rng.random((100, 1)), verbose=0)
    assert len(result) == 2


@section("custom_train_step_in_tensorflow")
def gan_with_train_step(keras, tf):
    latent_dim = 16
    discriminator, generator = _gan_parts(keras, latent_dim)

    class GAN(keras.Model):
        def __init__(self, discriminator, generator, latent_dim):
            super().__init__()
            self.discriminator = discriminator
            self.generator = generator
            self.latent_dim = latent_dim
            self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
            self.g_loss_tracker = keras.metrics.Mean(name="g_loss")

        def compile(self, d_optimizer, g_optimizer, loss_fn):
            super().compile()
            self.d_optimizer = d_optimizer
            self.g_optimizer = g_optimizer
            self.loss_fn = loss_fn

        @property
        def metrics(self):
            return [self.d_loss_tracker, self.g_loss_tracker]

        def train_step(self, real_images):
            if isinstance(real_images, tuple):
                real_images = real_images[0]
            batch_size = tf.shape(real_images)[0]
            random_latent_vectors = tf.random.normal(shape=(batch_size, self.latent_dim))
            generated_images = self.generator(random_latent_vectors)
            combined_images = tf.concat([generated_images, real_images], axis=0)
            labels = tf.concat([tf.ones((batch_size, 1)), tf.zeros((batch_size, 1))], axis=0)
            labels += 0.05 * tf.random.uniform(tf.shape(labels))
            with tf.GradientTape() as tape:
                d_loss = self.loss_fn(labels, self.discriminator(combined_images))
            grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
            self.d_optimizer.apply(grads, self.discriminator.trainable_weights)
            random_latent_vectors = tf.random.normal(shape=(batch_size, self.latent_dim))
            misleading_labels = tf.zeros((batch_size, 1))
            with tf.GradientTape() as tape:
                predictions = self.discriminator(self.generator(random_latent_vectors))
                g_loss = self.loss_fn(misleading_labels, predictions)
            grads = tape.gradient(g_loss, self.generator.trainable_weights)
            self.g_optimizer.apply(grads, self.generator.trainable_weights)
            self.d_loss_tracker.update_state(d_loss)
            self.g_loss_tracker.update_state(g_loss)
            return {"d_loss": self.d_loss_tracker.result(),
                    "g_loss": self.g_loss_tracker.result()}

    gan = GAN(discriminator=discriminator, generator=generator, latent_dim=latent_dim)
    gan.compile(d_optimizer=keras.optimizers.Adam(learning_rate=0.0003),
                g_optimizer=keras.optimizers.Adam(learning_rate=0.0003),
                loss_fn=keras.losses.BinaryCrossentropy(from_logits=True))
    images = _images(16, (28, 28, 1), 10)[0]
    dataset = tf.data.Dataset.from_tensor_slices(images).batch(8)
    history = gan.fit(dataset.take(2), epochs=1, verbose=0)
    assert sorted(history.history) == ["d_loss", "g_loss"]


# --- making_new_layers_and_models_via_subclassing.py -----------------------------------------

def _linear_class(keras):
    class Linear(keras.layers.Layer):
        def __init__(self, units=32, input_dim=None, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            if input_dim is not None:
                self._make(input_dim)

        def _make(self, input_dim):
            self.w = self.add_weight(shape=(input_dim, self.units),
                                     initializer="random_normal", trainable=True)
            self.b = self.add_weight(shape=(self.units,), initializer="zeros",
                                     trainable=True)

        def build(self, input_shape):
            if not hasattr(self, "w"):
                self._make(input_shape[-1])

        def call(self, inputs):
            return keras.ops.matmul(inputs, self.w) + self.b

        def get_config(self):
            return {**super().get_config(), "units": self.units}
    return Linear


@section("making_new_layers_and_models_via_subclassing")
def layer_state_and_computation(keras, tf):
    Linear = _linear_class(keras)  # noqa: N806
    x = keras.ops.ones((2, 2))
    linear_layer = Linear(4, 2)
    y = linear_layer(x)
    assert tuple(y.shape) == (2, 4)
    assert len(linear_layer.weights) == 2


@section("making_new_layers_and_models_via_subclassing")
def non_trainable_weights(keras, tf):
    class ComputeSum(keras.layers.Layer):
        def __init__(self, input_dim):
            super().__init__()
            self.total = self.add_weight(initializer="zeros", shape=(input_dim,),
                                         trainable=False)

        def call(self, inputs):
            self.total.assign_add(keras.ops.sum(inputs, axis=0))
            return self.total

    x = keras.ops.ones((2, 2))
    my_sum = ComputeSum(2)
    my_sum(x)
    y = my_sum(x)
    np.testing.assert_allclose(np.asarray(y), [4.0, 4.0])
    assert len(my_sum.weights) == 1 and len(my_sum.non_trainable_weights) == 1
    assert my_sum.trainable_weights == []


@section("making_new_layers_and_models_via_subclassing")
def deferred_weight_creation(keras, tf):
    Linear = _linear_class(keras)  # noqa: N806
    linear_layer = Linear(32)
    y = linear_layer(keras.ops.ones((2, 2)))
    assert tuple(y.shape) == (2, 32) and tuple(linear_layer.w.shape) == (2, 32)


@section("making_new_layers_and_models_via_subclassing")
def recursively_composable_layers(keras, tf):
    Linear = _linear_class(keras)  # noqa: N806

    class MLPBlock(keras.layers.Layer):
        def __init__(self):
            super().__init__()
            self.linear_1 = Linear(32)
            self.linear_2 = Linear(32)
            self.linear_3 = Linear(1)

        def call(self, inputs):
            x = keras.activations.relu(self.linear_1(inputs))
            x = keras.activations.relu(self.linear_2(x))
            return self.linear_3(x)

    mlp = MLPBlock()
    y = mlp(keras.ops.ones(shape=(3, 64)))
    assert tuple(y.shape) == (3, 1)
    assert len(mlp.weights) == 6 and len(mlp.trainable_weights) == 6


@section("making_new_layers_and_models_via_subclassing")
def backend_agnostic_layers(keras, tf):
    class Linear(keras.layers.Layer):
        def __init__(self, units=32, input_dim=32):
            super().__init__()
            self.w = self.add_weight(shape=(input_dim, units), initializer="random_normal",
                                     trainable=True)
            self.b = self.add_weight(shape=(units,), initializer="zeros", trainable=True)

        def call(self, inputs):
            return keras.ops.matmul(inputs, self.w) + self.b

    layer = Linear(4, 3)
    x = np.ones((2, 3), "float32")
    np.testing.assert_allclose(np.asarray(layer(x)), x @ np.asarray(layer.w), rtol=1e-6)


@section("making_new_layers_and_models_via_subclassing")
def add_loss_method(keras, tf):
    layers = keras.layers

    class ActivityRegularizationLayer(layers.Layer):
        def __init__(self, rate=1e-2):
            super().__init__()
            self.rate = rate

        def call(self, inputs):
            self.add_loss(self.rate * keras.ops.mean(inputs))
            return inputs

    class OuterLayer(layers.Layer):
        def __init__(self):
            super().__init__()
            self.activity_reg = ActivityRegularizationLayer(1e-2)

        def call(self, inputs):
            return self.activity_reg(inputs)

    layer = OuterLayer()
    assert len(layer.losses) == 0
    _ = layer(keras.ops.zeros((1, 1)))
    assert len(layer.losses) == 1
    _ = layer(keras.ops.zeros((1, 1)))
    assert len(layer.losses) == 1

    class OuterLayerWithKernelRegularizer(layers.Layer):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(32, kernel_regularizer=keras.regularizers.l2(1e-3))

        def call(self, inputs):
            return self.dense(inputs)

    layer = OuterLayerWithKernelRegularizer()
    _ = layer(keras.ops.zeros((1, 1)))
    assert len(layer.losses) == 1
    kernel = np.asarray(layer.dense.kernel)
    np.testing.assert_allclose(float(layer.losses[0]), 1e-3 * np.sum(kernel ** 2), rtol=1e-5)

    inputs = keras.Input(shape=(3,))
    outputs = ActivityRegularizationLayer()(inputs)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.random.random((2, 3)), np.random.random((2, 3)), verbose=0)
    model.compile(optimizer="adam")
    model.fit(np.random.random((2, 3)), np.random.random((2, 3)), verbose=0)


@section("making_new_layers_and_models_via_subclassing")
def serialization_of_layers(keras, tf):
    Linear = _linear_class(keras)  # noqa: N806
    layer = Linear(64)
    config = layer.get_config()
    assert config["units"] == 64 and config["name"] == layer.name
    new_layer = Linear.from_config(config)
    assert new_layer.units == 64


@section("making_new_layers_and_models_via_subclassing")
def training_argument_in_call(keras, tf):
    class CustomDropout(keras.layers.Layer):
        def __init__(self, rate, **kwargs):
            super().__init__(**kwargs)
            self.rate = rate
            self.seed_generator = keras.random.SeedGenerator(1337)

        def call(self, inputs, training=None):
            if training:
                return keras.random.dropout(inputs, rate=self.rate, seed=self.seed_generator)
            return inputs

    layer = CustomDropout(0.5)
    x = np.ones((100, 10), "float32")
    assert np.array_equal(np.asarray(layer(x)), x)
    dropped = np.asarray(layer(x, training=True))
    assert set(np.unique(dropped)) <= {0.0, 2.0} and 0.3 < (dropped == 0).mean() < 0.7


def _vae(keras):
    layers = keras.layers

    class Sampling(layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.seed_generator = keras.random.SeedGenerator(1337)

        def call(self, inputs):
            z_mean, z_log_var = inputs
            batch = keras.ops.shape(z_mean)[0]
            dim = keras.ops.shape(z_mean)[1]
            epsilon = keras.random.normal(shape=(batch, dim), seed=self.seed_generator)
            return z_mean + keras.ops.exp(0.5 * z_log_var) * epsilon

    class Encoder(layers.Layer):
        def __init__(self, latent_dim=32, intermediate_dim=64, name="encoder", **kwargs):
            super().__init__(name=name, **kwargs)
            self.dense_proj = layers.Dense(intermediate_dim, activation="relu")
            self.dense_mean = layers.Dense(latent_dim)
            self.dense_log_var = layers.Dense(latent_dim)
            self.sampling = Sampling()

        def call(self, inputs):
            x = self.dense_proj(inputs)
            z_mean = self.dense_mean(x)
            z_log_var = self.dense_log_var(x)
            return z_mean, z_log_var, self.sampling((z_mean, z_log_var))

    class Decoder(layers.Layer):
        def __init__(self, original_dim, intermediate_dim=64, name="decoder", **kwargs):
            super().__init__(name=name, **kwargs)
            self.dense_proj = layers.Dense(intermediate_dim, activation="relu")
            self.dense_output = layers.Dense(original_dim, activation="sigmoid")

        def call(self, inputs):
            return self.dense_output(self.dense_proj(inputs))

    class VariationalAutoEncoder(keras.Model):
        def __init__(self, original_dim, intermediate_dim=64, latent_dim=32,
                     name="autoencoder", **kwargs):
            super().__init__(name=name, **kwargs)
            self.original_dim = original_dim
            self.encoder = Encoder(latent_dim=latent_dim, intermediate_dim=intermediate_dim)
            self.decoder = Decoder(original_dim, intermediate_dim=intermediate_dim)

        def call(self, inputs):
            z_mean, z_log_var, z = self.encoder(inputs)
            reconstructed = self.decoder(z)
            kl_loss = -0.5 * keras.ops.mean(
                z_log_var - keras.ops.square(z_mean) - keras.ops.exp(z_log_var) + 1)
            self.add_loss(kl_loss)
            return reconstructed

    return VariationalAutoEncoder


@section("making_new_layers_and_models_via_subclassing")
def putting_it_all_together_vae(keras, tf):
    VariationalAutoEncoder = _vae(keras)  # noqa: N806
    x_train = _mnist(128)[0]
    vae = VariationalAutoEncoder(784, 64, 32)
    optimizer = keras.optimizers.Adam(learning_rate=1e-3)
    mse_loss_fn = keras.losses.MeanSquaredError()
    loss_metric = keras.metrics.Mean()
    train_dataset = tf.data.Dataset.from_tensor_slices(x_train).shuffle(1024).batch(32)
    means = []
    for _epoch in range(2):
        for x_batch_train in train_dataset:
            with tf.GradientTape() as tape:
                reconstructed = vae(x_batch_train)
                loss = mse_loss_fn(x_batch_train, reconstructed)
                loss += sum(vae.losses)
            grads = tape.gradient(loss, vae.trainable_weights)
            optimizer.apply(grads, vae.trainable_weights)
            loss_metric.update_state(loss)
        means.append(float(loss_metric.result()))
    assert means[-1] < means[0]
    vae.compile(optimizer, loss=keras.losses.MeanSquaredError())
    history = vae.fit(x_train, x_train, epochs=2, batch_size=64, verbose=0)
    assert list(history.history) == ["loss"]


@section("making_new_layers_and_models_via_subclassing")
def functional_vae(keras, tf):
    layers = keras.layers
    original_dim, intermediate_dim, latent_dim = 784, 64, 32
    original_inputs = keras.Input(shape=(original_dim,), name="encoder_input")
    x = layers.Dense(intermediate_dim, activation="relu")(original_inputs)
    z_mean = layers.Dense(latent_dim, name="z_mean")(x)
    z_log_var = layers.Dense(latent_dim, name="z_log_var")(x)

    class Sampling(layers.Layer):
        def call(self, inputs):
            z_mean, z_log_var = inputs
            epsilon = keras.random.normal(shape=keras.ops.shape(z_mean), seed=1)
            return z_mean + keras.ops.exp(0.5 * z_log_var) * epsilon

    z = Sampling()((z_mean, z_log_var))
    encoder = keras.Model(inputs=original_inputs, outputs=z, name="encoder")
    latent_inputs = keras.Input(shape=(latent_dim,), name="z_sampling")
    x = layers.Dense(intermediate_dim, activation="relu")(latent_inputs)
    outputs = layers.Dense(original_dim, activation="sigmoid")(x)
    decoder = keras.Model(inputs=latent_inputs, outputs=outputs, name="decoder")
    outputs = decoder(z)
    vae = keras.Model(inputs=original_inputs, outputs=outputs, name="vae")
    assert encoder.count_params() + decoder.count_params() == vae.count_params()
    vae.compile(keras.optimizers.Adam(learning_rate=1e-3),
                loss=keras.losses.MeanSquaredError())
    x_train = _mnist(64)[0]
    history = vae.fit(x_train, x_train, epochs=2, batch_size=64, verbose=0)
    assert len(history.history["loss"]) == 2


# --- writing_your_own_callbacks.py ----------------------------------------------------------------

def _callback_model(keras):
    model = keras.Sequential()
    model.add(keras.layers.Dense(1))
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=0.1),
                  loss="mean_squared_error", metrics=["mean_absolute_error"])
    return model


def _callback_data():
    x, _ = _mnist(128)
    return x, x[:, :1] * 3 + 0.5


@section("writing_your_own_callbacks")
def custom_callback_hooks(keras, tf):
    seen = []

    class CustomCallback(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            seen.append(("train_begin", sorted(logs or {})))

        def on_epoch_end(self, epoch, logs=None):
            seen.append(("epoch_end", sorted(logs)))

        def on_test_begin(self, logs=None):
            seen.append(("test_begin", sorted(logs or {})))

        def on_predict_end(self, logs=None):
            seen.append(("predict_end", sorted(logs or {})))

        def on_train_batch_end(self, batch, logs=None):
            seen.append(("train_batch_end", sorted(logs)))

    model = _callback_model(keras)
    x, y = _callback_data()
    model.fit(x, y, batch_size=128, epochs=1, verbose=0, validation_split=0.5,
              callbacks=[CustomCallback()])
    model.evaluate(x, y, batch_size=128, verbose=0, callbacks=[CustomCallback()])
    model.predict(x, batch_size=128, verbose=0, callbacks=[CustomCallback()])
    assert seen == [
        ("train_begin", []), ("train_batch_end", ["loss", "mean_absolute_error"]),
        ("test_begin", []),
        ("epoch_end", ["loss", "mean_absolute_error", "val_loss", "val_mean_absolute_error"]),
        ("test_begin", []), ("predict_end", [])]


@section("writing_your_own_callbacks")
def usage_of_logs_dict(keras, tf):
    records = []

    class LossAndErrorPrintingCallback(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            records.append(("batch", batch, logs["loss"]))

        def on_epoch_end(self, epoch, logs=None):
            records.append(("epoch", epoch, logs["loss"], logs["mean_absolute_error"]))

    model = _callback_model(keras)
    x, y = _callback_data()
    model.fit(x, y, batch_size=64, epochs=2, verbose=0,
              callbacks=[LossAndErrorPrintingCallback()])
    assert [r[:2] for r in records] == [("batch", 0), ("batch", 1), ("epoch", 0),
                                        ("batch", 0), ("batch", 1), ("epoch", 1)]
    assert all(isinstance(r[2], float) for r in records)


@section("writing_your_own_callbacks")
def early_stopping_at_minimum_loss(keras, tf):
    class EarlyStoppingAtMinLoss(keras.callbacks.Callback):
        def __init__(self, patience=0):
            super().__init__()
            self.patience = patience
            self.best_weights = None

        def on_train_begin(self, logs=None):
            self.wait = 0
            self.stopped_epoch = 0
            self.best = np.inf

        def on_epoch_end(self, epoch, logs=None):
            current = logs.get("loss")
            if np.less(current, self.best):
                self.best = current
                self.wait = 0
                self.best_weights = self.model.get_weights()
            else:
                self.wait += 1
                if self.wait >= self.patience:
                    self.stopped_epoch = epoch
                    self.model.stop_training = True
                    self.model.set_weights(self.best_weights)

    model = _callback_model(keras)
    x, y = _callback_data()
    history = model.fit(x, y, batch_size=64, epochs=30, verbose=0,
                        callbacks=[EarlyStoppingAtMinLoss()])
    assert len(history.history["loss"]) <= 30


@section("writing_your_own_callbacks")
def learning_rate_scheduling(keras, tf):
    class CustomLearningRateScheduler(keras.callbacks.Callback):
        def __init__(self, schedule):
            super().__init__()
            self.schedule = schedule

        def on_epoch_begin(self, epoch, logs=None):
            lr = self.model.optimizer.learning_rate
            scheduled_lr = self.schedule(epoch, lr)
            self.model.optimizer.learning_rate = scheduled_lr

    schedule_table = [(1, 0.05), (2, 0.01)]

    def lr_schedule(epoch, lr):
        if epoch < schedule_table[0][0] or epoch > schedule_table[-1][0]:
            return lr
        for i in range(len(schedule_table)):
            if epoch == schedule_table[i][0]:
                return schedule_table[i][1]
        return lr

    model = _callback_model(keras)
    x, y = _callback_data()
    model.fit(x, y, batch_size=64, epochs=3, verbose=0,
              callbacks=[CustomLearningRateScheduler(lr_schedule)])
    assert abs(float(np.asarray(model.optimizer.learning_rate)) - 0.01) < 1e-7
