"""Checkpoints: round trips, atomic writes (a crash mid-write keeps the previous file), and
missing / truncated / mismatched files that must leave every variable untouched."""

import os

import numpy as np
import pytest

import tapegrad as tf
from tapegrad.training import checkpoint as train


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


# -- saving: temporaries, permissions, durability ------------------------------------------------

_CHILD_SAVER = """
import os, sys, time
sys.path.insert(0, sys.argv[2])
import numpy as np
import tapegrad as tf
from tapegrad.training import checkpoint as train
real_savez = train._savez

def slow_savez(file, arrays):
    real_savez(file, arrays)
    file.flush()
    print("mid-save", flush=True)       # the temporary file is full size now
    time.sleep(60)

ckpt = tf.train.Checkpoint(v=tf.Variable(np.ones(1 << 16, np.float32)))
manager = tf.train.CheckpointManager(ckpt, sys.argv[1], max_to_keep=3)
manager.restore_or_initialize()
manager.save()
train._savez = slow_savez
manager.save()
"""


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL and stale-temporary detection")
def test_saves_killed_mid_write_leave_no_orphans_after_the_next_save(tmp_path):
    import signal
    import subprocess
    import sys
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    for _ in range(3):
        child = subprocess.Popen([sys.executable, "-c", _CHILD_SAVER, str(tmp_path), root],
                                 stdout=subprocess.PIPE, text=True)
        try:
            assert child.stdout.readline().strip() == "mid-save"
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait()
            child.stdout.close()
        # each kill leaves one full-size temporary; the next process's first save removed
        # the previous one
        orphans = [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]
        assert len(orphans) == 1 and os.path.getsize(tmp_path / orphans[0]) > 4 << 16
    ckpt = tf.train.Checkpoint(v=tf.Variable(np.zeros(1 << 16, np.float32)))
    manager = tf.train.CheckpointManager(ckpt, str(tmp_path), max_to_keep=3)
    manager.restore_or_initialize()
    assert ckpt.v.numpy().min() == 1.0
    manager.save()
    assert [n for n in os.listdir(tmp_path) if n.endswith(".tmp")] == []


def test_temporaries_of_live_writers_are_kept(tmp_path):
    live = tmp_path / f".ckpt-9.npz.{os.getpid()}-0123abcd.tmp"
    unrelated = tmp_path / "notes.123-ab.tmp"
    live.write_bytes(b"being written")
    unrelated.write_bytes(b"not ours")
    tf.train.Checkpoint(v=tf.Variable(1.0)).save(str(tmp_path / "ckpt"))
    assert live.exists() and unrelated.exists()


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_files_are_written_with_the_umask_applied(tmp_path, umask):
    old = os.umask(umask)
    try:
        path = tf.train.Checkpoint(v=tf.Variable(1.0)).save(str(tmp_path / "ckpt"))
        np.save(str(tmp_path / "reference.npy"), np.zeros(1))
    finally:
        os.umask(old)
    expected = os.stat(tmp_path / "reference.npy").st_mode & 0o777
    assert expected == 0o666 & ~umask
    for name in (os.path.basename(path) + ".npz", "checkpoint"):
        assert os.stat(tmp_path / name).st_mode & 0o777 == expected


@pytest.mark.skipif(not hasattr(os, "O_DIRECTORY"), reason="POSIX folder fsync")
def test_folder_is_synced_after_the_rename(tmp_path, monkeypatch):
    import stat
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append("fsync folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync file")
        real_fsync(fd)

    def replace(src, dst):
        events.append("rename")
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    tf.train.Checkpoint(v=tf.Variable(1.0)).write(str(tmp_path / "ckpt"))
    assert events == ["fsync file", "rename", "fsync folder"]
