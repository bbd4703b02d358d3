"""``tapegrad.io``: the ``tf.io`` names tapegrad provides."""

from tapegrad.ops.composite.strings import decode_raw  # noqa: F401
