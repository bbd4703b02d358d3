"""GradientTape.explain: why a gradient is None or zero, and where the path breaks."""

from __future__ import annotations

from dataclasses import dataclass

from tapegrad._core import nest
from tapegrad._core.backend import np
from tapegrad._core.indexed_slices import IndexedSlices
from tapegrad._core.registry import NO_GRADIENT
from tapegrad._core.tape import Recording, backward
from tapegrad._core.tensor import Tensor, array_of
from tapegrad._core.variable import Variable
from tapegrad.diagnostics import provenance as _provenance
from tapegrad.diagnostics.graph_model import (
    TapeView,
    backward_reach,
    calls_on_paths,
    forward_reach,
    view_of,
)
from tapegrad.diagnostics.provenance import Origin, ancestry_of

REASONS = ("connected", "not_watched", "non_float_dtype", "stop_gradient",
           "non_differentiable_op", "not_recorded", "left_the_tape", "replaced_variable",
           "unrelated")

_PROVENANCE_HINT = (" For more (values made outside the tape, values that left it through "
                    ".numpy(), float() or a NumPy function such as np.mean, rebound variables, "
                    "and file:line locations), turn on tapegrad.debugging.enable_provenance() "
                    "before building the model.")


@dataclass
class GradientExplanation:
    """Why one source does or does not get a gradient."""

    source: object
    reason: str
    message: str
    location: str | None = None
    zero: bool = False

    def __str__(self) -> str:
        where = f" [at {self.location}]" if self.location else ""
        return f"{_describe(self.source)}: {self.reason}{where} - {self.message}"


class GradientReport:
    """The diagnosis for every source, in the flattened order of ``sources``."""

    def __init__(self, entries: list, target_summary: str):
        self.entries = entries
        self.target_summary = target_summary

    def __iter__(self):
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, index):
        return self.entries[index]

    @property
    def all_connected(self) -> bool:
        return all(e.reason == "connected" for e in self.entries)

    def __str__(self) -> str:
        lines = [f"Gradient report for {self.target_summary}:"]
        lines.extend(f"  - {entry}" for entry in self.entries)
        return "\n".join(lines)

    __repr__ = __str__


def _describe(value) -> str:
    if isinstance(value, Variable):
        return f"Variable '{value.name}' shape={tuple(value.shape)}"
    if isinstance(value, Tensor):
        return f"Tensor shape={tuple(value.shape)} dtype={value.dtype.name}"
    return repr(value)


_COMPARISONS = {"Equal", "NotEqual", "Less", "LessEqual", "Greater", "GreaterEqual",
                "LogicalAnd", "LogicalOr", "LogicalNot", "IsFinite", "IsNan", "ArgMax",
                "ArgMin"}


def _location_of(call, recorder) -> str | None:
    if recorder is None or call is None:
        return None
    for value in call.outputs:
        origin = getattr(value, "_origin", None)
        if origin is not None:
            return Origin(origin).location
    return None


def broken_call(view: TapeView, source_id: int, target_ids: set, recorder):
    """The first call on a recorded source-to-target path that lets no gradient through."""
    reachable_by_gradient = forward_reach(view, source_id, differentiable_only=True)
    for call in calls_on_paths(view, source_id, target_ids):
        if not call.passes_gradient and any(i in reachable_by_gradient for i in call.input_ids):
            return call
    return None


def _classify_break(call, recorder) -> tuple[str, str, str | None]:
    location = _location_of(call, recorder)
    name = call.name
    if name == "StopGradient":
        return ("stop_gradient", "the path passes through tapegrad.stop_gradient, which cuts it "
                "on purpose; remove it if this source should be trained.", location)
    if name == "Cast" and call.output_kind not in "fc":
        return ("non_float_dtype", "a cast to an integer/bool dtype cut the path (gradients only "
                "flow through floating and complex values); keep the value floating, e.g. use "
                "tapegrad.round on floats or a straight-through tapegrad.grad_pass_through.",
                location)
    if call.output_kind not in "fc" and name not in _COMPARISONS:
        return ("non_float_dtype", f"{name} produced a non-floating value, where no gradient "
                "can flow; keep the computation in floating dtypes.", location)
    if call.op.vjp is NO_GRADIENT:
        return ("non_differentiable_op", f"{name} has no gradient at all (gradient() raises "
                "LookupError through it); wrap it in stop_gradient or give it a "
                "tapegrad.custom_gradient.", location)
    return ("non_differentiable_op", f"{name} is not differentiable (its gradient is None, as in "
            "TensorFlow); use a smooth alternative (e.g. softmax instead of argmax, or "
            "tapegrad.grad_pass_through for a straight-through estimate).", location)


