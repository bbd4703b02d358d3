"""Shape and array ops: reshape, transpose, broadcast, slicing, gather, where, concat, creation."""

from __future__ import annotations

import builtins

from tapegrad._core import dtypes as _dt
from tapegrad._core import hooks
from tapegrad._core.backend import np
from tapegrad._core.errors import InvalidArgumentError
from tapegrad._core.indexed_slices import IndexedSlices
from tapegrad._core.registry import register
from tapegrad._core.sample import Sample
from tapegrad._core.tensor import Tensor, _to_array, _wrap, apply, apply1, convert_to_tensor
from tapegrad.ops import math as _math
from tapegrad.ops._util import randn, shape_of, unbroadcast


def _as_tensor(x):
    return x if isinstance(x, Tensor) else convert_to_tensor(x)


def _int_list(value) -> list:
    if isinstance(value, Tensor):
        return [int(v) for v in np.ravel(value._value)]
    if isinstance(value, (int, np.integer)):
        return [int(value)]
    return [int(v) for v in value]


# -- reshape / transpose / broadcast ---------------------------------------------------------

def _reshape_forward(x, shape):
    try:
        return np.reshape(x, shape)
    except ValueError:
        raise InvalidArgumentError(
            f"Input to reshape is a tensor with {np.size(x)} values, but the requested shape "
            f"{list(shape)} has {int(np.prod([d for d in shape if d != -1]))}; the sizes must "
            "agree (use -1 for one inferred dimension).") from None


RESHAPE = register(
    "Reshape", _reshape_forward,
    lambda inputs, output, attrs, upstream, needs: (
        apply1(RESHAPE, upstream, {"shape": inputs[0]._value.shape}),),
    lambda inputs, output, attrs, tangents: apply1(RESHAPE, tangents[0],
                                                   {"shape": output._value.shape}),
    lambda: [Sample((randn(2, 3),), {"shape": (3, 2)}), Sample((randn(6),), {"shape": (2, -1)}),
             Sample((randn(),), {"shape": (1, 1)})])


def reshape(tensor, shape, name=None):
    """A tensor with the same values in a new shape (one entry may be -1).

    >>> import tapegrad as tf
    >>> tf.reshape(tf.range(6), [2, -1]).shape.as_list()
    [2, 3]
    """
    shape = tuple(_int_list(shape))
    x = _as_tensor(tensor) if not hasattr(tensor, "_read_for_op") else tensor
    if isinstance(x, Tensor) and x._value.shape == shape:
        return apply1(RESHAPE, x, {"shape": shape})
    return apply1(RESHAPE, x, {"shape": shape})


def _transpose_forward(x, perm):
    return np.transpose(x, perm)


TRANSPOSE = register(
    "Transpose", _transpose_forward,
    lambda inputs, output, attrs, upstream, needs: (
        apply1(TRANSPOSE, upstream, {"perm": tuple(int(i) for i in np.argsort(attrs["perm"]))}),),
    lambda inputs, output, attrs, tangents: apply1(TRANSPOSE, tangents[0], attrs),
    lambda: [Sample((randn(2, 3),), {"perm": (1, 0)}),
             Sample((randn(2, 3, 4),), {"perm": (2, 0, 1)})])


def transpose(a, perm=None, conjugate=False, name=None):
    """Permute the axes (reversed when ``perm`` is None)."""
    x = _as_tensor(a) if not hasattr(a, "_read_for_op") else a
    ndim = len(shape_of(x))
    perm = tuple(reversed(range(ndim))) if perm is None else tuple(
        p % ndim if ndim else p for p in _int_list(perm))
    if sorted(perm) != list(range(ndim)):
        raise InvalidArgumentError(f"transpose: perm {list(perm)} is not a permutation of the "
                                   f"{ndim} axes of a tensor of shape {list(shape_of(x))}.")
    result = apply1(TRANSPOSE, x, {"perm": perm})
    return _math.conj(result) if conjugate else result


