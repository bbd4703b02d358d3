"""Symbolic tensors: what a ``tf.function`` trace hands the Python function.

A symbolic tensor is an ordinary :class:`Tensor` whose class was swapped to
:class:`SymbolicTensor` when the tracer first saw it. It carries the trace's value (the first
call's, or zeros for a trace from specs), so every op's forward runs unchanged while the tracer
records the structure. What must not leak into the program is the *value*: Python code that
reads it (``bool(t)``, ``float(t)``, ``np.asarray(t)``, an op's Python wrapper computing
attributes from it) would freeze one call's value into the trace. Such reads are caught here and
abort the trace (:class:`Untraceable`); the function then runs eagerly with one warning naming
the line. The dispatcher and the backward engine, which hand values only to recorded forwards
and rules, read the value directly; everyone else gets a :class:`_Guard` that answers ``dtype``,
``shape`` and ``ndim`` and reports any other use.

A symbolic tensor that escapes its trace (stored in a global, returned through a side channel)
prints as TensorFlow's ``Tensor("x:0", shape=(), dtype=float32)`` and raises TensorFlow's
TypeError when used.
"""

from __future__ import annotations

import sys
import threading

from tapegrad._core.backend import np
from tapegrad._core.dtypes import from_numpy as _from_numpy
from tapegrad._core.tensor import Tensor, TensorShape
from tapegrad.autodiff.tensor_spec import UnknownShape

_getframe = sys._getframe
_SLOT = Tensor.__dict__["_value"]  # the array slot every Tensor has
_slot_get = _SLOT.__get__
_slot_set = _SLOT.__set__
# A symbolic tensor keeps its _Info in the slot provenance uses for eager tensors (provenance
# sees None there: see SymbolicTensor._origin).
_info_get = Tensor.__dict__["_origin"].__get__
_info_set = Tensor.__dict__["_origin"].__set__


class Untraceable(Exception):
    """The function cannot be compiled for this call: it is run eagerly instead."""

    def __init__(self, reason: str, where: str):
        super().__init__(f"{reason} at {where}")
        self.reason = reason
        self.where = where


class _Tracing(threading.local):
    def __init__(self):
        self.stack: list = []  # tracers that are tracing, innermost last


tracing = _Tracing()


class _Info:
    """What a symbolic tensor knows about itself (kept outside: the class has no room)."""

    __slots__ = ("name", "shape", "owner")

    def __init__(self, name: str, shape: tuple, owner):
        self.name = name
        self.shape = shape
        self.owner = owner  # the tracer whose graph holds the tensor


_OWN_SHAPE = object()


def make_symbolic(tensor: Tensor, name: str, owner, shape=_OWN_SHAPE) -> Tensor:
    """Turn ``tensor`` (a plain Tensor the tracer just saw) into a symbolic one; ``shape``
    (None dims, or None for an unknown rank) is what it shows, by default its value's."""
    tensor.__class__ = SymbolicTensor
    _info_set(tensor, _Info(name, tuple(_slot_get(tensor).shape) if shape is _OWN_SHAPE
                            else shape, owner))
    return tensor


def info_of(tensor) -> _Info:
    return _info_get(tensor)


def array_in_trace(tensor):
    """The array of ``tensor``, a symbolic one's included (its trace value): the compiler's
    read, as the dispatcher's, for code that hands it only to recorded forwards and rules (a
    tensor kept after its trace raises TensorFlow's TypeError)."""
    return tensor._raw


def user_location(depth: int = 2) -> str:
    """``file:line`` of the innermost frame outside tapegrad (the user's code)."""
    frame = sys._getframe(depth)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if not module.startswith("tapegrad.") and not module.startswith("numpy"):
            return f"{frame.f_code.co_filename}:{frame.f_lineno}"
        frame = frame.f_back
    return "<unknown>"


def value_used(what: str):
    """A trace used a value it does not know at replay: abort the innermost trace."""
    raise Untraceable(f"{what} needs a tensor's value while tracing", user_location(3))


def _leaked(tensor) -> TypeError:
    return TypeError(
        f"<tf.Tensor '{_info_get(tensor).name}' shape={_shape_text(tensor)} "
        f"dtype={tensor.dtype.name}> is out of scope and cannot be used here. Use return "
        "values, explicit Python locals or TensorFlow collections to access it. (A tensor "
        "created while tracing a tf.function was kept after the trace; return it from the "
        "function instead.)")


def _shape_text(tensor) -> str:
    dims = _info_get(tensor).shape
    if dims is None:
        return "<unknown>"
    return "(" + ", ".join("None" if d is None else str(d) for d in dims) + \
        ("," if len(dims) == 1 else "") + ")"


#: ids of the code objects that hand values only to recorded forwards and rules (filled by
#: trust(); ids, as a code object's hash is computed afresh on every lookup; the functions
#: live as long as their modules).
_TRUSTED: set = set()


def trust(*modules) -> None:
    """Let every function and method defined in ``modules`` read symbolic values directly."""
    for module in modules:
        for value in vars(module).values():
            _trust_object(value, module.__name__)


