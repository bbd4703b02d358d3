"""NumPy code on tapegrad values: ``__array_ufunc__`` and ``__array_function__``.

``np.sin(t)``, ``np.sum(t, axis=0)``, ``t_array @ t`` or ``np.concatenate([...])`` on floating
Tensors and Variables run the registered tapegrad op and are recorded like any other op, when
the op gives exactly NumPy's answer for those arguments. Anything else (a function without a
tapegrad op, a keyword the op does not honour exactly, integer or bool values, mixed dtypes) is
NumPy's own function on the values: an ``ndarray`` result, off the tape, as TensorFlow gives for
every NumPy call on an eager tensor (see docs/differences-from-tensorflow.md).

>>> import numpy as np
>>> import tapegrad as tf
>>> x = tf.constant([0.0, 1.0])
>>> with tf.GradientTape() as tape:
...     tape.watch(x)
...     y = np.sum(np.sin(x) * 2.0)
>>> [round(float(g), 4) for g in tape.gradient(y, x)]
[2.0, 1.0806]
>>> np.median(x)  # no tapegrad op: NumPy's answer, off the tape
np.float32(0.5)
"""

from __future__ import annotations

from tapegrad._core.backend import np
from tapegrad._core.tensor import Tensor
from tapegrad._core.variable import Variable
from tapegrad.ops import array as _array
from tapegrad.ops import linalg as _linalg
from tapegrad.ops import math as _math
from tapegrad.ops import reduction as _reduction

_UFUNCS = {
    np.add: _math.add, np.subtract: _math.subtract, np.multiply: _math.multiply,
    np.true_divide: _math.truediv, np.floor_divide: _math.floordiv, np.remainder: _math.floormod,
    np.power: _math.pow, np.negative: _math.negative, np.positive: lambda x: x,
    np.absolute: _math.abs, np.sign: _math.sign, np.exp: _math.exp, np.expm1: _math.expm1,
    np.log: _math.log, np.log1p: _math.log1p, np.sqrt: _math.sqrt, np.square: _math.square,
    np.reciprocal: _math.reciprocal, np.sin: _math.sin, np.cos: _math.cos, np.tan: _math.tan,
    np.arcsin: _math.asin, np.arccos: _math.acos, np.arctan: _math.atan,
    np.arctan2: _math.atan2, np.sinh: _math.sinh, np.cosh: _math.cosh, np.tanh: _math.tanh,
    np.arcsinh: _math.asinh, np.arccosh: _math.acosh, np.arctanh: _math.atanh,
    np.maximum: _math.maximum, np.minimum: _math.minimum, np.equal: _math.equal,
    np.not_equal: _math.not_equal, np.less: _math.less, np.less_equal: _math.less_equal,
    np.greater: _math.greater, np.greater_equal: _math.greater_equal,
    np.floor: _math.floor, np.ceil: _math.ceil, np.rint: _math.rint, np.isnan: _math.is_nan,
    np.isfinite: _math.is_finite, np.isinf: _math.is_inf, np.conjugate: _math.conj,
    np.matmul: lambda a, b: _linalg.matmul(a, b),
}

_REDUCERS = {np.add: _reduction.reduce_sum, np.multiply: _reduction.reduce_prod,
             np.maximum: _reduction.reduce_max, np.minimum: _reduction.reduce_min}


class _NotExact(Exception):
    """The tapegrad op would not give NumPy's exact answer for these arguments."""


def _require(condition: bool):
    if not condition:
        raise _NotExact


