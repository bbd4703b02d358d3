"""Reductions over axes: sum, mean, max, min, prod and their composites."""

from __future__ import annotations

from tapegrad._core.backend import np
from tapegrad._core.errors import InvalidArgumentError
from tapegrad._core.registry import register
from tapegrad._core.sample import Sample
from tapegrad._core.tensor import Tensor, apply1, apply2, convert_to_tensor
from tapegrad.ops import array as _array
from tapegrad.ops import math as _math
from tapegrad.ops._util import randn


def normalize_axis(axis, ndim: int):
    """``axis`` (None, int, list or tensor) as a sorted tuple of non-negative ints, or None."""
    if axis is None:
        return None
    if isinstance(axis, Tensor):
        axis = axis._value.tolist()
    if isinstance(axis, (int, np.integer)):
        axis = (axis,)
    result = []
    for a in axis:
        a = int(a)
        if not -ndim <= a < max(ndim, 1) or (ndim == 0 and a not in (0, -1)):
            raise InvalidArgumentError(
                f"Invalid reduction dimension {a} for input with {ndim} dimensions; axes must "
                f"be in [-{ndim}, {ndim}).")
        result.append(a % ndim if ndim else 0)
    return tuple(sorted(set(result)))


def _kept_shape(shape: tuple, axes) -> tuple:
    if axes is None:
        return (1,) * len(shape)
    return tuple(1 if i in axes else d for i, d in enumerate(shape))


def _expand_back(upstream, x_shape, attrs):
    """Upstream of a reduction, reshaped with the reduced axes kept and broadcast to x."""
    kept = _kept_shape(x_shape, attrs.get("axis"))
    if upstream._value.shape != kept:
        upstream = _array.reshape(upstream, kept)
    return upstream


def _sum_forward(x, axis=None, keepdims=False):
    return np.sum(x, axis=axis, keepdims=keepdims)


def _sum_vjp(inputs, output, attrs, upstream, needs):
    x_shape = inputs[0]._value.shape
    return (_array.broadcast_to(_expand_back(upstream, x_shape, attrs), x_shape),)


def _sum_jvp(inputs, output, attrs, tangents):
    return apply1(SUM, tangents[0], attrs)


def _reduction_samples():
    return [Sample((randn(3),), {"axis": None}), Sample((randn(2, 3),), {"axis": (1,)}),
            Sample((randn(2, 3),), {"axis": (0,), "keepdims": True}),
            Sample((randn(2, 3, 2),), {"axis": (0, 2)}), Sample((randn(2, 0),), {"axis": (1,)})]


SUM = register("Sum", _sum_forward, _sum_vjp, _sum_jvp, _reduction_samples)


def _mean_forward(x, axis=None, keepdims=False):
    return np.mean(x, axis=axis, keepdims=keepdims)


def _count(x_shape, axes) -> int:
    if axes is None:
        return int(np.prod(x_shape, dtype=np.int64))
    return int(np.prod([x_shape[a] for a in axes], dtype=np.int64))


def _mean_vjp(inputs, output, attrs, upstream, needs):
    x_shape = inputs[0]._value.shape
    n = _count(x_shape, attrs.get("axis"))
    scaled = apply2(_math.DIV, upstream, float(max(n, 1)))
    return (_array.broadcast_to(_expand_back(scaled, x_shape, attrs), x_shape),)


def _mean_jvp(inputs, output, attrs, tangents):
    return apply1(MEAN, tangents[0], attrs)


MEAN = register("Mean", _mean_forward, _mean_vjp, _mean_jvp,
                lambda: [s for s in _reduction_samples() if 0 not in s.inputs[0].shape])


def _extreme_vjp(inputs, output, attrs, upstream, needs):
    # Ties share the gradient equally, as TensorFlow's reduce_max/reduce_min.
    x = inputs[0]
    x_shape = x._value.shape
    kept = _kept_shape(x_shape, attrs.get("axis"))
    chosen = _math.cast(apply2(_math.EQUAL, x, _array.reshape(output, kept)), x.dtype)
    counts = apply1(SUM, chosen, {"axis": attrs.get("axis"), "keepdims": True})
    share = apply2(_math.DIV, _expand_back(upstream, x_shape, attrs), counts)
    return (apply2(_math.MUL, chosen, share),)


def _extreme_jvp(inputs, output, attrs, tangents):
    x = inputs[0]
    kept = _kept_shape(x._value.shape, attrs.get("axis"))
    chosen = _math.cast(apply2(_math.EQUAL, x, _array.reshape(output, kept)), x.dtype)
    counts = apply1(SUM, chosen, {"axis": attrs.get("axis"), "keepdims": True})
    weights = apply2(_math.DIV, chosen, counts)
    return apply1(SUM, apply2(_math.MUL, weights, tangents[0]), attrs)


def _max_forward(x, axis=None, keepdims=False):
    return np.max(x, axis=axis, keepdims=keepdims)


def _min_forward(x, axis=None, keepdims=False):
    return np.min(x, axis=axis, keepdims=keepdims)


