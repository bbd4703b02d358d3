"""Every registered op's samples run through a compiled tf.function: the replay must equal eager
execution bitwise, and the gradient of the call (its traced backward program) must equal the
eager tape's."""

import logging

import numpy as np
import pytest

import tapegrad as tf
from tapegrad._core.registry import REGISTRY
from tapegrad._core.tensor import apply, wrap

from .test_op_sweep import CASES, _ids


def _flat(result) -> list:
    return list(result) if isinstance(result, tuple) else [result]


def _assert_same(got, expected, what):
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.dtype == expected.dtype and got.shape == expected.shape, what
    equal = got == expected
    if got.dtype.kind in "fc":
        equal |= np.isnan(got) & np.isnan(expected)
    assert np.all(equal), what


@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
def test_compiled_replay_equals_eager(case, caplog):
    name, _, sample = case
    op = REGISTRY[name]
    inputs = [wrap(np.asarray(v)) for v in sample.inputs]
    attrs = sample.attrs or None
    expected = _flat(apply(op, tuple(inputs), attrs))
    compiled = tf.function(lambda *xs: apply(op, xs, attrs))
    with caplog.at_level(logging.WARNING, logger="tapegrad"):
        for _ in range(2):  # the first call traces, the second replays the program
            got = _flat(compiled(*inputs))
            for g, e in zip(got, expected):
                _assert_same(g._value, e._value, f"{name} {sample}")
    floating = [x for x in inputs if x._value.dtype.kind == "f" and x._value.size]
    if not op.differentiable or not floating or any(
            e._value.dtype.kind != "f" for e in expected):
        return
    weights = [wrap(np.random.default_rng(1).standard_normal(e._value.shape)
                     .astype(e._value.dtype)) for e in expected]

    def gradients(function):
        with tf.GradientTape() as tape:
            tape.watch(floating)
            outputs = _flat(function(*inputs))
        return tape.gradient(outputs, floating, output_gradients=weights,
                             unconnected_gradients="zero")

    eager = gradients(lambda *xs: apply(op, xs, attrs))
    for _ in range(2):
        for g, e in zip(gradients(compiled), eager):
            np.testing.assert_allclose(tf.convert_to_tensor(g).numpy(),
                                       tf.convert_to_tensor(e).numpy(), rtol=1e-12,
                                       atol=1e-12, err_msg=f"{name} {sample}")
