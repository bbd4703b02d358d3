"""Streaming metrics (``tf.keras.metrics``): ``update_state`` / ``result`` / ``reset_state``.

State is kept in float32 ``total``/``count`` variables, as Keras. As in TF 2.21's
``tf.keras.metrics``, the loss functions are here under their aliases only (``mse``, ``mae``,
``mape``, ``msle``, ``kld``, ``logcosh``; see :mod:`tapegrad.keras.losses`).

>>> import tapegrad as tf
>>> acc = tf.keras.metrics.SparseCategoricalAccuracy()
>>> acc.update_state([0, 1], [[0.9, 0.1], [0.8, 0.2]])
>>> float(acc.result())
0.5
"""

from __future__ import annotations

from tapegrad._core.backend import np
from tapegrad._core.tensor import Tensor, array_of, to_array
from tapegrad._core.variable import Variable, replace_array
from tapegrad.autodiff.function.host import host_call
from tapegrad.keras import losses as _losses
from tapegrad.keras.losses import (
    KLD,
    MAE,
    MAPE,
    MSE,
    MSLE,
    binary_crossentropy,
    categorical_crossentropy,
    hinge,
    huber,
    kld,
    kullback_leibler_divergence,
    logcosh,
    mae,
    mape,
    mse,
    msle,
    sparse_categorical_crossentropy,
)
from tapegrad.ops import math as math_ops

__all__ = ["Metric", "Mean", "Sum", "Accuracy", "SparseCategoricalAccuracy",
           "CategoricalAccuracy", "BinaryAccuracy", "MeanSquaredError", "MeanMetricWrapper",
           "MeanAbsoluteError", "RootMeanSquaredError", "MeanAbsolutePercentageError",
           "MeanSquaredLogarithmicError", "LogCoshError", "KLDivergence",
           "SparseCategoricalCrossentropy", "CategoricalCrossentropy", "BinaryCrossentropy",
           "get", "mse", "MSE", "mae", "MAE", "mape", "MAPE", "msle", "MSLE", "kld", "KLD",
           "kullback_leibler_divergence", "logcosh", "binary_crossentropy",
           "categorical_crossentropy", "sparse_categorical_crossentropy", "hinge", "huber"]


def _array(x):
    if isinstance(x, (Tensor, Variable)):
        return np.asarray(to_array(x))
    return np.asarray(x)


def _own_variables(metric, *args, **kwargs) -> list:
    return metric.variables


