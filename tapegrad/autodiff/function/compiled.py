"""One trace, compiled: its forward replay, and the gradient programs derived from it.

Called with no tape active, a compiled trace runs its generated NumPy function and wraps the
results. Under a tape (or a forward accumulator, or an enclosing trace) the call is ONE recorded
op, ``FunctionCall``, whose reverse rule is the backward program: the trace's own ops'
reverse rules, traced once (per set of inputs that want a gradient) by running the backward
engine over the trace under a second tracer, then optimised and compiled like the forward.
When something records the backward pass itself (higher order), the rule replays the trace with
tapegrad ops instead, so every order of derivative stays exact.
"""

from __future__ import annotations

import itertools
import operator

from tapegrad._core import hooks, nest
from tapegrad._core.backend import np
from tapegrad._core.indexed_slices import IndexedSlices
from tapegrad._core.registry import register
from tapegrad._core.tape import TRAINABLE_KINDS, Recording, backward
from tapegrad._core.tensor import (
    Tensor,
    apply,
    apply1,
    apply2,
    array_of,
    set_recorders,
    state,
    wrap,
)
from tapegrad.autodiff.function import program as _program
from tapegrad.autodiff.function import symbolic
from tapegrad.autodiff.function.symbolic import Untraceable, _slot_get, array_in_trace
from tapegrad.autodiff.function.tracer import Graph, Tracer


class CompiledTrace:
    """A traced graph; on its second use the passes run and its replay is generated (a
    function called once pays for tracing only: the trace ran on the call's own values, so a
    program without effects already has the first call's results)."""

    def __init__(self, graph: Graph, tracer: Tracer, first_results: list | None,
                 fuse: bool = False):
        self.graph = graph
        self.fuse = fuse  # elementwise runs become numexpr kernels (jit_compile=True)
        self.tracer = tracer
        self.variables = graph.variables
        # Parameters: the flat tensor arguments, then the variables' values at call start.
        self.input_variables = sorted(graph.variable_inputs)
        self._read_variables = [self.variables[i] for i in self.input_variables]
        self.parameters = list(graph.arguments) + [graph.variable_inputs[i]
                                                   for i in self.input_variables]
        self.n_outputs = len(graph.outputs)
        self._first_results = first_results  # the trace's outputs (arrays), used once
        self.returns: list | None = None  # set by compile()
        self._replay = None  # generated on first use
        self.report: dict = {}  # what each pass did
        self._saving = None  # (replay that also returns the registers the backward needs)
        self._saved_registers: list | None = None
        self._backward: dict = {}  # needs -> compiled backward, or None when it cannot be
        self._positions: dict = {}  # needs -> (backward replay, picker of its saved values)

    def compile(self) -> CompiledTrace:
        """Run the passes (once)."""
        if self.returns is None:
            graph = self.graph
            self.report = _program.optimise(graph)
            # The op's outputs: every non-None output, floating ones first (the engine reads
            # a multi-output call's trainability from its first output); `order` maps back.
            flat = graph.outputs
            present = [k for k in range(len(flat)) if flat[k] is not None]
            self.order = sorted(present, key=lambda k: not self._floating(flat[k]))
            self.returns = [flat[k] for k in self.order]
            self._in_order = self.order == list(range(len(flat)))
        return self

    @property
    def replay(self):
        """The generated replay: parameters' arrays in, the outputs (in op order) out."""
        if self._replay is None:
            self.compile()
            self._replay = _program.generate(self.graph, self.parameters, self.returns,
                                            fuse=self.fuse)
        return self._replay

    def _floating(self, register) -> bool:
        if register is None:
            return False
        return np.asarray(_program.trace_value(self.graph, register)).dtype.kind in \
            TRAINABLE_KINDS

    # -- calls ----------------------------------------------------------------------------
    def run(self, flat_args: list) -> list:
        """The flat outputs, each at its returned position (None where None was returned)."""
        first = self._first_results
        if first is not None:
            self._first_results = None
            return [None if value is None else wrap(value) for value in first]
        replay = self.replay
        values = list(map(array_in_trace, flat_args))
        values += map(array_of, self._read_variables)
        if self._in_order:
            return [wrap(value) for value in replay(*values)]
        flat = [None] * self.n_outputs
        for position, value in zip(self.order, replay(*values)):
            flat[position] = wrap(value)
        return flat

    @property
    def has_custom_gradient(self) -> bool:
        """Whether the trace holds a tf.custom_gradient call."""
        return any(step.kind == "op" and step.op.name == "CustomGradient"
                   for step in self.graph.steps)

    def call_recorded(self, flat_args: list) -> list:
        """The call as one recorded op (a tape, an accumulator or an outer trace is active).
        The first call's results are the trace's, and its gradient replays the trace with
        tapegrad ops: the backward program is derived when a second call needs it."""
        self.compile()
        first, self._first_results = self._first_results, None
        if first is not None and self.has_custom_gradient:
            first = None  # (its gradient needs the backward program: eager_replay skips grad_fn)
        inputs = (*flat_args, *self._read_variables)
        # (a list emptied by the forward: an enclosing trace replays this op with new values)
        attrs = {"trace": self, "saved": {},
                 "first": [] if first is None else [[first[k] for k in self.order]]}
        if len(self.returns) == 1:
            outputs = (apply(FUNCTION_CALL_1, inputs, attrs),)
        else:
            outputs = apply(FUNCTION_CALL, inputs, attrs)
        if self._in_order:
            return list(outputs)
        flat = [None] * self.n_outputs
        for position, value in zip(self.order, outputs):
            flat[position] = value
        return flat

    # -- gradients ------------------------------------------------------------------------
    def saving_replay(self):
        """The replay that also returns every register a backward program may read."""
        if self._saving is None:
            everything = tuple(True for _ in self.parameters)
            compiled = self.backward_program(everything)
            saved = compiled[1] if compiled is not None else []
            self._saved_registers = saved
            self._saving = _program.generate(self.graph, self.parameters, self.returns, saved,
                                            fuse=self.fuse)
        return self._saving

    def backward_program(self, needs: tuple):
        """(replay, saved forward registers it reads) computing the gradients of the inputs
        in ``needs``, or None when the reverse rules cannot be traced (they read values)."""
        if needs not in self._backward:
            try:
                self._backward[needs] = _derive_backward(self, needs)
            except Untraceable:
                self._backward[needs] = None
        return self._backward[needs]

    def saved_positions(self, needs: tuple):
        """(backward replay, a function picking its saved values out of the saving replay's),
        or None."""
        found = self._positions.get(needs)
        if found is not None:
            return found
        compiled = self.backward_program(needs)
        if compiled is None or self._saved_registers is None:
            return None
        index = {r: k for k, r in enumerate(self._saved_registers)}
        if any(r not in index for r in compiled[1]):
            return None
        found = self._positions[needs] = (compiled[0],
                                          _picker([index[r] for r in compiled[1]]))
        return found


