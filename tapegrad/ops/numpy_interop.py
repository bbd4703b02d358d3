"""NumPy code on tapegrad values: ``__array_ufunc__`` and ``__array_function__``.

``np.sin(t)``, ``np.sum(t, axis=0)``, ``t_array @ t`` or ``np.concatenate([...])`` on Tensors and
Variables run the registered tapegrad op and are recorded like any other op. A NumPy function
with no tapegrad counterpart raises TypeError naming it, so a value never drops off the tape
silently; convert explicitly with ``t.numpy()`` when that is what you want.

>>> import numpy as np
>>> import tapegrad as tf
>>> x = tf.constant([0.0, 1.0])
>>> with tf.GradientTape() as tape:
...     tape.watch(x)
...     y = np.sum(np.sin(x) * 2.0)
>>> [round(float(g), 4) for g in tape.gradient(y, x)]
[2.0, 1.0806]
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
    np.logical_and: _math.logical_and, np.logical_or: _math.logical_or,
    np.logical_not: _math.logical_not, np.logical_xor: _math.logical_xor,
    np.floor: _math.floor, np.ceil: _math.ceil, np.rint: _math.rint, np.isnan: _math.is_nan,
    np.isfinite: _math.is_finite, np.isinf: _math.is_inf, np.conjugate: _math.conj,
    np.matmul: lambda a, b: _linalg.matmul(a, b),
}

_REDUCERS = {np.add: _reduction.reduce_sum, np.multiply: _reduction.reduce_prod,
             np.maximum: _reduction.reduce_max, np.minimum: _reduction.reduce_min}


def _no_out(name: str, out=None, **kwargs):
    if out is not None:
        raise TypeError(f"numpy.{name}(..., out=...) cannot write into a tapegrad tensor "
                        "(tensors are immutable); drop `out` and use the returned tensor.")
    unsupported = {k: v for k, v in kwargs.items() if v is not None and k not in ("casting",)}
    if unsupported:
        raise TypeError(f"numpy.{name} on tapegrad values does not support "
                        f"{sorted(unsupported)}; call the tapegrad op directly.")


def _axis_reduction(reduce):
    def adapter(a, axis=None, dtype=None, out=None, keepdims=False, **kwargs):
        _no_out(reduce.__name__, out, dtype=dtype, **kwargs)
        return reduce(a, axis=axis, keepdims=bool(keepdims))
    return adapter


def _flat_axis(function):
    def adapter(a, axis=None, *args, **kwargs):
        if axis is None:
            return function(_array.reshape(a, [-1]), 0, *args, **kwargs)
        return function(a, axis, *args, **kwargs)
    return adapter


def _dot(a, b, out=None):
    _no_out("dot", out)
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


def _std(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, **kwargs):
    _no_out("std", out, dtype=dtype, **kwargs)
    if ddof:
        raise TypeError("numpy.std with ddof != 0 has no tapegrad op; use tapegrad.math.reduce_std "
                        "and rescale by n / (n - ddof).")
    return _reduction.reduce_std(a, axis=axis, keepdims=keepdims)


def _var(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, **kwargs):
    _no_out("var", out, dtype=dtype, **kwargs)
    if ddof:
        raise TypeError("numpy.var with ddof != 0 has no tapegrad op; use "
                        "tapegrad.math.reduce_variance and rescale by n / (n - ddof).")
    return _reduction.reduce_variance(a, axis=axis, keepdims=keepdims)


def _where(condition, *branches):
    if len(branches) != 2:
        return _array.where(condition)
    return _array.where(condition, *branches)


def _transpose(a, axes=None):
    return _array.transpose(a, axes)


def _moveaxis(a, source, destination):
    rank = len(a.shape)
    order = [i for i in range(rank) if i != source % rank]
    order.insert(destination % rank, source % rank)
    return _array.transpose(a, order)


def _swapaxes(a, axis1, axis2):
    order = list(range(len(a.shape)))
    order[axis1], order[axis2] = order[axis2], order[axis1]
    return _array.transpose(a, order)


def _value_only(function):
    """Functions whose result is a plain value (shape, bool), not a tensor to differentiate."""
    def adapter(*args, **kwargs):
        plain = [np.asarray(a._value) if isinstance(a, (Tensor, Variable)) else a for a in args]
        return function(*plain, **kwargs)
    return adapter


_FUNCTIONS = {
    np.sum: _axis_reduction(_reduction.reduce_sum),
    np.mean: _axis_reduction(_reduction.reduce_mean),
    np.max: _axis_reduction(_reduction.reduce_max),
    np.min: _axis_reduction(_reduction.reduce_min),
    np.prod: _axis_reduction(_reduction.reduce_prod),
    np.any: _axis_reduction(_reduction.reduce_any),
    np.all: _axis_reduction(_reduction.reduce_all),
    np.std: _std, np.var: _var,
    np.argmax: _flat_axis(lambda a, axis: _reduction.argmax(a, axis)),
    np.argmin: _flat_axis(lambda a, axis: _reduction.argmin(a, axis)),
    np.cumsum: _flat_axis(lambda a, axis: _array.cumsum(a, axis)),
    np.cumprod: _flat_axis(lambda a, axis: _array.cumprod(a, axis)),
    np.dot: _dot,
    np.concatenate: lambda arrays, axis=0, out=None: _array.concat(list(arrays), axis),
    np.stack: lambda arrays, axis=0, out=None: _array.stack(list(arrays), axis),
    np.where: _where,
    np.reshape: lambda a, shape=None, newshape=None, order="C": _array.reshape(
        a, shape if shape is not None else newshape),
    np.transpose: _transpose, np.moveaxis: _moveaxis, np.swapaxes: _swapaxes,
    np.squeeze: lambda a, axis=None: _array.squeeze(a, axis),
    np.expand_dims: lambda a, axis: _array.expand_dims(a, axis),
    np.clip: lambda a, a_min, a_max, out=None, **kwargs: _array.clip_by_value(a, a_min, a_max),
    np.tile: lambda a, reps: _array.tile(a, reps if not isinstance(reps, int) else [reps]),
    np.broadcast_to: lambda array, shape, subok=False: _array.broadcast_to(array, shape),
    np.einsum: lambda subscripts, *operands, **kwargs: _array.einsum(subscripts, *operands),
    np.tensordot: lambda a, b, axes=2: _array.tensordot(a, b, axes),
    np.outer: lambda a, b, out=None: _math.multiply(
        _array.reshape(a, [-1, 1]), _array.reshape(b, [1, -1])),
    np.trace: lambda a, offset=0, axis1=0, axis2=1, dtype=None, out=None: _linalg.trace(a),
    np.flip: lambda m, axis=None: _array.reverse(
        m, list(range(len(m.shape))) if axis is None else
        ([axis] if isinstance(axis, int) else list(axis))),
    np.roll: lambda a, shift, axis=None: _array.roll(a, shift, axis),
    np.sort: lambda a, axis=-1, kind=None, order=None, stable=None: _array.sort(a, axis),
    np.argsort: lambda a, axis=-1, kind=None, order=None, stable=None: _array.argsort(a, axis),
    np.take: lambda a, indices, axis=None, out=None, mode="raise": _array.gather(
        _array.reshape(a, [-1]) if axis is None else a, indices, axis=axis or 0),
    np.round: lambda a, decimals=0, out=None: _math.round(a),
    np.zeros_like: lambda a, dtype=None, **kwargs: _math.zeros_like(a, dtype),
    np.ones_like: lambda a, dtype=None, **kwargs: _math.ones_like(a, dtype),
    np.linalg.inv: _linalg.inv, np.linalg.det: _linalg.det, np.linalg.solve: _linalg.solve,
    np.linalg.cholesky: lambda a, upper=False: _linalg.cholesky(a),
    np.linalg.norm: lambda x, ord=None, axis=None, keepdims=False: _linalg.norm(
        x, ord="euclidean" if ord is None else ord, axis=axis, keepdims=keepdims),
    np.shape: _value_only(np.shape), np.ndim: _value_only(np.ndim),
    np.size: _value_only(np.size), np.allclose: _value_only(np.allclose),
    np.isclose: _value_only(np.isclose), np.array_equal: _value_only(np.array_equal),
}


def _name(function) -> str:
    module = getattr(function, "__module__", "numpy") or "numpy"
    return f"{module.replace('numpy.', 'numpy.') if module != 'numpy' else 'numpy'}." \
           f"{getattr(function, '__name__', repr(function))}"


def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
    if method == "__call__":
        function = _UFUNCS.get(ufunc)
        if function is not None:
            _no_out(ufunc.__name__, kwargs.pop("out", None), **kwargs)
            return function(*inputs)
    elif method == "reduce" and ufunc in _REDUCERS:
        array, *rest = inputs
        axis = kwargs.pop("axis", rest[0] if rest else 0)
        keepdims = kwargs.pop("keepdims", False)
        _no_out(f"{ufunc.__name__}.reduce", kwargs.pop("out", None), **kwargs)
        return _REDUCERS[ufunc](array, axis=axis, keepdims=keepdims)
    target = f"numpy.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}")
    raise TypeError(f"{target} has no tapegrad op, so it would drop this value off the tape; "
                    "use the tapegrad op (tapegrad.math / tapegrad.nn / tapegrad.linalg) or "
                    "convert explicitly with tensor.numpy().")


def __array_function__(self, func, types, args, kwargs):
    adapter = _FUNCTIONS.get(func)
    if adapter is None:
        raise TypeError(f"{_name(func)} has no tapegrad op, so it would drop this value off the "
                        "tape; use the tapegrad op or convert explicitly with tensor.numpy().")
    return adapter(*args, **kwargs)


for _cls in (Tensor, Variable):
    _cls.__array_ufunc__ = __array_ufunc__
    _cls.__array_function__ = __array_function__
