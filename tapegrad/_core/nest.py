"""Nested structures (lists, tuples, namedtuples, dicts) flattened in TensorFlow's order.

Dicts flatten in sorted key order, as ``tf.nest`` does.
"""

from __future__ import annotations

from typing import Any


def _is_namedtuple(x) -> bool:
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


def is_nested(x) -> bool:
    return isinstance(x, (list, tuple, dict))


def sorted_keys(d: dict):
    try:
        return sorted(d)
    except TypeError:
        return list(d)


_NESTS = (list, tuple, dict)


def _is_flat_sequence(structure) -> bool:
    """A plain list or tuple whose items nest no further (the common list of tensors)."""
    kind = type(structure)
    if kind is not list and kind is not tuple:
        return False
    for item_kind in set(map(type, structure)):  # (each kind once: usually only Tensor)
        if issubclass(item_kind, _NESTS):
            return False
    return True


def flatten(structure) -> list:
    """Leaves of ``structure`` in depth-first order; a leaf flattens to ``[leaf]``."""
    if _is_flat_sequence(structure):
        return list(structure)
    if not isinstance(structure, _NESTS):
        return [structure]
    out: list = []
    stack = [structure]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item[k] for k in reversed(sorted_keys(item)))
        elif isinstance(item, (list, tuple)):
            stack.extend(reversed(item))
        else:
            out.append(item)
    return out


def pack_sequence_as(structure, flat: list) -> Any:
    """Rebuild ``structure``'s shape with the leaves taken in order from ``flat``."""
    if _is_flat_sequence(structure):
        return type(structure)(flat)
    if not isinstance(structure, _NESTS):
        return flat[0]
    return _build(structure, iter(flat))


def _build(node, leaves):
    # A module-level function (not a closure over itself), so no reference cycle keeps the
    # leaves, often large gradients, alive after the call.
    if isinstance(node, dict):
        built = {k: _build(node[k], leaves) for k in sorted_keys(node)}
        if type(node) is dict:
            return {k: built[k] for k in node}
        return type(node)((k, built[k]) for k in node)
    if _is_namedtuple(node):
        return type(node)(*[_build(v, leaves) for v in node])
    if isinstance(node, (list, tuple)):
        return type(node)(_build(v, leaves) for v in node)
    return next(leaves)


def map_structure(fn, structure):
    return pack_sequence_as(structure, [fn(x) for x in flatten(structure)])
