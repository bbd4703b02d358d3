"""Public functions built from several op families: no op is declared here.

The families below (``tapegrad/ops/*.py``) each declare their ops and import only the core and
the shared rule vocabulary; the functions that combine ops of several families (TensorFlow's
``nn_impl``, ``image_ops_impl``, ``clip_ops``), the composite tensors (``RaggedTensor``,
``SparseTensor``), string functions and the Python operators on tensors live here, one layer
up, and import the families.
"""

from tapegrad.ops.composite import (  # noqa: F401
    clip,
    image,
    linalg,
    nn,
    operators,
    ragged,
    reduction,
    sparse,
    strings,
)
