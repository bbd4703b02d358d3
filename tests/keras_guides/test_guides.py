"""The keras-io guide sections (sections.py) under tapegrad: every section that passes under
real Keras 3 (expected_tf.json, recorded by record_tf.py) must pass here, except the few
listed in KNOWN_GAPS with the reason (each also in docs/differences-from-tensorflow.md)."""

import json
import pathlib

import pytest

import tapegrad as tf
from tests.keras_guides.sections import SECTIONS

RECORDED = json.loads(pathlib.Path(__file__).with_name("expected_tf.json").read_text())

# Sections that pass under Keras but not here yet, with the reason (none at present).
KNOWN_GAPS: dict[str, str] = {}


def _params():
    for name in SECTIONS:
        marks = []
        if RECORDED["sections"].get(name) != "pass":
            marks.append(pytest.mark.skip(reason="fails under real Keras too: "
                                          + RECORDED["sections"].get(name, "not recorded")))
        elif name in KNOWN_GAPS:
            marks.append(pytest.mark.xfail(strict=True, reason=KNOWN_GAPS[name]))
        yield pytest.param(name, marks=marks, id=name)


@pytest.mark.parametrize("name", list(_params()))
def test_guide_section(name):
    tf.keras.utils.set_random_seed(0)
    SECTIONS[name](tf.keras, tf)
