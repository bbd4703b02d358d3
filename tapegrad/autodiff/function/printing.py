"""``tf.print``: prints on every call of a compiled function (to stderr, as TensorFlow)."""

from __future__ import annotations

import sys

from tapegrad._core.backend import np
from tapegrad._core.tensor import Tensor, array_of
from tapegrad._core.variable import Variable
from tapegrad.autodiff.function import symbolic
from tapegrad.autodiff.function.tracer import active_tracer


def _scalar_text(value) -> str:
    if isinstance(value, (np.floating, float)):
        # As TensorFlow's float formatting: the short form when it reads back as the same
        # value, else the round-trip precision (9 digits for float32, 17 for float64).
        single = isinstance(value, (np.float16, np.float32))
        short = f"{float(value):.{6 if single else 15}g}"
        kind = np.float32 if single else np.float64
        if kind(short) == kind(value):
            return short
        return f"{float(value):.{9 if single else 17}g}"
    if isinstance(value, np.bool_):
        return "1" if value else "0"
    if isinstance(value, bytes):
        return value.decode()
    return str(value)


def format_array(array, summarize: int = 3) -> str:
    """A value as ``tf.print`` writes it: ``[1 2 ... 9]`` (``summarize`` items at each end)."""
    array = np.asarray(array)
    if array.ndim == 0:
        return _scalar_text(array[()])
    return _format_rows(array, summarize, 1)


def _format_rows(array, summarize: int, depth: int) -> str:
    count = array.shape[0]
    if summarize >= 0 and count > 2 * summarize:
        indices = list(range(summarize)) + [None] + list(range(count - summarize, count))
    else:
        indices = list(range(count))
    if array.ndim == 1:
        return "[" + " ".join("..." if i is None else _scalar_text(array[i]) for i in indices) \
            + "]"
    separator = "\n" * (array.ndim - 1) + " " * depth
    parts = ["..." if i is None else _format_rows(array[i], summarize, depth + 1)
             for i in indices]
    return "[" + separator.join(parts) + "]"


def _text(item, summarize: int) -> str:
    if isinstance(item, (Tensor, Variable)):
        return format_array(array_of(item), summarize)
    if isinstance(item, np.ndarray):
        return format_array(item, summarize)
    return str(item)


def print_(*inputs, output_stream=None, summarize: int = 3, sep: str = " ",
           end: str = "\n", name=None) -> None:
    """Print tensors and Python values, as ``tf.print`` (inside ``tf.function``: on every call).

    >>> import sys, tapegrad as tf
    >>> tf.print("x:", tf.constant([1, 2, 3]), output_stream=sys.stdout)
    x: [1 2 3]
    """
    tracer = active_tracer()
    if tracer is None:
        _emit([_text(item, summarize) for item in inputs], output_stream, sep, end)
        return
    tensors = [item for item in inputs if isinstance(item, (Tensor, Variable))]
    fixed = [None if isinstance(item, (Tensor, Variable)) else str(item) for item in inputs]

    def emit(*values):
        if symbolic.tracing.stack:
            return  # a tf.cond/tf.while_loop run while tracing: the replay prints
        remaining = iter(values)
        texts = [format_array(next(remaining), summarize) if text is None else text
                 for text in fixed]
        _emit(texts, output_stream, sep, end)

    tracer.effect(emit, tensors)


def _emit(texts: list, stream, sep: str, end: str) -> None:
    if stream is None:
        stream = sys.stderr  # looked up now: tests and notebooks replace it
    stream.write(sep.join(texts) + end)
