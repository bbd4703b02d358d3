"""``tf.linalg``'s functions built from several op families: matvec, trace, logdet, the
pseudo-inverse, least squares and norms (TensorFlow's ``linalg_impl``)."""

from __future__ import annotations

from tapegrad._core.backend import np
from tapegrad._core.errors import InvalidArgumentError
from tapegrad._core.tensor import Tensor, wrap
from tapegrad.ops import array, linalg, math, reduction
from tapegrad.ops._util import tensor_of
from tapegrad.ops._vocab import shape_of


def matvec(a, b, transpose_a=False, adjoint_a=False, a_is_sparse=False, b_is_sparse=False,
           name=None):
    """Matrix-vector product ``a @ b`` over the last axes, batched.

    >>> import tapegrad as tf
    >>> tf.linalg.matvec(tf.eye(2), tf.constant([1.0, 2.0])).numpy().tolist()
    [1.0, 2.0]
    """
    product = linalg.matmul(a, array.expand_dims(b, -1), transpose_a=transpose_a,
                            adjoint_a=adjoint_a)
    return array.squeeze(product, -1)


def trace(x, name=None):
    """Sum of the main diagonal of each matrix (over the last two axes).

    >>> import tapegrad as tf
    >>> float(tf.linalg.trace(tf.eye(3)))
    3.0
    """
    # (the diagonal of a non-square matrix too, as TensorFlow's sum of matrix_diag_part)
    return reduction.reduce_sum(linalg.diag_part(tensor_of(x)), axis=-1)



def logdet(matrix, name=None):
    """Log-determinant of Hermitian positive definite matrices, through their Cholesky factor.

    >>> import tapegrad as tf
    >>> round(float(tf.linalg.logdet(tf.constant([[4.0, 0.0], [0.0, 1.0]]))), 4)
    1.3863
    """
    chol = linalg.cholesky(matrix)
    return 2.0 * reduction.reduce_sum(math.log(math.real(linalg.diag_part(chol))), axis=[-1])



def pinv(a, rcond=None, validate_args=False, name=None):
    """Moore-Penrose pseudo-inverse through the SVD (singular values below
    ``rcond * max(s)`` are dropped; default ``rcond = 10 * max(m, n) * eps``).

    >>> import tapegrad as tf
    >>> tf.linalg.pinv(tf.constant([[2.0, 0.0], [0.0, 0.0]])).numpy().tolist()
    [[0.5, 0.0], [0.0, 0.0]]
    """
    a = tensor_of(a)
    shape = shape_of(a)
    if len(shape) < 2:
        raise InvalidArgumentError(f"pinv: input must be at least rank 2, got shape "
                                   f"{list(shape)}.")
    real_dtype = np.zeros((), a._value.dtype).real.dtype
    if rcond is None:
        rcond = 10.0 * max(shape[-2:]) * float(np.finfo(real_dtype).eps)
    s, u, v = linalg.svd(a, full_matrices=False, compute_uv=True)
    cutoff = array.expand_dims(rcond * reduction.reduce_max(s, axis=-1), -1)
    s = array.where(math.greater(s, cutoff), s,
                     wrap(np.full(shape_of(s), np.inf, dtype=real_dtype)))
    scaled = v / math.cast(array.expand_dims(s, -2), v.dtype)
    return linalg.matmul(scaled, u, adjoint_b=True)


