"""tf.function: tracing per signature, the compiled replay, its passes and its gradients.

Expected values come from NumPy or analytic derivatives; TensorFlow's observed behaviour for
the tracing semantics is recorded in tests/conformance/function_tf.json (see
tests/test_function_conformance.py).
"""

import logging

import numpy as np
import pytest

import tapegrad as tf
from tapegrad._core.registry import REGISTRY
from tapegrad.autodiff.function import program
from tapegrad.autodiff.function.compiled import CompiledTrace


def _only_trace(function) -> CompiledTrace:
    (concrete,) = [c for c in function._concrete.values() if c != "eager"]
    (trace,) = concrete._traces.values()
    return trace.compile()


# -- tracing semantics ------------------------------------------------------------------------

def test_traces_once_per_dtype_and_shape_and_python_value():
    calls = []

    @tf.function
    def f(x, n=1):
        calls.append(1)
        return x * n

    f(tf.constant(1.0))
    f(tf.constant(2.0))
    assert f.experimental_get_tracing_count() == 1
    f(tf.constant([1.0, 2.0]))
    f(tf.constant(1))
    assert f.experimental_get_tracing_count() == 3
    f(tf.constant(1.0), 2)
    f(tf.constant(1.0), 2.0)  # 2 == 2.0: one Python value, one trace (as TensorFlow)
    assert f.experimental_get_tracing_count() == 4
    assert len(calls) == 4


def test_python_side_effects_at_trace_time_tf_print_every_call(capsys):
    @tf.function
    def f(x):
        print("traced", x)
        tf.print("executed", x)
        return x + 1

    f(tf.constant(1))
    f(tf.constant(2))
    captured = capsys.readouterr()
    assert captured.out == 'traced Tensor("x:0", shape=(), dtype=int32)\n'
    assert captured.err == "executed 1\nexecuted 2\n"


def test_return_values_become_tensors():
    assert isinstance(tf.function(lambda: 1)(), tf.Tensor)
    assert tf.function(lambda: 1)().dtype == tf.int32
    out = tf.function(lambda x: (x, None, 2.0))(tf.constant(1.0))
    assert out[1] is None and out[2].dtype == tf.float32


def test_non_tensor_return_raises_type_error():
    with pytest.raises(TypeError, match="must return zero or more Tensors"):
        tf.function(lambda: object())()


def test_variables_replay_reads_and_assignments_against_current_values():
    v = tf.Variable(1.0)

    @tf.function
    def step(x):
        v.assign_add(x)
        v.assign(v * 2.0)
        return v.read_value() + 1.0

    expected = 1.0
    for x in (1.0, 2.0, 3.0):
        expected = (expected + x) * 2.0
        assert float(step(tf.constant(x))) == expected + 1.0
        assert float(v) == expected
    v.assign(10.0)  # changed outside: the next call reads the new value
    assert float(step(tf.constant(0.0))) == 21.0
    assert step.experimental_get_tracing_count() == 1


def test_variables_created_on_first_trace_only():
    holder = []

    @tf.function
    def f(x):
        if not holder:
            holder.append(tf.Variable(2.0))
        return x * holder[0]

    assert float(f(tf.constant(3.0))) == 6.0
    assert float(f(tf.constant(4.0))) == 8.0

    @tf.function
    def g(x):
        w = tf.Variable(1.0)
        return x * w

    # As TensorFlow: the trace that created a variable is traced again, which creates another.
    with pytest.raises(ValueError, match="singleton tf.Variables created on the first call"):
        g(tf.constant(1.0))


def test_symbolic_tensors_print_as_tensorflow_and_have_no_numpy():
    seen = []

    @tf.function
    def f(x):
        seen.append(str(x))
        with pytest.raises(AttributeError):
            x.numpy()
        return x

    f(tf.constant([1, 2]))
    assert seen == ['Tensor("x:0", shape=(2,), dtype=int32)']


def test_leaked_tensor_raises_type_error():
    leaked = []

    @tf.function
    def f(x):
        leaked.append(x * 2.0)
        return x

    f(tf.constant(1.0))
    assert str(leaked[0]).startswith('Tensor("')
    with pytest.raises(TypeError, match="out of scope"):
        leaked[0] + 1.0


