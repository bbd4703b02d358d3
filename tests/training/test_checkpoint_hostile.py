"""Hostile and damaged checkpoint files (built by ``hostile_files.py``): each fails with a clear
``DataLossError``/``NotFoundError`` naming the file and member, in bounded memory, before any
variable changes; members nothing asks for are never read."""

import contextlib
import faulthandler
import os
import tracemalloc
import zipfile

import numpy as np
import pytest

import tapegrad as tf
from tests.training import hostile_files as hostile

BOMB = 1 << 25                   # 32 MiB inflated from about 32 KB
MEMORY_BOUND = 8 << 20           # what a restore of two tiny variables may allocate at peak


@contextlib.contextmanager
def no_hang(seconds=120):
    """Fail with tracebacks (rather than hang the suite) if the body never returns."""
    faulthandler.dump_traceback_later(seconds, exit=True)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()


@contextlib.contextmanager
def bounded():
    """``no_hang``, and yield a function giving the peak bytes traced (NumPy's buffers
    included) while the body ran."""
    peak = []
    with no_hang():
        tracemalloc.start()
        try:
            yield lambda: peak[0]
        finally:
            peak.append(tracemalloc.get_traced_memory()[1])
            tracemalloc.stop()


def _pair():
    a, v = tf.Variable([1.0, 2.0]), tf.Variable([3.0, 4.0])
    return a, v, tf.train.Checkpoint(a=a, v=v)


def _untouched(a, v):
    assert a.numpy().tolist() == [1.0, 2.0] and v.numpy().tolist() == [3.0, 4.0]


HOSTILE = hostile.hostile_members(BOMB)


@pytest.mark.parametrize("kind", list(HOSTILE))
def test_hostile_member_is_refused_before_anything_changes(tmp_path, kind):
    members = HOSTILE[kind]()
    path = hostile.write_zip(tmp_path / "ckpt-1.npz", members)
    a, v, ckpt = _pair()
    with bounded() as peak, pytest.raises(tf.errors.DataLossError) as caught:
        ckpt.restore(path)
    message = str(caught.value)
    assert path in message and repr(members[-1].name.decode()) in message, message
    assert peak() < MEMORY_BOUND
    _untouched(a, v)


@pytest.mark.parametrize("kind", ["V0 dtype, shape (10**18,)", "bomb lying about its size",
                                  "traversal ../"])
def test_load_weights_refuses_hostile_files(tmp_path, kind):
    model = tf.keras.Sequential([tf.keras.Input(shape=(2,)),
                                 tf.keras.layers.Dense(1, use_bias=False)])
    before = [w.numpy().copy() for w in model.weights]
    members = [m for m in HOSTILE[kind]() if m.name != b"a.npy"]
    for member in members:
        member.name = member.name.replace(b"v", b"model/0/kernel")
    path = hostile.write_zip(tmp_path / "model.weights.npz", members)
    with bounded() as peak, pytest.raises(tf.errors.DataLossError, match="model"):
        model.load_weights(path)
    assert peak() < MEMORY_BOUND
    for old, new in zip(before, model.weights):
        np.testing.assert_array_equal(old, new.numpy())


def test_bomb_under_an_object_nobody_restores_is_never_read(tmp_path):
    compressed, crc = hostile.deflated_zeros(BOMB)
    path = hostile.write_zip(tmp_path / "ckpt-1.npz", [
        hostile.valid_a(), hostile.Member("v.npy", hostile.npy(np.float32([5, 6]))),
        hostile.Member("other.npy", b"", method=hostile.DEFLATED, compressed=compressed,
                       file_size=BOMB, crc=crc),
        hostile.Member("broken.npy", hostile.npy(np.float32([5, 6])), crc=1)])
    a, v, ckpt = _pair()
    with bounded() as peak:
        status = ckpt.restore(path)
    assert peak() < MEMORY_BOUND
    assert a.numpy().tolist() == [7.0, 8.0] and v.numpy().tolist() == [5.0, 6.0]
    with pytest.raises(AssertionError, match="other"):
        status.assert_consumed()


def test_unknown_name_under_a_restored_object_is_refused_from_the_directory(tmp_path):
    compressed, crc = hostile.deflated_zeros(BOMB)
    path = hostile.write_zip(tmp_path / "ckpt-1.npz", [
        hostile.valid_a(), hostile.Member("v.npy", hostile.npy(np.float32([5, 6]))),
        hostile.Member("a/extra.npy", b"", method=hostile.DEFLATED, compressed=compressed,
                       file_size=BOMB, crc=crc)])
    a, v, ckpt = _pair()
    with bounded() as peak, pytest.raises(ValueError, match="a/extra"):
        ckpt.restore(path)
    assert peak() < MEMORY_BOUND
    _untouched(a, v)


def _model_and_optimizer():
    model = tf.keras.Sequential([tf.keras.Input(shape=(3,)), tf.keras.layers.Dense(4),
                                 tf.keras.layers.Dense(2)])
    opt = tf.keras.optimizers.Adam(0.1)
    x = np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(model(x) ** 2)
    opt.apply_gradients(zip(tape.gradient(loss, model.trainable_variables),
                            model.trainable_variables))
    return model, opt


