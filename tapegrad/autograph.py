"""``tf.autograph``: ``to_code`` (the source as AutoGraph rewrites it) and
``experimental.do_not_convert``.

>>> import tapegrad as tf
>>> callable(tf.autograph.experimental.do_not_convert)
True
"""

import types as _types

from tapegrad.autodiff.function.autograph import do_not_convert, to_code

experimental = _types.SimpleNamespace(do_not_convert=do_not_convert)

__all__ = ["to_code", "experimental"]
