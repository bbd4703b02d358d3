"""``tapegrad.io``: the ``tf.io`` names tapegrad provides."""

from tapegrad.ops.strings import decode_raw  # noqa: F401
