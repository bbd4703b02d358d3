"""Shape and array ops: reshape, transpose, broadcast, slicing, gather/scatter, where, joining
and splitting, padding, sorting, einsum, clipping and creation."""

from __future__ import annotations

import builtins
import math
from collections import namedtuple

from tapegrad._core import dtypes as _dt
from tapegrad._core import hooks
from tapegrad._core.backend import np
from tapegrad._core.errors import InvalidArgumentError
from tapegrad._core.indexed_slices import IndexedSlices
from tapegrad._core.registry import NO_GRADIENT, REGISTRY, register
from tapegrad._core.tensor import Tensor, apply, apply1, convert_to_tensor, to_array, wrap
from tapegrad.ops import _vocab as vocab
from tapegrad.ops._sample import Sample
from tapegrad.ops._util import NUMBERS, randn, tensor_of
from tapegrad.ops._vocab import batch_shape, run, shape_of, sum_like, sum_tangents
from tapegrad.ops._vocab import reshape as vocab_reshape

# This module defines a public `range` (tf.range); internal code uses the builtin by this name.
_range = builtins.range


def _operand(x):
    """A Tensor, or a Variable left as is (the dispatcher records its read)."""
    return x if isinstance(x, Tensor) or hasattr(x, "_read_for_op") else convert_to_tensor(x)


def _int_list(value) -> list:
    """A shape-like argument (dims, perm, multiples) as a list of ints. As TensorFlow, integer
    tensors and arrays are taken; a float tensor is InvalidArgumentError; Python floats and
    strings are TypeError (TensorFlow cannot convert them to int32)."""
    if isinstance(value, Tensor) or hasattr(value, "_read_for_op") or \
            isinstance(value, np.ndarray):
        array = np.asarray(value._value if not isinstance(value, np.ndarray) else value)
        if array.dtype.kind not in "iu":
            raise InvalidArgumentError(
                f"Value for attr 'index_type' of {_dt.from_numpy(array.dtype).name} is not in "
                "the list of allowed values: int32, int64; cast it with tapegrad.cast(x, "
                "tapegrad.int32).")
        return [int(v) for v in array.ravel()]
    if isinstance(value, (int, np.integer)):
        return [int(value)]
    if isinstance(value, np.floating) and float(value).is_integer():
        return [int(value)]  # (TensorFlow converts a whole NumPy float scalar)
    if isinstance(value, (str, bytes, float)):
        raise TypeError(f"Cannot convert {value!r} to EagerTensor of dtype int32: pass "
                        "integers (e.g. [2, 3]).")
    items = [int(v._value) if isinstance(v, Tensor) else v for v in value]
    if builtins.any(isinstance(v, (str, bytes, float)) for v in items):
        raise TypeError(f"Cannot convert {list(value)!r} to EagerTensor of dtype int32: pass "
                        "integers (e.g. [2, 3]).")
    return [int(v) for v in items]


def _int_scalar(value, what: str) -> int:
    if isinstance(value, Tensor) or hasattr(value, "_read_for_op"):
        array = np.asarray(value._value)
        if array.ndim or array.dtype.kind not in "iu":
            raise TypeError(f"{what} must be a scalar integer, got a {value.dtype.name} tensor "
                            f"of shape {list(array.shape)}.")
        return int(array)
    if isinstance(value, (bool, float)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{what} must be an integer, got {value!r}.")
    return int(value)


def _axis(axis, ndim: int, what: str, extra: int = 0) -> int:
    """``axis`` checked against a rank-``ndim`` tensor, as a non-negative int.

    ``extra`` widens the range (1 for ops that insert an axis, as expand_dims and stack).
    """
    axis = _int_scalar(axis, f"{what}: axis")
    bound = ndim + extra
    if not -bound <= axis < bound:
        raise InvalidArgumentError(
            f"{what}: axis {axis} is out of range for a tensor of rank {ndim}; expected an axis "
            f"in [{-bound}, {bound}).")
    return axis % bound


def _check_int_indices(indices, what: str):
    if indices._value.dtype.kind not in "iu":
        raise InvalidArgumentError(f"{what}: indices must be integers (int32 or int64), got "
                        f"{indices.dtype.name}; cast them with tapegrad.cast(indices, "
                        "tapegrad.int32).")


def _like(value, other):
    """``value`` as a tensor of ``other``'s dtype when it is not a tensor already."""
    if isinstance(value, Tensor) or hasattr(value, "_read_for_op"):
        return value
    return wrap(to_array(value, other.dtype))


# -- reshape / transpose / broadcast ---------------------------------------------------------

def _reshape_forward(x, shape):
    try:
        return np.reshape(x, shape)
    except ValueError:
        known = int(np.prod([d for d in shape if d != -1]))
        need = (f"requires a multiple of {known}" if -1 in shape else f"has {known}")
        raise InvalidArgumentError(
            f"Input to reshape is a tensor with {np.size(x)} values, but the requested shape "
            f"{list(shape)} {need}; the sizes must agree (use -1 for one inferred "
            "dimension).") from None


def _batched_perm(upstream, output, perm: tuple) -> tuple:
    """``perm`` for an upstream that may carry leading batch axes (vectorised jacobian)."""
    lead = len(batch_shape(upstream, output))
    return tuple(_range(lead)) + tuple(p + lead for p in perm) if lead else perm


RESHAPE = register(
    "Reshape", _reshape_forward,
    lambda inputs, output, attrs, upstream, needs: (
        vocab_reshape(upstream, batch_shape(upstream, output) + shape_of(inputs[0])),),
    lambda inputs, output, attrs, tangents: vocab_reshape(tangents[0], shape_of(output)),
    lambda: [Sample((randn(2, 3),), {"shape": (3, 2)}), Sample((randn(6),), {"shape": (2, -1)}),
             Sample((randn(),), {"shape": (1, 1)}), Sample((np.zeros((0, 2)),), {"shape": (2, 0)})],
    batchable=True, array_rules=True)


def reshape(tensor, shape, name=None) -> Tensor:
    """A tensor with the same values in a new shape (one entry may be -1).

    >>> import tapegrad as tf
    >>> tf.reshape(tf.range(6), [2, -1]).shape.as_list()
    [2, 3]
    """
    shape = tuple(_int_list(shape))
    if builtins.sum(1 for d in shape if d == -1) > 1:
        raise InvalidArgumentError(f"reshape: only one dimension of the requested shape "
                                   f"{list(shape)} can be -1.")
    return apply1(RESHAPE, _operand(tensor), {"shape": shape})


def _transpose_forward(x, perm):
    return np.transpose(x, perm)


TRANSPOSE = register(
    "Transpose", _transpose_forward,
    lambda inputs, output, attrs, upstream, needs: (
        run(TRANSPOSE, upstream, perm=_batched_perm(
            upstream, output, tuple(int(i) for i in np.argsort(attrs["perm"])))),),
    lambda inputs, output, attrs, tangents: run(TRANSPOSE, tangents[0], **attrs),
    lambda: [Sample((randn(2, 3),), {"perm": (1, 0)}),
             Sample((randn(2, 3, 4),), {"perm": (2, 0, 1)})],
    batchable=True, array_rules=True)


def transpose(a, perm=None, conjugate=False, name=None) -> Tensor:
    """Permute the axes (reversed when ``perm`` is None).

    >>> import tapegrad as tf
    >>> tf.transpose(tf.zeros([2, 3, 4]), [2, 0, 1]).shape.as_list()
    [4, 2, 3]
    """
    x = _operand(a)
    ndim = len(shape_of(x))
    perm = tuple(reversed(_range(ndim))) if perm is None else tuple(
        p % ndim if ndim and -ndim <= p < ndim else p for p in _int_list(perm))
    if sorted(perm) != list(_range(ndim)):
        raise InvalidArgumentError(f"transpose: perm {list(perm)} is not a permutation of the "
                                   f"{ndim} axes of a tensor of shape {list(shape_of(x))}; "
                                   f"give each axis in [0, {ndim}) exactly once.")
    result = apply1(TRANSPOSE, x, {"perm": perm})
    return vocab.conj(result) if conjugate else result


def _broadcast_forward(x, shape):
    try:
        if x.ndim <= len(shape) and math.prod(shape) <= 4096:
            out = np.empty(shape, x.dtype)  # small: a copy is cheaper than a view
            if x.ndim:
                out[...] = x
            else:  # (a scalar, a loss's gradient: fill is the cheaper copy)
                out.fill(x)
            return out
        return np.broadcast_to(x, shape)
    except ValueError:
        raise InvalidArgumentError(f"Incompatible shapes: {list(np.shape(x))} vs. "
                                   f"{list(shape)}: a tensor of shape {list(np.shape(x))} "
                                   f"cannot be broadcast to shape {list(shape)} (each dimension "
                                   "must equal the target's or be 1).") from None


BROADCAST_TO = register(
    "BroadcastTo", _broadcast_forward,
    lambda inputs, output, attrs, upstream, needs: (
        sum_like(upstream, inputs[0], output),),
    lambda inputs, output, attrs, tangents: run(BROADCAST_TO, tangents[0], **attrs),
    lambda: [Sample((randn(3),), {"shape": (2, 3)}), Sample((randn(2, 1),), {"shape": (2, 4)}),
             Sample((randn(),), {"shape": (2, 2)})],
    batchable=True, array_rules=True)


def broadcast_to(input, shape, name=None) -> Tensor:  # noqa: A002 - TensorFlow's argument name
    """``input`` repeated along new or size-1 axes to ``shape``.

    >>> import tapegrad as tf
    >>> tf.broadcast_to(tf.constant([1.0, 2.0]), [3, 2]).shape.as_list()
    [3, 2]
    """
    return apply1(BROADCAST_TO, input, {"shape": tuple(_int_list(shape))})


def expand_dims(input, axis, name=None) -> Tensor:  # noqa: A002
    """Insert a size-1 axis at ``axis``.

    >>> import tapegrad as tf
    >>> tf.expand_dims(tf.zeros([2, 3]), -1).shape.as_list()
    [2, 3, 1]
    """
    x = _operand(input)
    shape = list(shape_of(x))
    axis = _int_scalar(axis, "expand_dims: axis")
    if not -len(shape) - 1 <= axis <= len(shape):
        raise InvalidArgumentError(f"Tried to expand dim index {axis} for tensor with "
                                   f"{len(shape)} dimensions; use an axis in "
                                   f"[{-len(shape) - 1}, {len(shape)}].")
    shape.insert(axis % (len(shape) + 1), 1)
    return reshape(x, shape)


def squeeze(input, axis=None, name=None) -> Tensor:  # noqa: A002
    """Remove size-1 axes (all of them, or those in ``axis``).

    >>> import tapegrad as tf
    >>> tf.squeeze(tf.zeros([1, 2, 1]), axis=0).shape.as_list()
    [2, 1]
    """
    x = _operand(input)
    shape = shape_of(x)
    if axis is None:
        new_shape = [d for d in shape if d != 1]
    else:
        axes = set()
        for a in _int_list(axis):
            if not -len(shape) <= a < len(shape):
                raise InvalidArgumentError(f"Tried to squeeze dim index {a} for tensor with "
                                           f"{len(shape)} dimensions; use an axis in "
                                           f"[{-len(shape)}, {len(shape)}).")
            axes.add(a % len(shape))
        for a in sorted(axes):
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
    zeros = vocab.zeros_like(upstream)
    return (None,
            sum_like(apply(SELECT, (condition, upstream, zeros)), x, output)
            if needs[1] else None,
            sum_like(apply(SELECT, (condition, zeros, upstream)), y, output)
            if needs[2] else None)


def _select_jvp(inputs, output, attrs, tangents):
    condition, x, y = inputs
    shape = output._value.shape
    tx = vocab.zeros_like(output) if tangents[1] is None else tangents[1]
    ty = vocab.zeros_like(output) if tangents[2] is None else tangents[2]
    return apply(SELECT, (condition, broadcast_to(tx, shape), broadcast_to(ty, shape)))


SELECT = register("SelectV2", _select_forward, _select_vjp, _select_jvp,
                  lambda: [Sample((np.array([True, False, True]), randn(3), randn(3, seed=1)),
                                  wrt=(1, 2)),
                           Sample((np.array([[True], [False]]), randn(2, 3), randn(3, seed=1)),
                                  wrt=(1, 2))],
                  batchable=True)


def where(condition, x=None, y=None, name=None) -> Tensor:
    """``x`` where ``condition`` holds, else ``y`` (broadcasting); with one argument, the
    coordinates of the true (non-zero) entries (int64, shape ``[n, rank]``).

    >>> import tapegrad as tf
    >>> tf.where([True, False], 1.0, 2.0).numpy().tolist()
    [1.0, 2.0]
    >>> tf.where([0.0, 3.0]).numpy().tolist()
    [[1]]
    """
    condition = tensor_of(condition)
    if x is None and y is None:
        return wrap(np.argwhere(condition._value).astype(np.int64))
    if x is None or y is None:
        raise ValueError("where: give both x and y, or neither.")
    if condition._value.dtype != np.bool_:
        condition = wrap(condition._value.astype(bool))
    x, y = _same_dtype(x, y)
    return apply(SELECT, (condition, x, y))


def _same_dtype(x, y):
    """Convert a non-tensor operand to the other operand's dtype; reject a tensor mismatch."""
    x_is = isinstance(x, Tensor) or hasattr(x, "_read_for_op")
    y_is = isinstance(y, Tensor) or hasattr(y, "_read_for_op")
    if x_is and not y_is:
        y = convert_to_tensor(y, dtype=x.dtype) if not isinstance(y, (float, int)) else wrap(
            to_array(y, x.dtype))
    elif y_is and not x_is:
        x = convert_to_tensor(x, dtype=y.dtype) if not isinstance(x, (float, int)) else wrap(
            to_array(x, y.dtype))
    elif not x_is and not y_is:
        x = convert_to_tensor(x)
        y = wrap(to_array(y, x.dtype))
    if x.dtype != y.dtype:
        raise InvalidArgumentError(f"cannot combine a {x.dtype.name} tensor with a "
                                   f"{y.dtype.name} tensor; convert one with tapegrad.cast.")
    return x, y


# -- slicing ---------------------------------------------------------------------------------

def normalize_key(key):
    """A ``__getitem__`` key with tensors turned into NumPy values.

    A Python list is a sequence of indices, as a tuple (TensorFlow's rule: ``x[[0, 1]]`` is
    ``x[0, 1]``).
    """
    if isinstance(key, (tuple, list)):
        return tuple(normalize_key(k) for k in key)
    if isinstance(key, (bool, np.bool_)):
        return int(key)
    if isinstance(key, Tensor) or hasattr(key, "_read_for_op"):
        value = np.asarray(key._value)
        return value.item() if value.ndim == 0 and value.dtype.kind in "iu" else value
    if isinstance(key, slice):
        return slice(*(int(v) if isinstance(v, Tensor) or hasattr(v, "_read_for_op") else v
                       for v in (key.start, key.stop, key.step)))
    return key


def _is_basic(key) -> bool:
    items = key if isinstance(key, tuple) else (key,)
    return all(k is None or k is Ellipsis or isinstance(k, (slice, int, np.integer))
               for k in items)


def _is_mask(key) -> bool:
    return isinstance(key, np.ndarray) and key.dtype == np.bool_


def _getitem_forward(x, key):
    try:
        out = x[key]
    except IndexError as error:
        raise InvalidArgumentError(f"slice index out of bounds for a tensor of shape "
                                   f"{list(np.shape(x))}: {error}. Use indices in "
                                   "[-size, size) along each axis.") from None
    # one element of a string (object) array comes out as bare bytes: keep it a 0-d array
    return out if type(out) is not bytes else np.array(out, dtype=object)


def _getitem_vjp(inputs, output, attrs, upstream, needs):
    return (apply1(SLICE_GRAD, upstream, {"shape": inputs[0]._value.shape,
                                          "key": attrs["key"]}),)


def _slice_grad_forward(upstream, shape, key):
    result = np.zeros(shape, dtype=upstream.dtype)
    if _is_basic(key) or _is_mask(key):
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
             Sample((randn(4),), {"key": np.array([0, 2, 0])}),
             Sample((randn(2, 3),), {"key": np.array([[True, False, True], [False, True, True]])}),
             Sample((randn(3, 2),), {"key": np.array([True, False, True])}),
             Sample((randn(4, 3),), {"key": (slice(3, 0, -2), -1)})])
