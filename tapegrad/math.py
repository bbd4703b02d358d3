"""``tapegrad.math``: the elementwise and reduction ops under TensorFlow's ``tf.math`` names."""

from tapegrad.ops.array import cumprod, cumsum  # noqa: F401
from tapegrad.ops.math import (  # noqa: F401
    abs, add, ceil, conj, cos, divide, equal, exp, floor, floordiv, floormod, greater,
    greater_equal, imag, is_finite, is_nan, less, less_equal, log, logical_and, logical_not,
    logical_or, maximum, minimum, mod, multiply, negative, not_equal, pow, real, reciprocal,
    round, sigmoid, sign, sin, sqrt, square, subtract, tanh, truediv,
)
from tapegrad.ops.reduction import (  # noqa: F401
    reduce_logsumexp, reduce_max, reduce_mean, reduce_min, reduce_prod, reduce_sum,
)
