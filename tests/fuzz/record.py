"""Record TensorFlow's answers to the fuzz programs the CI slice runs: ``python -m
tests.fuzz.record`` where TensorFlow 2.21 is installed (writes expected_tf.json here)."""

import json
import os
import pathlib
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))

import tensorflow as tf  # noqa: E402

from tests.fuzz.programs import execute, generate  # noqa: E402
from tests.tf_edges.probes import plain  # noqa: E402

#: The fixed-seed slice of programs the test suite checks.
SEEDS = range(400)


def answer(program):
    try:
        return plain(execute(tf, program))
    except Exception as error:  # noqa: BLE001 - the exception is the answer
        return {"raises": type(error).__name__, "message": str(error).strip()[:100]}


if __name__ == "__main__":
    answers = {str(seed): answer(generate(seed)) for seed in SEEDS}
    path = pathlib.Path(__file__).with_name("expected_tf.json")
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps({"tensorflow": tf.__version__, "answers": answers},
                                    indent=0, sort_keys=True) + "\n")
    temporary.replace(path)
    print(f"{len(answers)} answers from TensorFlow {tf.__version__} -> {path}")
