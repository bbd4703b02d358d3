"""``tf.ragged``: RaggedTensor (rows of different lengths) as flat values plus row splits.

A RaggedTensor of ragged rank ``k`` holds ``k`` levels of ``row_splits`` over one dense
``flat_values`` tensor. Elementwise math runs on ``flat_values`` and reductions and
``to_tensor`` are written with recorded ops (scatter_nd, tensor_scatter_nd_max/min), so
gradients reach the flat values, as in TensorFlow.
"""

from __future__ import annotations

from tapegrad._core import dtypes as _dt
from tapegrad._core.backend import np
from tapegrad._core.errors import InvalidArgumentError
from tapegrad._core.tensor import Tensor, TensorShape, apply, convert_to_tensor, wrap
from tapegrad.ops import array as _array
from tapegrad.ops import math as _math
from tapegrad.ops import reduction as _reduction
from tapegrad.ops.array import SCATTER_ND, tensor_scatter_nd_max, tensor_scatter_nd_min


def _int64(value) -> np.ndarray:
    return np.asarray(value.numpy() if isinstance(value, Tensor) else value, dtype=np.int64)


class RaggedTensor:
    """A tensor whose rows (along one or more axes) may have different lengths.

    >>> import tapegrad as tf
    >>> rt = tf.ragged.constant([[1, 2, 3], [], [4]])
    >>> rt
    <tf.RaggedTensor [[1, 2, 3], [], [4]]>
    >>> rt.row_lengths().numpy().tolist(), rt.shape
    ([3, 0, 1], TensorShape([3, None]))
    """

    def __init__(self, values, row_splits):
        self._values = values  # a Tensor, or a RaggedTensor for a deeper ragged rank
        self._row_splits = _int64(row_splits)
        splits = self._row_splits
        if splits.ndim != 1 or not splits.size or splits[0] != 0 or np.any(np.diff(splits) < 0):
            raise InvalidArgumentError(f"row_splits must be a non-empty, non-decreasing vector "
                                       f"starting at 0, got {splits.tolist()}.")
        if splits[-1] != _nrows(values):
            raise InvalidArgumentError(f"Arguments to from_row_splits do not form a valid "
                                       f"RaggedTensor: the last row split ({splits[-1]}) must "
                                       f"equal the number of values ({_nrows(values)}).")

    # -- construction ----------------------------------------------------------------------
    @classmethod
    def from_row_splits(cls, values, row_splits, name=None, validate=True) -> RaggedTensor:
        return cls(_as_values(values), row_splits)

    @classmethod
    def from_row_lengths(cls, values, row_lengths, name=None, validate=True) -> RaggedTensor:
        lengths = _int64(row_lengths)
        if np.any(lengths < 0):
            raise InvalidArgumentError(f"row_lengths must be >= 0, got {lengths.tolist()}.")
        return cls(_as_values(values), np.concatenate([[0], np.cumsum(lengths)]))

    @classmethod
    def from_value_rowids(cls, values, value_rowids, nrows=None, name=None,
                          validate=True) -> RaggedTensor:
        ids = _int64(value_rowids)
        count = int(nrows) if nrows is not None else (int(ids[-1]) + 1 if ids.size else 0)
        return cls.from_row_lengths(values, np.bincount(ids, minlength=count))

    # -- structure -------------------------------------------------------------------------
    @property
    def values(self):
        return self._values

    @property
    def flat_values(self) -> Tensor:
        values = self._values
        while isinstance(values, RaggedTensor):
            values = values._values
        return values

    @property
    def row_splits(self) -> Tensor:
        return wrap(self._row_splits.copy())

    @property
    def ragged_rank(self) -> int:
        return 1 + (self._values.ragged_rank if isinstance(self._values, RaggedTensor) else 0)

    @property
    def dtype(self):
        return self.flat_values.dtype

    @property
    def shape(self) -> TensorShape:
        return TensorShape([self.nrows_int()] + [None] * self.ragged_rank
                           + list(self.flat_values.shape[1:]))

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def nrows_int(self) -> int:
        return len(self._row_splits) - 1

    def nrows(self, out_type=_dt.int64, name=None) -> Tensor:
        return wrap(np.asarray(self.nrows_int(), dtype=_dt.as_dtype(out_type)._np))

    def row_lengths(self, axis=1, name=None):
        """The length of each row along ``axis`` (a RaggedTensor for axis > 1)."""
        if axis == 1:
            return wrap(np.diff(self._row_splits))
        if axis < 1 or not isinstance(self._values, RaggedTensor):
            raise ValueError(f"axis={axis} is not a ragged axis of this RaggedTensor "
                             f"(ragged rank {self.ragged_rank}).")
        return self.with_values(self._values.row_lengths(axis - 1))

    def value_rowids(self, name=None) -> Tensor:
        return wrap(_row_ids(self._row_splits))

    def with_values(self, new_values) -> RaggedTensor:
        return RaggedTensor(_as_values(new_values), self._row_splits)

    def __tapegrad_elementwise__(self, function) -> RaggedTensor:
        """A one-input elementwise op (``tf.exp``, ``tf.abs``, ...) maps over the values, as
        TensorFlow's dispatch does."""
        return self.with_flat_values(function(self.flat_values))

    def __tapegrad_reduce__(self, op_name: str, axis, keepdims: bool):
        """``tf.reduce_sum``/``mean``/``max``/``min`` over a RaggedTensor (op ``Sum``, ...)."""
        return _reduce_ragged(op_name.lower(), self, axis, keepdims)

    def with_flat_values(self, new_values) -> RaggedTensor:
        if isinstance(self._values, RaggedTensor):
            return self.with_values(self._values.with_flat_values(new_values))
        return self.with_values(new_values)

    def bounding_shape(self, axis=None, name=None, out_type=_dt.int64) -> Tensor:
        shape = np.asarray(_bounding_shape(self), dtype=_dt.as_dtype(out_type)._np)
        return wrap(shape if axis is None else shape[axis])

    # -- conversion ------------------------------------------------------------------------
    def to_list(self) -> list:
        """Nested Python lists of the rows."""
        return _rows(self, lambda flat: flat.numpy().tolist())

    def to_tensor(self, default_value=None, name=None, shape=None) -> Tensor:
        """A dense tensor, short rows padded with ``default_value`` (zero by default)."""
        full = _bounding_shape(self)
        if shape is not None:
            full = [f if s is None else int(s) for f, s in zip(full, shape)]
        coords, flat = _coordinates(self), self.flat_values
        inside = np.all(coords[:, : len(full) - flat.ndim + 1] <
                        np.asarray(full[: len(full) - flat.ndim + 1]), axis=1) \
            if len(coords) else np.zeros(0, dtype=bool)
        rows = wrap(coords[inside, : self.ragged_rank + 1])
        kept = _array.boolean_mask(flat, wrap(inside)) if not inside.all() else flat
        cut = [slice(None)] + [slice(0, n) for n in full[self.ragged_rank + 1:]]
        kept = kept[tuple(cut)] if len(cut) > 1 else kept
        dense = apply(SCATTER_ND, (rows, kept), {"shape": tuple(full)})
        if default_value is None:
            return dense
        unset = np.ones(full[: self.ragged_rank + 1], dtype=bool)
        unset[tuple(coords[inside, : self.ragged_rank + 1].T)] = False
        unset = unset.reshape(unset.shape + (1,) * (len(full) - unset.ndim))
        default = _math.cast(convert_to_tensor(default_value, dtype_hint=self.dtype), self.dtype)
        return _array.where(wrap(np.broadcast_to(unset, full)), default, dense)

    def numpy(self):
        """An object array of the rows, each a NumPy array (an object array of rows again for
        a deeper ragged rank), as TensorFlow's ``numpy()``."""
        inner = self._values.numpy()
        splits = self._row_splits
        out = np.empty(len(splits) - 1, dtype=object)
        for i in range(len(out)):  # item by item: equal-length rows must not become a 2-D array
            out[i] = inner[splits[i]: splits[i + 1]]
        return out

    def __repr__(self) -> str:
        return f"<tf.RaggedTensor {_text(_rows(self, lambda flat: list(flat.numpy())))}>"

    __str__ = __repr__

    def __len__(self) -> int:
        return self.nrows_int()

    def __iter__(self):
        for i in range(self.nrows_int()):
            yield self[i]

    def __getitem__(self, key):
        if isinstance(key, (int, np.integer)):
            count = self.nrows_int()
            if not -count <= key < count:
                raise IndexError(f"row {key} is out of range for {count} rows")
            key %= count
            start, stop = self._row_splits[key], self._row_splits[key + 1]
            return _slice_values(self._values, int(start), int(stop))
        raise TypeError("RaggedTensor supports integer row indexing only here; use to_tensor() "
                        "or tf.gather on row_lengths for other selections.")

    # -- elementwise math ------------------------------------------------------------------
    def _elementwise(self, other, function):
        if isinstance(other, RaggedTensor):
            if not np.array_equal(_all_splits(self), _all_splits(other)):
                raise InvalidArgumentError("Condition x == y did not hold: ragged operands "
                                           "must have the same row partitions.")
            other = other.flat_values
        elif not isinstance(other, (int, float, bool)) and np.ndim(other) > 0:
            raise ValueError("A RaggedTensor combines with a scalar or a RaggedTensor of the "
                             "same row lengths here; convert the dense operand with "
                             "tf.RaggedTensor.from_row_lengths first.")
        return self.with_flat_values(function(self.flat_values, other))

    def __add__(self, other):
        return self._elementwise(other, _math.add)

    def __radd__(self, other):
        return self._elementwise(other, lambda a, b: _math.add(b, a))

    def __sub__(self, other):
        return self._elementwise(other, _math.subtract)

    def __rsub__(self, other):
        return self._elementwise(other, lambda a, b: _math.subtract(b, a))

    def __mul__(self, other):
        return self._elementwise(other, _math.multiply)

    def __rmul__(self, other):
        return self._elementwise(other, lambda a, b: _math.multiply(b, a))

    def __truediv__(self, other):
        return self._elementwise(other, _math.truediv)

    def __rtruediv__(self, other):
        return self._elementwise(other, lambda a, b: _math.truediv(b, a))

    def __pow__(self, other):
        return self._elementwise(other, _math.pow)

    def __neg__(self):
        return self.with_flat_values(_math.negative(self.flat_values))

    def __abs__(self):
        return self.with_flat_values(_math.abs(self.flat_values))

    def __lt__(self, other):
        return self._elementwise(other, _math.less)

    def __le__(self, other):
        return self._elementwise(other, _math.less_equal)

    def __gt__(self, other):
        return self._elementwise(other, _math.greater)

    def __ge__(self, other):
        return self._elementwise(other, _math.greater_equal)

    __hash__ = object.__hash__