SLICE_GRAD = register(
    "StridedSliceGrad", _slice_grad_forward,
    lambda inputs, output, attrs, upstream, needs: (apply1(GETITEM, upstream,
                                                           {"key": attrs["key"]}),),
    lambda inputs, output, attrs, tangents: apply1(SLICE_GRAD, tangents[0], attrs),
    lambda: [Sample((randn(2),), {"shape": (4,), "key": slice(1, 3)}),
             Sample((randn(3),), {"shape": (4,), "key": np.array([0, 2, 0])}),
             Sample((randn(2),), {"shape": (3,), "key": np.array([True, False, True])})])

_INDEX_RULE = ("Only integers, slices (`:`), ellipsis (`...`), tf.newaxis (`None`) and scalar "
               "tf.int32/tf.int64 tensors are valid indices, got {!r}. Use tapegrad.gather for "
               "a list of indices and tapegrad.boolean_mask for a mask.")


def _check_index(item):
    if item is None or item is Ellipsis or isinstance(item, (int, np.integer)):
        return
    if isinstance(item, slice):
        for part in (item.start, item.stop, item.step):
            if part is not None:
                _check_index(part)
        return
    value = getattr(item, "_value", item if isinstance(item, np.ndarray) else None)
    if value is not None and np.ndim(value) == 0 and np.asarray(value).dtype.kind in "iu":
        return
    raise TypeError(_INDEX_RULE.format(item))


def strided_slice_of(x, key):
    """``x[key]`` as a recorded op, with TensorFlow's indexing rules.

    Keys are ints, slices (negative steps too), ``...``, ``None`` (new axis) and scalar integer
    tensors, or one boolean mask for the leading axes (as ``tf.boolean_mask``).
    """
    if isinstance(key, (bool, np.bool_)):
        raise ValueError("mask cannot be scalar.")
    if isinstance(key, (Tensor, np.ndarray)) or hasattr(key, "_read_for_op"):
        value = np.asarray(getattr(key, "_value", key))
        if value.dtype == np.bool_:
            shape = shape_of(x)
            if value.ndim == 0:
                raise ValueError("mask cannot be scalar.")
            if tuple(shape[:value.ndim]) != value.shape:
                raise ValueError(f"Shapes {tuple(shape[:value.ndim])} and {value.shape} are "
                                 "incompatible: a boolean mask must have the shape of the "
                                 "leading axes of the tensor.")
            return apply1(GETITEM, x, {"key": value})
    items = key if isinstance(key, (tuple, list)) else (key,)
    for item in items:
        _check_index(item)
    return apply1(GETITEM, x, {"key": normalize_key(key)})


def slice_(input_, begin, size, name=None) -> Tensor:
    """The block of ``input_`` starting at ``begin`` with ``size`` (-1: to the end), as
    ``tf.slice``.

    >>> import tapegrad as tf
    >>> tf.slice(tf.reshape(tf.range(6), [2, 3]), [0, 1], [2, -1]).numpy().tolist()
    [[1, 2], [4, 5]]
    """
    x = _operand(input_)
    shape = shape_of(x)
    begin, size = _int_list(begin), _int_list(size)
    if len(begin) != len(shape) or len(size) != len(shape):
        raise InvalidArgumentError(f"Expected begin and size arguments to be 1-D tensors of "
                                   f"size {len(shape)}, but got shapes [{len(begin)}] and "
                                   f"[{len(size)}] instead.")
    key = []
    for i, (b, s, d) in enumerate(zip(begin, size, shape)):
        if not 0 <= b <= d:
            raise InvalidArgumentError(f"Expected begin[{i}] in [0, {d}], but got {b}")
        s = d - b if s == -1 else s
        if not 0 <= s <= d - b:
            raise InvalidArgumentError(f"Expected size[{i}] in [0, {d - b}], but got {s} "
                                       f"(begin[{i}] = {b}, dimension {d}; use -1 for 'to the "
                                       "end').")
        key.append(slice(b, b + s))
    return apply1(GETITEM, x, {"key": tuple(key)})


def reverse(tensor, axis, name=None) -> Tensor:
    """Reverse the order of entries along each axis in ``axis``.

    >>> import tapegrad as tf
    >>> tf.reverse(tf.constant([[1, 2], [3, 4]]), [1]).numpy().tolist()
    [[2, 1], [4, 3]]
    """
    x = _operand(tensor)
    ndim = len(shape_of(x))
    key = [slice(None)] * ndim
    for i, a in enumerate(_int_list(axis)):
        if not -ndim <= a < ndim:
            raise InvalidArgumentError(f"reverse: 'axis'[{i}] = {a} is out of valid range "
                                       f"[{-ndim}, {ndim}) for a tensor of rank {ndim}.")
        if key[a % ndim] != slice(None):
            raise InvalidArgumentError(f"axis {a % ndim} specified more than once.")
        key[a % ndim] = slice(None, None, -1)
    return apply1(GETITEM, x, {"key": tuple(key)})


# -- gather and sparse gradients -------------------------------------------------------------

def _batch_layout(params_shape, indices_shape, axis, batch_dims):
    batch = int(np.prod(params_shape[:batch_dims], dtype=np.int64))
    pre = axis - batch_dims
    n_index = len(indices_shape) - batch_dims
    rows = np.arange(batch).reshape((batch,) + (1,) * n_index)
    return batch, pre, n_index, rows


def _gather_forward(params, indices, axis=0, batch_dims=0, dense=False):
    # (the range is checked here, not in gather(): a traced call knows its indices only here)
    _check_range(np.asarray(indices), np.shape(params)[axis],
                 f"axis {axis} of params of shape {list(np.shape(params))}")
    if batch_dims:
        return _batched_take(params, indices, axis, batch_dims)
    return np.take(params, indices, axis=axis)


def _batched_take(params, indices, axis, batch_dims):
    batch, pre, n_index, rows = _batch_layout(params.shape, indices.shape, axis, batch_dims)
    flat = params.reshape((batch,) + params.shape[batch_dims:])
    moved = np.moveaxis(flat, pre + 1, 1)                      # (B, N, pre..., post...)
    picked = moved[rows, indices.reshape((batch,) + indices.shape[batch_dims:])]
    # picked: (B, I..., pre..., post...) -> (B, pre..., I..., post...)
    picked = np.moveaxis(picked, list(_range(1 + n_index, 1 + n_index + pre)),
                         list(_range(1, 1 + pre)))
    return picked.reshape(params.shape[:batch_dims] + picked.shape[1:])


def _gather_vjp(inputs, output, attrs, upstream, needs):
    params, indices = inputs
    axis = attrs.get("axis", 0)
    batch_dims = attrs.get("batch_dims", 0)
    params_shape = shape_of(params)
    if axis == 0 and batch_dims == 0 and not attrs.get("dense", False):
        index_values = indices._value
        flat_indices = wrap(np.reshape(index_values, (-1,)))
        values = reshape(upstream, (-1,) + tuple(params_shape[1:]))
        dense_shape = wrap(np.asarray(params_shape, dtype=np.int32))
        return (IndexedSlices(values, flat_indices, dense_shape), None)
    return (apply(GATHER_GRAD, (upstream, indices), {"shape": params_shape, "axis": axis,
                                                      "batch_dims": batch_dims}), None)


