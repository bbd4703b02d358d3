"""Every explain scenario with provenance off, on, and on-then-off (values made while it was on,
explained after it was turned off), in every order of those settings and of the scenarios: one
setting or one earlier scenario never changes another's answer."""

import itertools
import os
import sys

import numpy as np
import pytest

import tapegrad as tf

HERE = os.path.basename(__file__)


def _line() -> str:
    """``file:line`` of the caller (where a value leaves the tape, in these scenarios)."""
    return f"{HERE}:{sys._getframe(1).f_lineno}"


# Each scenario returns (tape, target, sources, where the value left the tape or None).

def connected_and_unrelated():
    a, b = tf.Variable(2.0), tf.Variable(3.0)
    with tf.GradientTape() as tape:
        y = a * a
        _ = b * 1.0
    return tape, y, [a, b], None


def constant_never_watched():
    c = tf.constant(3.0)
    with tf.GradientTape() as tape:
        y = c * c
    return tape, y, [c], None


def non_trainable_variable():
    v = tf.Variable(2.0, trainable=False)
    with tf.GradientTape() as tape:
        y = v * v
    return tape, y, [v], None


def no_auto_watch():
    v = tf.Variable(2.0)
    with tf.GradientTape(watch_accessed_variables=False) as tape:
        y = v * v
    return tape, y, [v], None


def integer_cast():
    x = tf.Variable(2.7)
    with tf.GradientTape() as tape:
        y = tf.cast(tf.cast(x, tf.int32), tf.float32) * 2.0
    return tape, y, [x], None


def stop_gradient():
    x = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        y = tf.stop_gradient(x) * 2.0
    return tape, y, [x], None


def rounding():
    x = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        y = tf.round(x) * 2.0
    return tape, y, [x], None


def constant_from_numpy():
    x = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        value, where = x.numpy(), _line()
        y = tf.constant(value) * 1.0
    return tape, y, [x], where


def numpy_power():
    x = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        value, where = x.numpy(), _line()
        y = tf.constant(value ** 2)
    return tape, y, [x], where


def python_float():
    x = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        value, where = float(x), _line()
        y = tf.constant(value * 2.0 + 1.0)
    return tape, y, [x], where


def numpy_asarray_arithmetic():
    x = tf.Variable([1.0, 2.0])
    with tf.GradientTape() as tape:
        array, where = np.asarray(x), _line()
        y = tf.reduce_sum(tf.constant(array * 3.0 + 1.0))
    return tape, y, [x], where


def tensor_through_numpy():
    x = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        scaled = x * 3.0
        value, where = scaled.numpy(), _line()
        y = tf.constant(value) * 2.0
    return tape, y, [x], where


def unrelated_numpy_constant():
    x, w = tf.Variable(2.0), tf.Variable(1.0)
    with tf.GradientTape() as tape:
        _ = x * 1.0
        y = w * tf.constant(np.float32(3.0) ** 2)
    return tape, y, [x, w], None


def exported_after_the_constant():
    x = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        y = tf.constant(np.float32(3.0) ** 2) * 2.0
        x.numpy()
    return tape, y, [x], None


def computed_before_the_tape():
    x = tf.Variable(3.0)
    early = x * x
    with tf.GradientTape() as tape:
        y = early + 1.0
    return tape, y, [x], None


def watched_tensor_computed_before_the_tape():
    x = tf.constant(2.0)
    early = x * x
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = early * 3.0
    return tape, y, [x], None


def under_stop_recording():
    x = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        with tape.stop_recording():
            hidden = x * x
        y = hidden + 1.0
    return tape, y, [x], None


def replaced_variable():
    v = tf.Variable(1.0)
    v = v + 1.0
    with tf.GradientTape() as tape:
        y = v * v
    return tape, y, [v], None


def through_assign():
    x, w = tf.Variable(2.0), tf.Variable(0.0)
    with tf.GradientTape() as tape:
        w.assign(x * 3.0)
        y = w * w
    return tape, y, [x, w], None


# scenario -> (reasons with provenance off, reasons with provenance on)
EXPECTED = {
    connected_and_unrelated: (["connected", "unrelated"], ["connected", "unrelated"]),
    constant_never_watched: (["not_watched"], ["not_watched"]),
    non_trainable_variable: (["not_watched"], ["not_watched"]),
    no_auto_watch: (["not_watched"], ["not_watched"]),
    integer_cast: (["non_float_dtype"], ["non_float_dtype"]),
    stop_gradient: (["stop_gradient"], ["stop_gradient"]),
    rounding: (["non_differentiable_op"], ["non_differentiable_op"]),
    constant_from_numpy: (["unrelated"], ["left_the_tape"]),
    numpy_power: (["unrelated"], ["left_the_tape"]),
    python_float: (["unrelated"], ["left_the_tape"]),
    numpy_asarray_arithmetic: (["unrelated"], ["left_the_tape"]),
    tensor_through_numpy: (["unrelated"], ["left_the_tape"]),
    unrelated_numpy_constant: (["unrelated", "connected"], ["unrelated", "connected"]),
    exported_after_the_constant: (["unrelated"], ["unrelated"]),
    computed_before_the_tape: (["unrelated"], ["not_recorded"]),
    watched_tensor_computed_before_the_tape: (["unrelated"], ["not_recorded"]),
    under_stop_recording: (["unrelated"], ["not_recorded"]),
    replaced_variable: (["not_watched"], ["replaced_variable"]),
    through_assign: (["unrelated", "connected"], ["non_differentiable_op", "connected"]),
}


def _run(scenario, setting):
    """Build the scenario and explain it under ``setting``; provenance is off afterwards."""
    try:
        if setting != "off":
            tf.debugging.enable_provenance()
        tape, target, sources, where = scenario()
        if setting == "on then off":
            tf.debugging.disable_provenance()
        report = tape.explain(target, sources)
    finally:
        tf.debugging.disable_provenance()
    expected = EXPECTED[scenario][setting == "on"]
    assert [e.reason for e in report] == expected, (scenario.__name__, setting, str(report))
    if setting == "on" and where is not None:
        assert report[0].location == where, (scenario.__name__, str(report))


SETTINGS = ("off", "on", "on then off")


@pytest.mark.parametrize("settings", list(itertools.permutations(SETTINGS)))
@pytest.mark.parametrize("reverse", [False, True])
def test_every_scenario_in_every_order(settings, reverse):
    scenarios = list(EXPECTED)[::-1] if reverse else list(EXPECTED)
    for setting in settings:
        for scenario in scenarios:
            _run(scenario, setting)
    # interleaved: each scenario under every setting in turn
    for scenario in scenarios:
        for setting in settings:
            _run(scenario, setting)


def test_classic_unwatched_constant_message_is_the_same_with_provenance_on():
    tf.debugging.enable_provenance()
    try:
        tape, y, sources, _ = constant_never_watched()
        (entry,) = tape.explain(y, sources)
    finally:
        tf.debugging.disable_provenance()
    assert entry.reason == "not_watched" and "tape.watch(x)" in entry.message
