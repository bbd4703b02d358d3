"""Linear algebra (``tf.linalg``): matmul and friends, factorizations, solvers, expm.

Every op works on the last two axes and batches over the leading ones. Reverse rules follow
TensorFlow's registered gradients (``linalg_grad.py``); forward rules are their transposes.
"""

from __future__ import annotations

from collections import namedtuple

from tapegrad._core.backend import np
from tapegrad._core.errors import InvalidArgumentError
from tapegrad._core.registry import REGISTRY, register
from tapegrad._core.tensor import Tensor, apply, apply1, apply2, wrap
from tapegrad.ops import _vocab as vocab
from tapegrad.ops._sample import Sample
from tapegrad.ops._util import INEXACT, randn, tensor_of
from tapegrad.ops._vocab import matmul as rule_matmul
from tapegrad.ops._vocab import run, shape_of, sum_like, sum_tangents

#: The dtypes of TensorFlow's CPU kernels for det, slogdet, solve, cholesky, eigh and svd (no
#: float16; inv and qr take it).
_NO_HALF = frozenset({"float32", "float64", "c"})


def matrix_transpose(a, name=None, conjugate=False):
    """Swap the last two axes (conjugating too when ``conjugate``).

    >>> import tapegrad as tf
    >>> tf.linalg.matrix_transpose(tf.ones([2, 3, 4])).shape.as_list()
    [2, 4, 3]
    """
    ndim = len(shape_of(a))
    if ndim < 2:
        raise InvalidArgumentError(f"matrix_transpose needs rank >= 2, got shape "
                                   f"{list(shape_of(a))}.")
    x = tensor_of(a)
    return vocab.matrix_adjoint(x) if conjugate else vocab.matrix_transpose(x)


def adjoint(matrix, name=None):
    """Conjugate transpose of the last two axes."""
    return matrix_transpose(matrix, conjugate=True)


def _matmul_forward(a, b):
    try:
        a_rank, b_rank = a.ndim, b.ndim
        if a_rank == 2 and b_rank == 2:
            return np.matmul(a, b)  # (the usual case first)
        if a_rank > 2 and b_rank == 2 and a.shape[-1] == b.shape[0]:
            # A stack times one matrix is one GEMM on the stacked rows (NumPy would loop).
            # (row counts spelled out: -1 cannot be inferred when an axis is empty)
            rows = a.size // a.shape[-1] if a.shape[-1] else int(np.prod(a.shape[:-1]))
            return np.matmul(a.reshape(rows, a.shape[-1]), b).reshape(a.shape[:-1] + b.shape[1:])
        if a_rank == 2 and b_rank > 2 and a.shape[-1] == b.shape[-2]:
            # One matrix times a stack, as one GEMM: (a @ b_i)^T = b_i^T @ a^T for every i.
            # The stacked b_i^T is a view when b_i are columns (a Jacobian's rows).
            rows = b.size // b.shape[-2] if b.shape[-2] else int(np.prod(b.shape[:-2])) * \
                b.shape[-1]
            stacked = b.swapaxes(-1, -2).reshape(rows, b.shape[-2])
            product = np.matmul(stacked, a.T)
            return product.reshape(b.shape[:-2] + (b.shape[-1], a.shape[0])).swapaxes(-1, -2)
        return np.matmul(a, b)
    except ValueError:
        raise InvalidArgumentError(
            f"Matrix size-incompatible: In[0]: {list(np.shape(a))}, In[1]: "
            f"{list(np.shape(b))}; the last axis of a must equal the second-to-last of "
            "b.") from None


def _matmul_vjp(inputs, output, attrs, upstream, needs):
    a, b = inputs
    # (adjoints passed by position: keyword arguments take the interpreter's slower call)
    return (rule_matmul(upstream, b, False, True) if needs[0] else None,
            rule_matmul(a, upstream, True, False) if needs[1] else None)


def _matmul_jvp(inputs, output, attrs, tangents):
    a, b = inputs
    ta, tb = tangents
    return sum_tangents(None if ta is None else rule_matmul(ta, b),
                        None if tb is None else rule_matmul(a, tb))


# The matmul rule broadcasts over leading batch axes (vectorised jacobian).
MATMUL = register("MatMul", _matmul_forward, _matmul_vjp, _matmul_jvp,
                  lambda: [Sample((randn(2, 3), randn(3, 4, seed=1))),
                           Sample((randn(2, 2, 3), randn(3, 2, seed=1))),
                           Sample((randn(1, 2, 3), randn(4, 3, 2, seed=1)))],
                  batchable=True, dtypes=frozenset({"int32", "int64", "f", "c"}),
                  array_rules=True, broadcasting=True)


def matmul(a, b, transpose_a=False, transpose_b=False, adjoint_a=False, adjoint_b=False,
           a_is_sparse=False, b_is_sparse=False, output_type=None, name=None):
    """Matrix product over the last two axes, batched over the leading ones.

    >>> import tapegrad as tf
    >>> tf.matmul(tf.ones([2, 3]), tf.ones([3, 4])).shape.as_list()
    [2, 4]
    """
    a_value = getattr(a, "_value", None)
    b_value = getattr(b, "_value", None)
    if a_value is not None and b_value is not None and a_value.ndim >= 2 and \
            b_value.ndim >= 2 and not (transpose_a or transpose_b or adjoint_a or adjoint_b):
        return apply2(MATMUL, a, b)  # the common case, without the argument handling below
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


# -- small helpers for the rules -------------------------------------------------------------

def _check_square(x, op: str, fix: str = "") -> None:
    shape = np.shape(x)
    if len(shape) < 2 or shape[-1] != shape[-2]:
        raise InvalidArgumentError(
            f"{op}: Input matrix must be square, got shape {list(shape)}"
            + (f"; {fix}" if fix else "; pass a [..., n, n] tensor") + ".")


def _swap(x):
    """NumPy conjugate transpose of the last two axes."""
    return np.conj(np.swapaxes(x, -1, -2))


def _safe_reciprocal(x):
    """``x / (x * x + 1e-20)``: TensorFlow's Lorentz-broadened reciprocal for the rules."""
    return x / (x * x + 1e-20)


def _as_dtype_of(x, like):
    """``x`` cast to ``like``'s dtype (real to complex where needed)."""
    target = like._value.dtype
    return x if x._value.dtype == target else vocab.cast(x, target)


def _real(x):
    """The real part of a complex tensor."""
    return run(REGISTRY["Real"], x)


def _imag(x):
    """The imaginary part of a complex tensor."""
    return run(REGISTRY["Imag"], x)


def _imaginary_unit_times(x):
    """``1j * x`` for a real tensor ``x`` (the complex dtype of its precision)."""
    return run(REGISTRY["Complex"], vocab.zeros_like(x), x)


def _concat(first, second, axis: int):
    """``first`` and ``second`` joined along ``axis`` (negative: from the end)."""
    return run(REGISTRY["ConcatV2"], first, second, axis=axis % len(shape_of(first)))


def _as_matrices(x):
    """``x`` with two size-1 axes appended (a scalar per matrix, to scale matrices)."""
    return vocab.reshape(x, (*shape_of(x), 1, 1))


