"""The sections of keras-io's guide ``guides/serialization_and_saving.py`` (the Keras 3
version, "Save, serialize, and export models"), rewritten as checks.

Each section is a function ``section(keras, folder)`` run once with real Keras 3
(``record_guide_tf.py`` records which pass in ``guide_expected_tf.json``) and once with
``tapegrad.keras`` (``test_guide_sections.py``): every section that passes under Keras must pass
under tapegrad. Data is small and seeded; the checks are the guide's own
(``assert_allclose`` of predictions before and after saving) plus what it prints.
"""

import os

import numpy as np

SECTIONS = {}


def section(fn):
    SECTIONS[fn.__name__] = fn
    return fn


def _regression_model(keras):
    inputs = keras.Input(shape=(32,))
    outputs = keras.layers.Dense(1)(inputs)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="mean_squared_error")
    return model


@section
def whole_model_saving(keras, folder):
    rng = np.random.default_rng(0)
    x, y = rng.random((128, 32)), rng.random((128, 1))
    model = _regression_model(keras)
    model.fit(x, y, verbose=0)
    path = os.path.join(folder, "my_model.keras")
    model.save(path)
    reconstructed = keras.models.load_model(path)
    np.testing.assert_allclose(model.predict(x, verbose=0), reconstructed.predict(x, verbose=0),
                               rtol=1e-6)
    assert int(reconstructed.optimizer.iterations) == int(model.optimizer.iterations) == 4
    reconstructed.fit(x, y, verbose=0)           # compiled, with its optimizer state: resumes
    assert int(reconstructed.optimizer.iterations) == 8


def _custom_objects(keras, register: bool):
    """The guide's CustomLayer (a constant factor) and custom_fn (x ** 2), registered or not."""

    class CustomLayer(keras.layers.Layer):
        def __init__(self, factor, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def call(self, x):
            return x * self.factor

        def get_config(self):
            return {**super().get_config(), "factor": self.factor}

    def custom_fn(x):
        return x ** 2

    if register:
        CustomLayer = keras.saving.register_keras_serializable(package="MyLayers")(
            CustomLayer)
        custom_fn = keras.saving.register_keras_serializable(
            package="my_package", name="custom_fn")(custom_fn)
    return CustomLayer, custom_fn


def _custom_model_file(keras, folder, custom_layer, custom_fn):
    rng = np.random.default_rng(1)
    inputs = keras.Input(shape=(4,))
    mid = custom_layer(0.5)(inputs)
    outputs = keras.layers.Dense(1, activation=custom_fn)(mid)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="rmsprop", loss="mean_squared_error")
    model.fit(rng.random((4, 4)), rng.random((4, 1)), verbose=0)
    path = os.path.join(folder, "custom_model.keras")
    model.save(path)
    return model, path, rng.random((4, 4))


def _reloads_identically(keras, folder, register: bool, load) -> None:
    """Save the guide's custom model, reload it with ``load(path, custom_objects)`` and
    compare predictions."""
    layer, fn = _custom_objects(keras, register=register)
    model, path, x = _custom_model_file(keras, folder, layer, fn)
    reconstructed = load(path, {"CustomLayer": layer, "custom_fn": fn})
    np.testing.assert_allclose(model.predict(x, verbose=0), reconstructed.predict(x, verbose=0),
                               rtol=1e-6)


@section
def registered_custom_objects(keras, folder):
    _reloads_identically(keras, folder, True, lambda path, _: keras.models.load_model(path))


@section
def custom_objects_argument(keras, folder):
    _reloads_identically(keras, folder, False, lambda path, objects: keras.models.load_model(
        path, custom_objects=objects))


@section
def custom_object_scope(keras, folder):
    def load(path, objects):
        with keras.saving.custom_object_scope(objects):
            return keras.models.load_model(path)
    _reloads_identically(keras, folder, False, load)


@section
def unregistered_custom_layer_is_refused(keras, folder):
    layer, fn = _custom_objects(keras, register=False)
    _, path, _ = _custom_model_file(keras, folder, layer, fn)
    try:
        keras.models.load_model(path)
    except TypeError as error:
        assert "CustomLayer" in str(error)
    else:
        raise AssertionError("an unregistered custom layer loaded")


@section
def layer_config(keras, folder):
    layer = keras.layers.Dense(3, activation="relu")
    config = layer.get_config()
    new_layer = keras.layers.Dense.from_config(config)
    assert (new_layer.units, new_layer.get_config()["activation"]) == (3, "relu")


@section
def sequential_config(keras, folder):
    model = keras.Sequential([keras.Input((32,)), keras.layers.Dense(1)])
    new_model = keras.Sequential.from_config(model.get_config())
    assert new_model.count_params() == 33


