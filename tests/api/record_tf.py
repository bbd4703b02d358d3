"""Record TensorFlow 2.21's result for every probe of tests/api/probes.py.

    PYTHONPATH=. /path/to/tf-venv/bin/python tests/api/record_tf.py

Writes tests/api/expected_tf.json (atomically).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import tensorflow as tf

from tests.api.probes import PROBES, run_probe

EXPECTED = Path(__file__).parent / "expected_tf.json"

if __name__ == "__main__":
    recorded = {name: run_probe(tf, source) for name, source in PROBES.items()}
    scratch = EXPECTED.with_suffix(".json.tmp")
    scratch.write_text(json.dumps(recorded, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(scratch, EXPECTED)
