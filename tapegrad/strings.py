"""``tapegrad.strings``: string ops under TensorFlow's ``tf.strings`` names."""

from tapegrad.ops.composite.strings import (  # noqa: F401
    as_string,
    bytes_split,
    join,
    length,
    lower,
    split,
    to_number,
    unicode_decode,
    unicode_split,
    upper,
)
