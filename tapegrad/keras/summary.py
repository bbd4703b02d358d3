"""``model.summary()``: Keras 3's table (as it prints at its default 80-column width), with a
"Connected to" column for functional models that are not a plain chain of layers.

>>> import tapegrad as tf
>>> model = tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.Dense(2, name="d")])
>>> model.summary()  # doctest: +NORMALIZE_WHITESPACE
Model: "..."
...
│ d (Dense)                       │ (None, 2)              │             8 │
...
 Total params: 8 (32.00 B)
...
"""

from __future__ import annotations

import textwrap

from tapegrad._core.backend import np
from tapegrad._core.tensor import array_of
from tapegrad.keras.layers import InputLayer

__all__ = ["summary_lines"]

_CHAIN_WIDTHS = (33, 24, 15)          # Keras 3 at 80 columns (rich's table of width 76)
_GRAPH_WIDTHS = (21, 19, 12, 19)


def _class_name(layer) -> str:
    """The class Keras 3's summary shows: a functional model is a ``Functional``."""
    if getattr(layer, "_is_graph", False) and type(layer).__name__ == "Model":
        return "Functional"
    return type(layer).__name__


def _shape_text(shape) -> str:
    if shape and isinstance(shape[0], tuple):
        return "[" + ", ".join(str(s) for s in shape) + "]"
    return str(shape)


def _batchless(shape, first_axis_is_batch: bool):
    if shape and isinstance(shape[0], tuple):
        return tuple(_batchless(s, first_axis_is_batch) for s in shape)
    if first_axis_is_batch and shape and isinstance(shape[0], int):
        return (None,) + tuple(shape[1:])
    return tuple(shape)


def _is_chain(model) -> bool:
    """Keras' "sequential-like": every call takes one tensor, no tensor feeds two calls and
    no layer is called twice."""
    if not getattr(model, "_is_graph", False):
        return True
    fed, called = set(), set()
    for node in model._nodes:
        inputs = node.input_tensors
        if len(inputs) != 1 or id(inputs[0]) in fed or id(node.layer) in called:
            return False
        fed.add(id(inputs[0]))
        called.add(id(node.layer))
    return True


def _connections(layer, model) -> str:
    in_model = {id(node) for node in model._nodes}
    links = []
    for node in layer._inbound_nodes:
        if id(node) not in in_model:
            continue
        for tensor in node.input_tensors:
            producer = tensor._node
            if producer is None:
                links.append(f"{tensor._input_layer.name}[0][0]")
            else:
                index = producer.layer._inbound_nodes.index(producer)
                links.append(f"{producer.layer.name}[{index}][{tensor._index}]")
    return ", ".join(links) or "-"


def _size(nbytes: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if nbytes < 1024 or unit == "GB":
            return f"{nbytes:.2f} {unit}"
        nbytes /= 1024
    return f"{nbytes:.2f} GB"


def summary_lines(model, layers, sequential: bool) -> list:
    """The lines of ``model``'s summary table over ``layers``."""
    chain = _is_chain(model)
    header = ["Layer (type)", "Output Shape", "Param #"] + ([] if chain else ["Connected to"])
    rows = [header]
    for layer in layers:
        shape = layer._output_shape
        row = [f"{layer.name} ({_class_name(layer)})",
               "?" if shape is None else _shape_text(_batchless(shape, sequential)),
               f"{layer.count_params() if layer.built else 0:,}"]
        if not chain:
            row.append(_connections(layer, model))
        rows.append(row)
    widths = _CHAIN_WIDTHS if chain else _GRAPH_WIDTHS
    right = {2}

    def rule(left, middle, end, fill):
        return left + middle.join(fill * w for w in widths) + end

    def cells(row, edge):
        # long cells wrap at spaces (a long word is cut), as rich's table does
        wrapped = [textwrap.wrap(text, w - 2, break_on_hyphens=False) or [""]
                   for text, w in zip(row, widths)]
        out = []
        for line in range(max(len(w) for w in wrapped)):
            texts = []
            for c, w in enumerate(widths):
                text = wrapped[c][line] if line < len(wrapped[c]) else ""
                texts.append(f" {text:>{w - 2}} " if c in right else f" {text:<{w - 2}} ")
            out.append(edge + edge.join(texts) + edge)
        return out

    lines = [f'Model: "{model.name}"', rule("┏", "┳", "┓", "━"), *cells(rows[0], "┃"),
             rule("┡", "╇", "┩", "━")]
    for i, row in enumerate(rows[1:]):
        if i:
            lines.append(rule("├", "┼", "┤", "─"))
        lines.extend(cells(row, "│"))
    lines.append(rule("└", "┴", "┘", "─"))
    total = model.count_params() if model.built else 0
    trainable = int(sum(int(np.prod(array_of(v).shape)) for v in model.trainable_weights))
    nbytes = int(sum(array_of(v).nbytes for v in model.weights))
    tbytes = int(sum(array_of(v).nbytes for v in model.trainable_weights))
    lines += [f" Total params: {total:,} ({_size(nbytes)})",
              f" Trainable params: {trainable:,} ({_size(tbytes)})",
              f" Non-trainable params: {total - trainable:,} ({_size(nbytes - tbytes)})"]
    if not model.built:
        lines.append(" (the model is not built yet: call it on a batch first)")
    return lines


def layers_of(model) -> list:
    """The rows of the summary: a functional model's input layers too, not a Sequential's."""
    if getattr(model, "_is_graph", False):
        return list(model._layers)
    return [layer for layer in model._layers if not isinstance(layer, InputLayer)]