def _gather_grad_forward(upstream, indices, shape, axis, batch_dims):
    result = np.zeros(shape, dtype=upstream.dtype)
    if batch_dims:
        batch, pre, n_index, rows = _batch_layout(shape, indices.shape, axis, batch_dims)
        moved = np.moveaxis(result.reshape((batch,) + shape[batch_dims:]), pre + 1, 1)
        flat_up = upstream.reshape((batch,) + upstream.shape[batch_dims:])
        flat_up = np.moveaxis(flat_up, list(_range(1 + pre, 1 + pre + n_index)),
                              list(_range(1, 1 + n_index)))
        np.add.at(moved, (rows, indices.reshape((batch,) + indices.shape[batch_dims:])),
                  flat_up)
        return result
    moved = np.moveaxis(result, axis, 0)
    moved_up = np.moveaxis(upstream, list(_range(axis, axis + indices.ndim)),
                           list(_range(indices.ndim)))
    np.add.at(moved, indices, moved_up)
    return result


GATHER = register(
    "GatherV2", _gather_forward, _gather_vjp,
    lambda inputs, output, attrs, tangents: apply(GATHER, (tangents[0], inputs[1]), attrs),
    lambda: [Sample((randn(4, 2), np.array([0, 2, 0])), {"axis": 0}, wrt=(0,)),
             Sample((randn(3, 4), np.array([[1, 3], [0, 0]])), {"axis": 1}, wrt=(0,)),
             Sample((randn(2, 3, 2), np.array([[0, 2], [1, 1]])), {"axis": 1, "batch_dims": 1},
                    wrt=(0,)),
             Sample((randn(2, 2, 3, 2), np.array([[[2, 0, 2]], [[1, 1, 0]]])),
                    {"axis": 2, "batch_dims": 1}, wrt=(0,)),
             Sample((randn(4, 2), np.array([1, 1, 3])), {"axis": 0, "dense": True}, wrt=(0,))])
GATHER_GRAD = register(
    "GatherGrad", _gather_grad_forward,
    lambda inputs, output, attrs, upstream, needs: (
        apply(GATHER, (upstream, inputs[1]), {"axis": attrs["axis"],
                                              "batch_dims": attrs["batch_dims"]}), None),
    lambda inputs, output, attrs, tangents: apply(GATHER_GRAD, (tangents[0], inputs[1]), attrs),
    lambda: [Sample((randn(3, 2), np.array([0, 2, 0])), {"shape": (4, 2), "axis": 0,
                                                         "batch_dims": 0}, wrt=(0,)),
             Sample((randn(2, 2, 2), np.array([[0, 2], [1, 1]])),
                    {"shape": (2, 3, 2), "axis": 1, "batch_dims": 1}, wrt=(0,))])


def _check_range(indices: np.ndarray, size: int, what: str):
    if indices.size and (indices.min() < 0 or indices.max() >= size):
        bad = np.argwhere((indices < 0) | (indices >= size))[0]
        where_ = ",".join(str(int(i)) for i in bad)
        raise InvalidArgumentError(f"indices[{where_}] = {int(indices[tuple(bad)])} is not in "
                                   f"[0, {size}) ({what}); every index must lie in "
                                   f"[0, {size}).")


def gather(params, indices, validate_indices=None, axis=None, batch_dims=0, name=None):
    """Rows (or slices along ``axis``) of ``params`` picked by ``indices``.

    The gradient with respect to ``params`` along axis 0 is an ``IndexedSlices``.

    >>> import tapegrad as tf
    >>> tf.gather(tf.constant([10, 20, 30]), [2, 0]).numpy().tolist()
    [30, 10]
    """
    indices = tensor_of(indices)
    _check_int_indices(indices, "gather")
    params = _operand(params)
    shape = shape_of(params)
    ndim = len(shape)
    index_rank = indices._value.ndim
    batch_dims = _int_scalar(batch_dims, "gather: batch_dims")
    if batch_dims < 0:
        batch_dims += index_rank
    if not 0 <= batch_dims <= index_rank:
        raise InvalidArgumentError(f"gather: batch_dims {batch_dims} must be in [{-index_rank}, "
                                   f"{index_rank}] for indices of rank {index_rank}.")
    axis = batch_dims if axis is None else _int_scalar(axis, "gather: axis")
    if not -ndim <= axis < ndim:
        raise InvalidArgumentError(f"gather: axis {axis} is out of range for params of rank "
                                   f"{ndim}; expected an axis in [{-ndim}, {ndim}).")
    axis %= ndim
    if axis < batch_dims:
        raise InvalidArgumentError(f"gather: batch_dims ({batch_dims}) must be less than or "
                                   f"equal to axis ({axis}).")
    if tuple(shape[:batch_dims]) != indices._value.shape[:batch_dims]:
        raise InvalidArgumentError(f"gather: the first {batch_dims} (batch) dimensions of "
                                   f"params {list(shape)} and indices "
                                   f"{list(indices._value.shape)} must be equal.")
    return apply(GATHER, (params, indices), {"axis": axis, "batch_dims": batch_dims})


def _take_dense(x, indices, axis, batch_dims):
    """Gather whose gradient is dense (as TensorFlow's sort/top_k/repeat gradients)."""
    return apply(GATHER, (x, wrap(indices)), {"axis": axis, "batch_dims": batch_dims,
                                               "dense": True})


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


def scatter_rows(values, indices, dense_shape):
    return apply(SCATTER_ROWS, (values, indices, dense_shape))


def concat_rows(first: IndexedSlices, second: IndexedSlices) -> IndexedSlices:
    return IndexedSlices(concat([first.values, second.values], 0),
                         concat([first.indices, second.indices], 0), first.dense_shape)


# -- gather_nd / scatter_nd ------------------------------------------------------------------

def _check_nd_range(indices: np.ndarray, shape, what: str):
    """Every row of ``indices`` (coordinates on its last axis) lies inside ``shape``: negative
    or too large coordinates raise InvalidArgumentError, as TensorFlow's scatter/gather_nd."""
    k = indices.shape[-1]
    if k > len(shape):
        raise InvalidArgumentError(f"index innermost dimension length must be <= params rank; "
                                   f"saw: {k} vs. {len(shape)} ({what}).")
    if indices.size and k:
        limits = np.asarray(shape[:k])
        bad = np.any((indices < 0) | (indices >= limits), axis=-1)
        if bad.any():
            at = np.argwhere(bad)[0]
            position = ",".join(str(int(i)) for i in at)
            raise InvalidArgumentError(
                f"indices[{position}] = {indices[tuple(at)].tolist()} does not index into "
                f"param shape {list(shape)} ({what}).")


def _check_updates(indices: np.ndarray, updates_shape, shape, what: str):
    """``updates`` has the shape scattering ``indices`` into ``shape`` needs."""
    k = indices.shape[-1]
    expected = tuple(indices.shape[:-1]) + tuple(shape[k:])
    if tuple(updates_shape) != expected:
        raise InvalidArgumentError(
            f"{what}: updates has shape {list(updates_shape)} but indices of shape "
            f"{list(indices.shape)} into a tensor of shape {list(shape)} need updates of shape "
            f"{list(expected)} (indices.shape[:-1] + shape[indices.shape[-1]:]).")


def scattered_copy(array, indices, updates, convert, what: str):
    """A copy of ``array`` with ``convert(updates)`` written at ``indices`` (coordinates on the
    last axis), after TensorFlow's checks (a variable's ``scatter_nd_update``; ``what`` names
    the kernel in errors)."""
    indices = np.asarray(to_array(indices))
    if indices.dtype.kind not in "iu" or indices.ndim == 0:
        raise InvalidArgumentError(f"{what}: indices must be an integer tensor of rank >= 1 "
                                   f"(got {indices.dtype} of shape {list(indices.shape)}).")
    _check_nd_range(indices, array.shape, what)
    values = convert(updates)
    _check_updates(indices, values.shape, array.shape, what)
    updated = np.array(array, copy=True)
    updated[nd_key(indices)] = values
    return updated


def nd_key(indices):
    """The NumPy index of an indices array whose last axis holds coordinates (gather_nd's)."""
    return tuple(np.moveaxis(indices, -1, 0))


def _gather_nd_forward(params, indices):
    if indices.shape[-1] == 0:
        return np.broadcast_to(params, indices.shape[:-1] + params.shape).copy()
    return params[nd_key(indices)]


def _scatter_nd_forward(indices, updates, shape):
    result = np.zeros(shape, dtype=updates.dtype)
    if indices.shape[-1] == 0:
        result += updates.reshape((-1,) + tuple(shape)).sum(axis=0)
    else:
        np.add.at(result, nd_key(indices), updates)
    return result


GATHER_ND = register(
    "GatherNd", _gather_nd_forward,
    lambda inputs, output, attrs, upstream, needs: (
        apply(SCATTER_ND, (inputs[1], upstream), {"shape": shape_of(inputs[0])}), None),
    lambda inputs, output, attrs, tangents: apply(GATHER_ND, (tangents[0], inputs[1])),
    lambda: [Sample((randn(3, 2), np.array([[0, 1], [2, 0], [0, 1]])), wrt=(0,)),
             Sample((randn(3, 2, 2), np.array([[2], [0]])), wrt=(0,)),
             Sample((randn(2, 3), np.array([1, 2])), wrt=(0,))])
SCATTER_ND = register(
    "ScatterNd", _scatter_nd_forward,
    lambda inputs, output, attrs, upstream, needs: (
        None, apply(GATHER_ND, (upstream, inputs[0]))),
    lambda inputs, output, attrs, tangents: apply(SCATTER_ND, (inputs[0], tangents[1]), attrs),
    lambda: [Sample((np.array([[0], [2], [0]]), randn(3, 2)), {"shape": (4, 2)}, wrt=(1,)),
             Sample((np.array([[0, 1], [1, 0]]), randn(2)), {"shape": (2, 2)}, wrt=(1,))])


def _nd_indices(indices, what: str) -> np.ndarray:
    indices = tensor_of(indices)
    _check_int_indices(indices, what)
    value = indices._value
    if value.ndim == 0:
        raise InvalidArgumentError(f"{what}: indices must be at least 1-D (the last axis holds "
                                   "one coordinate per indexed dimension).")
    return np.asarray(value)


def gather_nd(params, indices, batch_dims=0, name=None) -> Tensor:
    """Slices of ``params`` at the coordinates in the last axis of ``indices``.

    >>> import tapegrad as tf
    >>> tf.gather_nd(tf.constant([[1, 2], [3, 4]]), [[0, 1], [1, 0]]).numpy().tolist()
    [2, 3]
    """
    index_values = _nd_indices(indices, "gather_nd")
    params = _operand(params)
    shape = shape_of(params)
    batch_dims = _int_scalar(batch_dims, "gather_nd: batch_dims")
    if batch_dims:
        if not 0 < batch_dims < index_values.ndim or batch_dims > len(shape) or \
                tuple(shape[:batch_dims]) != index_values.shape[:batch_dims]:
            raise InvalidArgumentError(
                f"gather_nd: batch_dims {batch_dims} needs the first {batch_dims} dimensions "
                f"of params {list(shape)} and indices {list(index_values.shape)} to match.")
        _check_nd_range(index_values, shape[batch_dims:], "gather_nd")
        grids = np.meshgrid(*[np.arange(d) for d in shape[:batch_dims]], indexing="ij")
        lead = index_values.shape[:-1]
        coords = [np.broadcast_to(g.reshape(g.shape + (1,) * (len(lead) - batch_dims)), lead)
                  for g in grids]
        index_values = np.concatenate(
            [np.stack(coords, axis=-1).astype(index_values.dtype), index_values], axis=-1)
    _check_nd_range(index_values, shape, "gather_nd")
    return apply(GATHER_ND, (params, wrap(index_values)))


