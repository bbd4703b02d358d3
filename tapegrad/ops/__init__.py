"""Op families. Each op is declared once (forward, reverse rule, forward rule, samples)."""

from tapegrad.ops import math, array, reduction, linalg, operators  # noqa: F401
