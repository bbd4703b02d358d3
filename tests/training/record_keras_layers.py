"""Record layer outputs from real Keras 3 (TF 2.21) for test_keras_layers_against_keras.py.

    PYTHONPATH=. python tests/training/record_keras_layers.py

For each case of keras_layer_cases.py: a seeded input, the layer's initial weights and its
output; also KLDivergence and cosine_similarity values.
"""

import json
import os
import pathlib

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402

from tests.training.keras_layer_cases import CASES  # noqa: E402

OUT = pathlib.Path(__file__).with_name("expected_keras_layers.json")


def main():
    rng = np.random.default_rng(0)
    layers = {}
    for name, cls, kwargs, shape in CASES:
        x = rng.normal(size=shape).astype("float32")
        layer = getattr(keras.layers, cls)(**kwargs)
        y = np.asarray(layer(x))
        layers[name] = {"input": x.tolist(), "weights": [w.tolist() for w in layer.get_weights()],
                        "output": y.tolist()}
    p = rng.uniform(0.05, 1, size=(3, 4)).astype("float32")
    q = rng.uniform(0.05, 1, size=(3, 4)).astype("float32")
    losses = {"p": p.tolist(), "q": q.tolist(),
              "kl_divergence": float(keras.losses.KLDivergence()(p, q)),
              "kl_divergence_rows": np.asarray(keras.losses.kl_divergence(p, q)).tolist(),
              "cosine_similarity_rows":
                  np.asarray(keras.losses.cosine_similarity(p - 0.5, q)).tolist(),
              "CosineSimilarity": float(keras.losses.CosineSimilarity()(p - 0.5, q))}
    recorded = {"keras": keras.__version__, "layers": layers, "losses": losses}
    tmp = OUT.with_suffix(".tmp")
    tmp.write_text(json.dumps(recorded) + "\n")
    os.replace(tmp, OUT)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
