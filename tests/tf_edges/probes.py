"""Edge cases of issue 11, run identically under TensorFlow and tapegrad.

Every probe is a snippet that reads ``tf`` and ``np`` and leaves its answer in ``out``.
:func:`run` turns the answer (or the exception) into plain JSON; ``record.py`` stores
TensorFlow 2.21's answers in ``expected_tf.json``, and ``tests/test_tf_edges.py`` compares
tapegrad with them. The dtype matrix (:data:`UNARY`, :data:`BINARY`, :data:`REDUCTIONS`)
records which dtypes each function accepts and the dtype it returns.
"""

from __future__ import annotations

import math

import numpy as np

DTYPES = ("bool", "int8", "uint8", "int32", "int64", "float16", "float32", "float64",
          "complex64", "complex128")

UNARY = (
    "abs acos acosh asin asinh atan atanh ceil cos cosh digamma erf erfc erfinv exp expm1 "
    "floor imag is_finite is_inf is_nan lgamma log log1p log_sigmoid logical_not negative "
    "real reciprocal rint round rsqrt sigmoid sign sin sinh softplus softsign sqrt square tan "
    "tanh conj angle").split()
NN_UNARY = "relu relu6 elu selu gelu silu leaky_relu softmax log_softmax l2_loss".split()
BINARY = (
    "add subtract multiply divide truediv floordiv floormod maximum minimum pow atan2 "
    "squared_difference xlogy xdivy xlog1py zeta polygamma equal not_equal less greater "
    "less_equal greater_equal logical_and logical_or logical_xor divide_no_nan "
    "multiply_no_nan").split()
REDUCTIONS = (
    "reduce_sum reduce_mean reduce_max reduce_min reduce_prod reduce_std reduce_variance "
    "reduce_logsumexp reduce_euclidean_norm reduce_all reduce_any argmax argmin cumsum "
    "cumprod").split()
TOP = "sort argsort".split()


def sample(tf, dtype: str):
    """A [2]-tensor of ``dtype`` with values that every op accepts (1 and 2, or True/False)."""
    if dtype == "bool":
        return tf.constant([True, False])
    return tf.cast(tf.constant([0.25, 0.5]) if dtype.startswith(("float", "complex"))
                   else tf.constant([1, 2]), getattr(tf, dtype))


def matrix_cases():
    """(case name, snippet) for every function x dtype of the dtype matrix."""
    cases = []
    for dtype in DTYPES:
        x = f"x = sample(tf, {dtype!r})\n"
        for name in UNARY:
            cases.append((f"dtype/math.{name}/{dtype}", x + f"out = tf.math.{name}(x)"))
        for name in NN_UNARY:
            cases.append((f"dtype/nn.{name}/{dtype}", x + f"out = tf.nn.{name}(x)"))
        for name in BINARY:
            cases.append((f"dtype/math.{name}/{dtype}", x + f"out = tf.math.{name}(x, x)"))
        for name in REDUCTIONS:
            cases.append((f"dtype/math.{name}/{dtype}", x + f"out = tf.math.{name}(x)"))
        for name in TOP:
            cases.append((f"dtype/{name}/{dtype}", x + f"out = tf.{name}(x)"))
        cases.append((f"dtype/clip_by_value/{dtype}", x + "out = tf.clip_by_value(x, x, x)"))
    return cases


def _plain_value(value):
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (complex, np.complexfloating)):
        return [_plain_value(value.real), _plain_value(value.imag)]
    if isinstance(value, (bytes, str)):
        return value.decode() if isinstance(value, bytes) else value
    if isinstance(value, (int, np.integer)):
        return int(value)
    value = float(value)
    if math.isnan(value) or math.isinf(value):
        return str(value)
    return float(f"{value:.6g}")


def plain(out):
    """JSON for a probe's answer: tensors as dtype, shape and flat values."""
    if out is None:
        return None
    if isinstance(out, (list, tuple)):
        return [plain(o) for o in out]
    if isinstance(out, dict):
        return {k: plain(v) for k, v in out.items()}
    if hasattr(out, "numpy") and hasattr(out, "dtype"):
        array = np.asarray(out.numpy())
        return {"dtype": out.dtype.name, "shape": list(array.shape),
                "values": [_plain_value(v) for v in array.reshape(-1)]}
    if isinstance(out, np.ndarray):
        return {"ndarray": str(out.dtype), "shape": list(out.shape),
                "values": [_plain_value(v) for v in out.reshape(-1)]}
    return _plain_value(out)


def run(tf, code: str, bases: bool = False):
    """The JSON answer of one snippet: its ``out`` or {"raises": type, "message": start}
    (with ``bases``, also "bases": the names of the exception's classes)."""
    scope = {"tf": tf, "np": np, "sample": sample}
    try:
        exec(code, scope)  # noqa: S102 - the probes are this file's own snippets
        return plain(scope.get("out"))
    except Exception as error:  # noqa: BLE001 - recording which exception a case raises
        answer = {"raises": type(error).__name__, "message": str(error).strip()[:100]}
        if bases:
            answer["bases"] = [c.__name__ for c in type(error).__mro__]
        return answer


def all_cases():
    from tests.tf_edges.cases import CASES
    return list(CASES.items()) + matrix_cases()