def scatter_nd(indices, updates, shape, name=None) -> Tensor:
    """A zero tensor of ``shape`` with ``updates`` added at ``indices`` (duplicates sum).

    >>> import tapegrad as tf
    >>> tf.scatter_nd([[1], [3]], [9.0, 5.0], [4]).numpy().tolist()
    [0.0, 9.0, 0.0, 5.0]
    """
    index_values = _nd_indices(indices, "scatter_nd")
    updates = _operand(updates)
    shape = tuple(_int_list(shape))
    _check_nd_range(index_values, shape, "scatter_nd")
    _check_updates(index_values, shape_of(updates), shape, "scatter_nd")
    return apply(SCATTER_ND, (wrap(index_values), updates), {"shape": shape})


def _tensor_scatter_update_forward(tensor, indices, updates):
    result = np.array(tensor, copy=True)
    result[nd_key(indices)] = updates
    return result


def _tensor_scatter_forward(reduce):
    """The forward of a tensor_scatter_nd op whose updates combine with the entries by the
    ufunc ``reduce`` (duplicates apply in turn)."""
    def forward(tensor, indices, updates):
        result = np.array(tensor, copy=True)
        reduce.at(result, nd_key(indices), updates)
        return result
    return forward


def _tangent_or_zeros(tangent, like):
    return vocab.zeros_like(like) if tangent is None else tangent


TENSOR_SCATTER_UPDATE = register(
    "TensorScatterUpdate", _tensor_scatter_update_forward,
    lambda inputs, output, attrs, upstream, needs: (
        apply(TENSOR_SCATTER_UPDATE, (upstream, inputs[1], vocab.zeros_like(inputs[2])))
        if needs[0] else None,
        None,
        apply(GATHER_ND, (upstream, inputs[1])) if needs[2] else None),
    lambda inputs, output, attrs, tangents: apply(TENSOR_SCATTER_UPDATE, (
        _tangent_or_zeros(tangents[0], inputs[0]), inputs[1],
        _tangent_or_zeros(tangents[2], inputs[2]))),
    lambda: [Sample((randn(4, 2), np.array([[0], [2]]), randn(2, 2, seed=1)), wrt=(0, 2)),
             Sample((randn(2, 3), np.array([[0, 1], [1, 2]]), randn(2, seed=1)), wrt=(0, 2))])
TENSOR_SCATTER_ADD = register(
    "TensorScatterAdd", _tensor_scatter_forward(np.add),
    lambda inputs, output, attrs, upstream, needs: (
        upstream if needs[0] else None, None,
        apply(GATHER_ND, (upstream, inputs[1])) if needs[2] else None),
    lambda inputs, output, attrs, tangents: apply(TENSOR_SCATTER_ADD, (
        _tangent_or_zeros(tangents[0], inputs[0]), inputs[1],
        _tangent_or_zeros(tangents[2], inputs[2]))),
    lambda: [Sample((randn(4, 2), np.array([[0], [2], [0]]), randn(3, 2, seed=1)), wrt=(0, 2))])


def scatter_into(op, tensor, indices, updates, what):
    """The tensor_scatter_nd op ``op`` on checked operands (``what`` names the function in
    errors): indices in range, updates of the indexed shape and of tensor's dtype."""
    index_values = _nd_indices(indices, what)
    tensor = _operand(tensor)
    updates = _like(updates, tensor)
    if updates.dtype != tensor.dtype:
        raise InvalidArgumentError(f"{what}: updates ({updates.dtype.name}) must have the "
                                   f"dtype of tensor ({tensor.dtype.name}); cast one of them.")
    shape = shape_of(tensor)
    _check_nd_range(index_values, shape, what)
    _check_updates(index_values, shape_of(updates), shape, what)
    return apply(op, (tensor, wrap(index_values), updates))


def tensor_scatter_nd_update(tensor, indices, updates, name=None) -> Tensor:
    """A copy of ``tensor`` with the entries at ``indices`` replaced by ``updates``.

    >>> import tapegrad as tf
    >>> tf.tensor_scatter_nd_update([1, 2, 3], [[0]], [9]).numpy().tolist()
    [9, 2, 3]
    """
    return scatter_into(TENSOR_SCATTER_UPDATE, tensor, indices, updates,
                           "tensor_scatter_nd_update")


def tensor_scatter_nd_add(tensor, indices, updates, name=None) -> Tensor:
    """A copy of ``tensor`` with ``updates`` added at ``indices`` (duplicates sum).

    >>> import tapegrad as tf
    >>> tf.tensor_scatter_nd_add([1, 2, 3], [[0], [0]], [5, 5]).numpy().tolist()
    [11, 2, 3]
    """
    return scatter_into(TENSOR_SCATTER_ADD, tensor, indices, updates,
                           "tensor_scatter_nd_add")


def tensor_scatter_nd_sub(tensor, indices, updates, name=None) -> Tensor:
    """A copy of ``tensor`` with ``updates`` subtracted at ``indices``.

    >>> import tapegrad as tf
    >>> tf.tensor_scatter_nd_sub([1, 2, 3], [[2]], [3]).numpy().tolist()
    [1, 2, 0]
    """
    tensor = _operand(tensor)
    return tensor_scatter_nd_add(tensor, indices, -_like(updates, tensor))


# tensor_scatter_nd_min / _max: gradients follow TensorFlow's rule: the upstream gradient of an
# output entry goes to every operand (the tensor's entry and the updates scattered there) equal
# to the result, shared equally among ties.

def _hits(inputs, output):
    """(tensor entries equal to the result, updates equal to theirs, hits per output entry)."""
    tensor, indices, updates = inputs
    equal = REGISTRY["Equal"]
    dtype = output._value.dtype
    tensor_hits = vocab.cast(run(equal, tensor, output), dtype)
    update_hits = vocab.cast(run(equal, updates, apply(GATHER_ND, (output, indices))), dtype)
    hits = tensor_hits + apply(SCATTER_ND, (indices, update_hits), {"shape": shape_of(tensor)})
    return tensor_hits, update_hits, hits  # every entry has at least one hit


def _scatter_min_max_vjp(inputs, output, attrs, upstream, needs):
    tensor_hits, update_hits, hits = _hits(inputs, output)
    shared = upstream / hits
    indices = inputs[1]
    return (shared * tensor_hits if needs[0] else None, None,
            apply(GATHER_ND, (shared, indices)) * update_hits if needs[2] else None)


def _scatter_min_max_jvp(inputs, output, attrs, tangents):
    tensor_hits, update_hits, hits = _hits(inputs, output)
    total = vocab.zeros_like(output) if tangents[0] is None else tangents[0] * tensor_hits
    if tangents[2] is not None:
        total = total + apply(SCATTER_ND, (inputs[1], tangents[2] * update_hits),
                              {"shape": shape_of(output)})
    return total / hits


def _scatter_min_max_samples():
    # values far apart, so that no entry ties within the finite-difference step (a tie has no
    # derivative to check); row 0 receives two updates
    tensor = np.array([[0.1, -0.7], [1.3, 0.4], [-1.1, 0.9], [0.6, -0.2]])
    updates = np.array([[0.5, -1.4], [2.0, 0.2], [-0.3, 1.1]])
    return [Sample((tensor, np.array([[0], [2], [0]]), updates), wrt=(0, 2)),
            Sample((randn(2, 3), np.array([[0, 1], [1, 2]]), randn(2, seed=1)), wrt=(0, 2))]


TENSOR_SCATTER_MAX = register("TensorScatterMax", _tensor_scatter_forward(np.maximum),
                              _scatter_min_max_vjp, _scatter_min_max_jvp,
                              _scatter_min_max_samples)
TENSOR_SCATTER_MIN = register("TensorScatterMin", _tensor_scatter_forward(np.minimum),
                              _scatter_min_max_vjp, _scatter_min_max_jvp,
                              _scatter_min_max_samples)


def tensor_scatter_nd_max(tensor, indices, updates, name=None) -> Tensor:
    """A copy of ``tensor`` where each entry at ``indices`` becomes the max of itself and the
    updates scattered there.

    >>> import tapegrad as tf
    >>> tf.tensor_scatter_nd_max([1, 5, 3], [[0], [1], [0]], [4, 2, 7]).numpy().tolist()
    [7, 5, 3]
    """
    return scatter_into(TENSOR_SCATTER_MAX, tensor, indices, updates, "tensor_scatter_nd_max")


def tensor_scatter_nd_min(tensor, indices, updates, name=None) -> Tensor:
    """A copy of ``tensor`` where each entry at ``indices`` becomes the min of itself and the
    updates scattered there.

    >>> import tapegrad as tf
    >>> tf.tensor_scatter_nd_min([1, 5, 3], [[0], [1], [0]], [4, 2, 7]).numpy().tolist()
    [1, 2, 3]
    """
    return scatter_into(TENSOR_SCATTER_MIN, tensor, indices, updates, "tensor_scatter_nd_min")


def boolean_mask(tensor, mask, axis=None, name=None) -> Tensor:
    """The entries (or slices along ``axis``) of ``tensor`` where ``mask`` is True.

    >>> import tapegrad as tf
    >>> tf.boolean_mask(tf.constant([1, 2, 3]), [True, False, True]).numpy().tolist()
    [1, 3]
    """
    x = _operand(tensor)
    mask = np.asarray(tensor_of(mask)._value)
    if mask.dtype.kind in "iu":
        mask = mask != 0
    elif mask.dtype != np.bool_:
        raise TypeError(f"boolean_mask: mask must be bool, got {mask.dtype}; compare first "
                        "(e.g. x > 0).")
    if mask.ndim == 0:
        raise ValueError("mask cannot be scalar.")
    shape = shape_of(x)
    axis = 0 if axis is None else _axis(axis, len(shape), "boolean_mask")
    covered = tuple(shape[axis:axis + mask.ndim])
    if covered != mask.shape:
        raise ValueError(f"Shapes {covered} and {mask.shape} are incompatible: the mask must "
                         f"match axes {axis}..{axis + mask.ndim - 1} of a tensor of shape "
                         f"{tuple(shape)}.")
    flat_shape = tuple(shape[:axis]) + (int(np.prod(covered)),) + tuple(shape[axis + mask.ndim:])
    flat = reshape(x, flat_shape)
    return apply(GATHER, (flat, wrap(np.flatnonzero(mask))), {"axis": axis, "batch_dims": 0})


# -- joining and splitting -------------------------------------------------------------------

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
    parts = [vocab.zeros_like(x) if t is None else t for x, t in zip(inputs, tangents)]
    return apply(CONCAT, parts, attrs)


CONCAT = register("ConcatV2", _concat_forward, _concat_vjp, _concat_jvp,
                  lambda: [Sample((randn(2, 3), randn(1, 3, seed=1)), {"axis": 0}),
                           Sample((randn(2, 1), randn(2, 2, seed=1)), {"axis": 1}),
                           Sample((randn(2, 0), randn(2, 2, seed=1), randn(2, 1, seed=2)),
                                  {"axis": 1})])


