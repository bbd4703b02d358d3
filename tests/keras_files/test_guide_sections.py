"""The serialization guide's sections (guide_sections.py) under tapegrad: every section that
passes under real Keras 3 (guide_expected_tf.json, recorded by record_guide_tf.py) passes
here; the others are skipped with Keras's own error."""

import json
import pathlib

import pytest

import tapegrad as tf
from tests.keras_files.guide_sections import SECTIONS

pytest.importorskip("h5py")

RECORDED = json.loads(pathlib.Path(__file__).with_name("guide_expected_tf.json").read_text())


def _params():
    for name in SECTIONS:
        outcome = RECORDED["sections"].get(name, "not recorded")
        marks = [] if outcome == "pass" else \
            [pytest.mark.skip(reason=f"fails under Keras {RECORDED['keras']} too: {outcome}")]
        yield pytest.param(name, marks=marks, id=name)


@pytest.mark.parametrize("name", list(_params()))
def test_guide_section(name, tmp_path):
    tf.keras.utils.set_random_seed(0)
    SECTIONS[name](tf.keras, str(tmp_path))


def test_every_section_was_recorded():
    assert set(RECORDED["sections"]) == set(SECTIONS)