def _broadcast_forward(x, shape):
    try:
        return np.broadcast_to(x, shape)
    except ValueError:
        raise InvalidArgumentError(f"Unable to broadcast tensor of shape {list(np.shape(x))} "
                                   f"to shape {list(shape)}.") from None


BROADCAST_TO = register(
    "BroadcastTo", _broadcast_forward,
    lambda inputs, output, attrs, upstream, needs: (
        unbroadcast(upstream, shape_of(inputs[0])),),
    lambda inputs, output, attrs, tangents: apply1(BROADCAST_TO, tangents[0], attrs),
    lambda: [Sample((randn(3),), {"shape": (2, 3)}), Sample((randn(2, 1),), {"shape": (2, 4)})])


def broadcast_to(input, shape, name=None):  # noqa: A002 - TensorFlow's argument name
    return apply1(BROADCAST_TO, input, {"shape": tuple(_int_list(shape))})


def expand_dims(input, axis, name=None):  # noqa: A002
    x = _as_tensor(input)
    shape = list(x._value.shape)
    axis = int(axis)
    if not -len(shape) - 1 <= axis <= len(shape):
        raise InvalidArgumentError(f"expand_dims: axis {axis} is out of range for a tensor of "
                                   f"rank {len(shape)}.")
    shape.insert(axis % (len(shape) + 1), 1)
    return reshape(x, shape)


def squeeze(input, axis=None, name=None):  # noqa: A002
    x = _as_tensor(input)
    shape = x._value.shape
    if axis is None:
        new_shape = [d for d in shape if d != 1]
    else:
        axes = {a % len(shape) for a in _int_list(axis)}
        for a in axes:
            if shape[a] != 1:
                raise InvalidArgumentError(f"Can not squeeze dim[{a}], expected a dimension of "
                                           f"1, got {shape[a]}")
        new_shape = [d for i, d in enumerate(shape) if i not in axes]
    return reshape(x, new_shape)


# -- selection ------------------------------------------------------------------------------

def _select_forward(condition, x, y):
    return np.where(condition, x, y)


def _select_vjp(inputs, output, attrs, upstream, needs):
    condition, x, y = inputs
    zeros = _math.zeros_like(upstream)
    return (None,
            unbroadcast(apply(SELECT, (condition, upstream, zeros)), shape_of(x))
            if needs[1] else None,
            unbroadcast(apply(SELECT, (condition, zeros, upstream)), shape_of(y))
            if needs[2] else None)


def _select_jvp(inputs, output, attrs, tangents):
    condition, x, y = inputs
    shape = output._value.shape
    tx = _math.zeros_like(output) if tangents[1] is None else tangents[1]
    ty = _math.zeros_like(output) if tangents[2] is None else tangents[2]
    return apply(SELECT, (condition, broadcast_to(tx, shape), broadcast_to(ty, shape)))


SELECT = register("SelectV2", _select_forward, _select_vjp, _select_jvp,
                  lambda: [Sample((np.array([True, False, True]), randn(3), randn(3, seed=1)),
                                  wrt=(1, 2)),
                           Sample((np.array([[True], [False]]), randn(2, 3), randn(3, seed=1)),
                                  wrt=(1, 2))])


def where(condition, x=None, y=None, name=None):
    """``x`` where ``condition`` holds, else ``y`` (broadcasting); with one argument, the
    coordinates of the true entries (int64, shape ``[n, rank]``)."""
    condition = _as_tensor(condition)
    if x is None and y is None:
        return _wrap(np.argwhere(condition._value).astype(np.int64))
    if x is None or y is None:
        raise ValueError("where: give both x and y, or neither.")
    if condition._value.dtype != np.bool_:
        condition = _wrap(condition._value.astype(bool))
    x, y = _same_dtype(x, y)
    return apply(SELECT, (condition, x, y))