def concat(values, axis, name=None) -> Tensor:
    """Join tensors along an existing axis.

    >>> import tapegrad as tf
    >>> tf.concat([tf.zeros([2, 3]), tf.ones([1, 3])], 0).shape.as_list()
    [3, 3]
    """
    values = list(values)
    if not values:
        raise ValueError("concat needs at least one tensor.")
    shapes = [tuple(shape_of(v)) if not isinstance(v, (list, tuple, float, int)) else
              np.shape(v) for v in values]
    ndim = len(shapes[0])
    if ndim == 0:
        raise InvalidArgumentError("ConcatOp : Can't concatenate scalars (use tf.stack "
                                   "instead)")
    axis = _int_scalar(axis, "concat: axis")
    if not -ndim <= axis < ndim:
        raise InvalidArgumentError(f"ConcatOp : Expected concatenating dimensions in the range "
                                   f"[{-ndim}, {ndim}), but got {axis}")
    axis %= ndim
    for i, s in enumerate(shapes[1:], 1):
        if len(s) != ndim:
            raise InvalidArgumentError(f"ConcatOp : Ranks of all input tensors should match: "
                                       f"shape[0] = {list(shapes[0])} vs. shape[{i}] = "
                                       f"{list(s)}")
        for d in _range(ndim):
            if d != axis and s[d] != shapes[0][d]:
                raise InvalidArgumentError(
                    f"ConcatOp : Dimension {d} in both shapes must be equal: shape[0] = "
                    f"{list(shapes[0])} vs. shape[{i}] = {list(s)}; only the concatenation "
                    f"axis {axis} may differ.")
    return apply(CONCAT, values, {"axis": axis}, same_dtype=True)


def stack(values, axis=0, name=None) -> Tensor:
    """Join tensors of one shape along a new axis.

    >>> import tapegrad as tf
    >>> tf.stack([tf.zeros([2]), tf.ones([2])], axis=1).shape.as_list()
    [2, 2]
    """
    values = [_operand(v) for v in values]
    if not values:
        raise ValueError("stack needs at least one tensor.")
    first = tuple(shape_of(values[0]))
    for i, v in enumerate(values[1:], 1):
        if tuple(shape_of(v)) != first:
            raise InvalidArgumentError(f"Shapes of all inputs must match: values[0].shape = "
                                       f"{list(first)} != values[{i}].shape = "
                                       f"{list(shape_of(v))}")
    axis = _axis(axis, len(first), "stack", extra=1)
    return concat([expand_dims(v, axis) for v in values], axis)


def _split_forward(x, sizes, axis):
    return tuple(np.split(x, np.cumsum(sizes)[:-1], axis=axis))


def _split_vjp(inputs, output, attrs, upstream, needs):
    return (apply(CONCAT, list(upstream), {"axis": attrs["axis"]}),)


# n_outputs > 1 marks a multi-output op; the count follows from the attrs.
SPLIT = register("SplitV", _split_forward, _split_vjp,
                 lambda inputs, output, attrs, tangents: apply(SPLIT, (tangents[0],), attrs),
                 lambda: [Sample((randn(5, 2),), {"sizes": (2, 3), "axis": 0}),
                          Sample((randn(2, 6),), {"sizes": (2, 0, 4), "axis": 1})],
                 n_outputs=2)


def split(value, num_or_size_splits, axis=0, num=None, name=None) -> list:
    """Split ``value`` along ``axis`` into equal parts (an int) or parts of the given sizes
    (a list; one size may be -1).

    >>> import tapegrad as tf
    >>> [p.shape.as_list() for p in tf.split(tf.zeros([2, 5]), [2, -1], axis=1)]
    [[2, 2], [2, 3]]
    """
    x = _operand(value)
    shape = shape_of(x)
    axis = _axis(axis, len(shape), "split")
    dim = shape[axis]
    splits = num_or_size_splits
    if isinstance(splits, float) or (isinstance(splits, Tensor) and splits._value.ndim == 0 and
                                     splits._value.dtype.kind not in "iu"):
        raise ValueError(f"split: num_or_size_splits must be an integer or a list of sizes, "
                         f"got {splits!r}.")
    if isinstance(splits, (int, np.integer)) or (isinstance(splits, Tensor) and
                                                  splits._value.ndim == 0):
        n = _int_scalar(splits, "split: num_or_size_splits")
        if n <= 0 or dim % n:
            raise InvalidArgumentError(
                f"Number of ways to split should evenly divide the split dimension, but got "
                f"split_dim {axis} (size = {dim}) and num_split {n}; pass a list of sizes for "
                "unequal parts.")
        sizes = (dim // n,) * n
    else:
        sizes = _int_list(splits)
        unknown = [i for i, s in enumerate(sizes) if s == -1]
        known = builtins.sum(s for s in sizes if s != -1)
        if len(unknown) > 1 or builtins.any(s < -1 for s in sizes) or (
                known != dim if not unknown else known > dim):
            raise InvalidArgumentError(
                f"Determined shape must either match input shape along split_dim exactly if "
                f"fully specified, or be less than the size of the input along split_dim if "
                f"not fully specified.  Got: {known} (sizes {sizes} for dimension {axis} of "
                f"size {dim}; at most one size may be -1).")
        if unknown:
            sizes[unknown[0]] = dim - known
        sizes = tuple(sizes)
    if not sizes:
        return []
    return list(apply(SPLIT, (x,), {"sizes": sizes, "axis": axis}))


def _unpack_forward(x, axis):
    return tuple(np.moveaxis(x, axis, 0))


UNPACK = register("Unpack", _unpack_forward,
                  lambda inputs, output, attrs, upstream, needs: (
                      stack(list(upstream), attrs["axis"]),),
                  lambda inputs, output, attrs, tangents: apply(UNPACK, (tangents[0],), attrs),
                  lambda: [Sample((randn(3, 2),), {"axis": 0}),
                           Sample((randn(2, 3, 2),), {"axis": 2})],
                  n_outputs=2)


def unstack(value, num=None, axis=0, name=None) -> list:
    """The slices of ``value`` along ``axis``, as a list.

    >>> import tapegrad as tf
    >>> [t.numpy().tolist() for t in tf.unstack(tf.constant([[1, 2], [3, 4]]), axis=1)]
    [[1, 3], [2, 4]]
    """
    x = _operand(value)
    shape = shape_of(x)
    if not shape:
        raise ValueError(f"Argument `axis` = {axis} not in range [0, 0): a scalar cannot be "
                         "unstacked.")
    axis = _axis(axis, len(shape), "unstack")
    if num is not None and int(num) != shape[axis]:
        raise InvalidArgumentError(f"Input shape axis {axis} must equal {int(num)}, got shape "
                                   f"{list(shape)}")
    if shape[axis] == 0:
        return []
    return list(apply(UNPACK, (x,), {"axis": axis}))


def _tile_forward(x, multiples):
    return np.tile(x, multiples)


def _tile_vjp(inputs, output, attrs, upstream, needs):
    shape = shape_of(inputs[0])
    split_shape = []
    for m, d in zip(attrs["multiples"], shape):
        split_shape.extend((m, d))
    summed = vocab.reduce_sum(reshape(upstream, split_shape), _range(0, 2 * len(shape), 2))
    return (reshape(summed, shape),)


TILE = register("Tile", _tile_forward, _tile_vjp,
                lambda inputs, output, attrs, tangents: apply1(TILE, tangents[0], attrs),
                lambda: [Sample((randn(2, 3),), {"multiples": (2, 1)}),
                         Sample((randn(3),), {"multiples": (3,)}),
                         Sample((randn(2, 1),), {"multiples": (1, 0)})])


def tile(input, multiples, name=None) -> Tensor:  # noqa: A002
    """``input`` repeated ``multiples[i]`` times along each axis ``i``.

    >>> import tapegrad as tf
    >>> tf.tile(tf.constant([1, 2]), [2]).numpy().tolist()
    [1, 2, 1, 2]
    """
    x = _operand(input)
    multiples = tuple(_int_list(multiples))
    ndim = len(shape_of(x))
    if len(multiples) != ndim:
        raise InvalidArgumentError(f"Expected multiples argument to be a vector of length "
                                   f"{ndim} but got length {len(multiples)} (one multiple per "
                                   "axis of the input).")
    for i, m in enumerate(multiples):
        if m < 0:
            raise InvalidArgumentError(f"Expected multiples[{i}] >= 0, but got {m}")
    return apply1(TILE, x, {"multiples": multiples})


# -- padding ---------------------------------------------------------------------------------

def _pad_forward(x, paddings, constant_values=0):
    return np.pad(x, paddings, mode="constant", constant_values=constant_values)


def _pad_vjp(inputs, output, attrs, upstream, needs):
    shape = shape_of(inputs[0])
    key = tuple(slice(before, before + d) for (before, _), d in zip(attrs["paddings"], shape))
    return (apply1(GETITEM, upstream, {"key": key}),)


PAD = register("PadV2", _pad_forward, _pad_vjp,
               lambda inputs, output, attrs, tangents: apply1(
                   PAD, tangents[0], {"paddings": attrs["paddings"]}),
               lambda: [Sample((randn(2, 3),), {"paddings": ((1, 0), (2, 1))}),
                        Sample((randn(3),), {"paddings": ((0, 2),), "constant_values": 1.5})])


def _mirror_pad_forward(x, paddings, mode):
    return np.pad(x, paddings, mode="reflect" if mode == "REFLECT" else "symmetric")


def _mirror_fold_forward(upstream, paddings, mode):
    """The adjoint of mirror padding: each padded entry adds into the entry it copies."""
    result = upstream
    offset = 1 if mode == "REFLECT" else 0
    for axis, (before, after) in enumerate(paddings):
        if not before and not after:
            continue
        moved = np.moveaxis(result, axis, 0)
        n = moved.shape[0] - before - after
        core = moved[before:before + n].copy()
        if before:
            core[offset:offset + before] += moved[:before][::-1]
        if after:
            core[n - offset - after:n - offset] += moved[before + n:][::-1]
        result = np.moveaxis(core, 0, axis)
    return np.ascontiguousarray(result)


MIRROR_PAD = register(
    "MirrorPad", _mirror_pad_forward,
    lambda inputs, output, attrs, upstream, needs: (apply1(MIRROR_PAD_GRAD, upstream, attrs),),
    lambda inputs, output, attrs, tangents: apply1(MIRROR_PAD, tangents[0], attrs),
    lambda: [Sample((randn(3, 4),), {"paddings": ((2, 1), (1, 3)), "mode": "REFLECT"}),
             Sample((randn(3, 2),), {"paddings": ((3, 2), (0, 2)), "mode": "SYMMETRIC"})])
MIRROR_PAD_GRAD = register(
    "MirrorPadGrad", _mirror_fold_forward,
    lambda inputs, output, attrs, upstream, needs: (apply1(MIRROR_PAD, upstream, attrs),),
    lambda inputs, output, attrs, tangents: apply1(MIRROR_PAD_GRAD, tangents[0], attrs),
    lambda: [Sample((randn(6, 8),), {"paddings": ((2, 1), (1, 3)), "mode": "REFLECT"}),
             Sample((randn(8, 4),), {"paddings": ((3, 2), (0, 2)), "mode": "SYMMETRIC"})])


def pad(tensor, paddings, mode="CONSTANT", constant_values=0, name=None) -> Tensor:
    """Pad ``tensor`` with ``paddings[i] = [before, after]`` entries along each axis.

    ``mode`` is "CONSTANT" (filled with ``constant_values``), "REFLECT" (mirrored without the
    edge) or "SYMMETRIC" (mirrored with the edge).

    >>> import tapegrad as tf
    >>> tf.pad(tf.constant([1, 2, 3]), [[2, 1]], "REFLECT").numpy().tolist()
    [3, 2, 1, 2, 3, 2]
    """
    x = _operand(tensor)
    shape = shape_of(x)
    pads = np.asarray(paddings._value if isinstance(paddings, Tensor) else paddings)
    if pads.dtype.kind not in "iu" and pads.size:
        raise TypeError(f"pad: paddings must be integers, got {pads.dtype}.")
    if pads.shape != (len(shape), 2):
        raise InvalidArgumentError(f"The first dimension of paddings must be the rank of inputs"
                                   f"{list(pads.shape)} {list(shape)}: give one [before, after] "
                                   "pair per axis.")
    if pads.size and pads.min() < 0:
        raise InvalidArgumentError(f"Paddings must be non-negative: {pads.tolist()}")
    pads = tuple((int(b), int(a)) for b, a in pads)
    mode = str(mode).upper()
    if mode == "CONSTANT":
        value = constant_values
        if isinstance(value, Tensor) or hasattr(value, "_read_for_op"):
            value = value._value
        value = np.asarray(value).item() if np.ndim(value) == 0 else value
        attrs = {"paddings": pads}
        if value != 0:
            attrs["constant_values"] = value
        return apply1(PAD, x, attrs)
    if mode not in ("REFLECT", "SYMMETRIC"):
        raise ValueError(f'Value of argument `mode` expected to be one of "CONSTANT", '
                         f'"REFLECT", or "SYMMETRIC". Received `mode` = {mode}')
    for d, (before, after) in zip(shape, pads):
        limit = d - 1 if mode == "REFLECT" else d
        for p in (before, after):
            if p > limit:
                word = "less than" if mode == "REFLECT" else "no greater than"
                raise InvalidArgumentError(f"paddings must be {word} the dimension size: "
                                           f"{before}, {after} not {word} {d} ({mode} "
                                           "padding copies entries of the input).")
    return apply1(MIRROR_PAD, x, {"paddings": pads, "mode": mode})


# -- roll ------------------------------------------------------------------------------------

def _roll_forward(x, shift, axis):
    return np.roll(x, shift, axis)


ROLL = register(
    "Roll", _roll_forward,
    lambda inputs, output, attrs, upstream, needs: (apply1(ROLL, upstream, {
        "shift": tuple(-s for s in attrs["shift"]), "axis": attrs["axis"]}),),
    lambda inputs, output, attrs, tangents: apply1(ROLL, tangents[0], attrs),
    lambda: [Sample((randn(5),), {"shift": (2,), "axis": (0,)}),
             Sample((randn(2, 3),), {"shift": (1, -1, 1), "axis": (1, 0, 1)})])


def roll(input, shift, axis, name=None) -> Tensor:  # noqa: A002
    """Shift entries along ``axis`` by ``shift`` places, wrapping around.

    >>> import tapegrad as tf
    >>> tf.roll(tf.constant([1, 2, 3, 4]), 1, 0).numpy().tolist()
    [4, 1, 2, 3]
    """
    x = _operand(input)
    ndim = len(shape_of(x))
    shifts, axes = _int_list(shift), _int_list(axis)
    if len(shifts) != len(axes):
        if len(shifts) == 1:
            shifts = shifts * len(axes)
        else:
            raise InvalidArgumentError(f"shift and axis must have the same size, got "
                                       f"{len(shifts)} shifts and {len(axes)} axes.")
    for a in axes:
        if not -ndim <= a < ndim:
            raise InvalidArgumentError(f"axis {a} is out of range for a tensor of rank {ndim}; "
                                       f"use an axis in [{-ndim}, {ndim}).")
    return apply1(ROLL, x, {"shift": tuple(shifts), "axis": tuple(a % ndim for a in axes)})


# -- cumulative ------------------------------------------------------------------------------

def _cumulative(function, identity):
    def forward(x, axis, exclusive=False, reverse=False):
        if reverse:
            x = np.flip(x, axis)
        out = function(x, axis=axis, dtype=x.dtype)
        if exclusive and out.shape[axis]:  # (an empty axis has no first entry to reset)
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
                                                   "reverse": True}),
                           Sample((randn(3, 2),), {"axis": 0, "exclusive": True})], dtypes=NUMBERS)