def _picker(positions: list):
    """A function giving the items at ``positions`` of a tuple, as a tuple."""
    if len(positions) == 1:
        position = positions[0]
        return lambda items: (items[position],)
    return operator.itemgetter(*positions) if positions else (lambda items: ())


def _derive_backward(trace: CompiledTrace, needs: tuple):
    graph = trace.graph
    values = graph.values
    tracer = Tracer("gradient")
    saved_of: dict = {}
    forward_registers = set(graph.arguments) | set(graph.variable_inputs.values())
    for step in graph.steps:
        forward_registers.update(step.outs)
    for slot, tensor in enumerate(values):
        if not isinstance(tensor, Tensor):
            continue  # a Python scalar: the backward tracer keeps its own constants
        mine = tracer.graph.new_register(tensor)
        tracer.refs[id(tensor)] = mine
        if slot in graph.constants:
            tracer.graph.constants[mine] = graph.constants[slot]
        elif slot in forward_registers:
            saved_of[mine] = slot
    recording = Recording(False)
    sources = [values[r] for r, need in zip(trace.parameters, needs)]
    for source, need in zip(sources, needs):
        if need and _slot_get(source).dtype.kind in TRAINABLE_KINDS:
            recording.watch_tensor(source)
    for step in graph.steps:
        if step.kind != "op":
            continue
        inputs = tuple(values[i] for i in step.ins)
        output = tuple(values[o] for o in step.outs) if step.multi else values[step.outs[0]]
        recording._record(step.op, inputs, output, step.attrs)
    targets = [values[r] for r in trace.returns if trace._floating(r)]
    upstreams = [tracer.placeholder(_slot_get(t), "upstream", tuple(_slot_get(t).shape))
                 for t in targets]
    saved_recorders = state.recorders
    set_recorders((tracer,))
    symbolic.tracing.stack.append(tracer)
    trace.tracer.open = True
    try:
        grads = backward(recording, targets, upstreams, sources)
        grads = [g.to_dense() if type(g) is IndexedSlices else g for g in grads]
    finally:
        trace.tracer.open = False
        symbolic.tracing.stack.pop()
        set_recorders(saved_recorders)
    tracer.open = False
    backward_graph = tracer.graph
    backward_graph.outputs = [None if g is None else tracer.ref(g) for g in grads]
    upstream_registers = list(backward_graph.arguments)
    # The saved forward values are inputs of the backward program too: what depends on them
    # (cos(x) of sin's rule, say) must not be folded into a constant of the first call's.
    backward_graph.arguments = upstream_registers + sorted(saved_of)
    _program.optimise(backward_graph)
    used = set()
    for step in backward_graph.steps:
        used.update(step.ins)
    used.update(r for r in backward_graph.outputs if r is not None)
    saved_mine = [r for r in sorted(saved_of) if r in used and r not in backward_graph.constants]
    # Saved forward values are parameters of the backward program, not constants.
    replay = _program.generate(backward_graph, saved_mine + list(upstream_registers),
                               backward_graph.outputs, fuse=trace.fuse)
    return replay, [saved_of[r] for r in saved_mine]


