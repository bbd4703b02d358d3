"""The tracer: a recorder that writes the ops a traced function runs into a :class:`Graph`.

A graph is a list of steps over numbered registers. Registers are the function's tensor
arguments, the values of the variables it reads (read once when the call starts), constants
(tensors made inside the function or captured from outside, frozen into the trace as TensorFlow
freezes them) and the outputs of steps. Steps are:

* ``op``: ``outs = op.forward(*ins, **attrs)`` (how the dispatcher returned the result is
  kept too: ``kind`` 1, 2 or n for apply1/apply2/apply, so replay converts results alike);
* ``read``: a variable's value after an assignment earlier in the same call;
* ``assign``: ``variable.assign/assign_add/assign_sub(value)``;
* ``effect``: a host call kept for its side effect (``tf.print``).
"""

from __future__ import annotations

import sys
from typing import NamedTuple

from tapegrad._core.backend import np
from tapegrad._core.registry import Op
from tapegrad._core.tensor import Recorder, Tensor, array_of, state, to_array, wrap
from tapegrad._core.variable import Variable
from tapegrad.autodiff.function import symbolic
from tapegrad.autodiff.function.symbolic import (
    SymbolicTensor,
    Untraceable,
    _Info,
    _info_set,
    _slot_get,
    info_of,
    make_symbolic,
    user_location,
)


class Step(NamedTuple):
    kind: str  # "op", "read", "assign", "effect"
    op: object  # the Op; the Variable for read/assign; the callable for effect
    ins: tuple  # input registers
    attrs: dict | None  # op attributes; {"mode": ...} for assign
    outs: tuple  # output registers
    call: str  # "1", "2" or "n": which dispatcher entry recorded an op (its result handling)
    multi: bool  # a multi-output op


class Graph:
    """The recorded program of one trace."""

    def __init__(self):
        self.values: list = []  # register -> the trace's tensor (or Python constant)
        self.constants: dict = {}  # register -> constant value (array or Python scalar)
        self.arguments: list = []  # registers of the flat tensor arguments, in order
        self.variables: list = []  # Variables read or assigned, in first-use order
        self.variable_inputs: dict = {}  # variable index -> register of its value at call start
        self.steps: list = []
        self.outputs: list = []  # registers (or None) of the flat outputs

    def new_register(self, value) -> int:
        self.values.append(value)
        return len(self.values) - 1


#: Ops whose forward gives a result whose shape depends on the input values: a program
#: specialised to the traced shapes cannot replay what follows them.
DYNAMIC_SHAPES = frozenset({"Unique"})

_new_step = tuple.__new__  # Step(...) without its generated __new__ (the tracer's hot path)


def _pick(frame_locals: dict):
    return frame_locals.get("value", frame_locals.get("delta"))


