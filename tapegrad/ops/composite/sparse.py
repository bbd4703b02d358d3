"""``tf.sparse``: SparseTensor (COO indices, values, dense shape) and its basic operations.

Every operation is written with recorded ops (gather, scatter, matmul), so gradients reach the
``values`` of a SparseTensor and any dense operand, as in TensorFlow.
"""

from __future__ import annotations

from tapegrad._core.backend import np
from tapegrad._core.errors import InvalidArgumentError
from tapegrad._core.tensor import Tensor, TensorShape, apply, convert_to_tensor, wrap
from tapegrad.ops import array as _array
from tapegrad.ops import math as _math
from tapegrad.ops.array import GATHER_ND, SCATTER_ND


def _int64_tensor(value, what: str) -> Tensor:
    array = np.asarray(value.numpy() if isinstance(value, Tensor) else value)
    if array.size and array.dtype.kind not in "iu":
        raise TypeError(f"SparseTensor {what} must be integers, got {array.dtype}.")
    return wrap(array.astype(np.int64))


class SparseTensor:
    """A sparse tensor: ``values[i]`` sits at ``indices[i]`` of a ``dense_shape`` tensor.

    >>> import tapegrad as tf
    >>> st = tf.sparse.SparseTensor(indices=[[0, 0], [1, 2]], values=[1, 2], dense_shape=[3, 4])
    >>> tf.sparse.to_dense(st).numpy().tolist()
    [[1, 0, 0, 0], [0, 0, 2, 0], [0, 0, 0, 0]]
    """

    def __init__(self, indices, values, dense_shape):
        self._indices = _int64_tensor(indices, "indices")
        self._values = convert_to_tensor(values)
        self._dense_shape = _int64_tensor(dense_shape, "dense_shape")
        if self._indices.ndim != 2:
            raise ValueError(f"Shape {list(self._indices.shape)} must have rank 2 (indices "
                             f"hold one row of coordinates per value).")
        if self._values.ndim != 1:
            raise ValueError(f"Shape {list(self._values.shape)} must have rank 1 (values).")
        if self._dense_shape.ndim != 1:
            raise ValueError(f"Shape {list(self._dense_shape.shape)} must have rank 1 "
                             f"(dense_shape).")
        count, rank = self._indices.shape
        if self._values.shape[0] != count:
            raise ValueError(f"Dimensions {count} and {self._values.shape[0]} are not "
                             f"compatible")
        if self._dense_shape.shape[0] != rank:
            raise ValueError(f"Dimensions {rank} and {self._dense_shape.shape[0]} are not "
                             f"compatible")

    @property
    def indices(self) -> Tensor:
        return self._indices

    @property
    def values(self) -> Tensor:
        return self._values

    @property
    def dense_shape(self) -> Tensor:
        return self._dense_shape

    @property
    def dtype(self):
        return self._values.dtype

    @property
    def shape(self) -> TensorShape:
        return TensorShape(int(d) for d in self._dense_shape.numpy())

    def get_shape(self) -> TensorShape:
        return self.shape

    def with_values(self, new_values) -> SparseTensor:
        """The same indices and shape with other values."""
        return SparseTensor(self._indices, new_values, self._dense_shape)

    def __repr__(self) -> str:
        return (f"SparseTensor(indices={self._indices!s}, values={self._values!s}, "
                f"dense_shape={self._dense_shape!s})")

    @classmethod
    def from_value(cls, value) -> SparseTensor:
        return value if isinstance(value, SparseTensor) else from_dense(value)


def _check_sparse(value, what: str) -> SparseTensor:
    if not isinstance(value, SparseTensor):
        raise TypeError(f"{what} expects a SparseTensor, got {type(value).__name__}; convert "
                        f"a dense tensor with tf.sparse.from_dense.")
    return value


def _check_order(sp: SparseTensor, what: str) -> None:
    """TensorFlow's checks: indices inside the shape, in row-major order, without repeats."""
    indices = sp.indices.numpy()
    shape = sp.dense_shape.numpy()
    for i, index in enumerate(indices):
        if np.any(index < 0) or np.any(index >= shape):
            raise InvalidArgumentError(f"{what}: indices[{i}] = {index.tolist()} is out of "
                                       f"bounds for dense shape {shape.tolist()}.")
        if i and tuple(index) <= tuple(indices[i - 1]):
            problem = "is repeated" if tuple(index) == tuple(indices[i - 1]) else \
                "is out of order"
            raise InvalidArgumentError(f"{what}: indices[{i}] = {index.tolist()} {problem}. "
                                       "Many sparse ops require sorted indices. Use "
                                       "`tf.sparse.reorder` to create a correctly ordered copy.")


def _shape_tuple(sp: SparseTensor) -> tuple:
    return tuple(int(d) for d in sp.dense_shape.numpy())


def to_dense(sp_input, default_value=None, validate_indices=True, name=None) -> Tensor:
    """The dense tensor of ``sp_input`` (``default_value``, else zero, where no value is set);
    the gradient reaches ``sp_input.values``.

    >>> import tapegrad as tf
    >>> st = tf.sparse.SparseTensor([[1]], [5.0], [3])
    >>> tf.sparse.to_dense(st, default_value=-1.0).numpy().tolist()
    [-1.0, 5.0, -1.0]
    """
    sp = _check_sparse(sp_input, "tf.sparse.to_dense")
    if validate_indices:
        _check_order(sp, "SparseToDense")
    shape = _shape_tuple(sp)
    dense = apply(SCATTER_ND, (sp.indices, sp.values), {"shape": shape})
    if default_value is None:
        return dense
    unset = np.ones(shape, dtype=bool)
    unset[tuple(sp.indices.numpy().T)] = False
    default = _math.cast(convert_to_tensor(default_value, dtype_hint=sp.dtype), sp.dtype)
    return _array.where(wrap(unset), default, dense)