def test_input_signature_with_none_dims_and_mismatch_error():
    spec = tf.TensorSpec([None], tf.float32)

    @tf.function(input_signature=[spec])
    def f(x):
        return tf.reduce_sum(x * x)

    assert float(f(tf.constant([1.0, 2.0]))) == 5.0
    assert float(f(tf.constant([1.0, 2.0, 3.0]))) == 14.0
    assert f.experimental_get_tracing_count() == 1
    with pytest.raises(TypeError, match="Can not cast"):
        f(tf.constant([1, 2]))
    with pytest.raises(TypeError, match="Can not cast"):
        f(tf.constant([[1.0]]))


def test_reduce_retracing_generalises_shapes():
    @tf.function(reduce_retracing=True)
    def f(x):
        return x + 1.0

    for n in (1, 2, 3, 4, 5):
        np.testing.assert_array_equal(f(tf.ones([n])).numpy(), np.full(n, 2.0, np.float32))
    assert f.experimental_get_tracing_count() == 2


def test_retracing_warning(caplog):
    @tf.function
    def f(x):
        return x

    with caplog.at_level(logging.WARNING, logger="tapegrad"):
        for n in range(6):
            f(tf.ones([n]))
    assert "triggered tf.function retracing" in caplog.text


def test_get_concrete_function_and_signatures():
    @tf.function
    def f(x):
        return x * 2

    concrete = f.get_concrete_function(tf.TensorSpec([None, 3], tf.float32))
    np.testing.assert_array_equal(concrete(tf.ones([2, 3])).numpy(), np.full((2, 3), 2.0))
    assert concrete.structured_input_signature[0][0].shape == (None, 3)
    assert f.python_function(3) == 6
    text = f.pretty_printed_concrete_signatures()
    assert "x (POSITIONAL_OR_KEYWORD): TensorSpec(shape=(None, 3), dtype=tf.float32" in text
    with pytest.raises(TypeError):
        concrete(tf.ones([2, 4]))


def test_value_dependent_python_falls_back_to_eager_with_one_warning(caplog):
    @tf.function
    def f(x):
        return x if float(x) > 0 else -x  # (a conditional expression: AutoGraph leaves it)

    with caplog.at_level(logging.WARNING, logger="tapegrad"):
        values = [float(f(tf.constant(v))) for v in (-2.0, 3.0, -4.0)]
    assert values == [2.0, 3.0, 4.0]
    assert caplog.text.count("runs eagerly") == 1
    assert "test_function.py" in caplog.text


def test_an_eager_fallback_returns_tensors_as_a_compiled_call(caplog):
    f = tf.function(lambda x: 0 if float(x) < 0 else x)  # (float(x) needs the value)
    with caplog.at_level(logging.ERROR, logger="tapegrad"):
        result = f(tf.constant(-1.0))
    assert isinstance(result, tf.Tensor) and result.dtype == tf.int32 and int(result) == 0


