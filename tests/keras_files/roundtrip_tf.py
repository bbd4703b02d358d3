"""Do the files tapegrad writes load in real Keras 3 with the same predictions?

Run by hand where TensorFlow 2.21 (Keras 3) and h5py are installed, from the repository root:

    PYTHONPATH=. python -m tests.keras_files.roundtrip_tf

For every model of ``fixture_models.py`` (and the serialization guide's model with a registered
custom layer and custom activation): tapegrad builds it, trains it a few steps (so
batch-normalization statistics and the Adam state are not at their initial values) and writes
``model.save("<name>.keras")`` and ``model.save_weights("<name>.weights.h5")``; Keras then
loads the ``.keras`` file with ``keras.models.load_model`` (safe mode) and the weights file
into the same architecture built by Keras, and both must predict what tapegrad predicts.
Prints one line per model and file, and exits non-zero on any difference.
"""

import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import tapegrad as tf  # noqa: E402
from tests.keras_files.fixture_models import (  # noqa: E402
    fixture_inputs,
    fixture_models,
    trained,
)
from tests.keras_files.guide_sections import _custom_model_file, _custom_objects  # noqa: E402

TOLERANCE = 1e-5


def tapegrad_files(folder: str, rng) -> dict:
    """name -> (probe inputs, tapegrad's predictions, Adam iterations), files in ``folder``."""
    out = {}
    for name in fixture_models(tf.keras):
        model = trained(tf.keras, name, rng, epochs=2)
        model.save(os.path.join(folder, f"{name}.keras"))
        model.save_weights(os.path.join(folder, f"{name}.weights.h5"))
        probe = fixture_inputs(name, rng)[:4]
        out[name] = probe, model.predict(probe, verbose=0), int(model.optimizer.iterations)
    return out


def main() -> int:
    rng = np.random.default_rng(5)
    failures = 0
    with tempfile.TemporaryDirectory() as folder:
        written = tapegrad_files(folder, rng)
        builders = fixture_models(keras)
        for name, (probe, expected, iterations) in written.items():
            loaded = keras.models.load_model(os.path.join(folder, f"{name}.keras"))
            rebuilt = builders[name][0]()
            rebuilt.load_weights(os.path.join(folder, f"{name}.weights.h5"))
            for how, model in ((".keras", loaded), (".weights.h5", rebuilt)):
                gap = float(np.max(np.abs(model.predict(probe, verbose=0) - expected)))
                state = ""
                if how == ".keras":
                    steps = int(model.optimizer.iterations.numpy())
                    state = f", Adam iterations {steps} (tapegrad {iterations})"
                    gap = gap if steps == iterations else float("inf")
                ok = gap <= TOLERANCE
                failures += not ok
                print(f"{'ok  ' if ok else 'FAIL'} {name}{how}: Keras {keras.__version__} "
                      f"loads it, max |prediction difference| {gap:.2e}{state}")
        # the guide's custom objects, registered under the same names in both
        layer, fn = _custom_objects(tf.keras, register=True)
        model, path, probe = _custom_model_file(tf.keras, folder, layer, fn)
        _custom_objects(keras, register=True)
        loaded = keras.models.load_model(path)
        gap = float(np.max(np.abs(loaded.predict(probe, verbose=0) -
                                  model.predict(probe, verbose=0))))
        failures += gap > TOLERANCE
        print(f"{'ok  ' if gap <= TOLERANCE else 'FAIL'} custom_objects.keras (registered "
              f"layer and activation): Keras loads it, max |prediction difference| {gap:.2e}")
    print("all files load in Keras with equal predictions" if not failures
          else f"{failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
