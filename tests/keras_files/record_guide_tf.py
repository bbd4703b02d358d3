"""Record which serialization-guide sections (guide_sections.py) pass under real Keras 3.

Run by hand where TensorFlow 2.21 (Keras 3) and h5py are installed, from the repository root:

    python -m tests.keras_files.record_guide_tf

writes ``guide_expected_tf.json``: section -> "pass" or the exception Keras raised.
"""

import json
import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from tests.keras_files.guide_sections import SECTIONS  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "guide_expected_tf.json")


def main():
    results = {}
    for name, run in SECTIONS.items():
        keras.utils.set_random_seed(0)
        with tempfile.TemporaryDirectory() as folder:
            try:
                run(keras, folder)
                results[name] = "pass"
            except Exception as error:  # noqa: BLE001 - recorded, not handled
                results[name] = f"{type(error).__name__}: {str(error)[:200]}"
        print(f"{name}: {results[name]}")
    with open(OUT, "w") as file:
        json.dump({"tensorflow": tf.__version__, "keras": keras.__version__,
                   "sections": results}, file, indent=1)
        file.write("\n")


if __name__ == "__main__":
    main()
