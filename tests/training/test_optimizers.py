"""Optimizer behaviour beyond the recorded arithmetic: errors, warnings, minimize, sparse rows,
and updates that never mutate a value already recorded on a tape."""

import warnings

import numpy as np
import pytest

import tapegrad as tf


def test_none_gradients_warn_with_names_and_skip():
    a, b = tf.Variable(1.0, name="a"), tf.Variable(2.0, name="b")
    opt = tf.keras.optimizers.SGD(0.1)
    with pytest.warns(UserWarning, match=r"Gradients do not exist for variables \['b:0'\]"):
        opt.apply_gradients([(tf.constant(2.0), a), (None, b)])
    assert float(a) == pytest.approx(0.8) and float(b) == 2.0
    assert int(opt.iterations) == 1


def test_keras_variables_are_named_by_path_in_the_warning():
    layer = tf.keras.layers.Dense(1)
    layer(tf.ones([1, 2]))
    opt = tf.keras.optimizers.SGD(0.1)
    with pytest.warns(UserWarning, match=r"\['dense.*/bias'\]"):
        opt.apply_gradients([(tf.ones([2, 1]), layer.kernel), (None, layer.bias)])


def test_all_none_raises_listing_variables():
    a, b = tf.Variable(1.0, name="a"), tf.Variable(2.0, name="b")
    opt = tf.keras.optimizers.Adam()
    with pytest.raises(ValueError, match=r"No gradients provided for any variable.*'a:0'.*'b:0'"):
        opt.apply_gradients(zip([None, None], [a, b]))
    assert int(opt.iterations) == 0 and float(a) == 1.0


def test_shape_mismatch_raises_invalid_argument_and_changes_nothing():
    a, b = tf.Variable([1.0, 2.0]), tf.Variable(1.0)
    opt = tf.keras.optimizers.SGD(0.1)
    with pytest.raises(tf.errors.InvalidArgumentError, match="shape"):
        opt.apply_gradients([(tf.constant([1.0, 1.0]), a), (tf.constant([1.0, 2.0]), b)])
    assert a.numpy().tolist() == [1.0, 2.0] and int(opt.iterations) == 0


def test_empty_list_raises():
    with pytest.raises(ValueError):
        tf.keras.optimizers.SGD().apply_gradients([])


def test_only_one_clipping_option():
    with pytest.raises(ValueError, match="Only one of"):
        tf.keras.optimizers.SGD(clipnorm=1.0, clipvalue=1.0)


def test_update_does_not_mutate_values_recorded_on_a_tape():
    v = tf.Variable([1.0, 2.0])
    opt = tf.keras.optimizers.Adam(0.5)
    with tf.GradientTape(persistent=True) as tape:
        y = tf.reduce_sum(v * v)
        read = v.read_value()
    kept = read.numpy().copy()
    opt.apply_gradients([(tape.gradient(y, v), v)])
    assert read.numpy().tolist() == kept.tolist()
    assert not np.allclose(v.numpy(), kept)


def test_indexed_slices_update_touches_only_rows_and_adds_duplicates():
    table = tf.Variable(np.zeros((5, 2), np.float32))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.gather(table, [3, 1, 3]))
    grad = tape.gradient(loss, table)
    assert isinstance(grad, tf.IndexedSlices)
    tf.keras.optimizers.SGD(0.5).apply_gradients([(grad, table)])
    expected = np.zeros((5, 2))
    expected[1] = -0.5
    expected[3] = -1.0
    np.testing.assert_allclose(table.numpy(), expected)


def test_embedding_layer_trains_with_sparse_gradients():
    emb = tf.keras.layers.Embedding(6, 2, embeddings_initializer="ones")
    opt = tf.keras.optimizers.SGD(0.1)
    ids = tf.constant([[0, 2]])
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(emb(ids))
    opt.apply_gradients(zip(tape.gradient(loss, emb.trainable_variables),
                            emb.trainable_variables))
    table = emb.embeddings.numpy()
    np.testing.assert_allclose(table[[0, 2]], 0.9)
    np.testing.assert_allclose(table[[1, 3, 4, 5]], 1.0)


def test_minimize_with_callable_and_with_tape():
    w = tf.Variable(3.0)
    opt = tf.keras.optimizers.SGD(0.25)
    opt.minimize(lambda: w * w, [w])            # w -= 0.25 * 2w
    assert float(w) == pytest.approx(1.5)
    with tf.GradientTape() as tape:
        loss = w * w
    opt.minimize(loss, [w], tape=tape)
    assert float(w) == pytest.approx(0.75)
    assert int(opt.iterations) == 2
    with pytest.raises(ValueError, match="tape"):
        opt.minimize(w * w, [w])


def test_adam_first_steps_follow_the_published_formula():
    # Kingma & Ba with Keras' epsilon placement, computed independently in float64
    g = np.array([0.5, -2.0, 0.0])
    lr, b1, b2, eps = 0.1, 0.9, 0.999, 1e-7
    w = np.array([1.0, 1.0, 1.0])
    m = v = np.zeros(3)
    var = tf.Variable(w.copy())
    opt = tf.keras.optimizers.Adam(lr)
    lr32 = float(np.float32(lr))
    b1_32, b2_32 = float(np.float32(b1)), float(np.float32(b2))
    for t in (1, 2, 3):
        m = m + (g - m) * (1 - b1)
        v = v + (g * g - v) * (1 - b2)
        alpha = lr32 * np.sqrt(1 - b2_32 ** t) / (1 - b1_32 ** t)
        w = w - m * alpha / (np.sqrt(v) + eps)
        opt.apply_gradients([(tf.constant(g), var)])
        np.testing.assert_allclose(var.numpy(), w, rtol=1e-12)


def test_schedule_drives_learning_rate_by_iterations():
    schedule = tf.keras.optimizers.schedules.PiecewiseConstantDecay([1], [1.0, 0.5])
    opt = tf.keras.optimizers.SGD(schedule)
    v = tf.Variable(0.0)
    values = []
    for _ in range(3):
        values.append(float(opt.learning_rate))
        opt.apply_gradients([(tf.constant(1.0), v)])
    assert values == [1.0, 1.0, 0.5]
    assert float(v) == pytest.approx(-2.5)


def test_learning_rate_can_be_set():
    opt = tf.keras.optimizers.SGD(0.1)
    opt.learning_rate = 0.5
    assert float(opt.learning_rate) == 0.5


def test_optimizer_rejects_non_variables():
    with pytest.raises(TypeError, match="Variable"):
        tf.keras.optimizers.SGD().apply_gradients([(tf.constant(1.0), tf.constant(1.0))])


def test_no_warning_when_every_gradient_exists():
    v = tf.Variable(1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tf.keras.optimizers.RMSprop().apply_gradients([(tf.constant(1.0), v)])


def test_minimize_explains_why_no_gradient_arrived():
    a = tf.Variable(1.0, name="a")
    opt = tf.keras.optimizers.SGD()
    with pytest.raises(ValueError, match=r"(?s)No gradients provided.*Why:.*'a:0'"):
        opt.minimize(lambda: tf.constant(float(a.numpy())) * 2.0, [a])
    with pytest.raises(ValueError, match=r"tape\.explain"):
        opt.apply_gradients([(None, a)])
