"""Forward-mode autodiff: ForwardAccumulator (as ``tf.autodiff.ForwardAccumulator``)."""

from __future__ import annotations

from tapegrad._core import hooks, nest
from tapegrad._core.errors import InvalidArgumentError
from tapegrad._core.tape import UnconnectedGradients, parse_unconnected, warn_once_per_line
from tapegrad._core.tensor import Recorder, Tensor, _wrap, convert_to_tensor, state
from tapegrad._core.variable import Variable


def _hide_from(accumulator) -> list:
    """Take the recorders from ``accumulator`` on (inclusive) off the stack and return them, so
    the accumulator does not see its own work while outer recorders do (nesting)."""
    stack = state.recorders
    if stack and stack[-1] is accumulator:  # the usual case: the innermost recorder
        return [stack.pop()]
    for position, recorder in enumerate(stack):
        if recorder is accumulator:
            hidden = stack[position:]
            del stack[position:]
            return hidden
    return []


class ForwardAccumulator(Recorder):
    """Compute Jacobian-vector products with forward-mode autodiff.

    >>> import tapegrad as tf
    >>> x = tf.constant([1.0, 2.0])
    >>> with tf.autodiff.ForwardAccumulator(x, tf.constant([1.0, 0.0])) as acc:
    ...     y = x * x * x
    >>> acc.jvp(y).numpy().tolist()
    [3.0, 0.0]
    """

    def __init__(self, primals, tangents):
        flat_primals = nest.flatten(primals)
        flat_tangents = nest.flatten(tangents)
        if len(flat_primals) != len(flat_tangents):
            raise ValueError(f"ForwardAccumulator: {len(flat_primals)} primals but "
                             f"{len(flat_tangents)} tangents; give one tangent per primal.")
        self._tangents: dict = {}
        self._recording = False
        for primal, tangent in zip(flat_primals, flat_tangents):
            if not isinstance(primal, (Tensor, Variable)):
                raise TypeError(f"ForwardAccumulator primals must be Tensors or Variables, got "
                                f"{type(primal).__name__}.")
            if id(primal) in self._tangents:
                raise ValueError(f"Tensor {primal!r} was specified as a primal multiple times. "
                                 "This may indicate an error. If it was intended, please sum "
                                 "the corresponding tangents.")
            if primal._value.dtype.kind not in "fc":
                warn_once_per_line(f"The dtype of the watched primal must be floating (e.g. "
                                    f"tf.float32), got tf.{primal.dtype.name}", depth=2)
                continue
            try:
                tangent = convert_to_tensor(tangent, dtype=primal.dtype)
            except (TypeError, ValueError) as error:
                raise ValueError(f"Tangent for a {primal.dtype.name} primal has the wrong dtype: "
                                 f"{error}") from None
            self._tangents[id(primal)] = (primal, tangent)

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
        hidden = _hide_from(self)
        try:
            raw_rule = op.jvp_raw
            if raw_rule is not None and not state.recorders and type(output) is Tensor and \
                    output._value.dtype.kind == "f":
                # nothing outside records the tangents' computation: the NumPy twin does it
                raw = raw_rule(inputs, output, attrs,
                               [None if t is None else t._value for t in input_tangents])
                output_tangent = None if raw is None else _wrap(raw)
            else:
                output_tangent = op.jvp(inputs, output, attrs, input_tangents)
        except (InvalidArgumentError, ValueError) as error:  # (a NumPy twin's shape error)
            shapes = [tuple(v._value.shape) if hasattr(v, "_value") else () for v in inputs]
            raise ValueError(f"Dimensions must be equal: the forward rule of {op.name} could "
                             f"not combine the tangents with inputs of shapes {shapes} ({error}); "
                             "give each ForwardAccumulator tangent its primal's shape.") from None
        finally:
            state.recorders.extend(hidden)
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

    # -- public API -----------------------------------------------------------------------------
    def __enter__(self) -> ForwardAccumulator:
        if self._recording:
            raise ValueError("Accumulator is already recording.")
        self._stack = state.recorders
        self._stack.append(self)
        self._recording = True
        return self

    def __exit__(self, *exc):
        if self._recording:
            for i in range(len(self._stack) - 1, -1, -1):
                if self._stack[i] is self:
                    del self._stack[i]
                    break
            self._recording = False
        return False

    def jvp(self, primals, unconnected_gradients=UnconnectedGradients.NONE):
        """The Jacobian-vector product of each tensor in the nest ``primals``."""
        unconnected = parse_unconnected(unconnected_gradients)

        def one(value):
            entry = self._tangents.get(id(value))
            if entry is not None:
                return entry[1]
            if unconnected is UnconnectedGradients.ZERO:
                return hooks.zeros_like(value)
            return None

        return nest.map_structure(one, primals)