def _axis_reduction(reduce, empty_raises: bool = False):
    def adapter(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
        _require(dtype is None and out is None and initial is None and where is None)
        # (NumPy raises for the max/min of nothing, where TensorFlow gives -inf/inf)
        _require(not (empty_raises and 0 in tuple(a.shape)))
        return reduce(a, axis=axis, keepdims=bool(keepdims))
    return adapter


def _dot(a, b, out=None):
    _require(out is None)
    a_rank = len(getattr(a, "shape", np.shape(a)))
    b_rank = len(getattr(b, "shape", np.shape(b)))
    if a_rank == 0 or b_rank == 0:
        return _math.multiply(a, b)
    if a_rank == 1 and b_rank == 1:
        return _reduction.reduce_sum(_math.multiply(a, b))
    if b_rank == 1:
        return _linalg.matvec(a, b)
    if a_rank == 1:
        return _array.squeeze(_linalg.matmul(_array.expand_dims(a, 0), b), 0)
    if b_rank == 2:
        return _linalg.matmul(a, b)
    return _array.tensordot(a, b, axes=[[-1], [-2]])


def _moments(reduce):
    def adapter(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, where=None,
                mean=None, correction=None):
        _require(dtype is None and out is None and ddof == 0 and where is None and
                 mean is None and correction is None and 0 not in tuple(a.shape))
        return reduce(a, axis=axis, keepdims=bool(keepdims))
    return adapter


def _transpose(a, axes=None):
    return _array.transpose(a, axes)


def _moveaxis(a, source, destination):
    _require(isinstance(source, int) and isinstance(destination, int))
    rank = len(a.shape)
    order = [i for i in range(rank) if i != source % rank]
    order.insert(destination % rank, source % rank)
    return _array.transpose(a, order)


def _swapaxes(a, axis1, axis2):
    order = list(range(len(a.shape)))
    order[axis1], order[axis2] = order[axis2], order[axis1]
    return _array.transpose(a, order)


def _reshape(a, shape=None, order="C", *, newshape=None, copy=None):
    _require(order == "C")
    return _array.reshape(a, shape if shape is not None else newshape)


def _cumulative(function):
    def adapter(a, axis=None, dtype=None, out=None):
        _require(dtype is None and out is None)
        if axis is None:
            return function(_array.reshape(a, [-1]), 0)
        return function(a, axis)
    return adapter


def _sort(a, axis=-1, kind=None, order=None, *, stable=None):
    _require(order is None)  # (sorted values do not depend on the algorithm)
    if axis is None:
        return _array.sort(_array.reshape(a, [-1]), 0)
    return _array.sort(a, axis)


def _take(a, indices, axis=None, out=None, mode="raise"):
    _require(out is None and mode == "raise" and np.all(np.asarray(_plain(indices)) >= 0))
    return _array.gather(_array.reshape(a, [-1]) if axis is None else a, indices,
                         axis=axis or 0)


def _clip(a, a_min=None, a_max=None, out=None, *, min=None, max=None, **kwargs):  # noqa: A002
    low = a_min if a_min is not None else min
    high = a_max if a_max is not None else max
    _require(out is None and not kwargs and low is not None and high is not None)
    return _array.clip_by_value(a, low, high)


def _round(a, decimals=0, out=None):
    _require(decimals == 0 and out is None)  # (both round half to even)
    return _math.round(a)


def _norm(x, ord=None, axis=None, keepdims=False):  # noqa: A002 - NumPy's argument name
    # Only the Euclidean/Frobenius norm is the same in both; NumPy's matrix `ord`s differ.
    _require(ord is None and (axis is None or isinstance(axis, int) or len(axis) <= 2))
    return _linalg.norm(x, ord="euclidean", axis=axis, keepdims=keepdims)


def _flip(m, axis=None):
    axes = list(range(len(m.shape))) if axis is None else \
        ([axis] if isinstance(axis, int) else list(axis))
    return _array.reverse(m, axes)


_FUNCTIONS = {
    np.sum: _axis_reduction(_reduction.reduce_sum),
    np.mean: _axis_reduction(_reduction.reduce_mean, empty_raises=False),
    np.max: _axis_reduction(_reduction.reduce_max, empty_raises=True),
    np.min: _axis_reduction(_reduction.reduce_min, empty_raises=True),
    np.prod: _axis_reduction(_reduction.reduce_prod),
    np.std: _moments(_reduction.reduce_std), np.var: _moments(_reduction.reduce_variance),
    np.cumsum: _cumulative(_array.cumsum), np.cumprod: _cumulative(_array.cumprod),
    np.dot: _dot,
    np.concatenate: lambda arrays, axis=0: _array.concat(list(arrays), axis),
    np.stack: lambda arrays, axis=0: _array.stack(list(arrays), axis),
    np.where: lambda condition, x, y: _array.where(condition, x, y),
    np.reshape: _reshape,
    np.transpose: _transpose, np.moveaxis: _moveaxis, np.swapaxes: _swapaxes,
    np.squeeze: lambda a, axis=None: _array.squeeze(a, axis),
    np.expand_dims: lambda a, axis: _array.expand_dims(a, axis),
    np.clip: _clip,
    np.tile: lambda a, reps: _array.tile(a, reps if not isinstance(reps, int) else [reps]),
    np.broadcast_to: lambda array, shape, subok=False: _array.broadcast_to(array, shape),
    np.einsum: lambda subscripts, *operands: _array.einsum(subscripts, *operands),
    np.tensordot: lambda a, b, axes=2: _array.tensordot(a, b, axes),
    np.outer: lambda a, b, out=None: _math.multiply(
        _array.reshape(a, [-1, 1]), _array.reshape(b, [1, -1])) if out is None else
    _require(False),
    np.trace: lambda a, offset=0, axis1=0, axis2=1, dtype=None, out=None: _linalg.trace(a)
    if (offset, axis1, axis2, dtype, out) == (0, 0, 1, None, None) and len(a.shape) == 2
    else _require(False),
    np.flip: _flip,
    np.roll: lambda a, shift, axis=None: _array.roll(a, shift, axis) if axis is not None
    else _require(False),
    np.sort: _sort,
    np.take: _take,
    np.round: _round,
    np.linalg.inv: _linalg.inv, np.linalg.det: _linalg.det, np.linalg.solve: _linalg.solve,
    np.linalg.cholesky: lambda a, upper=False: _linalg.cholesky(a) if not upper
    else _require(False),
    np.linalg.norm: _norm,
}


def _plain(value):
    """``value`` with every Tensor or Variable in it (also in lists, tuples, dicts) replaced
    by its NumPy array."""
    if isinstance(value, (Tensor, Variable)):
        return np.asarray(value._value)
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(item) for item in value) if type(value) in (list, tuple) \
            else value
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def _dtypes(values) -> set:
    """The dtypes of the arrays (Tensors, Variables, ndarrays) among ``values``, one level into
    lists and tuples."""
    found = set()
    for value in values:
        items = value if isinstance(value, (list, tuple)) else (value,)
        for item in items:
            array = getattr(item, "_value", item)
            if isinstance(array, (np.ndarray, np.generic)):
                found.add(array.dtype)
    return found