@section
def functional_config(keras, folder):
    inputs = keras.Input((32,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    new_model = keras.Model.from_config(model.get_config())
    assert new_model.count_params() == 33


@section
def json_config(keras, folder):
    model = keras.Sequential([keras.Input((32,)), keras.layers.Dense(1)])
    new_model = keras.models.model_from_json(model.to_json())
    assert new_model.count_params() == 33 and isinstance(new_model, keras.Sequential)


@section
def arbitrary_object_serialization(keras, folder):
    regularizer = keras.regularizers.L1(0.005)
    config = keras.saving.serialize_keras_object(regularizer)
    assert config["class_name"] == "L1"
    restored = keras.saving.deserialize_keras_object(config)
    assert type(restored).__name__ == "L1"
    np.testing.assert_allclose(float(restored.l1), 0.005)


def _dense_784(keras):
    layer = keras.layers.Dense(64, activation="relu")
    layer.build((None, 784))
    return layer


@section
def weights_between_layers(keras, folder):
    first, second = _dense_784(keras), _dense_784(keras)
    second.set_weights(first.get_weights())
    for a, b in zip(first.get_weights(), second.get_weights()):
        np.testing.assert_array_equal(a, b)


def _mlp(keras, outputs=10, dropout=False, name="3_layer_mlp"):
    inputs = keras.Input(shape=(784,), name="digits")
    x = keras.layers.Dense(64, activation="relu", name="dense_1")(inputs)
    x = keras.layers.Dense(64, activation="relu", name="dense_2")(x)
    if dropout:
        x = keras.layers.Dropout(0.5)(x)
    return keras.Model(inputs, keras.layers.Dense(outputs, name="predictions")(x), name=name)


@section
def weights_between_compatible_models(keras, folder):
    functional = _mlp(keras)

    class SubclassedModel(keras.Model):
        def __init__(self, output_dim, name=None):
            super().__init__(name=name)
            self.dense_1 = keras.layers.Dense(64, activation="relu", name="dense_1")
            self.dense_2 = keras.layers.Dense(64, activation="relu", name="dense_2")
            self.dense_3 = keras.layers.Dense(output_dim, name="predictions")

        def call(self, inputs):
            return self.dense_3(self.dense_2(self.dense_1(inputs)))

    subclassed = SubclassedModel(10)
    subclassed(np.ones((1, 784), np.float32))
    subclassed.set_weights(functional.get_weights())
    for a, b in zip(functional.weights, subclassed.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@section
def stateless_layers_do_not_change_weights(keras, folder):
    functional = _mlp(keras)
    with_dropout = _mlp(keras, dropout=True, name="with_dropout")
    with_dropout.set_weights(functional.get_weights())
    x = np.random.default_rng(2).random((2, 784)).astype("float32")
    np.testing.assert_allclose(functional.predict(x, verbose=0),
                               with_dropout.predict(x, verbose=0), rtol=1e-6)


@section
def save_weights_to_disk(keras, folder):
    model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(64, activation="relu"),
                              keras.layers.Dense(10)])
    path = os.path.join(folder, "my_model.weights.h5")
    model.save_weights(path)
    clone = keras.Sequential([keras.Input((784,)), keras.layers.Dense(64, activation="relu"),
                              keras.layers.Dense(10)])
    clone.load_weights(path)
    for a, b in zip(model.weights, clone.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@section
def transfer_learning_with_load_weights(keras, folder):
    functional = _mlp(keras)
    pretrained = keras.Model(functional.inputs, functional.layers[-1].input,
                             name="pretrained_model")
    rng = np.random.default_rng(3)
    for weight in pretrained.weights:
        weight.assign(rng.normal(size=tuple(weight.shape)))
    path = os.path.join(folder, "pretrained.weights.h5")
    pretrained.save_weights(path)
    model = _mlp(keras, outputs=5, name="new_model")
    model.load_weights(path, skip_mismatch=False)
    for a, b in zip(pretrained.weights, model.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@section
def custom_layer_serialize_deserialize(keras, folder):
    class CustomLayer(keras.layers.Layer):
        def __init__(self, a, **kwargs):
            super().__init__(**kwargs)
            self.var = keras.Variable(a, name="var_a")

        def call(self, inputs, training=False):
            return inputs * self.var if training else inputs

        def get_config(self):
            return {"a": float(np.asarray(self.var))}

    layer = CustomLayer(5.0)
    layer.var.assign(2.0)
    serialized = keras.saving.serialize_keras_object(layer)
    restored = keras.saving.deserialize_keras_object(
        serialized, custom_objects={"CustomLayer": CustomLayer})
    assert float(np.asarray(restored.var)) == 2.0


@section
def clone_model(keras, folder):
    model = _mlp(keras)
    clone = keras.models.clone_model(model)
    assert clone.count_params() == model.count_params()
    assert [type(layer).__name__ for layer in clone.layers] == \
        [type(layer).__name__ for layer in model.layers]
