"""``tf.types``: the tracing protocol's base type (``tf.types.experimental.TraceType``).

>>> import tapegrad as tf
>>> tf.types.experimental.TraceType.__name__
'TraceType'
"""

import types as _types

from tapegrad.autodiff.function.core import TraceType

experimental = _types.SimpleNamespace(TraceType=TraceType)

__all__ = ["experimental"]
