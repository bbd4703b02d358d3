"""The functional API, summary, configs and serialization, and Keras 3 layer behaviour."""

import json

import numpy as np
import pytest

import tapegrad as tf

keras = tf.keras
layers = keras.layers

# Printed by TF 2.21 / Keras 3.15 for the model built in test_summary_is_keras_3s_table.
KERAS_SEQUENTIAL_SUMMARY = """\
Model: "{name}"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
│ {d0:<31} │ (None, 3)              │            15 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ {d1:<31} │ (None, 1)              │             4 │
└─────────────────────────────────┴────────────────────────┴───────────────┘
 Total params: 19 (76.00 B)
 Trainable params: 19 (76.00 B)
 Non-trainable params: 0 (0.00 B)
"""


def test_summary_is_keras_3s_table(capsys):
    model = keras.Sequential([keras.Input((4,)), layers.Dense(3, activation="relu"),
                              layers.Dense(1)])
    model.summary()
    d0, d1 = (f"{layer.name} (Dense)" for layer in model.layers)
    assert capsys.readouterr().out == KERAS_SEQUENTIAL_SUMMARY.format(name=model.name, d0=d0,
                                                                      d1=d1)


# Printed by TF 2.21 / Keras 3.15 for the model of test_summary_connected_to_column.
KERAS_GRAPH_SUMMARY = """\
┏━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━┓
┃ Layer (type)        ┃ Output Shape      ┃    Param # ┃ Connected to      ┃
┡━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━┩
│ a (InputLayer)      │ (None, 4)         │          0 │ -                 │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ b (InputLayer)      │ (None, 2)         │          0 │ -                 │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ shared (Dense)      │ (None, 5)         │         25 │ a[0][0]           │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ d (Dense)           │ (None, 5)         │         15 │ b[0][0]           │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ cat (Concatenate)   │ (None, 10)        │          0 │ shared[0][0],     │
│                     │                   │            │ d[0][0]           │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ o (Dense)           │ (None, 1)         │         11 │ cat[0][0]         │
└─────────────────────┴───────────────────┴────────────┴───────────────────┘
 Total params: 51 (204.00 B)
 Trainable params: 51 (204.00 B)
 Non-trainable params: 0 (0.00 B)"""


def test_summary_connected_to_column():
    a, b = keras.Input((4,), name="a"), keras.Input((2,), name="b")
    shared = layers.Dense(5, name="shared")(a)
    merged = layers.Concatenate(name="cat")([shared, layers.Dense(5, name="d")(b)])
    model = keras.Model([a, b], layers.Dense(1, name="o")(merged))
    lines = []
    model.summary(print_fn=lines.append)
    assert lines[0].split("\n", 1)[1] == KERAS_GRAPH_SUMMARY


def test_summary_shows_the_declared_shape_not_the_last_calls():
    inputs = keras.Input((None, None, 1))
    model = keras.Model(inputs, layers.Conv2D(2, 3, padding="same")(inputs))
    model(np.zeros((1, 5, 7, 1), np.float32))
    lines = []
    model.summary(print_fn=lines.append)
    assert "(None, None, None, 2)" in lines[0] and "(None, None, None, 1)" in lines[0]


def test_multiple_inputs_outputs_shared_and_nested():
    title, body = keras.Input((5,), name="title"), keras.Input((3,), name="body")
    shared = layers.Dense(4, name="shared")
    merged = layers.concatenate([shared(title), layers.Dense(4)(body)])
    priority = layers.Dense(1, name="priority")(merged)
    department = layers.Dense(3, name="department")(merged)
    model = keras.Model(inputs=[title, body], outputs=[priority, department])
    assert model.output_names == ["priority", "department"]
    assert [t.shape for t in model.outputs] == [(None, 1), (None, 3)]
    assert model.count_params() == (5 * 4 + 4) + (3 * 4 + 4) + (8 + 1) + (8 * 3 + 3)
    out = model([np.ones((2, 5)), np.ones((2, 3))])
    assert [tuple(o.shape) for o in out] == [(2, 1), (2, 3)]
    # the same layer on two inputs: one set of weights
    a, b = keras.Input((5,)), keras.Input((5,))
    siamese = keras.Model([a, b], layers.subtract([shared(a), shared(b)]))
    assert siamese.count_params() == 24
    np.testing.assert_allclose(siamese([np.ones((1, 5)), np.ones((1, 5))]).numpy(), 0.0)
    # a model used as a layer
    inner_in = keras.Input((3,))
    inner = keras.Model(inner_in, layers.Dense(2)(inner_in), name="inner")
    outer_in = keras.Input((3,))
    outer = keras.Model(outer_in, layers.Dense(1)(inner(outer_in)))
    assert outer.get_layer("inner") is inner and outer.count_params() == 8 + 3
    lines = []
    outer.summary(print_fn=lines.append)
    assert "│ inner (Functional)" in lines[0]
    x = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    w, b_ = inner.layers[1].get_weights()
    w2, b2 = outer.layers[2].get_weights()
    np.testing.assert_allclose(outer(x).numpy(), (x @ w + b_) @ w2 + b2, rtol=1e-5)
    model.compile("adam", ["mse", "categorical_crossentropy"], loss_weights=[1.0, 0.2],
                  metrics={"department": "accuracy"})
    history = model.fit([np.ones((8, 5)), np.ones((8, 3))],
                        {"priority": np.ones((8, 1)), "department": np.eye(3)[[0, 1] * 4]},
                        epochs=1, verbose=0)
    assert sorted(history.history) == ["department_accuracy", "department_loss", "loss",
                                       "priority_loss"]
    logs = history.history
    assert logs["loss"][0] == pytest.approx(logs["priority_loss"][0]
                                            + 0.2 * logs["department_loss"][0], rel=1e-5)


