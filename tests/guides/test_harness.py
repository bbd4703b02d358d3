"""The guide harness itself: cells, notebook-style display, and what the comparison ignores."""

from __future__ import annotations

import json

from tests.guides.extract_cells import script_text
from tests.guides.harness import compare, load_cells, normalise, run_cell, run_in_process


def test_cells_are_split_at_markers_with_skip_and_unscored_reasons(tmp_path):
    script = tmp_path / "guide.py"
    script.write_text('"""header"""\n\n# %% cell 1\nx = 1\n\n# %% cell 2 skip: SavedModel\n'
                      "save()\n# %% cell 3 unscored: class names\nprint(type(x).__name__)\n")
    cells = load_cells(script)
    assert [(c.number, c.skip, c.unscored) for c in cells] == [
        ("1", None, None), ("2", "SavedModel", None), ("3", None, "class names")]
    assert cells[0].source.strip() == "x = 1"


def test_an_unscored_cell_runs_but_gives_no_output_to_compare(tmp_path):
    script = tmp_path / "guide.py"
    script.write_text("# %% cell 1 unscored: prints a class name\nx = 2\nprint(type(x))\n"
                      "# %% cell 2 skip: never runs\nx = 5\n# %% cell 3\nprint(x * 10)\n")
    outputs = run_in_process("tapegrad", script, seed=1)
    assert outputs == {"1": None, "2": None, "3": "20\n"}  # cell 1 ran: x is 2


def test_random_words_are_masked_only_in_random_cells(tmp_path):
    script = tmp_path / "guide.py"
    script.write_text("# %% cell 1\nprint(names[i])\n# harness: random words: Cat Dog\n")
    (cell,) = load_cells(script)
    assert cell.random_words == ("Cat", "Dog")
    assert normalise("Cat (41.5%), Catalog", True, cell.random_words) == \
        "<word> ( <n> %), Catalog"
    assert normalise("Cat", False, cell.random_words) == "Cat"
    expected = {"1": {"output": "Dog 0.5\n", "random": True}}
    assert compare(expected, {"1": "Cat 0.25\n"}, {"1": cell.random_words}) == {"1": "match"}
    assert compare(expected, {"1": "Cow 0.25\n"}, {"1": cell.random_words}) == \
        {"1": "mismatch"}


def test_a_cell_prints_its_output_and_the_repr_of_its_last_expression():
    namespace: dict = {}
    assert run_cell("x = 2\nprint('x is', x)\n[x, 'a']", namespace) == "x is 2\n[2, 'a']\n"
    assert run_cell("x = None\nx", namespace) == ""  # None is not displayed, as in a notebook
    assert run_cell("x = 3\nx;  # hidden", namespace) == ""  # nor a value after a semicolon


def test_a_cell_output_holds_both_streams_in_order_at_the_descriptor_level():
    # (TensorFlow's tf.print writes to file descriptor 2 from C++, past sys.stderr)
    source = ("import os, sys\nprint('a')\nprint('b', file=sys.stderr)\n"
              "os.write(2, b'c\\n')\nos.write(1, b'd\\n')\nprint('e')")
    assert run_cell(source, {}) == "a\nb\nc\nd\ne\n"


def test_a_cell_source_is_readable_by_inspect_as_in_a_notebook():
    namespace: dict = {}
    run_cell("def f():\n    return 1\n", namespace, "<cell 7>")
    assert run_cell("import inspect\nprint(inspect.getsource(f))", namespace) == \
        "def f():\n    return 1\n\n"


def test_an_exception_ends_the_cell_with_its_type_and_the_next_cell_runs():
    namespace: dict = {}
    assert run_cell("print(1)\n1 / 0\nprint(2)", namespace) == "1\n<raised ZeroDivisionError>\n"
    assert run_cell("print(3)", namespace) == "3\n"


def test_normalise_drops_addresses_and_error_messages_and_masks_floats_when_random():
    text = "<obj at 0x7f12ab> \nInvalidArgumentError: shapes [2] and [3]\nloss 0.25 step 3"
    assert normalise(text, random=False) == \
        "<obj at 0x?>\nInvalidArgumentError: ...\nloss 0.25 step 3"
    assert normalise("[ 0.5, -1.25e-03] 7 x2 5ms", random=True) == \
        "[ <n> , <n> ] <n> x2 <n> ms"
    assert normalise("tf.Tensor([3 1], shape=(2,), dtype=int32)", random=True) == \
        "tf.Tensor([ <n>  <n> ], shape=(2,), dtype=int32)"


def test_normalise_drops_log_records_python_warnings_and_module_paths():
    text = ("WARNING:tensorflow:5 out of the last 5 calls to <function f> triggered retracing\n"
            "x\n/site-packages/keras/layer.py:12: UserWarning: Do not pass `input_shape`\n"
            "  super().__init__(**kwargs)\nWARNING:tapegrad:a note\n"
            "<class 'tensorflow.python.framework.errors_impl.InvalidArgumentError'>\n")
    assert normalise(text, random=False) == "x\n<class 'InvalidArgumentError'>"


def test_compare_scores_only_cells_run_by_both():
    expected = {"1": {"output": "a\n", "random": False}, "2": None,
                "3": {"output": "b\n", "random": False}}
    assert compare(expected, {"1": "a\n", "2": None, "3": "c\n"}) == \
        {"1": "match", "3": "mismatch"}


def test_extracted_script_keeps_code_cells_and_marks_magics(tmp_path):
    notebook = tmp_path / "n.ipynb"
    cells = [{"cell_type": "code", "source": ["#@title Licensed under the Apache License\n"]},
             {"cell_type": "markdown", "source": ["# text"]},
             {"cell_type": "code", "source": ["import tensorflow as tf\n", "x = 1"]},
             {"cell_type": "code", "source": ["!pip install x"]}]
    notebook.write_text(json.dumps({"cells": cells}))
    script = tmp_path / "n.py"
    script.write_text(script_text(notebook, "n.ipynb"))
    assert [(c.number, c.skip) for c in load_cells(script)] == [
        ("1", None), ("2", "IPython magic or shell command")]
    assert '"unscored: <reason>"' in script.read_text()
