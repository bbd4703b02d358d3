"""Tensor, conversion of Python/NumPy values, and the op dispatcher (the hot path)."""

from __future__ import annotations

import itertools
import threading
from threading import get_ident

from tapegrad._core import dtypes as _dt
from tapegrad._core import hooks
from tapegrad._core.backend import np
from tapegrad._core.errors import InvalidArgumentError, OpError
from tapegrad._core.registry import NO_GRADIENT, Op

_ndarray = np.ndarray
_from_numpy = _dt.from_numpy


class _ThreadState(threading.local):
    """Per-thread stack of active recorders, outermost first: a tuple set by set_recorders."""

    def __init__(self):
        self.recorders: tuple = tuple(hooks.global_recorders)


state = _ThreadState()
#: Idents of threads whose recorder stack may be non-empty (0: a global recorder is on). The
#: dispatcher tests it before the thread-local read (35 ns, 7% of a small op nothing records).
recording_threads: set = set()


def set_recorders(stack: tuple) -> None:
    """Make ``stack`` (outermost first) this thread's recorder stack: the one way it changes."""
    state.recorders = stack
    if stack:
        recording_threads.add(get_ident())
    elif recording_threads:
        recording_threads.discard(get_ident())


def push_recorder(recorder) -> None:
    """Put ``recorder`` innermost on this thread's stack."""
    state.recorders = state.recorders + (recorder,)  # (set_recorders inlined: every tape entry)
    recording_threads.add(get_ident())


def remove_recorder(recorder) -> None:
    """Take the innermost occurrence of ``recorder`` off this thread's stack (if it is there)."""
    stack = state.recorders
    if stack and stack[-1] is recorder:  # (the usual case: a tape leaving its block)
        state.recorders = stack = stack[:-1]
        if not stack:
            recording_threads.discard(get_ident())
        return
    for position in range(len(stack) - 2, -1, -1):
        if stack[position] is recorder:
            set_recorders(stack[:position] + stack[position + 1:])
            return


class Recorder:
    """What sits on the recorder stack (tapes, forward accumulators, diagnostics).

    The dispatcher calls ``_record1``/``_record2`` for one- and two-input ops (a recorder may
    specialise them for speed) and ``_record`` otherwise; variable reads go to
    ``_read_variable(variable, tensor)`` (``tensor`` is None for an access without a read).
    """

    __slots__ = ()

    def _record(self, op, inputs, output, attrs):
        raise NotImplementedError

    def _record1(self, op, x, output, attrs):
        self._record(op, (x,), output, attrs)

    def _record2(self, op, x, y, output, attrs):
        self._record(op, (x, y), output, attrs)

    def _read_variable(self, variable, tensor):
        pass


class TensorShape(tuple):
    """A tensor's shape: a tuple of ints with TensorFlow's helpers.

    >>> import tapegrad as tf
    >>> tf.zeros([2, 3]).shape.as_list()
    [2, 3]
    """

    __slots__ = ()

    @property
    def rank(self) -> int:
        return len(self)

    @property
    def ndims(self) -> int:
        return len(self)

    def as_list(self) -> list:
        return list(self)

    def num_elements(self) -> int | None:
        if not self.is_fully_defined():
            return None
        n = 1
        for d in self:
            n *= d
        return n

    def is_fully_defined(self) -> bool:
        return None not in self

    def is_compatible_with(self, other) -> bool:
        if getattr(other, "rank", 0) is None:  # a shape of unknown rank fits any
            return True
        other = tuple(other)
        return len(other) == len(self) and all(
            o is None or s is None or o == s for s, o in zip(self, other))

    def __repr__(self) -> str:
        return f"TensorShape({list(self)})"

    def __str__(self) -> str:
        return str(tuple(self)) if len(self) != 1 else f"({self[0]},)"