def output_packer(structure):
    """A function packing a call's flat outputs into ``structure`` (as
    ``nest.pack_sequence_as``): plain lists, tuples and dicts become one generated expression.

    >>> pack = output_packer((None, [None, {"b": None, "a": None}]))
    >>> pack(["x", "y", "a", "b"])
    ('x', ['y', {'b': 'b', 'a': 'a'}])
    """
    if structure is None:
        return lambda outputs: None
    kind = type(structure)
    if not isinstance(structure, (list, tuple, dict)):
        return operator.itemgetter(0)  # one output
    if (kind is tuple or kind is list) and \
            not any(isinstance(item, (list, tuple, dict)) for item in structure):
        return kind  # a flat tuple or list: the outputs as they are
    env: dict = {}
    leaves = itertools.count()

    def expression(node):
        kind = type(node)
        if kind is list or kind is tuple:
            items = [expression(item) for item in node]
            if None in items:
                return None
            return "[" + ", ".join(items) + "]" if kind is list else \
                "(" + "".join(item + ", " for item in items) + ")"
        if kind is dict:
            try:
                order = sorted(node)
            except TypeError:
                order = list(node)
            built = {key: expression(node[key]) for key in order}  # leaves in sorted order
            if None in built.values():
                return None
            names = {key: f"k{len(env) + n}" for n, key in enumerate(node)}
            env.update({names[key]: key for key in node})
            return "{" + ", ".join(f"{names[key]}: {built[key]}" for key in node) + "}"
        if isinstance(node, (list, tuple, dict)):
            return None  # a namedtuple or a subclass: nest builds it
        return f"outputs[{next(leaves)}]"

    source = expression(structure)
    if source is None:
        return lambda outputs: nest.pack_sequence_as(structure, outputs)
    return eval(f"lambda outputs: {source}", env)


# -- the FunctionCall op ------------------------------------------------------------------

def _outputs(values, trace, saved, first):
    if first:
        return first.pop()
    for recorder in state.recorders:
        if type(recorder) is Recording:  # a tape: the backward program will need values
            outputs, registers = trace.saving_replay()(*values)
            saved["registers"] = registers
            return outputs
    return trace.replay(*values)


def _call_forward(*values, trace, saved, first):
    return _outputs(values, trace, saved, first)


def _call_forward_1(*values, trace, saved, first):
    (output,) = _outputs(values, trace, saved, first)
    return output


def _replayed_backward(output, attrs, upstream, needs):
    """The input gradients from the trace's compiled backward program, or None when the first
    call saved nothing (its trace gave the results). An array upstream (the engine's raw
    mode) gets arrays back; a tensor one, tensors."""
    registers = attrs["saved"].get("registers")
    compiled = None if registers is None else attrs["trace"].saved_positions(
        needs if type(needs) is tuple else tuple(needs))
    if compiled is None:
        return None
    replay, saved_values = compiled
    if type(upstream) is np.ndarray or isinstance(upstream, np.generic):
        # one output, its gradient an array (raw mode): arrays out, nothing wrapped
        return tuple(array_in_trace(g) if type(g) is Tensor else g
                     for g in replay(*saved_values(registers), upstream))
    upstreams = upstream if type(upstream) is tuple else (upstream,)
    outputs = output if type(output) is tuple else (output,)
    arrays = [array_in_trace(_dense(u)) if isinstance(u, (Tensor, IndexedSlices)) else u
              for u, o in zip(upstreams, outputs)
              if _slot_get(o).dtype.kind in TRAINABLE_KINDS]
    return tuple(None if g is None or isinstance(g, Tensor) else wrap(g)
                 for g in replay(*saved_values(registers), *arrays))


def _dense(grad):
    return grad.to_dense() if type(grad) is IndexedSlices else grad