def _same_dtype(x, y):
    """Convert a non-tensor operand to the other operand's dtype; reject a tensor mismatch."""
    x_is = isinstance(x, Tensor) or hasattr(x, "_read_for_op")
    y_is = isinstance(y, Tensor) or hasattr(y, "_read_for_op")
    if x_is and not y_is:
        y = convert_to_tensor(y, dtype=x.dtype) if not isinstance(y, (float, int)) else _wrap(
            _to_array(y, x.dtype))
    elif y_is and not x_is:
        x = convert_to_tensor(x, dtype=y.dtype) if not isinstance(x, (float, int)) else _wrap(
            _to_array(x, y.dtype))
    elif not x_is and not y_is:
        x = convert_to_tensor(x)
        y = _wrap(_to_array(y, x.dtype))
    if x.dtype != y.dtype:
        raise InvalidArgumentError(f"cannot combine a {x.dtype.name} tensor with a "
                                   f"{y.dtype.name} tensor; convert one with tapegrad.cast.")
    return x, y


# -- slicing ---------------------------------------------------------------------------------

def normalize_key(key):
    """A ``__getitem__`` key with tensors turned into NumPy values."""
    if isinstance(key, tuple):
        return tuple(normalize_key(k) for k in key)
    if isinstance(key, Tensor) or hasattr(key, "_read_for_op"):
        value = np.asarray(key._value)
        return value.item() if value.ndim == 0 and value.dtype.kind in "iu" else value
    if isinstance(key, list):
        return np.asarray(_to_array(key))
    if isinstance(key, slice):
        return slice(*(int(v) if isinstance(v, Tensor) else v
                       for v in (key.start, key.stop, key.step)))
    return key


def _is_basic(key) -> bool:
    items = key if isinstance(key, tuple) else (key,)
    return all(k is None or k is Ellipsis or isinstance(k, (slice, int, np.integer))
               for k in items)


def _getitem_forward(x, key):
    try:
        return x[key]
    except IndexError as error:
        raise InvalidArgumentError(f"slice index out of bounds for a tensor of shape "
                                   f"{list(np.shape(x))}: {error}") from None


def _getitem_vjp(inputs, output, attrs, upstream, needs):
    return (apply1(SLICE_GRAD, upstream, {"shape": inputs[0]._value.shape,
                                          "key": attrs["key"]}),)


def _slice_grad_forward(upstream, shape, key):
    result = np.zeros(shape, dtype=upstream.dtype)
    if _is_basic(key):
        result[key] = upstream
    else:
        np.add.at(result, key, upstream)
    return result


GETITEM = register(
    "StridedSlice", _getitem_forward, _getitem_vjp,
    lambda inputs, output, attrs, tangents: apply1(GETITEM, tangents[0], attrs),
    lambda: [Sample((randn(4),), {"key": slice(1, 3)}),
             Sample((randn(3, 4),), {"key": (Ellipsis, slice(None, None, -2))}),
             Sample((randn(3, 4),), {"key": (1, None)}),
             Sample((randn(4),), {"key": np.array([0, 2, 0])})])
SLICE_GRAD = register(
    "StridedSliceGrad", _slice_grad_forward,
    lambda inputs, output, attrs, upstream, needs: (apply1(GETITEM, upstream,
                                                           {"key": attrs["key"]}),),
    lambda inputs, output, attrs, tangents: apply1(SLICE_GRAD, tangents[0], attrs),
    lambda: [Sample((randn(2),), {"shape": (4,), "key": slice(1, 3)}),
             Sample((randn(3),), {"shape": (4,), "key": np.array([0, 2, 0])})])


def strided_slice_of(x, key):
    """``x[key]`` as a recorded op (NumPy indexing semantics)."""
    return apply1(GETITEM, x, {"key": normalize_key(key)})


# -- gather and sparse gradients -------------------------------------------------------------

