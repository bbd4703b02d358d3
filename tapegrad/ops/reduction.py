"""Reductions over axes: sum, mean, max, min, prod, all/any, count, arg-extremes (the ones
built from several families, such as logsumexp and variance, are in
:mod:`tapegrad.ops.composite.reduction`; norm clipping in :mod:`tapegrad.ops.composite.clip`)."""

from __future__ import annotations

import math
import warnings

from tapegrad._core import dtypes as _dt
from tapegrad._core.backend import np
from tapegrad._core.errors import InvalidArgumentError
from tapegrad._core.registry import REGISTRY, register
from tapegrad._core.tensor import Tensor, apply1, convert_to_tensor, wrap
from tapegrad.ops._sample import Sample
from tapegrad.ops._util import NUMBERS, REAL, randn, tensor_of
from tapegrad.ops._vocab import (
    batch_shape,
    broadcast_to,
    cast,
    conj,
    divide_by,
    reshape,
    run,
    shape_of,
)

_ARG_DTYPES = "biuf"  # argmax/argmin: real numbers and bool


def normalize_axis(axis, ndim: int):
    """``axis`` (None, int, list or tensor) as a sorted tuple of non-negative ints, or None."""
    if axis is None:
        return None
    if isinstance(axis, Tensor) or hasattr(axis, "_read_for_op"):
        axis = np.asarray(axis._value).tolist()
    if isinstance(axis, (int, np.integer)):
        axis = (axis,)
    result = []
    for a in axis:
        if isinstance(a, (float, bool)) or not isinstance(a, (int, np.integer)):
            raise TypeError(f"reduction axes must be integers, got {a!r}.")
        a = int(a)
        if not -ndim <= a < ndim:
            raise InvalidArgumentError(
                f"Invalid reduction dimension ({a} for input with {ndim} dimension(s)); axes "
                f"must be in [-{ndim}, {ndim}).")
        if a % ndim in result:
            raise InvalidArgumentError(f"Invalid reduction arguments: Axes contains duplicate "
                                       f"dimension: {a % ndim} (axes {list(axis)}); list each "
                                       "axis once.")
        result.append(a % ndim)
    return tuple(sorted(result))


def _kept_shape(shape: tuple, axes) -> tuple:
    if axes is None:
        return (1,) * len(shape)
    return tuple(1 if i in axes else d for i, d in enumerate(shape))


def _expand_back(upstream, output, x_shape, attrs):
    """Upstream of a reduction, reshaped with the reduced axes kept (ready to broadcast); leading
    batch axes of a vectorised jacobian are kept in front."""
    kept = batch_shape(upstream, output) + _kept_shape(x_shape, attrs.get("axis"))
    return upstream if shape_of(upstream) == kept else reshape(upstream, kept)


def _spread(upstream, output, x_shape, attrs):
    """The upstream of a reduction spread over the reduced axes of an input of ``x_shape``
    (what every reduced element receives), in the rule vocabulary."""
    if not shape_of(upstream):  # a scalar (a loss's), with no batch axes: as it is
        return broadcast_to(upstream, x_shape)
    return broadcast_to(_expand_back(upstream, output, x_shape, attrs),
                        batch_shape(upstream, output) + x_shape)


def _int_dtype(x):
    return x.dtype if x.dtype.kind in "iu" else None


def _sum_forward(x, axis=None, keepdims=False):
    return np.add.reduce(x, axis=axis, keepdims=keepdims, dtype=_int_dtype(x))


def _sum_vjp(inputs, output, attrs, upstream, needs):
    return (_spread(upstream, output, shape_of(inputs[0]), attrs),)


def _sum_jvp(inputs, output, attrs, tangents):
    return run(SUM, tangents[0], **attrs)


def _reduction_samples():
    return [Sample((randn(3),), {"axis": None}), Sample((randn(2, 3),), {"axis": (1,)}),
            Sample((randn(2, 3),), {"axis": (0,), "keepdims": True}),
            Sample((randn(2, 3, 2),), {"axis": (0, 2)}), Sample((randn(2, 0),), {"axis": (1,)}),
            Sample((randn(),), {"axis": ()}), Sample((randn(1, 3),), {"axis": (0,)})]


SUM = register("Sum", _sum_forward, _sum_vjp, _sum_jvp, _reduction_samples, batchable=True,
               dtypes=NUMBERS, array_rules=True)


