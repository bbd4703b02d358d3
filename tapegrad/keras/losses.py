"""Losses (``tf.keras.losses``): classes with Keras 3's reductions, and functional forms.

Functional forms (``mse(y_true, y_pred)``) return one value per example (the mean over the
last axis); the classes reduce those with ``reduction``: ``"sum_over_batch_size"`` (default:
sum / number of values), ``"sum"``, or ``None``/``"none"``.

The namespace is TF 2.21's ``tf.keras.losses``: the functions ``mean_squared_error``,
``mean_absolute_error``, ``mean_absolute_percentage_error``, ``mean_squared_logarithmic_error``,
``kl_divergence`` and ``log_cosh`` are reached by their aliases (``mse``, ``mae``, ``mape``,
``msle``, ``kld``, ``logcosh``), their classes or their names as strings
(``compile(loss="mean_squared_error")``), as in TF (tensorflow/tensorflow#69851).

>>> import tapegrad as tf
>>> mse = tf.keras.losses.MeanSquaredError()
>>> float(mse([[0.0, 1.0]], [[1.0, 1.0]]))
0.5
"""

from __future__ import annotations

from tapegrad._core import dtypes as _dt
from tapegrad._core.backend import np
from tapegrad._core.errors import InvalidArgumentError
from tapegrad._core.tensor import Tensor, array_of, convert_to_tensor
from tapegrad.ops import array as array_ops
from tapegrad.ops import math as math_ops
from tapegrad.ops import nn as nn_ops
from tapegrad.ops import reduction as reduction_ops
from tapegrad.ops.composite import clip as clip_ops
from tapegrad.ops.composite import nn as nn_composites

__all__ = ["Loss", "MeanSquaredError", "MeanAbsoluteError", "BinaryCrossentropy",
           "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "Huber",
           "binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy",
           "huber", "mse", "mae", "MSE", "MAE", "get", "LossFunctionWrapper", "KLDivergence",
           "kld", "KLD", "kullback_leibler_divergence", "CosineSimilarity", "cosine_similarity",
           "Hinge", "hinge", "MeanAbsolutePercentageError", "mape", "MAPE",
           "MeanSquaredLogarithmicError", "msle", "MSLE", "LogCosh", "logcosh", "serialize",
           "deserialize"]

EPSILON = 1e-7


def _float(x, dtype=None) -> Tensor:
    if not isinstance(x, Tensor):
        x = convert_to_tensor(x)
    if dtype is not None and x.dtype != dtype:
        x = math_ops.cast(x, dtype)
    elif dtype is None and array_of(x).dtype.kind not in "fc":
        x = math_ops.cast(x, _dt.float32)
    return x


def _pair(y_true, y_pred):
    y_pred = _float(y_pred)
    y_true = _float(y_true, y_pred.dtype)
    return _squeeze_or_expand(y_true, y_pred)


def _squeeze_or_expand(y_true, y_pred):
    """Keras' rank fix-up: drop or add a trailing size-1 axis when ranks differ by one."""
    t_rank, p_rank = len(y_true.shape), len(y_pred.shape)
    if t_rank == p_rank + 1 and y_true.shape[-1] == 1:
        y_true = array_ops.squeeze(y_true, axis=-1)
    elif p_rank == t_rank + 1 and y_pred.shape[-1] == 1:
        y_pred = array_ops.squeeze(y_pred, axis=-1)
    return y_true, y_pred


def _clip(x, low, high):
    return clip_ops.clip_by_value(x, low, high)


# -- functional forms ---------------------------------------------------------------------------

def mean_squared_error(y_true, y_pred):
    """``mean((y_true - y_pred) ** 2, axis=-1)``.

    >>> import tapegrad as tf
    >>> tf.keras.losses.mse([[1.0, 2.0]], [[1.0, 4.0]]).numpy().tolist()
    [2.0]
    """
    y_true, y_pred = _pair(y_true, y_pred)
    return reduction_ops.reduce_mean(math_ops.square(y_true - y_pred), axis=-1)