def _cumprod_vjp(inputs, output, attrs, upstream, needs):
    # TensorFlow's rule: reverse cumsum of (output * upstream), divided by x.
    flipped = dict(attrs, reverse=not attrs.get("reverse", False))
    summed = apply1(CUMSUM, output * upstream, flipped)
    # divide_no_nan, as TensorFlow: finite (0) where x is 0, though not the exact derivative
    return (run(REGISTRY["DivNoNan"], summed, inputs[0]),)


CUMPROD = register("Cumprod", _cumulative(np.cumprod, 1), _cumprod_vjp,
                   lambda inputs, output, attrs, tangents: output * apply1(
                       CUMSUM, run(REGISTRY["DivNoNan"], tangents[0], inputs[0]), attrs),
                   lambda: [Sample((randn(4, low=0.5),), {"axis": 0}),
                            Sample((randn(2, 3, low=0.5),), {"axis": 1, "exclusive": True,
                                                             "reverse": True})], dtypes=NUMBERS)


def _scan(op, x, axis, exclusive, reverse):
    x = _operand(x)
    ndim = len(shape_of(x))
    axis = _int_scalar(axis, "cumsum: axis")
    if not -ndim <= axis < ndim:
        raise InvalidArgumentError(f"ScanOp: Expected scan axis in the range [{-ndim}, {ndim}), "
                                   f"but got {axis}")
    return apply1(op, x, {"axis": axis % ndim, "exclusive": bool(exclusive),
                          "reverse": bool(reverse)})


def cumsum(x, axis=0, exclusive=False, reverse=False, name=None) -> Tensor:
    """Running sum along ``axis`` (``exclusive``: shifted by one; ``reverse``: from the end).

    >>> import tapegrad as tf
    >>> tf.cumsum(tf.constant([1, 2, 3]), exclusive=True).numpy().tolist()
    [0, 1, 3]
    """
    return _scan(CUMSUM, x, axis, exclusive, reverse)


def cumprod(x, axis=0, exclusive=False, reverse=False, name=None) -> Tensor:
    """Running product along ``axis`` (``exclusive``: shifted by one; ``reverse``: from the
    end).

    >>> import tapegrad as tf
    >>> tf.math.cumprod(tf.constant([1, 2, 3]), reverse=True).numpy().tolist()
    [6, 6, 3]
    """
    return _scan(CUMPROD, x, axis, exclusive, reverse)


# -- sorting ---------------------------------------------------------------------------------

def _sort_order(values: np.ndarray, descending: bool) -> np.ndarray:
    """Stable order along the last axis (ties keep the lower index first, as TensorFlow)."""
    if descending:
        order = np.argsort(np.flip(values, -1), axis=-1, kind="stable")
        return values.shape[-1] - 1 - np.flip(order, -1)
    return np.argsort(values, axis=-1, kind="stable")


def _direction(direction) -> bool:
    if direction not in ("ASCENDING", "DESCENDING"):
        raise ValueError(f"Argument `direction` should be one of ASCENDING, DESCENDING. "
                         f"Received: direction={direction}")
    return direction == "DESCENDING"


def _last_axis_perm(ndim: int, axis: int):
    if axis == ndim - 1:
        return None
    return tuple(i for i in _range(ndim) if i != axis) + (axis,)


def _check_sortable(x, what: str):
    """TensorFlow sorts (TopKV2) real numbers only: no bool, no complex."""
    if x._value.dtype.kind not in "iuf":
        raise InvalidArgumentError(
            f"{what}: Value for attr 'T' of {x.dtype.name} is not in the list of allowed values "
            "(real numbers); compare or cast first, e.g. tapegrad.math.real(x) or "
            "tapegrad.cast(x, tapegrad.int32).")


def sort(values, axis=-1, direction="ASCENDING", name=None) -> Tensor:
    """``values`` sorted along ``axis``; the gradient goes back to the entries' positions.

    >>> import tapegrad as tf
    >>> tf.sort(tf.constant([3.0, 1.0, 2.0]), direction="DESCENDING").numpy().tolist()
    [3.0, 2.0, 1.0]
    """
    descending = _direction(direction)
    x = _operand(values)
    _check_sortable(x, "sort")
    ndim = len(shape_of(x))
    axis = _axis(axis, ndim, "sort")
    perm = _last_axis_perm(ndim, axis)
    moved = transpose(x, perm) if perm else x
    order = _sort_order(np.asarray(moved._value), descending)
    result = _take_dense(moved, order, ndim - 1, ndim - 1)
    return transpose(result, tuple(int(i) for i in np.argsort(perm))) if perm else result


def argsort(values, axis=-1, direction="ASCENDING", stable=False, name=None) -> Tensor:
    """The int32 indices that sort ``values`` along ``axis`` (ties in index order).

    >>> import tapegrad as tf
    >>> tf.argsort(tf.constant([3.0, 1.0, 2.0])).numpy().tolist()
    [1, 2, 0]
    """
    descending = _direction(direction)
    x = tensor_of(values)
    _check_sortable(x, "argsort")
    ndim = x._value.ndim
    axis = _axis(axis, ndim, "argsort")
    moved = np.moveaxis(np.asarray(x._value), axis, -1)
    order = np.moveaxis(_sort_order(moved, descending), -1, axis)
    return wrap(order.astype(np.int32))


TopKV2 = namedtuple("TopKV2", ["values", "indices"])


