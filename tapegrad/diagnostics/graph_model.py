"""A uniform view of what a tape recorded, live or freed: nodes, edges and reachability."""

from __future__ import annotations

from dataclasses import dataclass, field

from tapegrad._core.registry import NO_GRADIENT
from tapegrad._core.tape import Call, Recording
from tapegrad._core.tensor import array_of


@dataclass
class CallView:
    """One recorded call: op, input ids, output ids, output dtype kind, attrs."""

    index: int
    op: object
    input_ids: tuple
    output_ids: tuple
    output_kind: str
    attrs: dict | None
    inputs: tuple = ()  # live objects when the tape still holds them
    outputs: tuple = ()

    @property
    def name(self) -> str:
        return self.op.name

    @property
    def passes_gradient(self) -> bool:
        """Whether a gradient can flow through this call at all."""
        vjp = self.op.vjp
        return vjp is not None and vjp is not NO_GRADIENT and self.output_kind in "fc"


@dataclass
class TapeView:
    calls: list = field(default_factory=list)
    watched_tensor_ids: set = field(default_factory=set)
    watched_variables: dict = field(default_factory=dict)
    tracked_ids: set = field(default_factory=set)
    producer: dict = field(default_factory=dict)  # output id -> CallView
    live: bool = True


def view_of(recording: Recording) -> TapeView:
    view = TapeView(watched_tensor_ids=set(recording.watched_tensors),
                    watched_variables=dict(recording.watched), live=not recording.freed)
    for index, record in enumerate(recording.records()):
        if type(record) is Call:
            output = record.output
            outputs = output if type(output) is tuple else (output,)
            kind = array_of(outputs[0]).dtype.kind if outputs else "f"
            item = CallView(index, record.op, record.input_ids, tuple(map(id, outputs)), kind,
                            record.attrs, record.inputs, outputs)
        else:
            item = CallView(index, record.op, record.input_ids, record.output_ids,
                            record.output_dtype.kind, None)
        view.calls.append(item)
        for key in item.output_ids:
            view.producer[key] = item
    view.tracked_ids = (set(view.watched_tensor_ids) | set(view.watched_variables)
                        | set(view.producer))
    return view


def forward_reach(view: TapeView, start: int, differentiable_only: bool) -> set:
    """Ids reachable from ``start`` along recorded calls (optionally only through calls that
    pass a gradient)."""
    reach = {start}
    for call in view.calls:
        if differentiable_only and not call.passes_gradient:
            continue
        if any(i in reach for i in call.input_ids):
            reach.update(call.output_ids)
    return reach


def backward_reach(view: TapeView, targets: set) -> set:
    """Ids the targets depend on along recorded calls."""
    reach = set(targets)
    for call in reversed(view.calls):
        if any(o in reach for o in call.output_ids):
            reach.update(call.input_ids)
    return reach


def calls_on_paths(view: TapeView, start: int, targets: set) -> list:
    """Recorded calls on some path from ``start`` to one of ``targets``, in execution order."""
    ahead = forward_reach(view, start, differentiable_only=False)
    behind = backward_reach(view, targets)
    return [c for c in view.calls
            if any(i in ahead for i in c.input_ids) and any(o in behind for o in c.output_ids)]
