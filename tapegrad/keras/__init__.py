"""``tapegrad.keras``: Keras 3 (``tf.keras``) on tapegrad.

Layers, ``Sequential``, functional and subclassed ``Model`` s with ``compile``/``fit``,
callbacks, optimizers with learning-rate schedules, losses, metrics, regularizers and
initializers, with Keras 3's names, arguments and defaults.

>>> import tapegrad as tf
>>> model = tf.keras.Sequential([tf.keras.layers.Dense(1)])
>>> opt = tf.keras.optimizers.SGD(0.1)
>>> x, y = tf.ones([4, 2]), tf.zeros([4, 1])
>>> with tf.GradientTape() as tape:
...     loss = tf.keras.losses.MeanSquaredError()(y, model(x))
>>> _ = opt.apply_gradients(zip(tape.gradient(loss, model.trainable_variables),
...                             model.trainable_variables))
>>> int(opt.iterations)
1
"""

from tapegrad.keras import (
    activations,
    applications,
    callbacks,
    datasets,
    initializers,
    layers,
    losses,
    metrics,
    models,
    ops,
    optimizers,
    random,
    regularizers,
    saving,
    utils,
)
from tapegrad.keras import keras_file as _keras_file
from tapegrad.keras.layers import Input, InputSpec, KerasTensor, KerasVariable, Layer
from tapegrad.keras.models import Model, Sequential

Variable = KerasVariable
# keras.saving's file functions: attached here because the model-file code needs the
# serialization code (tapegrad.keras.saving cannot import it back without an import cycle).
saving.load_model, saving.save_model = models.load_model, models.save_model
saving.load_weights, saving.save_weights = _keras_file.load_weights, _keras_file.save_weights

__all__ = ["activations", "applications", "ops", "random", "callbacks", "datasets",
           "initializers",
           "layers", "losses", "metrics", "models", "optimizers", "regularizers", "saving",
           "utils", "Input", "InputSpec", "Layer", "Model", "Sequential", "KerasTensor",
           "Variable"]
