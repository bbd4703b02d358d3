"""Forward-mode autodiff: the recorder that carries tangents through each op as it runs."""

from __future__ import annotations

from types import MappingProxyType

from tapegrad._core.errors import InvalidArgumentError
from tapegrad._core.tensor import Recorder, Tensor, array_of, set_recorders, state, wrap


def _hide_from(accumulator) -> tuple:
    """Take the recorders from ``accumulator`` on (inclusive) off the stack and return them, so
    the accumulator does not see its own work while outer recorders do (nesting)."""
    stack = state.recorders
    for position, recorder in enumerate(stack):
        if recorder is accumulator:  # (a shorter stack keeps recording_threads' invariant)
            state.recorders = stack[:position]
            return stack[position:]
    return ()


class TangentRecorder(Recorder):
    """The engine of forward mode: a recorder that runs each op's forward rule as the op runs,
    keeping a tangent for every value that depends on a primal (``_tangents``: id(value) ->
    (value, tangent)). The public façade is ``tapegrad.autodiff.ForwardAccumulator``."""

    def __init__(self):
        self._tangents: dict = {}

    # -- recorder protocol ------------------------------------------------------------------
    def _record1(self, op, x, output, attrs):
        entry = self._tangents.get(id(x))
        if entry is not None and op.jvp is not None:
            self._push(op, (x,), output, attrs, [entry[1]])

    def _record2(self, op, x, y, output, attrs):
        get = self._tangents.get
        first, second = get(id(x)), get(id(y))
        if (first is not None or second is not None) and op.jvp is not None:
            self._push(op, (x, y), output, attrs, [None if first is None else first[1],
                                                   None if second is None else second[1]])

    def _record(self, op, inputs, output, attrs):
        get = self._tangents.get
        entries = [get(id(value)) for value in inputs]
        if entries.count(None) == len(entries) or op.jvp is None:
            return
        self._push(op, inputs, output, attrs,
                   [None if entry is None else entry[1] for entry in entries])

    def _push(self, op, inputs, output, attrs, input_tangents):
        """Run ``op``'s forward rule and remember the tangent of its output(s)."""
        if len(state.recorders) == 1:  # (only this one records: blind to its rule's own ops)
            tangents, self._tangents = self._tangents, _NO_TANGENTS
            try:
                output_tangent = _forward_rule(op, inputs, output, attrs, input_tangents, True)
            finally:
                self._tangents = tangents
        else:
            hidden = _hide_from(self)
            try:
                output_tangent = _forward_rule(op, inputs, output, attrs, input_tangents,
                                               not state.recorders)
            finally:
                current = state.recorders
                if current:  # (this thread is in recording_threads: its stack was not empty)
                    state.recorders = current + hidden
                else:
                    set_recorders(hidden)
            tangents = self._tangents
        if type(output) is tuple:
            for item, tangent in zip(output, output_tangent):
                if tangent is not None and item._value.dtype.kind in "fc":
                    tangents[id(item)] = (item, tangent)
        elif output_tangent is not None and output._value.dtype.kind in "fc":
            tangents[id(output)] = (output, output_tangent)

    def _read_variable(self, variable, tensor):
        if tensor is not None and id(variable) in self._tangents:
            self._tangents[id(tensor)] = (tensor, self._tangents[id(variable)][1])


_NO_TANGENTS = MappingProxyType({})  # (read-only: a busy accumulator's view)


def _forward_rule(op, inputs, output, attrs, input_tangents, on_arrays: bool):
    """The output tangent by ``op``'s forward rule: on arrays if it takes them, else tensors."""
    try:
        if on_arrays and op.array_rules and type(output) is Tensor and \
                output._value.dtype.kind == "f":
            raw = op.jvp(array_of(inputs), output._value, attrs,
                         [None if t is None else t._value for t in input_tangents])
            return None if raw is None else wrap(raw)
        return op.jvp(inputs, output, attrs, input_tangents)
    except (InvalidArgumentError, ValueError) as error:  # (an array rule's shape error)
        shapes = [tuple(v._value.shape) if hasattr(v, "_value") else () for v in inputs]
        raise ValueError(f"Dimensions must be equal: the forward rule of {op.name} could "
                         f"not combine the tangents with inputs of shapes {shapes} ({error}); "
                         "give each ForwardAccumulator tangent its primal's shape.") from None