class Tracer(Recorder):
    """Records every op of a trace into a :class:`Graph`; aborts on what it cannot replay."""

    def __init__(self, function_name: str):
        self.graph = Graph()
        self.refs: dict = {}  # id(tensor) -> register
        self.keep: list = []  # every tensor seen (keeps the ids above valid)
        self.names: dict = {}  # name -> times used (unique names as TensorFlow's)
        self.assigned: set = set()  # ids of variables assigned so far
        self.variable_index: dict = {}  # id(variable) -> index in graph.variables
        self.open = True  # its tensors may be used (False once the trace is done)
        self.converting = None  # the tensor an assign is converting (its read is allowed)
        self.function_name = function_name
        self.original: dict = {}  # id(variable) -> (variable, its value before the trace)

    # -- registers ----------------------------------------------------------------------
    def unique_name(self, base: str) -> str:
        count = self.names.get(base, 0)
        self.names[base] = count + 1
        return f"{base}:0" if count == 0 else f"{base}_{count}:0"

    def placeholder(self, value: np.ndarray, name: str, shape: tuple) -> Tensor:
        """A new argument tensor of the trace."""
        tensor = wrap(value)
        make_symbolic(tensor, self.unique_name(name), self, shape)
        register = self.graph.new_register(tensor)
        self.graph.arguments.append(register)
        self.refs[id(tensor)] = register
        return tensor

    def ref(self, value) -> int:
        """The register of an op input: known tensors, else a constant."""
        register = self.refs.get(id(value))
        if register is not None:
            return register
        if type(value) is SymbolicTensor:
            raise Untraceable("a tensor of an enclosing tf.function trace is used inside an "
                              "inner one", user_location(3))
        graph = self.graph
        if isinstance(value, Tensor):
            register = graph.new_register(value)
            graph.constants[register] = _slot_get(value)
            self.refs[id(value)] = register
            return register
        if isinstance(value, Variable):
            return self.variable_value(value)
        register = graph.new_register(value)  # a Python scalar the dispatcher passed as is
        graph.constants[register] = value
        return register

    def _output(self, tensor, op: Op) -> int:
        if type(tensor) is not Tensor:
            raise Untraceable(f"{op.name} returned a value the tracer cannot follow",
                              user_location(4))
        # (make_symbolic and unique_name inlined: this runs for every op of every trace)
        names = self.names
        base = op.name
        count = names.get(base, 0)
        names[base] = count + 1
        tensor.__class__ = SymbolicTensor
        _info_set(tensor, _Info(f"{base}:0" if count == 0 else f"{base}_{count}:0",
                                _slot_get(tensor).shape, self))
        values = self.graph.values
        register = len(values)
        values.append(tensor)
        self.refs[id(tensor)] = register
        return register

    # -- recorder protocol ----------------------------------------------------------------
    def _record1(self, op, x, output, attrs):
        self.converting = None
        register = self.refs.get(id(x))
        if register is None:
            register = self.ref(x)
        if op.forward is None or op.name in DYNAMIC_SHAPES or type(output) is tuple:
            self._add(op, (register,), output, attrs, "1")
        else:
            self.graph.steps.append(_new_step(Step, ("op", op, (register,), attrs,
                                                     (self._output(output, op),), "1", False)))

    def _record2(self, op, x, y, output, attrs):
        self.converting = None
        refs = self.refs
        first, second = refs.get(id(x)), refs.get(id(y))
        ins = (self.ref(x) if first is None else first,
               self.ref(y) if second is None else second)
        if op.forward is None or op.name in DYNAMIC_SHAPES or type(output) is tuple:
            self._add(op, ins, output, attrs, "2")
        else:
            self.graph.steps.append(_new_step(Step, ("op", op, ins, attrs,
                                                     (self._output(output, op),), "2", False)))

    def _record(self, op, inputs, output, attrs):
        self.converting = None
        self._add(op, tuple([self.ref(value) for value in inputs]), output, attrs, "n")

    def _add(self, op, ins, output, attrs, call):
        if op.forward is None and op.name != "CustomGradient":
            raise Untraceable(f"op {op.name} cannot be replayed", user_location(4))
        if op.name in DYNAMIC_SHAPES:
            raise Untraceable(f"the shape of {op.name}'s result depends on its input values",
                              user_location(4))
        if type(output) is tuple:
            outs = tuple([self._output(o, op) for o in output])
            self.graph.steps.append(_new_step(Step, ("op", op, ins, attrs, outs, call, True)))
        else:
            self.graph.steps.append(_new_step(Step, ("op", op, ins, attrs,
                                                     (self._output(output, op),), call, False)))

    def variable_value(self, variable: Variable, tensor: Tensor | None = None) -> int:
        """The register holding ``variable``'s value where the trace now is (``tensor``: the
        read the dispatcher made, else one is made here)."""
        index = self._variable(variable)
        if tensor is None:
            tensor = wrap(array_of(variable))
        first = id(variable) not in self.assigned
        register = self.graph.variable_inputs.get(index) if first else None
        self.keep.append(tensor)
        if register is None:
            make_symbolic(tensor, self.unique_name(variable.path.split("/")[-1] + "/Read"),
                          self)
            register = self.graph.new_register(tensor)
            if first:
                self.graph.variable_inputs[index] = register
            else:
                self.graph.steps.append(Step("read", variable, (), None, (register,), "1",
                                             False))
        else:
            make_symbolic(tensor, info_of(self.graph.values[register]).name, self)
        self.refs[id(tensor)] = register
        return register

    def _variable(self, variable: Variable) -> int:
        index = self.variable_index.get(id(variable))
        if index is None:
            index = len(self.graph.variables)
            self.variable_index[id(variable)] = index
            self.graph.variables.append(variable)
            self.original[id(variable)] = (variable, array_of(variable))
        return index

    def _read_variable(self, variable, tensor):
        if tensor is not None:
            self.variable_value(variable, tensor)
            return
        # An access without a read: an assignment is starting, or Python reads the value.
        caller = sys._getframe(2)
        method = caller.f_code.co_name
        if method not in ("assign", "assign_add", "assign_sub"):
            raise Untraceable(f"Variable.{method} inside a tf.function", user_location(3))
        value = _pick(caller.f_locals)
        if isinstance(value, Variable):
            value = value.read_value()
        self._variable(variable)
        if isinstance(value, Tensor):
            register = self.ref(value)
            self.converting = value
        else:  # a Python value or array: converted once, a constant of the variable's dtype
            register = self.ref(wrap(to_array(value, variable.dtype)))
        self.graph.steps.append(Step("assign", variable, (register,), {"mode": method}, (),
                                     "1", False))
        self.assigned.add(id(variable))

    def effect(self, function, inputs) -> None:
        """Keep a host call (run for its side effect on every replay)."""
        ins = tuple(self.ref(value) for value in inputs)
        self.graph.steps.append(Step("effect", function, ins, None, (), "n", False))


def active_tracer() -> Tracer | None:
    """The innermost trace when its tracer records now (tapes inside the function may sit
    above it), else None."""
    stack = symbolic.tracing.stack
    if stack and any(recorder is stack[-1] for recorder in state.recorders):
        return stack[-1]
    return None
