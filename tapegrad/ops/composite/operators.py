"""Python operators (``+ - * / // % ** @``, comparisons, indexing) on Tensors and Variables."""

from __future__ import annotations

import weakref

from tapegrad._core.backend import np
from tapegrad._core.errors import InvalidArgumentError
from tapegrad._core.tensor import Tensor, apply1, apply2, wrap
from tapegrad._core.variable import Variable
from tapegrad.ops import array as _array
from tapegrad.ops import linalg as _linalg
from tapegrad.ops import math as _math
from tapegrad.ops._util import binary_operator

ADD, SUB, MUL, POW = _math.ADD, _math.SUB, _math.MUL, _math.POW


__add__ = binary_operator(ADD, refused_operand=InvalidArgumentError, on_string=_math.add)


def __radd__(self, other):
    return apply2(ADD, other, self)


__sub__ = binary_operator(SUB)


def __rsub__(self, other):
    return apply2(SUB, other, self)


__mul__ = binary_operator(MUL, on_bool=_math.logical_and)


def __rmul__(self, other):
    if self._value.dtype.kind == "b":  # (TensorFlow's * is logical_and for bool)
        return _math.logical_and(other, self)
    return apply2(MUL, other, self)


def __truediv__(self, other):
    return _math.truediv(self, other)


def __rtruediv__(self, other):
    return _math.truediv(other, self)


def __floordiv__(self, other):
    return _math.floordiv(self, other)


def __rfloordiv__(self, other):
    return _math.floordiv(other, self)


def __mod__(self, other):
    return _math.floormod(self, other)


def __rmod__(self, other):
    return _math.floormod(other, self)


def __pow__(self, other):
    return apply2(POW, self, other)


def __rpow__(self, other):
    return apply2(POW, other, self)


def __matmul__(self, other):
    return _linalg.matmul(self, other)


def __rmatmul__(self, other):
    return _linalg.matmul(other, self)


def __neg__(self):
    return apply1(_math.NEG, self)


def __pos__(self):
    return self


def __abs__(self):
    return apply1(_math.ABS, self)


def __invert__(self):
    if self._value.dtype.kind == "b":
        return _math.logical_not(self)
    return apply1(_math.INVERT, self)


def _logical_or_bitwise(logical, bitwise, reflected: bool):
    """``&``, ``|``, ``^`` (and their reflected forms): logical on a bool tensor, bitwise on an
    integer one, as TensorFlow's operators."""

    def method(self, other):
        x, y = (other, self) if reflected else (self, other)
        if self._value.dtype.kind == "b":
            return logical(x, y)
        return apply2(bitwise, x, y)

    return method


__and__ = _logical_or_bitwise(_math.logical_and, _math.BITWISE_AND, False)
__rand__ = _logical_or_bitwise(_math.logical_and, _math.BITWISE_AND, True)
__or__ = _logical_or_bitwise(_math.logical_or, _math.BITWISE_OR, False)
__ror__ = _logical_or_bitwise(_math.logical_or, _math.BITWISE_OR, True)
__xor__ = _logical_or_bitwise(_math.logical_xor, _math.BITWISE_XOR, False)
__rxor__ = _logical_or_bitwise(_math.logical_xor, _math.BITWISE_XOR, True)


def _equality(op, unequal_shapes: bool):
    """``==``/``!=``: elementwise, but a plain bool when the shapes cannot broadcast (TensorFlow's
    tensor_equals gives a scalar False for ``==`` there instead of raising)."""

    def method(self, other):
        if other is None:
            return unequal_shapes
        try:
            return apply2(op, self, other)
        except InvalidArgumentError as error:
            if "Incompatible shapes" not in str(error):
                raise
            return wrap(np.asarray(unequal_shapes))

    return method


__eq__ = _equality(_math.EQUAL, False)
__ne__ = _equality(_math.NOT_EQUAL, True)


def __lt__(self, other):
    return apply2(_math.LESS, self, other)


def __le__(self, other):
    return apply2(_math.LESS_EQUAL, self, other)


def __gt__(self, other):
    return apply2(_math.GREATER, self, other)


def __ge__(self, other):
    return apply2(_math.GREATER_EQUAL, self, other)


def __getitem__(self, key):
    return _array.strided_slice_of(self, key)


_SHARED = {name: globals()[name] for name in (
    "__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__", "__truediv__",
    "__rtruediv__", "__floordiv__", "__rfloordiv__", "__mod__", "__rmod__", "__pow__",
    "__rpow__", "__matmul__", "__rmatmul__", "__neg__", "__pos__", "__abs__", "__invert__",
    "__and__", "__rand__", "__or__", "__ror__", "__xor__", "__rxor__", "__eq__", "__ne__",
    "__lt__", "__le__", "__gt__", "__ge__", "__getitem__")}

class _SlicedRead(Tensor):
    """``v[key]``: the sliced read, which can also ``assign`` into that slice of the variable."""

    __slots__ = ()

    def assign(self, value, use_locking=None, name=None, read_value=True):
        variable, key = _SLICE_ORIGINS[id(self)]
        return variable._assign_at(_array.normalize_key(key), value)


_SLICE_ORIGINS: dict = {}


def _variable_getitem(self, key):
    sliced = _array.strided_slice_of(self._read_for_op(), key)
    sliced.__class__ = _SlicedRead
    _SLICE_ORIGINS[id(sliced)] = (self, key)
    weakref.finalize(sliced, _SLICE_ORIGINS.pop, id(sliced), None)
    return sliced


for _cls in (Tensor, Variable):
    for _name, _function in _SHARED.items():
        setattr(_cls, _name, _function)
    _cls.__hash__ = object.__hash__
Variable.__getitem__ = _variable_getitem
