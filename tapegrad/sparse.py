"""``tapegrad.sparse``: sparse tensors under TensorFlow's ``tf.sparse`` names."""

from tapegrad.ops.composite.sparse import (  # noqa: F401
    SparseTensor,
    add,
    from_dense,
    reorder,
    sparse_dense_matmul,
    to_dense,
)
