"""Checkpoints: round trips, atomic writes (a crash mid-write keeps the previous file), and
missing / truncated / mismatched files that must leave every variable untouched."""

import os

import numpy as np
import pytest

import tapegrad as tf
from tapegrad import train


def _model(seed=0):
    tf.random.set_seed(seed)
    model = tf.keras.Sequential([tf.keras.Input(shape=(3,)),
                                 tf.keras.layers.Dense(4, activation="relu"),
                                 tf.keras.layers.BatchNormalization(),
                                 tf.keras.layers.Dense(2)])
    return model


def _step(model, opt):
    x = np.linspace(-1, 1, 15, dtype=np.float32).reshape(5, 3)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(model(x, training=True)))
    opt.apply_gradients(zip(tape.gradient(loss, model.trainable_variables),
                            model.trainable_variables))


def _values(model):
    return [v.numpy().copy() for v in model.variables]


def test_round_trip_model_and_optimizer_slots(tmp_path):
    model, opt = _model(), tf.keras.optimizers.Adam(0.1)
    for _ in range(3):
        _step(model, opt)
    path = tf.train.Checkpoint(model=model, optimizer=opt).save(str(tmp_path / "ckpt"))
    assert path.endswith("ckpt-1") and os.path.exists(path + ".npz")
    assert tf.train.latest_checkpoint(str(tmp_path)) == path

    fresh, fresh_opt = _model(seed=1), tf.keras.optimizers.Adam(0.1)
    tf.train.Checkpoint(model=fresh, optimizer=fresh_opt).restore(path)
    for a, b in zip(_values(model), _values(fresh)):
        np.testing.assert_array_equal(a, b)
    assert int(fresh_opt.iterations) == 3
    # slots were deferred until the optimizer builds; the next step then matches exactly
    _step(model, opt)
    _step(fresh, fresh_opt)
    for a, b in zip(_values(model), _values(fresh)):
        np.testing.assert_array_equal(a, b)


def test_save_counter_and_manager(tmp_path):
    v = tf.Variable(1.0)
    ckpt = tf.train.Checkpoint(v=v)
    manager = tf.train.CheckpointManager(ckpt, str(tmp_path), max_to_keep=2)
    paths = [manager.save() for _ in range(3)]
    assert [os.path.basename(p) for p in paths] == ["ckpt-1", "ckpt-2", "ckpt-3"]
    assert not os.path.exists(paths[0] + ".npz")
    assert manager.checkpoints == paths[1:]
    assert tf.train.latest_checkpoint(str(tmp_path)) == paths[2]


def test_crash_mid_write_keeps_previous_checkpoint(tmp_path, monkeypatch):
    v = tf.Variable([1.0, 2.0])
    ckpt = tf.train.Checkpoint(v=v)
    prefix = str(tmp_path / "ckpt")
    first = ckpt.write(prefix)
    before = open(first + ".npz", "rb").read()

    def crashing_savez(file, arrays):
        file.write(b"PK\x03\x04 partial archive")
        raise KeyboardInterrupt("simulated crash mid-write")

    monkeypatch.setattr(train, "_savez", crashing_savez)
    v.assign([5.0, 6.0])
    with pytest.raises(KeyboardInterrupt):
        ckpt.write(prefix)
    assert open(first + ".npz", "rb").read() == before
    assert os.listdir(tmp_path) == ["ckpt.npz"]          # no temporary file left behind
    monkeypatch.undo()
    ckpt.restore(first)
    assert v.numpy().tolist() == [1.0, 2.0]


def test_crash_during_save_does_not_advance_counter(tmp_path, monkeypatch):
    ckpt = tf.train.Checkpoint(v=tf.Variable(1.0))
    monkeypatch.setattr(train, "_savez", lambda f, a: (_ for _ in ()).throw(OSError("disk")))
    with pytest.raises(OSError):
        ckpt.save(str(tmp_path / "c"))
    assert int(ckpt.save_counter) == 0
    assert tf.train.latest_checkpoint(str(tmp_path)) is None


