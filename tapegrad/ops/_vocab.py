"""The rule vocabulary: the words reverse and forward rules of every family are written in
(sum to a shape, broadcast, reshape, select).

They run the registered ops by name through the core's registry, as any rule's ops record on
an enclosing tape (higher order), so that no op family has to import another one for its rules:
the families form a chain without cycles.
"""

from __future__ import annotations

from tapegrad._core.registry import REGISTRY
from tapegrad._core.tensor import Tensor, apply, apply1, state


def reshape(x: Tensor, shape) -> Tensor:
    """``x`` in ``shape`` (the same elements)."""
    return apply1(REGISTRY["Reshape"], x, {"shape": tuple(shape)})


def broadcast_to(x: Tensor, shape) -> Tensor:
    """``x`` repeated along new or size-1 axes to ``shape``."""
    return apply1(REGISTRY["BroadcastTo"], x, {"shape": tuple(shape)})


def reduce_sum(x: Tensor, axes, keepdims: bool = False) -> Tensor:
    """The sum of ``x`` over the non-negative ``axes``."""
    return apply1(REGISTRY["Sum"], x, {"axis": tuple(sorted(set(axes))),
                                       "keepdims": keepdims})


def select(condition: Tensor, x, y) -> Tensor:
    """``x`` where the boolean ``condition`` holds, else ``y`` (broadcasting)."""
    return apply(REGISTRY["SelectV2"], (condition, x, y))


def batch_shape(upstream) -> tuple:
    """The leading batch axes of ``upstream`` in a vectorised backward pass (else ``()``)."""
    return tuple(upstream._value.shape[:state.batch_dims]) if state.batch_dims else ()


def unbroadcast(grad: Tensor, shape: tuple) -> Tensor:
    """Sum ``grad`` over the axes broadcasting added, so it has exactly ``shape``."""
    grad_shape = grad._value.shape
    if grad_shape == shape:
        return grad
    batch = state.batch_dims
    if batch:
        # Keep the leading batch axes of a vectorised backward pass.
        if grad_shape[batch:] == shape:
            return grad
        shape = grad_shape[:batch] + tuple(shape)
    lead = len(grad_shape) - len(shape)
    axes = list(range(batch, batch + lead))
    axes.extend(i + lead for i, d in enumerate(shape)
                if i >= batch and d == 1 and grad_shape[i + lead] != 1)
    if axes:
        grad = reduce_sum(grad, axes)
    return reshape(grad, shape) if grad._value.shape != shape else grad


def broadcast_tangent(tangent: Tensor, shape: tuple) -> Tensor:
    """A tangent of an operand, broadcast to the op's output ``shape``."""
    return tangent if tangent._value.shape == shape else broadcast_to(tangent, shape)