def _sum_matrices(x):
    """The sum of each matrix of ``x`` (over its last two axes)."""
    rank = len(shape_of(x))
    return vocab.reduce_sum(x, (rank - 2, rank - 1))


def _reciprocal_gaps(values):
    """``f[..., i, j] = 1 / (values[j] - values[i])`` off the diagonal, 0 on it."""
    gaps = vocab.expand_dims(values, -2) - vocab.expand_dims(values, -1)
    return set_diag(_safe_reciprocal(gaps), vocab.zeros_like(values))


def _hermitian_lower(t):
    """The Hermitian matrix whose lower triangle is ``t``'s (what LAPACK reads)."""
    lower = band_part(t, -1, 0)
    full = lower + adjoint(lower)
    return set_diag(full, 0.5 * diag_part(full))


# -- band_part, diag, diag_part, set_diag ----------------------------------------------------

def _band_mask(rows: int, cols: int, num_lower: int, num_upper: int):
    i = np.arange(rows)[:, None]
    j = np.arange(cols)[None, :]
    mask = np.ones((rows, cols), dtype=bool)
    if num_lower >= 0:
        mask &= (i - j) <= num_lower
    if num_upper >= 0:
        mask &= (j - i) <= num_upper
    return mask


def band_part(input, num_lower, num_upper, name=None):  # noqa: A002 - TensorFlow's name
    """Keep a band of each matrix and zero the rest (``-1`` keeps a whole triangle).

    >>> import tapegrad as tf
    >>> tf.linalg.band_part(tf.ones([3, 3]), 0, -1).numpy().tolist()
    [[1.0, 1.0, 1.0], [0.0, 1.0, 1.0], [0.0, 0.0, 1.0]]
    """
    x = tensor_of(input)
    shape = shape_of(x)
    if len(shape) < 2:
        raise InvalidArgumentError(f"band_part: input must be at least rank 2, got shape "
                                   f"{list(shape)}.")
    num_lower, num_upper = int(num_lower), int(num_upper)
    rows, cols = shape[-2], shape[-1]
    if num_lower > rows or num_upper > cols:
        raise InvalidArgumentError(
            f"band_part: num_lower ({num_lower}) must be at most the number of rows ({rows}) "
            f"and num_upper ({num_upper}) at most the number of columns ({cols}); use -1 to "
            "keep a whole triangle.")
    mask = wrap(_band_mask(rows, cols, num_lower, num_upper))
    return vocab.select(mask, x, vocab.zeros_like(x))


def _diag_length(rows: int, cols: int, k: int) -> int:
    return max(0, min(rows + min(k, 0), cols - max(k, 0)))


def _matrix_diag_forward(d, k=0, num_rows=-1, num_cols=-1, padding_value=0):
    length = d.shape[-1]
    rows = num_rows if num_rows >= 0 else length + max(-k, 0)
    cols = num_cols if num_cols >= 0 else length + max(k, 0)
    if num_rows < 0 and num_cols < 0:
        rows = cols = length + abs(k)
    out = np.full(d.shape[:-1] + (rows, cols), padding_value, dtype=d.dtype)
    n = min(length, _diag_length(rows, cols, k))
    if n:
        idx = np.arange(n)
        out[..., idx + max(-k, 0), idx + max(k, 0)] = d[..., :n]
    return out


def _matrix_diag_vjp(inputs, output, attrs, upstream, needs):
    length = shape_of(inputs[0])[-1]
    part = diag_part(upstream, k=attrs["k"])
    if shape_of(part)[-1] != length:
        part = part[..., :length]
    return (part,)


def _matrix_diag_jvp(inputs, output, attrs, tangents):
    return apply1(MATRIX_DIAG, tangents[0], {**attrs, "padding_value": 0})


MATRIX_DIAG = register(
    "MatrixDiagV3", _matrix_diag_forward, _matrix_diag_vjp, _matrix_diag_jvp,
    lambda: [Sample((randn(3),), {"k": 0, "num_rows": -1, "num_cols": -1}),
             Sample((randn(2, 3),), {"k": 1, "num_rows": -1, "num_cols": -1}),
             Sample((randn(2, 2),), {"k": -1, "num_rows": 4, "num_cols": -1,
                                     "padding_value": 9.0}),
             Sample((randn(2),), {"k": 0, "num_rows": 3, "num_cols": 2})])


def _matrix_diag_part_forward(x, k=0):
    return np.diagonal(x, offset=k, axis1=-2, axis2=-1).copy()


MATRIX_DIAG_PART = register(
    "MatrixDiagPartV3", _matrix_diag_part_forward,
    lambda inputs, output, attrs, upstream, needs: (apply1(
        MATRIX_DIAG, upstream, {"k": attrs["k"], "num_rows": shape_of(inputs[0])[-2],
                                "num_cols": shape_of(inputs[0])[-1]}),),
    lambda inputs, output, attrs, tangents: apply1(MATRIX_DIAG_PART, tangents[0], attrs),
    lambda: [Sample((randn(3, 3),), {"k": 0}),
             Sample((randn(2, 3, 4),), {"k": 1}),
             Sample((randn(4, 3),), {"k": -2})])


def _diag_k(k) -> int:
    if isinstance(k, Tensor):
        k = k._value.tolist()
    if isinstance(k, (list, tuple)):
        if len(k) == 1 or (len(k) == 2 and k[0] == k[1]):
            return int(k[0])
        raise NotImplementedError(
            "tapegrad.linalg: a band of diagonals k=(lower, upper) is not supported yet; call "
            "the function once per diagonal with an integer k.")
    return int(k)


def diag(diagonal, name="diag", k=0, num_rows=-1, num_cols=-1, padding_value=0,
         align="RIGHT_LEFT"):
    """Matrices with ``diagonal`` on their ``k``-th diagonal (batched).

    >>> import tapegrad as tf
    >>> tf.linalg.diag(tf.constant([1.0, 2.0])).numpy().tolist()
    [[1.0, 0.0], [0.0, 2.0]]
    """
    d = tensor_of(diagonal)
    if len(shape_of(d)) < 1:
        raise InvalidArgumentError("diag: diagonal must be at least rank 1, got a scalar; "
                                   "wrap it in a list.")
    padding = padding_value._value.item() if isinstance(padding_value, Tensor) else padding_value
    return apply1(MATRIX_DIAG, d, {"k": _diag_k(k), "num_rows": int(num_rows),
                                   "num_cols": int(num_cols), "padding_value": padding})


def diag_part(input, name="diag_part", k=0, padding_value=0,  # noqa: A002
              align="RIGHT_LEFT"):
    """The ``k``-th diagonal of each matrix (batched).

    >>> import tapegrad as tf
    >>> tf.linalg.diag_part(tf.eye(2)).numpy().tolist()
    [1.0, 1.0]
    """
    x = tensor_of(input)
    if len(shape_of(x)) < 2:
        raise InvalidArgumentError(f"diag_part: input must be at least rank 2, got shape "
                                   f"{list(shape_of(x))}.")
    return apply1(MATRIX_DIAG_PART, x, {"k": _diag_k(k)})