class Tensor:
    """An immutable value over an array, as ``tf.Tensor`` in eager mode.

    The array is never handed out writable: ``numpy()`` copies and ``np.asarray(t)`` is a
    read-only view, so a value saved on a tape cannot be corrupted.

    >>> import tapegrad as tf
    >>> x = tf.constant([1.0, 2.0])
    >>> (x * x).numpy()
    array([1., 4.], dtype=float32)
    """

    # `_origin` is set only while provenance is on (tapegrad.debugging.enable_provenance).
    # No __init__ (as TensorFlow's, users make tensors with tf.constant): `Tensor()` is then
    # the cheapest way to create one, which the dispatcher does for every op's result.
    __slots__ = ("_value", "_origin", "__weakref__")
    __array_priority__ = 100

    # -- metadata -------------------------------------------------------------------------
    @property
    def dtype(self) -> _dt.DType:
        return _from_numpy(self._value.dtype)

    @property
    def shape(self) -> TensorShape:
        return TensorShape(self._value.shape)

    @property
    def ndim(self) -> int:
        return self._value.ndim

    @property
    def device(self) -> str:
        return "/job:localhost/replica:0/task:0/device:CPU:0"

    def get_shape(self) -> TensorShape:
        return self.shape

    def numpy(self):
        """A NumPy copy of the value (a NumPy scalar for rank 0, as TensorFlow)."""
        value = self._value
        result = (value[()] if isinstance(value, _ndarray) else value) if value.ndim == 0 \
            else value.copy()
        if hooks.provenance is not None:
            hooks.provenance.exported(self, result)
        return result

    def __array__(self, dtype=None, copy=None):
        # NumPy calls this for every NumPy function or ufunc on a tensor: as TensorFlow's eager
        # tensors, a tensor is a plain array to NumPy, and the result is NumPy's, off the tape.
        value = self._value
        if dtype is not None and np.dtype(dtype) != value.dtype:
            result = np.array(value, dtype=dtype)
        elif copy:
            result = np.array(value)
        else:
            result = np.asarray(value).view()
            result.flags.writeable = False
        if hooks.provenance is not None:
            hooks.provenance.exported(self, result)
        return result

    def ref(self):
        return _Reference(self)

    def experimental_ref(self):
        return _Reference(self)

    # -- Python protocol --------------------------------------------------------------------
    def __repr__(self) -> str:
        return f"<tf.Tensor: shape={self.shape}, dtype={self.dtype.name}, " \
               f"numpy={_value_text(self._value, True)}>"

    def __str__(self) -> str:
        return f"tf.Tensor({_value_text(self._value, False)}, shape={self.shape}, " \
               f"dtype={self.dtype.name})"

    def __format__(self, format_spec: str) -> str:
        # As TensorFlow: the NumPy value's format, so f"{loss:.3f}" works on a scalar tensor
        # and "{}".format(t) gives str(t.numpy()).
        return format(self.numpy(), format_spec)

    def __len__(self) -> int:
        if self._value.ndim == 0:
            raise TypeError("len is not well defined for a rank-0 Tensor; use tensor.shape.")
        return self._value.shape[0]

    def __iter__(self):
        if self._value.ndim == 0:
            raise TypeError("Cannot iterate over a scalar Tensor.")
        for i in range(self._value.shape[0]):
            yield self[i]

    def __bool__(self) -> bool:
        return bool(self._value)

    def __float__(self) -> float:
        result = float(self._value)
        if hooks.provenance is not None:
            hooks.provenance.exported(self, result)
        return result

    def __int__(self) -> int:
        return int(self._value)

    def __complex__(self) -> complex:
        return complex(self._value)

    def __index__(self) -> int:
        if self._value.dtype.kind not in "iu":
            raise TypeError(f"Only integer scalar tensors can be used as an index, "
                            f"got {self.dtype.name}.")
        return int(self._value)

    __hash__ = object.__hash__

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self


def _value_text(value, as_repr: bool) -> str:
    """The NumPy text inside TensorFlow's tensor str/repr (a leading newline when multi-line)."""
    value = value[()] if value.ndim == 0 else value
    if not as_repr:
        text = str(value)
    elif isinstance(value, np.generic) and not isinstance(value, bytes):
        text = repr(value.item())  # a Python number, as TensorFlow prints scalars
    else:
        text = repr(value)
    return "\n" + text if "\n" in text else text


