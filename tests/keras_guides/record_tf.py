"""Run every guide section under real TensorFlow 2.21 / Keras 3 and record which pass.

    PYTHONPATH=. python tests/keras_guides/record_tf.py

writes ``tests/keras_guides/expected_tf.json`` (section -> "pass" or the error it raised).
"""

import json
import os
import pathlib
import traceback

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from tests.keras_guides.sections import SECTIONS  # noqa: E402

OUT = pathlib.Path(__file__).with_name("expected_tf.json")


def main():
    results = {}
    for name, fn in SECTIONS.items():
        keras.utils.set_random_seed(0)
        try:
            fn(keras, tf)
            results[name] = "pass"
        except Exception as error:  # noqa: BLE001 - every failure is recorded
            results[name] = f"{type(error).__name__}: {error}"[:300]
            traceback.print_exc()
    recorded = {"tensorflow": tf.__version__, "keras": keras.__version__, "sections": results}
    tmp = OUT.with_suffix(".tmp")
    tmp.write_text(json.dumps(recorded, indent=1) + "\n")
    os.replace(tmp, OUT)
    passed = sum(v == "pass" for v in results.values())
    print(f"{passed}/{len(results)} sections pass under Keras {keras.__version__}")


if __name__ == "__main__":
    main()
