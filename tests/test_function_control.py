"""tf.cond and tf.while_loop inside tf.function: traced once for every value, exact gradients.

Expected values are analytic."""

import logging

import numpy as np
import pytest

import tapegrad as tf


def _gradient(function, value):
    x = tf.constant(value)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = function(x)
    return float(y), float(tape.gradient(y, x))


def test_cond_traces_both_branches_once_and_picks_per_call():
    f = tf.function(lambda x: tf.cond(x > 0, lambda: x * x, lambda: -x))
    assert _gradient(f, 3.0) == (9.0, 6.0)
    assert _gradient(f, -2.0) == (2.0, -1.0)
    assert _gradient(f, 4.0) == (16.0, 8.0)
    assert f.experimental_get_tracing_count() == 1


def test_cond_gradient_of_the_branch_not_taken_is_not_computed():
    # sqrt's derivative at a negative number is NaN; the branch is not taken, so no NaN.
    @tf.function
    def grad(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.cond(x > 0, lambda: tf.sqrt(x), lambda: x * 0.0)
        return tape.gradient(y, x)

    assert float(grad(tf.constant(4.0))) == 0.25
    assert float(grad(tf.constant(-1.0))) == 0.0
    assert grad.experimental_get_tracing_count() == 1


def test_cond_reads_variables_and_second_order():
    v = tf.Variable(2.0)
    f = tf.function(lambda x: tf.cond(x > 0, lambda: v * x * x * x, lambda: x))
    x = tf.constant(1.5)
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = f(x)
        g, gv = inner.gradient(y, [x, v])
    assert float(g) == pytest.approx(3 * 2.0 * 1.5 ** 2)
    assert float(gv) == pytest.approx(1.5 ** 3)
    assert float(outer.gradient(g, x)) == pytest.approx(6 * 2.0 * 1.5)
    v.assign(3.0)
    assert float(f(x)) == pytest.approx(3.0 * 1.5 ** 3)


def test_cond_forward_mode():
    f = tf.function(lambda x: tf.cond(x > 0, lambda: tf.exp(x), lambda: x))
    x = tf.constant(0.5)
    f(x)
    with tf.autodiff.ForwardAccumulator(x, tf.constant(2.0)) as acc:
        y = f(x)
    assert float(acc.jvp(y)) == pytest.approx(2.0 * np.exp(0.5), rel=1e-6)


def test_while_loop_one_trace_for_every_count():
    f = tf.function(lambda n: tf.while_loop(lambda i, s: i < n, lambda i, s: (i + 1, s + i),
                                            (0, 0))[1])
    assert [int(f(tf.constant(n))) for n in (0, 4, 5)] == [0, 6, 10]
    assert f.experimental_get_tracing_count() == 1


def test_while_loop_gradient_and_maximum_iterations():
    f = tf.function(lambda x: tf.while_loop(lambda i, y: i < 3, lambda i, y: (i + 1, y * x),
                                            (0, x))[1])
    for _ in range(2):
        assert _gradient(f, 2.0) == (16.0, 32.0)  # x**4, 4 x**3
    g = tf.function(lambda x: tf.while_loop(lambda y: y < 100.0, lambda y: y * 2.0, [x],
                                            maximum_iterations=3)[0])
    assert float(g(tf.constant(1.0))) == 8.0


def test_tf_print_inside_branches_and_loops_prints_at_every_call(capsys):
    @tf.function
    def f(x):
        y = tf.cond(x > 0, lambda: (tf.print("positive", x), x)[1], lambda: x)
        return tf.while_loop(lambda v: v < 3.0, lambda v: (tf.print("step", v), v + 1.0)[1],
                             [y])[0]

    assert float(f(tf.constant(1.0))) == 3.0
    assert float(f(tf.constant(-1.0))) == 3.0
    assert f.experimental_get_tracing_count() == 1
    assert capsys.readouterr().err == ("positive 1\nstep 1\nstep 2\n"
                                       "step -1\nstep 0\nstep 1\nstep 2\n")


def test_assignments_inside_a_branch_fall_back_to_eager(caplog):
    v = tf.Variable(0.0)

    @tf.function
    def f(x):
        return tf.cond(x > 0, lambda: v.assign_add(x).read_value(), lambda: x)

    with caplog.at_level(logging.WARNING, logger="tapegrad"):
        assert float(f(tf.constant(1.0))) == 1.0
        assert float(f(tf.constant(2.0))) == 3.0
    assert "runs eagerly" in caplog.text and float(v) == 3.0


# -- AutoGraph-lite ---------------------------------------------------------------------------

C = tf.constant(10.0)


@tf.function
def _if_elif_else(x):
    if tf.reduce_sum(x) > 0:
        y = x * 2.0
    elif tf.reduce_sum(x) < -C:
        y = x * 0.0
    else:
        y = -x
    return y


def test_autograph_if_elif_else_on_tensors():
    x = tf.constant([1.0, 2.0])
    np.testing.assert_array_equal(_if_elif_else(x).numpy(), [2.0, 4.0])
    np.testing.assert_array_equal(_if_elif_else(tf.constant([-1.0, -2.0])).numpy(), [1.0, 2.0])
    np.testing.assert_array_equal(_if_elif_else(tf.constant([-11.0, -1.0])).numpy(), [0.0, 0.0])
    assert _if_elif_else.experimental_get_tracing_count() == 1
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = _if_elif_else(x)
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [2.0, 2.0])