def mean_absolute_error(y_true, y_pred):
    """``mean(|y_true - y_pred|, axis=-1)``."""
    y_true, y_pred = _pair(y_true, y_pred)
    return reduction_ops.reduce_mean(math_ops.abs(y_true - y_pred), axis=-1)


def huber(y_true, y_pred, delta=1.0):
    """Quadratic for errors up to ``delta``, linear beyond, averaged over the last axis."""
    y_true, y_pred = _pair(y_true, y_pred)
    error = y_pred - y_true
    abs_error = math_ops.abs(error)
    half = 0.5
    quadratic = half * math_ops.square(error)
    linear = delta * abs_error - half * delta * delta
    return reduction_ops.reduce_mean(array_ops.where(abs_error <= delta, quadratic, linear),
                                     axis=-1)


def _smooth_binary(y_true, label_smoothing):
    if label_smoothing:
        return y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    return y_true


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Binary cross-entropy averaged over ``axis`` (probabilities clipped to [1e-7, 1-1e-7]
    unless ``from_logits``)."""
    y_true, y_pred = _pair(y_true, y_pred)
    y_true = _smooth_binary(y_true, label_smoothing)
    if from_logits:
        values = nn_composites.sigmoid_cross_entropy_with_logits(labels=y_true, logits=y_pred)
    else:
        output = _clip(y_pred, EPSILON, 1.0 - EPSILON)
        values = -(y_true * math_ops.log(output) + (1.0 - y_true) * math_ops.log(1.0 - output))
    return reduction_ops.reduce_mean(values, axis=axis)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Cross-entropy between one-hot (or soft) labels and predicted probabilities/logits."""
    y_pred = _float(y_pred)
    y_true = _float(y_true, y_pred.dtype)
    if len(y_true.shape) != len(y_pred.shape) or tuple(y_true.shape) != tuple(y_pred.shape):
        raise ValueError("Arguments `target` and `output` must have the same shape. Received: "
                         f"target.shape={tuple(y_true.shape)}, "
                         f"output.shape={tuple(y_pred.shape)}")
    if label_smoothing:
        classes = y_pred.shape[axis]
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / classes
    if from_logits:
        return nn_composites.softmax_cross_entropy_with_logits(labels=y_true, logits=y_pred,
                                                               axis=axis)
    output = y_pred / reduction_ops.reduce_sum(y_pred, axis=axis, keepdims=True)
    output = _clip(output, EPSILON, 1.0 - EPSILON)
    return -reduction_ops.reduce_sum(y_true * math_ops.log(output), axis=axis)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None,
                                    axis=-1):
    """Cross-entropy between integer class labels and predicted probabilities/logits.

    Written with tensor ops only (no value read in Python), so it compiles inside
    ``tf.function``; a label outside ``[0, classes)`` raises InvalidArgumentError when the
    cross-entropy runs, as TensorFlow's kernel.
    """
    y_pred = _float(y_pred)
    labels = y_true if isinstance(y_true, Tensor) else convert_to_tensor(y_true)
    if labels.ndim == len(y_pred.shape) and labels.shape[-1] == 1:
        labels = array_ops.reshape(labels, tuple(labels.shape)[:-1])
    if tuple(labels.shape) != tuple(y_pred.shape)[:-1]:
        raise ValueError("Arguments `target` and `output` must have the same shape up until "
                         f"the last dimension: target.shape={tuple(labels.shape)}, "
                         f"output.shape={tuple(y_pred.shape)} (sparse categorical "
                         "cross-entropy takes integer class labels, one per example; for "
                         "one-hot labels use categorical_crossentropy)")
    if labels.dtype != _dt.int64:
        labels = math_ops.cast(labels, _dt.int64)
    logits = y_pred if from_logits else math_ops.log(_clip(y_pred, EPSILON, 1.0 - EPSILON))
    values = nn_ops.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    if ignore_class is not None:
        values = values * math_ops.cast(math_ops.not_equal(labels, ignore_class), y_pred.dtype)
    return values


