"""``fit`` histories against real Keras 3 (recorded by record_keras_fit.py): same data, same
initial weights, no shuffling, so every epoch's loss and metric must agree."""

import json
import pathlib

import numpy as np
import pytest

import tapegrad as tf
from tests.training.keras_fit_cases import CASES, run

RECORDED = json.loads(pathlib.Path(__file__).with_name("expected_keras_fit.json").read_text())


@pytest.mark.parametrize("name", sorted(CASES))
def test_fit_history_matches_keras(name):
    expected = RECORDED["cases"][name]
    weights = [np.asarray(w, dtype=np.float32) for w in expected["initial_weights"]]
    history, _ = run(tf.keras, name, initial_weights=weights)
    assert sorted(history) == sorted(expected["history"])
    for key, values in expected["history"].items():
        np.testing.assert_allclose(history[key], values, rtol=2e-4, atol=1e-5, err_msg=key)
