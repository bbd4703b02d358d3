"""Python values as bytes for ``broadcast_object``/``allgather_object``, without pickle.

JSON carries None, bools, numbers, strings, lists, tuples, dicts (any such keys), bytes, NumPy
arrays and scalars, and tensors/variables (which arrive as NumPy arrays). Anything else is a
TypeError: unpickling bytes from another process would run whatever code they name.
"""

from __future__ import annotations

import base64
import json

from tapegrad._core.backend import np
from tapegrad._core.tensor import Tensor, to_array
from tapegrad._core.variable import Variable


def encode(value) -> bytes:
    return json.dumps(_to_json(value), separators=(",", ":")).encode()


def decode(data: bytes):
    return _from_json(json.loads(data.decode()))


def _array_json(array) -> dict:
    if array.dtype.kind == "O":
        raise TypeError("broadcast_object/allgather_object cannot send arrays of Python objects "
                        "(dtype object); convert them to a list first.")
    array = np.ascontiguousarray(array)
    return {"ndarray": [array.dtype.str, list(array.shape),
                        base64.b64encode(array.tobytes()).decode()]}


def _to_json(value):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        return [_to_json(v) for v in value]
    if isinstance(value, tuple):
        return {"tuple": [_to_json(v) for v in value]}
    if isinstance(value, dict):
        return {"dict": [[_to_json(k), _to_json(v)] for k, v in value.items()]}
    if isinstance(value, bytes):
        return {"bytes": base64.b64encode(value).decode()}
    if isinstance(value, np.generic):
        return {"scalar": _array_json(np.asarray(value))["ndarray"]}
    if isinstance(value, np.ndarray):
        return _array_json(value)
    if isinstance(value, (Tensor, Variable)):
        return _array_json(np.asarray(to_array(value)))
    raise TypeError(
        f"broadcast_object/allgather_object send JSON-like values (None, bool, int, float, str, "
        f"list, tuple, dict, bytes), NumPy arrays and tensors; got {type(value).__name__}. "
        "Convert it to those first (tapegrad sends no pickles: unpickling runs code).")


def _from_json(value):
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    if not isinstance(value, dict):
        return value
    (tag, body), = value.items()
    if tag == "tuple":
        return tuple(_from_json(v) for v in body)
    if tag == "dict":
        return {_from_json(k): _from_json(v) for k, v in body}
    if tag == "bytes":
        return base64.b64decode(body)
    dtype, shape, data = body
    array = np.frombuffer(base64.b64decode(data), dtype=np.dtype(dtype)).reshape(shape).copy()
    return array[()] if tag == "scalar" else array
