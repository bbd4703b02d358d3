"""DType objects with TensorFlow's names and TensorFlow's conversion rules."""

from __future__ import annotations

from tapegrad._core.backend import np


class DType:
    """A tensor element type, as ``tf.DType``.

    >>> import tapegrad as tf
    >>> tf.float32.name, tf.float32.is_floating, tf.int32.is_integer
    ('float32', True, True)
    """

    __slots__ = ("name", "as_numpy_dtype", "_np")

    def __init__(self, name: str, numpy_type):
        self.name = name
        self.as_numpy_dtype = numpy_type
        self._np = np.dtype(numpy_type)

    @property
    def is_floating(self) -> bool:
        return self._np.kind == "f"

    @property
    def is_complex(self) -> bool:
        return self._np.kind == "c"

    @property
    def is_integer(self) -> bool:
        return self._np.kind in "iu"

    @property
    def is_unsigned(self) -> bool:
        return self._np.kind == "u"

    @property
    def is_bool(self) -> bool:
        return self._np.kind == "b"

    @property
    def is_numeric(self) -> bool:
        return self._np.kind in "iufc"

    @property
    def is_trainable(self) -> bool:
        """Whether gradients can flow through values of this type (floating or complex)."""
        return self._np.kind in "fc"

    @property
    def base_dtype(self) -> DType:
        return self

    @property
    def real_dtype(self) -> DType:
        if self._np.kind == "c":
            return as_dtype(np.finfo(self._np).dtype)
        return self

    @property
    def size(self) -> int:
        return self._np.itemsize

    @property
    def min(self):
        return np.finfo(self._np).min if self._np.kind in "fc" else np.iinfo(self._np).min

    @property
    def max(self):
        return np.finfo(self._np).max if self._np.kind in "fc" else np.iinfo(self._np).max

    def __eq__(self, other) -> bool:
        if isinstance(other, DType):
            return self._np == other._np
        try:
            return self._np == as_dtype(other)._np
        except TypeError:
            return False

    def __ne__(self, other) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return hash(self._np)

    def __repr__(self) -> str:
        return f"tf.{self.name}"  # as TensorFlow prints it (`import tapegrad as tf`)

    def __str__(self) -> str:
        return f"<dtype: {self.name!r}>"

    def __reduce__(self):
        return as_dtype, (self.name,)


float16 = DType("float16", np.float16)
float32 = DType("float32", np.float32)
float64 = DType("float64", np.float64)
int8 = DType("int8", np.int8)
int16 = DType("int16", np.int16)
int32 = DType("int32", np.int32)
int64 = DType("int64", np.int64)
uint8 = DType("uint8", np.uint8)
uint16 = DType("uint16", np.uint16)
uint32 = DType("uint32", np.uint32)
uint64 = DType("uint64", np.uint64)
bool = DType("bool", np.bool_)  # noqa: A001 - TensorFlow's public name
complex64 = DType("complex64", np.complex64)
complex128 = DType("complex128", np.complex128)
string = DType("string", np.object_)
half = float16
double = float64

_ALL = (float16, float32, float64, int8, int16, int32, int64, uint8, uint16, uint32, uint64,
        bool, complex64, complex128, string)
_BY_NUMPY = {d._np: d for d in _ALL}
BY_NAME = {d.name: d for d in _ALL}
BY_NAME.update(half=float16, double=float64)

#: NumPy dtypes through which gradients flow.
TRAINABLE_NUMPY_DTYPES = frozenset(
    np.dtype(t) for t in (np.float16, np.float32, np.float64, np.complex64, np.complex128))


def string_array(value):
    """An object array of ``bytes`` for text: ``str`` items are UTF-8 encoded, as TensorFlow.

    >>> string_array(["ab", b"c"])
    array([b'ab', b'c'], dtype=object)
    """
    array = np.asarray(value, dtype=object)
    if array.ndim == 0:
        return np.array(_as_bytes(array[()]), dtype=object)
    out = np.empty(array.shape, dtype=object)
    for index, item in np.ndenumerate(array):
        out[index] = _as_bytes(item)
    return out


def _as_bytes(item) -> bytes:
    if isinstance(item, bytes):
        return item
    if isinstance(item, np.bytes_):
        return bytes(item)
    if isinstance(item, str):
        return item.encode("utf-8")
    raise ValueError(f"Failed to convert elements of {item!r} to a string tensor: expected str "
                    f"or bytes, got {type(item).__name__}.")


def from_numpy(numpy_dtype) -> DType:
    """The DType of a NumPy dtype (strings and bytes map to ``string``)."""
    found = _BY_NUMPY.get(numpy_dtype)
    if found is not None:
        return found
    numpy_dtype = np.dtype(numpy_dtype)
    if numpy_dtype.kind in "USO":
        return string
    found = _BY_NUMPY.get(numpy_dtype.newbyteorder("="))
    if found is None:
        raise TypeError(f"tapegrad has no dtype for NumPy dtype {numpy_dtype}.")
    return found


def as_dtype(value) -> DType:
    """Convert a DType, a NumPy dtype or type, or a name such as ``'float32'`` to a DType."""
    if isinstance(value, DType):
        return value
    if isinstance(value, str):
        found = BY_NAME.get(value)
        if found is None:
            raise TypeError(f"Unknown dtype name {value!r}; use one of {sorted(BY_NAME)}.")
        return found
    if value is None:
        raise TypeError("Cannot convert None to a tapegrad DType; pass e.g. tapegrad.float32.")
    if value is float:
        return float32
    if value is int:
        return int32
    if value is complex:
        return complex64
    try:
        return from_numpy(np.dtype(value))
    except TypeError:
        raise TypeError(f"Cannot convert {value!r} to a tapegrad DType; "
                        "pass e.g. tapegrad.float32 or 'float32'.") from None