def _mean_forward(x, axis=None, keepdims=False):
    if x.dtype.kind in "iu":  # TensorFlow's integer mean: the sum divided, toward zero
        total = np.sum(x, axis=axis, keepdims=keepdims, dtype=np.int64)
        count = max(_count(x.shape, axis), 1)
        return np.asarray(np.sign(total) * (np.abs(total) // count), dtype=x.dtype)
    if not x.size:
        # NaN for an empty slice, as TensorFlow, without NumPy's "Mean of empty slice" warning
        # (raised from NumPy's own files, so the backend's filter does not catch it)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.mean(x, axis=axis, keepdims=keepdims)
    if x.dtype.kind != "f" or x.dtype.itemsize < 4:
        return np.mean(x, axis=axis, keepdims=keepdims)  # float16 accumulates in float32
    # np.mean's Python wrapper costs more than the reduction on small arrays
    total = np.add.reduce(x, axis=axis, keepdims=keepdims)
    return total / x.dtype.type(x.size // max(total.size, 1))


def _count(x_shape, axes) -> int:
    if axes is None:
        return math.prod(x_shape)
    return math.prod(x_shape[a] for a in axes)


def _mean_vjp(inputs, output, attrs, upstream, needs):
    x_shape = shape_of(inputs[0])
    count = max(_count(x_shape, attrs.get("axis")), 1)
    return (_spread(divide_by(upstream, count), output, x_shape, attrs),)


def _mean_jvp(inputs, output, attrs, tangents):
    return run(MEAN, tangents[0], **attrs)


MEAN = register("Mean", _mean_forward, _mean_vjp, _mean_jvp,
                lambda: [s for s in _reduction_samples() if 0 not in s.inputs[0].shape],
                batchable=True, dtypes=NUMBERS, array_rules=True)


def _extreme_weights(x, output, attrs):
    """1/k at the k entries that attain the extreme of their slice, 0 elsewhere."""
    kept = _kept_shape(x._value.shape, attrs.get("axis"))
    chosen = cast(run(REGISTRY["Equal"], x, reshape(output, kept)), x._value.dtype)
    counts = apply1(SUM, chosen, {"axis": attrs.get("axis"), "keepdims": True})
    return chosen, counts


def _extreme_vjp(inputs, output, attrs, upstream, needs):
    # Ties share the gradient equally, as TensorFlow's reduce_max/reduce_min.
    x = inputs[0]
    chosen, counts = _extreme_weights(x, output, attrs)
    share = run(REGISTRY["RealDiv"], _expand_back(upstream, output, x._value.shape, attrs),
                counts)
    return (chosen * share,)


def _extreme_jvp(inputs, output, attrs, tangents):
    chosen, counts = _extreme_weights(inputs[0], output, attrs)
    weights = run(REGISTRY["RealDiv"], chosen, counts)
    return apply1(SUM, weights * tangents[0], attrs)


def _lowest(dtype):
    return np.iinfo(dtype).min if dtype.kind in "iu" else -np.inf


def _highest(dtype):
    return np.iinfo(dtype).max if dtype.kind in "iu" else np.inf


def _max_forward(x, axis=None, keepdims=False):
    if np.size(x) == 0:
        return np.max(x, axis=axis, keepdims=keepdims, initial=_lowest(x.dtype))
    return np.max(x, axis=axis, keepdims=keepdims)


def _min_forward(x, axis=None, keepdims=False):
    if np.size(x) == 0:
        return np.min(x, axis=axis, keepdims=keepdims, initial=_highest(x.dtype))
    return np.min(x, axis=axis, keepdims=keepdims)


def _extreme_samples():
    return [Sample((randn(3),), {"axis": None}), Sample((randn(2, 3),), {"axis": (1,)}),
            Sample((np.array([1.0, 3.0, 3.0, 0.0]),), {"axis": None}, second_order=False,
                   note="ties split the gradient"),
            Sample((np.array([[1.0, 1.0], [0.0, 2.0]]),), {"axis": (1,)}, second_order=False,
                   note="ties split the gradient within each slice"),
            Sample((randn(2, 3),), {"axis": (0,), "keepdims": True}),
            Sample((randn(2, 3, 2),), {"axis": (0, 2)})]


MAX = register("Max", _max_forward, _extreme_vjp, _extreme_jvp, _extreme_samples, dtypes=REAL)
MIN = register("Min", _min_forward, _extreme_vjp, _extreme_jvp, _extreme_samples, dtypes=REAL)


def _prod_forward(x, axis=None, keepdims=False):
    return np.prod(x, axis=axis, keepdims=keepdims, dtype=_int_dtype(x))


def _others_product(x, axes):
    """For each element, the product of the other elements of its reduced slice (zeros safe)."""
    ndim = x._value.ndim
    axes = tuple(range(ndim)) if axes is None else axes
    kept = [a for a in range(ndim) if a not in axes]
    perm = kept + list(axes)
    transpose = REGISTRY["Transpose"]
    moved = run(transpose, x, perm=tuple(perm)) if perm != list(range(ndim)) else x
    moved_shape = moved._value.shape
    # (the reduced size spelled out: -1 cannot be inferred when a kept axis is empty)
    flat = reshape(moved, (*moved_shape[:len(kept)],
                           int(np.prod(moved_shape[len(kept):], dtype=np.int64))))
    cumprod = REGISTRY["Cumprod"]
    left = run(cumprod, flat, axis=len(kept), exclusive=True, reverse=False)
    right = run(cumprod, flat, axis=len(kept), exclusive=True, reverse=True)
    others = reshape(left * right, moved_shape)
    inverse = tuple(int(axis) for axis in np.argsort(perm))
    return run(transpose, others, perm=inverse) if perm != list(range(ndim)) else others


def _prod_vjp(inputs, output, attrs, upstream, needs):
    x = inputs[0]
    x_shape = x._value.shape
    others = _others_product(x, attrs.get("axis"))
    spread = _spread(upstream, output, x_shape, attrs)
    return (spread * conj(others),)


def _prod_jvp(inputs, output, attrs, tangents):
    others = _others_product(inputs[0], attrs.get("axis"))
    return apply1(SUM, others * tangents[0], attrs)


PROD = register("Prod", _prod_forward, _prod_vjp, _prod_jvp,
                lambda: [Sample((randn(3),), {"axis": None}),
                         Sample((randn(2, 3),), {"axis": (1,)}),
                         Sample((np.array([2.0, 0.0, 3.0]),), {"axis": None},
                                second_order=False,
                                note="the cumprod rule divides by x, so its own derivative is "
                                     "NaN at a zero (as TensorFlow)"),
                         Sample((np.array([[2.0, 0.0, 0.0], [1.0, 0.0, 3.0]]),), {"axis": (1,)},
                                second_order=False, note="two zeros in a slice"),
                         Sample((randn(2, 3, 2),), {"axis": (0, 2), "keepdims": True})],
                dtypes=NUMBERS)


_NO_BOOL = {"Sum": "reduce_sum", "Mean": "reduce_mean", "Prod": "reduce_prod",
            "Max": "reduce_max", "Min": "reduce_min"}


def _reduce(op, x, axis, keepdims):
    if type(x) is not Tensor and hasattr(x, "__tapegrad_reduce__"):  # (tf.ragged)
        return x.__tapegrad_reduce__(op.name, axis, keepdims)
    x = x if isinstance(x, Tensor) or hasattr(x, "_read_for_op") else convert_to_tensor(x)
    kind = x._value.dtype.kind
    if kind in "bOSU":
        raise InvalidArgumentError(
            f"{_NO_BOOL[op.name]} does not take {x.dtype.name} tensors; cast to a number type "
            "first (e.g. tapegrad.cast(x, tapegrad.int32)), or use reduce_any/reduce_all for "
            "bool.")
    axes = normalize_axis(axis, x._value.ndim)
    return apply1(op, x, {"axis": axes, "keepdims": bool(keepdims)})


def reduce_sum(input_tensor, axis=None, keepdims=False, name=None) -> Tensor:
    """Sum over ``axis`` (all axes when None).

    >>> import tapegrad as tf
    >>> tf.reduce_sum(tf.constant([[1.0, 2.0], [3.0, 4.0]]), axis=0).numpy().tolist()
    [4.0, 6.0]
    """
    return _reduce(SUM, input_tensor, axis, keepdims)


def reduce_mean(input_tensor, axis=None, keepdims=False, name=None) -> Tensor:
    """Mean over ``axis`` (integer inputs give an integer mean truncated toward zero, as
    TensorFlow).

    >>> import tapegrad as tf
    >>> float(tf.reduce_mean(tf.constant([1.0, 2.0])))
    1.5
    """
    return _reduce(MEAN, input_tensor, axis, keepdims)


def reduce_max(input_tensor, axis=None, keepdims=False, name=None) -> Tensor:
    """Maximum over ``axis``; tied maxima share the gradient equally (as TensorFlow).

    >>> import tapegrad as tf
    >>> float(tf.reduce_max(tf.constant([1.0, 3.0, 2.0])))
    3.0
    """
    return _reduce(MAX, input_tensor, axis, keepdims)


def reduce_min(input_tensor, axis=None, keepdims=False, name=None) -> Tensor:
    """Minimum over ``axis``; tied minima share the gradient equally (as TensorFlow).

    >>> import tapegrad as tf
    >>> float(tf.reduce_min(tf.constant([1.0, 3.0, 2.0])))
    1.0
    """
    return _reduce(MIN, input_tensor, axis, keepdims)


def reduce_prod(input_tensor, axis=None, keepdims=False, name=None) -> Tensor:
    """Product over ``axis`` (the gradient at a zero is the product of the others).

    >>> import tapegrad as tf
    >>> float(tf.reduce_prod(tf.constant([2.0, 3.0, 4.0])))
    24.0
    """
    return _reduce(PROD, input_tensor, axis, keepdims)


def reduce_any(input_tensor, axis=None, keepdims=False, name=None) -> Tensor:
    """Logical or over ``axis``.

    >>> import tapegrad as tf
    >>> bool(tf.reduce_any(tf.constant([False, True])))
    True
    """
    return _logical(np.any, input_tensor, axis, keepdims, "reduce_any")


def reduce_all(input_tensor, axis=None, keepdims=False, name=None) -> Tensor:
    """Logical and over ``axis``.

    >>> import tapegrad as tf
    >>> bool(tf.reduce_all(tf.constant([False, True])))
    False
    """
    return _logical(np.all, input_tensor, axis, keepdims, "reduce_all")


def _logical(function, x, axis, keepdims, what):
    if not isinstance(x, Tensor) and not hasattr(x, "_read_for_op"):
        try:
            x = convert_to_tensor(x, dtype=_dt.bool)
        except (TypeError, ValueError):
            x = convert_to_tensor(x)
    if x._value.dtype != np.bool_:
        raise InvalidArgumentError(f"{what} takes a bool tensor, got {x.dtype.name}; compare first "
                        "(e.g. x > 0) or cast with tapegrad.cast(x, tapegrad.bool).")
    axes = normalize_axis(axis, x._value.ndim)
    return wrap(np.asarray(function(x._value, axis=axes, keepdims=bool(keepdims))))


def count_nonzero(input, axis=None, keepdims=None, dtype=_dt.int64, name=None):  # noqa: A002
    """The number of non-zero entries (non-empty strings) over ``axis``.

    >>> import tapegrad as tf
    >>> tf.math.count_nonzero([[0, 1], [2, 0]], axis=1).numpy().tolist()
    [1, 1]
    """
    x = tensor_of(input)
    value = np.asarray(x._value)
    nonzero = (value != b"") if value.dtype.kind in "OSU" else (value != 0)
    axes = normalize_axis(axis, value.ndim)
    counts = np.sum(nonzero, axis=axes, keepdims=bool(keepdims), dtype=np.int64)
    return wrap(np.asarray(counts, dtype=_dt.as_dtype(dtype)._np))


# -- arg-extremes ----------------------------------------------------------------------------

def _arg_samples():
    return [Sample((randn(3, 4),), {"axis": 1, "output_type": np.int64}),
            Sample((np.array([1.0, 3.0, 3.0]),), {"axis": 0, "output_type": np.int32})]


ARGMAX = register("ArgMax", lambda x, axis, output_type: np.argmax(x, axis=axis).astype(
    output_type), None, None, _arg_samples, dtypes=_ARG_DTYPES)
ARGMIN = register("ArgMin", lambda x, axis, output_type: np.argmin(x, axis=axis).astype(
    output_type), None, None, _arg_samples, dtypes=_ARG_DTYPES)


def _arg(op, x, axis, output_type):
    x = x if isinstance(x, Tensor) or hasattr(x, "_read_for_op") else convert_to_tensor(x)
    ndim = x._value.ndim
    axis = 0 if axis is None else axis
    if isinstance(axis, Tensor):
        axis = int(axis._value)
    if not -ndim <= int(axis) < ndim:
        raise InvalidArgumentError(f"Expected dimension in the range [{-ndim}, {ndim}), but got "
                                   f"{int(axis)}")
    out = _dt.as_dtype(output_type)
    if out.name not in ("int16", "uint16", "int32", "int64"):
        raise InvalidArgumentError(f"Value for attr 'output_type' of {out.name} is not in the "
                                   "list of allowed values: int16, uint16, int32, int64.")
    if x._value.shape[int(axis) % ndim] == 0:
        raise InvalidArgumentError(f"Reduction axis {int(axis)} is empty in shape "
                                   f"{list(x._value.shape)}: there is no index to return.")
    return apply1(op, x, {"axis": int(axis) % ndim, "output_type": out._np})


def argmax(input, axis=None, output_type=_dt.int64, name=None) -> Tensor:  # noqa: A002
    """Index of the largest entry along ``axis`` (0 when None; ties: the first). No
    gradient.

    >>> import tapegrad as tf
    >>> int(tf.argmax(tf.constant([1.0, 3.0, 2.0])))
    1
    """
    return _arg(ARGMAX, input, axis, output_type)


def argmin(input, axis=None, output_type=_dt.int64, name=None) -> Tensor:  # noqa: A002
    """Index of the smallest entry along ``axis`` (0 when None; ties: the first). No
    gradient.

    >>> import tapegrad as tf
    >>> int(tf.argmin(tf.constant([1.0, 3.0, 0.5])))
    2
    """
    return _arg(ARGMIN, input, axis, output_type)
