"""Files written by real Keras 3 (TF 2.21) load in tapegrad with Keras's predictions, and the
weights files tapegrad writes have exactly Keras's layout (make_fixtures_tf.py wrote the
fixtures and recorded the predictions)."""

import os
import re
import sys

import numpy as np
import pytest

import tapegrad as tf
from tests.keras_files.fixture_models import fixture_models

h5py = pytest.importorskip("h5py")

HERE = os.path.dirname(os.path.abspath(__file__))
PREDICTIONS = np.load(os.path.join(HERE, "predictions.npz"))
MODELS = fixture_models(tf.keras)
NAMES = sorted(MODELS)
TRAINING_STEPS = 6          # 3 epochs of 16 samples in batches of 8, in make_fixtures_tf.py


def fixture(name: str, suffix: str) -> str:
    return os.path.join(HERE, f"{name}{suffix}")


def keras_prediction(name: str):
    return PREDICTIONS[f"{name}/x"], PREDICTIONS[f"{name}/y"]


def layout(path: str) -> dict:
    """Every group and dataset of an HDF5 file: path -> (shape, dtype), or for a group its
    name attribute without the counter Keras appends to automatic names (``dense_7``)."""
    found = {}
    with h5py.File(path, "r") as file:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                found[name] = (obj.shape, obj.dtype.str)
            else:
                found[name] = re.sub(r"_\d+$", "", str(dict(obj.attrs).get("name")))
        file.visititems(visit)
    return found