def set_diag(input, diagonal, name="set_diag", k=0, align="RIGHT_LEFT"):  # noqa: A002
    """``input`` with its ``k``-th diagonal replaced by ``diagonal``.

    >>> import tapegrad as tf
    >>> tf.linalg.set_diag(tf.ones([2, 2]), tf.zeros([2])).numpy().tolist()
    [[0.0, 1.0], [1.0, 0.0]]
    """
    x = tensor_of(input)
    d = tensor_of(diagonal)
    shape = shape_of(x)
    if len(shape) < 2:
        raise InvalidArgumentError(f"set_diag: input must be at least rank 2, got shape "
                                   f"{list(shape)}.")
    k = _diag_k(k)
    rows, cols = shape[-2], shape[-1]
    length = _diag_length(rows, cols, k)
    if shape_of(d)[-1:] != (length,):
        raise InvalidArgumentError(
            f"set_diag: diagonal of shape {list(shape_of(d))} does not fit diagonal k={k} of "
            f"a matrix of shape {list(shape)}; its last axis must have length {length}.")
    mask = np.zeros((rows, cols), dtype=bool)
    idx = np.arange(length)
    mask[idx + max(-k, 0), idx + max(k, 0)] = True
    placed = apply1(MATRIX_DIAG, d, {"k": k, "num_rows": rows, "num_cols": cols})
    return vocab.select(wrap(mask), placed, x)


# -- inverse, determinants --------------------------------------------------------------------

_NOT_INVERTIBLE = ("Input is not invertible. (A matrix in the batch is singular; use "
                   "tapegrad.linalg.pinv or tapegrad.linalg.lstsq for singular systems.)")


def _nan_where_not_finite(x, compute):
    """``compute(x)`` (a LAPACK routine: an array or a tuple of arrays with ``x``'s batch
    axes first) without ever handing LAPACK NaN or inf, which can hang it (SVD) or make it
    fail: such matrices are replaced by zeros, and their results set to NaN, as TensorFlow's."""
    bad = ~np.isfinite(x).all(axis=(-2, -1))
    if not bad.any():
        return compute(x)
    outputs = compute(np.where(bad[..., None, None], np.zeros((), x.dtype), x))
    single = not isinstance(outputs, tuple)
    fixed = []
    for out in (outputs,) if single else outputs:
        out = np.array(out, copy=True)
        if out.ndim >= bad.ndim and out.shape[:bad.ndim] == bad.shape:
            out[bad] = np.nan
        fixed.append(out)
    return fixed[0] if single else tuple(fixed)


def _check_finite(x, message: str):
    if not np.isfinite(x).all():
        raise InvalidArgumentError(message)


def _inv_forward(x, adjoint=False):
    _check_square(x, "inv", "use tapegrad.linalg.pinv for a non-square matrix")
    _check_finite(x, _NOT_INVERTIBLE)
    try:
        out = np.linalg.inv(_single_if_half(x)).astype(x.dtype, copy=False)
    except np.linalg.LinAlgError:
        raise InvalidArgumentError(_NOT_INVERTIBLE) from None
    return _swap(out) if adjoint else out


def _single_if_half(x):
    """float16 matrices as float32 for LAPACK (which has no half precision)."""
    return x.astype(np.float32) if x.dtype == np.float16 else x


def _inv_vjp(inputs, output, attrs, upstream, needs):
    y = output
    if attrs and attrs.get("adjoint"):
        return (-matmul(y, matmul(upstream, y, adjoint_a=True)),)
    return (-matmul(y, matmul(upstream, y, adjoint_b=True), adjoint_a=True),)


def _inv_jvp(inputs, output, attrs, tangents):
    t = tangents[0]
    if attrs and attrs.get("adjoint"):
        t = adjoint(t)
    return -matmul(output, matmul(t, output))


def _well_conditioned(*shape, seed=0, complex_=False):
    """A random [..., n, n] matrix with n added to its diagonal."""
    a = randn(*shape, seed=seed)
    if complex_:
        a = a + 1j * randn(*shape, seed=seed + 1)
    return a + shape[-1] * np.eye(shape[-1])


def _spd(*shape, seed=0, complex_=False):
    a = randn(*shape, seed=seed)
    if complex_:
        a = a + 1j * randn(*shape, seed=seed + 1)
    return a @ _swap(a) + shape[-1] * np.eye(shape[-1])


INV = register("MatrixInverse", _inv_forward, _inv_vjp, _inv_jvp,
               lambda: [Sample((_well_conditioned(3, 3),)),
                        Sample((_well_conditioned(2, 2, 2, seed=1),)),
                        Sample((_well_conditioned(3, 3, seed=2),), {"adjoint": True}),
                        Sample((_well_conditioned(2, 2, seed=3, complex_=True),)),
                        Sample((randn(1, 1, low=0.5),)),
                        Sample((np.zeros((0, 2, 2)),))], dtypes=INEXACT)


def inv(input, adjoint=False, name=None):  # noqa: A002 - TensorFlow's argument names
    """Inverse of each square matrix (of its adjoint when ``adjoint``).

    Raises InvalidArgumentError("Input is not invertible.") for a singular matrix.

    >>> import tapegrad as tf
    >>> tf.linalg.inv(tf.constant([[2.0, 0.0], [0.0, 4.0]])).numpy().tolist()
    [[0.5, 0.0], [0.0, 0.25]]
    """
    return apply1(INV, input, {"adjoint": bool(adjoint)} if adjoint else None)


def _det_forward(x):
    _check_square(x, "det")
    with np.errstate(invalid="ignore"):  # NaN for a matrix holding NaN, silently as TF
        return np.asarray(np.linalg.det(x), dtype=x.dtype)


def _det_vjp(inputs, output, attrs, upstream, needs):
    # d det = det * tr(A^-1 dA); the gradient is upstream * conj(det) * A^-H (TensorFlow's
    # convention for complex values; TF's own rule leaves out the conj, see the report)
    a = inputs[0]
    multiplier = _as_matrices(upstream * vocab.conj(output))
    return (multiplier * apply1(INV, a, {"adjoint": True}),)


def _det_jvp(inputs, output, attrs, tangents):
    a_inv_t = matrix_transpose(apply1(INV, inputs[0]))
    return output * _sum_matrices(a_inv_t * tangents[0])


DET = register("MatrixDeterminant", _det_forward, _det_vjp, _det_jvp,
               lambda: [Sample((randn(3, 3),)),
                        Sample((randn(2, 2, 2, seed=1),)),
                        Sample((randn(1, 1, low=0.5),)),
                        Sample((_well_conditioned(2, 2, seed=3, complex_=True),))], dtypes=_NO_HALF)


def det(input, name=None):  # noqa: A002
    """Determinant of each square matrix.

    >>> import tapegrad as tf
    >>> float(tf.linalg.det(tf.constant([[2.0, 1.0], [1.0, 3.0]])))
    5.0
    """
    return apply1(DET, input)


def _slogdet_forward(x):
    _check_square(x, "slogdet")
    sign, log_abs = _nan_where_not_finite(x, np.linalg.slogdet)
    return np.asarray(sign, dtype=x.dtype), np.asarray(log_abs, dtype=x.dtype)


