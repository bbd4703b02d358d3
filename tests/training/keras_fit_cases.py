"""Seeded ``fit`` runs shared by the Keras recording script and the conformance test.

Each case builds its model with the ``keras`` module it is given (real Keras 3 or
``tapegrad.keras``), so both run the same code; initial weights come from a seeded NumPy
generator (set with ``set_weights``), so random initialisation plays no part.
"""

import numpy as np


def _data(seed, n, shape, classes=None):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n,) + shape).astype(np.float32)
    if classes is None:
        w = rng.normal(size=(int(np.prod(shape)), 1)).astype(np.float32)
        y = (x.reshape(n, -1) @ w + 0.1).astype(np.float32)
    else:
        w = rng.normal(size=(int(np.prod(shape)), classes)).astype(np.float32)
        y = np.argmax(x.reshape(n, -1) @ w, axis=1).astype(np.int32)
    return x, y


def _initial_weights(model, seed):
    rng = np.random.default_rng(seed)
    return [(rng.normal(size=w.shape) * 0.3).astype(w.dtype) if w.ndim > 1 or "bias" in name
            else w for w, name in zip(model.get_weights(), _names(model))]


def _names(model):
    return [v.path if hasattr(v, "path") else v.name for v in model.weights]


def mlp_adam(keras):
    x, y = _data(1, 96, (6,), classes=3)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(3, activation="softmax")])
    compile_args = dict(optimizer=keras.optimizers.Adam(0.01),
                        loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    fit_args = dict(x=x[:80], y=y[:80], batch_size=16, epochs=4, shuffle=False,
                    validation_data=(x[80:], y[80:]))
    return model, compile_args, fit_args


def regression_sgd_weighted(keras):
    x, y = _data(2, 60, (4,))
    weights = np.linspace(0.5, 1.5, 60).astype(np.float32)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="tanh"),
                              keras.layers.Dense(1)])
    compile_args = dict(optimizer=keras.optimizers.SGD(0.05, momentum=0.9), loss="mse",
                        metrics=["mae"])
    fit_args = dict(x=x, y=y, sample_weight=weights, batch_size=12, epochs=3, shuffle=False)
    return model, compile_args, fit_args


def convnet_rmsprop_class_weight(keras):
    x, y = _data(3, 48, (6, 6, 1), classes=2)
    layers = keras.layers
    model = keras.Sequential([keras.Input((6, 6, 1)), layers.Conv2D(4, 3, activation="relu"),
                              layers.MaxPooling2D(), layers.Flatten(),
                              layers.BatchNormalization(), layers.Dense(2)])
    compile_args = dict(optimizer=keras.optimizers.RMSprop(0.005),
                        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                        metrics=["accuracy"])
    fit_args = dict(x=x, y=y, batch_size=16, epochs=3, shuffle=False,
                    class_weight={0: 1.0, 1: 2.0})
    return model, compile_args, fit_args


def functional_two_outputs(keras):
    x, y = _data(4, 40, (5,), classes=3)
    layers = keras.layers
    inputs = keras.Input((5,), name="features")
    hidden = layers.Dense(8, activation="relu", name="hidden")(inputs)
    score = layers.Dense(1, name="score")(hidden)
    label = layers.Dense(3, activation="softmax", name="label")(hidden)
    model = keras.Model(inputs, [score, label])
    compile_args = dict(optimizer=keras.optimizers.Adam(0.02),
                        loss=["mse", "sparse_categorical_crossentropy"],
                        loss_weights=[0.5, 1.0], metrics=[["mae"], ["accuracy"]])
    fit_args = dict(x=x, y=[x.sum(axis=1, keepdims=True), y], batch_size=10, epochs=3,
                    shuffle=False)
    return model, compile_args, fit_args


CASES = {"mlp_adam": mlp_adam, "regression_sgd_weighted": regression_sgd_weighted,
         "convnet_rmsprop_class_weight": convnet_rmsprop_class_weight,
         "functional_two_outputs": functional_two_outputs}


def run(keras, name, initial_weights=None):
    """Build, set the initial weights, compile, fit; returns (history, initial weights)."""
    model, compile_args, fit_args = CASES[name](keras)
    weights = initial_weights if initial_weights is not None else \
        _initial_weights(model, seed=list(CASES).index(name))
    model.set_weights([np.asarray(w, dtype=np.float32) for w in weights])
    model.compile(**compile_args)
    history = model.fit(verbose=0, **fit_args)
    return history.history, weights
