"""``tapegrad.linalg``: linear algebra under TensorFlow's ``tf.linalg`` names."""

from tapegrad.ops.array import eye  # noqa: F401
from tapegrad.ops.linalg import adjoint, matmul, matrix_transpose, matvec, trace  # noqa: F401