def _slogdet_vjp(inputs, output, attrs, upstream, needs):
    # TensorFlow's rule: no gradient through the sign; d log|det| = Re tr(A^-1 dA)
    grad = upstream[1]
    if grad._value.dtype.kind == "c":
        grad = _as_dtype_of(_real(grad), grad)
    multiplier = _as_matrices(grad)
    return (multiplier * apply1(INV, inputs[0], {"adjoint": True}),)


def _slogdet_jvp(inputs, output, attrs, tangents):
    sign, log_abs = output
    a_inv_t = matrix_transpose(apply1(INV, inputs[0]))
    change = _sum_matrices(a_inv_t * tangents[0])
    if change._value.dtype.kind == "c":
        change = _as_dtype_of(_real(change), change)
    return vocab.zeros_like(sign), change


SLOGDET = register("LogMatrixDeterminant", _slogdet_forward, _slogdet_vjp, _slogdet_jvp,
                   lambda: [Sample((randn(3, 3),)),
                            Sample((randn(2, 3, 3, seed=1),)),
                            Sample((np.array([[0.0, 2.0], [1.5, 0.3]]),))],
                   n_outputs=2, dtypes=_NO_HALF)

LogMatrixDeterminant = namedtuple("LogMatrixDeterminant", ["sign", "log_abs_determinant"])


def slogdet(input, name=None):  # noqa: A002
    """``(sign, log_abs_determinant)`` of each square matrix (no gradient flows through
    ``sign``, as in TensorFlow).

    >>> import tapegrad as tf
    >>> sign, log_abs = tf.linalg.slogdet(tf.constant([[0.0, 2.0], [1.0, 0.0]]))
    >>> float(sign), round(float(log_abs), 4)
    (-1.0, 0.6931)
    """
    return LogMatrixDeterminant(*apply(SLOGDET, (input,)))


# -- solvers ----------------------------------------------------------------------------------

def _apply_solve(op, matrix, rhs, attrs=None):
    # `apply` (not `apply2`) so that "not invertible" errors reach the caller unwrapped
    return apply(op, (matrix, rhs), attrs, same_dtype=True)


def _solve_forward(a, b, adjoint=False):
    _check_square(a, "solve", "use tapegrad.linalg.lstsq for a non-square system")
    if np.ndim(b) != np.ndim(a):
        raise InvalidArgumentError(
            f"solve: All input tensors must have the same rank; got matrix shape "
            f"{list(np.shape(a))} and rhs shape {list(np.shape(b))}. Give rhs the shape "
            "[..., n, k] (broadcast it to the matrix's batch shape first).")
    if np.shape(a)[:-2] != np.shape(b)[:-2] or np.shape(a)[-1] != np.shape(b)[-2]:
        raise InvalidArgumentError(
            f"solve: Input matrix and rhs are incompatible: matrix shape {list(np.shape(a))}, "
            f"rhs shape {list(np.shape(b))}; rhs must be [..., n, k] with the matrix's batch "
            "shape and n rows.")
    try:
        _check_finite(a, "Input matrix is not invertible. (It holds NaN or inf.)")
        return np.linalg.solve(_swap(a) if adjoint else a, b)
    except np.linalg.LinAlgError:
        raise InvalidArgumentError("Input matrix is not invertible. (A matrix in the batch is "
                                   "singular; use tapegrad.linalg.lstsq instead.)") from None


def _solve_vjp(inputs, output, attrs, upstream, needs):
    a, _ = inputs
    adj = bool(attrs and attrs.get("adjoint"))
    grad_b = _apply_solve(SOLVE, a, upstream, {"adjoint": not adj})
    grad_a = None
    if needs[0]:
        grad_a = (-matmul(output, grad_b, adjoint_b=True) if adj
                  else -matmul(grad_b, output, adjoint_b=True))
    return grad_a, grad_b if needs[1] else None


def _solve_jvp(inputs, output, attrs, tangents):
    a, _ = inputs
    ta, tb = tangents
    adj = bool(attrs and attrs.get("adjoint"))
    rhs = tb
    if ta is not None:
        change = matmul(ta, output, adjoint_a=adj)
        rhs = -change if rhs is None else rhs - change
    return _apply_solve(SOLVE, a, rhs, attrs)


SOLVE = register("MatrixSolve", _solve_forward, _solve_vjp, _solve_jvp,
                 lambda: [Sample((_well_conditioned(3, 3), randn(3, 2, seed=1))),
                          Sample((_well_conditioned(2, 3, 3, seed=2), randn(2, 3, 1, seed=3))),
                          Sample((_well_conditioned(3, 3, seed=4), randn(3, 2, seed=5)),
                                 {"adjoint": True}),
                          Sample((_well_conditioned(2, 2, seed=6, complex_=True),
                                  randn(2, 1, seed=7) + 1j * randn(2, 1, seed=8)))],
                 dtypes=_NO_HALF)


def solve(matrix, rhs, adjoint=False, name=None):
    """Solve ``matrix @ x = rhs`` (``adjoint(matrix) @ x = rhs`` when ``adjoint``).

    ``matrix`` is [..., n, n], ``rhs`` [..., n, k] with the same batch shape.

    >>> import tapegrad as tf
    >>> tf.linalg.solve(tf.constant([[2.0, 0.0], [0.0, 4.0]]), tf.constant([[2.0], [2.0]])
    ...                 ).numpy().tolist()
    [[1.0], [0.5]]
    """
    return _apply_solve(SOLVE, matrix, rhs, {"adjoint": bool(adjoint)} if adjoint else None)


def _substitute(t, b, lower: bool):
    """Forward/back substitution (IEEE inf/nan for a zero pivot, as TensorFlow)."""
    n = t.shape[-1]
    x = np.zeros(b.shape, dtype=np.result_type(t, b))
    order = range(n) if lower else range(n - 1, -1, -1)
    for i in order:
        rest = slice(0, i) if lower else slice(i + 1, n)
        acc = b[..., i, :] - np.einsum("...j,...jk->...k", t[..., i, rest], x[..., rest, :])
        x[..., i, :] = acc / t[..., i, i][..., None]
    return x


def _triangular_solve_forward(a, b, lower=True, adjoint=False):
    _check_square(a, "triangular_solve")
    if np.ndim(b) < 2 or np.shape(b)[-2] != np.shape(a)[-1]:
        raise InvalidArgumentError(
            f"triangular_solve: matrix shape {list(np.shape(a))} and rhs shape "
            f"{list(np.shape(b))} are incompatible; rhs must be [..., n, k] with n = "
            f"{np.shape(a)[-1]}.")
    t = np.tril(a) if lower else np.triu(a)
    if adjoint:
        t = _swap(t)
        lower = not lower
    try:
        batch = np.broadcast_shapes(t.shape[:-2], b.shape[:-2])
    except ValueError:
        raise InvalidArgumentError(
            f"triangular_solve: batch shapes of matrix {list(np.shape(a))} and rhs "
            f"{list(np.shape(b))} do not broadcast.") from None
    t = np.broadcast_to(t, batch + t.shape[-2:])
    b = np.broadcast_to(b, batch + b.shape[-2:])
    try:
        return np.linalg.solve(t, b)
    except np.linalg.LinAlgError:
        return _substitute(t, b, lower)


