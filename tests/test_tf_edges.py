"""Issue 11's edge cases against TensorFlow 2.21's recorded answers (tests/tf_edges): dtypes
each function accepts, Python numbers, indices, empty tensors, operators, gradients' values
and exception types. Re-record with ``python -m tests.tf_edges.record`` where TensorFlow is
installed."""

import json
import pathlib

import pytest

import tapegrad
from tests.conformance.compare import same
from tests.tf_edges.probes import all_cases, run

EXPECTED = json.loads((pathlib.Path(__file__).parent / "tf_edges" /
                       "expected_tf.json").read_text())["answers"]
CASES = dict(all_cases())

#: Deliberate differences (each listed in docs/differences-from-tensorflow.md by name).
DIFFERENCES = {
    "conv2d_valid_empty_output": "TensorFlow returns uninitialised memory of the input's shape",
    "conv2d_empty_batch": "TensorFlow returns the input's spatial shape for an empty batch",
    "lstsq_rank_deficient": "TensorFlow's normal-equations solve returns rounding noise",
    "fill_fractional_dims": "TypeError for every shape argument holding a Python float",
    "reshape_float_shape": "TypeError for every shape argument holding a Python float",
    "eigh_inf": "TensorFlow returns NaN values with identity vectors for inf, raises for NaN",
    "conv2d_int": "integer convolutions are not implemented",
    "numpy_float_and": "TF makes a bool of the NumPy float 1.5; tapegrad refuses it (TypeError)",
    "euclidean_norm_complex_gradient": "TensorFlow's EuclideanNorm rule g * x / norm",
}

#: Cases not yet fixed (each fails until its item of issue 11 lands: strict xfail).
WAITING = {
}

#: TensorFlow raises NotFoundError where its op lists a dtype without a CPU kernel; tapegrad
#: declares only the dtypes it computes and raises InvalidArgumentError (documented).
ERROR_EQUIVALENTS = {("NotFoundError", "InvalidArgumentError")}


def _agrees(expected, got) -> str | None:
    if isinstance(expected, dict) and "raises" in expected:
        if not (isinstance(got, dict) and "raises" in got):
            return f"TensorFlow raises {expected['raises']} ({expected['message']!r}), got {got}"
        if expected["raises"] in got["bases"] or \
                (expected["raises"], got["raises"]) in ERROR_EQUIVALENTS:
            return None
        return f"TensorFlow raises {expected['raises']}, tapegrad {got['raises']}: {got['message']}"
    return same(expected, got)


def test_every_case_is_recorded():
    assert set(CASES) == set(EXPECTED)


def _marks(name):
    if name in WAITING:
        return [pytest.mark.xfail(reason=f"waits for {WAITING[name]}", strict=True)]
    return []


@pytest.mark.parametrize("name", [pytest.param(n, marks=_marks(n))
                                  for n in sorted(set(CASES) - set(DIFFERENCES))])
def test_case_agrees_with_tensorflow(name):
    difference = _agrees(EXPECTED[name], run(tapegrad, CASES[name], bases=True))
    assert difference is None, difference


@pytest.mark.parametrize("name", sorted(DIFFERENCES))
def test_documented_differences_still_differ_and_are_documented(name):
    page = (pathlib.Path(__file__).parent.parent / "docs" /
            "differences-from-tensorflow.md").read_text()
    assert f"`{name}`" in page
    assert _agrees(EXPECTED[name], run(tapegrad, CASES[name], bases=True)) is not None


def test_no_numpy_runtime_warning_escapes():
    """NaN/inf results come silently, as TensorFlow's (NumPy's own warnings, raised from its
    files, are silenced where tapegrad calls it)."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        # (as tapegrad's backend: warnings attributed to tapegrad's own lines stay silent)
        warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"tapegrad(\.|$)")
        for name, code in CASES.items():
            answer = run(tapegrad, code)
            assert not (isinstance(answer, dict) and answer.get("raises") == "RuntimeWarning"), \
                (name, answer)