class Metric:
    """Base class of metrics. A subclass's ``update_state`` (which accumulates in NumPy) is a
    host step inside ``tf.function``: made on every call with that call's tensors."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        update = cls.__dict__.get("update_state")
        if update is not None:
            cls.update_state = host_call(update, updates=_own_variables)

    def __init__(self, name=None, dtype=None):
        self.name = name or type(self).__name__.lower()
        self.dtype = dtype or "float32"
        self._variables: list = []
        self._initial_values: list = []

    def add_variable(self, shape=(), initializer="zeros", dtype=None, aggregation="sum",
                     name=None) -> Variable:
        """A state variable (reset to its initial value by :meth:`reset_state`)."""
        from tapegrad.keras import initializers
        dtype = np.dtype(getattr(dtype, "as_numpy_dtype", dtype) or np.float32)
        value = np.asarray(_array(initializers.get(initializer)(tuple(shape), dtype=dtype)),
                           dtype=dtype)
        var = Variable(value, trainable=False, name=f"{self.name}/{name}")
        self._variables.append(var)
        self._initial_values.append(value.copy())
        return var

    add_weight = add_variable

    @property
    def variables(self) -> list:
        return list(self._variables)

    def reset_state(self) -> None:
        """Forget every update."""
        for var, value in zip(self._variables, self._initial_values):
            var.assign(value)

    reset_states = reset_state

    def update_state(self, *args, **kwargs):
        raise NotImplementedError

    def result(self):
        raise NotImplementedError

    def __call__(self, *args, **kwargs):
        self.update_state(*args, **kwargs)
        return self.result()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}>"


class Mean(Metric):
    """The (weighted) mean of every value seen.

    >>> import tapegrad as tf
    >>> m = tf.keras.metrics.Mean()
    >>> m.update_state([1.0, 3.0]); m.update_state(5.0)
    >>> float(m.result())
    3.0
    """

    def __init__(self, name="mean", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable(name="total")
        self.count = self.add_variable(name="count")

    def update_state(self, values, sample_weight=None) -> None:
        values = _array(values).astype(np.float32)
        if sample_weight is None:
            total, count = values.sum(), values.size
        else:
            weight = np.broadcast_to(_array(sample_weight).astype(np.float32), values.shape)
            total, count = (values * weight).sum(), weight.sum()
        replace_array(self.total, np.asarray(array_of(self.total) + np.float32(total),
                                            dtype=np.float32))
        replace_array(self.count, np.asarray(array_of(self.count) + np.float32(count),
                                            dtype=np.float32))

    def result(self) -> Tensor:
        # (ops reading the variables: inside tf.function they read each call's state)
        return math_ops.divide_no_nan(self.total, self.count)


class Sum(Metric):
    """The (weighted) sum of every value seen."""

    def __init__(self, name="sum", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable(name="total")

    def update_state(self, values, sample_weight=None) -> None:
        values = _array(values).astype(np.float32)
        if sample_weight is not None:
            values = values * _array(sample_weight).astype(np.float32)
        replace_array(self.total, np.asarray(array_of(self.total) + values.sum(), dtype=np.float32))

    def result(self) -> Tensor:
        return math_ops.identity(self.total)


class MeanMetricWrapper(Mean):
    """The mean of ``fn(y_true, y_pred)`` over every example seen."""

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        super().__init__(name=name or getattr(fn, "__name__", "metric"), dtype=dtype)
        self._fn = fn
        self._fn_kwargs = kwargs

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        values = self._fn(y_true, y_pred, **self._fn_kwargs)
        super().update_state(values, sample_weight)


def accuracy(y_true, y_pred):
    """1.0 where ``y_true == y_pred`` else 0.0."""
    y_true, y_pred = _array(y_true), _array(y_pred)
    return (y_true == y_pred.astype(y_true.dtype) if y_true.dtype.kind in "iub"
            else y_true == y_pred).astype(np.float32)


def sparse_categorical_accuracy(y_true, y_pred):
    """1.0 where the integer label equals the arg-max of the prediction."""
    y_true, y_pred = _array(y_true), _array(y_pred)
    if y_true.ndim == y_pred.ndim and y_true.shape[-1:] == (1,):
        y_true = y_true[..., 0]
    return (np.argmax(y_pred, axis=-1) == y_true.astype(np.int64)).astype(np.float32)


def categorical_accuracy(y_true, y_pred):
    """1.0 where the arg-max of the one-hot label equals the arg-max of the prediction."""
    y_true, y_pred = _array(y_true), _array(y_pred)
    return (np.argmax(y_pred, axis=-1) == np.argmax(y_true, axis=-1)).astype(np.float32)


def binary_accuracy(y_true, y_pred, threshold=0.5):
    y_true, y_pred = _array(y_true), _array(y_pred)
    return np.mean(((y_pred > threshold).astype(np.float32) == y_true.astype(np.float32))
                   .astype(np.float32), axis=-1)


class Accuracy(MeanMetricWrapper):
    """How often predictions equal labels."""

    _direction = "up"

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(accuracy, name=name, dtype=dtype)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """How often the arg-max prediction equals the integer label."""

    _direction = "up"

    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(sparse_categorical_accuracy, name=name, dtype=dtype)


class CategoricalAccuracy(MeanMetricWrapper):
    """How often the arg-max prediction equals the arg-max of the one-hot label."""

    _direction = "up"

    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(categorical_accuracy, name=name, dtype=dtype)


class BinaryAccuracy(MeanMetricWrapper):
    """How often ``prediction > threshold`` matches the binary label."""

    _direction = "up"

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        super().__init__(binary_accuracy, name=name, dtype=dtype, threshold=threshold)


def _squared_errors(y_true, y_pred):
    """Per-example mean of squared errors (NumPy, for metrics)."""
    return np.mean(np.square(_array(y_true) - _array(y_pred)), axis=-1)


def _absolute_errors(y_true, y_pred):
    """Per-example mean of absolute errors (NumPy, for metrics)."""
    return np.mean(np.abs(_array(y_true) - _array(y_pred)), axis=-1)


class MeanSquaredError(MeanMetricWrapper):
    """Mean of squared errors over every example seen."""

    _direction = "down"

    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(_squared_errors, name=name, dtype=dtype)


class MeanAbsoluteError(MeanMetricWrapper):
    """Mean of absolute errors over every example seen."""

    _direction = "down"

    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(_absolute_errors, name=name, dtype=dtype)


class RootMeanSquaredError(Mean):
    """Square root of the mean squared error over every example seen.

    >>> import tapegrad as tf
    >>> m = tf.keras.metrics.RootMeanSquaredError()
    >>> m.update_state([[0.0], [0.0]], [[3.0], [4.0]])
    >>> round(float(m.result()), 4)
    3.5355
    """

    _direction = "down"

    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        super().update_state(np.square(_array(y_true) - _array(y_pred)), sample_weight)

    def result(self) -> Tensor:
        return math_ops.sqrt(super().result())


class _LossMetric(MeanMetricWrapper):
    """The mean of a loss function's per-example values."""

    _direction = "down"
    _loss_name = ""

    def __init__(self, name=None, dtype=None, **kwargs):
        super().__init__(_losses.get(self._loss_name), name=name or self._loss_name,
                         dtype=dtype, **kwargs)