def _gather_forward(params, indices, axis=0, batch_dims=0):
    if batch_dims:
        return _batched_take(params, indices, axis, batch_dims)
    try:
        return np.take(params, indices, axis=axis)
    except IndexError:
        raise InvalidArgumentError(
            f"gather: indices {np.asarray(indices).tolist()} out of range for axis {axis} of "
            f"size {np.shape(params)[axis]}.") from None


def _batched_take(params, indices, axis, batch_dims):
    batch_shape = params.shape[:batch_dims]
    flat_params = params.reshape((-1,) + params.shape[batch_dims:])
    flat_indices = indices.reshape((-1,) + indices.shape[batch_dims:])
    parts = [np.take(p, i, axis=axis - batch_dims) for p, i in zip(flat_params, flat_indices)]
    stacked = np.stack(parts) if parts else np.zeros((0,))
    return stacked.reshape(batch_shape + stacked.shape[1:])


def _gather_vjp(inputs, output, attrs, upstream, needs):
    params, indices = inputs
    axis = attrs.get("axis", 0)
    batch_dims = attrs.get("batch_dims", 0)
    params_shape = shape_of(params)
    if axis == 0 and batch_dims == 0:
        index_values = indices._value
        flat_indices = _wrap(np.reshape(index_values, (-1,)))
        values = reshape(upstream, (-1,) + tuple(params_shape[1:]))
        dense_shape = _wrap(np.asarray(params_shape, dtype=np.int32))
        return (IndexedSlices(values, flat_indices, dense_shape), None)
    return (apply(GATHER_GRAD, (upstream, indices), {"shape": params_shape, "axis": axis,
                                                      "batch_dims": batch_dims}), None)


def _gather_grad_forward(upstream, indices, shape, axis, batch_dims):
    result = np.zeros(shape, dtype=upstream.dtype)
    if batch_dims:
        flat_result = result.reshape((-1,) + shape[batch_dims:])
        flat_up = upstream.reshape((-1,) + upstream.shape[batch_dims:])
        flat_idx = indices.reshape((-1,) + indices.shape[batch_dims:])
        for r, u, i in zip(flat_result, flat_up, flat_idx):
            moved = np.moveaxis(r, axis - batch_dims, 0)
            np.add.at(moved, i, np.moveaxis(u, axis - batch_dims, 0) if i.ndim <= 1 else
                      np.moveaxis(u, range(axis - batch_dims, axis - batch_dims + i.ndim),
                                  range(i.ndim)))
        return result
    moved = np.moveaxis(result, axis, 0)
    moved_up = np.moveaxis(upstream, range(axis, axis + indices.ndim), range(indices.ndim))
    np.add.at(moved, indices, moved_up)
    return result


GATHER = register(
    "GatherV2", _gather_forward, _gather_vjp,
    lambda inputs, output, attrs, tangents: apply((GATHER), (tangents[0], inputs[1]), attrs),
    lambda: [Sample((randn(4, 2), np.array([0, 2, 0])), {"axis": 0}, wrt=(0,)),
             Sample((randn(3, 4), np.array([[1, 3], [0, 0]])), {"axis": 1}, wrt=(0,)),
             Sample((randn(2, 3, 2), np.array([[0, 2], [1, 1]])), {"axis": 1, "batch_dims": 1},
                    wrt=(0,))])
GATHER_GRAD = register(
    "GatherGrad", _gather_grad_forward,
    lambda inputs, output, attrs, upstream, needs: (
        apply(GATHER, (upstream, inputs[1]), {"axis": attrs["axis"],
                                              "batch_dims": attrs["batch_dims"]}), None),
    lambda inputs, output, attrs, tangents: apply(GATHER_GRAD, (tangents[0], inputs[1]), attrs),
    lambda: [Sample((randn(3, 2), np.array([0, 2, 0])), {"shape": (4, 2), "axis": 0,
                                                         "batch_dims": 0}, wrt=(0,))])


