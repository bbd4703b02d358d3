"""The gradient conformance probes of tests/conformance that differentiate a function of one
tensor (``_grad_of``) once more with that function compiled by tf.function: the results
TensorFlow 2.21 recorded, unchanged. (Probes that count log records run once per process, in
tests/test_conformance.py, and are left out here.)"""

import inspect
import json
import pathlib

import pytest

import tapegrad
from tests.conformance import compare, probes_tf, status

EXPECTED = json.loads((pathlib.Path(__file__).parent / "conformance" / "expected_tf.json")
                      .read_text())
CASES = [(name, case) for name, case in probes_tf.all_cases()
         if "_grad_of(" in inspect.getsource(case) and "_with_logs" not in
         inspect.getsource(case) and name not in status.WAITING]


@pytest.fixture(scope="module")
def compiled_results():
    original = probes_tf._grad_of
    functions = []

    def grad_of_compiled(tf, fn, x0, dtype=None, **kw):
        functions.append(tf.function(fn))
        return original(tf, functions[-1], x0, dtype, **kw)

    probes_tf._grad_of = grad_of_compiled
    try:
        results = {name: case(tapegrad) for name, case in CASES}
    finally:
        probes_tf._grad_of = original
    return results, functions


def test_most_probed_functions_compile(compiled_results):
    _, functions = compiled_results
    eager = [f for f in functions if "eager" in f._concrete.values()]
    assert len(functions) >= 50 and len(eager) <= len(functions) // 10


@pytest.mark.parametrize("name", [name for name, _ in CASES])
def test_compiled_probe_matches_tensorflow(compiled_results, name):
    results, _ = compiled_results
    expected = status.expected_for_tapegrad(name, EXPECTED[name])
    difference = compare.same(expected, results[name])
    assert difference is None, difference
