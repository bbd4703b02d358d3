"""Fusion (``tf.function(jit_compile=True)`` with numexpr): runs of elementwise ops become one
kernel, forward and backward.

Tolerance: kernels keep each op's arithmetic in order, so ``+ - * /`` agree bitwise; the C
library's ``sin``, ``exp``, ``tanh``... may differ from NumPy's own loops in the last bit, and
TanhGrad/SigmoidGrad are reordered (``fusion.REORDERED``), so results are compared to eager
execution at rtol 1e-5 (float32) and 1e-11 (float64).
"""

import logging

import numpy as np
import pytest

import tapegrad as tf
from tapegrad._core.registry import REGISTRY
from tapegrad._core.tensor import apply, wrap
from tapegrad.autodiff.function import fusion
from tapegrad.autodiff.function import program as program_module

from .test_op_sweep import CASES, _ids

numexpr = pytest.importorskip("numexpr", reason="the fusing extra (tapegrad[fast]) is missing")

TOLERANCE = {np.dtype(np.float32): dict(rtol=1e-5, atol=1e-6),
             np.dtype(np.float64): dict(rtol=1e-11, atol=1e-12)}


def _trace(function):
    """The only compiled trace of a tf.function."""
    (concrete,) = function._concrete.values()
    (trace,) = concrete._traces.values()
    return trace


def _kernels(source: str) -> int:
    return sum(1 for line in source.splitlines() if line.lstrip().startswith("r") and
               "= k" in line)


def chain(x, c):
    for _ in range(5):
        x = tf.tanh(tf.sin(x) * c + c)
    return x


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_chain_and_its_gradient_agree_with_eager(dtype):
    rng = np.random.default_rng(0)
    x = tf.constant(rng.standard_normal(64).astype(dtype))
    c = tf.constant(np.full(64, 0.9, dtype))

    def step(v):
        with tf.GradientTape() as tape:
            tape.watch(v)
            y = chain(v, c)
        return y, tape.gradient(y, v)

    fused = tf.function(step, jit_compile=True)
    expected = [t.numpy() for t in step(x)]
    for _ in range(3):  # trace, then replays of the fused program
        got = [t.numpy() for t in fused(x)]
        for g, e in zip(got, expected):
            assert g.dtype == e.dtype
            np.testing.assert_allclose(g, e, **TOLERANCE[np.dtype(dtype)])
    # forward: one kernel per round (its input is saved for the backward); backward: the
    # rounds' gradient steps run together
    source = _trace(fused).replay.source
    assert _kernels(source) >= 6 and source.count("\n") < 20, source


def test_tape_outside_a_fused_call_runs_the_fused_backward_program():
    c = tf.constant(np.float32(0.5))
    forward = tf.function(lambda v: chain(v, c), jit_compile=True)

    def gradient(function):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = function(x)
        return tape.gradient(y, x).numpy()

    for scale in (1.0, 1.0, 2.0, -0.5):  # (new inputs: the backward reads each call's values)
        x = tf.constant(np.linspace(-1, 1, 32).astype(np.float32) * np.float32(scale))
        expected = gradient(lambda v: chain(v, c))
        np.testing.assert_allclose(gradient(forward), expected, rtol=1e-5, atol=1e-6)
    trace = _trace(forward)
    backward, _ = trace.backward_program((True,))
    assert _kernels(backward.source) >= 1, backward.source


def test_python_numbers_take_the_kernels_dtype():
    # float32 * 2.5 stays float32 (NumPy converts the number to the array's dtype): a kernel
    # that read 2.5 as a double would give a float64 result
    x = tf.constant(np.arange(1, 9, dtype=np.float32) / 3)
    f = tf.function(lambda v: tf.exp(v * 2.5 + 1) / 3, jit_compile=True)
    f(x)
    got = f(x)
    assert got.dtype == tf.float32
    np.testing.assert_allclose(got.numpy(), (np.exp(x.numpy() * np.float32(2.5) + 1) / 3),
                               rtol=1e-6)
    assert _kernels(_trace(f).replay.source) == 1


def test_arithmetic_only_kernels_are_bitwise():
    rng = np.random.default_rng(3)
    a, b = (tf.constant(rng.standard_normal((4, 5))) for _ in range(2))
    f = tf.function(lambda p, q: (p * q - p / (q + 3.0)) * (p - 1.0), jit_compile=True)
    expected = ((a.numpy() * b.numpy() - a.numpy() / (b.numpy() + 3.0)) *
                (a.numpy() - 1.0))
    f(a, b)
    assert np.array_equal(f(a, b).numpy(), expected)


def test_without_numexpr_the_program_is_unfused_and_bitwise(monkeypatch):
    monkeypatch.setattr(fusion, "numexpr", None)
    assert not fusion.available()
    x = tf.constant(np.linspace(-2, 2, 16).astype(np.float32))
    c = tf.constant(np.float32(0.7))
    f = tf.function(lambda v: chain(v, c), jit_compile=True)
    expected = chain(x, c).numpy()
    f(x)
    assert np.array_equal(f(x).numpy(), expected)
    assert _kernels(_trace(f).replay.source) == 0


# -- the pass itself ------------------------------------------------------------------------

def _compiled_steps(function, *args):
    function(*args)
    function(*args)
    trace = _trace(function)
    graph = trace.graph
    return fusion.fuse(graph.steps, lambda r: program_module.trace_value(graph, r),
                       set(trace.returns)), trace


