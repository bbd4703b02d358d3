"""``tapegrad.ragged``: ragged tensors under TensorFlow's ``tf.ragged`` names."""

from tapegrad.ops.composite.ragged import (  # noqa: F401
    RaggedTensor,
    constant,
    map_flat_values,
)
