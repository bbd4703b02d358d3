"""The demo (`python -m tapegrad`) and the runnable docs page on None gradients.

`python tests/test_demo.py` rewrites the outputs in docs/why-is-my-gradient-none.md after a
message changed.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import pathlib
import re
import subprocess
import sys

import pytest

import tapegrad as tf
from tapegrad import demo
from tapegrad.diagnostics import provenance as _provenance

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "why-is-my-gradient-none.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n", re.S | re.M)


def _has(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


# -- the demo ----------------------------------------------------------------------------------

def test_explain_part_prints_the_classic_gradients_and_the_diagnoses(capsys):
    outcomes = demo.explain_part()
    out = capsys.readouterr().out
    classic = outcomes[:3]
    assert [o.gradient for o in classic] == [2.0, 2.0, 2.0]
    assert all(o.reasons == ["connected"] for o in classic)
    assert [o.reasons for o in outcomes[3:]] == [["not_watched"], ["non_float_dtype"],
                                                 ["stop_gradient"], ["replaced_variable"]]
    assert all(o.gradient is None for o in outcomes[3:])
    assert out.count("gradient: 2.0") == 3 and out.count("gradient: None") == 4
    assert "Not None, whatever you may have read" in out
    for reason in ("not_watched", "non_float_dtype", "stop_gradient", "replaced_variable"):
        assert f": {reason}" in out
    assert "[at program-g:3]" in out                  # the `v = v + 1.0` line
    assert _provenance.current() is None  # the demo turned provenance off again


def test_skip_training_still_ends_with_a_summary(capsys, tmp_path):
    result = demo.run(["--skip-training", "--output-dir", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert result["training"] is None and "Summary" in out and "--skip-training" in out
    assert not (tmp_path / "out").exists()


def test_without_scikit_learn_prints_the_pip_command_and_succeeds(capsys, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "sklearn", None)   # makes `import sklearn` fail
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    assert demo.main(["--output-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert 'pip install ".[examples]"' in out and "scikit-learn" in out
    assert "Summary" in out and "gradient: 2.0" in out


@pytest.mark.skipif(not (_has("sklearn") and _has("matplotlib")),
                    reason="the training part needs scikit-learn and matplotlib")
def test_training_part_learns_reloads_and_plots(capsys, tmp_path):
    # the code path of `python -m tapegrad --epochs 3 --output-dir tmp`
    output_dir = tmp_path / "tmp"
    result = demo.run(["--epochs", "3", "--output-dir", str(output_dir), "--no-progress"])
    out = capsys.readouterr().out
    training = result["training"]
    assert training["test_accuracy"] > 0.8                         # chance is 0.1
    assert training["reloaded_accuracy"] == pytest.approx(training["test_accuracy"])
    assert os.path.exists(training["checkpoint"] + ".npz")
    assert training["plot"] == str(output_dir / "learning_curve.png")
    assert os.path.getsize(training["plot"]) > 1000
    assert f"{training['test_accuracy']:.4f} after training" in out
    assert f"{training['reloaded_accuracy']:.4f} after reloading the checkpoint" in out
    assert "learning_curve.png" in out and "elapsed" in out


def test_python_dash_m_tapegrad_runs():
    done = subprocess.run([sys.executable, "-m", "tapegrad", "--skip-training"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("gradient: 2.0") == 3 and "Summary" in done.stdout


# -- docs/why-is-my-gradient-none.md --------------------------------------------------------------

def doc_examples(text: str) -> list[tuple[str, re.Match | None]]:
    """Each ```python block with the ```text block right after it (its output), if any."""
    fences = list(FENCE.finditer(text))
    examples = []
    for i, fence in enumerate(fences):
        if fence.group(1) != "python":
            continue
        following = fences[i + 1] if i + 1 < len(fences) else None
        if (following is not None and following.group(1) == "text"
                and not text[fence.end():following.start()].strip()):
            examples.append((fence.group(2), following))
        else:
            examples.append((fence.group(2), None))
    return examples


def run_example(code: str) -> str:
    """Run one block as the script ``example.py`` would run; return what it printed."""
    stdout = io.StringIO()
    try:
        with contextlib.redirect_stdout(stdout):
            exec(compile(code, "example.py", "exec"), {"__name__": "__main__"})
    finally:
        tf.debugging.disable_provenance()
        tf.debugging.disable_check_numerics()
        tf.debugging.strict_gradients.disable()
    return stdout.getvalue()


EXAMPLES = doc_examples(DOC.read_text())


def test_the_doc_covers_every_reason():
    from tapegrad.diagnostics.explain import REASONS
    text = DOC.read_text()
    for reason in REASONS:
        assert f"`{reason}`" in text and f": {reason}" in text, reason
    for name in ("enable_provenance", "strict_gradients", "enable_check_numerics"):
        assert name in text


@pytest.mark.parametrize("index", range(len(EXAMPLES)))
def test_doc_example_runs_and_prints_what_the_page_shows(index):
    code, output = EXAMPLES[index]
    printed = run_example(code)
    if output is not None:
        assert printed == output.group(2), (
            f"{DOC.name}: example {index + 1} now prints something else; "
            "run `python tests/test_demo.py` to refresh the page")


def _refresh_doc() -> None:
    text = DOC.read_text()
    parts, last = [], 0
    for code, output in doc_examples(text):
        if output is None:
            run_example(code)
            continue
        parts += [text[last:output.start()], "```text\n", run_example(code), "```\n"]
        last = output.end()
    DOC.write_text("".join(parts) + text[last:])


if __name__ == "__main__":
    _refresh_doc()
