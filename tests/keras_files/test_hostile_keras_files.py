"""Hostile .keras and .weights.h5 files are refused with clear errors, in bounded time and
memory, before any weight changes (and with no code from the file run)."""

import json
import os
import zipfile

import numpy as np
import pytest

import tapegrad as tf
from tests.keras_files.fixture_models import fixture_models

h5py = pytest.importorskip("h5py")

HERE = os.path.dirname(os.path.abspath(__file__))
KERAS_FILE = os.path.join(HERE, "dense_bn.keras")
WEIGHTS_FILE = os.path.join(HERE, "dense_bn.weights.h5")
BUILD = fixture_models(tf.keras)["dense_bn"][0]


def members(path=KERAS_FILE) -> dict:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def write_zip(path, contents: dict, compression=zipfile.ZIP_STORED) -> str:
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, data in contents.items():
            archive.writestr(name, data)
    return str(path)


def with_config(tmp_path, edit) -> str:
    contents = members()
    config = json.loads(contents["config.json"])
    edit(config)
    contents["config.json"] = json.dumps(config)
    return write_zip(tmp_path / "edited.keras", contents)


def snapshot(model) -> list:
    return [v.numpy().copy() for v in model.weights]


def assert_unchanged(model, before) -> None:
    for value, old in zip(snapshot(model), before):
        np.testing.assert_array_equal(value, old)


def lambda_layer(function) -> dict:
    return {"module": "keras.layers", "class_name": "Lambda", "registered_name": None,
            "config": {"name": "evil", "function": function}}


@pytest.mark.parametrize("safe_mode", [True, False])
def test_lambda_layer_is_refused_and_its_code_never_runs(tmp_path, safe_mode):
    code = {"class_name": "__lambda__", "config": {"code": "4wAAAAAAAAAAAAAAAAEAAAAB",
                                                  "defaults": None, "closure": None}}
    path = with_config(tmp_path, lambda c: c["config"]["layers"].insert(2, lambda_layer(code)))
    with pytest.raises(ValueError, match=r"Lambda 'evil'.*(safe mode|never runs code)"):
        tf.keras.models.load_model(path, safe_mode=safe_mode)


def test_serialized_python_function_anywhere_is_refused(tmp_path):
    def edit(config):
        config["config"]["layers"][1]["config"]["activation"] = {
            "class_name": "__lambda__", "config": {"code": "AA=="}}
    with pytest.raises(ValueError, match="__lambda__.*safe mode"):
        tf.keras.models.load_model(with_config(tmp_path, edit))


@pytest.mark.parametrize("layer", [
    {"module": "os", "class_name": "system", "config": {"command": "echo hacked"}},
    {"module": "evil", "class_name": "Layer", "registered_name": "evil>Payload", "config": {}},
    {"module": "keras.layers", "class_name": "KerasVariable",
     "config": {"initial_value": [1.0]}},
])
def test_unknown_or_non_layer_class_is_refused_before_anything_is_built(tmp_path, layer):
    path = with_config(tmp_path, lambda c: c["config"]["layers"].insert(2, layer))
    with pytest.raises(TypeError, match=r"Could not locate class .*register_keras_serializable"):
        tf.keras.models.load_model(path)


def test_unregistered_subclassed_model_is_refused_until_registered(tmp_path):
    contents = members(os.path.join(HERE, "subclassed.keras"))
    config = json.loads(contents["config.json"])
    config["registered_name"] = "unknown_package>Classifier"
    contents["config.json"] = json.dumps(config)
    path = write_zip(tmp_path / "unregistered.keras", contents)
    with pytest.raises(TypeError, match="Could not locate class 'Classifier'"):
        tf.keras.models.load_model(path)


