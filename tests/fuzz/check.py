"""Checks of one fuzz program under tapegrad: forward values and dtype against NumPy,
gradients, second order, jacobians (both paths) and jvp against central differences, and
(where a TensorFlow answer is given) error types and values against TensorFlow."""

from __future__ import annotations

import numpy as np

from tests.fuzz.programs import execute, reference, smooth
from tests.tf_edges.probes import plain

H = 1e-6
#: TensorFlow error -> a tapegrad error that stands for it (documented in
#: docs/differences-from-tensorflow.md: dtypes without a CPU kernel).
EQUIVALENT_ERRORS = {("NotFoundError", "InvalidArgumentError")}


def _close(got, expected, dtype: str) -> bool:
    got, expected = np.asarray(got), np.asarray(expected)
    if got.shape != expected.shape:
        return False
    if got.size == 0:
        return True
    rtol, atol = {"float16": (2e-2, 2e-2), "float32": (1e-3, 1e-4),
                  "float64-fd": (1e-4, 1e-5)}.get(dtype, (1e-6, 1e-9))
    if dtype in ("int32", "int64", "bool"):
        return np.array_equal(got, expected)
    if dtype == "complex128":  # (inf/nan arithmetic of complex numbers is not compared)
        defined = np.isfinite(expected) & np.isfinite(got)
        got, expected = np.where(defined, got, 0), np.where(defined, expected, 0)
        if not np.array_equal(np.isfinite(got), np.isfinite(expected)):
            return False
    same_nan = np.isnan(got) == np.isnan(expected)
    finite = np.isfinite(expected) & np.isfinite(got)
    same_inf = np.where(np.isinf(expected), got == expected, True)
    scale = np.maximum(np.abs(expected), 1.0)
    near = np.where(finite, np.abs(got - expected) <= atol + rtol * scale, True)
    return bool(np.all(same_nan) and np.all(same_inf) and np.all(near))


def _run(tf, program, sources=None):
    try:
        return execute(tf, program, sources), None
    except Exception as error:  # noqa: BLE001 - the exception is part of the answer
        return None, error


def _scalar_loss(tf, program, weights):
    def loss(*sources):
        out = execute(tf, program, list(sources))
        return tf.reduce_sum(out * tf.constant(weights))
    return loss


def _central(function, arrays, index):
    """d function / d arrays[index], by central differences (function returns a float
    array)."""
    base = arrays[index]
    columns = []
    for j in range(base.size):
        step = np.zeros(base.size)
        step[j] = H
        step = step.reshape(base.shape)
        plus = [a if i != index else a + step for i, a in enumerate(arrays)]
        minus = [a if i != index else a - step for i, a in enumerate(arrays)]
        columns.append((np.asarray(function(plus)) - np.asarray(function(minus))) / (2 * H))
    out_shape = np.shape(function(arrays))
    if not columns:
        return np.zeros(out_shape + base.shape)
    return np.moveaxis(np.stack(columns, axis=-1), -1, -1).reshape(out_shape + base.shape)


def check(tf, program: dict, tf_answer=None) -> dict:
    """{check name: True/False} for every check that applies to ``program``."""
    results = {}
    dtype = program["dtype"]
    out, error = _run(tf, program)
    if tf_answer is not None:
        if isinstance(tf_answer, dict) and "raises" in tf_answer:
            names = [c.__name__ for c in type(error).__mro__] if error is not None else []
            results["tf_error_type"] = error is not None and (
                tf_answer["raises"] in names or
                (tf_answer["raises"], type(error).__name__) in EQUIVALENT_ERRORS)
        elif not program["edges"]:  # (inf/nan arithmetic is not compared, e.g. TensorFlow's
            # softmax of a row holding nan gives 0 for its other entries)
            results["tf_value"] = error is None and _same_answer(plain(out), tf_answer, dtype)
        else:
            results["tf_returns"] = error is None
    if error is not None:
        return results
    try:
        expected = reference(program)
    except Exception:  # noqa: BLE001 - NumPy refuses (e.g. shapes) but tapegrad computed
        results["forward"] = False
        return results
    expected = np.asarray(expected)
    results["forward"] = out.numpy().dtype == expected.dtype and \
        _close(out.numpy(), expected, dtype)
    if dtype != "float64" or program["edges"]:
        return results
    arrays = [np.asarray(i["values"], np.float64).reshape(i["shape"])
              for i in program["inputs"]]
    value = np.asarray(expected)
    if any(step["op"] == "softmax_cross_entropy" and step.get("broadcast")
           for step in program["steps"]):
        return results  # (TensorFlow's rule softmax - labels needs labels that sum to 1)
    if not np.all(np.isfinite(value)) or value.size > 64 or max(a.size for a in arrays) > 24 \
            or (value.size and np.max(np.abs(value)) > 1e4):
        return results  # (central differences lose their digits on huge values)
    try:
        results.update(_derivative_checks(tf, program, arrays, value))
    except Exception:  # noqa: BLE001 - a rule that crashes is a disagreement
        results["derivatives_run"] = False
    return results


