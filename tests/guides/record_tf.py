"""Record what TensorFlow prints for every cell of the guide scripts (needs TensorFlow 2.21).

    PYTHONPATH=. /path/to/tf-venv/bin/python tests/guides/record_tf.py [guide ...]

Each guide runs twice, with different random seeds; a cell whose output differs between the two
runs is marked random, and its floats are then not compared (tapegrad's random streams are not
TensorFlow's). Writes tests/guides/expected_tf.json.
"""

from __future__ import annotations

import json
import sys

from tests.guides.harness import EXPECTED, SCRIPTS, normalise, run_in_process


def record(guide: str) -> dict:
    script = SCRIPTS / f"{guide}.py"
    first = run_in_process("tensorflow", script, seed=1, python=sys.executable)
    second = run_in_process("tensorflow", script, seed=2, python=sys.executable)
    return {number: None if output is None else {
        "output": output,
        "random": normalise(output, False) != normalise(second[number], False)}
        for number, output in first.items()}


if __name__ == "__main__":
    guides = sys.argv[1:] or sorted(path.stem for path in SCRIPTS.glob("*.py"))
    recorded = json.loads(EXPECTED.read_text()) if EXPECTED.exists() else {}
    for guide in guides:
        recorded[guide] = record(guide)
        print(guide, "recorded")
    EXPECTED.write_text(json.dumps(recorded, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
