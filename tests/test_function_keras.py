"""Keras training steps under ``tf.function``: the model call, the loss and the tape's
gradients replay as the compiled program, and the optimizer's update (``apply_gradients``,
``minimize``) is one host step of it, made on every call. Results equal eager execution
bitwise: losses, weights and the optimizer's own variables (iterations, slots)."""

import numpy as np
import pytest

import tapegrad as tf

keras = tf.keras


def _model(weights=None):
    model = keras.Sequential([keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(3)])
    model(tf.zeros((1, 4)))
    if weights is not None:
        for variable, value in zip(model.weights, weights):
            variable.assign(value)
    return model


def _data():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((16, 4)).astype(np.float32)
    return x, rng.integers(0, 3, 16)


def _train(step_factory, optimizer, compiled: bool, steps: int = 4):
    """Run ``steps`` steps from fixed weights; (per-step outputs, model, optimizer, step)."""
    rng = np.random.default_rng(0)
    weights = [rng.standard_normal(v.shape).astype(np.float32) * 0.5
               for v in _model().weights]
    model = _model(weights)
    step = step_factory(model, optimizer)
    if compiled:
        step = tf.function(step)
    x, y = _data()
    outputs = []
    for k in range(steps):
        rows = slice(8 * (k % 2), 8 * (k % 2) + 8)
        result = step(tf.constant(x[rows]), tf.constant(y[rows]))
        outputs.append([np.asarray(o) for o in
                        (result if isinstance(result, tuple) else (result,))])
    return outputs, model, optimizer, step


def _apply_gradients_step(model, optimizer):
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        iterations = optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss, iterations

    return step


def _minimize_step(model, optimizer):
    def step(x, y):
        with tf.GradientTape() as tape:
            logits = model(x)
            one_hot = tf.cast(tf.equal(tf.reshape(y, [-1, 1]), tf.range(3, dtype=y.dtype)),
                              tf.float32)
            loss = tf.reduce_mean(keras.losses.categorical_crossentropy(one_hot, logits,
                                                                        from_logits=True))
        optimizer.minimize(loss, model.trainable_variables, tape=tape)
        return loss

    return step


OPTIMIZERS = {"SGD": lambda: keras.optimizers.SGD(0.1),
              "SGD momentum": lambda: keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
              "Adam": lambda: keras.optimizers.Adam(0.01),
              "AdamW": lambda: keras.optimizers.AdamW(0.01, weight_decay=0.01)}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("factory", [_apply_gradients_step, _minimize_step],
                         ids=["apply_gradients", "minimize"])
def test_a_compiled_keras_training_step_equals_eager_bitwise(name, factory):
    eager, eager_model, eager_optimizer, _ = _train(factory, OPTIMIZERS[name](), False)
    compiled, model, optimizer, step = _train(factory, OPTIMIZERS[name](), True)
    # compiled, not run eagerly: one trace, replayed
    assert step.experimental_get_tracing_count() == 1
    assert "eager" not in step._concrete.values()
    for got, expected in zip(compiled, eager):
        for g, e in zip(got, expected):
            assert g.dtype == e.dtype and np.array_equal(g, e), (got, expected)
    for got, expected in zip(model.weights + optimizer.variables,
                             eager_model.weights + eager_optimizer.variables):
        assert np.array_equal(got.numpy(), expected.numpy()), got.name


def test_apply_gradients_inside_a_function_returns_the_updated_iterations():
    optimizer = keras.optimizers.SGD(0.1)
    outputs, *_ = _train(_apply_gradients_step, optimizer, True, steps=3)
    assert [int(o[1]) for o in outputs] == [1, 2, 3]
    assert int(optimizer.iterations.numpy()) == 3