def kl_divergence(y_true, y_pred):
    """``sum(y_true * log(y_true / y_pred), axis=-1)``, both clipped to [1e-7, 1].

    >>> import tapegrad as tf
    >>> round(float(tf.keras.losses.kld([[0.5, 0.5]], [[0.25, 0.75]])[0]), 6)
    0.143841
    """
    y_true, y_pred = _pair(y_true, y_pred)
    y_true = _clip(y_true, EPSILON, 1.0)
    y_pred = _clip(y_pred, EPSILON, 1.0)
    return reduction_ops.reduce_sum(y_true * math_ops.log(y_true / y_pred), axis=-1)


def cosine_similarity(y_true, y_pred, axis=-1):
    """The negated cosine similarity of the L2-normalised rows (so that -1 is best).

    >>> import tapegrad as tf
    >>> tf.keras.losses.cosine_similarity([[0.0, 1.0]], [[0.0, 2.0]]).numpy().tolist()
    [-1.0]
    """
    y_true, y_pred = _pair(y_true, y_pred)
    y_true = _l2_normalize(y_true, axis)
    y_pred = _l2_normalize(y_pred, axis)
    return -reduction_ops.reduce_sum(y_true * y_pred, axis=axis)


def _l2_normalize(x, axis):
    squared = reduction_ops.reduce_sum(math_ops.square(x), axis=axis, keepdims=True)
    return x * math_ops.rsqrt(math_ops.maximum(squared, 1e-12))


def hinge(y_true, y_pred):
    """``mean(max(1 - y_true * y_pred, 0), axis=-1)`` with 0/1 labels mapped to -1/1."""
    y_true, y_pred = _pair(y_true, y_pred)
    y_true = array_ops.where(math_ops.equal(y_true, 0.0), -math_ops.ones_like(y_true), y_true)
    return reduction_ops.reduce_mean(math_ops.maximum(1.0 - y_true * y_pred, 0.0), axis=-1)


def mean_absolute_percentage_error(y_true, y_pred):
    """``100 * mean(|y_true - y_pred| / max(|y_true|, 1e-7), axis=-1)``."""
    y_true, y_pred = _pair(y_true, y_pred)
    diff = math_ops.abs(y_true - y_pred) / math_ops.maximum(math_ops.abs(y_true), EPSILON)
    return 100.0 * reduction_ops.reduce_mean(diff, axis=-1)


def mean_squared_logarithmic_error(y_true, y_pred):
    """``mean((log(max(y_pred, 1e-7) + 1) - log(max(y_true, 1e-7) + 1)) ** 2, axis=-1)``.

    >>> import tapegrad as tf
    >>> round(float(tf.keras.losses.msle([[0.0, 1.0]], [[0.0, 3.0]])[0]), 6)
    0.240227
    """
    y_true, y_pred = _pair(y_true, y_pred)
    log_pred = math_ops.log(math_ops.maximum(y_pred, EPSILON) + 1.0)
    log_true = math_ops.log(math_ops.maximum(y_true, EPSILON) + 1.0)
    return reduction_ops.reduce_mean(math_ops.square(log_pred - log_true), axis=-1)


def log_cosh(y_true, y_pred):
    """``mean(log(cosh(y_pred - y_true)), axis=-1)``, computed as
    ``x + softplus(-2x) - log(2)`` so that large errors do not overflow ``cosh``.

    >>> import tapegrad as tf
    >>> round(float(tf.keras.losses.logcosh([[0.0, 0.0]], [[1.0, -100.0]])[0]), 4)
    49.8703
    """
    y_true, y_pred = _pair(y_true, y_pred)
    error = y_pred - y_true
    log_2 = math_ops.cast(np.log(2.0), error.dtype)
    return reduction_ops.reduce_mean(error + math_ops.softplus(-2.0 * error) - log_2, axis=-1)


mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
kld = KLD = kullback_leibler_divergence = kl_divergence
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error
logcosh = log_cosh


