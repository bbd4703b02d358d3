"""Record TensorFlow 2.21's description of every probe of tests/function_tf/probes.py.

    PYTHONPATH=. /path/to/tf-venv/bin/python tests/function_tf/record_tf.py

TensorFlow's tf.print writes from C++, so the printed text is captured at the file-descriptor
level (stdout and stderr together). Writes tests/function_tf/expected_tf.json (atomically).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import tensorflow as tf

from tests.function_tf.probes import PROBES, run_probe

EXPECTED = Path(__file__).parent / "expected_tf.json"


def capture_descriptors(thunk):
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            result = thunk()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
        sink.seek(0)
        text = sink.read().decode()
    lines = text.splitlines(keepends=True)
    # (a deprecation note's last line follows its "Instructions for updating:" line)
    kept = [line for k, line in enumerate(lines) if not _is_log_noise(line) and
            not (k and lines[k - 1].startswith("Instructions for updating"))]
    return result, "".join(kept)


_AUTOGRAPH_NOTES = ("Please report this to the TensorFlow team", "Cause: ",
                    "To silence this warning, decorate", "Instructions for updating")


def _is_log_noise(line: str) -> bool:
    """TensorFlow's logging (C++ notes, retracing warnings, AutoGraph's notes on lambdas it
    cannot read in these snippets) is not probe output."""
    return (line[:1] in "WIE" and line[1:5].isdigit()) or "WARNING:" in line[:40] or \
        line.startswith(_AUTOGRAPH_NOTES)


if __name__ == "__main__":
    recorded = {name: run_probe(tf, name, source, capture_descriptors)
                for name, source in PROBES.items()}
    scratch = EXPECTED.with_suffix(".json.tmp")
    scratch.write_text(json.dumps(recorded, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(scratch, EXPECTED)