def test_custom_gradient_compiles_with_its_own_gradient(caplog):
    @tf.custom_gradient
    def doubled(x):
        return tf.identity(x) * 2.0, lambda dy: dy * 3.0  # (not the true derivative, 2)

    @tf.function
    def inside(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = doubled(x)
        return y, tape.gradient(y, x)

    outside = tf.function(doubled)
    with caplog.at_level(logging.WARNING):
        for value in (1.5, 2.5):
            y, dy_dx = inside(tf.constant(value))
            assert (float(y), float(dy_dx)) == (2 * value, 3.0)
            x = tf.constant(value)
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = outside(x)
            assert (float(y), float(tape.gradient(y, x))) == (2 * value, 3.0)
    assert not caplog.records  # compiled, no eager fallback
    assert inside.experimental_get_tracing_count() == 1
    _only_trace(inside)


def test_custom_gradient_closing_over_forward_tensors_compiles():
    @tf.custom_gradient
    def softplus(x):
        e = tf.exp(x)
        return tf.math.log(1 + e), lambda dy: dy * 0.5 * (1 - 1 / (1 + e))  # half the true one

    compiled = tf.function(softplus)
    for value in (0.5, 1.0, -2.0):  # (the first call gives the trace's results)
        x = tf.constant([value])
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = compiled(x)
        np.testing.assert_allclose(y.numpy(), np.log1p(np.exp([value])), rtol=1e-6)
        np.testing.assert_allclose(tape.gradient(y, x).numpy(),
                                   0.5 / (1 + np.exp(-np.float32([value]))), rtol=1e-6)
    assert compiled.experimental_get_tracing_count() == 1


def test_a_custom_gradient_under_a_recording_tape_raises_instead_of_a_wrong_gradient():
    @tf.custom_gradient
    def doubled(x):
        return tf.identity(x) * 2.0, lambda dy: dy * 3.0

    compiled = tf.function(doubled)
    x = tf.constant(1.5)
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = compiled(x) * x
        with pytest.raises(NotImplementedError, match="custom_gradient"):
            inner.gradient(y, x)  # (eagerly: 3 * 1.5 + 3.0 = 7.5; the replay gave 6.0)
    with tf.GradientTape() as tape:  # without the outer tape: the compiled backward program
        tape.watch(x)
        y = compiled(x) * x
    assert float(tape.gradient(y, x)) == 7.5


def test_random_ops_are_not_frozen_into_a_trace():
    @tf.function
    def f():
        return tf.random.normal([3])

    assert not np.array_equal(f().numpy(), f().numpy())


def test_run_functions_eagerly_turns_compilation_off():
    calls = []

    @tf.function
    def f(x):
        calls.append(1)
        return x

    tf.config.run_functions_eagerly(True)
    try:
        f(tf.constant(1.0))
        f(tf.constant(1.0))
    finally:
        tf.config.run_functions_eagerly(False)
    assert len(calls) == 2 and f.experimental_get_tracing_count() == 0


def test_methods_trace_per_instance():
    class Model(tf.Module):
        def __init__(self, scale):
            super().__init__()
            self.scale = tf.Variable(scale)

        @tf.function
        def __call__(self, x):
            return x * self.scale

    a, b = Model(2.0), Model(3.0)
    assert float(a(tf.constant(1.0))) == 2.0
    assert float(b(tf.constant(1.0))) == 3.0


# -- passes -----------------------------------------------------------------------------------

def test_dead_code_is_pruned():
    @tf.function
    def f(x):
        unused = tf.exp(x) * 3.0  # noqa: F841
        return x + 1.0

    f(tf.constant(1.0))
    assert [s.op.name for s in _only_trace(f).graph.steps] == ["AddV2"] or \
        len(_only_trace(f).graph.steps) == 1


def test_common_subexpressions_merge():
    @tf.function
    def f(x):
        return tf.sin(x) + tf.sin(x)

    f(tf.constant(1.0))
    names = [s.op.name for s in _only_trace(f).graph.steps]
    assert names.count("Sin") == 1
    assert float(f(tf.constant(0.5))) == pytest.approx(2 * np.sin(np.float32(0.5)))


def test_constants_fold():
    @tf.function
    def f(x):
        c = tf.exp(tf.constant(1.0)) * 2.0
        return x * c

    assert float(f(tf.constant(1.0))) == pytest.approx(2 * np.e, rel=1e-6)
    steps = _only_trace(f).graph.steps
    assert len(steps) == 1 and _only_trace(f).report["folded"] == 2


def test_pass_functions_report_their_work():
    @tf.function
    def f(x):
        a = tf.cos(x)
        b = tf.cos(x)
        tf.exp(x)
        return a * b

    f(tf.constant(1.0))
    assert _only_trace(f).report == {"folded": 0, "merged": 1, "dropped": 1}
    assert "def replay" in _only_trace(f).replay.source
    assert isinstance(program.optimise, object)


# -- gradients --------------------------------------------------------------------------------

def _mlp_params(rng):
    return [tf.Variable(rng.standard_normal((4, 5)).astype(np.float32)),
            tf.Variable(rng.standard_normal(5).astype(np.float32)),
            tf.Variable(rng.standard_normal((5, 2)).astype(np.float32))]


def _mlp_loss(params, x):
    w1, b1, w2 = params
    return tf.reduce_mean(tf.tanh(tf.matmul(x, w1) + b1) @ w2)


def test_tape_outside_a_call_records_one_op_and_matches_eager():
    rng = np.random.default_rng(0)
    params = _mlp_params(rng)
    x = tf.constant(rng.standard_normal((3, 4)).astype(np.float32))
    compiled = tf.function(lambda x: _mlp_loss(params, x))
    with tf.GradientTape() as tape:
        expected_loss = _mlp_loss(params, x)
    expected = tape.gradient(expected_loss, params)
    for _ in range(3):
        with tf.GradientTape() as tape:
            loss = compiled(x)
        assert [r.op.name for r in tape._recording.records()
                if r.op.name != "ReadVariableOp"] == ["FunctionCall"]
        grads = tape.gradient(loss, params)
        assert float(loss) == float(expected_loss)
        for g, e in zip(grads, expected):
            np.testing.assert_allclose(g.numpy(), e.numpy(), rtol=1e-6, atol=1e-7)


def test_tape_inside_the_function():
    @tf.function
    def grad(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.sin(x) * x
        return tape.gradient(y, x)

    for v in (1.0, 2.0):
        assert float(grad(tf.constant(v))) == pytest.approx(np.sin(v) + v * np.cos(v),
                                                            rel=1e-6)
    assert grad.experimental_get_tracing_count() == 1


def test_second_order_persistent_and_jacobian_through_a_call():
    cube = tf.function(lambda x: x * x * x)
    x = tf.constant([1.0, 2.0])
    with tf.GradientTape(persistent=True) as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = cube(x)
        g = inner.gradient(y, x)
    np.testing.assert_allclose(g.numpy(), [3.0, 12.0])
    np.testing.assert_allclose(outer.gradient(g, x).numpy(), [6.0, 12.0])
    np.testing.assert_allclose(outer.jacobian(g, x).numpy(), [[6.0, 0.0], [0.0, 12.0]])
    np.testing.assert_allclose(outer.gradient(g, x).numpy(), [6.0, 12.0])  # persistent


def test_one_output_and_several_outputs_calls_under_a_tape_match_eager():
    one = tf.function(lambda x, w: tf.tanh(x * w) + tf.sin(x))
    two = tf.function(lambda x: (tf.sin(x), tf.cos(x) * x))
    x = tf.constant(np.linspace(-1, 1, 6, dtype=np.float32))
    w = tf.constant(np.float32(0.7))

    def gradients(f, g):
        with tf.GradientTape() as tape:
            tape.watch([x, w])
            s, c = g(x)
            y = f(x, w) * x + f(x * 2.0, w) * s + c
        names = [r.op.name for r in tape._recording.records()]
        return tape.gradient(y, [x, w]), names

    expected, _ = gradients(one.python_function, two.python_function)
    for _ in range(3):  # the first call's gradient replays the trace, later ones compiled
        got, names = gradients(one, two)
        for g, e in zip(got, expected):
            np.testing.assert_allclose(g.numpy(), e.numpy(), rtol=1e-6)
    assert names.count("FunctionCall") == 2 and names.count("FunctionCallN") == 1


def test_forward_mode_through_a_call():
    f = tf.function(lambda x: tf.exp(x) * x)
    x = tf.constant(0.5)
    f(x)
    with tf.autodiff.ForwardAccumulator(x, tf.constant(1.0)) as acc:
        y = f(x)
    assert float(acc.jvp(y)) == pytest.approx(np.exp(0.5) * 1.5, rel=1e-6)


def test_explain_sees_the_call():
    f = tf.function(lambda x: x * 2.0)
    x = tf.constant(1.0)
    with tf.GradientTape() as tape:
        y = f(x)  # x never watched
    report = tape.explain(y, x)
    assert report[0].reason == "not_watched"


def test_nested_functions(caplog):
    inner = tf.function(lambda x: x * x)

    @tf.function
    def outer(x):
        return inner(x) + 1.0

    x = tf.constant(3.0)
    with caplog.at_level(logging.WARNING, logger="tapegrad"):
        for _ in range(2):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = outer(x)
            assert float(y) == 10.0
            assert float(tape.gradient(y, x)) == 6.0
    assert "runs eagerly" not in caplog.text  # both compiled
    assert [s.op.name for s in _only_trace(outer).graph.steps] == ["FunctionCall", "AddV2"]


def test_callable_objects_and_keras_models_compile():
    model = tf.keras.Sequential([tf.keras.layers.Dense(2)])
    x = tf.ones([3, 4])
    eager = model(x).numpy()
    compiled = tf.function(model)
    np.testing.assert_array_equal(compiled(x).numpy(), eager)
    np.testing.assert_array_equal(compiled(x).numpy(), eager)
    assert compiled.experimental_get_tracing_count() == 1


def test_ops_whose_wrappers_read_values_are_never_frozen(caplog):
    @tf.function
    def positives(x):
        return tf.reduce_sum(tf.boolean_mask(x, x > 0))

    with caplog.at_level(logging.WARNING, logger="tapegrad"):
        assert float(positives(tf.constant([1.0, -2.0, 3.0]))) == 4.0
        assert float(positives(tf.constant([-1.0, 5.0, -3.0]))) == 5.0
    assert caplog.text.count("runs eagerly") == 1


def test_closure_python_values_are_frozen_into_the_trace():
    scale = [2.0]
    f = tf.function(lambda x: x * scale[0])
    assert float(f(tf.constant(1.0))) == 2.0
    scale[0] = 3.0  # as TensorFlow: the trace keeps the value it read
    assert float(f(tf.constant(1.0))) == 2.0


def test_ops_with_value_dependent_result_shapes_run_eagerly(caplog):
    f = tf.function(lambda x: tf.size(tf.unique(x)[0]))
    with caplog.at_level(logging.WARNING, logger="tapegrad"):
        assert int(f(tf.constant([1, 1, 2]))) == 2
        assert int(f(tf.constant([1, 2, 3]))) == 3
    assert "depends on its input values" in caplog.text


def test_dataset_iterators_are_never_frozen_into_a_trace(capsys):
    @tf.function
    def consume_next(iterator):
        tf.print("Value:", next(iterator))

    iterator = iter(tf.data.Dataset.from_tensor_slices([1, 2, 3]))
    for _ in range(3):
        consume_next(iterator)
    assert capsys.readouterr().err == "Value: 1\nValue: 2\nValue: 3\n"

    @tf.function
    def first(dataset):
        return next(iter(dataset))

    tf.random.set_seed(1)
    shuffled = tf.data.Dataset.range(50).shuffle(50)  # a new order on every iteration
    assert len({int(first(shuffled)) for _ in range(6)}) > 1


def test_jit_composes_with_the_functional_transforms():
    f = lambda x: tf.reduce_sum(tf.sin(x) * x)  # noqa: E731
    fast = tf.autodiff.jit(tf.autodiff.grad(f))
    x = np.array([0.5, 1.0], np.float32)
    expected = np.sin(x) + x * np.cos(x)
    for _ in range(2):
        np.testing.assert_allclose(fast(tf.constant(x)).numpy(), expected, rtol=1e-6)
    assert fast.experimental_get_tracing_count() == 1


def test_a_decorated_method_does_not_keep_its_instance_alive():
    import gc
    import weakref

    class Model:
        @tf.function
        def __call__(self, x):
            return x * 2.0

    model = Model()
    assert float(model(tf.constant(1.0))) == 2.0
    alive = weakref.ref(model)
    del model
    gc.collect()
    assert alive() is None


def test_jit_compile_is_accepted_and_compiles_as_without_it():
    f = tf.function(lambda x: x * x, jit_compile=True)
    assert float(f(tf.constant(3.0))) == 9.0
    assert float(f(tf.constant(4.0))) == 16.0
    assert f.experimental_get_tracing_count() == 1


def test_a_keras_training_step_compiles_and_equals_eager():
    model = tf.keras.Sequential([tf.keras.layers.Dense(4, activation="relu"),
                                 tf.keras.layers.Dense(1)])
    x = tf.constant(np.random.default_rng(0).standard_normal((8, 3)).astype(np.float32))
    y = tf.ones([8, 1])
    model(x)

    def step(x, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean((model(x) - y) ** 2)
        grads = tape.gradient(loss, model.trainable_variables)
        for v, g in zip(model.trainable_variables, grads):
            v.assign_sub(0.1 * g)
        return loss

    start = [v.numpy() for v in model.trainable_variables]
    eager = [float(step(x, y)) for _ in range(3)]
    eager_weights = [v.numpy() for v in model.trainable_variables]
    for v, value in zip(model.trainable_variables, start):
        v.assign(value)
    compiled = tf.function(step)
    # (the traced backward runs the rules with tapegrad ops, eager on arrays: equal
    # to rounding)
    np.testing.assert_allclose([float(compiled(x, y)) for _ in range(3)], eager, rtol=1e-6)
    for v, value in zip(model.trainable_variables, eager_weights):
        np.testing.assert_allclose(v.numpy(), value, rtol=1e-6, atol=1e-7)
    assert compiled.experimental_get_tracing_count() == 1 and "eager" not in \
        compiled._concrete.values()


def test_buffers_of_dead_results_are_reused_only_where_nothing_else_sees_them():
    v = tf.Variable([0.0, 0.0])

    @tf.function
    def f(x):
        a = tf.exp(x)             # seen only by the add below: an own buffer of the program
        b = a + 1.0
        t = tf.transpose(b)       # a view of b, returned: b's array is never a buffer
        c = b * 2.0
        v.assign(c * 1.0)         # the variable keeps this array
        return t + c, c, t

    results = []
    for scale in (1.0, 1.0, 2.0):
        x = tf.constant(np.float32([0.5, 1.5]) * np.float32(scale))
        results.append((x.numpy(), *(r.numpy() for r in f(x))))
        results[-1] += (v.numpy(),)
    for x, total, c, t, assigned in results:  # later calls left earlier results alone
        b = np.exp(x) + np.float32(1.0)
        np.testing.assert_array_equal(t, b)
        np.testing.assert_array_equal(total, b + b * np.float32(2.0))
        np.testing.assert_array_equal(c, b * np.float32(2.0))
        np.testing.assert_array_equal(assigned, b * np.float32(2.0))
    trace = _only_trace(f)
    plan = program.plan_buffers(trace.graph, set(trace.returns))
    assert {trace.graph.steps[i].op.name for i in plan.buffers} == {"Exp"}
    assert not plan.into and plan.specs == [((2,), np.dtype(np.float32))]


def _expansion_inputs(forward, dtype):
    rng = np.random.default_rng(7)
    first, second = (rng.standard_normal((3, 5)).astype(dtype) for _ in range(2))
    first[0, :3] = [0.0, 1.0, -1.0]
    second[1, :2] = [np.inf, -0.0]
    if forward is REGISTRY["MatMul"].forward:
        return first, second.T.copy()
    return first, second


@pytest.mark.parametrize("given", [True, False], ids=["into arrays", "new arrays"])
@pytest.mark.parametrize("forward", list(program.EXPANSIONS), ids=lambda f: f.__name__)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64])
def test_an_expansion_gives_its_forwards_bits(forward, dtype, given):
    inputs = _expansion_inputs(forward, dtype)
    with np.errstate(invalid="ignore"):  # (inf - inf)
        expected = forward(*inputs)
        case, calls = program.EXPANSIONS[forward]
        assert case(inputs, expected)
        env = {"a0": inputs[0], "a1": inputs[1], "out": np.empty_like(expected),
               "scratch": np.empty_like(expected)}
        lines = program._expanded_lines(env, calls, ["a0", "a1"], "out", given,
                                        "scratch" if given else None)
        exec("\n".join(lines), env)
    assert env["out"].dtype == expected.dtype and env["out"].shape == expected.shape
    np.testing.assert_array_equal(env["out"].view(np.uint8), expected.view(np.uint8))


def test_tanh_and_sigmoid_gradients_are_written_out_in_the_backward_program():
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.reduce_sum(tf.tanh(x) * tf.sigmoid(x * 2.0))
        return tape.gradient(y, x)

    compiled = tf.function(step)
    for scale in (1.0, 1.0, -2.0):
        x = tf.constant(np.linspace(-2, 2, 6, dtype=np.float32) * np.float32(scale))
        assert np.array_equal(compiled(x).numpy(), step(x).numpy())
    source = _only_trace(compiled).replay.source
    assert source.count("u_subtract(") == 2 and "TanhGrad" not in source


def test_a_call_finding_the_buffers_in_use_runs_without_them():
    compiled = tf.function(lambda x: tf.tanh(tf.sin(x) * 2.0 + 1.0) * 3.0)
    x = tf.constant(np.linspace(-1, 1, 8, dtype=np.float32))
    expected = compiled(x).numpy()
    compiled(x)
    replay = _only_trace(compiled).replay
    assert replay.buffers == [((8,), np.dtype(np.float32))]
    (array,) = replay(x.numpy())
    acquire, release = replay.__globals__["_acquire"], replay.__globals__["_release"]
    acquire()  # as a call from another thread, or from within the call, would find them
    try:
        (unbuffered,) = replay(x.numpy())
    finally:
        release()
    assert np.array_equal(array, expected) and np.array_equal(unbuffered, expected)
    assert array is not unbuffered


def test_calls_from_two_threads_each_get_their_own_results():
    import sys
    import threading

    compiled = tf.function(lambda x: tf.tanh(tf.sin(x) * 2.0 + 1.0) * 3.0 - x)
    # (NumPy lets other threads run inside a ufunc on a large array)
    inputs = [np.linspace(-1, 1, 20000, dtype=np.float32) * np.float32(k) for k in (1, 2)]
    expected = [np.tanh(np.sin(x) * np.float32(2) + np.float32(1)) * np.float32(3) - x
                for x in inputs]
    compiled(tf.constant(inputs[0]))
    wrong = []
    start = threading.Barrier(2)

    def work(k):
        x = tf.constant(inputs[k])
        start.wait()
        for _ in range(200):
            if not np.array_equal(compiled(x).numpy(), expected[k]):
                wrong.append(k)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often: calls overlap
    try:
        threads = [threading.Thread(target=work, args=(k,)) for k in (0, 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert not wrong


@pytest.mark.parametrize("rounds", [program.BATCH_MIN - 1, program.BATCH_MIN + 4])
def test_independent_calls_of_one_ufunc_run_as_one_call_on_their_concatenation(rounds):
    def chain(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = x
            for _ in range(rounds):  # the backward pass takes cos of every sine's input
                y = tf.tanh(tf.sin(y) * 0.9 + 0.5)
        return tape.gradient(y, x)

    compiled = tf.function(chain)
    rng = np.random.default_rng(5)
    for _ in range(3):
        x = tf.constant(rng.standard_normal((3, 4)).astype(np.float32) * np.float32(3))
        assert np.array_equal(compiled(x).numpy(), chain(x).numpy())
    source = _only_trace(compiled).replay.source
    assert source.count("u_concatenate(") == (rounds >= program.BATCH_MIN)


def test_a_batch_counts_against_the_programs_memory_bound(monkeypatch):
    def sines(x):
        scaled = [x * float(k) for k in range(1, program.BATCH_MIN + 1)]
        total = x
        for value in scaled:  # every sine's input exists where the first runs
            total = total + tf.sin(value)
        return total

    x = tf.constant(np.linspace(-2, 2, 16, dtype=np.float32))
    for bound, batched in ((program.BUFFER_BYTES, True), (2 * program.BATCH_MIN * 64 - 1, False)):
        monkeypatch.setattr(program, "BUFFER_BYTES", bound)
        compiled = tf.function(sines)
        for _ in range(2):
            assert np.array_equal(compiled(x).numpy(), sines(x).numpy())
        assert ("u_concatenate(" in _only_trace(compiled).replay.source) == batched


def test_buffers_stop_at_the_memory_bound(monkeypatch):
    monkeypatch.setattr(program, "BUFFER_BYTES", 90)
    compiled = tf.function(
        lambda x: tf.exp(tf.exp(x) + 1.0) + tf.reduce_sum(tf.exp(tf.cos(x[:4]) * 2.0)))
    x = tf.constant(np.linspace(-1, 1, 20, dtype=np.float32))  # 80 bytes
    for _ in range(2):
        got = compiled(x).numpy()
    plan = program.plan_buffers(_only_trace(compiled).graph, set(_only_trace(compiled).returns))
    assert plan.specs == [((20,), np.dtype(np.float32))]  # 16 more bytes would pass 90
    np.testing.assert_array_equal(
        got, np.exp(np.exp(x.numpy()) + np.float32(1))
        + np.sum(np.exp(np.cos(x.numpy()[:4]) * np.float32(2))))


def test_a_value_read_only_through_a_transposes_product_lives_in_a_buffer():
    @tf.function
    def f(x, w):
        h = tf.nn.relu(x * 2.0)  # read only through its transpose, by the product
        return tf.matmul(tf.transpose(h), w), tf.reduce_sum(h)

    rng = np.random.default_rng(3)
    w = tf.constant(rng.standard_normal((4, 2)).astype(np.float32))
    results = []
    for _ in range(3):
        x = tf.constant(rng.standard_normal((4, 3)).astype(np.float32))
        results.append((x.numpy(), *(r.numpy() for r in f(x, w))))
    for x, product, total in results:
        h = np.maximum(x * np.float32(2), 0)
        np.testing.assert_array_equal(product, h.T @ w.numpy())
        assert total == np.add.reduce(h, axis=None)
    trace = _only_trace(f)
    plan = program.plan_buffers(trace.graph, set(trace.returns))
    names = {i: trace.graph.steps[i].op.name for i in range(len(trace.graph.steps))}
    assert [names[i] for i in plan.buffers] == ["Mul"] and [names[i] for i in plan.into] == \
        ["Relu"]
    assert ".T" in trace.replay.source


def test_relu_of_a_dead_result_runs_in_place_as_its_ufunc():
    @tf.function
    def f(x, w):
        # the sum dies at the relu: written in place (in the program's own buffer)
        h = tf.nn.relu(tf.matmul(x, w) + 1.0) * 3.0
        kept = tf.matmul(x, w) * 2.0
        t = tf.transpose(kept)                   # a view of `kept`: never written
        return tf.nn.relu(kept) + tf.transpose(t), h

    x = tf.constant(np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4))
    w = tf.constant(np.linspace(1, -1, 8, dtype=np.float32).reshape(4, 2))
    for _ in range(2):
        out, h = f(x, w)
    product = x.numpy() @ w.numpy()
    np.testing.assert_array_equal(h.numpy(),
                                  np.maximum(product + np.float32(1), 0) * np.float32(3))
    np.testing.assert_array_equal(out.numpy(), np.maximum(product * 2, 0) + product * 2)
    trace = _only_trace(f)
    plan = program.plan_buffers(trace.graph, set(trace.returns)).into
    producer = {step.outs[0]: step.op.name for step in trace.graph.steps if step.outs}
    relus = [i for i in plan if trace.graph.steps[i].op.name == "Relu"]
    assert len(relus) == 1 and producer[plan[relus[0]]] == "AddV2"
    assert ", 0, out=" in trace.replay.source


def test_a_tape_outside_a_call_differentiates_each_calls_inputs():
    # the backward program reads the forward values saved by each call: what depends on
    # them (cos(x) in sin's rule) is recomputed, never a constant of the first call's
    c = tf.constant(np.float32(0.9))
    compiled = tf.function(lambda v: tf.tanh(tf.sin(v) * c + c))

    def gradient(function, x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = function(x)
        return tape.gradient(y, x).numpy()

    for scale in (1.0, 2.0, 3.0, -1.5):
        x = tf.constant(np.linspace(-1, 1, 5).astype(np.float32) * np.float32(scale))
        expected = gradient(lambda v: tf.tanh(tf.sin(v) * c + c), x)
        np.testing.assert_allclose(gradient(compiled, x), expected, rtol=1e-6, atol=1e-7)


def test_a_cross_entropy_and_its_gradients_softmax_share_one_step():
    rng = np.random.default_rng(4)
    logits = tf.Variable(rng.standard_normal((6, 5)).astype(np.float32))
    labels = tf.constant(np.eye(5, dtype=np.float32)[rng.integers(0, 5, 6)])

    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels, logits * 2.0))
        return loss, tape.gradient(loss, logits)

    compiled = tf.function(step)
    expected = [t.numpy() for t in step()]
    for _ in range(2):
        got = [t.numpy() for t in compiled()]
    assert all(np.array_equal(g, e) for g, e in zip(got, expected))
    names = [s.op.name for s in program.share_softmax(_only_trace(compiled).graph,
                                                       _only_trace(compiled).graph.steps)
             if s.kind == "op"]
    assert "SoftmaxCrossEntropyAndSoftmax" in names and "Softmax" not in names
