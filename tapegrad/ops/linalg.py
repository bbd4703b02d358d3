"""Linear algebra: matmul and friends."""

from __future__ import annotations

from tapegrad._core.backend import np
from tapegrad._core.errors import InvalidArgumentError
from tapegrad._core.registry import register
from tapegrad._core.sample import Sample
from tapegrad._core.tensor import apply2
from tapegrad.ops import array as _array
from tapegrad.ops import math as _math
from tapegrad.ops._util import randn, shape_of, sum_tangents, unbroadcast


def matrix_transpose(a, name=None, conjugate=False):
    """Swap the last two axes (conjugating too when ``conjugate``)."""
    ndim = len(shape_of(a))
    if ndim < 2:
        raise InvalidArgumentError(f"matrix_transpose needs rank >= 2, got shape "
                                   f"{list(shape_of(a))}.")
    perm = list(range(ndim - 2)) + [ndim - 1, ndim - 2]
    return _array.transpose(a, perm, conjugate=conjugate)


def adjoint(matrix, name=None):
    return matrix_transpose(matrix, conjugate=True)


def _matmul_forward(a, b):
    try:
        return np.matmul(a, b)
    except ValueError:
        raise InvalidArgumentError(
            f"Matrix size-incompatible: In[0]: {list(np.shape(a))}, In[1]: "
            f"{list(np.shape(b))}; the last axis of a must equal the second-to-last of "
            "b.") from None


def _matmul_vjp(inputs, output, attrs, upstream, needs):
    a, b = inputs
    grad_a = grad_b = None
    if needs[0]:
        grad_a = unbroadcast(apply2(MATMUL, upstream, adjoint(b)), shape_of(a))
    if needs[1]:
        grad_b = unbroadcast(apply2(MATMUL, adjoint(a), upstream), shape_of(b))
    return grad_a, grad_b


def _matmul_jvp(inputs, output, attrs, tangents):
    a, b = inputs
    ta, tb = tangents
    return sum_tangents(None if ta is None else apply2(MATMUL, ta, b),
                        None if tb is None else apply2(MATMUL, a, tb))


MATMUL = register("MatMul", _matmul_forward, _matmul_vjp, _matmul_jvp,
                  lambda: [Sample((randn(2, 3), randn(3, 4, seed=1))),
                           Sample((randn(2, 2, 3), randn(3, 2, seed=1))),
                           Sample((randn(1, 2, 3), randn(4, 3, 2, seed=1)))])


def matmul(a, b, transpose_a=False, transpose_b=False, adjoint_a=False, adjoint_b=False,
           a_is_sparse=False, b_is_sparse=False, output_type=None, name=None):
    """Matrix product over the last two axes, batched over the leading ones.

    >>> import tapegrad as tf
    >>> tf.matmul(tf.ones([2, 3]), tf.ones([3, 4])).shape.as_list()
    [2, 4]
    """
    if len(shape_of(a)) < 2 or len(shape_of(b)) < 2:
        a_shape = shape_of(a) if hasattr(a, "_value") else np.shape(a)
        b_shape = shape_of(b) if hasattr(b, "_value") else np.shape(b)
        if len(a_shape) < 2 or len(b_shape) < 2:
            raise InvalidArgumentError(
                f"matmul needs tensors of rank >= 2, got shapes {list(a_shape)} and "
                f"{list(b_shape)}; use tapegrad.linalg.matvec or reshape the vector.")
    if transpose_a or adjoint_a:
        a = matrix_transpose(a, conjugate=adjoint_a)
    if transpose_b or adjoint_b:
        b = matrix_transpose(b, conjugate=adjoint_b)
    return apply2(MATMUL, a, b)


def matvec(a, b, transpose_a=False, adjoint_a=False, name=None):
    product = matmul(a, _array.expand_dims(b, -1), transpose_a=transpose_a, adjoint_a=adjoint_a)
    return _array.squeeze(product, -1)


def trace(x, name=None):
    from tapegrad.ops.reduction import reduce_sum
    n = shape_of(x)[-1]
    return reduce_sum(_math.multiply(x, _array.eye(n, dtype=x.dtype)), axis=[-2, -1])
