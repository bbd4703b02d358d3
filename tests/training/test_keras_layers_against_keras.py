"""Layers and losses new in this Keras surface against outputs recorded from real Keras 3
(record_keras_layers.py): same input, same weights, same output."""

import json
import pathlib

import numpy as np
import pytest

import tapegrad as tf
from tests.training.keras_layer_cases import CASES

RECORDED = json.loads(pathlib.Path(__file__).with_name("expected_keras_layers.json").read_text())


@pytest.mark.parametrize("name,cls,kwargs,shape", CASES, ids=[c[0] for c in CASES])
def test_layer_matches_keras(name, cls, kwargs, shape):
    case = RECORDED["layers"][name]
    x = np.asarray(case["input"], np.float32)
    layer = getattr(tf.keras.layers, cls)(**kwargs)
    layer(x)
    layer.set_weights([np.asarray(w, np.float32) for w in case["weights"]])
    np.testing.assert_allclose(layer(x).numpy(), case["output"], rtol=1e-5, atol=1e-6)


def test_kl_divergence_and_cosine_similarity_match_keras():
    case = RECORDED["losses"]
    p, q = np.asarray(case["p"], np.float32), np.asarray(case["q"], np.float32)
    losses = tf.keras.losses
    assert float(losses.KLDivergence()(p, q)) == pytest.approx(case["kl_divergence"], rel=1e-5)
    np.testing.assert_allclose(losses.kld(p, q).numpy(), case["kl_divergence_rows"],
                               rtol=1e-5)
    np.testing.assert_allclose(losses.cosine_similarity(p - 0.5, q).numpy(),
                               case["cosine_similarity_rows"], rtol=1e-5)
    assert float(losses.CosineSimilarity()(p - 0.5, q)) == \
        pytest.approx(case["CosineSimilarity"], rel=1e-5)