class _Reference:
    """Hashable wrapper around a tensor or variable (``t.ref()``), compared by identity."""

    __slots__ = ("_obj",)

    def __init__(self, obj):
        self._obj = obj

    def deref(self):
        return self._obj

    def __hash__(self):
        return id(self._obj)

    def __eq__(self, other):
        return isinstance(other, _Reference) and other._obj is self._obj


# The dispatcher's read of an operand's array: the slot itself (a subclass whose `_value` is
# guarded, tf.function's symbolic tensors, overrides `_raw` with its cheaper check).
Tensor._raw = Tensor.__dict__["_value"]


def array_of(value):
    """A tensor's or variable's array (an unrecorded read), a number as it is, a tuple item-wise."""
    if type(value) is tuple:  # (one or two values, the usual, without a comprehension)
        if len(value) == 1:
            return (getattr(value[0], "_value", value[0]),)
        if len(value) == 2:
            first, second = value
            return getattr(first, "_value", first), getattr(second, "_value", second)
        return tuple([getattr(item, "_value", item) for item in value])
    return getattr(value, "_value", value)


def wrap(value) -> Tensor:
    """A Tensor around the NumPy value ``value``, as it is (no conversion, no copy): the one
    way the layers above make Tensors of arrays they computed."""
    t = Tensor()
    t._value = value
    return t


# -- conversion -------------------------------------------------------------------------------

def to_array(value, dtype=None):
    """NumPy value for ``value`` following TensorFlow's rules (Python float -> float32 ...):
    the one conversion of Python and NumPy values the layers above use."""
    if dtype is not None:
        dtype = _dt.as_dtype(dtype)
    if isinstance(value, Tensor) or hasattr(value, "_read_for_conversion"):
        value = value._value if isinstance(value, Tensor) else \
            value._read_for_conversion()._value
        if dtype is not None and value.dtype != dtype._np:
            return np.asarray(value, dtype=dtype._np)
        return value
    if isinstance(value, (_ndarray, np.generic)):
        target = dtype._np if dtype is not None else value.dtype
        if value.dtype.kind in "US" or target == np.object_:
            return _dt.string_array(value)
        _check_safe_cast(value, target)
        return np.array(value, dtype=target)
    if value is None:
        raise ValueError("Attempt to convert a value (None) with an unsupported type "
                         "(<class 'NoneType'>) to a Tensor.")
    if dtype is not None:
        return _python_to_array(value, dtype)
    return _default_array(value)


def _python_to_array(value, dtype: _dt.DType):
    """A Python value (number, nested list) as an array of ``dtype``."""
    if dtype is _dt.string:
        return _dt.string_array(value)
    array = np.asarray(value)
    if array.dtype.kind == "O":
        array = np.asarray(_materialize(value))
    _check_safe_cast(array, dtype._np)
    return np.asarray(array, dtype=dtype._np)


def _default_array(value):
    """A Python value as TensorFlow types it: floats float32, ints int32 (int64 when one does
    not fit), complex complex128, strings bytes."""
    array = np.asarray(value)
    kind = array.dtype.kind
    if kind == "f":
        return array.astype(np.float32)
    if kind == "i":
        info = np.iinfo(np.int32)
        if array.size and (array.max() > info.max or array.min() < info.min):
            return array.astype(np.int64)
        return array.astype(np.int32)
    if kind == "c":
        return array.astype(np.complex128)
    if kind in "US":
        # from the Python objects, so that a number among strings is refused as TensorFlow does
        return _dt.string_array(np.array(value, dtype=object))
    if kind == "O":
        return to_array(_materialize(value))
    return array


def _materialize(value):
    """Nested lists that contain tensors or variables become nested lists of NumPy values."""
    if isinstance(value, (list, tuple)):
        return [_materialize(v) for v in value]
    if isinstance(value, Tensor):
        return value._value
    if hasattr(value, "_read_for_conversion"):
        return value._read_for_conversion()._value
    if isinstance(value, (str, bytes)):
        return value
    raise ValueError(f"Attempt to convert a value ({value!r}) with an unsupported type "
                     f"({type(value)}) to a Tensor.")


