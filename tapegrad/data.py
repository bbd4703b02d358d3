"""``tapegrad.data`` (as ``tf.data``): input pipelines for training loops."""

from tapegrad.training.data import (
    AUTOTUNE,
    INFINITE_CARDINALITY,
    UNKNOWN_CARDINALITY,
    Dataset,
    TextLineDataset,
    experimental,
)

__all__ = ["Dataset", "TextLineDataset", "AUTOTUNE", "INFINITE_CARDINALITY",
           "UNKNOWN_CARDINALITY", "experimental"]