def _top_k_order(values: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest entries along the last axis, largest first, ties by index."""
    n = values.shape[-1]
    if not 0 < k < n // 8 or values.dtype.kind not in "iuf" or (
            values.dtype.kind == "f" and np.isnan(values).any()):
        return _sort_order(values, True)[..., :k]
    # Linear-time selection: the entries above the k-th largest value, then the first ties.
    kth = np.partition(values, n - k, axis=-1)[..., n - k:n - k + 1]
    greater = values > kth
    tied = values == kth
    room = k - greater.sum(axis=-1, keepdims=True)
    chosen = greater | (tied & (np.cumsum(tied, axis=-1) <= room))
    picked = np.nonzero(chosen)[-1].reshape(values.shape[:-1] + (k,))
    picked_values = np.take_along_axis(values, picked, axis=-1)
    return np.take_along_axis(picked, _sort_order(picked_values, True), axis=-1)


def top_k(input, k=1, sorted=True, index_type=_dt.int32, name=None):  # noqa: A002
    """The ``k`` largest entries along the last axis and their indices (ties: lower index
    first); the gradient of ``values`` goes to the selected positions.

    >>> import tapegrad as tf
    >>> tf.math.top_k(tf.constant([3.0, 1.0, 2.0]), 2).indices.numpy().tolist()
    [0, 2]
    """
    x = _operand(input)
    shape = shape_of(x)
    k = _int_scalar(k, "top_k: k")
    if not shape:
        raise InvalidArgumentError(f"input must be >= 1-D, got shape {list(shape)}")
    if k < 0:
        raise InvalidArgumentError(f"Need k >= 0, got {k}")
    if shape[-1] < k:
        raise InvalidArgumentError(f"input must have at least k columns. Had {shape[-1]}, "
                                   f"needed {k}")
    order = _top_k_order(np.asarray(x._value), k)
    ndim = len(shape)
    values = _take_dense(x, order, ndim - 1, ndim - 1)
    return TopKV2(values, wrap(order.astype(_dt.as_dtype(index_type)._np)))


Unique = namedtuple("Unique", ["y", "idx"])


def _unique_forward(x, out_idx):
    values, first, inverse = np.unique(x, return_index=True, return_inverse=True,
                                       equal_nan=False)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return x[np.sort(first)], rank[inverse.reshape(-1)].astype(out_idx)


UNIQUE = register("Unique", _unique_forward, NO_GRADIENT, None,
                  lambda: [Sample((np.array([1.0, 1.0, 2.0]),), {"out_idx": np.int32}, wrt=(),
                                  note="TensorFlow registers no gradient for Unique")],
                  n_outputs=2, differentiable=False)


def unique(x, out_idx=_dt.int32, name=None):
    """The distinct entries of a 1-D ``x`` in order of first appearance (``y``), and for each
    entry of ``x`` its position in ``y`` (``idx``). It has no gradient (as TensorFlow).

    >>> import tapegrad as tf
    >>> y, idx = tf.unique(tf.constant([3, 1, 3, 2]))
    >>> y.numpy().tolist(), idx.numpy().tolist()
    ([3, 1, 2], [0, 1, 0, 2])
    """
    x = _operand(x)
    if len(shape_of(x)) != 1:
        raise InvalidArgumentError(f"unique expects a 1D vector, got shape "
                                   f"{list(shape_of(x))}; reshape it with "
                                   "tapegrad.reshape(x, [-1]).")
    y, idx = apply(UNIQUE, (x,), {"out_idx": _dt.as_dtype(out_idx)._np})
    return Unique(y, idx)


# -- one_hot / repeat ------------------------------------------------------------------------

def one_hot(indices, depth, on_value=None, off_value=None, axis=None, dtype=None, name=None):
    """A one-hot encoding of ``indices`` with ``depth`` classes along ``axis`` (default last);
    out-of-range indices give a row of ``off_value``. It has no gradient (as TensorFlow).

    >>> import tapegrad as tf
    >>> tf.one_hot([0, 2], 3).numpy().tolist()
    [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    """
    index_tensor = tensor_of(indices)
    _check_int_indices(index_tensor, "one_hot")
    index_values = np.asarray(index_tensor._value)
    depth = _int_scalar(depth, "one_hot: depth")
    if depth < 0:
        raise InvalidArgumentError(f"depth must be non-negative, got: {depth}")
    on = None if on_value is None else tensor_of(on_value) if dtype is None else \
        convert_to_tensor(on_value, dtype=dtype)
    off = None if off_value is None else tensor_of(off_value) if dtype is None else \
        convert_to_tensor(off_value, dtype=dtype)
    if on is not None and off is not None and on.dtype != off.dtype:
        raise TypeError(f"dtype {on.dtype} of on_value does not match dtype {off.dtype} of "
                        "off_value")
    if dtype is not None:
        target = _dt.as_dtype(dtype)._np
    elif on is not None:
        target = on._value.dtype
    elif off is not None:
        target = off._value.dtype
    else:
        target = np.float32
    on_v = np.asarray(1 if on is None else on._value, dtype=target)
    off_v = np.asarray(0 if off is None else off._value, dtype=target)
    ndim = index_values.ndim
    axis = -1 if axis is None else _int_scalar(axis, "one_hot: axis")
    if not -1 <= axis <= ndim:
        raise InvalidArgumentError(f"Expected axis to be -1 or between [0, {ndim}].  But "
                                   f"received: {axis}")
    hot = index_values[..., None] == np.arange(depth)
    result = np.where(hot, on_v, off_v)
    if axis != -1:
        result = np.moveaxis(result, -1, axis)
    return wrap(np.ascontiguousarray(result))


def repeat(input, repeats, axis=None, name=None) -> Tensor:  # noqa: A002
    """Each entry (or slice along ``axis``) of ``input`` repeated ``repeats`` times; with
    ``axis=None`` the input is flattened first.

    >>> import tapegrad as tf
    >>> tf.repeat(tf.constant([1, 2]), [2, 1], axis=0).numpy().tolist()
    [1, 1, 2]
    """
    x = _operand(input)
    if axis is None:
        x = reshape(x, [-1])
        axis = 0
    shape = shape_of(x)
    axis = _axis(axis, len(shape), "repeat")
    counts = np.asarray(tensor_of(repeats)._value)
    if counts.dtype.kind not in "iu":
        raise TypeError(f"repeat: repeats must be integers, got {counts.dtype}.")
    if counts.ndim > 1 or (counts.ndim == 1 and counts.size not in (1, shape[axis])):
        raise ValueError(f"Dimensions {shape[axis]} and {counts.size} are not compatible: "
                         f"repeats needs one count per entry along axis {axis} (or one count).")
    if counts.size and counts.min() < 0:
        raise InvalidArgumentError(f"repeat: repeats must be non-negative, got "
                                   f"{counts.tolist()}.")
    index = np.repeat(np.arange(shape[axis]), np.broadcast_to(counts.reshape(-1), (shape[axis],))
                      if counts.ndim else int(counts))
    return _take_dense(x, index, axis, 0)


# -- einsum / tensordot / meshgrid -----------------------------------------------------------

_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _einsum_forward(*operands, equation):
    sizes = {}
    for labels, operand in zip(equation.split("->")[0].split(","), operands):
        for label, size in zip(labels.replace("...", ""), operand.shape[-len(labels):]):
            if sizes.setdefault(label, size) != size and 1 not in (size, sizes[label]):
                # (NumPy accepts some of these when one size is 0; TensorFlow never does)
                raise InvalidArgumentError(f"Einsum: label {label!r} has sizes {sizes[label]} "
                                           f"and {size} in {equation!r}; the sizes must agree.")
    if len(operands) > 2 or builtins.max((o.size for o in operands), default=0) > 4096:
        try:
            return np.einsum(equation, *operands, optimize=True)
        except ValueError:
            pass
    return np.einsum(equation, *operands)


def _einsum_split(equation: str):
    lhs, out = equation.split("->")
    return lhs.split(","), out


def _fresh_letters(equation: str, count: int) -> list:
    free = [c for c in _LETTERS if c not in equation]
    if len(free) < count:
        raise ValueError(f"einsum: the equation {equation!r} uses too many subscripts.")
    return free[:count]


def _einsum_vjp(inputs, output, attrs, upstream, needs):
    equation = attrs["equation"]
    terms, out = _einsum_split(equation)
    grads = []
    for i, need in enumerate(needs):
        if not need:
            grads.append(None)
            continue
        term = terms[i]
        sizes = dict(zip(term, shape_of(inputs[i])))
        others = [(terms[j], inputs[j]) for j in _range(len(terms)) if j != i]
        elsewhere: dict = dict(zip(out, shape_of(upstream)))
        for other_term, other in others:
            for c, d in zip(other_term, shape_of(other)):
                elsewhere[c] = builtins.max(elsewhere.get(c, 1), d)
        unique = "".join(dict.fromkeys(term))
        target = "".join(c for c in unique if c in elsewhere and
                         not (sizes[c] == 1 and elsewhere[c] > 1))
        spec = ",".join([out] + [t for t, _ in others]) + "->" + target
        grad = apply(EINSUM, [upstream] + [vocab.conj(o) for _, o in others],
                     {"equation": spec})
        kept_shape = tuple(shape_of(grad)[target.index(c)] if c in target else 1 for c in unique)
        if kept_shape != tuple(shape_of(grad)):
            grad = reshape(grad, kept_shape)
        full_shape = tuple(sizes[c] for c in unique)
        if kept_shape != full_shape:
            grad = broadcast_to(grad, full_shape)
        if len(unique) != len(term):
            # A subscript repeated within one operand (a diagonal): place the gradient on it.
            fresh = iter(_fresh_letters(equation, len(term)))
            seen, spread, links = set(), [], []
            for c in term:
                if c in seen:
                    letter = next(fresh)
                    spread.append(letter)
                    links.append(c + letter)
                else:
                    seen.add(c)
                    spread.append(c)
            eyes = [wrap(np.eye(sizes[link[0]], dtype=grad._value.dtype)) for link in links]
            grad = apply(EINSUM, [grad] + eyes,
                         {"equation": ",".join([unique] + links) + "->" + "".join(spread)})
        grads.append(grad)
    return tuple(grads)


def _einsum_jvp(inputs, output, attrs, tangents):
    terms = []
    for i, tangent in enumerate(tangents):
        if tangent is not None:
            operands = list(inputs)
            operands[i] = tangent
            terms.append(apply(EINSUM, operands, attrs))
    return sum_tangents(*terms)


EINSUM = register(
    "Einsum", _einsum_forward, _einsum_vjp, _einsum_jvp,
    lambda: [Sample((randn(2, 3), randn(3, 4, seed=1)), {"equation": "ab,bc->ac"}),
             Sample((randn(3, 3),), {"equation": "aa->a"}),
             Sample((randn(2, 3),), {"equation": "ab->"}),
             Sample((randn(2, 3, 2),), {"equation": "abc->b"}),
             Sample((randn(2), randn(3, seed=1)), {"equation": "a,b->ab"}),
             Sample((randn(2, 3), randn(3, 2, seed=1), randn(2, 2, seed=2)),
                    {"equation": "ab,bc,cd->ad"}),
             Sample((randn(2, 2, 3), randn(1, 3, 2, seed=1)), {"equation": "eab,ebc->eac"}),
             Sample((randn(2, 2, 3),), {"equation": "aab->b"}),
             Sample((randn(3), randn(1, seed=1)), {"equation": "a,a->"}),
             Sample((randn(2, 3), randn(2, 3, seed=1)), {"equation": "ab,ab->a"})])


def _einsum_equation(equation: str, shapes: list) -> str:
    """``equation`` with ``...`` spelled out as letters and the output made explicit."""
    text = equation.replace(" ", "")
    if text.count("->") > 1:
        raise ValueError(f"einsum: the equation {equation!r} has more than one '->'.")
    lhs, arrow, out = text.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise ValueError(f"einsum: the equation {equation!r} names {len(terms)} operand(s) but "
                         f"{len(shapes)} were given.")
    for part in terms + [out]:
        if not builtins.all(c in _LETTERS for c in part.replace("...", "")):
            raise ValueError(f"einsum: invalid subscripts {part!r} in {equation!r}; use letters "
                             "and '...'.")
    ranks = []
    for i, (term, shape) in enumerate(zip(terms, shapes)):
        named = len(term.replace("...", ""))
        rank = len(shape) - named if "..." in term else 0
        if rank < 0 or ("..." not in term and named != len(shape)):
            raise InvalidArgumentError(f"einsum: operand {i} has shape {list(shape)} but the "
                                       f"subscripts {term!r} name {named} axes.")
        ranks.append(rank)
    ell = _fresh_letters(text, builtins.max(ranks, default=0))
    spelled = [t.replace("...", "".join(ell[len(ell) - r:])) for t, r in zip(terms, ranks)]
    if not arrow:
        counts: dict = {}
        for t in terms:
            for c in t.replace("...", ""):
                counts[c] = counts.get(c, 0) + 1
        out = "".join(ell) + "".join(sorted(c for c, n in counts.items() if n == 1))
    else:
        out = out.replace("...", "".join(ell))
    sizes: dict = {}
    for i, (term, shape) in enumerate(zip(spelled, shapes)):
        for axis, (c, d) in enumerate(zip(term, shape)):
            known = sizes.get(c)
            if known is None or (c in ell and known == 1):
                sizes[c] = d
            elif known != d and not (c in ell and d == 1):
                raise InvalidArgumentError(
                    f"Expected dimension {known} at axis {axis} of the input shaped "
                    f"{list(shape)} but got dimension {d} (subscript {c!r} of operand {i} in "
                    f"{equation!r}).")
    for c in out:
        if c not in sizes or out.count(c) > 1:
            raise ValueError(f"einsum: output subscript {c!r} in {equation!r} must appear once "
                             "in the output and in some input.")
    return ",".join(spelled) + "->" + out


def einsum(equation, *inputs, **kwargs) -> Tensor:
    """Einstein summation over ``inputs`` as described by ``equation`` (``...`` broadcasts).

    >>> import tapegrad as tf
    >>> tf.einsum("ij,jk->ik", tf.ones([2, 3]), tf.ones([3, 4])).shape.as_list()
    [2, 4]
    """
    unknown = set(kwargs) - {"name", "optimize"}
    if unknown:
        raise TypeError(f"einsum: unexpected keyword argument(s) {sorted(unknown)}.")
    if len(inputs) == 1 and isinstance(inputs[0], (list, tuple)):
        inputs = tuple(inputs[0])
    operands = [_operand(x) for x in inputs]
    spec = _einsum_equation(equation, [tuple(shape_of(x)) for x in operands])
    return apply(EINSUM, operands, {"equation": spec}, same_dtype=True)


def tensordot(a, b, axes, name=None) -> Tensor:
    """Sum of products of ``a`` and ``b`` over the axis pairs in ``axes`` (an int N: the last
    N axes of ``a`` with the first N of ``b``).

    >>> import tapegrad as tf
    >>> tf.tensordot(tf.ones([2, 3]), tf.ones([3, 4]), 1).shape.as_list()
    [2, 4]
    """
    a, b = _operand(a), _operand(b)
    shape_a, shape_b = tuple(shape_of(a)), tuple(shape_of(b))
    if isinstance(axes, (int, np.integer)) or (isinstance(axes, Tensor) and
                                                axes._value.ndim == 0):
        n = _int_scalar(axes, "tensordot: axes")
        if not 0 <= n <= builtins.min(len(shape_a), len(shape_b)):
            raise ValueError(f"'axes' must be at most {builtins.min(len(shape_a), len(shape_b))}"
                             f" and at least 0, got {n} (ranks {len(shape_a)} and "
                             f"{len(shape_b)}).")
        axes_a = list(_range(len(shape_a) - n, len(shape_a)))
        axes_b = list(_range(n))
    else:
        axes = list(axes)
        if len(axes) != 2:
            raise ValueError(f"'axes' must be an integer or have length 2, got {axes}.")
        axes_a, axes_b = _int_list(axes[0]), _int_list(axes[1])
        if len(axes_a) != len(axes_b):
            raise ValueError(f"tensordot: axes {axes_a} of a and {axes_b} of b must have the "
                             "same length.")
        axes_a = [_axis(x, len(shape_a), "tensordot") for x in axes_a]
        axes_b = [_axis(x, len(shape_b), "tensordot") for x in axes_b]
    for i, j in zip(axes_a, axes_b):
        if shape_a[i] != shape_b[j]:
            raise InvalidArgumentError(f"Matrix size-incompatible: In[0]: {list(shape_a)}, "
                                       f"In[1]: {list(shape_b)} (axis {i} of a has size "
                                       f"{shape_a[i]}, axis {j} of b has size {shape_b[j]}).")
    letters = iter(_LETTERS)
    term_a = [next(letters) for _ in shape_a]
    term_b = [term_a[axes_a[axes_b.index(j)]] if j in axes_b else next(letters)
              for j in _range(len(shape_b))]
    out = [c for i, c in enumerate(term_a) if i not in axes_a] + \
          [c for j, c in enumerate(term_b) if j not in axes_b]
    spec = "".join(term_a) + "," + "".join(term_b) + "->" + "".join(out)
    return apply(EINSUM, (a, b), {"equation": spec}, same_dtype=True)


def meshgrid(*args, **kwargs) -> list:
    """Coordinate grids from 1-D tensors (``indexing='xy'``: the first two axes swapped, as
    NumPy and TensorFlow; ``'ij'``: matrix indexing).

    >>> import tapegrad as tf
    >>> [g.shape.as_list() for g in tf.meshgrid([1, 2, 3], [4, 5])]
    [[2, 3], [2, 3]]
    """
    indexing = kwargs.pop("indexing", "xy")
    kwargs.pop("name", None)
    if kwargs:
        raise TypeError(f"'{next(iter(kwargs))}' is an invalid keyword argument for this "
                        "function")
    if indexing not in ("xy", "ij"):
        raise ValueError(f"Argument `indexing` parameter must be either 'xy' or 'ij', got "
                         f"'{indexing}'")
    tensors = [_operand(a) for a in args]
    if not tensors:
        return []
    for t in tensors[1:]:
        if t.dtype != tensors[0].dtype:
            raise InvalidArgumentError(f"meshgrid: all inputs must share one dtype, got "
                                       f"{tensors[0].dtype.name} and {t.dtype.name}.")
    ndim = len(tensors)
    sizes = [int(np.prod(shape_of(t))) for t in tensors]
    positions = list(_range(ndim))
    if indexing == "xy" and ndim > 1:
        positions[0], positions[1] = 1, 0
    out_shape = [0] * ndim
    for size, position in zip(sizes, positions):
        out_shape[position] = size
    grids = []
    for t, position in zip(tensors, positions):
        shape = [1] * ndim
        shape[position] = -1
        grids.append(broadcast_to(reshape(t, shape), out_shape))
    return grids


# -- creation --------------------------------------------------------------------------------

def constant(value, dtype=None, shape=None, name=None) -> Tensor:
    """A tensor holding ``value`` (Python floats become float32, ints int32).

    >>> import tapegrad as tf
    >>> tf.constant(2.0)
    <tf.Tensor: shape=(), dtype=float32, numpy=2.0>
    """
    array = to_array(value, dtype)
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
    result = wrap(array)
    if hooks.provenance is not None:
        hooks.provenance.constant_created(value, result)
    return result


def _dtype_np(dtype):
    return _dt.as_dtype(dtype)._np


def _shape_arg(shape, what: str) -> tuple:
    dims = tuple(_int_list(shape))
    if builtins.any(d < 0 for d in dims):
        raise InvalidArgumentError(f"{what}: dimensions must be non-negative, got {list(dims)}.")
    return dims


def zeros(shape, dtype=_dt.float32, name=None) -> Tensor:
    """A tensor of zeros.

    >>> import tapegrad as tf
    >>> tf.zeros([2]).numpy().tolist()
    [0.0, 0.0]
    """
    return wrap(np.zeros(_shape_arg(shape, "zeros"), dtype=_dtype_np(dtype)))


def ones(shape, dtype=_dt.float32, name=None) -> Tensor:
    """A tensor of ones.

    >>> import tapegrad as tf
    >>> tf.ones([2], tf.int32).numpy().tolist()
    [1, 1]
    """
    return wrap(np.ones(_shape_arg(shape, "ones"), dtype=_dtype_np(dtype)))


def fill(dims, value, name=None) -> Tensor:
    """A tensor of shape ``dims`` filled with the scalar ``value`` (differentiable in
    ``value``, whose gradient is the sum of the upstream).

    >>> import tapegrad as tf
    >>> tf.fill([2, 2], 7).numpy().tolist()
    [[7, 7], [7, 7]]
    """
    dims = _shape_arg(dims, "fill")
    if isinstance(value, Tensor) or hasattr(value, "_read_for_op"):
        if len(shape_of(value)):
            raise InvalidArgumentError(f"value must be a scalar, got shape "
                                       f"{list(shape_of(value))}.")
        return broadcast_to(value, dims)
    array = to_array(value)
    if array.ndim:
        raise InvalidArgumentError(f"value must be a scalar, got shape {list(array.shape)}.")
    return wrap(np.full(dims, array, dtype=array.dtype))


def eye(num_rows, num_columns=None, batch_shape=None, dtype=_dt.float32, name=None) -> Tensor:
    """An identity matrix (or a batch of them).

    >>> import tapegrad as tf
    >>> tf.eye(2).numpy().tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    matrix = np.eye(num_rows, num_columns, dtype=_dtype_np(dtype))
    if batch_shape is not None:
        matrix = np.broadcast_to(matrix, tuple(_int_list(batch_shape)) + matrix.shape).copy()
    return wrap(matrix)


_RANGE_ORDER = ("int32", "int64", "float16", "float32", "float64")


def range(start, limit=None, delta=1, dtype=None, name=None) -> Tensor:  # noqa: A001
    """Numbers from ``start`` up to (not including) ``limit`` in steps of ``delta``.

    >>> import tapegrad as tf
    >>> tf.range(1, 2, 0.25).numpy().tolist()
    [1.0, 1.25, 1.5, 1.75]
    """
    if limit is None:
        start, limit = 0, start
    args = (start, limit, delta)
    values = [v._value.item() if isinstance(v, Tensor) else v for v in args]
    if dtype is None:
        names = []
        for given, value in zip(args, values):
            if isinstance(given, Tensor):
                names.append(given.dtype.name)
            elif isinstance(value, float) or (isinstance(value, np.generic) and
                                              np.dtype(type(value)).kind == "f"):
                names.append("float32")
            else:
                names.append("int32")
        dtype = builtins.max(names, key=lambda n: _RANGE_ORDER.index(n)
                             if n in _RANGE_ORDER else 0)
    elif _dtype_np(dtype).kind in "iu":
        for given, value in zip(args, values):
            if not isinstance(given, Tensor) and float(value) != int(value):
                raise TypeError(f"Cannot convert {value!r} to EagerTensor of dtype "
                                f"{_dt.as_dtype(dtype).name}: an integer range needs integer "
                                "bounds and step.")
    if values[2] == 0:
        raise InvalidArgumentError(f"Requires delta != 0: {values[2]}")
    if (values[2] > 0 and values[0] > values[1]) or (values[2] < 0 and values[0] < values[1]):
        raise InvalidArgumentError(f"Requires start <= limit when delta > 0: "
                                   f"{values[0]}/{values[1]}" if values[2] > 0 else
                                   f"Requires start >= limit when delta < 0: "
                                   f"{values[0]}/{values[1]}")
    return wrap(np.arange(*values, dtype=_dtype_np(dtype)))


def linspace(start, stop, num, name=None, axis=0) -> Tensor:
    """``num`` evenly spaced values from ``start`` to ``stop`` inclusive (along ``axis`` for
    tensor endpoints; differentiable in the endpoints, as TensorFlow's ``linspace_nd``).

    >>> import tapegrad as tf
    >>> tf.linspace(0.0, 1.0, 5).numpy().tolist()
    [0.0, 0.25, 0.5, 0.75, 1.0]
    """
    start_t = _operand(start)
    if start_t._value.dtype.kind not in "fc":  # (complex endpoints stay complex, as TF)
        start_t = vocab.cast(start_t, np.float64)
    stop_t = _operand(stop) if isinstance(stop, Tensor) or hasattr(stop, "_read_for_op") else \
        convert_to_tensor(stop, dtype=start_t.dtype) if not isinstance(stop, (int, float)) \
        else wrap(to_array(stop, start_t.dtype))
    if stop_t.dtype != start_t.dtype:
        stop_t = vocab.cast(stop_t, start_t.dtype.as_numpy_dtype) \
            if stop_t.dtype.name.startswith("int") else stop_t
    num = _int_scalar(num, "linspace: num")
    if num < 0:
        raise InvalidArgumentError(f"Requires num > 0: {num}")
    shape = np.broadcast_shapes(tuple(shape_of(start_t)), tuple(shape_of(stop_t)))
    ndim = len(shape) + 1
    axis = _axis(axis, ndim - 1, "linspace", extra=1)
    first = expand_dims(broadcast_to(start_t, shape), axis)
    last = expand_dims(broadcast_to(stop_t, shape), axis)
    if num <= 1:
        return slice_(first, [0] * ndim, [num if i == axis else -1 for i in _range(ndim)])
    delta = (last - first) / float(num - 1)
    steps_shape = [1] * ndim
    steps_shape[axis] = num - 2
    steps = wrap(np.arange(1, num - 1, dtype=first._value.dtype).reshape(steps_shape))
    return concat([first, first + delta * steps, last], axis)


def shape(input, out_type=_dt.int32, name=None) -> Tensor:  # noqa: A002
    """The shape of ``input`` as a 1-D integer tensor.

    >>> import tapegrad as tf
    >>> tf.shape(tf.zeros([2, 3])).numpy().tolist()
    [2, 3]
    """
    return wrap(np.asarray(shape_of(input), dtype=_dtype_np(out_type)))


def size(input, out_type=_dt.int32, name=None) -> Tensor:  # noqa: A002
    """The number of entries of ``input``.

    >>> import tapegrad as tf
    >>> int(tf.size(tf.zeros([2, 3])))
    6
    """
    return wrap(np.asarray(int(np.prod(shape_of(input))), dtype=_dtype_np(out_type)))


def rank(input, name=None) -> Tensor:  # noqa: A002
    """The number of axes of ``input``.

    >>> import tapegrad as tf
    >>> int(tf.rank(tf.zeros([2, 3])))
    2
    """
    return wrap(np.asarray(len(shape_of(input)), dtype=np.int32))