def _check_safe_cast(array, target):
    target = np.dtype(target)
    if array.dtype.kind == "f" and target.kind in "iub" and array.size:
        if not np.all(np.isfinite(array)) or np.any(np.mod(array, 1) != 0):
            raise TypeError(f"Cannot convert {array.tolist()!r} to a tensor of dtype "
                            f"{target.name}: it holds non-integer values; round or cast first.")
    if array.dtype.kind == "c" and target.kind in "fiub":
        raise TypeError(f"Cannot convert complex values to {target.name}; use "
                        "tapegrad.math.real or tapegrad.cast explicitly.")


def convert_to_tensor(value, dtype=None, dtype_hint=None, name=None) -> Tensor:
    """Convert a Python number, nested list, NumPy array, Tensor or Variable to a Tensor.

    A Tensor is returned as the same object; a Variable is read (a recorded read when a tape
    is active).

    >>> import tapegrad as tf
    >>> tf.convert_to_tensor([1.0, 2.0]).dtype
    tf.float32
    """
    if isinstance(value, Tensor):  # (a subclass too: v[0:2] stays on the tape)
        if dtype is not None and _dt.as_dtype(dtype)._np != value._raw.dtype:
            raise ValueError(f"Tensor conversion requested dtype {_dt.as_dtype(dtype).name} "
                             f"for Tensor with dtype {value.dtype.name}; use tapegrad.cast.")
        return value
    converter = getattr(value, "_tensor_conversion", None)
    if converter is not None:
        result = converter()
        if dtype is not None and _dt.as_dtype(dtype)._np != result._value.dtype:
            raise ValueError(f"Tensor conversion requested dtype {_dt.as_dtype(dtype).name} "
                             f"for a value of dtype {result.dtype.name}; use tapegrad.cast.")
        return result
    result = None
    if dtype is None and dtype_hint is not None:
        try:
            result = wrap(to_array(value, dtype_hint))
        except (TypeError, ValueError):
            pass
    if result is None:
        result = wrap(to_array(value, dtype))
    if hooks.provenance is not None:
        hooks.provenance.constant_created(value, result)
    return result


# -- dispatch ---------------------------------------------------------------------------------

class RefusedScalar(TypeError):
    """A Python number that cannot take the other operand's dtype (TensorFlow's TypeError
    "Cannot convert 2.5 to EagerTensor of dtype int32")."""


def op_input(value, like):
    """(object to save, array or Python scalar to compute with) for one op input.

    ``like`` is the NumPy dtype of a tensor operand of the same op (or None): Python scalars and
    arrays adopt it, as TensorFlow converts the other operands to the first tensor's dtype.

    >>> op_input([1, 2], np.dtype(np.float64))[1]
    array([1., 2.])
    """
    kind = type(value)
    if kind is float or kind is int:
        if like is None:
            value = wrap(to_array(value))
            return value, value._value
        if kind is float and like.kind in "iub":
            # TensorFlow converts the scalar to the tensor's dtype and refuses any float.
            raise RefusedScalar(f"Cannot convert {value!r} to EagerTensor of dtype "
                            f"{_from_numpy(like).name}: cast the tensor first (tapegrad.cast(x, "
                            f"tapegrad.float32)) or pass an int.")
        if like.kind == "b":
            # (TensorFlow converts no Python number to bool: `bool_tensor > 0` is refused)
            raise RefusedScalar(f"Cannot convert {value!r} to EagerTensor of dtype bool: compare "
                            "or combine bool tensors with bool values (True/False).")
        return value, value
    read = getattr(value, "_read_for_op", None)
    if read is not None:
        tensor = read()
        return tensor, tensor._value
    if isinstance(value, Tensor):
        return value, value._raw
    if hasattr(value, "_tensor_conversion"):
        tensor = value._tensor_conversion()
        return tensor, tensor._value
    tensor = wrap(to_array(value, like))
    if hooks.provenance is not None:
        hooks.provenance.constant_created(value, tensor)
    return tensor, tensor._value