def _triangular_solve_vjp(inputs, output, attrs, upstream, needs):
    a, b = inputs
    lower = attrs.get("lower", True) if attrs else True
    adj = bool(attrs and attrs.get("adjoint"))
    grad_b = _apply_solve(TRIANGULAR_SOLVE, a, upstream, {"lower": lower, "adjoint": not adj})
    grad_a = None
    if needs[0]:
        grad_a = (-matmul(output, grad_b, adjoint_b=True) if adj
                  else -matmul(grad_b, output, adjoint_b=True))
        grad_a = band_part(grad_a, -1, 0) if lower else band_part(grad_a, 0, -1)
        grad_a = sum_like(grad_a, a, output)
    return grad_a, sum_like(grad_b, b, output) if needs[1] else None


def _triangular_solve_jvp(inputs, output, attrs, tangents):
    a, _ = inputs
    ta, tb = tangents
    lower = attrs.get("lower", True) if attrs else True
    adj = bool(attrs and attrs.get("adjoint"))
    rhs = tb
    if ta is not None:
        ta = band_part(ta, -1, 0) if lower else band_part(ta, 0, -1)
        change = matmul(ta, output, adjoint_a=adj)
        rhs = -change if rhs is None else rhs - change
    return _apply_solve(TRIANGULAR_SOLVE, a, rhs, attrs)


TRIANGULAR_SOLVE = register(
    "MatrixTriangularSolve", _triangular_solve_forward, _triangular_solve_vjp,
    _triangular_solve_jvp,
    lambda: [Sample((_well_conditioned(3, 3), randn(3, 2, seed=1)), {"lower": True}),
             Sample((_well_conditioned(3, 3, seed=2), randn(3, 2, seed=3)), {"lower": False}),
             Sample((_well_conditioned(3, 3, seed=4), randn(3, 1, seed=5)),
                    {"lower": True, "adjoint": True}),
             Sample((_well_conditioned(3, 3, seed=6), randn(2, 3, 2, seed=7)),
                    {"lower": False, "adjoint": True}),
             Sample((_well_conditioned(2, 2, seed=8, complex_=True),
                     randn(2, 1, seed=9) + 1j * randn(2, 1, seed=10)), {"lower": True})])


def triangular_solve(matrix, rhs, lower=True, adjoint=False, name=None):
    """Solve a triangular system; only the ``lower`` (or upper) triangle of ``matrix`` is read.

    Batch shapes broadcast. A zero on the diagonal gives inf/nan (no error), as TensorFlow.

    >>> import tapegrad as tf
    >>> tf.linalg.triangular_solve(tf.constant([[2.0, 0.0], [1.0, 1.0]]),
    ...                            tf.constant([[2.0], [3.0]])).numpy().tolist()
    [[1.0], [2.0]]
    """
    return _apply_solve(TRIANGULAR_SOLVE, matrix, rhs, {"lower": bool(lower),
                                                  "adjoint": bool(adjoint)})


# -- Cholesky ---------------------------------------------------------------------------------

def _cholesky_forward(x):
    _check_square(x, "cholesky")
    # TensorFlow's rule gives a symmetric gradient, i.e. the gradient of the factor of the
    # Hermitian part of the input; the forward computes exactly that function.
    sym = (x + _swap(x)) / 2
    try:
        return np.linalg.cholesky(sym)
    except np.linalg.LinAlgError:
        pass
    # Matrices that are not positive definite become NaN (lower triangle), as TensorFlow
    flat = sym.reshape((-1,) + sym.shape[-2:])
    out = np.zeros_like(flat)
    nan_lower = np.tril(np.full(sym.shape[-2:], np.nan, dtype=sym.dtype))
    for i, matrix in enumerate(flat):
        try:
            out[i] = np.linalg.cholesky(matrix)
        except np.linalg.LinAlgError:
            out[i] = nan_lower
    return out.reshape(sym.shape)


def _cholesky_vjp(inputs, output, attrs, upstream, needs):
    l_factor = output
    n = shape_of(l_factor)[-1]
    identity = wrap(np.broadcast_to(np.eye(n, dtype=l_factor._value.dtype),
                                     shape_of(l_factor)).copy())
    l_inverse = _apply_solve(TRIANGULAR_SOLVE, l_factor, identity,
                             {"lower": True, "adjoint": False})
    middle = matmul(l_factor, upstream, adjoint_a=True)
    middle = set_diag(middle, 0.5 * diag_part(middle))
    middle = band_part(middle, -1, 0)
    grad_a = matmul(matmul(l_inverse, middle, adjoint_a=True), l_inverse)
    grad_a = grad_a + adjoint(grad_a)
    return (grad_a * 0.5,)


def _cholesky_jvp(inputs, output, attrs, tangents):
    t = tangents[0]
    sym = (t + adjoint(t)) * 0.5
    attrs_lower = {"lower": True, "adjoint": False}
    half = _apply_solve(TRIANGULAR_SOLVE, output, sym, attrs_lower)      # L^-1 dS
    # L^-1 dS L^-H
    inner = _apply_solve(TRIANGULAR_SOLVE, output, adjoint(half), attrs_lower)
    phi = band_part(inner, -1, 0)
    phi = set_diag(phi, 0.5 * diag_part(phi))
    return matmul(output, phi)


CHOLESKY = register("Cholesky", _cholesky_forward, _cholesky_vjp, _cholesky_jvp,
                    lambda: [Sample((_spd(3, 3),)),
                             Sample((_spd(2, 3, 3, seed=1),)),
                             Sample((_spd(1, 1, seed=2),)),
                             Sample((_spd(2, 2, seed=3, complex_=True),))], dtypes=_NO_HALF)


def cholesky(input, name=None):  # noqa: A002
    """Lower Cholesky factor of Hermitian positive definite matrices.

    The factor of the Hermitian part ``(x + x^H) / 2`` is computed (TensorFlow reads the lower
    triangle; both agree on Hermitian input). A matrix that is not positive definite gives NaN,
    as TensorFlow.

    >>> import tapegrad as tf
    >>> tf.linalg.cholesky(tf.constant([[4.0, 2.0], [2.0, 2.0]])).numpy().tolist()
    [[2.0, 0.0], [1.0, 1.0]]
    """
    return apply1(CHOLESKY, input)


def cholesky_solve(chol, rhs, name=None):
    """Solve ``A x = rhs`` given ``chol``, the lower Cholesky factor of ``A``.

    >>> import tapegrad as tf
    >>> chol = tf.linalg.cholesky(tf.constant([[4.0, 0.0], [0.0, 1.0]]))
    >>> tf.linalg.cholesky_solve(chol, tf.constant([[4.0], [1.0]])).numpy().tolist()
    [[1.0], [1.0]]
    """
    y = triangular_solve(chol, rhs, lower=True, adjoint=False)
    return triangular_solve(chol, y, lower=True, adjoint=True)


# -- Hermitian eigendecomposition -------------------------------------------------------------