def _trust_object(value, module_name: str) -> None:
    if isinstance(value, type):
        if value.__module__ != module_name:
            return
        for member in vars(value).values():
            _trust_object(member, module_name)
        return
    if isinstance(value, property):
        for accessor in (value.fget, value.fset):
            if accessor is not None:
                _trust_object(accessor, module_name)
        return
    code = getattr(value, "__code__", None)
    if code is not None and getattr(value, "__module__", None) == module_name:
        _TRUSTED.add(id(code))
        for constant in code.co_consts:  # nested functions (closures of decorators)
            if hasattr(constant, "co_code"):
                _TRUSTED.add(id(constant))


def trust_functions(*functions) -> None:
    for function in functions:
        _TRUSTED.add(id(function.__code__))


class SymbolicTensor(Tensor):
    """A tensor inside a ``tf.function`` trace: it has a dtype and a shape, not a value."""

    __slots__ = ()

    @property
    def _value(self):
        if not _info_get(self).owner.open:
            raise _leaked(self)
        if id(_getframe(1).f_code) in _TRUSTED:
            return _slot_get(self)
        stack = tracing.stack
        if not stack or stack[-1].converting is self:
            return _slot_get(self)
        return _Guard(_slot_get(self))

    @_value.setter
    def _value(self, value):
        _slot_set(self, value)

    @property
    def _raw(self):
        """The array, for the dispatcher (it hands it only to recorded forwards): a leaked
        tensor still raises."""
        if not _info_get(self).owner.open:
            raise _leaked(self)
        return _slot_get(self)

    # -- metadata: as TensorFlow's graph tensors (readable after the trace too) ------------
    @property
    def dtype(self):
        return _from_numpy(_slot_get(self).dtype)

    @property
    def ndim(self) -> int:
        return _slot_get(self).ndim

    @property
    def shape(self) -> TensorShape:
        dims = _info_get(self).shape
        return UnknownShape() if dims is None else TensorShape(dims)

    @property
    def name(self) -> str:
        return _info_get(self).name

    @property
    def _origin(self):
        return None  # no provenance record (the slot holds the tensor's _Info)

    @_origin.setter
    def _origin(self, value):
        pass

    def numpy(self):
        # (TensorFlow's message: inside a tf.function a tensor has no value; return it, or
        # print it with tf.print)
        raise AttributeError("'SymbolicTensor' object has no attribute 'numpy'")

    def _tensor_conversion(self):
        return self  # conversion keeps the tensor itself (its identity is its place in the trace)

    def __repr__(self) -> str:
        return f"<tf.Tensor '{self.name}' shape={_shape_text(self)} dtype={self.dtype.name}>"

    def __str__(self) -> str:
        return f'Tensor("{self.name}", shape={_shape_text(self)}, dtype={self.dtype.name})'

    # -- Python protocol on a value the trace does not have ------------------------------
    def __bool__(self):
        self._check_open()
        value_used("using a tf.Tensor as a Python bool")

    def __float__(self):
        self._check_open()
        value_used("float(tensor)")

    def __int__(self):
        self._check_open()
        value_used("int(tensor)")

    def __index__(self):
        self._check_open()
        value_used("using a tensor as a Python index")

    def __complex__(self):
        self._check_open()
        value_used("complex(tensor)")

    def __array__(self, dtype=None, copy=None):
        self._check_open()
        value_used("converting a tensor to a NumPy array")

    def _check_open(self):
        if not _info_get(self).owner.open:
            raise _leaked(self)


class _Guard:
    """What untrusted code gets for a symbolic tensor's array: metadata, and an abort of the
    trace on any use of the value."""

    __slots__ = ("_array",)

    def __init__(self, array):
        self._array = array

    @property
    def dtype(self):
        return self._array.dtype

    @property
    def shape(self):
        return self._array.shape

    @property
    def ndim(self):
        return self._array.ndim

    @property
    def size(self):
        return self._array.size

    @property
    def itemsize(self):
        return self._array.itemsize

    def __array__(self, dtype=None, copy=None):
        value_used("reading a tensor's value in Python")

    def __getattr__(self, name):
        value_used(f"reading a tensor's value in Python (.{name})")


def _guarded(name):
    def method(self, *args):
        value_used(f"reading a tensor's value in Python ({name})")
    method.__name__ = name
    return method


for _name in ("__getitem__", "__iter__", "__len__", "__bool__", "__int__", "__float__",
              "__index__", "__complex__", "__add__", "__radd__", "__sub__", "__rsub__",
              "__mul__", "__rmul__", "__truediv__", "__rtruediv__", "__floordiv__", "__mod__",
              "__pow__", "__neg__", "__abs__", "__eq__", "__ne__", "__lt__", "__le__", "__gt__",
              "__ge__", "__and__", "__or__", "__invert__", "__matmul__", "__array_ufunc__",
              "__array_function__"):
    setattr(_Guard, _name, _guarded(_name))
_Guard.__hash__ = object.__hash__


def zeros_like_spec(shape: tuple | None, dtype) -> np.ndarray:
    """The value a trace from a spec runs on: zeros (broadcast, so no memory) of that shape,
    2 along unknown dimensions (not 1, which would broadcast where the real sizes cannot), a
    scalar for an unknown rank."""
    if shape is None:
        return np.zeros((), dtype)
    return np.broadcast_to(np.zeros((), dtype), tuple(2 if d is None else d for d in shape))