def _same_answer(got, expected, dtype) -> bool:
    if not (isinstance(got, dict) and isinstance(expected, dict)):
        return got == expected
    if got.get("dtype") != expected.get("dtype") or got.get("shape") != expected.get("shape"):
        return False

    def number(v):
        return float(v) if isinstance(v, str) else v

    def decode(values):
        return np.array([complex(number(v[0]), number(v[1])) if isinstance(v, list) else
                         number(v) for v in values])
    return _close(decode(got["values"]), decode(expected["values"]), dtype)


def _derivative_checks(tf, program, arrays, value) -> dict:
    results = {}
    rng = np.random.default_rng(program["seed"])
    weights = rng.standard_normal(value.shape)
    loss = _scalar_loss(tf, program, weights)

    def loss_value(xs):
        return float(loss(*[tf.constant(x) for x in xs]).numpy())

    sources = [tf.constant(a) for a in arrays]
    with tf.GradientTape() as tape:
        tape.watch(sources)
        total = loss(*sources)
    grads = [tf.convert_to_tensor(g) for g in  # (gathers give IndexedSlices)
             tape.gradient(total, sources, unconnected_gradients="zero")]
    singular = {"reduce_std", "reduce_euclidean_norm"} & {s["op"] for s in program["steps"]}
    if singular and not all(np.all(np.isfinite(g.numpy())) for g in grads):
        return results  # (a norm or std of 0: NaN gradient, as TensorFlow's; no derivative)
    results["gradient"] = all(
        _close(g.numpy(), _central(loss_value, arrays, i), "float64-fd")
        for i, g in enumerate(grads))

    x0 = sources[0]
    if smooth(program) and arrays[0].size:
        direction = rng.standard_normal(arrays[0].shape)

        def directional(xs):
            inner = [tf.constant(x) for x in xs]
            with tf.GradientTape() as tape:
                tape.watch(inner[0])
                y = loss(*inner)
            g = tf.convert_to_tensor(tape.gradient(y, inner[0], unconnected_gradients="zero"))
            return float(np.sum(g.numpy() * direction))

        with tf.GradientTape() as outer:
            outer.watch(x0)
            with tf.GradientTape() as inner_tape:
                inner_tape.watch(x0)
                y = loss(x0, *sources[1:])
            g = tf.convert_to_tensor(inner_tape.gradient(y, x0, unconnected_gradients="zero"))
            projected = tf.reduce_sum(g * tf.constant(direction))
        second = tf.convert_to_tensor(outer.gradient(projected, x0,
                                                     unconnected_gradients="zero"))
        results["second_order"] = _close(second.numpy(), _central(directional, arrays, 0),
                                         "float64-fd")

    def output(xs):
        return execute(tf, program, [tf.constant(x) for x in xs]).numpy()

    if value.size <= 12 and arrays[0].size <= 12:
        expected_jacobian = _central(output, arrays, 0)
        ok = True
        for use_pfor in (True, False):
            with tf.GradientTape(persistent=True) as tape:
                tape.watch(x0)
                y = execute(tf, program, [x0] + sources[1:])
            jacobian = tape.jacobian(y, x0, experimental_use_pfor=use_pfor,
                                     unconnected_gradients="zero")
            ok = ok and _close(jacobian.numpy(), expected_jacobian, "float64-fd")
        results["jacobian"] = ok

    tangent = rng.standard_normal(arrays[0].shape)
    with tf.autodiff.ForwardAccumulator(x0, tf.constant(tangent)) as accumulator:
        y = execute(tf, program, [x0] + sources[1:])
    jvp = accumulator.jvp(y, unconnected_gradients="zero")
    if singular and not np.all(np.isfinite(jvp.numpy())):
        return results
    expected_jvp = np.tensordot(_central(output, arrays, 0), tangent, axes=tangent.ndim) \
        if tangent.ndim else _central(output, arrays, 0) * tangent
    results["jvp"] = _close(jvp.numpy(), expected_jvp, "float64-fd")
    return results
