"""Op families. Each op is declared once (forward, reverse rule, forward rule, samples)."""

from tapegrad.ops import (  # noqa: F401
    array,
    linalg,
    math,
    nn,  # noqa: F401
    operators,
    reduction,
)
from tapegrad.ops import numpy_interop  # noqa: E402,F401  (after the ops it maps)