def _mismatch(op: Op, a, b):
    raise InvalidArgumentError(
        f"{op.name}: cannot combine a {_dtype_name(a)} tensor with a {_dtype_name(b)} "
        f"tensor (tapegrad, like TensorFlow, never promotes silently). Convert one side "
        f"with tapegrad.cast(x, tapegrad.{_dtype_name(b)}) or tapegrad.cast(y, "
        f"tapegrad.{_dtype_name(a)}).")


def _numpy_error(op: Op, error: Exception):
    """NumPy's ValueError/IndexError/LinAlgError from inside an op's forward never escape as
    such: TensorFlow's kernels raise InvalidArgumentError (errors tapegrad raises itself pass
    unchanged)."""
    if isinstance(error, OpError):
        raise error
    raise InvalidArgumentError(f"{op.name}: {error} (the inputs' shapes or values do not fit "
                               "this op)") from error


def _unsupported_dtype(op: Op, dtype):
    """TensorFlow's error for a dtype the op's kernels do not take."""
    names = sorted((_from_numpy(d).name for d in op.dtypes), key=_DTYPE_ORDER.index)
    suggestion = "float32" if "float32" in names else names[-1]
    raise InvalidArgumentError(
        f"Value for attr 'T' of {_from_numpy(dtype).name} is not in the list of allowed "
        f"values: {', '.join(names)} (op {op.name}); cast the input first, e.g. "
        f"tapegrad.cast(x, tapegrad.{suggestion}).")


_DTYPE_ORDER = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
                "uint64", "float16", "float32", "float64", "complex64", "complex128"]


def _dtype_name(value) -> str:
    return _from_numpy(value.dtype).name


def _shape_error(op: Op, values, error: Exception):
    shapes = " vs. ".join(str(list(np.shape(v))) for v in values)
    raise InvalidArgumentError(f"{op.name}: Incompatible shapes: {shapes}. {error}") from None


def apply1(op: Op, x, attrs: dict | None = None):
    """Run a one-input op and record it on every active recorder."""
    if type(x) is Tensor:
        value = x._value
    else:
        if op.elementwise and hasattr(x, "__tapegrad_elementwise__"):  # (tf.ragged)
            return _map_over_values(op, x, attrs)
        x, value = op_input(x, None)
    dtype = value.dtype
    if dtype is not op.usual_dtype and op.dtypes is not None and dtype not in op.dtypes:
        _unsupported_dtype(op, dtype)
    try:
        forward = op.forward  # (a call of `op.forward(...)` would look the name up on Op)
        out = forward(value, **attrs) if attrs else forward(value)
    except (ValueError, IndexError) as error:
        _numpy_error(op, error)
    result = Tensor()
    result._value = out
    if recording_threads:
        for recorder in state.recorders:
            recorder._record1(op, x, result, attrs)
    return result


def _map_over_values(op: Op, composite, attrs):
    """An elementwise op on a composite tensor: the op on its values, in its structure. (Kept
    out of apply1: a closure there would slow every call.)"""
    return composite.__tapegrad_elementwise__(lambda values: apply1(op, values, attrs))


def apply2(op: Op, x, y, attrs: dict | None = None):
    """Run a two-input op (with broadcasting and TensorFlow's dtype rules) and record it."""
    if type(x) is Tensor and type(y) is Tensor:
        xv = x._value
        yv = y._value
        if xv.dtype is not yv.dtype and xv.dtype != yv.dtype:
            _mismatch(op, xv, yv)
    else:
        x, xv, y, yv = _two_operands(op, x, y)
    accepted = op.dtypes
    if accepted is not None:
        dtype = xv.dtype if type(xv) is _ndarray else np.result_type(xv, yv)
        if dtype is not op.usual_dtype and dtype not in accepted:
            _unsupported_dtype(op, dtype)
    try:
        forward = op.forward
        out = forward(xv, yv, **attrs) if attrs else forward(xv, yv)
    except ValueError as error:
        _shape_error(op, (xv, yv), error)
    if type(out) is not _ndarray:
        out = _as_array_result(out)
    result = Tensor()
    result._value = out
    if recording_threads:
        for recorder in state.recorders:
            recorder._record2(op, x, y, result, attrs)
    return result


