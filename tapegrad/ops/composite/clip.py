"""Clipping (TensorFlow's ``clip_ops``): by value, by norm, by the global norm of a list."""

from __future__ import annotations

from tapegrad._core.backend import np
from tapegrad._core.indexed_slices import IndexedSlices
from tapegrad._core.tensor import Tensor, wrap
from tapegrad.ops import array, math, reduction
from tapegrad.ops._util import tensor_of


def clip_by_value(t, clip_value_min, clip_value_max, name=None):
    """``t`` limited to ``[clip_value_min, clip_value_max]``; the gradient is 1 inside and at
    the bounds, 0 outside (TensorFlow's minimum/maximum tie rule).

    >>> import tapegrad as tf
    >>> tf.clip_by_value(tf.constant([-1.0, 0.5, 2.0]), 0.0, 1.0).numpy().tolist()
    [0.0, 0.5, 1.0]
    """
    if isinstance(t, IndexedSlices):
        return IndexedSlices(clip_by_value(t.values, clip_value_min, clip_value_max),
                             t.indices, t.dense_shape)
    values = tensor_of(t)
    upper = math.minimum(values, clip_value_max)
    if tuple(upper.shape) != tuple(values.shape):
        raise ValueError(f"Shapes {tuple(values.shape)} and {tuple(upper.shape)} are "
                         "incompatible: the clip bounds must broadcast to the shape of t.")
    result = math.maximum(upper, clip_value_min)
    if tuple(result.shape) != tuple(values.shape):
        raise ValueError(f"Shapes {tuple(values.shape)} and {tuple(result.shape)} are "
                         "incompatible: the clip bounds must broadcast to the shape of t.")
    return result


def clip_by_norm(t, clip_norm, axes=None, name=None):
    """``t`` scaled down so that its L2 norm over ``axes`` is at most ``clip_norm``.

    >>> import tapegrad as tf
    >>> tf.clip_by_norm(tf.constant([3.0, 4.0]), 1.0).numpy().tolist()
    [0.6000000238418579, 0.800000011920929]
    """
    if isinstance(t, IndexedSlices):
        return IndexedSlices(clip_by_norm(t.values, clip_norm, axes), t.indices, t.dense_shape)
    values = t if hasattr(t, "_read_for_op") else tensor_of(t)
    l2sum = reduction.reduce_sum(values * values, axes, keepdims=True)
    positive = l2sum > 0
    # The two-`where` trick keeps the gradient finite at a zero tensor (as TensorFlow).
    l2sum_safe = array.where(positive, l2sum, math.ones_like(l2sum))
    l2norm = array.where(positive, math.sqrt(l2sum_safe), l2sum)
    intermediate = values * clip_norm
    if tuple(intermediate.shape) != tuple(values.shape):
        raise ValueError(f"Shapes {tuple(values.shape)} and {tuple(intermediate.shape)} are "
                         "incompatible: clip_norm must be a scalar (or broadcast to t).")
    return math.identity(intermediate / math.maximum(l2norm, clip_norm))


def _check_list(t_list):
    if isinstance(t_list, (Tensor, IndexedSlices, str, bytes)) or hasattr(
            t_list, "_read_for_op") or not hasattr(t_list, "__iter__"):
        raise TypeError(f"`t_list` should be a sequence of tensors. Received {type(t_list)}.")
    return list(t_list)


def global_norm(t_list, name=None) -> Tensor:
    """The L2 norm of all the tensors in ``t_list`` together (None entries are skipped).

    >>> import tapegrad as tf
    >>> from tapegrad.ops.composite.clip import global_norm
    >>> float(global_norm([tf.constant([3.0]), tf.constant([4.0])]))
    5.0
    """
    items = _check_list(t_list)
    halves = []
    for t in items:
        if t is None:
            continue
        values = t.values if isinstance(t, IndexedSlices) else t
        halves.append(reduction.reduce_sum(math.square(values)) / 2.0)
    if not halves:
        raise ValueError("global_norm: t_list holds no tensors.")
    return math.sqrt(reduction.reduce_sum(array.stack(halves)) * 2.0)


def clip_by_global_norm(t_list, clip_norm, use_norm=None, name=None):
    """Scale every tensor in ``t_list`` by ``clip_norm / max(global_norm, clip_norm)``; returns
    ``(clipped_list, global_norm)``. A non-finite global norm makes every entry NaN.

    >>> import tapegrad as tf
    >>> clipped, total = tf.clip_by_global_norm([tf.constant([3.0]), tf.constant([4.0])], 1.0)
    >>> float(total), round(float(clipped[1][0]), 4)
    (5.0, 0.8)
    """
    items = _check_list(t_list)
    use_norm = global_norm(items) if use_norm is None else tensor_of(use_norm)
    one = wrap(np.asarray(1.0, dtype=use_norm._value.dtype))
    scale = clip_norm * math.minimum(1.0 / use_norm, one / clip_norm)
    scale = scale + (use_norm - use_norm)
    clipped = []
    for t in items:
        if t is None:
            clipped.append(None)
        elif isinstance(t, IndexedSlices):
            clipped.append(IndexedSlices(t.values * math.cast(scale, t.values.dtype),
                                         t.indices, t.dense_shape))
        else:
            clipped.append(math.identity(t * math.cast(scale, t.dtype)))
    return clipped, use_norm
