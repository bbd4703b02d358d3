"""Op families. Each op is declared once (forward, reverse rule, forward rule, samples).

Loading this package also fills the core's table of the few ops its engine uses
(:mod:`tapegrad._core.hooks`): lower layers own the tables, the op layer fills them.
"""

from tapegrad._core import hooks
from tapegrad.ops import (  # noqa: F401
    _vocab,
    array,
    composite,  # noqa: F401  (after the families it builds on)
    image,
    linalg,
    math,
    nn,
    reduction,
)

hooks.add = math.add
hooks.zeros_like = math.zeros_like
hooks.stack = array.stack
hooks.scatter_rows = array.scatter_rows
hooks.concat_rows = array.concat_rows
hooks.sum_like = _vocab.sum_like
hooks.sum_to_shape = _vocab.sum_to_shape
hooks.scattered_copy = array.scattered_copy
