"""``tf.dtypes``: the DType objects under TensorFlow's names, ``DType``, ``as_dtype``, ``cast``
and ``complex``.

>>> import tapegrad as tf
>>> tf.dtypes.int32 is tf.int32, tf.dtypes.double is tf.float64
(True, True)
>>> tf.dtypes.cast(tf.constant(1.5), tf.dtypes.int32).numpy()
np.int32(1)
"""

from tapegrad._core import dtypes as _dtypes
from tapegrad._core.dtypes import DType, as_dtype  # noqa: F401
from tapegrad.ops.math import cast  # noqa: F401
from tapegrad.ops.math import complex_ as complex  # noqa: F401

globals().update(_dtypes.BY_NAME)  # float32, ..., string, half, double
