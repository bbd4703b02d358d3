"""Every probe of tests/api/probes.py gives under tapegrad the result TensorFlow 2.21 recorded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import tapegrad as tf
from tests.api.probes import PROBES, run_probe, same

EXPECTED = json.loads((Path(__file__).parent / "expected_tf.json").read_text(encoding="utf-8"))


def test_every_probe_is_recorded():
    assert sorted(PROBES) == sorted(EXPECTED), "rerun tests/api/record_tf.py under TensorFlow"


@pytest.mark.parametrize("name", sorted(PROBES))
def test_probe_matches_tensorflow(name):
    actual = run_probe(tf, PROBES[name])
    assert same(EXPECTED[name], actual), f"{PROBES[name]}\nTF: {EXPECTED[name]}\ngot: {actual}"