def gather(params, indices, validate_indices=None, axis=None, batch_dims=0, name=None):
    """Rows (or slices along ``axis``) of ``params`` picked by ``indices``.

    The gradient with respect to ``params`` along axis 0 is an ``IndexedSlices``.
    """
    indices = _as_tensor(indices)
    if indices._value.dtype.kind not in "iu":
        raise TypeError(f"gather: indices must be integers, got {indices.dtype.name}.")
    ndim = len(shape_of(params))
    axis = 0 if axis is None else int(axis) % builtins.max(ndim, 1)
    batch_dims = int(batch_dims) % (indices._value.ndim + 1) if batch_dims else 0
    return apply(GATHER, (params, indices), {"axis": axis, "batch_dims": batch_dims})


def _scatter_rows_forward(values, indices, dense_shape):
    result = np.zeros(tuple(int(d) for d in dense_shape), dtype=values.dtype)
    np.add.at(result, indices, values)
    return result


SCATTER_ROWS = register(
    "UnsortedSegmentSum", _scatter_rows_forward,
    lambda inputs, output, attrs, upstream, needs: (
        apply(GATHER, (upstream, inputs[1]), {"axis": 0, "batch_dims": 0}), None, None),
    lambda inputs, output, attrs, tangents: apply(SCATTER_ROWS,
                                                  (tangents[0], inputs[1], inputs[2])),
    lambda: [Sample((randn(3, 2), np.array([0, 2, 0]), np.array([4, 2])), wrt=(0,))])


def _scatter_rows(values, indices, dense_shape):
    return apply(SCATTER_ROWS, (values, indices, dense_shape))


def _concat_rows(first: IndexedSlices, second: IndexedSlices) -> IndexedSlices:
    return IndexedSlices(concat([first.values, second.values], 0),
                         concat([first.indices, second.indices], 0), first.dense_shape)


# -- joining and tiling ----------------------------------------------------------------------

def _concat_forward(*values, axis):
    return np.concatenate(values, axis=axis)


def _concat_vjp(inputs, output, attrs, upstream, needs):
    axis = attrs["axis"]
    sizes = [shape_of(x)[axis] for x in inputs]
    bounds = np.cumsum([0] + sizes)
    grads = []
    for i, need in enumerate(needs):
        if not need:
            grads.append(None)
            continue
        key = (slice(None),) * axis + (slice(int(bounds[i]), int(bounds[i + 1])),)
        grads.append(apply1(GETITEM, upstream, {"key": key}))
    return tuple(grads)


def _concat_jvp(inputs, output, attrs, tangents):
    parts = [_math.zeros_like(x) if t is None else t for x, t in zip(inputs, tangents)]
    return apply(CONCAT, parts, attrs)


CONCAT = register("ConcatV2", _concat_forward, _concat_vjp, _concat_jvp,
                  lambda: [Sample((randn(2, 3), randn(1, 3, seed=1)), {"axis": 0}),
                           Sample((randn(2, 1), randn(2, 2, seed=1)), {"axis": 1})])


def concat(values, axis, name=None):
    """Join tensors along an existing axis."""
    values = list(values)
    if not values:
        raise ValueError("concat needs at least one tensor.")
    ndim = len(shape_of(values[0])) if not isinstance(values[0], (list, float, int)) else \
        np.ndim(values[0])
    axis = int(axis)
    if not -builtins.max(ndim, 1) <= axis < builtins.max(ndim, 1):
        raise InvalidArgumentError(f"concat: axis {axis} is out of range for tensors of rank "
                                   f"{ndim}.")
    return apply(CONCAT, values, {"axis": axis % builtins.max(ndim, 1)}, same_dtype=True)


def stack(values, axis=0, name=None):
    """Join tensors along a new axis."""
    values = [_as_tensor(v) if not hasattr(v, "_read_for_op") else v for v in values]
    ndim = len(shape_of(values[0]))
    axis = int(axis) % (ndim + 1)
    return concat([expand_dims(v, axis) for v in values], axis)