def _fix_signs(vectors):
    """Flip each real column so that its largest-magnitude entry is positive (deterministic
    output, smooth under small perturbations); complex columns are left as LAPACK gives them."""
    if vectors.dtype.kind == "c" or vectors.size == 0:
        return vectors
    index = np.argmax(np.abs(vectors), axis=-2)[..., None, :]
    signs = np.sign(np.take_along_axis(vectors, index, axis=-2))
    signs[signs == 0] = 1
    return vectors * signs


def _eigh_forward(x, compute_v=True):
    _check_square(x, "eigh")
    if x.size and not np.isfinite(np.tril(x)).all():
        raise InvalidArgumentError(
            "Self-adjoint eigen decomposition was not successful. The input might not be "
            "valid. (It holds NaN or inf.)")
    try:
        if compute_v:
            e, v = np.linalg.eigh(x)
            v = _fix_signs(v)
        else:
            e = np.linalg.eigvalsh(x)
            v = np.zeros((0,), dtype=x.dtype)
    except np.linalg.LinAlgError:
        raise InvalidArgumentError(
            "Self-adjoint eigen decomposition was not successful. The input might not be "
            "valid. (Check it for NaN or inf.)") from None
    return e.astype(x.dtype), v


def _eigh_vectors(a):
    return apply(EIGH, (a,), {"compute_v": True})[1]


def _eigh_vjp(inputs, output, attrs, upstream, needs):
    grad_e, grad_v = upstream
    e = output[0]
    compute_v = attrs.get("compute_v", True) if attrs else True
    if compute_v:
        v = output[1]
        f = _reciprocal_gaps(e)
        middle = diag(grad_e) + f * matmul(v, grad_v, adjoint_a=True)
    else:
        v = _eigh_vectors(inputs[0])
        middle = diag(grad_e)
    grad_a = matmul(v, matmul(middle, v, adjoint_b=True))
    # the forward reads only the lower triangle
    grad_a = band_part(grad_a + adjoint(grad_a), -1, 0)
    return (set_diag(grad_a, 0.5 * diag_part(grad_a)),)


def _eigh_jvp(inputs, output, attrs, tangents):
    e = output[0]
    compute_v = attrs.get("compute_v", True) if attrs else True
    v = output[1] if compute_v else _eigh_vectors(inputs[0])
    projected = matmul(v, matmul(_hermitian_lower(tangents[0]), v), adjoint_a=True)
    de = diag_part(projected)
    if de._value.dtype.kind == "c":
        de = _as_dtype_of(_real(de), de)
    if not compute_v:
        return de, vocab.zeros_like(output[1])
    return de, matmul(v, _reciprocal_gaps(e) * projected)


def _symmetric_distinct(*shape, seed=0):
    a = randn(*shape, seed=seed)
    return (a + _swap(a)) / 2 + np.diag(np.arange(shape[-1], dtype=float) * 1.5)


EIGH = register("SelfAdjointEigV2", _eigh_forward, _eigh_vjp, _eigh_jvp,
                lambda: [Sample((_symmetric_distinct(3, 3),)),
                         Sample((_symmetric_distinct(2, 3, 3, seed=1),)),
                         Sample((_symmetric_distinct(4, 4, seed=2),), {"compute_v": False}),
                         Sample((_symmetric_distinct(1, 1, seed=3),))],
                n_outputs=2, dtypes=_NO_HALF)


def eigh(tensor, name=None):
    """``(eigenvalues, eigenvectors)`` of Hermitian matrices, eigenvalues ascending.

    Only the lower triangle is read. Each eigenvector is defined up to sign (phase); real
    eigenvectors are returned with their largest-magnitude entry positive. Differentiate
    sign-invariant functions of them (e.g. ``v * v`` or reconstructions).

    >>> import tapegrad as tf
    >>> e, v = tf.linalg.eigh(tf.constant([[2.0, 0.0], [0.0, 1.0]]))
    >>> e.numpy().tolist()
    [1.0, 2.0]
    """
    return tuple(apply(EIGH, (tensor,), {"compute_v": True}))


def eigvalsh(tensor, name=None):
    """Eigenvalues of Hermitian matrices, ascending.

    >>> import tapegrad as tf
    >>> tf.linalg.eigvalsh(tf.constant([[2.0, 1.0], [1.0, 2.0]])).numpy().tolist()
    [1.0, 3.0]
    """
    return apply(EIGH, (tensor,), {"compute_v": False})[0]


# -- singular value decomposition -------------------------------------------------------------

def _svd_forward(x, full_matrices=False, compute_uv=True):
    if np.ndim(x) < 2:
        raise InvalidArgumentError(f"svd: input must be at least rank 2, got shape "
                                   f"{list(np.shape(x))}.")
    real_dtype = np.zeros((), x.dtype).real.dtype
    m, n = x.shape[-2:]
    if x.size == 0:
        k = min(m, n)
        s = np.zeros(x.shape[:-2] + (k,), real_dtype)
        if not compute_uv:
            return s, np.zeros((0,), x.dtype), np.zeros((0,), x.dtype)
        cu, cv = (m, n) if full_matrices else (k, k)
        return (s, np.broadcast_to(np.eye(m, cu, dtype=x.dtype), x.shape[:-2] + (m, cu)).copy(),
                np.broadcast_to(np.eye(n, cv, dtype=x.dtype), x.shape[:-2] + (n, cv)).copy())
    if not compute_uv:
        s = _nan_where_not_finite(x, lambda a: np.linalg.svd(a, compute_uv=False))
        return s.astype(real_dtype), np.zeros((0,), x.dtype), np.zeros((0,), x.dtype)
    u, s, vh = _nan_where_not_finite(
        x, lambda a: tuple(np.linalg.svd(a, full_matrices=full_matrices)))
    v = _swap(vh)
    if x.dtype.kind != "c":
        k = min(m, n)
        index = np.argmax(np.abs(u[..., :, :k]), axis=-2)[..., None, :]
        signs = np.sign(np.take_along_axis(u[..., :, :k], index, axis=-2))
        signs[signs == 0] = 1
        u = u.copy()
        v = v.copy()
        u[..., :, :k] *= signs
        v[..., :, :k] *= signs
    return s.astype(real_dtype), u, v


def _svd_attrs(attrs):
    attrs = attrs or {}
    return attrs.get("full_matrices", False), attrs.get("compute_uv", True)


