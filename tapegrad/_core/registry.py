"""The op registry: every differentiable operation is declared once, as an :class:`Op`.

An op bundles its NumPy forward, its reverse rule (VJP), its forward rule (JVP) and sample
inputs for the gradient checker. The dispatcher in :mod:`tapegrad._core.tensor` runs the
forward and hands the call to every active tape; the backward engine in
:mod:`tapegrad._core.tape` calls the reverse rule.

Rule signatures (a recorded call is the plain tuple ``(op, inputs, output, attrs, parents,
input_ids)``, see :class:`tapegrad._core.tape._Recording`):

* ``vjp(inputs, output, attrs, upstream, needs) -> tuple`` of one gradient (or None) per
  input; ``upstream`` is one Tensor (a tuple of Tensors for multi-output ops); ``needs[i]``
  says whether input ``i`` wants a gradient at all (skip the work when it does not).
* ``jvp(inputs, output, attrs, tangents) -> Tensor`` (a tuple for multi-output ops);
  ``tangents[i]`` is None for inputs that carry no tangent.

An op whose reverse rule also works when ``upstream`` carries ``state.batch_dims`` extra leading
axes (elementwise rules usually do; use the batch-aware helpers in ``tapegrad.ops._util``) sets
``op.batchable = True``; the vectorised jacobian then runs it once for all rows.

Rules are written with tapegrad ops, so an enclosing tape records them (higher order). Hot ops
also declare NumPy twins, ``vjp_raw`` and ``jvp_raw`` (same signatures, arrays instead of
Tensors, real values only), which the engines run when nothing would record the rule's own
work; the op sweep checks every twin against its rule.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

#: Marks an op that has no gradient registered at all (``gradient()`` then raises LookupError).
NO_GRADIENT = "no-gradient"


class Call(NamedTuple):
    """One recorded application of an op (records are stored as plain tuples of this layout)."""

    op: Op
    inputs: tuple
    output: object
    attrs: dict | None
    parents: tuple  # each input's slot on the tape (None for an untracked input)
    input_ids: tuple


class Op:
    __slots__ = ("name", "forward", "vjp", "jvp", "samples", "n_outputs", "differentiable",
                 "batchable", "sample_note", "vjp_raw", "jvp_raw", "__weakref__")

    def __init__(self, name: str, forward: Callable, vjp=None, jvp=None, samples=None,
                 n_outputs: int = 1, differentiable: bool = True):
        self.name = name
        self.forward = forward
        self.vjp = vjp
        self.jvp = jvp
        self.samples = samples
        self.n_outputs = n_outputs
        self.differentiable = differentiable and vjp is not None
        # True when the reverse rule accepts cotangents with extra leading (batch) axes, as a
        # vectorised jacobian sends them; other ops run their rule once per batch row.
        self.batchable = False
        self.sample_note = None  # why an op's samples are limited (e.g. an optional dependency)
        # Optional NumPy twin of `vjp` for backward passes that nothing records (first order):
        # same signature, but `upstream` and the returned gradients are arrays, and only real
        # (float) outputs reach it. The sweep checks that both rules agree.
        self.vjp_raw = None
        # Optional NumPy twin of `jvp` for forward accumulators that nothing outside records:
        # `jvp_raw(inputs, output, attrs, tangents)` with array tangents (None where an input
        # has none), real outputs only; returns the output's tangent array (or None).
        self.jvp_raw = None

    def __repr__(self) -> str:
        return f"<Op {self.name}>"


REGISTRY: dict[str, Op] = {}


def register(name: str, forward: Callable, vjp=None, jvp=None, samples=None,
             n_outputs: int = 1, differentiable: bool = True) -> Op:
    """Declare an op once; a second declaration under the same name is a bug."""
    if name in REGISTRY:
        raise ValueError(f"op {name!r} is registered twice")
    op = Op(name, forward, vjp, jvp, samples, n_outputs, differentiable)
    REGISTRY[name] = op
    return op