# -- helpers ----------------------------------------------------------------------------------

def _as_values(values):
    return values if isinstance(values, RaggedTensor) else convert_to_tensor(values)


def _nrows(values) -> int:
    return values.nrows_int() if isinstance(values, RaggedTensor) else int(values.shape[0])


def _row_ids(splits: np.ndarray) -> np.ndarray:
    return np.repeat(np.arange(len(splits) - 1, dtype=np.int64), np.diff(splits))


def _all_splits(rt: RaggedTensor) -> np.ndarray:
    parts = []
    while isinstance(rt, RaggedTensor):
        parts.append(rt._row_splits)
        rt = rt._values
    return np.concatenate(parts + [np.asarray(rt.shape, dtype=np.int64)])


def _slice_values(values, start: int, stop: int):
    if isinstance(values, RaggedTensor):
        splits = values._row_splits[start: stop + 1]
        return RaggedTensor(_slice_values(values._values, int(splits[0]), int(splits[-1])),
                            splits - splits[0])
    return values[start:stop]


def _rows(rt, leaf):
    """Nested lists of rows; ``leaf(flat_values)`` converts the dense values."""
    if not isinstance(rt, RaggedTensor):
        return leaf(rt)
    inner = _rows(rt._values, leaf)
    splits = rt._row_splits
    return [list(inner[splits[i]: splits[i + 1]]) for i in range(len(splits) - 1)]