def test_truncated_keras_file_is_refused(tmp_path):
    data = open(KERAS_FILE, "rb").read()
    for cut in (len(data) // 2, len(data) - 30, 100):
        path = tmp_path / "truncated.keras"
        path.write_bytes(data[:cut])
        with pytest.raises(ValueError, match="not a valid zip archive|truncated"):
            tf.keras.models.load_model(str(path))
        model = BUILD()
        before = snapshot(model)
        with pytest.raises(ValueError, match="truncated or damaged"):
            model.load_weights(str(path))
        assert_unchanged(model, before)


def test_archive_without_weights_or_with_bad_json_is_refused(tmp_path):
    contents = members()
    del contents["model.weights.h5"]
    with pytest.raises(ValueError, match="has no model.weights.h5"):
        tf.keras.models.load_model(write_zip(tmp_path / "a.keras", contents))
    contents["model.weights.npz"] = b"PK"
    with pytest.raises(ValueError, match="stored as model.weights.npz"):
        tf.keras.models.load_model(write_zip(tmp_path / "npz.keras", contents))
    contents = members()
    contents["config.json"] = b"[" * 100_000
    with pytest.raises(ValueError, match="config.json is not valid JSON"):
        tf.keras.models.load_model(write_zip(tmp_path / "b.keras", contents))
    flatten = {"module": "keras.layers", "class_name": "Flatten", "config": {}}
    contents["config.json"] = json.dumps({"class_name": "Sequential", "config": {
        "layers": [flatten] * 100_001}}).encode()
    with pytest.raises(ValueError, match="describes more than 100000 objects"):
        tf.keras.models.load_model(write_zip(tmp_path / "many.keras", contents))
    depth = 900                      # parses, but too deep to walk
    contents["config.json"] = ('{"class_name": "Sequential", "config": ' + "[" * depth +
                               "]" * depth + "}").encode()
    with pytest.raises(ValueError, match="nested too deeply|not valid JSON"):
        tf.keras.models.load_model(write_zip(tmp_path / "c.keras", contents))


def test_weights_member_larger_than_the_model_can_hold_is_refused_unread(tmp_path):
    contents = members()
    contents["model.weights.h5"] = bytes(40 << 20)        # deflates to ~40 KB
    path = write_zip(tmp_path / "bomb.keras", contents, zipfile.ZIP_DEFLATED)
    assert os.path.getsize(path) < 1 << 20
    with pytest.raises(ValueError, match="declares 41943040 bytes, more than"):
        tf.keras.models.load_model(path)


def test_weights_member_that_lies_about_its_size_is_refused(tmp_path):
    contents = members()
    path = write_zip(tmp_path / "liar.keras", contents, zipfile.ZIP_DEFLATED)
    data = bytearray(open(path, "rb").read())
    # shrink the declared size of model.weights.h5 in its central-directory entry: reading
    # stops at the declared size, and the CRC check fails
    central = data.find(b"PK\x01\x02" + b"\x14", 0)
    while central >= 0:
        name_length = int.from_bytes(data[central + 28:central + 30], "little")
        if data[central + 46:central + 46 + name_length] == b"model.weights.h5":
            break
        central = data.find(b"PK\x01\x02", central + 4)
    assert central >= 0
    data[central + 24:central + 28] = (1000).to_bytes(4, "little")
    (tmp_path / "liar.keras").write_bytes(bytes(data))
    with pytest.raises(ValueError, match="model.weights.h5|truncated or damaged"):
        tf.keras.models.load_model(str(tmp_path / "liar.keras"))


def h5_with(tmp_path, build) -> str:
    """A copy of the Keras weights file changed by ``build(file)``."""
    path = tmp_path / "edited.weights.h5"
    path.write_bytes(open(WEIGHTS_FILE, "rb").read())
    with h5py.File(path, "r+") as file:
        build(file)
    return str(path)


def replace(name, **dataset):
    def build(file):
        del file[name]
        file.create_dataset(name, **dataset)
    return build


HOSTILE_H5 = {
    "a dataset declared huge": (replace("layers/dense/vars/0", shape=(10 ** 12,),
                                        dtype="f4", chunks=(1024,)),
                                r"has shape \(1000000000000,\)"),
    "a wrong shape": (replace("layers/dense/vars/0", data=np.zeros((6, 9), "f4")),
                      r"layers/dense/vars/0 has shape \(6, 9\).*\(6, 8\)"),
    "text instead of numbers": (replace("layers/dense/vars/1", data=np.array([b"x"] * 8)),
                                "holds dtype \\|S1; weights are numbers"),
    "floats for an integer variable": (replace("optimizer/vars/0",
                                               data=np.array(1.5, "f4")), None),
    "a missing value": (lambda f: f.__delitem__("layers/dense/vars/1"),
                        r"holds 1 values \['0'\].*has 2 variables"),
    "an extra layer": (lambda f: f.create_dataset("layers/dense_9/vars/0",
                                                  data=np.zeros(3, "f4")),
                       r"holds weights for \['layers/dense_9'\]"),
    "an external link": (lambda f: (f.__delitem__("layers/dense"),
                                    f.__setitem__("layers/dense",
                                                  h5py.ExternalLink("/etc/passwd", "/x"))),
                         "is a ExternalLink; weights files hold only plain"),
    "a soft link": (lambda f: (f.__delitem__("layers/dense_1/vars"),
                               f.__setitem__("layers/dense_1/vars",
                                             h5py.SoftLink("/layers/dense/vars"))),
                    "is a SoftLink"),
    "data kept in another file": (replace("layers/dense/vars/1", shape=(8,), dtype="f4",
                                          external=[("/etc/hostname", 0, 32)]),
                                  "keeps its data outside the file"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_H5))
def test_hostile_weights_file_is_refused_and_nothing_changes(tmp_path, case):
    build, message = HOSTILE_H5[case]
    path = h5_with(tmp_path, build)
    model = BUILD()
    model.compile(optimizer=tf.keras.optimizers.Adam(0.01), loss="mse")
    model.optimizer.build(model.trainable_variables)
    before = snapshot(model) + [v.numpy().copy() for v in model.optimizer.variables]
    if message is None:      # a float cannot silently become the int64 step counter
        message = "cannot become variable"
    with pytest.raises(ValueError, match=message) as raised:
        model.load_weights(path)
    assert "Nothing was loaded" in str(raised.value)
    assert_unchanged(model, before[:len(model.weights)])
    for value, old in zip(model.optimizer.variables, before[len(model.weights):]):
        np.testing.assert_array_equal(value.numpy(), old)


def test_hostile_weights_inside_a_keras_file_are_refused(tmp_path):
    path = h5_with(tmp_path, HOSTILE_H5["a dataset declared huge"][0])
    contents = members()
    contents["model.weights.h5"] = open(path, "rb").read()
    with pytest.raises(ValueError, match=r"has shape \(1000000000000,\)"):
        tf.keras.models.load_model(write_zip(tmp_path / "huge.keras", contents))


def test_not_hdf5_or_truncated_hdf5_is_refused(tmp_path):
    model = BUILD()
    before = snapshot(model)
    data = open(WEIGHTS_FILE, "rb").read()
    for junk in (b"not hdf5 at all", data[:len(data) // 2]):
        path = tmp_path / "junk.weights.h5"
        path.write_bytes(junk)
        with pytest.raises(ValueError, match="not a readable HDF5 weights file"):
            model.load_weights(str(path))
    assert_unchanged(model, before)
    with pytest.raises(FileNotFoundError):
        model.load_weights(str(tmp_path / "missing.weights.h5"))


def test_optimizer_state_of_another_size_is_skipped_with_keras_warning(tmp_path):
    model = BUILD()
    model.compile(optimizer=tf.keras.optimizers.SGD(0.1), loss="mse")   # 2 variables, not 10
    with pytest.warns(UserWarning, match="Skipping variable loading for optimizer 'SGD'"):
        model.load_weights(WEIGHTS_FILE)
    x = np.load(os.path.join(HERE, "predictions.npz"))["dense_bn/x"]
    y = np.load(os.path.join(HERE, "predictions.npz"))["dense_bn/y"]
    np.testing.assert_allclose(model.predict(x, verbose=0), y, rtol=1e-5, atol=1e-6)


def test_skip_mismatch_loads_what_fits(tmp_path):
    path = h5_with(tmp_path, HOSTILE_H5["a wrong shape"][0])
    model = BUILD()
    first = model.layers[0].kernel.numpy().copy()
    with pytest.warns(UserWarning, match="Skipping loading weights for 'dense"):
        model.load_weights(path, skip_mismatch=True)
    np.testing.assert_array_equal(model.layers[0].kernel.numpy(), first)
    with h5py.File(WEIGHTS_FILE, "r") as file:
        np.testing.assert_array_equal(model.layers[3].kernel.numpy(),
                                      file["layers/dense_1/vars/0"][()])


def test_member_names_are_read_in_memory_never_extracted(tmp_path):
    contents = members()
    contents["../../outside.txt"] = b"x"
    path = write_zip(tmp_path / "deep" / "slip.keras", contents) if \
        (tmp_path / "deep").mkdir() is None else None
    tf.keras.models.load_model(path)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["deep", "slip.keras"]


def test_randomly_damaged_weights_files_fail_only_with_clear_errors(tmp_path):
    # HDF5 has no checksums: a flipped byte in the data loads as another number (as in Keras),
    # but one in the file's structure must give a clear ValueError, never h5py's own errors.
    rng = np.random.default_rng(4)
    data = open(WEIGHTS_FILE, "rb").read()
    model = BUILD()
    path = tmp_path / "damaged.weights.h5"
    refused = 0
    for _ in range(100):
        damaged = bytearray(data)
        for position in rng.integers(0, len(data), size=rng.integers(1, 9)):
            damaged[position] = int(rng.integers(0, 256))
        path.write_bytes(bytes(damaged))
        try:
            model.load_weights(str(path))
        except ValueError as error:
            assert "Nothing was loaded" in str(error)
            refused += 1
    assert refused > 15


@pytest.mark.parametrize("edit, message", [
    (lambda c: c["config"]["layers"][1]["config"].update(units=10 ** 9),
     r"weight of shape \(6, 1000000000\).*more than its weights file can hold"),
    (lambda c: c["config"]["layers"][1]["config"].update(units=10 ** 30),
     "more than its weights file can hold|too large to build"),
    (lambda c: c["config"]["layers"][0]["config"].update(batch_shape=[None, 10 ** 12]),
     r"batch_shape = \[None, 1000000000000\], an input of 2000000000000 values"),
    (lambda c: c["config"]["layers"][0]["config"].update(batch_shape=[None, -3]),
     "dimensions must be sizes or null"),
])
def test_config_asking_for_huge_tensors_is_refused_before_allocating(tmp_path, edit, message):
    with pytest.raises(ValueError, match=message):
        tf.keras.models.load_model(with_config(tmp_path, edit))
