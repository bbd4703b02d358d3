"""``tf.strings`` basics on string tensors (object arrays of ``bytes``), and ``tf.io.decode_raw``.

String values carry no gradient; these functions compute with NumPy and return new tensors (or
RaggedTensors where rows differ in length, as TensorFlow).
"""

from __future__ import annotations

from tapegrad._core import dtypes as _dt
from tapegrad._core.backend import np
from tapegrad._core.errors import InvalidArgumentError
from tapegrad._core.tensor import convert_to_tensor, wrap
from tapegrad.ops.composite.ragged import RaggedTensor


def _strings(input, what: str, error=InvalidArgumentError):
    """``input`` as a string Tensor or a RaggedTensor of strings (else ``error``, the type
    TensorFlow raises for that function)."""
    value = input if isinstance(input, RaggedTensor) else convert_to_tensor(input)
    if value.dtype != _dt.string:
        raise error(f"{what} expects strings, got {value.dtype.name} values; convert numbers "
                    f"with tf.strings.as_string.")
    return value


def _map(input, function, dtype, what: str):
    """``function(bytes)`` applied to every string (the result keeps a RaggedTensor's rows)."""
    value = _strings(input, what)
    if isinstance(value, RaggedTensor):
        return value.with_flat_values(_map(value.flat_values, function, dtype, what))
    array = value.numpy()
    out = np.empty(np.shape(array), dtype=np.object_ if dtype is _dt.string else dtype._np)
    for index, item in np.ndenumerate(np.asarray(array, dtype=object)):
        out[index] = function(item)
    return wrap(out)


def _rows_of(input, pieces, what: str, dtype=_dt.string):
    """A rank-0 input's pieces as a vector; a vector's pieces as a RaggedTensor of rows."""
    value = _strings(input, what, ValueError)
    array = np.asarray(value.numpy(), dtype=object)

    def vector(items):
        out = np.empty(len(items), dtype=np.object_ if dtype is _dt.string else dtype._np)
        out[:] = items
        return wrap(out)

    if array.ndim == 0:
        return vector(pieces(array[()]))
    if array.ndim != 1:
        raise ValueError(f"{what} supports a scalar or a vector of strings here, got shape "
                         f"{list(array.shape)}.")
    rows = [pieces(item) for item in array]
    return RaggedTensor.from_row_lengths(vector([p for row in rows for p in row]),
                                         [len(row) for row in rows])


def split(input, sep=None, maxsplit=-1, name=None):
    """Split each string at ``sep`` (runs of whitespace when None).

    >>> import tapegrad as tf
    >>> tf.strings.split(tf.constant("a bc  d")).numpy().tolist()
    [b'a', b'bc', b'd']
    """
    separator = None if sep is None else (sep.encode() if isinstance(sep, str) else bytes(sep))
    if separator == b"":
        raise InvalidArgumentError("tf.strings.split: sep must not be empty (use "
                                   "tf.strings.bytes_split to split into bytes).")
    return _rows_of(input, lambda text: text.split(separator, maxsplit), "tf.strings.split")


def bytes_split(input, name=None):
    """Each string split into single bytes.

    >>> import tapegrad as tf
    >>> tf.strings.bytes_split("hi").numpy().tolist()
    [b'h', b'i']
    """
    return _rows_of(input, lambda text: [text[i:i + 1] for i in range(len(text))],
                    "tf.strings.bytes_split")


def _decode(text: bytes, encoding: str, errors: str) -> str:
    try:
        return text.decode(encoding, errors="strict" if errors == "strict" else "replace")
    except UnicodeDecodeError as error:
        raise InvalidArgumentError(f"Invalid {encoding} string: {error}") from None


def unicode_split(input, input_encoding, errors="replace", replacement_char=65533, name=None):
    """Each string split into its characters (each character's encoded bytes)."""
    return _rows_of(input, lambda text: [c.encode(input_encoding) for c in
                                         _decode(text, input_encoding, errors)],
                    "tf.strings.unicode_split")


def unicode_decode(input, input_encoding, errors="replace", replacement_char=65533,
                   replace_control_characters=False, name=None):
    """Each string's Unicode code points (int32).

    >>> import tapegrad as tf
    >>> tf.strings.unicode_decode("añ", "UTF-8").numpy().tolist()
    [97, 241]
    """
    return _rows_of(input, lambda text: [ord(c) for c in _decode(text, input_encoding, errors)],
                    "tf.strings.unicode_decode", dtype=_dt.int32)


def length(input, unit="BYTE", name=None):
    """The length of each string in bytes (``unit="BYTE"``) or characters (``"UTF8_CHAR"``).

    >>> import tapegrad as tf
    >>> tf.strings.length(["ab", "ñ"]).numpy().tolist()
    [2, 2]
    """
    if unit not in ("BYTE", "UTF8_CHAR"):
        raise InvalidArgumentError(f"unit must be 'BYTE' or 'UTF8_CHAR', got {unit!r}.")
    measure = len if unit == "BYTE" else (lambda text: len(_decode(text, "utf-8", "replace")))
    return _map(input, measure, _dt.int32, "tf.strings.length")


