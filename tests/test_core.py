"""Tensor, Variable, dtypes and tape behaviour not covered by the TensorFlow probes.

Expected values are analytic (closed-form derivatives) or TensorFlow's documented rules.
"""

import gc
import math
import threading
import weakref

import numpy as np
import pytest

import tapegrad as tf

# -- Tensor ------------------------------------------------------------------------------------

def test_python_numbers_follow_tensorflow_dtypes():
    assert tf.constant(1.5).dtype == tf.float32
    assert tf.constant(2).dtype == tf.int32
    assert tf.constant(True).dtype == tf.bool
    assert tf.constant([1.0, 2.0]).dtype == tf.float32
    assert tf.constant(np.array([1.0])).dtype == tf.float64  # NumPy arrays keep their dtype
    assert tf.constant(1.5, dtype=tf.float64).dtype == tf.float64


def test_python_scalar_adopts_tensor_dtype():
    x = tf.constant([1.0, 2.0], dtype=tf.float64)
    assert (x * 2.0).dtype == tf.float64
    assert (3 + x).dtype == tf.float64
    assert (tf.constant([1, 2]) * 2).dtype == tf.int32


def test_mixed_tensor_dtypes_raise_and_name_the_fix():
    with pytest.raises(tf.errors.InvalidArgumentError, match="float32.*float64|cast"):
        tf.constant(1.0) + tf.constant(1.0, dtype=tf.float64)


def test_float_into_integer_tensor_raises():
    with pytest.raises(TypeError):
        tf.constant([1, 2]) * 2.5


def test_incompatible_shapes_raise_invalid_argument():
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"\[2\] vs. \[3\]"):
        tf.constant([1.0, 2.0]) + tf.constant([1.0, 2.0, 3.0])


def test_tensor_buffer_is_never_handed_out_writable():
    x = tf.constant([1.0, 2.0])
    copy = x.numpy()
    copy[0] = 100.0
    assert x.numpy()[0] == 1.0
    view = np.asarray(x)
    with pytest.raises(ValueError):
        view[0] = 5.0


def test_constant_copies_numpy_input():
    source = np.array([1.0, 2.0])
    x = tf.constant(source)
    source[0] = 9.0
    assert x.numpy()[0] == 1.0


def test_scalar_numpy_is_numpy_scalar_and_python_conversions():
    x = tf.constant(2.5)
    assert isinstance(x.numpy(), np.float32)
    assert float(x) == 2.5 and int(tf.constant(3)) == 3 and bool(tf.constant(True))
    assert len(tf.zeros([4, 2])) == 4
    assert [float(v) for v in tf.constant([1.0, 2.0])] == [1.0, 2.0]
    with pytest.raises(TypeError):
        len(tf.constant(1.0))


def test_repr_in_tensorflow_style():
    assert repr(tf.constant(2.0)) == "<tf.Tensor: shape=(), dtype=float32, numpy=2.0>"
    assert "shape=(2,)" in repr(tf.constant([1.0, 2.0]))


def test_operators_compute_and_differentiate():
    x = tf.constant([1.0, 2.0, 4.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum((x + 1) * (x - 1) / x ** 2 - (-x) + abs(x))
    # d/dx [(x^2 - 1)/x^2 + 2x] = 2/x^3 + 2
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), 2 / np.array([1, 8, 64.0]) + 2,
                               rtol=1e-6)
    assert (x > 1.5).dtype == tf.bool
    np.testing.assert_array_equal((x // 2).numpy(), [0, 1, 2])
    np.testing.assert_array_equal((x % 3).numpy(), [1, 2, 1])
    m = tf.ones([2, 3]) @ tf.ones([3, 1])
    assert m.shape == (2, 1) and float(m[0, 0]) == 3.0


def test_slicing_is_differentiable():
    x = tf.constant(np.arange(12.0).reshape(3, 4))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(x[1:, ::-2] * 3.0) + tf.reduce_sum(x[..., 0, None])
    expected = np.zeros((3, 4))
    expected[1:, ::-2] += 3.0
    expected[:, 0] += 1.0
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), expected)


# -- Variable ------------------------------------------------------------------------------------