def _damaged_copies(tmp_path, damage):
    """A saved model+optimizer checkpoint, then ``damage(data)`` -> list of damaged bytes."""
    model, opt = _model_and_optimizer()
    path = tf.train.Checkpoint(model=model, optimizer=opt).save(str(tmp_path / "ckpt"))
    data = open(path + ".npz", "rb").read()
    values = [w.numpy().copy() for w in model.weights] + [opt.iterations.numpy()]
    return path + ".npz", data, values, damage(data)


def _restore_damaged(path, damaged, values, allowed):
    """Restore every damaged copy into fresh objects: it fails with an allowed error and
    changes nothing, or restores the saved values (a flipped object name leaves that object
    as it was, which the status reports). Returns the number of failures."""
    failures = 0
    for data in damaged:
        with open(path, "wb") as file:
            file.write(data)
        model, opt = _model_and_optimizer()
        before = [w.numpy().copy() for w in model.weights] + [opt.iterations.numpy()]
        try:
            status = tf.train.Checkpoint(model=model, optimizer=opt).restore(path)
        except allowed as error:
            failures += 1
            assert path in str(error)
            status = None
        after = [w.numpy() for w in model.weights] + [opt.iterations.numpy()]
        kept = [np.array_equal(old, new) for old, new in zip(before, after)]
        restored = [np.array_equal(saved, new) for saved, new in zip(values, after)]
        if status is None:
            assert all(kept)
        else:
            assert all(k or r for k, r in zip(kept, restored))
            if not all(restored):
                with pytest.raises(AssertionError):
                    status.assert_consumed()
    return failures


def test_every_truncation_fails_cleanly(tmp_path):
    path, data, values, damaged = _damaged_copies(
        tmp_path, lambda data: [data[:n] for n in range(0, len(data), max(1, len(data) // 60))])
    with no_hang():
        assert _restore_damaged(path, damaged, values, tf.errors.DataLossError) == len(damaged)


def test_bit_flips_fail_cleanly_or_change_nothing_that_matters(tmp_path):
    def flips(data):
        out = []
        for position in range(0, len(data), 23):
            flipped = bytearray(data)
            flipped[position] ^= 1 << (position % 8)
            out.append(bytes(flipped))
        return out
    path, data, values, damaged = _damaged_copies(tmp_path, flips)
    with no_hang():
        failures = _restore_damaged(path, damaged, values,
                                    (tf.errors.DataLossError, ValueError))
    assert failures > len(damaged) // 2          # most flips hit data guarded by the CRC


def test_data_bit_flip_is_caught_by_the_crc(tmp_path):
    a, v, ckpt = _pair()
    path = ckpt.write(str(tmp_path / "ckpt")) + ".npz"
    data = bytearray(open(path, "rb").read())
    data[data.index(np.float32([3.0, 4.0]).tobytes())] ^= 0x10
    open(path, "wb").write(bytes(data))
    a.assign([0.0, 0.0])
    with pytest.raises(tf.errors.DataLossError, match="CRC"):
        ckpt.restore(path)
    assert a.numpy().tolist() == [0.0, 0.0]


def test_plain_npy_at_the_checkpoint_path(tmp_path):
    path = str(tmp_path / "ckpt-1.npz")
    with open(path, "wb") as file:
        np.save(file, np.float32([1, 2]))
    a, v, ckpt = _pair()
    with pytest.raises(tf.errors.DataLossError, match="single .npy array"):
        ckpt.restore(path)
    _untouched(a, v)


@pytest.mark.skipif(not hasattr(os, "symlink") or not os.path.exists("/dev/zero"),
                    reason="POSIX symlinks and /dev/zero")
def test_symlinks_and_special_files(tmp_path):
    a, v, ckpt = _pair()
    good = ckpt.write(str(tmp_path / "good")) + ".npz"
    cases = {"zero.npz": "/dev/zero", "folder.npz": str(tmp_path),
             "loop.npz": str(tmp_path / "loop.npz")}
    for name, target in cases.items():
        os.symlink(target, tmp_path / name)
    os.mkfifo(tmp_path / "fifo.npz")
    with no_hang():
        for name in [*cases, "fifo.npz"]:
            with pytest.raises(tf.errors.DataLossError, match=name):
                ckpt.restore(str(tmp_path / name))
    os.symlink(str(tmp_path / "missing.npz"), tmp_path / "dangling.npz")
    with pytest.raises(tf.errors.NotFoundError, match="dangling"):
        ckpt.restore(str(tmp_path / "dangling.npz"))
    _untouched(a, v)
    os.symlink(good, tmp_path / "link.npz")               # a link to a real checkpoint works
    a.assign([0.0, 0.0])
    ckpt.restore(str(tmp_path / "link.npz"))
    _untouched(a, v)


def test_fortran_order_and_deflated_members_restore_exactly(tmp_path):
    matrix = np.arange(6, dtype=np.float32).reshape(2, 3)
    path = str(tmp_path / "ckpt-1.npz")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("m.npy", hostile.npy(np.asfortranarray(matrix)))
    m = tf.Variable(np.zeros((2, 3), np.float32))
    tf.train.Checkpoint(m=m).restore(path)
    np.testing.assert_array_equal(m.numpy(), matrix)
    assert m.numpy().flags.c_contiguous