def unstack(value, num=None, axis=0, name=None):
    x = _as_tensor(value)
    axis = int(axis) % x._value.ndim
    count = x._value.shape[axis]
    return [strided_slice_of(x, (slice(None),) * axis + (i,)) for i in range(count)]


def _tile_forward(x, multiples):
    return np.tile(x, multiples)


def _tile_vjp(inputs, output, attrs, upstream, needs):
    shape = shape_of(inputs[0])
    multiples = attrs["multiples"]
    split = []
    for m, d in zip(multiples, shape):
        split.extend((m, d))
    from tapegrad.ops.reduction import reduce_sum
    summed = reduce_sum(reshape(upstream, split), list(range(0, 2 * len(shape), 2)))
    return (summed,)


TILE = register("Tile", _tile_forward, _tile_vjp,
                lambda inputs, output, attrs, tangents: apply1(TILE, tangents[0], attrs),
                lambda: [Sample((randn(2, 3),), {"multiples": (2, 1)}),
                         Sample((randn(3),), {"multiples": (3,)})])


def tile(input, multiples, name=None):  # noqa: A002
    x = _as_tensor(input) if not hasattr(input, "_read_for_op") else input
    multiples = tuple(_int_list(multiples))
    if len(multiples) != len(shape_of(x)):
        raise InvalidArgumentError(f"tile: multiples has {len(multiples)} entries but the "
                                   f"input has rank {len(shape_of(x))}; give one per axis.")
    return apply1(TILE, x, {"multiples": multiples})


# -- cumulative ------------------------------------------------------------------------------

def _cumulative(function, identity):
    def forward(x, axis, exclusive=False, reverse=False):
        if reverse:
            x = np.flip(x, axis)
        out = function(x, axis=axis)
        if exclusive:
            out = np.roll(out, 1, axis=axis)
            index = [slice(None)] * out.ndim
            index[axis] = 0
            out[tuple(index)] = identity
        return np.flip(out, axis) if reverse else out
    return forward


def _cumsum_vjp(inputs, output, attrs, upstream, needs):
    flipped = dict(attrs, reverse=not attrs.get("reverse", False))
    return (apply1(CUMSUM, upstream, flipped),)


CUMSUM = register("Cumsum", _cumulative(np.cumsum, 0), _cumsum_vjp,
                  lambda inputs, output, attrs, tangents: apply1(CUMSUM, tangents[0], attrs),
                  lambda: [Sample((randn(4),), {"axis": 0}),
                           Sample((randn(2, 3),), {"axis": 1, "exclusive": True,
                                                   "reverse": True})])


def _cumprod_vjp(inputs, output, attrs, upstream, needs):
    # TensorFlow's rule: reverse cumsum of (output * upstream), divided by x.
    flipped = dict(attrs, reverse=not attrs.get("reverse", False))
    summed = apply1(CUMSUM, _math.multiply(output, upstream), flipped)
    return (_math.divide(summed, inputs[0]),)


CUMPROD = register("Cumprod", _cumulative(np.cumprod, 1), _cumprod_vjp,
                   lambda inputs, output, attrs, tangents: _math.multiply(
                       output, apply1(CUMSUM, _math.divide(tangents[0], inputs[0]), attrs)),
                   lambda: [Sample((randn(4, low=0.5),), {"axis": 0}),
                            Sample((randn(2, 3, low=0.5),), {"axis": 1, "exclusive": True,
                                                             "reverse": True})])


def cumsum(x, axis=0, exclusive=False, reverse=False, name=None):
    x = _as_tensor(x) if not hasattr(x, "_read_for_op") else x
    axis = int(axis) % builtins.max(len(shape_of(x)), 1)
    return apply1(CUMSUM, x, {"axis": axis, "exclusive": exclusive, "reverse": reverse})