def test_variable_assign_returns_variable_and_replaces_value():
    v = tf.Variable([1.0, 2.0], name="w")
    assert v.assign([3.0, 4.0]) is v
    assert v.assign_add([1.0, 1.0]).numpy().tolist() == [4.0, 5.0]
    assert v.assign_sub([4.0, 5.0]).numpy().tolist() == [0.0, 0.0]
    assert v.name == "w:0" and v.trainable and v.shape == (2,)
    with pytest.raises(ValueError, match="shape"):
        v.assign([1.0, 2.0, 3.0])


def test_update_after_read_never_changes_recorded_value():
    v = tf.Variable([1.0, 2.0])
    read = v.read_value()
    v.assign([10.0, 20.0])
    assert read.numpy().tolist() == [1.0, 2.0]


def test_variable_operators_use_current_value():
    v = tf.Variable(3.0)
    assert float(v * 2.0) == 6.0 and float(2.0 - v) == -1.0 and float(-v) == -3.0
    v.assign(4.0)
    assert float(v ** 0.5) == 2.0


def test_the_layers_read_and_replace_a_variables_array_without_recording():
    # (optimizers and checkpoints: no ReadVariable on an active tape, no copy, no conversion)
    from tapegrad._core.tensor import array_of
    from tapegrad._core.variable import replace_array
    v = tf.Variable([1.0, 2.0])
    new = np.array([5.0, 6.0], dtype=np.float32)
    with tf.GradientTape() as tape:
        assert array_of(v).tolist() == [1.0, 2.0] and array_of(3.0) == 3.0
        replace_array(v, new)
    assert tape.watched_variables() == ()
    assert array_of(v) is new and v.numpy().tolist() == [5.0, 6.0]
    with tf.GradientTape() as tape:
        y = v.read_value() * 2.0  # the public read is recorded
    assert tape.watched_variables() == (v,) and tape.gradient(y, v).numpy().tolist() == [2, 2]


# -- GradientTape ----------------------------------------------------------------------------------

def test_third_derivative_through_nested_tapes():
    x = tf.constant(0.7, dtype=tf.float64)
    with tf.GradientTape() as t3:
        t3.watch(x)
        with tf.GradientTape() as t2:
            t2.watch(x)
            with tf.GradientTape() as t1:
                t1.watch(x)
                y = tf.sin(x) * tf.exp(x)
            d1 = t1.gradient(y, x)
        d2 = t2.gradient(d1, x)
    d3 = t3.gradient(d2, x)
    # (sin x e^x)''' = 2 e^x (cos x - sin x)
    assert math.isclose(float(d3), 2 * math.exp(0.7) * (math.cos(0.7) - math.sin(0.7)),
                        rel_tol=1e-12)


def test_non_persistent_tape_frees_its_records_after_gradient():
    x = tf.constant(np.ones(1000))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(tf.exp(x) * x)
    recording = tape._recording
    saved = weakref.ref(recording.calls[0][2])
    assert tape.stats()["saved_bytes"] >= 2 * 8000  # exp(x) and exp(x) * x
    tape.gradient(y, x)
    del y
    gc.collect()
    assert saved() is None
    assert all(value is None or not hasattr(value, "_value")
               for call in recording.calls for value in call)  # ghosts: no values left


def test_persistent_tape_is_collected_without_cycles():
    x = tf.constant(np.ones(100))
    tape = tf.GradientTape(persistent=True)
    with tape:
        tape.watch(x)
        y = tf.exp(x)
    probe = weakref.ref(tape._recording.calls[0][2])
    del tape, y
    gc.disable()
    try:
        assert probe() is None, "a reference cycle keeps the persistent tape's arrays alive"
    finally:
        gc.enable()


def test_threads_have_their_own_tape_stacks():
    results = {}
    x = tf.constant(2.0)

    def worker():
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = x * x * x
        results["worker"] = float(tape.gradient(y, x))

    with tf.GradientTape() as tape:
        tape.watch(x)
        thread = threading.Thread(target=worker)
        thread.start()
        thread.join()
        y = x * 5.0
    assert results["worker"] == 12.0 and float(tape.gradient(y, x)) == 5.0