def test_missing_file_raises_not_found(tmp_path):
    ckpt = tf.train.Checkpoint(v=tf.Variable(1.0))
    with pytest.raises(tf.errors.NotFoundError, match="not found"):
        ckpt.restore(str(tmp_path / "nothing-1"))
    with pytest.raises(FileNotFoundError):
        ckpt.restore(str(tmp_path / "nothing-1"))


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_corrupt_file_raises_data_loss_and_changes_nothing(tmp_path, damage):
    model = _model()
    path = tf.train.Checkpoint(model=model).save(str(tmp_path / "ckpt"))
    data = open(path + ".npz", "rb").read()
    with open(path + ".npz", "wb") as f:
        f.write({"truncate": data[: len(data) // 2], "garbage": b"not a zip" * 10,
                 "empty": b""}[damage])
    other = _model(seed=3)
    before = _values(other)
    with pytest.raises(tf.errors.DataLossError, match="truncated or corrupt"):
        tf.train.Checkpoint(model=other).restore(path)
    for a, b in zip(before, _values(other)):
        np.testing.assert_array_equal(a, b)


def test_shape_mismatch_changes_nothing(tmp_path):
    model = _model()
    path = tf.train.Checkpoint(model=model).save(str(tmp_path / "ckpt"))
    wider = tf.keras.Sequential([tf.keras.Input(shape=(3,)),
                                 tf.keras.layers.Dense(4, activation="relu"),
                                 tf.keras.layers.BatchNormalization(),
                                 tf.keras.layers.Dense(3)])
    before = _values(wider)
    with pytest.raises(ValueError, match="shape"):
        tf.train.Checkpoint(model=wider).restore(path)
    for a, b in zip(before, _values(wider)):
        np.testing.assert_array_equal(a, b)


def test_dtype_mismatch_and_unknown_names_change_nothing(tmp_path):
    a32 = tf.Variable(np.ones(3, np.float32))
    path = tf.train.Checkpoint(a=a32).save(str(tmp_path / "ckpt"))
    a64 = tf.Variable(np.zeros(3, np.float64))
    with pytest.raises(ValueError, match="dtype"):
        tf.train.Checkpoint(a=a64).restore(path)
    assert a64.numpy().tolist() == [0.0, 0.0, 0.0]

    model = _model()
    path = tf.train.Checkpoint(model=model).save(str(tmp_path / "model"))
    smaller = tf.keras.Sequential([tf.keras.Input(shape=(3,)), tf.keras.layers.Dense(4)])
    before = _values(smaller)
    with pytest.raises(ValueError, match="no matching variable"):
        tf.train.Checkpoint(model=smaller).restore(path)
    for x, y in zip(before, _values(smaller)):
        np.testing.assert_array_equal(x, y)


def test_unbuilt_model_gets_a_clear_error(tmp_path):
    model = _model()
    path = tf.train.Checkpoint(model=model).save(str(tmp_path / "ckpt"))
    lazy = tf.keras.Sequential([tf.keras.layers.Dense(4)])
    with pytest.raises(ValueError, match="no variables yet"):
        tf.train.Checkpoint(model=lazy).restore(path)


def test_files_are_loaded_without_pickle(tmp_path):
    path = str(tmp_path / "evil.npz")
    np.savez(path, **{"v": np.array([object()], dtype=object)})
    with pytest.raises(tf.errors.DataLossError):
        tf.train.Checkpoint(v=tf.Variable([1.0])).restore(path)


def test_save_and_load_weights(tmp_path):
    model = _model()
    path = str(tmp_path / "model.weights.h5")
    model.save_weights(path)
    other = _model(seed=5)
    other.load_weights(path)
    for a, b in zip(_values(model), _values(other)):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(FileExistsError):
        model.save_weights(path, overwrite=False)
