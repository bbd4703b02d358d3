"""Conformance with TensorFlow 2.21: the probes in tests/conformance/probes_tf.py run against
tapegrad and are compared with the results recorded from real TensorFlow (expected_tf.json).
Re-record with `python tests/conformance/probes_tf.py` where TensorFlow is installed."""

import json
import pathlib

import pytest

import tapegrad
from tests.conformance import compare, probes_tf, status

HERE = pathlib.Path(__file__).parent / "conformance"
EXPECTED = json.loads((HERE / "expected_tf.json").read_text())


@pytest.fixture(scope="module")
def results():
    # Every probe runs once per process: a few look at log records TF emits once per line.
    return probes_tf.run_all(tapegrad)


def test_every_recorded_case_has_a_probe():
    assert set(EXPECTED) == {name for name, _ in probes_tf.all_cases()}


def test_status_lists_only_known_cases():
    assert set(status.WAITING) <= set(EXPECTED)
    assert set(status.DIFFERENCES) <= set(EXPECTED)
    assert not set(status.WAITING) & set(status.DIFFERENCES)


def _marks(name):
    if name in status.WAITING:
        return [pytest.mark.xfail(reason=f"waits for {status.WAITING[name]}", strict=True)]
    return []


@pytest.mark.parametrize("name", [pytest.param(n, marks=_marks(n)) for n in EXPECTED])
def test_case_matches_tensorflow(results, name):
    expected = status.expected_for_tapegrad(name, EXPECTED[name])
    difference = compare.same(expected, results[name])
    assert difference is None, difference


def test_documented_differences_are_in_the_docs():
    page = (pathlib.Path(__file__).parent.parent / "docs" /
            "differences-from-tensorflow.md").read_text()
    for name in status.DIFFERENCES:
        assert f"`{name}`" in page, f"{name} is a deliberate difference missing from the docs"
