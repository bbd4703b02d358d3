"""Argument checks shared by GradientTape's gradient and jacobian methods."""

from __future__ import annotations

import enum

from tapegrad._core import nest
from tapegrad._core.indexed_slices import IndexedSlices
from tapegrad._core.tensor import Tensor, convert_to_tensor
from tapegrad._core.variable import Variable

CONSUMED = ("A non-persistent GradientTape can only be used to compute one set of gradients "
             "(or jacobians); create a new tape for each gradient() call, or use "
             "GradientTape(persistent=True).")


class UnconnectedGradients(enum.Enum):
    """What ``gradient()`` returns for a source the target does not depend on."""

    NONE = "none"
    ZERO = "zero"


def parse_unconnected(value) -> UnconnectedGradients:
    if isinstance(value, UnconnectedGradients):
        return value
    try:
        return UnconnectedGradients(value)
    except ValueError:
        raise ValueError(f"Unknown value for unconnected_gradients: {value!r}; use "
                         "'none', 'zero' or tapegrad.UnconnectedGradients.") from None


DIFFERENTIABLE = (Tensor, Variable, IndexedSlices)


def check_differentiable_value(item, role: str):
    if isinstance(item, (Tensor, Variable, IndexedSlices)):
        return
    raise TypeError(
        f"GradientTape.gradient: every {role} must be a tapegrad Tensor or Variable, got "
        f"{type(item).__name__} ({item!r:.60}). "
        + ("Compute the target with tapegrad ops inside the tape." if role == "target" else
           "Pass the Tensor you watched or the Variable itself, not a Python or NumPy value."))


def seeds_for(flat_targets, output_gradients) -> list:
    """One seed per target from ``output_gradients`` (None past its end: the default, ones)."""
    flat = nest.flatten(output_gradients)
    seeds = []
    for i in range(len(flat_targets)):
        if i < len(flat):
            if flat[i] is None:
                raise ValueError("Attempt to convert a value (None) with an unsupported type "
                                 "(<class 'NoneType'>) to a Tensor: an entry of "
                                 "output_gradients is None; pass ones for that target instead.")
            seed = flat[i]
            if not isinstance(seed, (Tensor, IndexedSlices)):
                seed = convert_to_tensor(seed)
            seeds.append(seed)
        else:
            seeds.append(None)
    return seeds