def _svd_vjp(inputs, output, attrs, upstream, needs):
    a = inputs[0]
    grad_s, grad_u, grad_v = upstream
    full_matrices, compute_uv = _svd_attrs(attrs)
    grad_s = _as_dtype_of(grad_s, a)
    grad_s_mat = diag(grad_s)
    if not compute_uv:
        _, u, v = apply(SVD, (a,), {"full_matrices": False, "compute_uv": True})
        return (matmul(u, matmul(grad_s_mat, v, adjoint_b=True)),)
    m, n = shape_of(a)[-2:]
    s, u, v = output
    s = _as_dtype_of(s, a)
    use_adjoint = m > n
    if use_adjoint:
        m, n = n, m
        u, v = v, u
        grad_u, grad_v = grad_v, grad_u
    if full_matrices and abs(m - n) > 1:
        raise NotImplementedError("svd gradient is not implemented for abs(m - n) > 1 when "
                                  "full_matrices is True")
    s_mat = diag(s)
    f = _reciprocal_gaps(s * s)
    s_inv_mat = diag(_safe_reciprocal(s))
    v1 = v[..., :, :m]
    grad_v1 = grad_v[..., :, :m]
    u_gu = matmul(u, grad_u, adjoint_a=True)
    v_gv = matmul(v1, grad_v1, adjoint_a=True)
    f_u = f * u_gu
    f_v = f * v_gv
    term1_nouv = (grad_s_mat + matmul(f_u + adjoint(f_u), s_mat)
                  + matmul(s_mat, f_v + adjoint(f_v)))
    grad = matmul(u, matmul(term1_nouv, v1, adjoint_b=True))
    if m != n:
        gv1t = adjoint(grad_v1)
        term2_nous = gv1t - matmul(matmul(gv1t, v1), v1, adjoint_b=True)
        if full_matrices:
            v2 = v[..., :, m:n]
            grad_v2 = grad_v[..., :, m:n]
            term2_nous = term2_nous - matmul(matmul(v1, grad_v2, adjoint_a=True), v2,
                                             adjoint_b=True)
        grad = grad + matmul(matmul(u, s_inv_mat), term2_nous)
    if a._value.dtype.kind == "c":
        eye_v = diag(diag_part(v_gv))
        term3_nouv = matmul(s_inv_mat, adjoint(eye_v) - eye_v)
        grad = grad + 0.5 * matmul(u, matmul(term3_nouv, v1, adjoint_b=True))
    return (adjoint(grad) if use_adjoint else grad,)


def _svd_jvp(inputs, output, attrs, tangents):
    a = inputs[0]
    t = tangents[0]
    full_matrices, compute_uv = _svd_attrs(attrs)
    s, u, v = output if compute_uv else apply(SVD, (a,), {"full_matrices": False,
                                                          "compute_uv": True})
    m, n = shape_of(a)[-2:]
    k = min(m, n)
    if full_matrices and m != n and compute_uv:
        raise NotImplementedError("svd forward-mode derivative is not implemented for "
                                  "full_matrices=True with a non-square matrix.")
    dp = matmul(u, matmul(t, v), adjoint_a=True)          # U^H dA V, [k, k]
    ds = diag_part(dp)
    if ds._value.dtype.kind == "c":
        ds = _real(ds)
    if not compute_uv:
        return ds, vocab.zeros_like(output[1]), vocab.zeros_like(output[2])
    sc = _as_dtype_of(s, a)
    s_row = vocab.expand_dims(sc, -2)                      # s_j across columns
    s_col = vocab.expand_dims(sc, -1)                      # s_i down rows
    f = _reciprocal_gaps(s * s)
    f = _as_dtype_of(f, a)
    dp_h = adjoint(dp)
    s_inv_row = vocab.expand_dims(_as_dtype_of(_safe_reciprocal(s), a), -2)
    du = matmul(u, f * (dp * s_row + s_col * dp_h))
    dv = matmul(v, f * (s_col * dp + dp_h * s_row))
    if m > k:
        du = du + (matmul(t, v) - matmul(u, matmul(u, matmul(t, v), adjoint_a=True))) * s_inv_row
    if n > k:
        th_u = matmul(t, u, adjoint_a=True)
        dv = dv + (th_u - matmul(v, matmul(v, th_u, adjoint_a=True))) * s_inv_row
    if a._value.dtype.kind == "c":
        phase = _imaginary_unit_times(_imag(diag_part(dp)) * _safe_reciprocal(s))
        if m > n:
            du = du + u * vocab.expand_dims(phase, -2)
        else:
            dv = dv - v * vocab.expand_dims(phase, -2)
    return ds, du, dv


def _distinct_singular(m, n, seed=0, batch=()):
    """A random matrix with well separated singular values."""
    rng = np.random.default_rng(seed)
    k = min(m, n)
    q1 = np.linalg.qr(rng.standard_normal(batch + (m, m)))[0][..., :, :k]
    q2 = np.linalg.qr(rng.standard_normal(batch + (n, n)))[0][..., :, :k]
    s = np.linspace(3.0, 1.0, k) if k > 1 else np.array([2.0])
    return (q1 * s[..., None, :]) @ _swap(q2)


SVD = register("Svd", _svd_forward, _svd_vjp, _svd_jvp,
               lambda: [Sample((_distinct_singular(3, 3),)),
                        Sample((_distinct_singular(4, 3, seed=1),)),
                        Sample((_distinct_singular(2, 4, seed=2),)),
                        Sample((_distinct_singular(3, 2, seed=3, batch=(2,)),)),
                        Sample((_distinct_singular(3, 3, seed=4),), {"full_matrices": True}),
                        Sample((_distinct_singular(3, 4, seed=5),), {"compute_uv": False}),
                        Sample((_distinct_singular(1, 1, seed=6),))],
               n_outputs=3, dtypes=_NO_HALF)


def svd(tensor, full_matrices=False, compute_uv=True, name=None):
    """Singular value decomposition ``tensor = u @ diag(s) @ adjoint(v)``.

    Returns ``(s, u, v)`` (TensorFlow's order), or only ``s`` when ``compute_uv`` is False.
    Singular values are descending; each pair of singular vectors is defined up to a common
    sign (phase): differentiate sign-invariant functions of them.

    >>> import tapegrad as tf
    >>> s = tf.linalg.svd(tf.constant([[3.0, 0.0], [0.0, -2.0]]), compute_uv=False)
    >>> s.numpy().tolist()
    [3.0, 2.0]
    """
    outputs = apply(SVD, (tensor,), {"full_matrices": bool(full_matrices),
                                     "compute_uv": bool(compute_uv)})
    return tuple(outputs) if compute_uv else outputs[0]


# -- QR -------------------------------------------------------------------------------------

def _qr_forward(x, full_matrices=False):
    if np.ndim(x) < 2:
        raise InvalidArgumentError(f"qr: input must be at least rank 2, got shape "
                                   f"{list(np.shape(x))}.")
    # (LAPACK has no float16: such matrices are factored in float32, as TensorFlow's kernel)
    q, r = np.linalg.qr(_single_if_half(x), mode="complete" if full_matrices else "reduced")
    return q.astype(x.dtype, copy=False), r.astype(x.dtype, copy=False)


def _upper_solve_right(x, r):
    """``x @ inverse(r)^H`` for upper-triangular ``r``."""
    return adjoint(_apply_solve(TRIANGULAR_SOLVE, r, adjoint(x),
                                {"lower": False, "adjoint": False}))


def _upper_right_inverse(x, r):
    """``x @ inverse(r)`` for upper-triangular ``r``."""
    return adjoint(_apply_solve(TRIANGULAR_SOLVE, r, adjoint(x),
                                {"lower": False, "adjoint": True}))


