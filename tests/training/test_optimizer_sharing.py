"""Optimizers shared by threads (slots created once, no lost steps) and optimizer slots restored
before the optimizer is built (checked when it builds; a failure changes nothing)."""

import sys
import threading

import numpy as np
import pytest

import tapegrad as tf

THREADS, STEPS = 8, 5


def _shared_run(make_optimizer, variables):
    opt = make_optimizer()
    start = threading.Barrier(THREADS)
    errors = []

    def work():
        try:
            start.wait()
            for _ in range(STEPS):
                opt.apply_gradients([(tf.ones_like(v), v) for v in variables])
        except Exception as error:  # noqa: BLE001 - reported by the main thread
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return opt


@pytest.mark.parametrize("make_optimizer", [lambda: tf.keras.optimizers.Adam(0.01),
                                            lambda: tf.keras.optimizers.SGD(0.01, momentum=0.9)])
def test_threads_sharing_an_optimizer_create_slots_once_and_count_every_step(make_optimizer):
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)           # switch threads as often as possible
    try:
        for _ in range(10):
            variables = [tf.Variable(np.zeros((3, 2), np.float32)) for _ in range(4)]
            opt = _shared_run(make_optimizer, variables)
            slots = len(opt.get_slot_names())
            assert len(opt._trainable_variables) == len(variables)
            assert len(opt.variables) == 2 + slots * len(variables)   # iterations, lr, slots
            assert int(opt.iterations) == THREADS * STEPS
    finally:
        sys.setswitchinterval(old)


# -- deferred slots --------------------------------------------------------------------------

def _trained(shape=(2,)):
    var, opt = tf.Variable(np.arange(1, 1 + np.prod(shape), dtype=np.float32).reshape(shape)), \
        tf.keras.optimizers.Adam(0.1)
    opt.apply_gradients([(var * 2.0, var)])
    return var, opt


def _state(var, opt):
    return var.numpy().tolist(), int(opt.iterations), opt.built, len(opt.variables)


def test_wrong_shape_slots_fail_at_the_first_apply_and_change_nothing(tmp_path):
    var, opt = _trained()
    path = tf.train.Checkpoint(opt=opt).save(str(tmp_path / "ckpt"))
    fresh_opt = tf.keras.optimizers.Adam(0.1)
    tf.train.Checkpoint(opt=fresh_opt).restore(path)
    wider = tf.Variable(np.ones(3, np.float32))
    before = _state(wider, fresh_opt)
    for _ in range(2):                                  # a retry fails the same way
        with pytest.raises(ValueError, match=r"slots/0/m.*\(2,\).*\(3,\)"):
            fresh_opt.apply_gradients([(tf.ones(3), wider)])
        assert _state(wider, fresh_opt) == before
    # built on the right variable, the restored slots are used: the next step matches
    fresh = tf.Variable(var.numpy())
    fresh_opt.apply_gradients([(fresh * 2.0, fresh)])
    opt.apply_gradients([(var * 2.0, var)])
    np.testing.assert_array_equal(fresh.numpy(), var.numpy())


def _file_with_slots(tmp_path, dtype):
    var, opt = _trained()
    names = opt.get_slot_names()
    arrays = {"opt/iterations": np.int64(1), "opt/learning_rate": np.float32(0.1),
              **{f"opt/slots/0/{n}": np.ones(2, dtype) for n in names}}
    path = str(tmp_path / "ckpt-1.npz")
    np.savez(path, **arrays)
    return path


def test_float64_slots_are_refused_not_converted(tmp_path):
    path = _file_with_slots(tmp_path, np.float64)
    opt = tf.keras.optimizers.Adam(0.1)
    tf.train.Checkpoint(opt=opt).restore(path)
    var = tf.Variable([1.0, 2.0])
    with pytest.raises(ValueError, match="float64"):
        opt.apply_gradients([(tf.ones(2), var)])
    assert var.numpy().tolist() == [1.0, 2.0] and not opt.built and int(opt.iterations) == 1


def test_string_slots_are_refused_when_read(tmp_path):
    path = _file_with_slots(tmp_path, "<U3")
    opt = tf.keras.optimizers.Adam(0.1)
    with pytest.raises(tf.errors.DataLossError, match="slots/0"):
        tf.train.Checkpoint(opt=opt).restore(path)
    assert int(opt.iterations) == 0 and opt._deferred_slots is None