def test_graph_errors():
    a, b = keras.Input((2,)), keras.Input((2,))
    out = layers.add([a, b])
    with pytest.raises(ValueError, match="Graph disconnected"):
        keras.Model(a, out)
    with pytest.raises(ValueError, match="must be KerasTensors"):
        keras.Model(np.zeros((1, 2)), out)


def _layer_cases():
    return [
        (layers.Dense(3, activation="relu", use_bias=False), (2, 4)),
        (layers.Conv2D(2, 3, strides=2, padding="same", activation="tanh"), (1, 6, 6, 2)),
        (layers.Conv2DTranspose(2, 3, strides=2, padding="same"), (1, 3, 3, 2)),
        (layers.Conv1D(2, 3, padding="causal"), (1, 6, 2)),
        (layers.MaxPooling2D(2), (1, 4, 4, 1)), (layers.AveragePooling2D(2), (1, 4, 4, 1)),
        (layers.MaxPooling1D(2), (1, 4, 2)), (layers.GlobalAveragePooling1D(), (1, 4, 2)),
        (layers.GlobalAveragePooling2D(), (1, 4, 4, 2)),
        (layers.GlobalMaxPooling2D(), (1, 4, 4, 2)),
        (layers.UpSampling2D(2), (1, 2, 2, 1)), (layers.Flatten(), (2, 3, 2)),
        (layers.Reshape((3, 2)), (2, 6)), (layers.Dropout(0.3), (2, 3)),
        (layers.BatchNormalization(momentum=0.9), (4, 3)), (layers.LayerNormalization(), (2, 3)),
        (layers.LeakyReLU(0.2), (2, 3)), (layers.ReLU(max_value=6.0), (2, 3)),
        (layers.Softmax(), (2, 3)), (layers.Activation("sigmoid"), (2, 3)),
        (layers.Rescaling(1 / 255.0, offset=-1.0), (2, 3)),
        (layers.Normalization(mean=[1.0, 2.0], variance=[4.0, 9.0]), (2, 2)),
        (layers.SimpleRNN(3, return_sequences=True), (2, 4, 2)), (layers.LSTM(3), (2, 4, 2)),
        (layers.GRU(3), (2, 4, 2)), (layers.Embedding(10, 3), None),
    ]


@pytest.mark.parametrize("layer,shape", _layer_cases(), ids=lambda v: type(v).__name__)
def test_every_layer_round_trips_its_config(layer, shape):
    config = json.loads(json.dumps(layer.get_config()))
    clone = type(layer).from_config(config)
    assert json.loads(json.dumps(clone.get_config())) == config
    x = np.random.default_rng(0).uniform(size=shape).astype(np.float32) if shape else \
        np.array([[1, 2, 3]])
    expected = layer(x)
    clone(x)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(clone(x).numpy(), expected.numpy(), rtol=1e-6)


@pytest.mark.parametrize("cls", ["Add", "Subtract", "Multiply", "Average", "Maximum",
                                 "Minimum", "Concatenate"])
def test_merge_layers_round_trip_their_config(cls):
    layer = getattr(layers, cls)(name=f"m_{cls.lower()}")
    config = json.loads(json.dumps(layer.get_config()))
    clone = type(layer).from_config(config)
    a, b = np.ones((2, 3), np.float32), np.full((2, 3), 2.0, np.float32)
    np.testing.assert_array_equal(clone([a, b]).numpy(), layer([a, b]).numpy())
    assert json.loads(json.dumps(clone.get_config())) == config


def test_other_layers_round_trip_their_config():
    for layer in (layers.AveragePooling1D(3, strides=1), layers.GlobalMaxPooling1D(),
                  layers.InputLayer(shape=(3,), name="x_in"), layers.Dropout(0.1, seed=3)):
        config = json.loads(json.dumps(layer.get_config()))
        assert json.loads(json.dumps(type(layer).from_config(config).get_config())) == config