def test_a_thread_records_while_another_records_nothing():
    # The dispatcher skips the thread-local stack while no thread records; once one does,
    # each thread still sees only its own stack.
    from tapegrad._core.tensor import recording_threads, state
    x = tf.constant(2.0)
    started, release, seen = threading.Event(), threading.Event(), {}

    def recording_worker():
        with tf.GradientTape() as tape:
            tape.watch(x)
            started.set()
            release.wait(10)
            y = tf.sin(x) * x
        seen["gradient"] = float(tape.gradient(y, x))

    thread = threading.Thread(target=recording_worker)
    thread.start()
    started.wait(10)
    assert recording_threads and state.recorders == ()
    z = tf.sin(x) * x + 1.0  # this thread has no tape: nothing of it reaches the worker's
    release.set()
    thread.join()
    expected = np.cos(np.float32(2.0)) * 2.0 + np.sin(np.float32(2.0))
    assert seen["gradient"] == pytest.approx(float(expected), rel=1e-6)
    assert float(z) == pytest.approx(float(np.sin(np.float32(2.0)) * 2.0 + 1.0))
    assert not recording_threads  # every stack is empty again


def test_recorder_stack_changes_only_through_the_core():
    from tapegrad._core.tensor import recording_threads, state
    with tf.GradientTape() as outer:
        with tf.GradientTape(persistent=True) as inner:
            assert type(state.recorders) is tuple and len(state.recorders) == 2
            with inner.stop_recording():
                assert state.recorders == (outer._recording,)
            inner.reset()
            assert state.recorders == (outer._recording, inner._recording)
        assert state.recorders == (outer._recording,) and recording_threads
    assert state.recorders == () and not recording_threads
    tf.debugging.enable_check_numerics()
    try:
        assert recording_threads  # a global recorder: every thread starts with it
    finally:
        tf.debugging.disable_check_numerics()
    assert state.recorders == () and not recording_threads


def test_integer_source_warns_and_gives_none(caplog):
    x = tf.constant(3)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x * x
    assert tape.gradient(y, x) is None
    assert any("must be floating" in r.getMessage() for r in caplog.records)


def test_broadcast_gradients_sum_to_source_shape():
    a = tf.constant(np.ones((2, 1, 3)))
    b = tf.constant(np.arange(4.0).reshape(4, 1))
    with tf.GradientTape() as tape:
        tape.watch([a, b])
        y = tf.reduce_sum(a * b)
    ga, gb = tape.gradient(y, [a, b])
    assert ga.shape == (2, 1, 3) and gb.shape == (4, 1)
    np.testing.assert_array_equal(ga.numpy(), np.full((2, 1, 3), 6.0))
    np.testing.assert_array_equal(gb.numpy(), np.full((4, 1), 6.0))


def test_gradient_checker_agrees_on_a_composition():
    def f(x, w):
        return tf.reduce_sum(tf.tanh(tf.matmul(x, w)) ** 2, axis=1)

    rng = np.random.default_rng(0)
    tf.test.assert_gradients_close(f, [rng.standard_normal((3, 4)), rng.standard_normal((4, 2))])


def test_unwatched_constant_next_to_a_variable_gets_none():
    c = tf.constant(1.0)
    v = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        y = v * c
    grad_v, grad_c = tape.gradient(y, [v, c])
    assert float(grad_v) == 1.0 and grad_c is None


def test_gradient_results_are_not_kept_alive_by_a_cycle():
    x = tf.constant(np.ones(10))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(tf.exp(x))
    grads = tape.gradient(y, {"a": [x]})
    probe = weakref.ref(grads["a"][0])
    gc.disable()
    try:
        del grads
        assert probe() is None, "a reference cycle keeps the returned gradient alive"
    finally:
        gc.enable()


def test_value_watched_after_a_call_used_it_gets_the_gradient_through_that_call():
    # y = x * w was recorded because of w; watching x afterwards adds the path through y.
    x = tf.constant(3.0)
    w = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        y = x * w
        tape.watch(x)
        z = y * x  # z = w * x**2
    grad_x, grad_w = tape.gradient(z, [x, w])
    assert float(grad_x) == 2 * 2.0 * 3.0 and float(grad_w) == 3.0 ** 2