def _case(convert, what):
    def change(input, encoding="", name=None):
        if encoding == "":  # ASCII letters only, as TensorFlow without an encoding
            return _map(input, convert, _dt.string, what)
        return _map(input, lambda t: convert(t.decode(encoding)).encode(encoding),
                    _dt.string, what)
    change.__name__ = what.rsplit(".", 1)[-1]
    change.__doc__ = f"Each string in {change.__name__} case (ASCII unless ``encoding`` is set)."
    return change


lower = _case(lambda text: text.lower(), "tf.strings.lower")
upper = _case(lambda text: text.upper(), "tf.strings.upper")


def join(inputs, separator="", name=None):
    """Elementwise concatenation of string tensors (broadcast), with ``separator`` between.

    >>> import tapegrad as tf
    >>> tf.strings.join(["a", ["x", "y"]], separator="-").numpy().tolist()
    [b'a-x', b'a-y']
    """
    arrays = [np.asarray(_strings(item, "tf.strings.join").numpy(), dtype=object)
              for item in inputs]
    if not arrays:
        raise InvalidArgumentError("tf.strings.join needs at least one input.")
    sep = separator.encode() if isinstance(separator, str) else bytes(separator)
    try:
        parts = np.broadcast_arrays(*arrays)
    except ValueError:
        raise InvalidArgumentError(f"tf.strings.join: input shapes "
                                   f"{[list(a.shape) for a in arrays]} do not broadcast.") from None
    out = np.empty(parts[0].shape, dtype=object)
    for index in np.ndindex(out.shape):
        out[index] = sep.join(part[index] for part in parts)
    return wrap(out)


def to_number(string_tensor, out_type=_dt.float32, name=None):
    """Parse each string as a number of ``out_type``.

    >>> import tapegrad as tf
    >>> tf.strings.to_number(["1.5", "-2"]).numpy().tolist()
    [1.5, -2.0]
    """
    dtype = _dt.as_dtype(out_type)
    if not (dtype.is_floating or dtype.is_integer):
        raise TypeError(f"tf.strings.to_number: out_type must be a float or integer dtype, "
                        f"got {dtype.name}.")

    def parse(text: bytes):
        try:
            return (float if dtype.is_floating else int)(text.decode("utf-8").strip())
        except ValueError:
            raise InvalidArgumentError(f"StringToNumberOp could not correctly convert string: "
                                       f"{text.decode('utf-8', 'replace')}") from None

    return _map(string_tensor, parse, dtype, "tf.strings.to_number")


def as_string(input, precision=-1, scientific=False, shortest=False, width=-1, fill="",
              name=None):
    """Each number formatted as a string (floats with 6 decimals unless ``precision``).

    >>> import tapegrad as tf
    >>> tf.strings.as_string([1.5, 2.0], precision=2).numpy().tolist()
    [b'1.50', b'2.00']
    """
    tensor = convert_to_tensor(input)
    if tensor.dtype == _dt.string:
        return tensor  # already text, returned as TensorFlow does
    if scientific and shortest:
        raise InvalidArgumentError("Cannot select both scientific and shortest notation")
    flags = "0" if fill == "0" else ("" if fill in ("", " ") else None)
    if flags is None:
        raise InvalidArgumentError(f"Fill argument not supported: \"{fill}\"")
    spec = "%" + flags + (str(width) if width > -1 else "")
    if tensor.dtype.is_floating:
        spec += (f".{precision}" if precision > -1 else "") + (
            "e" if scientific else "g" if shortest else "f")
    elif tensor.dtype.is_bool:
        return wrap(np.vectorize(lambda b: b"true" if b else b"false", otypes=[object])(
            tensor.numpy()))
    elif tensor.dtype.is_integer:
        spec += "d"
    else:
        raise TypeError(f"tf.strings.as_string does not format {tensor.dtype.name} values.")
    return wrap(np.vectorize(lambda v: (spec % v).encode(), otypes=[object])(tensor.numpy()))


def decode_raw(input_bytes, out_type, little_endian=True, fixed_length=None, name=None):
    """The bytes of each string reinterpreted as numbers of ``out_type`` (``tf.io``).

    >>> import tapegrad as tf
    >>> tf.io.decode_raw(tf.constant("AB"), tf.uint8).numpy().tolist()
    [65, 66]
    """
    dtype = _dt.as_dtype(out_type)
    array = np.asarray(_strings(input_bytes, "tf.io.decode_raw").numpy(), dtype=object)
    numpy_type = np.dtype(dtype._np).newbyteorder("<" if little_endian else ">")
    rows = []
    for item in array.reshape(-1):
        if len(item) % numpy_type.itemsize:
            raise InvalidArgumentError(f"Input to DecodeRaw has length {len(item)} that is not "
                                       f"a multiple of {numpy_type.itemsize}, the size of "
                                       f"{dtype.name}")
        rows.append(np.frombuffer(item, dtype=numpy_type).astype(dtype._np))
    if len({len(row) for row in rows}) > 1:
        raise InvalidArgumentError("DecodeRaw requires input strings to all be the same size.")
    width = len(rows[0]) if rows else 0
    return wrap(np.stack(rows).reshape(array.shape + (width,)) if rows
                 else np.zeros(array.shape + (0,), dtype=dtype._np))