def test_a_bad_label_still_raises_when_the_compiled_step_runs():
    model = _model()
    step = tf.function(_apply_gradients_step(model, keras.optimizers.SGD(0.1)))
    x = tf.constant(np.ones((2, 4), np.float32))
    step(x, tf.constant([0, 1]))
    step(x, tf.constant([0, 1]))  # compiled
    with pytest.raises(tf.errors.InvalidArgumentError, match="outside the valid range"):
        step(x, tf.constant([0, 3]))


def test_a_host_call_receives_each_calls_indexed_slices():
    from tapegrad.autodiff.function.host import host_call

    received = []

    @host_call
    def record(slices):
        received.append((slices.values.numpy().tolist(), slices.indices.numpy().tolist()))

    f = tf.function(lambda v, i: record(tf.IndexedSlices(v * 2.0, i, tf.constant([5, 1]))))
    for values, indices in (([[1.0]], [3]), ([[2.0]], [4]), ([[3.0]], [0])):
        f(tf.constant(values), tf.constant(indices))
    assert received == [([[2.0]], [3]), ([[4.0]], [4]), ([[6.0]], [0])]
    assert f.experimental_get_tracing_count() == 1 and "eager" not in f._concrete.values()


# -- dropout: random draws as replayed ops ---------------------------------------------------

def _masks(compiled: bool, make_output, calls: int = 3) -> list:
    tf.random.set_seed(5)
    function = make_output()
    function = tf.function(function) if compiled else function
    masks = [function().numpy() != 0 for _ in range(calls)]
    if compiled:
        assert "eager" not in function._concrete.values()
    return masks


@pytest.mark.parametrize("kind", ["layer", "tf.nn.dropout"])
def test_dropout_in_a_compiled_function_draws_eager_executions_masks(kind):
    def make_output():
        x = tf.ones((4, 6))
        if kind == "layer":
            layer = keras.layers.Dropout(0.5)
            return lambda: layer(x, training=True)
        return lambda: tf.nn.dropout(x, rate=0.5)

    eager, compiled = _masks(False, make_output), _masks(True, make_output)
    assert not np.array_equal(eager[0], eager[1])  # a new mask on every call
    for got, expected in zip(compiled, eager):
        assert np.array_equal(got, expected)


def test_the_digits_demo_training_step_compiles_and_equals_eager_bitwise():
    pytest.importorskip("sklearn")
    from tapegrad.examples import digits

    x, y, _, _ = digits.load_data(0)
    x, y = x[:160], y[:160]  # five batches

    def train(compiled):
        tf.random.set_seed(0)
        model = digits.build_model("conv")
        trainer = digits.make_trainer(model, x, y, epochs=1)
        step = tf.function(trainer.train_step) if compiled else trainer.train_step
        for images, labels in trainer.dataset:
            step(images, labels)
        state = model.weights + trainer.optimizer.variables + trainer.loss.variables + \
            trainer.accuracy.variables
        return [v.numpy() for v in state], step

    eager, _ = train(False)
    compiled, step = train(True)
    assert step.experimental_get_tracing_count() == 1
    assert "eager" not in step._concrete.values()
    assert all(np.array_equal(a, b) for a, b in zip(compiled, eager))


@pytest.mark.parametrize("make", [keras.metrics.Mean, keras.metrics.Sum,
                                  keras.metrics.RootMeanSquaredError])
def test_a_metrics_result_inside_a_function_reads_each_calls_state(make):
    def step(metric):
        def update_and_read(x):
            if isinstance(metric, keras.metrics.RootMeanSquaredError):
                metric.update_state(x, x * 2.0)
            else:
                metric.update_state(x)
            return metric.result()
        return update_and_read

    eager_metric, compiled_metric = make(), make()
    eager, compiled = step(eager_metric), tf.function(step(compiled_metric))
    for value in (1.0, 3.0, 8.0, -2.0):
        x = tf.constant([value, value / 2])
        expected = eager(x).numpy()
        got = compiled(x).numpy()
        assert got.dtype == expected.dtype and np.array_equal(got, expected), (value, got)
    assert compiled.experimental_get_tracing_count() == 1
    assert "eager" not in compiled._concrete.values()
