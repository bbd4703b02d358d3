"""``tensor_scatter_nd_min`` / ``tensor_scatter_nd_max``: elementwise min/max of a tensor with
updates scattered onto it.

Gradients follow TensorFlow's rule: the upstream gradient of an output entry goes to every
operand (the tensor's entry and the updates scattered there) equal to the result, shared equally
among ties.
"""

from __future__ import annotations

from tapegrad._core.backend import np
from tapegrad._core.registry import register
from tapegrad._core.tensor import Tensor, apply
from tapegrad.ops import math as _math
from tapegrad.ops._sample import Sample
from tapegrad.ops._util import randn
from tapegrad.ops._vocab import shape_of
from tapegrad.ops.array import GATHER_ND, SCATTER_ND, nd_key, scatter_into


def _scatter_forward(reduce):
    def forward(tensor, indices, updates):
        result = np.array(tensor, copy=True)
        reduce.at(result, nd_key(indices), updates)
        return result
    return forward


def _hits(inputs, output):
    """(tensor entries equal to the result, updates equal to theirs, hits per output entry)."""
    tensor, indices, updates = inputs
    tensor_hits = _math.cast(_math.equal(tensor, output), output.dtype)
    update_hits = _math.cast(_math.equal(updates, apply(GATHER_ND, (output, indices))),
                             output.dtype)
    hits = tensor_hits + apply(SCATTER_ND, (indices, update_hits), {"shape": shape_of(tensor)})
    return tensor_hits, update_hits, hits  # every entry has at least one hit


def _min_max_vjp(inputs, output, attrs, upstream, needs):
    tensor_hits, update_hits, hits = _hits(inputs, output)
    shared = upstream / hits
    indices = inputs[1]
    return (shared * tensor_hits if needs[0] else None, None,
            apply(GATHER_ND, (shared, indices)) * update_hits if needs[2] else None)


def _min_max_jvp(inputs, output, attrs, tangents):
    tensor_hits, update_hits, hits = _hits(inputs, output)
    total = _math.zeros_like(output) if tangents[0] is None else tangents[0] * tensor_hits
    if tangents[2] is not None:
        total = total + apply(SCATTER_ND, (inputs[1], tangents[2] * update_hits),
                              {"shape": shape_of(output)})
    return total / hits


def _samples():
    # values far apart, so that no entry ties within the finite-difference step (a tie has no
    # derivative to check); row 0 receives two updates
    tensor = np.array([[0.1, -0.7], [1.3, 0.4], [-1.1, 0.9], [0.6, -0.2]])
    updates = np.array([[0.5, -1.4], [2.0, 0.2], [-0.3, 1.1]])
    return [Sample((tensor, np.array([[0], [2], [0]]), updates), wrt=(0, 2)),
            Sample((randn(2, 3), np.array([[0, 1], [1, 2]]), randn(2, seed=1)), wrt=(0, 2))]


TENSOR_SCATTER_MAX = register(name="TensorScatterMax", forward=_scatter_forward(np.maximum),
                              vjp=_min_max_vjp, jvp=_min_max_jvp, samples=_samples)
TENSOR_SCATTER_MIN = register(name="TensorScatterMin", forward=_scatter_forward(np.minimum),
                              vjp=_min_max_vjp, jvp=_min_max_jvp, samples=_samples)


def tensor_scatter_nd_max(tensor, indices, updates, name=None) -> Tensor:
    """A copy of ``tensor`` where each entry at ``indices`` becomes the max of itself and the
    updates scattered there.

    >>> import tapegrad as tf
    >>> tf.tensor_scatter_nd_max([1, 5, 3], [[0], [1], [0]], [4, 2, 7]).numpy().tolist()
    [7, 5, 3]
    """
    return scatter_into(TENSOR_SCATTER_MAX, tensor, indices, updates, "tensor_scatter_nd_max")


def tensor_scatter_nd_min(tensor, indices, updates, name=None) -> Tensor:
    """A copy of ``tensor`` where each entry at ``indices`` becomes the min of itself and the
    updates scattered there.

    >>> import tapegrad as tf
    >>> tf.tensor_scatter_nd_min([1, 5, 3], [[0], [1], [0]], [4, 2, 7]).numpy().tolist()
    [1, 2, 3]
    """
    return scatter_into(TENSOR_SCATTER_MIN, tensor, indices, updates, "tensor_scatter_nd_min")
