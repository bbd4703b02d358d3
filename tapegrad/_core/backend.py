"""The one seam between tapegrad and its array library.

Every module of tapegrad takes its array functions from here (``from tapegrad._core.backend
import np``), so that a NumPy-compatible library such as CuPy can be slotted in later by
changing this file alone.
"""

import warnings

import numpy as np

# Floating-point warnings (log(0), x/0, 0*inf) raised by NumPy inside tapegrad's own code are
# silenced: TensorFlow returns inf/nan without a warning, and `errstate` on every op would cost
# more than the op itself. Users' own NumPy calls keep NumPy's behaviour.
warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"tapegrad(\.|$)")

_ONES: dict = {}


def ones(shape: tuple, dtype):
    """A read-only array of ones (default gradient seeds, row sums as matrix products); kept
    for reuse when it has at most 65,536 elements."""
    key = (shape, dtype)
    found = _ONES.get(key)
    if found is None:
        found = np.ones(shape, dtype=dtype)
        found.flags.writeable = False
        if found.size <= 65536:
            if len(_ONES) >= 64:
                _ONES.clear()
            _ONES[key] = found
    return found


__all__ = ["np", "ones"]