def cumprod(x, axis=0, exclusive=False, reverse=False, name=None):
    x = _as_tensor(x) if not hasattr(x, "_read_for_op") else x
    axis = int(axis) % builtins.max(len(shape_of(x)), 1)
    return apply1(CUMPROD, x, {"axis": axis, "exclusive": exclusive, "reverse": reverse})


# -- creation --------------------------------------------------------------------------------

def constant(value, dtype=None, shape=None, name=None) -> Tensor:
    """A tensor holding ``value`` (Python floats become float32, ints int32).

    >>> import tapegrad as tf
    >>> tf.constant(2.0)
    <tapegrad.Tensor: shape=(), dtype=float32, numpy=2.0>
    """
    array = _to_array(value, dtype)
    if shape is not None:
        shape = tuple(_int_list(shape))
        if array.size == 1:
            array = np.broadcast_to(array.reshape(()), shape).copy()
        elif array.shape != shape:
            if array.size != int(np.prod(shape)):
                raise TypeError(f"Expected Tensor's shape: {shape}, but got {array.shape}.")
            array = array.reshape(shape)
    if isinstance(value, Tensor) and array is value._value:
        return value
    return _wrap(array)


def _dtype_np(dtype):
    return _dt.as_dtype(dtype)._np


def zeros(shape, dtype=_dt.float32, name=None) -> Tensor:
    return _wrap(np.zeros(tuple(_int_list(shape)), dtype=_dtype_np(dtype)))


def ones(shape, dtype=_dt.float32, name=None) -> Tensor:
    return _wrap(np.ones(tuple(_int_list(shape)), dtype=_dtype_np(dtype)))


def fill(dims, value, name=None) -> Tensor:
    value = _to_array(value)
    return _wrap(np.full(tuple(_int_list(dims)), value, dtype=value.dtype))


def eye(num_rows, num_columns=None, batch_shape=None, dtype=_dt.float32, name=None) -> Tensor:
    matrix = np.eye(num_rows, num_columns, dtype=_dtype_np(dtype))
    if batch_shape is not None:
        matrix = np.broadcast_to(matrix, tuple(_int_list(batch_shape)) + matrix.shape).copy()
    return _wrap(matrix)


def range(start, limit=None, delta=1, dtype=None, name=None) -> Tensor:  # noqa: A001
    """Numbers from ``start`` up to (not including) ``limit`` in steps of ``delta``."""
    if limit is None:
        start, limit = 0, start
    values = [v._value.item() if isinstance(v, Tensor) else v for v in (start, limit, delta)]
    if dtype is None:
        floating = builtins.any(isinstance(v, float) or (isinstance(v, np.generic) and
                                                        np.dtype(type(v)).kind == "f")
                                for v in values)
        dtype = _dt.float32 if floating else _dt.int32
    return _wrap(np.arange(*values, dtype=_dtype_np(dtype)))


def linspace(start, stop, num, name=None, axis=0) -> Tensor:
    start_v = _to_array(start)
    values = np.linspace(start_v, _to_array(stop), int(num), axis=axis)
    return _wrap(values.astype(start_v.dtype if start_v.dtype.kind == "f" else np.float32))


def shape(input, out_type=_dt.int32, name=None) -> Tensor:  # noqa: A002
    return _wrap(np.asarray(shape_of(input), dtype=_dtype_np(out_type)))


def size(input, out_type=_dt.int32, name=None) -> Tensor:  # noqa: A002
    return _wrap(np.asarray(int(np.prod(shape_of(input))), dtype=_dtype_np(out_type)))


def rank(input, name=None) -> Tensor:  # noqa: A002
    return _wrap(np.asarray(len(shape_of(input)), dtype=np.int32))


hooks.scatter_rows = _scatter_rows
hooks.concat_rows = _concat_rows
hooks.zeros_like = _math.zeros_like
hooks.ones_like = _math.ones_like
hooks.add = _math.add