def _extreme_samples():
    return [Sample((randn(3),), {"axis": None}), Sample((randn(2, 3),), {"axis": (1,)}),
            Sample((np.array([1.0, 3.0, 3.0, 0.0]),), {"axis": None}, second_order=False,
                   note="ties split the gradient"),
            Sample((randn(2, 3),), {"axis": (0,), "keepdims": True})]


MAX = register("Max", _max_forward, _extreme_vjp, _extreme_jvp, _extreme_samples)
MIN = register("Min", _min_forward, _extreme_vjp, _extreme_jvp, _extreme_samples)


def _prod_forward(x, axis=None, keepdims=False):
    return np.prod(x, axis=axis, keepdims=keepdims)


def _others_product(x, axes):
    """For each element, the product of the other elements of its reduced slice (zeros safe)."""
    ndim = x._value.ndim
    axes = tuple(range(ndim)) if axes is None else axes
    kept = [a for a in range(ndim) if a not in axes]
    perm = kept + list(axes)
    moved = _array.transpose(x, perm) if perm != list(range(ndim)) else x
    moved_shape = moved._value.shape
    flat = _array.reshape(moved, (*moved_shape[:len(kept)], -1))
    left = _array.cumprod(flat, axis=-1, exclusive=True)
    right = _array.cumprod(flat, axis=-1, exclusive=True, reverse=True)
    others = _array.reshape(apply2(_math.MUL, left, right), moved_shape)
    inverse = list(np.argsort(perm))
    return _array.transpose(others, inverse) if perm != list(range(ndim)) else others


def _prod_vjp(inputs, output, attrs, upstream, needs):
    x = inputs[0]
    x_shape = x._value.shape
    others = _others_product(x, attrs.get("axis"))
    spread = _array.broadcast_to(_expand_back(upstream, x_shape, attrs), x_shape)
    return (apply2(_math.MUL, spread, _math.conj(others)),)


def _prod_jvp(inputs, output, attrs, tangents):
    others = _others_product(inputs[0], attrs.get("axis"))
    return apply1(SUM, apply2(_math.MUL, others, tangents[0]), attrs)


PROD = register("Prod", _prod_forward, _prod_vjp, _prod_jvp,
                lambda: [Sample((randn(3),), {"axis": None}),
                         Sample((randn(2, 3),), {"axis": (1,)}),
                         Sample((np.array([2.0, 0.0, 3.0]),), {"axis": None},
                                second_order=False,
                                note="the cumprod rule divides by x, so its own derivative is "
                                     "NaN at a zero (as TensorFlow)"),
                         Sample((randn(2, 3, 2),), {"axis": (0, 2), "keepdims": True})])


def _reduce(op, x, axis, keepdims):
    x = x if isinstance(x, Tensor) else convert_to_tensor(x)
    axes = normalize_axis(axis, x._value.ndim)
    return apply1(op, x, {"axis": axes, "keepdims": bool(keepdims)})


def reduce_sum(input_tensor, axis=None, keepdims=False, name=None):
    """Sum over ``axis`` (all axes when None).

    >>> import tapegrad as tf
    >>> tf.reduce_sum(tf.constant([[1.0, 2.0], [3.0, 4.0]]), axis=0).numpy().tolist()
    [4.0, 6.0]
    """
    return _reduce(SUM, input_tensor, axis, keepdims)


def reduce_mean(input_tensor, axis=None, keepdims=False, name=None):
    """Mean over ``axis`` (integer inputs give an integer mean, as TensorFlow)."""
    x = input_tensor if isinstance(input_tensor, Tensor) else convert_to_tensor(input_tensor)
    if x._value.dtype.kind in "iu":
        axes = normalize_axis(axis, x._value.ndim)
        total = np.sum(x._value, axis=axes, keepdims=bool(keepdims))
        from tapegrad._core.tensor import _wrap
        return _wrap(np.asarray(total // max(_count(x._value.shape, axes), 1),
                                dtype=x._value.dtype))
    return _reduce(MEAN, x, axis, keepdims)


def reduce_max(input_tensor, axis=None, keepdims=False, name=None):
    return _reduce(MAX, input_tensor, axis, keepdims)


def reduce_min(input_tensor, axis=None, keepdims=False, name=None):
    return _reduce(MIN, input_tensor, axis, keepdims)


def reduce_prod(input_tensor, axis=None, keepdims=False, name=None):
    return _reduce(PROD, input_tensor, axis, keepdims)


def reduce_logsumexp(input_tensor, axis=None, keepdims=False, name=None):
    """``log(sum(exp(x)))`` computed stably (shifted by the maximum)."""
    x = input_tensor if isinstance(input_tensor, Tensor) else convert_to_tensor(input_tensor)
    shift = _math.stop_gradient(reduce_max(x, axis, keepdims=True))
    shift = _array.where(_math.is_finite(shift), shift, _math.zeros_like(shift))
    summed = reduce_sum(_math.exp(x - shift), axis, keepdims=True)
    result = _math.log(summed) + shift
    if not keepdims:
        result = _array.squeeze(result, normalize_axis(axis, x._value.ndim)
                                if axis is not None else None)
    return result