def test_autograph_python_conditions_keep_python_semantics():
    @tf.function
    def f(x, flag):
        if flag:
            y = x + 1.0
        else:
            y = x - 1.0
        return y

    assert float(f(tf.constant(1.0), True)) == 2.0
    assert float(f(tf.constant(1.0), False)) == 0.0
    assert f.experimental_get_tracing_count() == 2


def test_autograph_while_and_for_range():
    @tf.function
    def doubling(x):
        while tf.reduce_sum(x) < 100.0:
            x = x * 2.0
        return x

    @tf.function
    def total(n):
        s = 0
        for i in tf.range(n):
            s = s + i
        return s

    np.testing.assert_array_equal(doubling(tf.constant([1.0, 2.0])).numpy(), [64.0, 128.0])
    np.testing.assert_array_equal(doubling(tf.constant([30.0, 40.0])).numpy(), [60.0, 80.0])
    assert [int(total(tf.constant(n))) for n in (0, 4, 5)] == [0, 6, 10]
    assert doubling.experimental_get_tracing_count() == total.experimental_get_tracing_count() \
        == 1


def test_autograph_inside_a_tape_in_the_function():
    @tf.function
    def grad(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            if x > 0:
                y = x * x
            else:
                y = -x
        return tape.gradient(y, x)

    assert [float(grad(tf.constant(v))) for v in (3.0, -3.0)] == [6.0, -1.0]
    assert grad.experimental_get_tracing_count() == 1


def test_autograph_unconvertible_falls_back_with_one_warning(caplog):
    @tf.function
    def f(x):
        if x > 0:
            y = x
        return y  # y has no value when the condition is false: a tensor condition cannot trace

    with caplog.at_level(logging.WARNING, logger="tapegrad"):
        assert float(f(tf.constant(2.0))) == 2.0
    assert "'y' must have a value before this if statement" in caplog.text


# -- host helpers -----------------------------------------------------------------------------

def test_py_function_runs_on_every_call_and_is_differentiable():
    calls = []

    def host(v):
        calls.append(float(v.numpy()))
        return v * v

    f = tf.function(lambda x: tf.py_function(host, [x], tf.float32) + 1.0)
    assert float(f(tf.constant(1.5))) == 3.25
    assert float(f(tf.constant(2.0))) == 5.0
    assert calls == [1.5, 2.0]
    assert _gradient(f, 3.0) == (10.0, 6.0)


def test_py_function_is_never_folded_merged_or_dropped():
    calls = []

    @tf.function
    def f(x):
        tf.py_function(lambda: calls.append(1) or 0.0, [], tf.float32)  # result unused
        tf.py_function(lambda: calls.append(1) or 0.0, [], tf.float32)
        return x

    f(tf.constant(1.0))
    f(tf.constant(1.0))
    assert len(calls) == 4


def test_init_scope_lifts_out_of_the_trace():
    @tf.function
    def f(x):
        with tf.init_scope():
            c = tf.constant(2.0) * 3.0
            with pytest.raises(TypeError, match="out of scope"):
                x + 1.0
        return x * c

    assert float(f(tf.constant(1.0))) == 6.0
    assert float(f(tf.constant(2.0))) == 12.0


def test_tensor_array_eager_and_in_a_function():
    def fill(x):
        ta = tf.TensorArray(tf.float32, size=3)
        for i in range(3):
            ta = ta.write(i, x * float(i))
        return ta.stack(), ta.read(1), ta.size()

    for function in (fill, tf.function(fill)):
        stacked, one, size = function(tf.constant(2.0))
        np.testing.assert_array_equal(stacked.numpy(), [0.0, 2.0, 4.0])
        assert float(one) == 2.0 and int(size) == 3
    with pytest.raises(IndexError):
        tf.TensorArray(tf.float32, size=1).write(1, 1.0)
    dynamic = tf.TensorArray(tf.float32, size=0, dynamic_size=True).write(2, 5.0)
    assert int(dynamic.size()) == 3
    np.testing.assert_array_equal(
        tf.TensorArray(tf.float32, size=0).unstack(tf.constant([[1.0], [2.0]])).concat().numpy(),
        [1.0, 2.0])


def test_autograph_converts_methods_keeping_self_defaults_and_super():
    class Base(tf.Module):
        def scale(self):
            return 2.0

    class Model(Base):
        def __init__(self):
            super().__init__()
            self.w = tf.Variable(3.0)

        def scale(self):
            return super().scale() + 1.0

        @tf.function
        def __call__(self, x, k=1.0):
            if tf.reduce_sum(x) > 0:
                y = x * self.w * self.scale() * k
            else:
                y = x - 1.0
            return y

    model = Model()
    assert float(model(tf.constant([1.0]))[0]) == 9.0
    assert float(model(tf.constant([-1.0]))[0]) == -2.0
    assert float(model(tf.constant([1.0]), k=2.0)[0]) == 18.0
    assert model.__call__.experimental_get_tracing_count() == 2  # k=1.0 and k=2.0


def test_host_call_compiles_a_training_step_with_a_keras_optimizer():
    from tapegrad.autodiff.function.host import host_call

    def run(compiled):
        model = tf.keras.Sequential([tf.keras.layers.Dense(3, activation="tanh"),
                                     tf.keras.layers.Dense(1)])
        x = tf.constant(np.random.default_rng(2).standard_normal((6, 2)).astype(np.float32))
        model(x)
        for v, value in zip(model.trainable_variables, weights):
            v.assign(value)
        optimizer = tf.keras.optimizers.Adam(0.05)
        optimizer.apply_gradients = host_call(optimizer.apply_gradients)

        def step():
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(model(x) - 1.0))
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            return loss

        step = tf.function(step) if compiled else step
        losses = [float(step()) for _ in range(4)]
        return losses, [v.numpy() for v in model.trainable_variables], step

    weights = [np.full((2, 3), 0.3, np.float32), np.zeros(3, np.float32),
               np.full((3, 1), -0.2, np.float32), np.zeros(1, np.float32)]
    eager_losses, eager_weights, _ = run(False)
    losses, final, step = run(True)
    # (the traced backward runs the rules with tapegrad ops, eager on arrays: equal
    # to rounding)
    np.testing.assert_allclose(losses, eager_losses, rtol=1e-6)
    for got, expected in zip(final, eager_weights):
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)
    assert step.experimental_get_tracing_count() == 1 and "eager" not in step._concrete.values()


