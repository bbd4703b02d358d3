"""``tapegrad.linalg``: linear algebra under TensorFlow's ``tf.linalg`` names."""

from tapegrad.ops.array import (
    einsum,
    eye,  # noqa: F401
    tensordot,
)
from tapegrad.ops.composite.clip import global_norm
from tapegrad.ops.composite.linalg import (  # noqa: F401
    logdet,
    lstsq,
    matvec,
    norm,
    pinv,
    trace,
)
from tapegrad.ops.composite.nn import l2_normalize  # noqa: F401
from tapegrad.ops.linalg import (  # noqa: F401
    adjoint,
    band_part,
    cholesky,
    cholesky_solve,
    det,
    diag,
    diag_part,
    eigh,
    eigvalsh,
    expm,
    inv,
    matmul,
    matrix_transpose,
    qr,
    set_diag,
    slogdet,
    solve,
    svd,
    triangular_solve,
)
