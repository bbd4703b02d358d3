"""Every registered op x its samples: reverse rule, forward rule and second order against
central differences (float64)."""

import numpy as np
import pytest

import tapegrad as tf
from tapegrad._core.registry import REGISTRY
from tapegrad._core.tensor import apply, wrap
from tapegrad.test import compute_gradient, op_function

# Ops that cannot be called through `apply` and are covered by dedicated tests instead.
COVERED_ELSEWHERE = {
    "ReadVariableOp": "variable reads: tests/test_core.py and the conformance probes",
    "CustomGradient": "custom_gradient: tests/test_beyond.py and the conformance probes",
}


def _samples(op):
    samples = op.samples() if callable(op.samples) else op.samples
    return list(samples or [])


CASES = [(name, i, sample) for name, op in sorted(REGISTRY.items())
         if name not in COVERED_ELSEWHERE for i, sample in enumerate(_samples(op))]


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_op_declares_samples_and_rules(name):
    op = REGISTRY[name]
    if name in COVERED_ELSEWHERE:
        return
    if not _samples(op) and getattr(op, "sample_note", None):
        pytest.skip(op.sample_note)  # e.g. an optional dependency is missing
    assert _samples(op), f"op {name} declares no samples for the gradient checker"
    if op.differentiable:
        assert op.jvp is not None, f"op {name} has a reverse rule but no forward rule"


def _ids(case):
    return f"{case[0]}-{case[1]}"


@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
def test_reverse_rule_matches_finite_differences(case):
    name, _, sample = case
    op = REGISTRY[name]
    f, args = op_function(op, sample)
    if not args:
        pytest.skip("sample has no floating inputs")
    if not op.differentiable:
        sources = [wrap(a) for a in args]
        with tf.GradientTape() as tape:
            tape.watch(sources)
            out = f(*sources)
        assert all(g is None for g in tape.gradient(out, sources)), \
            f"{name} is declared non-differentiable, so its gradient must be None"
        return
    theoretical, numerical = compute_gradient(f, args, delta=1e-6)
    for t, n in zip(theoretical, numerical):
        np.testing.assert_allclose(t, n, rtol=1e-5, atol=1e-6, err_msg=f"{name} {sample}")


@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
def test_forward_rule_matches_finite_differences(case):
    name, _, sample = case
    op = REGISTRY[name]
    if not op.differentiable:
        return
    f, args = op_function(op, sample)
    if not args or any(np.asarray(v).dtype.kind == "c" for v in sample.inputs):
        pytest.skip("no real floating inputs")
    rng = np.random.default_rng(3)
    tangents = [rng.standard_normal(a.shape) for a in args]
    h = 1e-6
    plus = f(*[wrap(a + h * t) for a, t in zip(args, tangents)])._value
    minus = f(*[wrap(a - h * t) for a, t in zip(args, tangents)])._value
    expected = (np.asarray(plus) - np.asarray(minus)) / (2 * h)
    wrt = sample.wrt if sample.wrt is not None else tuple(
        i for i, v in enumerate(sample.inputs) if np.asarray(v).dtype.kind == "f")
    inputs = [wrap(np.asarray(v)) for v in sample.inputs]
    for position, a in zip(wrt, args):
        inputs[position] = wrap(a)
    out = apply(op, tuple(inputs), sample.attrs or None)
    input_tangents = [None] * len(inputs)
    for position, t in zip(wrt, tangents):
        input_tangents[position] = wrap(t)
    got = op.jvp(tuple(inputs), out, sample.attrs or None, input_tangents)
    if got is not None and not isinstance(got, tuple) and got._value.dtype.kind == "c":
        got = tf.math.real(got) + 0.5 * tf.math.imag(got)
    if isinstance(out, tuple):
        got = np.concatenate([np.ravel(g._value) for g in got])
    else:
        got = np.asarray(got._value) if got is not None else np.zeros_like(expected)
    np.testing.assert_allclose(np.broadcast_to(got, expected.shape), expected, rtol=1e-5,
                               atol=1e-6, err_msg=f"{name} {sample}")


@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
def test_second_order_matches_finite_differences(case):
    name, _, sample = case
    op = REGISTRY[name]
    if not op.differentiable or not sample.second_order:
        return
    f, args = op_function(op, sample)
    if not args or any(a.size == 0 for a in args):
        pytest.skip("no non-empty floating inputs")
    rng = np.random.default_rng(5)
    out_shape = np.shape(f(*[wrap(a) for a in args])._value)
    weights = wrap(rng.standard_normal(out_shape))

    def first_gradient(*xs):
        with tf.GradientTape() as tape:
            tape.watch(list(xs))
            y = f(*xs)
        grads = tape.gradient(y, list(xs), output_gradients=weights,
                              unconnected_gradients="zero")
        return tf.concat([tf.reshape(tf.convert_to_tensor(g), [-1]) for g in grads], 0)

    theoretical, numerical = compute_gradient(first_gradient, args, delta=1e-5)
    for t, n in zip(theoretical, numerical):
        np.testing.assert_allclose(t, n, rtol=1e-4, atol=1e-5, err_msg=f"{name} {sample}")


