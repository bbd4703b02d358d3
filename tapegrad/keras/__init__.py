"""``tapegrad.keras``: the Keras pieces a custom training loop needs (``tf.keras``).

Layers, ``Sequential`` and subclassable ``Model``, optimizers with learning-rate schedules,
losses, metrics and initializers, with Keras 3's names, arguments and defaults.

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
    initializers,
    layers,
    losses,
    metrics,
    models,
    optimizers,
)
from tapegrad.keras.layers import Input, KerasTensor, KerasVariable, Layer
from tapegrad.keras.models import Model, Sequential

Variable = KerasVariable

__all__ = ["activations", "initializers", "layers", "losses", "metrics", "models", "optimizers",
           "Input", "Layer", "Model", "Sequential", "KerasTensor", "Variable"]
