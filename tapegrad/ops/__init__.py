"""Op families. Each op is declared once (forward, reverse rule, forward rule, samples)."""

from tapegrad.ops import array, linalg, math, nn, numpy_interop, operators, reduction  # noqa: F401
