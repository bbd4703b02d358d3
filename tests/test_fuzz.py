"""The differential fuzz test, fixed-seed slice: random op programs (tests/fuzz/programs.py)
checked under tapegrad against NumPy, central differences (gradient, second order, jacobians
on both paths, jvp) and TensorFlow 2.21's recorded answers (values and error types). The long
run is by hand: ``python -m tests.fuzz --programs 10000`` (add ``--tf`` where TensorFlow is
installed)."""

import json
import pathlib
import warnings

import pytest

import tapegrad
from tests.fuzz.check import check
from tests.fuzz.programs import generate

RECORDED = json.loads((pathlib.Path(__file__).parent / "fuzz" /
                       "expected_tf.json").read_text())["answers"]
SEEDS = sorted(map(int, RECORDED))


@pytest.mark.parametrize("first", range(0, len(SEEDS), 50))
def test_fuzz_programs_agree(first):
    disagreements = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # (edge values: inf and nan)
        for seed in SEEDS[first:first + 50]:
            results = check(tapegrad, generate(seed), RECORDED[str(seed)])
            failed = [name for name, ok in results.items() if not ok]
            if failed:
                disagreements.append((seed, failed))
    assert not disagreements, f"programs that disagree (seed, checks): {disagreements}"


def test_the_slice_exercises_every_check():
    counts = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for seed in SEEDS:
            for name in check(tapegrad, generate(seed), RECORDED[str(seed)]):
                counts[name] = counts.get(name, 0) + 1
    assert set(counts) >= {"forward", "gradient", "second_order", "jacobian", "jvp",
                           "tf_error_type", "tf_value"}, counts
