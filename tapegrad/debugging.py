"""``tapegrad.debugging``: TensorFlow's check_numerics switches plus explained gradients.

>>> import tapegrad as tf
>>> x = tf.constant(2.0)
>>> with tf.GradientTape() as tape:
...     y = x * x            # x was never watched
>>> print(tape.explain(y, x)[0].reason)
not_watched
"""

from __future__ import annotations

import contextlib

from tapegrad._core import hooks
from tapegrad.diagnostics import provenance as _provenance
from tapegrad.diagnostics.explain import GradientExplanation, GradientReport
from tapegrad.diagnostics.numerics import disable_check_numerics, enable_check_numerics
from tapegrad.diagnostics.strict import MissingGradientError

__all__ = ["enable_check_numerics", "disable_check_numerics", "enable_provenance",
           "disable_provenance", "strict_gradients", "GradientReport", "GradientExplanation",
           "MissingGradientError"]


def enable_provenance() -> None:
    """Remember, for every value, the op and the ``file:line`` that made it.

    Lets ``tape.explain`` tell values computed outside the tape, values that left it through
    ``.numpy()``/``float()``, and variables rebound to tensors, and adds locations to its report
    and to drawn graphs. Costs extra time on every op while on.
    """
    _provenance.enable()


def disable_provenance() -> None:
    _provenance.disable()


class strict_gradients(contextlib.ContextDecorator):
    """Make ``gradient()`` raise MissingGradientError (with the explain report) instead of
    returning None. Use as a context manager, or call ``strict_gradients.enable()`` /
    ``strict_gradients.disable()`` for a global switch.
    """

    def __enter__(self):
        self._previous = hooks.strict_gradients
        hooks.strict_gradients = True
        return self

    def __exit__(self, *exc):
        hooks.strict_gradients = self._previous
        return False

    @staticmethod
    def enable() -> None:
        hooks.strict_gradients = True

    @staticmethod
    def disable() -> None:
        hooks.strict_gradients = False