def test_a_value_read_twice_or_returned_is_materialised():
    x = tf.constant(np.ones(8))

    def f(v):
        shared = tf.sin(v) * 2.0  # read by two ops: computed once
        out = tf.cos(shared) + tf.exp(shared)
        return out, tf.tanh(out) + 1.0  # `out` is returned: kept

    steps, trace = _compiled_steps(tf.function(f, jit_compile=True), x)
    kinds = [s.kind for s in steps]
    assert kinds == ["fused", "fused", "fused"], kinds
    produced = [s.outs[0] for s in steps]
    assert trace.returns[0] in produced and trace.returns[1] == produced[-1]


def test_ops_it_cannot_fuse_stay_numpy_calls():
    x = tf.constant(np.arange(6, dtype=np.int32))
    y = tf.constant(np.ones((2, 3), np.float32))
    # integer arithmetic, a reduction between elementwise runs, and a single op stay as they are
    f = tf.function(lambda i, v: (i * 2 + 1, tf.reduce_sum(tf.sin(v) * 2.0, axis=1) + 1.0),
                    jit_compile=True)
    steps, _ = _compiled_steps(f, x, y)
    assert [s.kind for s in steps].count("fused") == 1
    names = [s.op.name for s in steps if s.kind == "op"]
    assert names == ["Mul", "AddV2", "Sum", "AddV2"], names


def test_long_runs_are_split_into_bounded_kernels():
    x = tf.constant(np.linspace(0, 1, 8))

    def long_run(v):
        for _ in range(60):
            v = v * 0.99 + 0.01
        return v

    f = tf.function(long_run, jit_compile=True)
    steps, _ = _compiled_steps(f, x)
    assert all(s.kind == "fused" for s in steps)
    assert len(steps) == -(-120 // fusion.MAX_OPS)
    f(x)
    assert np.array_equal(f(x).numpy(), long_run(x).numpy())  # (+ and * only: bitwise)


# -- every op's samples through a fused function ------------------------------------------

def _padded(op, attrs):
    """The op between elementwise multiplications by 1 (exact), so that its inputs and
    outputs join kernels when the op is elementwise."""
    def function(*xs):
        inner = [x * 1.0 if x.dtype.is_floating else x for x in xs]
        out = apply(op, tuple(inner), attrs)
        outs = list(out) if isinstance(out, tuple) else [out]
        return [o * 1.0 if o.dtype.is_floating else o for o in outs]
    return function


@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
def test_fused_functions_agree_with_eager_on_every_op(case, caplog):
    name, _, sample = case
    op = REGISTRY[name]
    inputs = [wrap(np.asarray(v)) for v in sample.inputs]
    if not any(x._value.dtype in fusion._DTYPES for x in inputs):
        return  # nothing a kernel takes
    attrs = sample.attrs or None
    function = _padded(op, attrs)
    expected = function(*inputs)
    fused = tf.function(function, jit_compile=True)
    with caplog.at_level(logging.WARNING, logger="tapegrad"):
        for _ in range(2):
            for g, e in zip(fused(*inputs), expected):
                _compare(g.numpy(), e.numpy(), f"{name} {sample}")
    floating = [x for x in inputs if x._value.dtype in fusion._DTYPES and x._value.size]
    if not op.differentiable or not floating or any(
            not e.dtype.is_floating for e in expected):
        return

    def gradients(f):
        with tf.GradientTape() as tape:
            tape.watch(floating)
            outputs = f(*inputs)
        return tape.gradient(outputs, floating, unconnected_gradients="zero")

    eager = gradients(function)
    for _ in range(2):
        for g, e in zip(gradients(fused), eager):
            _compare(tf.convert_to_tensor(g).numpy(), tf.convert_to_tensor(e).numpy(),
                     f"gradient: {name} {sample}")


def _compare(got, expected, what):
    assert got.dtype == expected.dtype and got.shape == expected.shape, what
    tolerance = TOLERANCE.get(got.dtype)
    if tolerance is None:
        assert np.array_equal(got, expected, equal_nan=got.dtype.kind in "fc"), what
    else:
        np.testing.assert_allclose(got, expected, err_msg=what, equal_nan=True, **tolerance)


ARITHMETIC = {np.add, np.subtract, np.multiply, np.true_divide, np.negative, np.absolute,
              np.sqrt, np.square, np.reciprocal}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_template_computes_its_ops_forward(dtype):
    assert fusion.available()
    rng = np.random.default_rng(11)
    a = (rng.random(40) * 0.9 + 0.05).astype(dtype)  # in every function's domain
    b = (rng.random(40) + 0.5).astype(dtype)
    one = np.asarray(1, dtype)
    for forward, (template, _) in fusion._TEMPLATES.items():
        arity = 2 if "{1}" in template else 1
        operands = (a + 1 if forward is np.arccosh else a, b)[:arity]
        expression = template.format("a0", "a1", one="k0")
        names = ["a0", "a1"][:arity] + (["k0"] if "k0" in expression else [])
        arrays = list(operands) + ([one] if "k0" in expression else [])
        program = fusion._compile(expression, names, [fusion._numexpr_type(x) for x in arrays])
        got, expected = program(*arrays), forward(*operands)
        assert got.dtype == expected.dtype, template
        if forward in ARITHMETIC:  # (+ - * / in the forward's order: the same bits)
            assert np.array_equal(got, expected), template
        else:
            np.testing.assert_allclose(got, expected, **TOLERANCE[np.dtype(dtype)])