# -- classes ----------------------------------------------------------------------------------

_REDUCTIONS = ("sum_over_batch_size", "sum", None, "none", "mean", "mean_with_sample_weight")


class Loss:
    """Base class: ``loss(y_true, y_pred, sample_weight=None)`` -> the reduced loss."""

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        if reduction not in _REDUCTIONS:
            raise ValueError(f"Invalid value for argument `reduction`. Expected one of "
                             f"{set(_REDUCTIONS)}. Received: reduction={reduction}")
        self.name = name or type(self).__name__
        self.reduction = reduction
        self.dtype = dtype

    def call(self, y_true, y_pred):
        raise NotImplementedError

    def __call__(self, y_true, y_pred, sample_weight=None):
        values = self.call(y_true, y_pred)
        if values is None:
            raise ValueError(f"The loss {self.name} returned None; a loss must return a tensor "
                             "of per-example values (or a scalar).")
        if not isinstance(values, Tensor):
            values = convert_to_tensor(values)
        return _reduce(values, sample_weight, self.reduction)

    def get_config(self) -> dict:
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)


def _check_weights_fit(values_shape: tuple, weight_shape: tuple) -> None:
    try:
        np.broadcast_shapes(values_shape, weight_shape)
    except ValueError:
        raise InvalidArgumentError(
            f"The loss returned values of shape {values_shape}, which sample weights of shape "
            f"{weight_shape} cannot weight. A loss function must return one value per example "
            "(shape (batch,) or (batch, ...)), e.g. reduce with axis=-1, not over the batch.")\
            from None


def _reduce(values, sample_weight, reduction):
    if sample_weight is not None:
        weight = _float(sample_weight, values.dtype)
        while len(weight.shape) > len(values.shape) and weight.shape[-1] == 1:
            weight = array_ops.squeeze(weight, axis=-1)
        _check_weights_fit(tuple(values.shape), tuple(weight.shape))
        values = values * weight
    if reduction is None or reduction == "none" or tuple(values.shape) in ((), (0,)):
        return values
    total = reduction_ops.reduce_sum(values)
    if reduction == "sum":
        return total
    if reduction == "mean_with_sample_weight" and sample_weight is not None:
        divisor = reduction_ops.reduce_sum(_float(sample_weight, values.dtype))
    else:
        divisor = float(np.prod(values.shape))
    if isinstance(divisor, float) and divisor == 0:
        return total * 0.0
    return total / divisor


class LossFunctionWrapper(Loss):
    """A Loss from a function ``fn(y_true, y_pred, **kwargs)`` returning per-example values.

    >>> import tapegrad as tf
    >>> loss = tf.keras.losses.LossFunctionWrapper(tf.keras.losses.mae)
    >>> float(loss([[1.0], [3.0]], [[2.0], [2.0]]))
    1.0
    """

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, dtype=None, **kwargs):
        super().__init__(name=name or getattr(fn, "__name__", "loss"), reduction=reduction,
                         dtype=dtype)
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self) -> dict:
        return {**super().get_config(), **self._fn_kwargs}


class _Wrapper(LossFunctionWrapper):
    """A built-in loss class: its function is the class's ``_fn`` (as Keras 3's)."""

    _fn = None
    _default_name = ""

    def __init__(self, reduction="sum_over_batch_size", name=None, dtype=None, **kwargs):
        super().__init__(type(self)._fn, reduction=reduction, name=name or self._default_name,
                         dtype=dtype, **kwargs)


class MeanSquaredError(_Wrapper):
    """Mean of squared errors."""

    _fn = staticmethod(mean_squared_error)
    _default_name = "mean_squared_error"

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error", dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)


class MeanAbsoluteError(_Wrapper):
    """Mean of absolute errors."""

    _fn = staticmethod(mean_absolute_error)
    _default_name = "mean_absolute_error"

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error", dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)


class Huber(_Wrapper):
    """Huber loss with threshold ``delta`` (1.0)."""

    _fn = staticmethod(huber)
    _default_name = "huber_loss"

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss",
                 dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype, delta=delta)