def _text(item) -> str:
    # NumPy scalars print in their own precision (float32 0.1 as 0.1), as TensorFlow's repr
    if isinstance(item, (list, np.ndarray)):
        return "[" + ", ".join(_text(x) for x in item) + "]"
    if isinstance(item, (bytes, np.bytes_)):
        return repr(bytes(item))
    return str(item)


def _bounding_shape(rt: RaggedTensor) -> list:
    shape = [rt.nrows_int()]
    level = rt
    while isinstance(level, RaggedTensor):
        lengths = np.diff(level._row_splits)
        shape.append(int(lengths.max()) if lengths.size else 0)
        level = level._values
    return shape + [int(d) for d in level.shape[1:]]


def _coordinates(rt: RaggedTensor) -> np.ndarray:
    """For each row of flat_values, its index along the outer and every ragged axis."""
    levels = []
    level = rt
    while isinstance(level, RaggedTensor):
        levels.append(level._row_splits)
        level = level._values
    coords = np.arange(int(level.shape[0]), dtype=np.int64).reshape(-1, 1)
    for splits in reversed(levels):
        ids = _row_ids(splits)
        position = coords[:, 0] - splits[ids[coords[:, 0]]] if len(coords) else coords[:, 0]
        coords = np.concatenate([ids[coords[:, 0]].reshape(-1, 1), position.reshape(-1, 1),
                                 coords[:, 1:]], axis=1)
    return coords


# -- tf.ragged functions ----------------------------------------------------------------------

