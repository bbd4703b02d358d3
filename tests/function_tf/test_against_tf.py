"""Every tf.function probe of tests/function_tf/probes.py describes under tapegrad as TensorFlow
2.21 recorded it: results, tracing counts and printed text (Python's print at trace time,
tf.print on every call)."""

from __future__ import annotations

import contextlib
import io
import json
import logging
from pathlib import Path

import pytest

import tapegrad as tf
from tests.api.probes import same
from tests.function_tf.probes import PROBES, run_probe

EXPECTED = json.loads((Path(__file__).parent / "expected_tf.json").read_text(encoding="utf-8"))


def capture_streams(thunk):
    """tapegrad prints through Python's streams: both into one buffer, in order."""
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        result = thunk()
    return result, sink.getvalue()


def test_every_probe_is_recorded():
    assert sorted(PROBES) == sorted(EXPECTED), "rerun tests/function_tf/record_tf.py under TF"


@pytest.mark.parametrize("name", sorted(PROBES))
def test_probe_matches_tensorflow(name, caplog):
    with caplog.at_level(logging.ERROR, logger="tapegrad"):
        actual = run_probe(tf, name, PROBES[name], capture_streams)
    expected = EXPECTED[name]
    assert same(expected["result"], actual["result"]), \
        f"{PROBES[name]}\nTF: {expected['result']}\ngot: {actual['result']}"
    assert actual["output"] == expected["output"]
