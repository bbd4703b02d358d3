"""Checkpoint status and manager probes, run the same way on TensorFlow and on tapegrad.

``record_checkpoint_status_tf.py`` runs them on TensorFlow 2.21 and writes
``expected_tf_checkpoint_status.json``; ``test_checkpoint_status.py`` runs them on tapegrad
and compares. Each probe returns plain data: ``"ok"`` or the exception type's name for each
call, and the values that matter.
"""

import os
import tempfile

import numpy as np


def _outcome(call):
    try:
        call()
    except Exception as error:  # noqa: BLE001 - the type is the recorded outcome
        return type(error).__name__
    return "ok"


def _assertions(status):
    return {"assert_consumed": _outcome(status.assert_consumed),
            "assert_existing_objects_matched": _outcome(status.assert_existing_objects_matched),
            "assert_nontrivial_match": _outcome(status.assert_nontrivial_match),
            "expect_partial_returns_status": status.expect_partial() is status}


def _saved(tf, folder, **variables):
    return tf.train.Checkpoint(**variables).save(os.path.join(folder, "ckpt"))


def probe_file_has_more_objects(tf, folder):
    path = _saved(tf, folder, a=tf.Variable(1.0), b=tf.Variable(2.0))
    a = tf.Variable(0.0)
    status = tf.train.Checkpoint(a=a).restore(path)
    return {"a": float(a.numpy()), **_assertions(status)}


def probe_file_has_fewer_objects(tf, folder):
    path = _saved(tf, folder, a=tf.Variable(1.0))
    a, b = tf.Variable(0.0), tf.Variable(5.0)
    status = tf.train.Checkpoint(a=a, b=b).restore(path)
    return {"a": float(a.numpy()), "b": float(b.numpy()), **_assertions(status)}


def probe_exact_match(tf, folder):
    path = _saved(tf, folder, a=tf.Variable(1.0), b=tf.Variable(2.0))
    a, b = tf.Variable(0.0), tf.Variable(0.0)
    status = tf.train.Checkpoint(a=a, b=b).restore(path)
    return {"a": float(a.numpy()), "b": float(b.numpy()), **_assertions(status)}


def probe_file_has_none_of_the_objects(tf, folder):
    path = _saved(tf, folder, a=tf.Variable(1.0), b=tf.Variable(2.0))
    c = tf.Variable(0.0)
    status = tf.train.Checkpoint(c=c).restore(path)
    return {"c": float(c.numpy()), **_assertions(status)}


def probe_restore_none(tf, folder):
    status = tf.train.Checkpoint(a=tf.Variable(0.0)).restore(None)
    return _assertions(status)


def probe_expect_partial_then_assert(tf, folder):
    path = _saved(tf, folder, a=tf.Variable(1.0), b=tf.Variable(2.0))
    status = tf.train.Checkpoint(a=tf.Variable(0.0)).restore(path).expect_partial()
    return {"assert_consumed": _outcome(status.assert_consumed)}


def _step(tf, var, opt):
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(var * var)
    opt.apply_gradients([(tape.gradient(loss, var), var)])


def probe_unbuilt_optimizer(tf, folder):
    var, opt = tf.Variable([1.0, 2.0]), tf.keras.optimizers.Adam(0.1)
    _step(tf, var, opt)
    path = _saved(tf, folder, var=var, opt=opt)
    fresh, fresh_opt = tf.Variable([1.0, 2.0]), tf.keras.optimizers.Adam(0.1)
    status = tf.train.Checkpoint(var=fresh, opt=fresh_opt).restore(path)
    before = _assertions(status)
    _step(tf, fresh, fresh_opt)
    _step(tf, var, opt)
    return {"before_build": before,
            "after_build": {"assert_consumed": _outcome(status.assert_consumed)},
            "next_step_matches": bool(np.array_equal(var.numpy(), fresh.numpy()))}


def probe_manager_max_to_keep(tf, folder):
    ckpt = tf.train.Checkpoint(v=tf.Variable(1.0))
    out = {}
    for keep in (0, -1, 1, None):
        sub = os.path.join(folder, f"keep{keep}")
        try:
            manager = tf.train.CheckpointManager(ckpt, sub, max_to_keep=keep)
        except Exception as error:  # noqa: BLE001
            out[str(keep)] = type(error).__name__
            continue
        for _ in range(3):
            manager.save()
        out[str(keep)] = sorted(os.path.basename(p) for p in manager.checkpoints)
    return out


def probe_manager_checkpoint_number(tf, folder):
    ckpt = tf.train.Checkpoint(v=tf.Variable(1.0))
    manager = tf.train.CheckpointManager(ckpt, folder, max_to_keep=None)
    first = manager.save()
    numbered = manager.save(checkpoint_number=100)
    counter_after_numbered = int(ckpt.save_counter.numpy())
    after = manager.save()
    return {"paths": [os.path.basename(p) for p in (first, numbered, after)],
            "save_counter_after_numbered": counter_after_numbered,
            "save_counter_at_end": int(ckpt.save_counter.numpy())}


PROBES = {name[len("probe_"):]: value for name, value in sorted(globals().items())
          if name.startswith("probe_")}


def record(tf) -> dict:
    """Run every probe with ``tf`` (TensorFlow or tapegrad), each in a fresh folder."""
    results = {}
    for name, probe in PROBES.items():
        with tempfile.TemporaryDirectory() as folder:
            results[name] = probe(tf, folder)
    return results