def test_intermediate_sources_next_to_a_watched_one():
    x0 = np.array([0.5, 2.0])
    x = tf.constant(x0)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        a = tf.sin(x)
        b = a * a
        c = tf.reduce_sum(b * x)
    grad_a, grad_x, grad_b = tape.gradient(c, [a, x, b])
    np.testing.assert_allclose(grad_a.numpy(), 2 * np.sin(x0) * x0)
    np.testing.assert_allclose(grad_b.numpy(), x0)
    np.testing.assert_allclose(grad_x.numpy(), np.sin(x0) ** 2 + x0 * 2 * np.sin(x0) * np.cos(x0))
    # only the intermediate one: the watched x is not a source, so only a's subgraph runs
    np.testing.assert_allclose(tape.gradient(c, a).numpy(), 2 * np.sin(x0) * x0)


def test_outputs_of_a_multi_output_op_as_sources():
    x = tf.constant([1.0, 2.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        p, q = tf.unstack(x * 2.0)
        r = p * q * 3.0  # 12 * x0 * x1
    grad_x, grad_p, grad_q = tape.gradient(r, [x, p, q])
    assert grad_x.numpy().tolist() == [24.0, 12.0]
    assert float(grad_p) == 3.0 * 4.0 and float(grad_q) == 3.0 * 2.0


def test_default_seed_is_not_shared_writably():
    x = tf.constant([1.0, 2.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
    tape.gradient(x, x).numpy()[0] = 5.0
    with tf.GradientTape() as tape:
        tape.watch(x)
    assert tape.gradient(x, x).numpy().tolist() == [1.0, 1.0]


def test_an_output_gradient_with_more_axes_than_its_target_is_refused():
    # Axes in front of the output's are a vectorised jacobian's rows to the reverse rules, so a
    # seed with more axes than its target would be summed as rows (TensorFlow passes it through
    # tf.identity unchanged); see docs/differences-from-tensorflow.md.
    x = tf.constant([1.0, 2.0, 3.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x * 2.0
    with pytest.raises(tf.errors.InvalidArgumentError, match="target's shape"):
        tape.gradient(y, x, output_gradients=tf.ones([2, 3]))


def test_tensor_is_not_a_constructor():
    # As TensorFlow 2.21: `tf.Tensor([1, 2])` raises "TypeError: Tensor() takes no arguments"
    # (tensors come from tf.constant and ops); the dispatcher makes results with `Tensor()`.
    with pytest.raises(TypeError, match="takes no arguments"):
        tf.Tensor([1.0, 2.0])
    assert type(tf.sin(tf.constant([0.5]))) is tf.Tensor


def test_convert_to_tensor_keeps_a_sliced_variable_read_on_the_tape():
    v = tf.Variable([1.0, 2.0, 3.0])
    with tf.GradientTape() as tape:
        part = tf.convert_to_tensor(v[0:2])
        y = tf.reduce_sum(part * 3.0)
    assert part is not None and tape.gradient(y, v).numpy().tolist() == [3.0, 3.0, 0.0]


def test_watch_checks_every_item_before_watching_any():
    # (TensorFlow watches the items before a bad one, then raises; see
    # docs/differences-from-tensorflow.md)
    x = tf.constant(2.0)
    with tf.GradientTape() as tape:
        with pytest.raises(ValueError, match="not tf.Tensor or tf.Variable"):
            tape.watch([x, "not a tensor"])
        y = x * x
    assert tape.gradient(y, x) is None


def test_watch_warns_once_for_each_non_floating_item(caplog):
    x, n = tf.constant(2.0), tf.constant(3)
    with caplog.at_level("WARNING", logger="tapegrad"):
        with tf.GradientTape() as tape:
            tape.watch([x, n])
            y = x * x
    assert [r.getMessage() for r in caplog.records] == [
        "The dtype of the watched tensor must be floating (e.g. tf.float32), got tf.int32"]
    assert float(tape.gradient(y, x)) == 4.0
