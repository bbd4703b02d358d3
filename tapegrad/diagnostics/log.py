"""How tapegrad warns: its logger, and warnings limited per line of user code (a loop warns a
few times, not every iteration)."""

from __future__ import annotations

import sys

_warned_at: dict = {}


def get_logger():
    """The logger tapegrad warns through (as ``tf.get_logger()``; ``logging`` is imported on
    first use, keeping ``import tapegrad`` light).

    >>> import tapegrad as tf
    >>> tf.get_logger().name
    'tapegrad'
    """
    import logging
    return logging.getLogger("tapegrad")


def warn_once_per_line(message: str, limit: int = 5, depth: int = 3) -> None:
    """Log ``message`` as a warning at most ``limit`` times per line of the caller ``depth``
    frames up."""
    frame = sys._getframe(depth)
    key = (frame.f_code.co_filename, frame.f_lineno, message[:40])
    count = _warned_at.get(key, 0)
    if count < limit:
        _warned_at[key] = count + 1
        get_logger().warning(message)