# -- AutoGraph beyond TensorFlow's limits (docs/differences-from-tensorflow.md) ----------------

def test_autograph_return_in_one_branch_of_a_nested_tensor_if():
    # TensorFlow refuses this ("the else branch must also have a return statement"); the
    # statements after the inner if run in its else branch, so Python's result is computed.
    @tf.function
    def f(x):
        y = x
        if x > 0:
            y = x + 1.0
            if x > 5:
                return y * 10.0
        return y

    assert [float(f(tf.constant(v))) for v in (-1.0, 3.0, 20.0)] == [-1.0, 4.0, 210.0]
    assert f.experimental_get_tracing_count() == 1


def test_autograph_break_on_a_tensor_in_a_loop_that_started_in_python():
    # TensorFlow raises NotImplementedError (the condition changes from Python to tensor); the
    # first iterations run in Python, the rest in one tf.while_loop.
    @tf.function
    def f(x):
        while True:
            x = x * 2.0
            if x > 100.0:
                break
        return x

    assert [float(f(tf.constant(v))) for v in (3.0, 1000.0)] == [192.0, 2000.0]
    assert f.experimental_get_tracing_count() == 1


def test_for_over_a_dataset_traces_its_body_once_and_differentiates():
    w = tf.Variable(2.0)
    dataset = tf.data.Dataset.from_tensor_slices([1.0, 2.0, 3.0])

    @tf.function
    def loss(data):
        total = tf.constant(0.0)
        for x in data:
            total += w * x * x
        return total

    with tf.GradientTape() as tape:
        value = loss(dataset)
    assert float(value) == 28.0 and float(tape.gradient(value, w)) == 14.0
    assert float(loss(tf.data.Dataset.from_tensor_slices([4.0]))) == 32.0
    assert "eager" not in loss._concrete.values()