@pytest.mark.parametrize("name", NAMES)
def test_keras_weights_file_gives_keras_predictions(name):
    model = MODELS[name][0]()
    model.load_weights(fixture(name, ".weights.h5"))
    x, expected = keras_prediction(name)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_keras_model_file_gives_keras_predictions_and_training_state(name):
    model = tf.keras.models.load_model(fixture(name, ".keras"))
    x, expected = keras_prediction(name)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
    assert type(model.optimizer).__name__ == "Adam"
    assert int(model.optimizer.iterations) == TRAINING_STEPS
    np.testing.assert_allclose(float(model.optimizer.learning_rate), 0.01, rtol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_weights_file_written_by_tapegrad_has_keras_layout(name, tmp_path):
    model = tf.keras.models.load_model(fixture(name, ".keras"))    # compiled, with Adam state
    path = str(tmp_path / "w.weights.h5")
    model.save_weights(path)
    assert layout(path) == layout(fixture(name, ".weights.h5"))
    with h5py.File(path, "r") as mine, h5py.File(fixture(name, ".weights.h5"), "r") as keras:
        def same(key, obj):
            if isinstance(obj, h5py.Dataset):
                np.testing.assert_array_equal(mine[key][()], obj[()])
        keras.visititems(same)


@pytest.mark.parametrize("name", NAMES)
def test_keras_file_round_trips_through_tapegrad(name, tmp_path):
    model = tf.keras.models.load_model(fixture(name, ".keras"))
    path = str(tmp_path / "again.keras")
    model.save(path)
    again = tf.keras.models.load_model(path)
    x, expected = keras_prediction(name)
    np.testing.assert_allclose(again.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
    for a, b in zip(model.optimizer.variables, again.optimizer.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_keras_saving_names_the_same_functions(tmp_path):
    assert tf.keras.saving.load_model is tf.keras.models.load_model
    assert tf.keras.saving.save_model is tf.keras.models.save_model
    model = MODELS["conv"][0]()
    tf.keras.saving.load_weights(model, fixture("conv", ".weights.h5"))
    x, expected = keras_prediction("conv")
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"must end in `\.weights\.h5`"):
        tf.keras.saving.save_weights(model, str(tmp_path / "w.h5"))
    tf.keras.saving.save_weights(model, str(tmp_path / "w.weights.h5"))
    assert layout(str(tmp_path / "w.weights.h5")).keys() == \
        {k for k in layout(fixture("conv", ".weights.h5")) if not k.startswith("optimizer")}


def test_load_weights_from_a_keras_file():
    model = MODELS["conv"][0]()
    model.load_weights(fixture("conv", ".keras"))
    x, expected = keras_prediction("conv")
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)


def test_functional_layers_are_numbered_in_keras_order(tmp_path):
    # Keras numbers layers by depth from the inputs, not by creation: "late" is created
    # first but sits deeper, so it is layers/dense_1 (tapegrad must agree, or same-shaped
    # weights would be swapped silently).
    inputs = tf.keras.Input((3,))
    late = tf.keras.layers.Dense(3, name="late")
    early = tf.keras.layers.Dense(3, name="early")
    model = tf.keras.Model(inputs, late(early(inputs)))
    from tapegrad.keras.h5_weights import keras_paths
    assert [(path, obj.name) for path, obj in keras_paths(model)][1:] == [
        ("layers/input_layer", model.layers[0].name), ("layers/dense", "early"),
        ("layers/dense_1", "late")]


def test_weights_h5_without_h5py_names_the_extra(tmp_path, monkeypatch):
    model = MODELS["dense_bn"][0]()
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(ImportError, match=r"tapegrad\[keras-files\]"):
        model.save_weights(str(tmp_path / "m.weights.h5"))
    with pytest.raises(ImportError, match=r"tapegrad\[keras-files\]"):
        tf.keras.models.load_model(fixture("dense_bn", ".keras"))
    model.save_weights(str(tmp_path / "m.npz"))        # the NumPy format needs nothing more
    model.load_weights(str(tmp_path / "m.npz"))


def test_custom_activation_is_written_as_keras_writes_it(tmp_path):
    # Keras 3.15 writes a registered activation as a "function" object naming it
    # (observed with TF 2.21); a bare string would not load in Keras.
    import json
    import zipfile

    from tests.keras_files.guide_sections import _custom_model_file, _custom_objects
    layer, fn = _custom_objects(tf.keras, register=True)
    _, path, _ = _custom_model_file(tf.keras, str(tmp_path), layer, fn)
    config = json.loads(zipfile.ZipFile(path).read("config.json"))
    dense = [entry for entry in config["config"]["layers"] if entry["class_name"] == "Dense"]
    assert dense[0]["config"]["activation"] == {
        "module": "builtins", "class_name": "function", "config": "my_package>custom_fn",
        "registered_name": "function"}
    assert tf.keras.models.load_model(path).layers[-1].activation is fn


def test_subclassed_layout_follows_keras_attribute_walk():
    # Observed with Keras 3.15: attributes are walked alphabetically, private ones last, and a
    # model's `layers` list is walked at its own place, so a layer held by an attribute that
    # sorts after "layers" is stored under layers/<class>_<n> (numbered over all layers).
    class Net(tf.keras.Model):
        def __init__(self):
            super().__init__()
            self.a = tf.keras.layers.Dense(2)
            self.zz = tf.keras.layers.Dense(1)
            self._priv = tf.keras.layers.Dense(1)

        def call(self, x):
            return self.zz(self.a(x)) + self._priv(x)

    model = Net()
    model(np.ones((2, 4), np.float32))
    model.compile(optimizer="sgd", loss="mse")
    from tapegrad.keras.h5_weights import keras_paths
    assert [path for path, _ in keras_paths(model)] == [
        "", "a", "layers/dense_1", "layers/dense_2", "optimizer"]


def test_legacy_keras2_h5_is_refused_but_npz_under_any_name_loads(tmp_path):
    model = MODELS["dense_bn"][0]()
    with pytest.raises(ValueError, match="legacy Keras 2 HDF5 file"):
        model.load_weights(fixture("legacy", ".h5"))
    with pytest.raises(ValueError, match="sharded Keras weights"):
        model.load_weights(str(tmp_path / "model.weights.json"))
    with pytest.raises(ValueError, match="must end in `.weights.h5`"):
        model.save_weights(str(tmp_path / "numpy.h5"))     # as Keras 3
    model.save_weights(str(tmp_path / "numpy.npz"))
    path = str(tmp_path / "numpy.h5")        # tapegrad's .npz format loads whatever the name
    os.replace(str(tmp_path / "numpy.npz"), path)
    model.load_weights(path)


def test_loading_into_an_unbuilt_model_asks_to_build_it():
    unbuilt = tf.keras.Sequential([tf.keras.layers.Dense(8)])
    with pytest.raises(ValueError, match="has no weights yet: build it first"):
        unbuilt.load_weights(fixture("dense_bn", ".weights.h5"))


def test_weightless_and_unbuilt_models_save_and_load(tmp_path):
    flat = tf.keras.Sequential([tf.keras.Input((2, 3)), tf.keras.layers.Flatten()])
    flat.save(str(tmp_path / "flat.keras"))
    again = tf.keras.models.load_model(str(tmp_path / "flat.keras"))
    assert again(np.ones((1, 2, 3), np.float32)).shape == (1, 6)
    lazy = tf.keras.Sequential([tf.keras.layers.Dense(3)])
    lazy.save(str(tmp_path / "lazy.keras"))
    assert not tf.keras.models.load_model(str(tmp_path / "lazy.keras")).weights


@pytest.mark.parametrize("name", NAMES)
def test_layout_stays_keras_after_training_in_tapegrad(name, tmp_path):
    # fit() adds training state to the model; none of it may appear in the weights file
    from tests.keras_files.fixture_models import trained
    model = trained(tf.keras, name, np.random.default_rng(0), epochs=1)
    path = str(tmp_path / "w.weights.h5")
    model.save_weights(path)
    mine, keras = layout(path), layout(fixture(name, ".weights.h5"))
    assert {key: value for key, value in mine.items() if isinstance(value, tuple)} == \
        {key: value for key, value in keras.items() if isinstance(value, tuple)}
    assert set(mine) == set(keras)


def test_saving_refuses_to_drop_a_regularizer_silently(tmp_path):
    model = tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.Dense(
        2, kernel_regularizer=tf.keras.regularizers.L2(0.01))])
    if "kernel_regularizer" in model.layers[0].get_config():   # serialized: must round-trip
        model.save(str(tmp_path / "m.keras"))
        again = tf.keras.models.load_model(str(tmp_path / "m.keras"))
        np.testing.assert_allclose(float(again.layers[0].kernel_regularizer.l2), 0.01)
    else:
        with pytest.raises(ValueError, match="does not serialize its kernel_regularizer"):
            model.save(str(tmp_path / "m.keras"))
        assert not (tmp_path / "m.keras").exists()


def test_branching_functional_layers_follow_keras_order():
    # Keras 3.15 orders this graph's layers early, branch_a, late, branch_b (observed); the
    # weights file numbers the Dense layers in that order.
    inputs = tf.keras.Input((3,))
    late, early = tf.keras.layers.Dense(3, name="late"), tf.keras.layers.Dense(3, name="early")
    x = early(inputs)
    b = tf.keras.layers.Dense(3, name="branch_b")(inputs)
    a = tf.keras.layers.Dense(3, name="branch_a")(x)
    model = tf.keras.Model(inputs, [late(a), b])
    from tapegrad.keras.h5_weights import keras_paths
    assert [(path, obj.name) for path, obj in keras_paths(model)][2:] == [
        ("layers/dense", "early"), ("layers/dense_1", "branch_a"), ("layers/dense_2", "late"),
        ("layers/dense_3", "branch_b")]