class MeanAbsolutePercentageError(_LossMetric):
    """Mean absolute percentage error over every example seen."""

    _loss_name = "mean_absolute_percentage_error"

    def __init__(self, name="mean_absolute_percentage_error", dtype=None):
        super().__init__(name=name, dtype=dtype)


class MeanSquaredLogarithmicError(_LossMetric):
    """Mean squared logarithmic error over every example seen."""

    _loss_name = "mean_squared_logarithmic_error"

    def __init__(self, name="mean_squared_logarithmic_error", dtype=None):
        super().__init__(name=name, dtype=dtype)


class LogCoshError(_LossMetric):
    """Mean of ``log(cosh(y_pred - y_true))`` over every example seen."""

    _loss_name = "log_cosh"

    def __init__(self, name="logcosh", dtype=None):
        super().__init__(name=name, dtype=dtype)


class KLDivergence(_LossMetric):
    """Kullback-Leibler divergence over every example seen.

    >>> import tapegrad as tf
    >>> m = tf.keras.metrics.KLDivergence()
    >>> m.update_state([[0.5, 0.5]], [[0.25, 0.75]])
    >>> round(float(m.result()), 6)
    0.143841
    """

    _loss_name = "kl_divergence"

    def __init__(self, name="kl_divergence", dtype=None):
        super().__init__(name=name, dtype=dtype)


class SparseCategoricalCrossentropy(_LossMetric):
    _loss_name = "sparse_categorical_crossentropy"

    def __init__(self, name="sparse_categorical_crossentropy", dtype=None, from_logits=False,
                 axis=-1):
        super().__init__(name=name, dtype=dtype, from_logits=from_logits)


class CategoricalCrossentropy(_LossMetric):
    _loss_name = "categorical_crossentropy"

    def __init__(self, name="categorical_crossentropy", dtype=None, from_logits=False,
                 label_smoothing=0, axis=-1):
        super().__init__(name=name, dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing)


class BinaryCrossentropy(_LossMetric):
    _loss_name = "binary_crossentropy"

    def __init__(self, name="binary_crossentropy", dtype=None, from_logits=False,
                 label_smoothing=0):
        super().__init__(name=name, dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing)


_BY_NAME = {
    "accuracy": Accuracy, "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "categorical_accuracy": CategoricalAccuracy, "binary_accuracy": BinaryAccuracy,
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError, "MSE": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError,
    "MAE": MeanAbsoluteError, "root_mean_squared_error": RootMeanSquaredError,
    "mean_absolute_percentage_error": MeanAbsolutePercentageError,
    "mape": MeanAbsolutePercentageError, "MAPE": MeanAbsolutePercentageError,
    "mean_squared_logarithmic_error": MeanSquaredLogarithmicError,
    "msle": MeanSquaredLogarithmicError, "MSLE": MeanSquaredLogarithmicError,
    "kl_divergence": KLDivergence, "LogCoshError": LogCoshError,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "binary_crossentropy": BinaryCrossentropy,
}
for _cls in set(_BY_NAME.values()) | {Mean, Sum}:
    _BY_NAME[_cls.__name__] = _cls


def get(identifier):
    """A metric from its name (``"mae"``, ``"AUC"``...), a Metric or a callable.

    >>> import tapegrad as tf
    >>> tf.keras.metrics.get("mae").name
    'mean_absolute_error'
    """
    if isinstance(identifier, Metric) or callable(identifier):
        return identifier
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier)
        if cls is not None:
            return cls()
        from tapegrad.keras import object_registry
        custom = object_registry.get_registered_object(identifier)
        if custom is not None:
            return custom() if isinstance(custom, type) else custom
    raise ValueError(f"Could not interpret metric identifier: {identifier}")


# The long loss-function names that TF 2.21's tf.keras.metrics lacks too (see losses.py).
_UNEXPORTED = {**_losses._UNEXPORTED, "log_cosh": ("logcosh", "LogCoshError")}


def __getattr__(name: str):
    if name in _UNEXPORTED:
        raise _losses._unexported_name_error("metrics", name, *_UNEXPORTED[name])
    raise AttributeError(f"module '{__name__}' has no attribute '{name}'")