def _recordable(values, exact: bool) -> bool:
    """A tapegrad op gives NumPy's answer only on floating values of one dtype (NumPy
    promotes mixed dtypes and computes int/bool results TensorFlow's kernels refuse). With
    ``exact`` (ufuncs) every array must have that dtype; otherwise integer and bool arrays
    (indices, conditions) may come along."""
    dtypes = _dtypes(values)
    inexact = {d for d in dtypes if d.kind in "fc"}
    return len(inexact) == 1 and (not exact or len(dtypes) == 1)


def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
    if _recordable(inputs, exact=True):
        if method == "__call__":
            function = _UFUNCS.get(ufunc)
            if function is not None and not kwargs:
                return function(*inputs)
        elif method == "reduce" and ufunc in _REDUCERS and len(inputs) == 1 and \
                set(kwargs) <= {"axis", "keepdims"} and 0 not in tuple(inputs[0].shape):
            return _REDUCERS[ufunc](inputs[0], axis=kwargs.get("axis", 0),
                                    keepdims=bool(kwargs.get("keepdims", False)))
    return getattr(ufunc, method)(*_plain(inputs), **_plain(kwargs))


def __array_function__(self, func, types, args, kwargs):
    adapter = _FUNCTIONS.get(func)
    if adapter is not None and _recordable(list(args) + list(kwargs.values()), exact=False):
        try:
            return adapter(*args, **kwargs)
        except _NotExact:
            pass
    return func(*_plain(args), **_plain(kwargs))


for _cls in (Tensor, Variable):
    _cls.__array_ufunc__ = __array_ufunc__
    _cls.__array_function__ = __array_function__