BATCHABLE_CASES = [c for c in CASES if REGISTRY[c[0]].batchable and REGISTRY[c[0]].differentiable]


@pytest.mark.parametrize("case", BATCHABLE_CASES, ids=[_ids(c) for c in BATCHABLE_CASES])
def test_batchable_rules_match_the_per_row_loop(case):
    """Ops marked batchable take every Jacobian row in one call; it must equal the loop."""
    name, _, sample = case
    f, args = op_function(REGISTRY[name], sample)
    if not args or any(a.size == 0 for a in args):
        pytest.skip("no non-empty floating inputs")
    sources = [wrap(a) for a in args]
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(sources)
        y = f(*sources)
    vectorised = tape.jacobian(y, sources, unconnected_gradients="zero")
    looped = tape.jacobian(y, sources, unconnected_gradients="zero", experimental_use_pfor=False)
    for v, loop in zip(vectorised, looped):
        np.testing.assert_allclose(v.numpy(), loop.numpy(), rtol=1e-12, atol=1e-12,
                                   err_msg=f"{name} {sample}")


ARRAY_CASES = [c for c in CASES if REGISTRY[c[0]].array_rules
               and not any(np.iscomplexobj(v) for v in c[2].inputs)]


def _as_arrays(values):
    if type(values) is tuple:
        return tuple(_as_arrays(v) for v in values)
    return values if values is None or isinstance(values, np.ndarray) else np.asarray(values)


@pytest.mark.parametrize("case", ARRAY_CASES, ids=[_ids(c) for c in ARRAY_CASES])
def test_array_rules_agree_on_arrays_and_tensors(case):
    """An op's rules that take arrays (used when nothing records, for real values) give on
    arrays (and NumPy scalars) what they give on tensors, for the reverse rule and for the
    forward rule with each input's tangent alone and with all of them."""
    name, _, sample = case
    op = REGISTRY[name]
    # (0-d values as NumPy scalars, as tensors may hold them)
    arrays = tuple(np.asarray(v)[()] if np.ndim(v) == 0 else np.asarray(v)
                   for v in sample.inputs)
    inputs = tuple(wrap(np.asarray(a)) for a in arrays)
    out = apply(op, inputs, sample.attrs or None)
    rng = np.random.default_rng(7)
    upstream = rng.standard_normal(np.shape(out._value)).astype(out._value.dtype)
    needs = tuple(a.dtype.kind in "fc" for a in arrays)
    expected = op.vjp(inputs, out, sample.attrs or None, wrap(upstream), needs)
    got = op.vjp(arrays, out._value, sample.attrs or None, upstream, needs)
    for e, g in zip(expected, got):
        assert (e is None) == (g is None)
        if e is not None:
            assert not isinstance(g, tf.Tensor), f"{name}: an array rule returned a tensor"
            np.testing.assert_allclose(_as_arrays(g), e.numpy(), rtol=1e-12, atol=1e-12)
    for position in range(len(arrays) if len(arrays) > 1 else 0):  # None for an input that
        # needs no gradient (the engine's first-order pass relies on it)
        only_others = tuple(n and i != position for i, n in enumerate(needs))
        got = op.vjp(arrays, out._value, sample.attrs or None, upstream, only_others)
        assert got[position] is None, f"{name}: a gradient for input {position}, not needed"
    floats = [i for i, a in enumerate(arrays) if a.dtype.kind == "f"]
    for chosen in [[i] for i in floats] + [floats]:
        tangents = [rng.standard_normal(a.shape) if i in chosen else None
                    for i, a in enumerate(arrays)]
        expected = op.jvp(inputs, out, sample.attrs or None,
                          [None if t is None else wrap(t) for t in tangents])
        got = op.jvp(arrays, out._value, sample.attrs or None, tangents)
        assert (expected is None) == (got is None), f"{name} {sample}"
        if expected is not None:
            assert np.shape(got) == np.shape(out._value), f"{name} {sample}"
            np.testing.assert_allclose(_as_arrays(got), expected.numpy(), rtol=1e-12,
                                       atol=1e-12,
                                       err_msg=f"{name} {sample} tangents for {chosen}")