def eager_replay(trace: CompiledTrace, inputs, saved: dict | None) -> list:
    """Run the trace with tapegrad ops on ``inputs`` (recorded by whatever records), skipping
    assignments and effects; the outputs in op order."""
    graph = trace.graph
    env: dict = dict(zip(trace.parameters, inputs))
    registers = saved.get("registers") if saved else None
    saved_index = {r: k for k, r in enumerate(trace._saved_registers or [])}

    def value(register):
        if register in env:
            return env[register]
        if register in graph.constants:
            constant = graph.constants[register]
            return wrap(constant) if isinstance(constant, np.ndarray) else constant
        raise KeyError(register)

    for step in graph.steps:
        if step.kind == "op":
            if step.op.name == "CustomGradient":
                outs = [value(i) for i in step.ins[-len(step.outs):]]
            else:
                args = [value(i) for i in step.ins]
                if step.call == "1":
                    result = apply1(step.op, args[0], step.attrs)
                elif step.call == "2":
                    result = apply2(step.op, args[0], args[1], step.attrs)
                else:
                    result = apply(step.op, args, step.attrs)
                outs = list(result) if step.multi else [result]
            env.update(zip(step.outs, outs))
        elif step.kind == "read":
            register = step.outs[0]
            array = registers[saved_index[register]] if registers is not None and \
                register in saved_index else array_of(step.op)
            env[register] = wrap(array)
    return [value(r) for r in trace.returns]


def _call_vjp(inputs, output, attrs, upstream, needs):
    if not state.recorders:  # nothing records the backward pass: the compiled program runs it
        grads = _replayed_backward(output, attrs, upstream, needs)
        if grads is not None:
            return grads
    from tapegrad.autodiff.tape import GradientTape

    trace = attrs["trace"]
    if trace.has_custom_gradient:
        # (the replay below records the function's own ops, not the grad_fn: a wrong gradient)
        raise NotImplementedError(
            "tf.function: the gradient of a call whose function uses tf.custom_gradient cannot "
            "be recorded (an enclosing tape, an accumulator or a diagnostic is recording the "
            "backward pass); compute it outside the enclosing tape, or run this function "
            "eagerly (tf.config.run_functions_eagerly(True)).")
    inputs = _tensors(inputs)  # (arrays in the engine's raw mode: FUNCTION_CALL_1)
    upstream = _tensors(upstream) if type(upstream) is tuple else _tensors((upstream,))[0]
    sources = [x for x, need in zip(inputs, needs) if need]
    with GradientTape(watch_accessed_variables=False) as tape:
        tape.watch([s for s in sources if _slot_get(s).dtype.kind in TRAINABLE_KINDS]
                   if sources else [])
        outputs = eager_replay(trace, inputs, attrs["saved"])
    upstreams = upstream if type(upstream) is tuple else (upstream,)
    pairs = [(o, u) for o, u in zip(outputs, upstreams)
             if o is not None and isinstance(o, Tensor) and
             array_in_trace(o).dtype.kind in TRAINABLE_KINDS]
    if not pairs:
        return tuple(None for _ in inputs)
    grads = tape.gradient([o for o, _ in pairs], sources,
                          output_gradients=[u for _, u in pairs])
    result, remaining = [], iter(grads)
    for need in needs:
        result.append(next(remaining) if need else None)
    return tuple(result)


def _tensors(values) -> tuple:
    """``values`` with arrays wrapped as tensors."""
    return tuple(wrap(v) if isinstance(v, (np.ndarray, np.generic)) else v for v in values)


def _call_jvp_1(inputs, output, attrs, tangents):
    """The one output's tangent; an array when the forward engine gave arrays."""
    raw = type(output) is not Tensor
    (tangent,) = _call_jvp(_tensors(inputs), output, attrs, _tensors(tangents))
    return array_in_trace(tangent) if raw and tangent is not None else tangent


def _call_jvp(inputs, output, attrs, tangents):
    from tapegrad.autodiff.forward import ForwardAccumulator

    trace = attrs["trace"]
    primals = [x for x, t in zip(inputs, tangents) if t is not None]
    with ForwardAccumulator(primals, [t for t in tangents if t is not None]) as accumulator:
        outputs = eager_replay(trace, inputs, attrs["saved"])
    result = []
    for out in outputs:
        tangent = accumulator.jvp(out) if isinstance(out, Tensor) else None
        result.append(tangent if tangent is not None or not isinstance(out, Tensor) or
                      array_in_trace(out).dtype.kind not in TRAINABLE_KINDS
                      else hooks.zeros_like(out))
    return tuple(result)


#: The call of a function with several outputs (or none).
FUNCTION_CALL = register("FunctionCallN", _call_forward, _call_vjp, _call_jvp, samples=(),
                         n_outputs=2,
                         sample_note="a compiled tf.function call: tests/test_function.py")
#: The call of a function with one output: a single-output op, whose rules take arrays when
#: nothing records them (the engines' raw mode: no wrapping around the backward program).
FUNCTION_CALL_1 = register("FunctionCall", _call_forward_1, _call_vjp, _call_jvp_1,
                           samples=(), array_rules=True,
                           sample_note="a compiled tf.function call: tests/test_function.py")
