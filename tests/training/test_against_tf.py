"""The training stack against values recorded from TensorFlow 2.21 / Keras 3.15
(``expected_tf_training.json``, written by ``record_tf.py`` from the probes in ``cases.py``)."""

import json
import pathlib

import numpy as np
import pytest

import tapegrad as tf
from tests.training import cases

EXPECTED = json.loads((pathlib.Path(__file__).parent / "expected_tf_training.json").read_text())


def close(actual, expected, rtol=2e-5, atol=2e-6):
    np.testing.assert_allclose(np.asarray(actual, dtype=np.float64),
                               np.asarray(expected, dtype=np.float64), rtol=rtol, atol=atol)


@pytest.mark.parametrize("name", sorted(EXPECTED["optimizers"]))
def test_optimizer_steps_match_keras(name):
    result = cases.run_optimizer(tf, name)
    expected = EXPECTED["optimizers"][name]
    assert result["iterations"] == expected["iterations"]
    for step, (got, want) in enumerate(zip(result["steps"], expected["steps"])):
        close(got, want, rtol=1e-5, atol=1e-6), step


def test_every_optimizer_config_is_recorded():
    assert set(cases.optimizer_configs(tf)) == set(EXPECTED["optimizers"])


@pytest.mark.parametrize("name", cases.SPARSE_CONFIGS)
def test_indexed_slices_updates_match_keras(name):
    close(cases.run_sparse(tf, name), EXPECTED["sparse"][name], rtol=1e-5, atol=1e-6)


def test_float64_optimizers_match_keras():
    got = cases.case_optimizer_float64(tf)
    for name, steps in EXPECTED["optimizer_float64"].items():
        close(got[name], steps, rtol=1e-12, atol=1e-12)


def test_schedules_match_keras():
    got = cases.case_schedules(tf)
    for name, values in EXPECTED["schedules"].items():
        close(got[name], values, rtol=1e-6, atol=1e-8)


def test_some_none_gradients_warn_and_skip():
    got = cases.case_some_none_warning(tf)
    want = EXPECTED["some_none_warning"]
    close(got["a"], want["a"])
    assert got["b"] == want["b"]
    assert got["iterations"] == want["iterations"]
    assert got["message"] == want["message"]
    assert got["slots_built_for_b"] == want["slots_built_for_b"]


@pytest.fixture(scope="module")
def layers():
    return cases.case_layers(tf)


@pytest.mark.parametrize("key", sorted(EXPECTED["layers"]))
def test_layer_forward_matches_keras(layers, key):
    close(layers[key], EXPECTED["layers"][key], rtol=1e-5, atol=1e-5)


@pytest.fixture(scope="module")
def loss_values():
    return cases.case_losses(tf)


@pytest.mark.parametrize("key", sorted(EXPECTED["losses"]))
def test_losses_match_keras(loss_values, key):
    close(loss_values[key], EXPECTED["losses"][key], rtol=1e-5, atol=1e-6)


def test_metrics_match_keras():
    got = cases.case_metrics(tf)
    for key, value in EXPECTED["metrics"].items():
        close(got[key], value, rtol=1e-6)


def test_module_variable_order_matches_tf_module():
    assert cases.case_module_order(tf) == EXPECTED["module_order"]


def test_module_variable_names_match_tf_module():
    assert cases.case_module_names(tf) == EXPECTED["module_names"]


def test_model_variable_order_matches_keras():
    assert cases.case_model_order(tf) == EXPECTED["model_order"]


def test_short_training_loop_matches_keras():
    got = cases.case_training_loop(tf)
    want = EXPECTED["training_loop"]
    close(got["losses"], want["losses"], rtol=1e-4, atol=1e-5)
    close(got["final_kernel"], want["final_kernel"], rtol=1e-4, atol=1e-5)