_ZERO_REASON = ("a gradient path exists but the gradient is identically zero here (e.g. relu "
                "inactive for every input, a factor that is zero, or tf.where selecting the "
                "other branch everywhere).")


def _last_gradient(recording: Recording, source):
    ref = recording.last_gradients.get(id(source))
    return ref() if ref is not None else None


def _compute_gradient(recording: Recording, flat_targets, source):
    """The gradient for one source without consuming the tape (live recordings only)."""
    try:
        (grad,) = backward(recording, flat_targets, [None] * len(flat_targets), [source])
    except Exception:  # noqa: BLE001 - diagnostics must not raise for the user's bug
        return None
    return grad


def _is_zero(grad) -> bool:
    if grad is None:
        return False
    if isinstance(grad, IndexedSlices):
        grad = grad.values
    value = np.asarray(array_of(grad))
    return bool(np.all(value == 0))


def explain(recording: Recording | None, target, sources) -> GradientReport:
    """Diagnose, for each source, whether a gradient path to ``target`` exists in a tape's
    ``recording`` (None when it never recorded) and, if not, why and where it breaks."""
    flat_targets = [t for t in nest.flatten(target) if isinstance(t, (Tensor, Variable))]
    flat_sources = nest.flatten(sources)
    summary = ", ".join(_describe(t) for t in flat_targets) or "no target"
    recorder = _provenance.current()
    if recording is None:
        entries = [GradientExplanation(s, "not_recorded", "this tape never recorded anything: "
                                       "compute the target inside `with tape:`.")
                   for s in flat_sources]
        return GradientReport(entries, summary)
    view = view_of(recording)
    target_ids = {id(t) for t in flat_targets}
    entries = []
    for source in flat_sources:
        entries.append(_explain_one(recording, view, flat_targets, target_ids, source,
                                    recorder))
    return GradientReport(entries, summary)


def _explain_one(recording, view, flat_targets, target_ids, source, recorder):
    hint = "" if recorder is not None else _PROVENANCE_HINT
    sid = id(source)
    if sid in target_ids:
        return GradientExplanation(source, "connected", "the source is the target itself; its "
                                   "gradient is the seed (ones).")
    if not isinstance(source, (Tensor, Variable)):
        return GradientExplanation(source, "not_watched", f"a {type(source).__name__} is not a "
                                   "tensor; pass the Tensor you watched or the Variable.")
    if array_of(source).dtype.kind not in "fc":
        return GradientExplanation(source, "non_float_dtype", f"the source has dtype "
                                   f"{source.dtype.name}; gradients flow only to floating or "
                                   "complex values. Cast it to float32 before watching it.")
    if sid in view.tracked_ids:
        reach = forward_reach(view, sid, differentiable_only=True)
        if reach & target_ids:
            grad = _last_gradient(recording, source) if not view.live else _compute_gradient(
                recording, flat_targets, source)
            if _is_zero(grad):
                return GradientExplanation(source, "connected", _ZERO_REASON, zero=True)
            return GradientExplanation(source, "connected", "a gradient path exists.")
        if forward_reach(view, sid, differentiable_only=False) & target_ids:
            call = broken_call(view, sid, target_ids, recorder)
            if call is not None:
                reason, message, location = _classify_break(call, recorder)
                return GradientExplanation(source, reason, message, location)
    # No recorded path at all: why was the source (or the path) not on the tape?
    if recorder is not None:
        found = _from_provenance(recording, view, flat_targets, source, recorder)
        if found is not None:
            return found
    if isinstance(source, Variable):
        if not source.trainable and sid not in view.watched_variables:
            return GradientExplanation(source, "not_watched", "the variable has "
                                       "trainable=False, so tapes do not watch it; call "
                                       "tape.watch(v) or create it trainable." + hint)
        if not recording.watch_accessed_variables and sid not in view.watched_variables:
            return GradientExplanation(source, "not_watched", "the tape was created with "
                                       "watch_accessed_variables=False and this variable was "
                                       "never passed to tape.watch()." + hint)
        if sid in view.watched_variables:
            return GradientExplanation(source, "unrelated", "the variable was read on the tape, "
                                       "but the target does not depend on those reads." + hint)
        return GradientExplanation(source, "unrelated", "the variable was never read while the "
                                   "tape was recording, so the target cannot depend on it." +
                                   hint)
    if sid not in view.tracked_ids:
        return GradientExplanation(source, "not_watched", "this tensor was never watched: "
                                   "tensors (unlike trainable variables) need tape.watch(x) "
                                   "before they are used." + hint)
    return GradientExplanation(source, "unrelated", "the target was not computed from this "
                               "source on this tape." + hint)


