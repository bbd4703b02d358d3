"""Activation functions by Keras name (``tf.keras.activations``), built on ``tapegrad.nn``."""

from __future__ import annotations

from tapegrad._core.tensor import convert_to_tensor
from tapegrad.keras import object_registry
from tapegrad.ops import array as array_ops
from tapegrad.ops import math as math_ops
from tapegrad.ops import nn as nn_ops
from tapegrad.ops.composite import nn as nn_composites

__all__ = ["get", "relu", "sigmoid", "tanh", "softmax", "linear", "elu", "gelu", "softplus",
           "swish", "silu", "leaky_relu", "relu6", "selu", "log_softmax", "serialize"]


def nn_function(name: str):
    """The ``tf.nn`` function ``name``: an op of the nn family, a composite, or one of the
    math functions ``tf.nn`` re-exports (sigmoid, tanh, softplus).

    >>> from tapegrad.keras.activations import nn_function
    >>> [nn_function(name).__name__ for name in ("relu", "gelu", "sigmoid")]
    ['relu', 'gelu', 'sigmoid']
    """
    for module in (nn_ops, nn_composites, math_ops):
        function = getattr(module, name, None)
        if function is not None:
            return function
    raise AttributeError(f"tf.nn has no function {name!r}.")



def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """``max(x, 0)`` (Keras' options: a negative slope, a cap and a threshold).

    >>> import tapegrad as tf
    >>> tf.keras.activations.relu(tf.constant([-1.0, 2.0])).numpy().tolist()
    [0.0, 2.0]
    """
    if negative_slope == 0.0 and max_value is None and threshold == 0.0:
        return nn_function("relu")(x)
    x = convert_to_tensor(x)
    if threshold != 0.0:
        out = array_ops.where(x > threshold, x, math_ops.zeros_like(x))
        negative = array_ops.where(x > threshold, math_ops.zeros_like(x),
                                   (x - threshold) * negative_slope)
    else:
        out = nn_function("relu")(x)
        negative = nn_function("relu")(-x) * (-negative_slope) if negative_slope else None
    if max_value is not None:
        out = math_ops.minimum(out, max_value)
    if negative_slope and negative is not None:
        out = out + negative
    return out


def linear(x):
    return x


def sigmoid(x):
    return nn_function("sigmoid")(x)


def tanh(x):
    return nn_function("tanh")(x)


def softmax(x, axis=-1):
    return nn_function("softmax")(x, axis=axis)


def log_softmax(x, axis=-1):
    return nn_function("log_softmax")(x, axis=axis)


def elu(x, alpha=1.0):
    out = nn_function("elu")(x)
    if alpha != 1.0:
        out = array_ops.where(x > 0, out, out * alpha)
    return out


def selu(x):
    return nn_function("selu")(x)


def gelu(x, approximate=False):
    return nn_function("gelu")(x, approximate=approximate)


def softplus(x):
    return math_ops.softplus(x)


def silu(x):
    return nn_function("silu")(x)


swish = silu


def leaky_relu(x, negative_slope=0.2):
    return nn_function("leaky_relu")(x, alpha=negative_slope)


def relu6(x):
    return nn_function("relu6")(x)


_BY_NAME = {f.__name__: f for f in (relu, linear, sigmoid, tanh, softmax, log_softmax, elu,
                                     selu, gelu, softplus, silu, leaky_relu, relu6)}
_BY_NAME["swish"] = silu


def get(identifier):
    """An activation function from its name (``"relu"``), a callable, or None (linear)."""
    if identifier is None:
        return linear
    if callable(identifier):
        return identifier
    if isinstance(identifier, str) and identifier in _BY_NAME:
        return _BY_NAME[identifier]
    if isinstance(identifier, str):     # a registered or in-scope custom function
        found = object_registry.get_registered_object(identifier)
        if callable(found):
            return found
    raise ValueError(f"Could not interpret activation function identifier: {identifier!r}; "
                     f"known names: {sorted(_BY_NAME)}.")


def serialize(activation) -> str:
    return object_registry.get_registered_name(activation) if callable(activation) else \
        str(activation)