def test_for_over_a_dataset_traces_the_body_for_each_element_shape(caplog):
    @tf.function
    def total(data):
        s = tf.constant(0)
        for batch in data:
            s += tf.reduce_sum(batch) * tf.shape(batch)[0]
        return s

    batches = tf.data.Dataset.range(5).batch(2).map(lambda b: tf.cast(b, tf.int32))
    with caplog.at_level(logging.WARNING, logger="tapegrad"):
        assert [int(total(batches)) for _ in range(2)] == [1 * 2 + 5 * 2 + 4 * 1] * 2
    assert "runs eagerly" not in caplog.text  # (a body for batches of 2, one for the last)

    many = tf.data.Dataset.range(15).batch(5).map(lambda b: tf.reshape(b, [-1, 1]))
    ragged = many.map(lambda b: b[: tf.cast(b[0, 0], tf.int32) // 5 + 1])  # shapes 1, 2, 3
    assert int(total(ragged.map(lambda b: tf.cast(b, tf.int32)))) == 0 * 1 + 11 * 2 + 33 * 3


def test_a_dataset_iterated_in_python_inside_a_trace_runs_eagerly(caplog):
    # (without AutoGraph the loop is Python's: a trace would freeze the elements it read)
    shuffled = tf.data.Dataset.range(20).shuffle(20)
    first = tf.function(lambda data: [x for x in data][0] + 0, autograph=False)
    with caplog.at_level(logging.WARNING, logger="tapegrad"):
        firsts = {int(first(shuffled)) for _ in range(8)}
    assert len(firsts) > 1 and "iterating a tf.data Dataset in Python" in caplog.text


def test_a_python_scalar_then_a_list_take_the_scalar_dtype_and_never_truncate():
    # TensorFlow's eager rule: with no tensor operand the first value's dtype wins; where
    # TensorFlow would then truncate a float array to int32 silently, tapegrad refuses.
    assert tf.maximum(0.0, [1, -1]).numpy().tolist() == [1.0, 0.0]
    assert tf.maximum(1, [1, 2]).dtype == tf.int32
    with pytest.raises(TypeError, match="non-integer"):
        tf.maximum(2, np.array([1.5]))


def test_do_not_convert_keeps_python_control_flow(caplog):
    @tf.autograph.experimental.do_not_convert
    def relu(x):
        if x > 0:
            return x
        return 0.0 * x

    f = tf.function(relu)
    with caplog.at_level(logging.WARNING, logger="tapegrad"):
        assert [float(f(tf.constant(v))) for v in (2.0, -2.0)] == [2.0, 0.0]
    assert "runs eagerly" in caplog.text  # (converted, it would compile: see to_code)
    assert "__ag__.if_return(x > 0" in tf.autograph.to_code(relu)


def test_a_return_inside_a_tensor_loop_runs_eagerly_with_python_results(caplog):
    # (TensorFlow raises NotImplementedError: "a return statement cannot be placed inside this
    # TensorFlow loop"; a value different from Python's is never returned)
    @tf.function
    def first_index_over(x, limit):
        for i in tf.range(10):
            if tf.cast(i, tf.float32) * x > limit:
                return i
        return -1

    with caplog.at_level(logging.WARNING, logger="tapegrad"):
        assert [int(first_index_over(tf.constant(v), 5.0)) for v in (1.0, 0.1)] == [6, -1]
    assert caplog.text.count("runs eagerly") == 1


def test_a_loop_that_cannot_be_converted_keeps_its_own_break():
    # (`global` keeps the loop Python's: its break must stay a break, not a flag)
    @tf.function
    def count_up(x):
        n = 0
        while True:
            global _LAST_SEEN
            _LAST_SEEN = n
            n += 1
            if n > 3:
                break
        return x + n

    assert int(count_up(tf.constant(1))) == 5 and _LAST_SEEN == 3


def test_a_python_loop_with_break_inside_a_converted_loop(caplog):
    @tf.function
    def f(x):
        n = 0
        for i in tf.range(5):
            for j in [1, 2, 3]:
                if j == 2:
                    break
                n += j
            if i == 3:
                break
        return x + n

    with caplog.at_level(logging.WARNING, logger="tapegrad"):
        assert [int(f(tf.constant(v))) for v in (10, 2)] == [14, 6]
    assert "runs eagerly" not in caplog.text and f.experimental_get_tracing_count() == 1


_LAST_SEEN = None


def test_a_lowered_break_reads_no_element_after_it():
    pulled = []

    def numbers():
        for v in (1.0, 2.0, 3.0, 4.0):
            pulled.append(v)
            yield v

    data = tf.data.Dataset.from_generator(numbers, output_signature=tf.TensorSpec([], tf.float32))

    @tf.function
    def until_over(dataset):
        total = tf.constant(0.0)
        for x in dataset:
            total += x
            if x > 1.5:
                break
        return total

    assert float(until_over(data)) == 3.0  # (the trace itself reads the dataset through)
    pulled.clear()
    assert float(until_over(data)) == 3.0 and pulled == [1.0, 2.0]


def test_an_aborted_trace_reads_no_element_of_an_iterator_argument(caplog):
    @tf.function
    def noisy_next(iterator):
        x = next(iterator)
        return x + tf.cast(tf.random.uniform([]) * 0.0, tf.int32)  # (random: runs eagerly)

    iterator = iter(tf.data.Dataset.from_tensor_slices([1, 2, 3]))
    with caplog.at_level(logging.ERROR, logger="tapegrad"):
        assert [int(noisy_next(iterator)) for _ in range(3)] == [1, 2, 3]


def test_a_loop_over_an_iterator_argument_runs_eagerly(caplog):
    @tf.function
    def total(iterator):
        t = tf.constant(0)
        for x in iterator:
            t += x
        return t

    with caplog.at_level(logging.WARNING, logger="tapegrad"):
        assert int(total(iter(tf.data.Dataset.from_tensor_slices([1, 2, 3])))) == 6
    assert "a for loop over a tf.data iterator argument" in caplog.text


def test_a_loop_with_break_over_an_endless_dataset():
    @tf.function
    def first_over(data, limit):
        t = tf.constant(0, tf.int64)
        for x in data:
            if x > limit:
                t = x
                break
        return t

    endless = tf.data.Dataset.range(10).repeat()
    assert [int(first_over(endless, tf.constant(v, tf.int64))) for v in (6, 3)] == [7, 4]
    assert first_over.experimental_get_tracing_count() == 1


def test_variables_made_by_a_trace_that_then_runs_eagerly_count_as_the_first_calls():
    # (TensorFlow's rule holds when the trace is abandoned: a second optimizer's slots, made
    # while tracing a step for it, are refused)
    def step(w, optimizer):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(w * 2.0))
        optimizer.apply_gradients(zip(tape.gradient(loss, [w]), [w]))

    train_step = tf.function(step)
    w = tf.Variable(1.0)
    train_step(w, tf.keras.optimizers.Adam(0.1))
    with pytest.raises(ValueError, match="singleton tf.Variables created on the first call"):
        train_step(w, tf.keras.optimizers.Adam(0.1))