def from_dense(tensor, name=None) -> SparseTensor:
    """The non-zero entries of ``tensor`` as a SparseTensor (gradients reach ``tensor``).

    >>> import tapegrad as tf
    >>> tf.sparse.from_dense([[0, 3], [4, 0]]).indices.numpy().tolist()
    [[0, 1], [1, 0]]
    """
    tensor = convert_to_tensor(tensor)
    value = tensor.numpy()
    indices = np.argwhere(value != (b"" if tensor.dtype.name == "string" else 0))
    values = apply(GATHER_ND, (tensor, wrap(indices.astype(np.int64))))
    return SparseTensor(indices, values, np.asarray(value.shape, dtype=np.int64))


def reorder(sp_input, name=None) -> SparseTensor:
    """The same entries with indices in row-major order (gradients reach the values)."""
    sp = _check_sparse(sp_input, "tf.sparse.reorder")
    indices = sp.indices.numpy()
    order = np.lexsort(indices.T[::-1]) if indices.size else np.arange(len(indices))
    values = _array.gather(sp.values, wrap(order.astype(np.int64)))
    return SparseTensor(indices[order], values, sp.dense_shape)


def add(a, b, threshold=0) -> SparseTensor | Tensor:
    """``a + b`` where one or both are sparse: two SparseTensors give a SparseTensor (entries
    with ``|sum| < threshold`` dropped), a SparseTensor and a dense tensor give a dense tensor.

    >>> import tapegrad as tf
    >>> st = tf.sparse.SparseTensor([[0, 1]], [2.0], [2, 2])
    >>> tf.sparse.add(st, tf.ones([2, 2])).numpy().tolist()
    [[1.0, 3.0], [1.0, 1.0]]
    """
    if not isinstance(a, SparseTensor):
        a, b = b, a
    a = _check_sparse(a, "tf.sparse.add")
    if not isinstance(b, SparseTensor):
        b = convert_to_tensor(b, dtype=a.dtype)
        if tuple(b.shape) != _shape_tuple(a):
            raise InvalidArgumentError(f"tf.sparse.add: dense shape {list(b.shape)} differs "
                                       f"from the sparse shape {list(_shape_tuple(a))}.")
        return _array.tensor_scatter_nd_add(b, a.indices, a.values)
    if _shape_tuple(a) != _shape_tuple(b):
        raise InvalidArgumentError(f"tf.sparse.add: operands' shapes do not match: "
                                   f"{list(_shape_tuple(a))} vs. {list(_shape_tuple(b))}.")
    if a.dtype != b.dtype:
        raise TypeError(f"tf.sparse.add: values of dtype {a.dtype.name} and {b.dtype.name}; "
                        "cast one of them.")
    both = np.concatenate([a.indices.numpy(), b.indices.numpy()])
    merged, position = np.unique(both, axis=0, return_inverse=True)
    position = position.reshape(-1, 1).astype(np.int64)
    count = len(a.indices.numpy())
    values = (apply(SCATTER_ND, (wrap(position[:count]), a.values), {"shape": (len(merged),)})
              + apply(SCATTER_ND, (wrap(position[count:]), b.values),
                      {"shape": (len(merged),)}))
    if threshold:
        keep = np.abs(values.numpy()) >= threshold
        merged = merged[keep]
        values = _array.boolean_mask(values, wrap(keep))
    return SparseTensor(merged.reshape(-1, a.indices.shape[1]), values, a.dense_shape)


def sparse_dense_matmul(sp_a, b, adjoint_a=False, adjoint_b=False, name=None) -> Tensor:
    """The matrix product of a rank-2 SparseTensor and a dense matrix (gradients reach both
    ``sp_a.values`` and ``b``).

    >>> import tapegrad as tf
    >>> st = tf.sparse.SparseTensor([[0, 1], [1, 0]], [2.0, 3.0], [2, 2])
    >>> tf.sparse.sparse_dense_matmul(st, tf.constant([[1.0], [10.0]])).numpy().tolist()
    [[20.0], [3.0]]
    """
    sp = _check_sparse(sp_a, "tf.sparse.sparse_dense_matmul")
    b = convert_to_tensor(b, dtype=sp.dtype)
    rows, cols = _shape_tuple(sp)
    indices = sp.indices.numpy()
    row, col = indices[:, 0], indices[:, 1]
    values = sp.values
    if adjoint_a:
        rows, cols, row, col = cols, rows, col, row
        values = _math.conj(values) if sp.dtype.is_complex else values
    if adjoint_b:
        b = _array.transpose(_math.conj(b) if b.dtype.is_complex else b)
    if b.ndim != 2 or b.shape[0] != cols:
        raise InvalidArgumentError(f"tf.sparse.sparse_dense_matmul: cannot multiply a "
                                   f"[{rows}, {cols}] sparse matrix by a "
                                   f"{list(b.shape)} dense one.")
    # gather_nd rather than gather: b's gradient is then dense, as TensorFlow returns it
    rows_of_b = apply(GATHER_ND, (b, wrap(col.reshape(-1, 1).astype(np.int64))))
    products = rows_of_b * _array.expand_dims(values, 1)
    return apply(SCATTER_ND, (wrap(row.reshape(-1, 1).astype(np.int64)), products),
                 {"shape": (rows, b.shape[1])})
