"""The fixture models, defined once for any Keras: ``fixture_models(keras)`` with real Keras
(``make_fixtures_tf.py`` writes the files) or with ``tapegrad.keras`` (the tests rebuild the
same architectures and load the files into them)."""

import numpy as np


def fixture_models(keras) -> dict:
    """name -> (builder, loss, number of outputs)."""

    @keras.saving.register_keras_serializable(package="tapegrad_fixtures")
    class Block(keras.layers.Layer):
        """Two dense layers (one in a list) and a learned scale: nested layers, own weight."""

        def __init__(self, units=4, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.inner = keras.layers.Dense(units, activation="relu")
            self.stack = [keras.layers.Dense(units)]

        def build(self, input_shape):
            self.scale = self.add_weight(shape=(self.units,), initializer="ones",
                                         name="scale")

        def call(self, x):
            return self.stack[0](self.inner(x)) * self.scale

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    @keras.saving.register_keras_serializable(package="tapegrad_fixtures")
    class Classifier(keras.Model):
        """A subclassed model: a Block, batch normalization, dropout, a softmax head."""

        def __init__(self, classes=3, **kwargs):
            super().__init__(**kwargs)
            self.classes = classes
            self.block = Block(6)
            self.norm = keras.layers.BatchNormalization()
            self.drop = keras.layers.Dropout(0.25)
            self.head = keras.layers.Dense(classes, activation="softmax")

        def call(self, x, training=False):
            h = self.norm(self.block(x), training=training)
            return self.head(self.drop(h, training=training))

        def get_config(self):
            return {**super().get_config(), "classes": self.classes}

    def dense_bn():
        return keras.Sequential([
            keras.Input((6,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.BatchNormalization(),
            keras.layers.Dropout(0.3),
            keras.layers.Dense(3, activation="softmax"),
        ], name="dense_bn")

    def conv():
        return keras.Sequential([
            keras.Input((8, 8, 3)),
            keras.layers.Conv2D(4, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(5, (3, 2), strides=1),
            keras.layers.AveragePooling2D(pool_size=(1, 2)),
            keras.layers.BatchNormalization(),
            keras.layers.Flatten(),
            keras.layers.Dense(2),
        ], name="conv")

    def functional():
        inputs = keras.Input((6,), name="features")
        left = keras.layers.Dense(4, activation="tanh", name="left")(inputs)
        right = keras.layers.Dense(4)(inputs)
        right = keras.layers.Dense(4, activation="relu")(right)
        merged = keras.layers.Concatenate()([left, right])
        merged = keras.layers.LayerNormalization()(merged)
        merged = keras.layers.Dropout(0.2)(merged)
        return keras.Model(inputs, keras.layers.Dense(2)(merged), name="branches")

    def embedding():
        tokens = keras.Input((5,), dtype="int32", name="tokens")
        x = keras.layers.Embedding(20, 6)(tokens)
        x = keras.layers.LayerNormalization(epsilon=1e-5)(x)
        x = keras.layers.Flatten()(x)
        return keras.Model(tokens, keras.layers.Dense(3, activation="sigmoid")(x),
                           name="embed")

    def subclassed():
        model = Classifier(3, name="classifier")
        model(np.zeros((1, 6), np.float32))
        return model

    return {"dense_bn": (dense_bn, "categorical_crossentropy", 3),
            "conv": (conv, "mse", 2),
            "functional": (functional, "mse", 2),
            "embedding": (embedding, "binary_crossentropy", 3),
            "subclassed": (subclassed, "categorical_crossentropy", 3)}


def fixture_inputs(name: str, rng) -> np.ndarray:
    if name == "conv":
        return rng.normal(size=(16, 8, 8, 3)).astype(np.float32)
    if name == "embedding":
        return rng.integers(0, 20, size=(16, 5)).astype(np.int32)
    return rng.normal(size=(16, 6)).astype(np.float32)


def trained(keras, name: str, rng, epochs: int):
    """The fixture model ``name`` built with ``keras``, compiled with Adam(0.01) and trained
    ``epochs`` epochs (batches of 8) on seeded data, so batch-normalization statistics and
    the optimizer state are not at their initial values."""
    build, loss, outputs = fixture_models(keras)[name]
    model = build()
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss=loss)
    x = fixture_inputs(name, rng)
    y = rng.uniform(size=(len(x), outputs)).astype(np.float32)
    if loss == "categorical_crossentropy":
        y = y / y.sum(axis=1, keepdims=True)
    model.fit(x, y, epochs=epochs, batch_size=8, verbose=0)
    return model