def _depth(value) -> int:
    if isinstance(value, (list, tuple)):
        depths = {_depth(v) for v in value}
        if len(depths) > 1:
            raise ValueError("all scalar values must have the same nesting depth")
        return 1 + (depths.pop() if depths else 0)
    if isinstance(value, np.ndarray):
        return value.ndim
    return 0


def constant(pylist, dtype=None, ragged_rank=None, inner_shape=None, name=None,
             row_splits_dtype=_dt.int64) -> RaggedTensor:
    """A RaggedTensor from nested Python lists (every axis but the first ragged by default).

    >>> import tapegrad as tf
    >>> tf.ragged.constant([[1.0, 2.0], [3.0]]).to_tensor().numpy().tolist()
    [[1.0, 2.0], [3.0, 0.0]]
    """
    depth = _depth(pylist)
    inner = len(inner_shape) if inner_shape is not None else 0
    if ragged_rank is None:
        ragged_rank = max(1, depth - 1 - inner)
    if depth < 2 or not 0 < ragged_rank < depth:
        raise ValueError(f"Invalid pylist={pylist!r}: a RaggedTensor needs at least two "
                         f"levels of nesting and 0 < ragged_rank < {max(depth, 1)}.")

    def build(rows, rank):
        if rank == 0:
            flat = convert_to_tensor(rows if rows else np.zeros(
                (0,) + tuple(inner_shape or ()), dtype=_dt.as_dtype(dtype or _dt.float32)._np),
                dtype=dtype)
            return flat
        lengths = [len(row) for row in rows]
        return RaggedTensor.from_row_lengths(
            build([item for row in rows for item in row], rank - 1), lengths)

    return build(list(pylist), ragged_rank)


def map_flat_values(op, *args, **kwargs):
    """``op`` applied to the flat values of the RaggedTensor arguments (same row partitions).

    >>> import tapegrad as tf
    >>> tf.ragged.map_flat_values(tf.square, tf.ragged.constant([[1, 2], [3]]))
    <tf.RaggedTensor [[1, 4], [9]]>
    """
    ragged = [a for a in list(args) + list(kwargs.values()) if isinstance(a, RaggedTensor)]
    if not ragged:
        raise ValueError("map_flat_values needs at least one RaggedTensor argument.")
    first = ragged[0]
    for other in ragged[1:]:
        if not np.array_equal(_all_splits(first), _all_splits(other)):
            raise InvalidArgumentError("map_flat_values: inputs must have identical row "
                                       "partitions.")
    flat = lambda a: a.flat_values if isinstance(a, RaggedTensor) else a  # noqa: E731
    result = op(*[flat(a) for a in args], **{k: flat(v) for k, v in kwargs.items()})
    return first.with_flat_values(result)


# -- reductions -------------------------------------------------------------------------------

def _reduce_ragged(kind: str, rt: RaggedTensor, axis, keepdims: bool):
    if rt.ragged_rank != 1 or rt.flat_values.ndim != 1:
        raise NotImplementedError(f"reduce_{kind} over a RaggedTensor supports ragged rank 1 "
                                  f"with scalar values here; got shape {rt.shape}. Use "
                                  f"to_tensor() first.")
    flat = rt.flat_values
    if axis is None:
        return getattr(_reduction, f"reduce_{kind}")(flat)
    axis = int(axis) + (2 if int(axis) < 0 else 0)
    coords = _coordinates(rt)
    if axis not in (0, 1):
        raise ValueError(f"axis {axis} is out of range for a rank-2 RaggedTensor.")
    segment = coords[:, 0] if axis == 1 else coords[:, 1]
    count = rt.nrows_int() if axis == 1 else _bounding_shape(rt)[1]
    index = wrap(segment.reshape(-1, 1))
    sizes = np.bincount(segment, minlength=count)
    if kind in ("sum", "mean"):
        total = apply(SCATTER_ND, (index, flat), {"shape": (count,)})
        if kind == "sum":
            result = total
        elif flat.dtype.is_integer:  # TensorFlow's ragged mean of integers is float64
            result = wrap(total.numpy().astype(np.float64) / sizes)
        else:
            result = _math.truediv(total, _math.cast(wrap(sizes), flat.dtype))
    elif kind in ("max", "min"):
        limits = np.finfo(flat.dtype._np) if flat.dtype.is_floating else np.iinfo(flat.dtype._np)
        start = np.full(count, limits.min if kind == "max" else limits.max, dtype=flat.dtype._np)
        scatter = tensor_scatter_nd_max if kind == "max" else tensor_scatter_nd_min
        result = scatter(wrap(start), index, flat)
    else:  # prod
        raise NotImplementedError("reduce_prod over a RaggedTensor is not supported here; use "
                                  "to_tensor(default_value=1) first.")
    return _array.expand_dims(result, axis) if keepdims else result
