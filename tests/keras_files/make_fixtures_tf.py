"""Write the Keras 3 fixtures under tests/keras_files/ with real TensorFlow/Keras.

Run by hand where TensorFlow 2.21 (Keras 3) and h5py are installed, from the repository root:

    python -m tests.keras_files.make_fixtures_tf

For every model of ``fixture_models.py`` it writes ``<name>.keras`` (``model.save``) and
``<name>.weights.h5`` (``model.save_weights``), plus ``legacy.h5`` (Keras 2's HDF5 format);
``predictions.npz`` holds, per model, fixed
inputs (``<name>/x``) and what Keras predicted on them (``<name>/y``). Each model is trained
for a few steps first, so batch-normalization statistics and the optimizer state are not at
their initial values.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from tests.keras_files.fixture_models import (  # noqa: E402
    fixture_inputs,
    fixture_models,
    trained,
)

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    keras.utils.set_random_seed(17)
    rng = np.random.default_rng(17)
    predictions = {}
    for name in fixture_models(keras):
        model = trained(keras, name, rng, epochs=3)
        model.save(os.path.join(HERE, f"{name}.keras"))
        model.save_weights(os.path.join(HERE, f"{name}.weights.h5"))
        probe = fixture_inputs(name, rng)[:4]
        predictions[f"{name}/x"] = probe
        predictions[f"{name}/y"] = model.predict(probe, verbose=0)
    np.savez(os.path.join(HERE, "predictions.npz"), **predictions)
    # Keras 2's legacy HDF5 model format, which tapegrad refuses with a clear message
    legacy = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    legacy.save(os.path.join(HERE, "legacy.h5"))
    print("keras", keras.__version__, "wrote", sorted(predictions))


if __name__ == "__main__":
    main()