def test_sequential_and_functional_configs_json_and_clone():
    seq = keras.Sequential([keras.Input((4,)), layers.Dense(3), layers.Dense(1)])
    rebuilt = keras.Sequential.from_config(seq.get_config())
    assert [type(layer) for layer in rebuilt.layers] == [layers.Dense, layers.Dense]
    assert rebuilt.count_params() == seq.count_params() == 19
    inputs = keras.Input((4,), name="x")
    hidden = layers.Dense(5, activation="relu", name="hidden")(inputs)
    model = keras.Model(inputs, [layers.Dense(1, name="a")(hidden),
                                 layers.Dense(2, name="b")(hidden)], name="two_heads")
    again = keras.models.model_from_json(model.to_json())
    assert again.name == "two_heads" and again.output_names == ["a", "b"]
    assert [layer.name for layer in again.layers] == ["x", "hidden", "a", "b"]
    clone = keras.models.clone_model(model)
    assert clone.count_params() == model.count_params() == 25 + 6 + 12
    clone.set_weights(model.get_weights())
    x = np.ones((2, 4), np.float32)
    for got, want in zip(clone(x), model(x)):
        np.testing.assert_allclose(got.numpy(), want.numpy())
    assert model.get_layer(index=1).name == "hidden"
    with pytest.raises(ValueError, match="No such layer: nope"):
        model.get_layer("nope")


def test_registered_custom_objects_round_trip():
    @keras.saving.register_keras_serializable(package="tests")
    class Scale(layers.Layer):
        def __init__(self, factor=2.0, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def call(self, x):
            return x * self.factor

        def get_config(self):
            return {**super().get_config(), "factor": self.factor}

    assert keras.saving.get_custom_objects()["tests>Scale"] is Scale
    inputs = keras.Input((2,))
    model = keras.Model(inputs, Scale(3.0)(inputs))
    again = keras.models.model_from_json(model.to_json())
    np.testing.assert_allclose(again(np.ones((1, 2))).numpy(), [[3.0, 3.0]])

    class Unregistered(Scale):
        pass

    config = keras.saving.serialize_keras_object(Unregistered(name="u"))
    with pytest.raises(TypeError, match="Could not locate class 'Unregistered'"):
        keras.saving.deserialize_keras_object(config)
    with keras.saving.custom_object_scope({"Unregistered": Unregistered}):
        assert isinstance(keras.saving.deserialize_keras_object(config), Unregistered)


# -- Keras 3 layer behaviour (issue #13) ---------------------------------------------------------

def test_raw_variable_attribute_is_not_a_layer_weight_and_empty_name_kept():
    class Holder(layers.Layer):
        def __init__(self):
            super().__init__(name="")
            self.v = tf.Variable(1.0)

    holder = Holder()
    assert holder.name == "" and holder.variables == [] and holder.weights == []


def test_add_weight_positional_name_and_list_input_raise_as_keras():
    class Positional(layers.Layer):
        def build(self, shape):
            self.k = self.add_weight("kernel", shape=(2,))

        def call(self, x):
            return x

    with pytest.raises(ValueError, match=r"`name` must be passed as a keyword argument"):
        Positional()(np.zeros((1, 2)))

    class Identity(layers.Layer):
        def call(self, x):
            return x

    with pytest.raises(ValueError, match="Only input tensors may be passed as positional"):
        Identity()([1.0, 2.0])
    assert len(Identity()([np.zeros((1, 2)), np.zeros((1, 2))])) == 2


def test_keras_layers_have_no_submodules():
    model = keras.Sequential([keras.Input((2,)), layers.Dense(1)])
    with pytest.raises(AttributeError, match="has no attribute 'submodules'"):
        getattr(model, "submodules")  # noqa: B009 - the attribute access is the test


def test_integer_inputs_are_cast_and_variable_repr():
    dense = layers.Dense(2)
    assert dense(np.zeros((1, 784), np.uint8)).dtype == tf.float32
    dense = layers.Dense(2, kernel_initializer="zeros")
    dense.build((None, 1))
    assert repr(dense.bias) == "<Variable path=" + dense.name + \
        "/bias, shape=(2,), dtype=float32, value=[0. 0.]>"


def test_add_loss_losses_kl_divergence_cosine_similarity():
    # values recorded from TF 2.21 / Keras 3
    kld = keras.losses.KLDivergence()
    assert float(kld([[0.2, 0.8], [0.5, 0.5]], [[0.4, 0.6], [0.1, 0.9]])) == \
        pytest.approx(0.3011709153652191, rel=1e-5)
    cos = keras.losses.cosine_similarity([[1.0, 0.0], [1.0, 1.0]], [[1.0, 1.0], [-1.0, -1.0]])
    np.testing.assert_allclose(cos.numpy(), [-0.70710678, 1.0], rtol=1e-5)
    assert keras.layers.LeakyReLU().negative_slope == 0.3