def _from_provenance(recording, view, flat_targets, source, recorder):
    """Reasons that need to know how values came to be, beyond what the tape recorded."""
    sid = id(source)
    is_variable = isinstance(source, Variable)
    raw = getattr(source, "_origin", None)
    origin = None if raw is None else Origin(raw)
    if not is_variable and origin is not None and origin.variable_id is None:
        if any(parent.variable_id is not None for parent in origin.parents):
            return GradientExplanation(
                source, "replaced_variable", "this source is a Tensor computed from a Variable "
                "(e.g. `v = v + 1` rebinds the name): the target used that tensor, which the tape "
                "never watched, not the variable you meant. Update variables in place with "
                "v.assign_add(1) / v.assign(...) and pass the Variable as the source.",
                origin.location)

    def matches(candidate) -> bool:
        return candidate.key == sid or (is_variable and candidate.variable_id == sid)

    for target in flat_targets:
        ancestry = recorder.ancestry(target)
        found = [(o, child) for o, child in ancestry.values() if matches(o)]
        if not found:
            assigned = _through_assign(recorder, ancestry, matches)
            if assigned is not None:
                return GradientExplanation(
                    source, "non_differentiable_op", "the value reached the target only "
                    "through Variable.assign, which is not differentiable; use the tensor "
                    "itself in the computation.", assigned)
            continue
        current, child = found[0]
        while child is not None:
            if child.exported_from == current:
                location, how = recorder.export_site(current)
                return GradientExplanation(
                    source, "left_the_tape", _left_message(how, "and a new constant was built "
                                                           "from it"),
                    location or child.location)
            if child.key not in view.tracked_ids:
                if not _was_watched(recording, view, source):
                    break       # nothing on an unwatched source is recorded: not_watched
                return GradientExplanation(
                    source, "not_recorded", f"{child.op} on the path ran while the tape was not "
                    "recording (before `with tape:`, after it, or under stop_recording()); "
                    "compute it inside the tape.", child.location)
            current, child = ancestry[id(child.raw)]
    location, how = _left_before_a_constant(recorder, flat_targets, matches)
    if location is not None:
        return GradientExplanation(
            source, "left_the_tape", _left_message(how, "and the target is computed from a "
                                                   "constant made from NumPy/Python data after "
                                                   "that"), location)
    return None


def _left_message(how: str | None, then: str) -> str:
    """Why a value that left through ``how`` (see ProvenanceRecorder.export_site) has no
    gradient; ``then`` says how the target came back to tapegrad."""
    if how is None or how in (".numpy()", "float()"):
        return (f"the value was turned into NumPy/Python here ({how or '.numpy(), float()'}) "
                f"{then}: computing on the NumPy/Python value (e.g. x.numpy() ** 2) and "
                "building a constant from the result loses the tape's track of it; keep the "
                "computation in tapegrad ops.")
    return (f"the tensor was passed to {how} here, which returns a NumPy value off the tape "
            f"(as on TensorFlow's tensors), {then}; use the tapegrad op instead "
            "(tf.reduce_mean for np.mean, tf.sin for np.sin, ...).")


def _was_watched(recording, view, source) -> bool:
    """Whether the tape records the ops that use ``source`` while it is recording."""
    if isinstance(source, Variable):
        return id(source) in view.watched_variables or (
            source.trainable and recording.watch_accessed_variables)
    return id(source) in view.tracked_ids


def _left_before_a_constant(recorder, flat_targets, matches) -> tuple[str | None, str | None]:
    """Where and how (``(file:line, how)``) a value computed from the source last left for
    NumPy/Python before a constant made from NumPy/Python data that the target is computed
    from (``(None, None)`` if there is none)."""
    from tapegrad.diagnostics.provenance import ancestry_of
    constants = {id(o.raw) for target in flat_targets
                 for o, _ in recorder.ancestry(target).values() if o.op == "Const"}
    left_at = None
    for event in recorder.history:
        if event[0] == "export":
            if any(matches(o) for o, _ in ancestry_of(event[1]).values()):
                left_at = event[2:4]
        elif left_at is not None and id(event[1]) in constants:
            return left_at
    return None, None


def _through_assign(recorder, ancestry, matches) -> str | None:
    """The location of an assign that carried the source's value into a variable the target
    read, if any."""
    read_variables = {o.variable_id for o, _ in ancestry.values() if o.variable_id is not None}
    for variable_id, assignments in recorder.assignments.items():
        if variable_id not in read_variables:
            continue
        for value_origin, location in assignments:
            if any(matches(o) for o, _ in ancestry_of(value_origin).values()):
                return location
    return None


__all__ = ["GradientExplanation", "GradientReport", "REASONS", "explain", "backward_reach"]
