"""Op families. Each op is declared once (forward, reverse rule, forward rule, samples)."""

from tapegrad.ops import array, linalg, math, operators, reduction  # noqa: F401
