"""Beyond first gradients: Hessians, forward mode, custom gradients, recomputation, transforms.

Expected values come from finite differences or closed forms, never from tapegrad itself.
"""

import numpy as np
import pytest

import tapegrad as tf
from tapegrad import autodiff

RNG = np.random.default_rng(42)


def numerical_jacobian(f, x, eps=1e-6):
    x = np.asarray(x, dtype=np.float64)
    columns = []
    for i in range(x.size):
        step = np.zeros_like(x)
        step.reshape(-1)[i] = eps
        plus = np.asarray(f(tf.constant(x + step)), dtype=np.float64)
        minus = np.asarray(f(tf.constant(x - step)), dtype=np.float64)
        columns.append(((plus - minus) / (2 * eps)).reshape(-1))
    return np.stack(columns, axis=-1)


W1 = RNG.standard_normal((3, 4))
W2 = RNG.standard_normal((4, 1))


def small_network_loss(x):
    hidden = tf.tanh(tf.matmul(tf.reshape(x, [1, 3]), tf.constant(W1)))
    return tf.reduce_sum(tf.sigmoid(tf.matmul(hidden, tf.constant(W2))) ** 2)


def test_hessian_of_small_network_matches_finite_differences():
    x0 = RNG.standard_normal(3)
    hessian = autodiff.hessian(small_network_loss)(tf.constant(x0)).numpy()
    gradient = autodiff.grad(small_network_loss)
    expected = numerical_jacobian(lambda x: gradient(x).numpy(), x0)
    np.testing.assert_allclose(hessian, expected, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(hessian, hessian.T, atol=1e-12)


def test_hvp_equals_hessian_times_vector():
    x0 = tf.constant(RNG.standard_normal(3))
    v = tf.constant(RNG.standard_normal(3))
    hessian = autodiff.hessian(small_network_loss)(x0).numpy()
    np.testing.assert_allclose(autodiff.hvp(small_network_loss, x0, v).numpy(),
                               hessian @ v.numpy(), rtol=1e-10, atol=1e-12)


def test_jvp_and_vjp_match_the_jacobian():
    def f(x):
        return tf.sin(x) * tf.reduce_sum(x ** 2) + tf.exp(x[::-1])

    x0 = RNG.standard_normal(4)
    jac = numerical_jacobian(lambda x: f(x).numpy(), x0)
    v = RNG.standard_normal(4)
    _, tangent = autodiff.jvp(f, [tf.constant(x0)], [tf.constant(v)])
    np.testing.assert_allclose(tangent.numpy(), jac @ v, rtol=1e-6, atol=1e-8)
    _, vjp_fn = autodiff.vjp(f, tf.constant(x0))
    (cotangent_product,) = vjp_fn(tf.constant(v))
    np.testing.assert_allclose(cotangent_product.numpy(), v @ jac, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(autodiff.jacobian(f)(tf.constant(x0)).numpy(), jac, rtol=1e-6,
                               atol=1e-8)


def test_value_and_grad_over_nested_arguments():
    def loss(params, x):
        return tf.reduce_sum((params["w"] * x + params["b"]) ** 2)

    params = {"w": tf.constant([1.0, 2.0], dtype=tf.float64),
              "b": tf.constant(0.5, dtype=tf.float64)}
    x = tf.constant([3.0, -1.0], dtype=tf.float64)
    value, grads = autodiff.value_and_grad(loss)(params, x)
    residual = np.array([1.0, 2.0]) * np.array([3.0, -1.0]) + 0.5
    assert float(value) == pytest.approx(np.sum(residual ** 2))
    np.testing.assert_allclose(grads["w"].numpy(), 2 * residual * np.array([3.0, -1.0]))
    assert float(grads["b"]) == pytest.approx(2 * residual.sum())


def test_third_derivative_of_composition_by_forward_over_reverse_over_reverse():
    x = tf.constant(0.3, dtype=tf.float64)
    with tf.autodiff.ForwardAccumulator(x, tf.constant(1.0, dtype=tf.float64)) as acc:
        with tf.GradientTape() as outer:
            outer.watch(x)
            with tf.GradientTape() as inner:
                inner.watch(x)
                y = tf.exp(tf.sin(x))
            first = inner.gradient(y, x)
        second = outer.gradient(first, x)
    third = acc.jvp(second)
    f = lambda t: np.exp(np.sin(t))
    h = 1e-3
    # fourth-order accurate third difference
    expected = (-f(0.3 + 2 * h) + 2 * f(0.3 + h) - 2 * f(0.3 - h) + f(0.3 - 2 * h)) / (
        -2 * h ** 3)
    assert float(third) == pytest.approx(expected, rel=1e-5)


def test_custom_gradient_wrong_shape_names_the_function():
    @tf.custom_gradient
    def bad_rule(x):
        return x * 2.0, lambda upstream: tf.ones([5])

    x = tf.constant([1.0, 2.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = bad_rule(x)
    with pytest.raises(ValueError, match="bad_rule.*shape"):
        tape.gradient(y, x)


def test_custom_gradient_called_with_keywords_keeps_the_rule():
    @tf.custom_gradient
    def scaled(x, factor):
        return x * factor, lambda upstream: (upstream * 100.0, None)

    x = tf.constant(1.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = scaled(x, factor=tf.constant(3.0))
    # factor passed by keyword is not an input; the rule still applies to x
    with pytest.raises(ValueError, match="expected to return 1 gradients"):
        tape.gradient(y, x)


def test_recompute_grad_matches_plain_gradients_and_keeps_only_inputs():
    w = tf.Variable(RNG.standard_normal((8, 8)))

    def block(x):
        return tf.tanh(tf.matmul(x, w)) * x

    x = tf.constant(RNG.standard_normal((2, 8)))
    with tf.GradientTape() as plain:
        plain.watch(x)
        y = tf.reduce_sum(block(block(x)))
    expected = plain.gradient(y, [x, w])
    checkpointed = tf.recompute_grad(block)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(checkpointed(checkpointed(x)))
        recorded_ops = {call[0].name for call in tape._recording.calls}
    got = tape.gradient(y, [x, w])
    assert "Tanh" not in recorded_ops, "the checkpointed forward pass must not be recorded"
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g.numpy(), e.numpy(), rtol=1e-12)


def test_forward_accumulator_tangent_shape_mismatch_names_the_fix():
    x = tf.constant([1.0, 2.0])
    with pytest.raises(ValueError, match="tangent"):
        with tf.autodiff.ForwardAccumulator(x, tf.constant([1.0, 2.0, 3.0])):
            x * x


def test_batch_jacobian_matches_per_example_jacobians():
    x0 = RNG.standard_normal((3, 2))
    x = tf.constant(x0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.stack([x[:, 0] * x[:, 1], tf.sin(x[:, 0]), x[:, 1] ** 3], axis=1)
    batch = tape.batch_jacobian(y, x).numpy()
    for b in range(3):
        expected = numerical_jacobian(
            lambda row: tf.stack([row[0] * row[1], tf.sin(row[0]), row[1] ** 3]).numpy(), x0[b])
        np.testing.assert_allclose(batch[b], expected, rtol=1e-6, atol=1e-9)


def test_vectorised_jacobian_agrees_with_finite_differences_and_the_loop():
    w0 = RNG.standard_normal((6, 6)) / 3
    x0 = RNG.standard_normal((6, 1))
    w = tf.constant(w0)

    def f(x):
        return tf.tanh(tf.matmul(w, tf.tanh(tf.matmul(w, x))))

    x = tf.constant(x0)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = f(x)
    vectorised = tape.jacobian(y, x).numpy()
    looped = tape.jacobian(y, x, experimental_use_pfor=False).numpy()
    expected = numerical_jacobian(lambda v: f(v).numpy(), x0).reshape(6, 1, 6, 1)
    assert vectorised.shape == (6, 1, 6, 1)
    np.testing.assert_allclose(vectorised, expected, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(looped, vectorised, rtol=1e-12, atol=1e-14)


def test_hessian_by_jacobian_of_gradient_in_nested_tapes():
    x0 = RNG.standard_normal(3)
    x = tf.constant(x0)
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = tf.reduce_sum(tf.exp(x) * tf.sin(x[::-1]))
        g = inner.gradient(y, x)
    hessian = outer.jacobian(g, x).numpy()
    expected = numerical_jacobian(
        lambda v: autodiff.grad(lambda t: tf.reduce_sum(tf.exp(t) * tf.sin(t[::-1])))(v).numpy(),
        x0)
    np.testing.assert_allclose(hessian, expected, rtol=1e-6, atol=1e-8)


def test_forward_accumulator_tangents_are_the_same_with_and_without_an_outer_tape():
    # Alone, the accumulator runs the forward rules on arrays; under an outer tape it
    # runs the tapegrad rules (so the tape can differentiate them). Both agree with central
    # differences.
    x0, w0, b0 = RNG.standard_normal((4, 3)), RNG.standard_normal((3, 2)), RNG.standard_normal(2)
    tx0, tw0 = RNG.standard_normal((4, 3)), RNG.standard_normal((3, 2))

    def f(x, w, b):
        h = tf.tanh(tf.matmul(x, w) + b)
        return tf.reduce_mean(tf.square(tf.nn.sigmoid(h) * 2.0 - tf.exp(h) / 3.0))

    x, w, b = tf.constant(x0), tf.constant(w0), tf.constant(b0)
    with tf.autodiff.ForwardAccumulator([x, w], [tf.constant(tx0), tf.constant(tw0)]) as acc:
        alone = acc.jvp(f(x, w, b))
    with tf.GradientTape() as outer:
        outer.watch(b)
        with tf.autodiff.ForwardAccumulator([x, w], [tf.constant(tx0), tf.constant(tw0)]) as acc:
            traced = acc.jvp(f(x, w, b))
    eps = 1e-6
    numeric = (float(f(tf.constant(x0 + eps * tx0), tf.constant(w0 + eps * tw0), b))
               - float(f(tf.constant(x0 - eps * tx0), tf.constant(w0 - eps * tw0), b))) / (2 * eps)
    np.testing.assert_allclose(float(alone), numeric, rtol=1e-6)
    np.testing.assert_allclose(float(traced), float(alone), rtol=1e-12)
    assert outer.gradient(traced, b) is not None  # the outer tape saw the tangent's ops


def test_tensorflow_shortcuts_to_keras_modules():
    # TF 2.21: tf.losses, tf.optimizers, tf.metrics and tf.initializers are tf.keras's modules
    assert tf.losses is tf.keras.losses and tf.optimizers is tf.keras.optimizers
    assert tf.metrics is tf.keras.metrics and tf.initializers is tf.keras.initializers
    assert tf.optimizers.Adam is tf.keras.optimizers.Adam


def test_a_multi_output_call_whose_first_output_is_integer_passes_the_float_gradient():
    # (the engine used to look at the first output's dtype alone and drop the whole call)
    @tf.custom_gradient
    def f(x):
        def grad(d_index, d_value):
            return d_value * 3.0
        return (tf.cast(x, tf.int32), x * 3.0), grad

    x = tf.constant([1.0, 2.0])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        index, value = f(x)
    np.testing.assert_array_equal(tape.gradient(value, x).numpy(), [3.0, 3.0])  # d(3x)/dx
    assert tape.gradient(index, x) is None  # an integer target has no gradient
