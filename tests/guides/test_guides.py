"""TensorFlow's guides, cell by cell, print under tapegrad what they print under TensorFlow 2.21.

The expected outputs are recorded by tests/guides/record_tf.py; ``python -m tests.guides.report``
prints the match ratio of each guide. Cells that still differ are listed here with the reason (and
in docs/differences-from-tensorflow.md); a listed cell that starts matching fails the test, so the
list stays true.
"""

from __future__ import annotations

import json

import pytest

from tests.guides.harness import EXPECTED
from tests.guides.report import eager_fallbacks, guide_verdicts

#: guide -> {cell number: why tapegrad's output differs}
KNOWN_MISMATCHES: dict[str, dict[str, str]] = {
    "function": {
        "25": "tf.tanh's last float32 digit: TensorFlow's kernel evaluates a rational "
              "approximation, tapegrad NumPy's tanh",
    },
    "intro_to_graphs": {
        "22": "ops whose results nothing uses are pruned at replay, but a trace runs every op "
              "once on the call's values: an op failing on them fails the trace",
    },
    "intro_to_modules": {
        "30": "the error message text of a failed call (Keras wraps it)",
    },
    "tensor": {
        "10": "softmax's last float32 digit: TF computes exp(x - max - log(sum)), tapegrad "
              "exp(x - max) / sum",
    },
}

#: guide -> {cell number: why a tf.function of the cell runs eagerly under tapegrad} (TensorFlow
#: compiles them all; the harness does not compare log records, so the fallback warnings are
#: checked here)
EAGER_FALLBACKS: dict[str, dict[str, str]] = {
    "core_mlp_core": {"19": "tf.random.uniform with tensor bounds computed from a value"},
    "core_quickstart_core": {"8": "a random op (a variable's initial value drawn on the first "
                                  "call) inside the function"},
}

GUIDES = sorted(json.loads(EXPECTED.read_text(encoding="utf-8")))


@pytest.mark.parametrize("guide", GUIDES)
def test_guide_cells_print_what_tensorflow_prints(guide):
    _, actual, verdicts = guide_verdicts(guide)
    known = KNOWN_MISMATCHES.get(guide, {})
    failed = {number for number, verdict in verdicts.items() if verdict != "match"}
    assert failed - set(known) == set(), f"{guide}: cells now differ from TensorFlow's output"
    assert set(known) - failed == set(), f"{guide}: listed cells match now; remove them"
    assert eager_fallbacks(actual) == set(EAGER_FALLBACKS.get(guide, {})), \
        f"{guide}: the cells whose tf.function runs eagerly changed"