class BinaryCrossentropy(_Wrapper):
    """Binary cross-entropy (``from_logits`` for raw scores).

    >>> import tapegrad as tf
    >>> bce = tf.keras.losses.BinaryCrossentropy(from_logits=True)
    >>> round(float(bce([[1.0]], [[0.0]])), 5)
    0.69315
    """

    _fn = staticmethod(binary_crossentropy)
    _default_name = "binary_crossentropy"

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="binary_crossentropy", dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)


class CategoricalCrossentropy(_Wrapper):
    """Cross-entropy with one-hot labels (``from_logits`` for raw scores)."""

    _fn = staticmethod(categorical_crossentropy)
    _default_name = "categorical_crossentropy"

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="categorical_crossentropy", dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)


class SparseCategoricalCrossentropy(_Wrapper):
    """Cross-entropy with integer labels (``from_logits`` for raw scores).

    >>> import tapegrad as tf
    >>> loss = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    >>> round(float(loss([0, 1], [[0.0, 0.0], [0.0, 0.0]])), 5)
    0.69315
    """

    _fn = staticmethod(sparse_categorical_crossentropy)
    _default_name = "sparse_categorical_crossentropy"

    def __init__(self, from_logits=False, ignore_class=None, reduction="sum_over_batch_size",
                 name="sparse_categorical_crossentropy", dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype, from_logits=from_logits,
                         ignore_class=ignore_class)


class KLDivergence(_Wrapper):
    """Kullback-Leibler divergence ``sum(y_true * log(y_true / y_pred))`` per example."""

    _fn = staticmethod(kl_divergence)
    _default_name = "kl_divergence"

    def __init__(self, reduction="sum_over_batch_size", name="kl_divergence", dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)


class CosineSimilarity(_Wrapper):
    """The negated cosine similarity along ``axis`` (default last)."""

    _fn = staticmethod(cosine_similarity)
    _default_name = "cosine_similarity"

    def __init__(self, axis=-1, reduction="sum_over_batch_size", name="cosine_similarity",
                 dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype, axis=axis)


class Hinge(_Wrapper):
    """Hinge loss for labels in {-1, 1} (or {0, 1})."""

    _fn = staticmethod(hinge)
    _default_name = "hinge"

    def __init__(self, reduction="sum_over_batch_size", name="hinge", dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)


class MeanAbsolutePercentageError(_Wrapper):
    """Mean absolute percentage error."""

    _fn = staticmethod(mean_absolute_percentage_error)
    _default_name = "mean_absolute_percentage_error"

    def __init__(self, reduction="sum_over_batch_size",
                 name="mean_absolute_percentage_error", dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)


class MeanSquaredLogarithmicError(_Wrapper):
    """Mean of squared differences of ``log(1 + max(y, 1e-7))``."""

    _fn = staticmethod(mean_squared_logarithmic_error)
    _default_name = "mean_squared_logarithmic_error"

    def __init__(self, reduction="sum_over_batch_size",
                 name="mean_squared_logarithmic_error", dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)


class LogCosh(_Wrapper):
    """Mean of ``log(cosh(y_pred - y_true))``."""

    _fn = staticmethod(log_cosh)
    _default_name = "log_cosh"

    def __init__(self, reduction="sum_over_batch_size", name="log_cosh", dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)


# String identifiers of the functions: the long names and the aliases, except
# "kullback_leibler_divergence" and "logcosh", which TF 2.21's get() does not know either.
_FUNCTIONS = {function.__name__: function
              for function in (mean_squared_error, mean_absolute_error, huber,
                               binary_crossentropy, categorical_crossentropy,
                               sparse_categorical_crossentropy, kl_divergence, cosine_similarity,
                               hinge, mean_absolute_percentage_error,
                               mean_squared_logarithmic_error, log_cosh)}
