"""Weight regularizers (``tf.keras.regularizers``): penalties a layer adds to its ``losses``.

>>> import tapegrad as tf
>>> layer = tf.keras.layers.Dense(1, kernel_initializer="ones",
...                               kernel_regularizer=tf.keras.regularizers.L2(0.1))
>>> _ = layer(tf.ones([1, 2]))
>>> [round(float(v), 4) for v in layer.losses]
[0.2]
"""

from __future__ import annotations

from tapegrad.ops import array as array_ops
from tapegrad.ops import linalg as linalg_ops
from tapegrad.ops import math as math_ops
from tapegrad.ops import reduction as reduction_ops

__all__ = ["Regularizer", "L1", "L2", "L1L2", "OrthogonalRegularizer", "l1", "l2", "l1_l2",
           "get", "serialize", "deserialize"]


class Regularizer:
    """Base class: ``regularizer(weight)`` -> a scalar penalty tensor."""

    def __call__(self, x):
        return 0.0

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)


def _factor(value, name: str) -> float:
    value = float(value)
    if value < 0:
        raise ValueError(f"Value for argument `{name}` must be a non-negative float. Received: "
                         f"{name}={value}")
    return value


class L1L2(Regularizer):
    """``l1 * sum(|x|) + l2 * sum(x ** 2)``."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _factor(l1, "l1")
        self.l2 = _factor(l2, "l2")

    def __call__(self, x):
        total = array_ops.zeros((), dtype=x.dtype)
        if self.l1:
            total = total + self.l1 * reduction_ops.reduce_sum(math_ops.abs(x))
        if self.l2:
            total = total + self.l2 * reduction_ops.reduce_sum(math_ops.square(x))
        return total

    def get_config(self) -> dict:
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    """``l1 * sum(|x|)`` (default 0.01)."""

    def __init__(self, l1=0.01):
        super().__init__(l1=l1)

    def get_config(self) -> dict:
        return {"l1": self.l1}


class L2(L1L2):
    """``l2 * sum(x ** 2)`` (default 0.01)."""

    def __init__(self, l2=0.01):
        super().__init__(l2=l2)

    def get_config(self) -> dict:
        return {"l2": self.l2}


class OrthogonalRegularizer(Regularizer):
    """``factor * mean(|off-diagonal of normalized(x) @ normalized(x).T|)`` over rows
    (``mode="rows"``) or columns."""

    def __init__(self, factor=0.01, mode="rows"):
        if mode not in ("rows", "columns"):
            raise ValueError(f"Invalid value for argument `mode`. Expected one of {{'rows', "
                             f"'columns'}}. Received: mode={mode}")
        self.factor = _factor(factor, "factor")
        self.mode = mode

    def __call__(self, x):
        if self.mode == "columns":
            x = array_ops.transpose(x)
        norms = reduction_ops.reduce_sum(math_ops.square(x), axis=1, keepdims=True)
        x = x * math_ops.rsqrt(math_ops.maximum(norms, 1e-12))
        product = linalg_ops.matmul(x, x, transpose_b=True)
        size = int(product.shape[0])
        off_diagonal = product * (1.0 - array_ops.eye(size, dtype=x.dtype))
        total = reduction_ops.reduce_sum(math_ops.abs(off_diagonal))
        return self.factor * total / float(size * (size - 1))

    def get_config(self) -> dict:
        return {"factor": self.factor, "mode": self.mode}


l1 = L1
l2 = L2
l1_l2 = L1L2
_BY_NAME = {"l1": L1, "l2": L2, "l1_l2": L1L2, "L1": L1, "L2": L2, "L1L2": L1L2,
            "orthogonal_regularizer": OrthogonalRegularizer,
            "OrthogonalRegularizer": OrthogonalRegularizer}


def get(identifier):
    """A regularizer from a name (``"l2"``), a config dict, an instance or a callable."""
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str) and identifier in _BY_NAME:
        return _BY_NAME[identifier]()
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret regularizer identifier: {identifier}")


def serialize(regularizer) -> dict:
    return {"module": "keras.regularizers", "class_name": type(regularizer).__name__,
            "config": regularizer.get_config(), "registered_name": None}


def deserialize(config, custom_objects=None):
    name = config["class_name"]
    cls = (custom_objects or {}).get(name) or _BY_NAME.get(name)
    if cls is None:
        raise ValueError(f"Unknown regularizer {name!r}; pass it in custom_objects.")
    return cls.from_config(config.get("config", {}))