def lstsq(matrix, rhs, l2_regularizer=0.0, fast=True, name=None):
    """Least-squares solution of ``matrix @ x = rhs`` (with an optional L2 penalty).

    ``fast=True`` solves the (regularized) normal equations through a Cholesky factor, as
    TensorFlow; ``fast=False`` uses the pseudo-inverse (minimum-norm solution; ``l2_regularizer``
    must then be 0).

    >>> import tapegrad as tf
    >>> x = tf.linalg.lstsq(tf.constant([[1.0], [1.0]]), tf.constant([[1.0], [3.0]]))
    >>> x.numpy().tolist()
    [[2.0]]
    """
    a = tensor_of(matrix)
    b = tensor_of(rhs)
    shape = shape_of(a)
    if len(shape) < 2 or len(shape_of(b)) < 2 or shape_of(b)[-2] != shape[-2]:
        raise InvalidArgumentError(
            f"lstsq: matrix shape {list(shape)} and rhs shape {list(shape_of(b))} are "
            "incompatible; matrix is [..., m, n] and rhs [..., m, k].")
    l2 = float(getattr(l2_regularizer, "_value", l2_regularizer))
    if not fast:
        if l2 != 0.0:
            raise NotImplementedError("lstsq: fast=False supports only l2_regularizer=0.")
        return linalg.matmul(pinv(a), b)
    m, n = shape[-2:]
    if m >= n:
        gram = linalg.matmul(a, a, adjoint_a=True)
        if l2:
            gram = gram + l2 * array.eye(n, dtype=a.dtype)
        return linalg.cholesky_solve(linalg.cholesky(gram), linalg.matmul(a, b, adjoint_a=True))
    gram = linalg.matmul(a, a, adjoint_b=True)
    if l2:
        gram = gram + l2 * array.eye(m, dtype=a.dtype)
    return linalg.matmul(a, linalg.cholesky_solve(linalg.cholesky(gram), b), adjoint_a=True)



def norm(tensor, ord="euclidean", axis=None, keepdims=None, name=None):  # noqa: A002
    """Vector norm (``ord`` 'euclidean', 1, 2, inf or any p > 0) over ``axis``, or matrix norm
    ('euclidean'/'fro', 1, 2, inf) over a pair of axes. The gradient at the zero vector is NaN,
    as TensorFlow.

    >>> import tapegrad as tf
    >>> float(tf.norm(tf.constant([3.0, 4.0])))
    5.0
    """
    x = tensor_of(tensor)
    ndim = x._value.ndim
    is_matrix = isinstance(axis, (tuple, list)) and len(axis) == 2
    if is_matrix:
        axes = tuple(int(a) for a in axis)
        if axes[0] % max(ndim, 1) == axes[1] % max(ndim, 1):
            raise ValueError(f"'axis' must be None, an integer, or a tuple of 2 unique "
                             f"integers, got {axis}")
        for a in axes:
            if not -ndim <= a < ndim:
                raise InvalidArgumentError(f"norm: axis {a} is out of range for a tensor of "
                                           f"rank {ndim}.")
        if ord not in ("euclidean", "fro", 1, 2, np.inf):
            raise ValueError(f"'ord' must be a supported matrix norm in ['euclidean', 'fro', 1, "
                             f"2, inf], got {ord}")
    else:
        if isinstance(axis, (tuple, list)) and len(axis) == 1:
            axis = axis[0]
        if isinstance(axis, Tensor):
            axis = int(axis._value)
        if not (axis is None or isinstance(axis, (int, np.integer))):
            raise ValueError(f"'axis' must be None, an integer, or a tuple of 2 unique "
                             f"integers, got {axis}")
        if ord != "euclidean" and (isinstance(ord, str) or not ord > 0):
            raise ValueError(f"'ord' must be a supported vector norm, got {ord}")
        axes = None if axis is None else (int(axis),)
    if ord in ("euclidean", "fro") or (ord == 2 and not is_matrix):
        result = math.sqrt(reduction.reduce_sum(x * math.conj(x), axes, keepdims=True))
    elif ord == 2:
        pair = tuple(a % ndim for a in axes)
        perm = [i for i in range(ndim) if i not in pair] + list(pair)
        moved = array.transpose(x, perm)
        singular = linalg.svd(moved, compute_uv=False)
        largest = reduction.reduce_max(math.abs(singular), -1, keepdims=True)
        result = array.transpose(array.expand_dims(largest, -1),
                                  [int(i) for i in np.argsort(perm)])
    else:
        result = math.abs(x)
        if ord == 1:
            result = reduction.reduce_sum(result, None if axes is None else axes[0], keepdims=True)
            if is_matrix:
                result = reduction.reduce_max(result, axes[-1], keepdims=True)
        elif ord == np.inf:
            if is_matrix:
                result = reduction.reduce_sum(result, axes[1], keepdims=True)
            result = reduction.reduce_max(result, None if axes is None else axes[0], keepdims=True)
        else:
            result = math.pow(reduction.reduce_sum(math.pow(result, ord), axes, keepdims=True),
                               1.0 / ord)
    if not keepdims:
        result = array.squeeze(result, None if axes is None else list(axes))
    return result