_FUNCTIONS.update(mse=mse, MSE=MSE, mae=mae, MAE=MAE, kld=kld, KLD=KLD, mape=mape, MAPE=MAPE,
                  msle=msle, MSLE=MSLE)

_BY_NAME = {"mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
            "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
            "huber": Huber, "binary_crossentropy": BinaryCrossentropy,
            "categorical_crossentropy": CategoricalCrossentropy,
            "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
            "kl_divergence": KLDivergence, "cosine_similarity": CosineSimilarity,
            "hinge": Hinge, "mean_absolute_percentage_error": MeanAbsolutePercentageError,
            "mean_squared_logarithmic_error": MeanSquaredLogarithmicError, "log_cosh": LogCosh}
for _cls in set(_BY_NAME.values()) | {Loss, LossFunctionWrapper}:
    _BY_NAME[_cls.__name__] = _cls


def get(identifier):
    """A loss from its name, a Loss instance, a callable or a serialized dict; a snake-case
    name gives the function (``"mse"`` -> :func:`mean_squared_error`), as Keras 3.

    >>> import tapegrad as tf
    >>> tf.keras.losses.get("mse").__name__
    'mean_squared_error'
    """
    if identifier is None:
        return None
    if isinstance(identifier, Loss) or callable(identifier):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        if identifier in _FUNCTIONS:
            return _FUNCTIONS[identifier]
        if identifier in _BY_NAME:
            return _BY_NAME[identifier]()
        from tapegrad.keras import object_registry
        custom = object_registry.get_registered_object(identifier)
        if custom is not None:
            return custom() if isinstance(custom, type) else custom
    raise ValueError(f"Could not interpret loss identifier: {identifier}")


def serialize(loss) -> dict:
    """``{"class_name": ..., "config": ...}`` for a Loss (a function gives its name)."""
    if not isinstance(loss, Loss):
        return getattr(loss, "__name__", str(loss))
    return {"module": "keras.losses", "class_name": type(loss).__name__,
            "config": loss.get_config(), "registered_name": None}


def deserialize(config, custom_objects=None):
    """The Loss described by :func:`serialize`'s output."""
    if isinstance(config, str):
        return get(config)
    name = config["class_name"]
    cls = (custom_objects or {}).get(name) or _BY_NAME.get(name)
    if cls is None:
        raise ValueError(f"Unknown loss class {name!r}; register it with "
                         "tf.keras.saving.register_keras_serializable or pass custom_objects.")
    return cls.from_config(config["config"])


# TF 2.21's tf.keras is Keras 3's legacy namespace, which exports these functions only under
# their aliases (tensorflow/tensorflow#69851). tapegrad.keras is tf.keras, so they are not
# attributes here either; the classes above and the string identifiers keep them.
_UNEXPORTED = {"mean_squared_error": ("mse", "MeanSquaredError"),
               "mean_absolute_error": ("mae", "MeanAbsoluteError"),
               "mean_absolute_percentage_error": ("mape", "MeanAbsolutePercentageError"),
               "mean_squared_logarithmic_error": ("msle", "MeanSquaredLogarithmicError"),
               "kl_divergence": ("kld", "KLDivergence"),
               "log_cosh": ("logcosh", "LogCosh")}
for _name in _UNEXPORTED:
    del globals()[_name]


def _unexported_name_error(module: str, name: str, alias: str, cls: str) -> AttributeError:
    """The AttributeError for a long loss-function name that TF 2.21's ``tf.keras.<module>``
    lacks, naming what to use instead."""
    return AttributeError(
        f"module 'tapegrad.keras.{module}' has no attribute '{name}': TF 2.21's tf.keras "
        f"exports this function only as tf.keras.{module}.{alias} "
        f"(tensorflow/tensorflow#69851); use that, tf.keras.{module}.{cls}(), or the string "
        f"'{name}' in compile()")


def __getattr__(name: str):
    if name in _UNEXPORTED:
        raise _unexported_name_error("losses", name, *_UNEXPORTED[name])
    raise AttributeError(f"module '{__name__}' has no attribute '{name}'")
