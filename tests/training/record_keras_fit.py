"""Record seeded ``fit`` histories from real Keras 3 for ``test_keras_fit_conformance.py``.

Run with TensorFlow 2.21 installed (never a tapegrad dependency), from the repository root:

    PYTHONPATH=. python tests/training/record_keras_fit.py

It writes ``tests/training/expected_keras_fit.json``: per case, the initial weights (set with
``set_weights`` before training) and every epoch's logged losses and metrics.
"""

import json
import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from tests.training.keras_fit_cases import CASES, run  # noqa: E402

OUT = pathlib.Path(__file__).with_name("expected_keras_fit.json")


def main():
    recorded = {"tensorflow": tf.__version__, "keras": keras.__version__, "cases": {}}
    for name in CASES:
        keras.utils.set_random_seed(0)
        history, weights = run(keras, name)
        recorded["cases"][name] = {
            "initial_weights": [w.tolist() for w in weights],
            "history": {k: [float(v) for v in values] for k, values in history.items()}}
    tmp = OUT.with_suffix(".tmp")
    tmp.write_text(json.dumps(recorded, indent=1) + "\n")
    os.replace(tmp, OUT)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
