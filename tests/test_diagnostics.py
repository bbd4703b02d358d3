"""Explained gradients, strict mode, NaN origins, graph drawing and memory accounting."""

import gc
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

import tapegrad as tf
from tapegrad.debugging import MissingGradientError


def reasons(report):
    return [entry.reason for entry in report]


@pytest.fixture
def provenance():
    tf.debugging.enable_provenance()
    yield
    tf.debugging.disable_provenance()


# -- explain: reasons known without provenance --------------------------------------------------

def test_connected_and_unrelated():
    a = tf.Variable(2.0)
    b = tf.Variable(3.0)
    with tf.GradientTape() as tape:
        y = a * a
        _ = b * 1.0
    report = tape.explain(y, [a, b])
    assert reasons(report) == ["connected", "unrelated"]
    assert "Gradient report" in str(report) and "unrelated" in str(report)


def test_connected_but_identically_zero():
    x = tf.constant([-1.0, -2.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(tf.nn.relu(x))
    (entry,) = tape.explain(y, [x])
    assert entry.reason == "connected" and entry.zero and "zero" in entry.message


@pytest.mark.parametrize("case", ["constant", "non_trainable", "no_auto_watch"])
def test_not_watched(case):
    v = tf.Variable(2.0, trainable=(case != "non_trainable"))
    c = tf.constant(3.0)
    with tf.GradientTape(watch_accessed_variables=(case != "no_auto_watch")) as tape:
        y = v * c
    source = c if case == "constant" else v
    (entry,) = tape.explain(y, [source])
    assert entry.reason == "not_watched"
    expected = {"constant": "watch", "non_trainable": "trainable=False",
                "no_auto_watch": "watch_accessed_variables=False"}[case]
    assert expected in entry.message


def test_non_float_dtype_names_the_cast():
    x = tf.Variable(2.7)
    with tf.GradientTape() as tape:
        y = tf.cast(tf.cast(x, tf.int32), tf.float32) * 2.0
    (entry,) = tape.explain(y, [x])
    assert entry.reason == "non_float_dtype" and "cast" in entry.message.lower()


def test_integer_source_is_non_float_dtype():
    x = tf.constant(3)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x * x
    assert reasons(tape.explain(y, x)) == ["non_float_dtype"]


def test_stop_gradient_and_non_differentiable_ops():
    x = tf.Variable([0.4, 1.6])
    with tf.GradientTape(persistent=True) as tape:
        cut = tf.reduce_sum(tf.stop_gradient(x) * 2.0)
        rounded = tf.reduce_sum(tf.round(x))
        compared = tf.reduce_sum(tf.cast(x > 1.0, tf.float32))
    assert reasons(tape.explain(cut, x)) == ["stop_gradient"]
    assert reasons(tape.explain(rounded, x)) == ["non_differentiable_op"]
    assert "Round" in tape.explain(rounded, x)[0].message
    assert reasons(tape.explain(compared, x)) == ["non_differentiable_op"]


def test_explain_after_gradient_on_non_persistent_tape():
    x = tf.Variable(1.0)
    c = tf.constant(2.0)
    with tf.GradientTape() as tape:
        y = x * tf.stop_gradient(x) * c
    assert tape.gradient(y, x) is not None
    assert tape.stats()["saved_bytes"] == 0
    assert reasons(tape.explain(y, [x, c])) == ["connected", "not_watched"]


def test_explain_does_not_consume_a_non_persistent_tape():
    x = tf.Variable(3.0)
    with tf.GradientTape() as tape:
        y = x * x
    tape.explain(y, x)
    assert float(tape.gradient(y, x)) == 6.0


def test_without_provenance_the_message_suggests_it():
    c = tf.constant(1.0)
    with tf.GradientTape() as tape:
        y = c * 2.0
    assert "enable_provenance" in tape.explain(y, c)[0].message


# -- explain: reasons that need provenance ------------------------------------------------------

def test_not_recorded_with_location(provenance):
    x = tf.constant(2.0)
    early = x * x  # computed before the tape opened
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = early * 3.0
    (entry,) = tape.explain(y, [x])
    assert entry.reason == "not_recorded"
    assert re.match(r"test_diagnostics\.py:\d+", entry.location)


def test_not_recorded_under_stop_recording(provenance):
    x = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        with tape.stop_recording():
            hidden = x * x
        y = hidden + 1.0
    assert reasons(tape.explain(y, [x])) == ["not_recorded"]


def test_left_the_tape(provenance):
    x = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        value = x.read_value() * 3.0
        rebuilt = tf.constant(value.numpy()) * 2.0
    (entry,) = tape.explain(rebuilt, [x])
    assert entry.reason == "left_the_tape" and entry.location is not None


def test_left_the_tape_through_float(provenance):
    x = tf.Variable(2.0)
    w = tf.Variable(1.0)
    with tf.GradientTape() as tape:
        scale = float(x * 3.0)
        y = w * scale
    assert reasons(tape.explain(y, [x, w])) == ["left_the_tape", "connected"]


def _line_of(text: str) -> str:
    """``test_diagnostics.py:N`` of the line of this file that holds the comment ``text``."""
    lines = Path(__file__).read_text(encoding="utf-8").splitlines()
    (number,) = [i for i, line in enumerate(lines, start=1)
                 if text in line and "_line_of" not in line]
    return f"{Path(__file__).name}:{number}"


def test_left_the_tape_through_a_numpy_function_names_it(provenance):
    # the autodiff guide's example: np.mean returns a NumPy value, as on TensorFlow's tensors
    x = tf.Variable([[1.0, 2.0], [3.0, 4.0]])
    with tf.GradientTape() as tape:
        x2 = x ** 2
        y = np.mean(x2, axis=0)  # the guide's NumPy step
        y = tf.reduce_mean(y, axis=0)
    assert isinstance(y, tf.Tensor) and tape.gradient(y, x) is None
    (entry,) = tape.explain(y, [x])
    assert entry.reason == "left_the_tape"
    assert entry.location == _line_of("the guide's NumPy step")  # the user's line, not NumPy's
    assert "np.mean()" in entry.message and "tf.reduce_mean" in entry.message


def test_left_the_tape_through_a_numpy_ufunc_or_copy(provenance):
    x = tf.constant([0.5, 1.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(tf.constant(np.sin(x)) * 2.0)  # a ufunc
    (entry,) = tape.explain(y, [x])
    assert (entry.reason, entry.location) == ("left_the_tape", _line_of("# a ufunc"))
    assert "a ufunc such as np.sin" in entry.message
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.constant(np.array(x) * 2.0)  # a copy
    (entry,) = tape.explain(y, [x])
    assert (entry.reason, entry.location) == ("left_the_tape", _line_of("# a copy"))


def test_without_provenance_the_hint_mentions_numpy_functions():
    x = tf.Variable([1.0, 2.0])
    with tf.GradientTape() as tape:
        y = tf.constant(np.mean(x * 2.0))
    (entry,) = tape.explain(y, [x])
    assert entry.reason == "unrelated" and "NumPy function such as np.mean" in entry.message


def test_replaced_variable(provenance):
    v = tf.Variable(1.0)
    v = v + 1.0  # the classic mistake: rebinds the name to a tensor
    with tf.GradientTape() as tape:
        y = v * v
    (entry,) = tape.explain(y, [v])
    assert entry.reason == "replaced_variable" and "assign_add" in entry.message


def test_assign_is_reported_as_non_differentiable(provenance):
    x = tf.Variable(2.0)
    w = tf.Variable(0.0)
    with tf.GradientTape() as tape:
        w.assign(x * 3.0)
        y = w * w
    assert reasons(tape.explain(y, [x, w])) == ["non_differentiable_op", "connected"]


# -- strict mode ---------------------------------------------------------------------------------

def test_strict_gradients_raises_with_the_report():
    c = tf.constant(1.0)
    v = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        y = v * c
    with tf.debugging.strict_gradients():
        with pytest.raises(MissingGradientError) as raised:
            tape.gradient(y, [v, c])
    assert reasons(raised.value.report) == ["connected", "not_watched"]
    with tf.GradientTape() as tape:
        y = v * c
    assert tape.gradient(y, [v, c])[1] is None  # off again outside the block


# -- check_numerics --------------------------------------------------------------------------------

@pytest.fixture
def numerics():
    tf.debugging.enable_check_numerics()
    yield
    tf.debugging.disable_check_numerics()


def test_check_numerics_forward_names_op_and_line(numerics):
    x = tf.constant([1.0, 0.0])
    with pytest.raises(tf.errors.InvalidArgumentError) as raised:
        tf.math.log(x) * 2.0
    message = str(raised.value)
    assert "Log" in message and re.search(r"test_diagnostics\.py:\d+", message)
    assert "shape=(2,)" in message and "min=0" in message


def test_check_numerics_backward_names_the_forward_op(numerics):
    x = tf.constant([4.0, 0.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(tf.sqrt(x))  # finite forward; sqrt'(0) is infinite
    with pytest.raises(tf.errors.InvalidArgumentError) as raised:
        tape.gradient(y, x)
    message = str(raised.value)
    assert "gradient rule of Sqrt" in message
    assert re.search(r"test_diagnostics\.py:\d+", message)


def test_check_numerics_off_has_no_recorder():
    assert not any(type(r).__name__ == "NumericsChecker" for r in tf._core.tensor.state.recorders)
    assert np.isinf(tf.math.log(tf.constant(0.0)).numpy())


# -- graph ----------------------------------------------------------------------------------------

def _graph_tape():
    x = tf.Variable([1.0, 2.0])
    c = tf.constant(3.0)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(c)
        y = tf.reduce_sum(tf.sin(x) * tf.stop_gradient(c))
    return tape, y, x, c


def test_graph_dot_is_well_formed_and_marks_the_break():
    pydot = pytest.importorskip("pydot")
    tape, y, x, c = _graph_tape()
    dot = tape.graph(y, [x, c]).to_dot()
    (parsed,) = pydot.graph_from_dot_data(dot)
    names = {n.get_name() for n in parsed.get_nodes()}
    assert any(n.startswith("c") for n in names)
    assert "path breaks here: stop_gradient" in dot
    assert "\\\\n" not in dot, "labels must use DOT's \\n line break, not a literal backslash"
    assert "color=red" in dot and "palegreen" in dot


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot program is missing")
def test_graph_renders_png(tmp_path):
    pytest.importorskip("graphviz")
    tape, y, x, c = _graph_tape()
    path = tape.graph(y, [x, c]).render(str(tmp_path / "tape.png"))
    with open(path, "rb") as handle:
        assert handle.read(8) == b"\x89PNG\r\n\x1a\n"


# -- memory ---------------------------------------------------------------------------------------

def test_stats_counts_saved_bytes_and_drops_to_zero():
    x = tf.constant(np.ones((100,), dtype=np.float64))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(tf.exp(x) * x)
    stats = tape.stats()
    assert stats["ops"] == 3 and stats["per_op"]["Exp"]["count"] == 1
    # x, exp(x) and exp(x)*x are distinct 800-byte arrays; the sum is 8 bytes
    assert stats["saved_bytes"] == 3 * 800 + 8
    assert stats["watched_bytes"] == 800
    tape.gradient(y, x)
    assert tape.stats()["saved_bytes"] == 0


def test_dropping_a_large_persistent_tape_warns(caplog, monkeypatch):
    from tapegrad.diagnostics import memory
    monkeypatch.setattr(memory, "warn_persistent_tape_bytes", 1000)
    x = tf.constant(np.ones(1000))
    tape = tf.GradientTape(persistent=True)
    with tape:
        tape.watch(x)
        tf.exp(x)
    del tape
    gc.collect()
    assert any("persistent GradientTape was dropped" in r.getMessage() for r in caplog.records)
