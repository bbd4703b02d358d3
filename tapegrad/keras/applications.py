"""``keras.applications``: model definitions built from plain layers (``weights=None`` only:
tapegrad downloads nothing).

>>> import tapegrad as tf
>>> model = tf.keras.applications.VGG16(weights=None, include_top=False,
...                                     input_shape=(32, 32, 3))
>>> model.count_params(), model.output.shape
(14714688, (None, 1, 1, 512))
"""

from __future__ import annotations

from tapegrad.keras import layers
from tapegrad.keras.functional import KerasTensor
from tapegrad.keras.models import Model

__all__ = ["VGG16", "VGG19"]


def _check_weights(weights, name: str) -> None:
    if weights is not None:
        raise ValueError(f"{name}(weights={weights!r}): tapegrad builds the architecture only "
                         "and downloads nothing. Pass weights=None (then load_weights from a "
                         "file if you have one).")


def _vgg(convs_per_block, name, include_top, weights, input_tensor, input_shape, pooling,
         classes, classifier_activation):
    _check_weights(weights, name.upper())
    if input_shape is None:
        input_shape = (224, 224, 3) if include_top else (None, None, 3)
    if input_tensor is None:
        inputs = layers.Input(shape=input_shape)
    elif isinstance(input_tensor, KerasTensor):
        inputs = input_tensor
    else:
        raise ValueError("input_tensor must be a keras.Input (a KerasTensor); received "
                         f"{type(input_tensor).__name__}.")
    x = inputs
    for block, (filters, count) in enumerate(zip((64, 128, 256, 512, 512), convs_per_block),
                                             start=1):
        for index in range(1, count + 1):
            x = layers.Conv2D(filters, 3, activation="relu", padding="same",
                              name=f"block{block}_conv{index}")(x)
        x = layers.MaxPooling2D(2, strides=2, name=f"block{block}_pool")(x)
    if include_top:
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(4096, activation="relu", name="fc1")(x)
        x = layers.Dense(4096, activation="relu", name="fc2")(x)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    elif pooling == "avg":
        x = layers.GlobalAveragePooling2D()(x)
    elif pooling == "max":
        x = layers.GlobalMaxPooling2D()(x)
    elif pooling is not None:
        raise ValueError(f"pooling must be None, 'avg' or 'max'; received {pooling!r}.")
    return Model(inputs, x, name=name)


def VGG16(include_top=True, weights="imagenet", input_tensor=None,  # noqa: N802
          input_shape=None, pooling=None, classes=1000, classifier_activation="softmax",
          name="vgg16"):
    """VGG16: five blocks of 2, 2, 3, 3, 3 convolutions (``weights=None`` required)."""
    return _vgg((2, 2, 3, 3, 3), name, include_top, weights, input_tensor, input_shape,
                pooling, classes, classifier_activation)


def VGG19(include_top=True, weights="imagenet", input_tensor=None,  # noqa: N802
          input_shape=None, pooling=None, classes=1000, classifier_activation="softmax",
          name="vgg19"):
    """VGG19: five blocks of 2, 2, 4, 4, 4 convolutions (``weights=None`` required)."""
    return _vgg((2, 2, 4, 4, 4), name, include_top, weights, input_tensor, input_shape,
                pooling, classes, classifier_activation)