def _two_operands(op: Op, x, y) -> tuple:
    """``(x, x's value, y, y's value)`` for two operands that are not both Tensors: the others
    are converted to a tensor operand's dtype (TensorFlow's rule; Python scalars stay scalars)."""
    if type(x) is Tensor:
        xv = x._value
        y, yv = op_input(y, xv.dtype)
        if type(yv) is not float and type(yv) is not int and xv.dtype != yv.dtype:
            _mismatch(op, xv, yv)
    elif type(y) is Tensor:
        yv = y._value
        x, xv = op_input(x, yv.dtype)
        if type(xv) is not float and type(xv) is not int and xv.dtype != yv.dtype:
            _mismatch(op, xv, yv)
    elif (type(x) is float or type(x) is int) and (
            isinstance(y, Tensor) or hasattr(y, "_read_for_op") or
            hasattr(y, "_tensor_conversion")):
        y, yv = op_input(y, None)
        x, xv = op_input(x, yv.dtype)
    else:  # (no tensor operand: the first value's dtype, as TensorFlow's eager conversion)
        x, xv = op_input(x, None)
        y, yv = op_input(y, xv.dtype)
        if type(yv) is not float and type(yv) is not int and xv.dtype != yv.dtype:
            _mismatch(op, xv, yv)
    return x, xv, y, yv


def as_value(out):
    """An op's result as a tensor's value: arrays as they are, bare bytes as a 0-d object array."""
    if isinstance(out, (_ndarray, np.generic)):
        return out
    return np.array(out, dtype=object) if type(out) is bytes else np.asarray(out)


def _as_array_result(out):
    # NumPy scalars are immutable and kept; anything else (a Python number) becomes an array.
    if isinstance(out, np.generic):
        return out
    return np.asarray(out)


def apply(op: Op, inputs, attrs: dict | None = None, *, same_dtype: bool = False):
    """Run an op on any number of inputs (``same_dtype`` enforces one dtype across them)."""
    saved, values = _operands(op, inputs, same_dtype)
    accepted = op.dtypes
    if accepted is not None and values and np.asarray(values[0]).dtype not in accepted:
        _unsupported_dtype(op, np.asarray(values[0]).dtype)
    try:
        out = op.forward(*values, **attrs) if attrs else op.forward(*values)
    except (ValueError, IndexError) as error:
        _numpy_error(op, error)
    if op.n_outputs == 1:
        result = Tensor()
        result._value = as_value(out)
    else:
        result = tuple(wrap(as_value(o)) for o in out)
    if recording_threads and state.recorders:
        inputs = tuple(saved)
        for recorder in state.recorders:
            recorder._record(op, inputs, result, attrs)
    return result


def _operands(op: Op, inputs, same_dtype: bool) -> tuple[list, list]:
    """The objects to record and the values to compute with, for each input: the first
    tensor's dtype is the one Python numbers (and, with ``same_dtype``, every input) take."""
    saved = []
    values = []
    like = None
    for item in inputs:
        if isinstance(item, Tensor) or hasattr(item, "_read_for_op"):
            like = (item._value if isinstance(item, Tensor) else item._value).dtype
            break
    for item in inputs:
        if type(item) is Tensor:
            saved.append(item)
            values.append(item._value)
        else:
            obj, value = op_input(item, like if same_dtype else None)
            if type(value) is float or type(value) is int:
                obj = wrap(to_array(value, like))
                value = obj._value
            saved.append(obj)
            values.append(value)
            if like is None:
                like = value.dtype
    if same_dtype and values:
        first = values[0]
        for value in values[1:]:
            if value.dtype != first.dtype:
                _mismatch(op, first, value)
    return saved, values


# -- helpers shared by the tape and the ops ---------------------------------------------------

_uid = itertools.count()


def next_uid() -> int:
    return next(_uid)


__all__ = ["Tensor", "TensorShape", "convert_to_tensor", "apply", "apply1", "apply2", "state",
           "wrap", "to_array", "array_of", "as_value", "NO_GRADIENT"]
