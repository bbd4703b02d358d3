"""Reductions built from several op families (TensorFlow's ``math_ops`` composites):
logsumexp, variance, standard deviation, Euclidean norm."""

from __future__ import annotations

from tapegrad._core.backend import np
from tapegrad._core.errors import InvalidArgumentError
from tapegrad._core.tensor import Tensor, wrap
from tapegrad.ops import array, math, reduction
from tapegrad.ops._util import tensor_of


def reduce_logsumexp(input_tensor, axis=None, keepdims=False, name=None) -> Tensor:
    """``log(sum(exp(x)))`` computed stably (shifted by the maximum).

    >>> import tapegrad as tf
    >>> round(float(tf.reduce_logsumexp(tf.constant([0.0, 0.0]))), 4)
    0.6931
    """
    x = tensor_of(input_tensor)
    shift = math.stop_gradient(reduction.reduce_max(x, axis, keepdims=True))
    shift = array.where(math.is_finite(shift), shift, math.zeros_like(shift))
    summed = reduction.reduce_sum(math.exp(x - shift), axis, keepdims=True)
    result = math.log(summed) + shift
    if not keepdims:
        result = array.squeeze(result, reduction.normalize_axis(axis, x._value.ndim)
                                if axis is not None else None)
    return result


def _floating(x, what: str):
    x = tensor_of(x)
    if x._value.dtype.kind == "b":  # (TensorFlow's kernel refuses it; integers are refused
        # earlier, in Python)
        raise InvalidArgumentError(f"{what}: Value for attr 'T' of bool is not in the list of "
                                   "allowed values; cast it with tapegrad.cast(x, "
                                   "tapegrad.float32).")
    if x._value.dtype.kind not in "fc":
        raise TypeError(f"Input must be either real or complex. Received integer type "
                        f"{x.dtype.name} ({what}); cast it with tapegrad.cast(x, "
                        "tapegrad.float32).")
    return x


def reduce_variance(input_tensor, axis=None, keepdims=False, name=None) -> Tensor:
    """Variance over ``axis`` (the mean of squared deviations; real for complex input).

    >>> import tapegrad as tf
    >>> float(tf.math.reduce_variance(tf.constant([1.0, 2.0, 3.0, 4.0])))
    1.25
    """
    x = _floating(input_tensor, "reduce_variance")
    means = reduction.reduce_mean(x, axis, keepdims=True)
    deviations = x - means
    if x._value.dtype.kind == "c":
        squared = math.real(deviations * math.conj(deviations))
    else:
        squared = math.square(deviations)
    return reduction.reduce_mean(squared, axis, keepdims)


def reduce_std(input_tensor, axis=None, keepdims=False, name=None) -> Tensor:
    """Standard deviation over ``axis`` (square root of ``reduce_variance``).

    >>> import tapegrad as tf
    >>> float(tf.math.reduce_std(tf.constant([1.0, 3.0])))
    1.0
    """
    return math.sqrt(reduce_variance(input_tensor, axis, keepdims))


def reduce_euclidean_norm(input_tensor, axis=None, keepdims=False, name=None) -> Tensor:
    """``sqrt(sum(|x|**2))`` over ``axis`` (the gradient at an all-zero slice is NaN, as
    TensorFlow).

    >>> import tapegrad as tf
    >>> float(tf.math.reduce_euclidean_norm(tf.constant([3.0, 4.0])))
    5.0
    """
    x = tensor_of(input_tensor)
    if x._value.dtype.kind == "b":
        raise InvalidArgumentError("reduce_euclidean_norm: Value for attr 'T' of bool is not in "
                                   "the list of allowed values (numbers); cast it first.")
    if x._value.dtype.kind in "iu":
        axes = reduction.normalize_axis(axis, x._value.ndim)
        value = np.asarray(x._value).astype(np.float64)
        norm_ = np.sqrt(np.sum(value * value, axis=axes, keepdims=bool(keepdims)))
        return wrap(np.asarray(norm_).astype(x._value.dtype))
    return math.sqrt(reduction.reduce_sum(x * math.conj(x), axis, keepdims))
