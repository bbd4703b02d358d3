"""Every registered op x its samples, with the leading dimension emptied: the forward and the
reverse rule give results of the right (empty) shapes, or TensorFlow's kind of error, never a
raw NumPy or Python exception (IndexError, ValueError from NumPy, LinAlgError, TypeError)."""

import warnings

import numpy as np
import pytest

import tapegrad as tf
from tapegrad._core.errors import OpError
from tapegrad._core.registry import REGISTRY
from tapegrad._core.tensor import apply, wrap

SKIP = {"ReadVariableOp", "CustomGradient"}  # (not callable through apply: tested elsewhere)


def _samples(op):
    return list((op.samples() if callable(op.samples) else op.samples) or [])


def _emptied(sample):
    """The sample with axis 0 of every input that shares the first input's leading size cut
    to 0 (a batch of nothing); None when the first input has no axis to cut."""
    inputs = [np.asarray(v) for v in sample.inputs]
    if not inputs or inputs[0].ndim == 0 or inputs[0].shape[0] == 0:
        return None
    size = inputs[0].shape[0]
    return [v[:0] if v.ndim and v.shape[0] == size and v.dtype.kind in "fcb" or i == 0 else v
            for i, v in enumerate(inputs)]


CASES = [(name, i) for name, op in sorted(REGISTRY.items()) if name not in SKIP
         for i, sample in enumerate(_samples(op)) if _emptied(sample) is not None]


@pytest.mark.parametrize("case", CASES, ids=[f"{n}-{i}" for n, i in CASES])
def test_empty_batch_gives_empty_results_or_an_op_error(case):
    name, index = case
    op = REGISTRY[name]
    sample = _samples(op)[index]
    inputs = [wrap(v) for v in _emptied(sample)]
    floats = [x for x in inputs if x._value.dtype.kind == "f"]
    try:
        with tf.GradientTape() as tape, warnings.catch_warnings():
            # (an empty mean's NaN may warn inside NumPy: this test is about results and errors)
            warnings.simplefilter("ignore", RuntimeWarning)
            tape.watch(floats)
            out = apply(op, tuple(inputs), sample.attrs or None)
    except (OpError, NotImplementedError):
        return  # TensorFlow's kind of refusal (e.g. a shape the op cannot take)
    outputs = out if isinstance(out, tuple) else (out,)
    differentiable = [o for o in outputs if o._value.dtype.kind == "f"]
    if not op.differentiable or not floats or not differentiable:
        return
    try:
        grads = tape.gradient(differentiable, floats, unconnected_gradients="zero")
    except (OpError, NotImplementedError):
        return
    for x, g in zip(floats, grads):
        assert tuple(g.shape) == tuple(x.shape), f"{name}: gradient shape {g.shape} for {x.shape}"
