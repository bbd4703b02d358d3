"""The example programs run end to end (with a reduced epoch count)."""

import importlib.util
import os
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_digits_trains_well_above_chance_and_reloads(tmp_path):
    pytest.importorskip("sklearn", reason="the digits example needs scikit-learn")
    from tapegrad.examples import digits

    result = digits.train(epochs=3, seed=0, output_dir=str(tmp_path), progress=False)
    assert result["test_accuracy"] > 0.8          # chance is 0.1
    assert result["reloaded_accuracy"] == pytest.approx(result["test_accuracy"])
    assert os.path.exists(result["checkpoint"] + ".npz")
    assert len(result["history"]["loss"]) == 3
    assert result["history"]["loss"][-1] < result["history"]["loss"][0]
    if result["plot"] is not None:
        assert os.path.getsize(result["plot"]) > 1000


def test_fit_with_scipy_recovers_the_oscillator():
    pytest.importorskip("scipy")
    spec = importlib.util.spec_from_file_location("fit_with_scipy",
                                                  ROOT / "examples" / "fit_with_scipy.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    t, x = module.make_data()
    result = module.fit(t, x)
    assert result.success
    truth = [module.TRUE[k] for k in ("amplitude", "gamma", "omega", "phi")]
    assert result.x == pytest.approx(truth, abs=0.05)
