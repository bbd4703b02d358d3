"""Record TensorFlow's answers to every probe: ``python -m tests.tf_edges.record`` in an
environment with TensorFlow 2.21 (writes expected_tf.json next to this file)."""

import json
import os
import pathlib
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))

import tensorflow as tf  # noqa: E402

from tests.tf_edges.probes import all_cases, run  # noqa: E402

if __name__ == "__main__":
    answers = {name: run(tf, code) for name, code in all_cases()}
    path = pathlib.Path(__file__).with_name("expected_tf.json")
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps({"tensorflow": tf.__version__, "answers": answers},
                                    indent=0, sort_keys=True) + "\n")
    temporary.replace(path)
    print(f"{len(answers)} answers from TensorFlow {tf.__version__} -> {path}")