def _qr_grad_deep(q, r, dq, dr):
    qdq = matmul(q, dq, adjoint_a=True)
    qdq_ = qdq - adjoint(qdq)
    rdr = matmul(r, dr, adjoint_b=True)
    rdr_ = rdr - adjoint(rdr)
    tril = band_part(qdq_ + rdr_, -1, 0)
    grad = matmul(q, dr + _upper_solve_right(tril, r))
    grad = grad + _upper_solve_right(dq - matmul(q, qdq), r)
    if q._value.dtype.kind == "c":
        m = rdr - adjoint(qdq)
        eyem = diag(diag_part(m))
        correction = eyem - _as_dtype_of(_real(eyem), eyem)
        grad = grad + _upper_solve_right(matmul(q, adjoint(correction)), r)
    return grad


def _qr_vjp(inputs, output, attrs, upstream, needs):
    q, r = output
    dq, dr = upstream
    rows, cols = shape_of(q)[-2], shape_of(r)[-1]
    if shape_of(r)[-2] > cols and shape_of(q)[-1] == rows:
        raise NotImplementedError("QrGrad not implemented when nrows > ncols and "
                                  "full_matrices is true.")
    if rows >= cols:
        return (_qr_grad_deep(q, r, dq, dr),)
    a = inputs[0]
    y = a[..., :, rows:]
    u = r[..., :, :rows]
    dv = dr[..., :, rows:]
    du = dr[..., :, :rows]
    dy = matmul(q, dv)
    dx = _qr_grad_deep(q, u, dq + matmul(y, dv, adjoint_b=True), du)
    return (_concat(dx, dy, -1),)


def _qr_jvp_deep(q, r, t):
    """Tangents of (q, r) for a tall or square input with tangent ``t``."""
    t_r_inv = _upper_right_inverse(t, r)                                # dA R^-1
    c = matmul(q, t_r_inv, adjoint_a=True)                              # Q^H dA R^-1
    lower = band_part(c, -1, -1) - band_part(c, 0, -1)                  # strictly lower part
    omega = lower - adjoint(lower)
    if c._value.dtype.kind == "c":
        omega = omega + diag(_imaginary_unit_times(_imag(diag_part(c))))
    dr = matmul(c - omega, r)
    dq = matmul(q, omega) + t_r_inv - matmul(q, matmul(q, t_r_inv, adjoint_a=True))
    return dq, dr


def _qr_jvp(inputs, output, attrs, tangents):
    q, r = output
    t = tangents[0]
    rows, cols = shape_of(q)[-2], shape_of(r)[-1]
    if shape_of(r)[-2] > cols and shape_of(q)[-1] == rows:
        raise NotImplementedError("Qr forward-mode derivative is not implemented when nrows > "
                                  "ncols and full_matrices is true.")
    if rows >= cols:
        return _qr_jvp_deep(q, r, t)
    a = inputs[0]
    y = a[..., :, rows:]
    dq, du = _qr_jvp_deep(q, r[..., :, :rows], t[..., :, :rows])
    dv = matmul(dq, y, adjoint_a=True) + matmul(q, t[..., :, rows:], adjoint_a=True)
    return dq, _concat(du, dv, -1)


QR = register("Qr", _qr_forward, _qr_vjp, _qr_jvp,
              lambda: [Sample((_well_conditioned(3, 3),)),
                       Sample((randn(4, 3, seed=1),)),
                       Sample((randn(2, 4, seed=2),)),
                       Sample((randn(2, 3, 2, seed=3),)),
                       Sample((_well_conditioned(3, 3, seed=4),), {"full_matrices": True}),
                       Sample((randn(3, 2, seed=5) + 1j * randn(3, 2, seed=6),))],
              n_outputs=2, dtypes=INEXACT)

Qr = namedtuple("Qr", ["q", "r"])


def qr(input, full_matrices=False, name=None):  # noqa: A002
    """QR decomposition ``input = q @ r`` (``q`` orthonormal columns, ``r`` upper triangular).

    Returns a ``(q, r)`` namedtuple. Gradients exist for ``full_matrices=False`` (any shape)
    and for square matrices.

    >>> import tapegrad as tf
    >>> q, r = tf.linalg.qr(tf.constant([[3.0, 1.0], [4.0, 2.0]]))
    >>> abs(round(float(r[0, 0]), 4))
    5.0
    """
    return Qr(*apply(QR, (input,), {"full_matrices": bool(full_matrices)}))


# -- matrix exponential -----------------------------------------------------------------------

_PADE13 = (64764752532480000.0, 32382376266240000.0, 7771770303897600.0, 1187353796428800.0,
           129060195264000.0, 10559470521600.0, 670442572800.0, 33522128640.0, 1323241920.0,
           40840800.0, 960960.0, 16380.0, 182.0, 1.0)
_THETA13 = 5.371920351148152


def _expm_forward(x):
    _check_square(x, "expm")
    if x.size == 0:
        return x.copy()
    b = _PADE13
    norm = np.max(np.sum(np.abs(x), axis=-2), axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        squarings = np.ceil(np.log2(norm / _THETA13))
    squarings = np.where(np.isfinite(squarings), np.maximum(squarings, 0), 0).astype(int)
    a = x / (2.0 ** squarings)[..., None, None].astype(x.real.dtype)
    ident = np.eye(x.shape[-1], dtype=x.dtype)
    a2 = a @ a
    a4 = a2 @ a2
    a6 = a4 @ a2
    u = a @ (a6 @ (b[13] * a6 + b[11] * a4 + b[9] * a2)
             + b[7] * a6 + b[5] * a4 + b[3] * a2 + b[1] * ident)
    v = (a6 @ (b[12] * a6 + b[10] * a4 + b[8] * a2)
         + b[6] * a6 + b[4] * a4 + b[2] * a2 + b[0] * ident)
    try:
        result = np.linalg.solve(v - u, v + u)
    except np.linalg.LinAlgError:
        return np.full(x.shape, np.nan, dtype=x.dtype)
    most = int(squarings.max()) if squarings.size else 0
    for i in range(most):
        squared = result @ result
        result = np.where((squarings > i)[..., None, None], squared, result)
    return result.astype(x.dtype, copy=False)


def _expm_block(a, t):
    """The top-right block of ``expm([[a, t], [0, a]])``: the Frechet derivative of expm at
    ``a`` in direction ``t``."""
    n = shape_of(a)[-1]
    top = _concat(a, t, -1)
    bottom = _concat(vocab.zeros_like(a), a, -1)
    block = apply1(EXPM, _concat(top, bottom, -2))
    return block[..., :n, n:]


EXPM = register(
    "MatrixExponential", _expm_forward,
    lambda inputs, output, attrs, upstream, needs: (
        _expm_block(adjoint(inputs[0]), upstream),),
    lambda inputs, output, attrs, tangents: _expm_block(inputs[0], tangents[0]),
    lambda: [Sample((randn(3, 3) * 0.5,)),
             Sample((randn(2, 2, 2, seed=1),)),
             Sample((randn(2, 2, seed=2) * 4.0,)),
             Sample((randn(2, 2, seed=3) + 1j * randn(2, 2, seed=4),)),
             Sample((randn(1, 1, seed=5),))])


def expm(input, name=None):  # noqa: A002
    """Matrix exponential (Pade approximation with scaling and squaring).

    >>> import tapegrad as tf
    >>> round(float(tf.linalg.expm(tf.constant([[1.0]]))[0, 0]), 5)
    2.71828
    """
    return apply1(EXPM, input)


