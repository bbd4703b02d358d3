"""``tf.cond`` and ``tf.while_loop`` inside a trace: each branch (the loop's condition and
body) is traced once into a sub-graph of its own, and the call is ONE recorded op (``If``,
``While``) that runs the chosen sub-program at replay.

A sub-graph reads the enclosing trace's tensors through *captures*: the branch tracer turns each
outer tensor it meets into an argument of its own, and the op takes the captured tensors as
inputs, so gradients reach them. ``If``'s reverse rule is itself a ``cond`` over the two
branches' gradients (so the branch not taken runs no rule, as TensorFlow). ``While``'s reverse
rule needs the iteration count, a value: under a trace it aborts the backward program, which
then runs eagerly with the call's values (exact, not compiled).

AutoGraph's ``for element in dataset`` is a ``DatasetLoop`` op of the same kind: its body is
traced once for the elements' shapes and the dataset is read afresh at every call;
``next(iterator)`` on a tf.data iterator argument is an ``IteratorGetNext`` op that reads the
next element at every call.
"""

from __future__ import annotations

import itertools

from tapegrad._core import hooks, nest
from tapegrad._core.errors import InvalidArgumentError, OutOfRangeError
from tapegrad._core.registry import NO_GRADIENT, register
from tapegrad._core.tape import TRAINABLE_KINDS
from tapegrad._core.tensor import apply, convert_to_tensor, set_recorders, state
from tapegrad.autodiff.function import symbolic
from tapegrad.autodiff.function.compiled import CompiledTrace, eager_replay
from tapegrad.autodiff.function.program import has_effect
from tapegrad.autodiff.function.symbolic import (
    SymbolicTensor,
    Untraceable,
    _slot_get,
    array_in_trace,
    user_location,
)
from tapegrad.autodiff.function.tracer import Tracer, active_tracer

__all__ = ["cond", "while_loop", "dataset_loop", "is_dataset", "TracedIterator",
           "active_tracer"]


class BranchTracer(Tracer):
    """Traces a branch or loop part inside an enclosing trace; outer tensors become captures."""

    def __init__(self, parent: Tracer, name: str):
        super().__init__(name)
        self.parent = parent
        self.captured: list = []  # the enclosing trace's tensors, in capture order

    def ref(self, value) -> int:
        register = self.refs.get(id(value))
        if register is not None:
            return register
        if type(value) is SymbolicTensor and symbolic.info_of(value).owner.open:
            self.parent.ref(value)  # an enclosing branch captures it too
            register = self.graph.new_register(value)
            self.graph.arguments.append(register)
            self.refs[id(value)] = register
            self.captured.append(value)
            return register
        return super().ref(value)

    def variable_value(self, variable, tensor=None) -> int:
        outer = self.parent.graph.values[self.parent.variable_value(variable)]
        register = self.ref(outer)
        if tensor is not None:
            self.refs[id(tensor)] = register
            self.keep.append(tensor)
            symbolic.make_symbolic(tensor, symbolic.info_of(outer).name, self)
        return register

    def _read_variable(self, variable, tensor):
        if tensor is None:
            raise Untraceable("assigning a variable inside tf.cond or tf.while_loop",
                              user_location(3))
        self.variable_value(variable, tensor)



def _trace_part(parent: Tracer, function, arguments: list, name: str):
    """(compiled sub-graph, its tracer, its flat outputs' structure) of ``function(*arguments)``
    where ``arguments`` are values for new placeholders (loop variables) of the part."""
    tracer = BranchTracer(parent, name)
    placeholders = [tracer.placeholder(array_in_trace(a), f"{name}_{k}", tuple(a.shape))
                    for k, a in enumerate(arguments)]
    saved = state.recorders
    set_recorders((tracer,))
    symbolic.tracing.stack.append(tracer)
    try:
        result = function(*placeholders)
        flat = [convert_to_tensor(item) for item in nest.flatten(result)]
        tracer.graph.outputs = [tracer.ref(item) for item in flat]
    finally:
        symbolic.tracing.stack.pop()
        set_recorders(saved)
    tracer.open = False
    values = [tracer.graph.values[r] for r in tracer.graph.outputs]
    return CompiledTrace(tracer.graph, tracer, None), tracer, result, values


def _in_order(trace: CompiledTrace, results) -> list:
    """A compiled part's results (floating first) back in its outputs' order."""
    ordered = [None] * trace.n_outputs
    for position, value in zip(trace.order, results):
        ordered[position] = value
    return ordered


# -- cond -------------------------------------------------------------------------------------

def _floating_first(values: list) -> list:
    """The op's output order: floating outputs first (the backward engine reads a multi-output
    op's trainability from its first output), as original positions."""
    return sorted(range(len(values)),
                  key=lambda k: _slot_get(values[k]).dtype.kind not in TRAINABLE_KINDS)


def _to_op_order(values, order: list) -> list:
    return [values[k] for k in order]


def _from_op_order(values, order: list) -> list:
    original = [None] * len(order)
    for position, value in zip(order, values):
        original[position] = value
    return original


def _if_forward(pred, *values, branches, positions, order, effects):
    taken = 0 if pred else 1
    trace = branches[taken].compile()
    return _to_op_order(_in_order(trace, trace.replay(*[values[p] for p in positions[taken]])),
                        order)


def _if_vjp(inputs, output, attrs, upstream, needs):
    pred, captures = inputs[0], inputs[1:]
    upstreams = _from_op_order(upstream if type(upstream) is tuple else (upstream,),
                               attrs["order"])
    floating = [k for k, c in enumerate(captures)
                if array_in_trace(c).dtype.kind in TRAINABLE_KINDS]
    if not floating:
        return tuple(None for _ in inputs)

    def branch_gradient(taken):
        def gradient():
            from tapegrad.autodiff.tape import GradientTape

            trace = attrs["branches"][taken].compile()
            sub_inputs = [captures[p] for p in attrs["positions"][taken]]
            with GradientTape(watch_accessed_variables=False) as tape:
                tape.watch([s for s in sub_inputs
                            if array_in_trace(s).dtype.kind in TRAINABLE_KINDS])
                outputs = _in_order(trace, eager_replay(trace, sub_inputs, None))
            pairs = [(o, u) for o, u in zip(outputs, upstreams)
                     if array_in_trace(o).dtype.kind in TRAINABLE_KINDS]
            grads = tape.gradient([o for o, _ in pairs], sub_inputs,
                                  output_gradients=[u for _, u in pairs],
                                  unconnected_gradients="zero") if pairs else \
                [None] * len(sub_inputs)
            full: dict = {}
            for position, grad in zip(attrs["positions"][taken], grads):
                if grad is not None and position in floating:
                    grad = hooks.add(full[position], grad) if position in full else grad
                    full[position] = grad
            return [full[k] if k in full else hooks.zeros_like(captures[k]) for k in floating]
        return gradient

    grads = cond(pred, branch_gradient(0), branch_gradient(1))
    result = [None] * len(captures)
    for k, grad in zip(floating, grads):
        result[k] = grad
    return (None, *result)


def _if_jvp(inputs, output, attrs, tangents):
    from tapegrad.autodiff.forward import ForwardAccumulator

    pred, captures = inputs[0], inputs[1:]
    taken = 0 if bool(array_in_trace(pred)) else 1
    trace = attrs["branches"][taken].compile()
    positions = attrs["positions"][taken]
    sub_inputs = [captures[p] for p in positions]
    sub_tangents = [tangents[p + 1] for p in positions]
    primals = [s for s, t in zip(sub_inputs, sub_tangents) if t is not None]
    with ForwardAccumulator(primals, [t for t in sub_tangents if t is not None]) as accumulator:
        outputs = _in_order(trace, eager_replay(trace, sub_inputs, None))
    return tuple(accumulator.jvp(o, unconnected_gradients="zero")
                 for o in _to_op_order(outputs, attrs["order"]))


IF = register("If", _if_forward, _if_vjp, _if_jvp, samples=(), n_outputs=2,
              sample_note="tf.cond inside tf.function: tests/test_function_control.py")


def cond(pred, true_fn, false_fn):
    """``tf.cond``: eagerly the chosen branch runs; inside a trace both are traced and the call
    is one ``If`` op."""
    tracer = active_tracer()
    if tracer is None or type(pred) is not SymbolicTensor:
        return true_fn() if bool(pred) else false_fn()
    true_trace, true_tracer, true_result, true_values = _trace_part(tracer, true_fn, [], "true")
    false_trace, false_tracer, _, false_values = _trace_part(tracer, false_fn, [], "false")
    if len(true_values) != len(false_values) or any(
            a.dtype != b.dtype or tuple(a.shape) != tuple(b.shape)
            for a, b in zip(true_values, false_values)):
        raise Untraceable("tf.cond branches return different structures, dtypes or shapes",
                          user_location(2))
    captures, positions = _union([true_tracer.captured, false_tracer.captured])
    order = _floating_first(true_values)
    outputs = apply(IF, (pred, *captures), {"branches": (true_trace, false_trace),
                                            "positions": positions, "order": order,
                                            "effects": _effects(true_trace, false_trace)})
    return nest.pack_sequence_as(true_result, _from_op_order(outputs, order))


def _effects(*traces) -> bool:
    """Whether a part prints (or calls Python): the op then runs for that at every replay."""
    return any(has_effect(step) for trace in traces for step in trace.graph.steps)


def _union(captured_lists: list) -> tuple:
    """(the captured tensors of all parts without repeats, each part's positions in it)."""
    union: list = []
    index: dict = {}
    positions = []
    for captured in captured_lists:
        mine = []
        for tensor in captured:
            if id(tensor) not in index:
                index[id(tensor)] = len(union)
                union.append(tensor)
            mine.append(index[id(tensor)])
        positions.append(mine)
    return union, positions


# -- while_loop -------------------------------------------------------------------------------

def _while_forward(*values, condition, body, positions, n_vars, maximum_iterations, order,
                   effects):
    state_values = list(values[:n_vars])
    captures = values[n_vars:]
    condition_trace = condition.compile()
    body_trace = body.compile()
    condition_captures = [captures[p] for p in positions[0]]
    body_captures = [captures[p] for p in positions[1]]
    count = 0
    while condition_trace.replay(*state_values, *condition_captures)[0]:
        if maximum_iterations is not None and count >= maximum_iterations:
            break
        state_values = _in_order(body_trace, body_trace.replay(*state_values, *body_captures))
        count += 1
    return _to_op_order(state_values, order)


def _loop_vjp(run_eagerly):
    """A loop op's reverse rule: the loop runs again with tapegrad ops under a tape
    (``run_eagerly(inputs, attrs)`` gives its final loop variables)."""
    def vjp(inputs, output, attrs, upstream, needs):
        from tapegrad.autodiff.tape import GradientTape

        # One source per distinct input (a tensor both a loop variable and a capture is one
        # source: its whole gradient goes to its first position).
        sources = {id(x): x for x in inputs if array_in_trace(x).dtype.kind in TRAINABLE_KINDS}
        with GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(list(sources.values()))
            state_values = run_eagerly(inputs, attrs)
        upstreams = _from_op_order(upstream if type(upstream) is tuple else (upstream,),
                                   attrs["order"])
        pairs = [(o, u) for o, u in zip(state_values, upstreams)
                 if array_in_trace(o).dtype.kind in TRAINABLE_KINDS]
        if not pairs:
            return tuple(None for _ in inputs)
        grads = dict(zip(sources, tape.gradient([o for o, _ in pairs], list(sources.values()),
                                                output_gradients=[u for _, u in pairs])))
        return tuple(grads.pop(id(x), None) for x in inputs)
    return vjp


def _loop_jvp(run_eagerly):
    """A loop op's forward rule: the loop runs again with tapegrad ops, accumulating."""
    def jvp(inputs, output, attrs, tangents):
        from tapegrad.autodiff.forward import ForwardAccumulator

        primals = [x for x, t in zip(inputs, tangents) if t is not None]
        with ForwardAccumulator(primals, [t for t in tangents if t is not None]) as accumulator:
            outputs = run_eagerly(inputs, attrs)
        return tuple(accumulator.jvp(o, unconnected_gradients="zero")
                     for o in _to_op_order(outputs, attrs["order"]))
    return jvp


def _eager_while(inputs, attrs) -> list:
    """The loop run with tapegrad ops (recorded by whatever records): the rules' forward."""
    n_vars = attrs["n_vars"]
    state_values, captures = list(inputs[:n_vars]), inputs[n_vars:]
    condition, body = attrs["condition"].compile(), attrs["body"].compile()
    condition_captures = [captures[p] for p in attrs["positions"][0]]
    body_captures = [captures[p] for p in attrs["positions"][1]]
    count = 0
    while bool(eager_replay(condition, [*state_values, *condition_captures], None)[0]):
        if attrs["maximum_iterations"] is not None and count >= attrs["maximum_iterations"]:
            break
        state_values = _in_order(body, eager_replay(body, [*state_values, *body_captures], None))
        count += 1
    return state_values


WHILE = register("While", _while_forward, _loop_vjp(_eager_while), _loop_jvp(_eager_while),
                 samples=(), n_outputs=2,
                 sample_note="tf.while_loop inside tf.function: tests/test_function_control.py")


def while_loop(condition, body, loop_vars, maximum_iterations=None):
    """``tf.while_loop`` inside a trace (the caller checked one is active): condition and body
    traced once each; the loop is one ``While`` op."""
    tracer = active_tracer()
    flat = [convert_to_tensor(v) for v in nest.flatten(loop_vars)]

    def condition_flat(*values):
        return condition(*_as_arguments(loop_vars, values))

    def body_flat(*values):
        return body(*_as_arguments(loop_vars, values))

    condition_trace, condition_tracer, _, condition_values = _trace_part(
        tracer, condition_flat, flat, "cond")
    body_trace, body_tracer, _, body_values = _trace_part(tracer, body_flat, flat, "body")
    if len(condition_values) != 1 or condition_values[0].dtype.name != "bool" or \
            condition_values[0].ndim:
        raise Untraceable("a tf.while_loop condition must return a scalar bool tensor",
                          user_location(2))
    if len(body_values) != len(flat) or any(
            a.dtype != b.dtype or tuple(a.shape) != tuple(b.shape)
            for a, b in zip(body_values, flat)):
        raise Untraceable("a tf.while_loop body must keep its loop variables' structure, "
                          "dtypes and shapes", user_location(2))
    captures, positions = _union([condition_tracer.captured, body_tracer.captured])
    order = _floating_first(flat)
    outputs = apply(WHILE, (*flat, *captures),
                    {"condition": condition_trace, "body": body_trace, "positions": positions,
                     "n_vars": len(flat), "maximum_iterations": maximum_iterations,
                     "order": order, "effects": _effects(condition_trace, body_trace)})
    return nest.pack_sequence_as(loop_vars, _from_op_order(outputs, order))


def _as_arguments(loop_vars, values) -> list:
    """The loop variables as the condition and body take them (one argument per item)."""
    if not isinstance(loop_vars, (list, tuple)):
        return [values[0]]
    packed = nest.pack_sequence_as(list(loop_vars), list(values))
    return list(packed)



# -- for ... in dataset -----------------------------------------------------------------------

# (tf.data is a layer above this one: recognised by module name, not imported)
_DATA_MODULE = "tapegrad.training.data"


def is_dataset(value) -> bool:
    """Whether ``value`` is a tf.data Dataset."""
    return any(kind.__module__ == _DATA_MODULE and kind.__name__ == "Dataset"
               for kind in type(value).__mro__)


def _element_arrays(dataset):
    """Each element of ``dataset`` as its flat list of arrays (each read outside any trace;
    the loop's body runs between the reads, inside the caller's)."""
    from tapegrad.autodiff.function.host import outside_traces

    with outside_traces():
        elements = iter(dataset)
    while True:
        with outside_traces():
            element = next(elements, _END)
        if element is _END:
            return
        yield [array_in_trace(convert_to_tensor(leaf)) for leaf in nest.flatten(element)]


_END = object()


def _shapes(arrays) -> tuple:
    return tuple((a.shape, a.dtype) for a in arrays)


def _body_for(arrays, bodies: dict):
    """(the body traced for this element's shapes, its captures' positions)."""
    found = bodies.get(_shapes(arrays))
    if found is None:
        raise InvalidArgumentError(
            f"a dataset element has shapes and dtypes {_shapes(arrays)}, which the traced loop "
            f"has no body for ({list(bodies)}): the dataset changed since the tf.function "
            "traced it (pass the dataset anew, or iterate it outside the function)")
    return found


def _dataset_loop_forward(*values, dataset, bodies, extra, n_vars, order, effects):
    state_values = list(values[:n_vars])
    captures = values[n_vars:]
    for arrays in _element_arrays(dataset):
        body, positions = _body_for(arrays, bodies)
        body = body.compile()
        state_values = _in_order(body, body.replay(*arrays, *state_values,
                                                   *[captures[p] for p in positions]))
        if extra is not None and not extra[0].compile().replay(
                *state_values, *[captures[p] for p in extra[1]])[0]:
            break  # (asked after each element: none is read after the break)
    return _to_op_order(state_values, order)


def _eager_dataset_loop(inputs, attrs) -> list:
    """The dataset loop run with tapegrad ops (recorded by whatever records)."""
    n_vars, extra = attrs["n_vars"], attrs["extra"]
    state_values, captures = list(inputs[:n_vars]), inputs[n_vars:]
    for arrays in _element_arrays(attrs["dataset"]):
        body, positions = _body_for(arrays, attrs["bodies"])
        body = body.compile()
        element = [convert_to_tensor(a) for a in arrays]
        state_values = _in_order(body, eager_replay(
            body, [*element, *state_values, *[captures[p] for p in positions]], None))
        if extra is not None and not bool(eager_replay(
                extra[0].compile(), [*state_values, *[captures[p] for p in extra[1]]],
                None)[0]):
            break
    return state_values


DATASET_LOOP = register("DatasetLoop", _dataset_loop_forward, _loop_vjp(_eager_dataset_loop),
                        _loop_jvp(_eager_dataset_loop), samples=(), n_outputs=2,
                        sample_note="for ... in dataset inside tf.function: "
                                    "tests/test_function_control.py")

#: element shapes a dataset loop traces its body for at most (a short last batch makes two)
_MOST_ELEMENT_SHAPES = 4
#: elements a trace reads to learn their shapes at most (a dataset may be endless: an element
#: of a shape not seen then raises InvalidArgumentError at the call)
_MOST_ELEMENTS_SCANNED = 10_000


def dataset_loop(dataset, body, loop_vars: tuple, extra_test=None) -> list:
    """``for element in dataset`` inside a trace (AutoGraph's): the body, a function of the
    element and the loop variables, is traced once for each shape the elements have (a short
    last batch is a second); the loop is one ``DatasetLoop`` op that iterates the dataset at
    every call. ``extra_test`` (of the loop variables) ends it early (a lowered ``break``)."""
    from tapegrad.autodiff.function.host import outside_traces

    tracer = active_tracer()
    shapes = {_shapes(arrays): arrays for arrays in
              itertools.islice(_element_arrays(dataset), _MOST_ELEMENTS_SCANNED)}
    if not shapes or len(shapes) > _MOST_ELEMENT_SHAPES:
        raise Untraceable("a loop over an empty dataset" if not shapes else
                          f"a loop over a dataset whose elements have more than "
                          f"{_MOST_ELEMENT_SHAPES} shapes", user_location(3))
    with outside_traces():
        structure = next(iter(dataset))  # (the nesting of an element)
    flat = [convert_to_tensor(v) for v in loop_vars]

    def body_flat(*values):
        n_element = len(values) - len(flat)
        element = nest.pack_sequence_as(structure, list(values[:n_element]))
        return tuple(body(element, *values[n_element:]))

    traces, parts = [], []
    for arrays in shapes.values():
        trace, part_tracer, _, body_values = _trace_part(
            tracer, body_flat, [convert_to_tensor(a) for a in arrays] + flat, "body")
        if len(body_values) != len(flat) or any(
                a.dtype != b.dtype or tuple(a.shape) != tuple(b.shape)
                for a, b in zip(body_values, flat)):
            raise Untraceable("a loop over a dataset must keep its loop variables' structure, "
                              "dtypes and shapes", user_location(3))
        traces.append(trace)
        parts.append(part_tracer.captured)
    extra_trace = None
    if extra_test is not None:
        extra_trace, extra_tracer, _, _ = _trace_part(tracer, extra_test, flat, "extra")
        parts.append(extra_tracer.captured)
    captures, positions = _union(parts)
    bodies = {key: (trace, positions[k]) for k, (key, trace) in enumerate(zip(shapes, traces))}
    order = _floating_first(flat)
    # ("effects": the dataset is read afresh at every call, never folded into the trace)
    outputs = apply(DATASET_LOOP, (*flat, *captures),
                    {"dataset": dataset, "bodies": bodies, "n_vars": len(flat), "order": order,
                     "extra": None if extra_trace is None else (extra_trace, positions[-1]),
                     "effects": True})
    return _from_op_order(outputs, order)


# -- next(iterator) on a tf.data iterator argument ---------------------------------------------

def _next_forward(*, iterator, element, traced, effects):
    if symbolic.tracing.stack:
        return traced  # (the trace reads nothing: the calls do)
    from tapegrad.autodiff.function.host import outside_traces

    with outside_traces():
        try:
            item = next(iterator)
        except StopIteration:
            raise OutOfRangeError("End of sequence") from None
    arrays = [array_in_trace(convert_to_tensor(leaf)) for leaf in nest.flatten(item)]
    if _shapes(arrays) != element:
        raise InvalidArgumentError(
            f"the iterator's element has shapes and dtypes {_shapes(arrays)}, the traced "
            f"function {element}: call the tf.function with a new iterator to trace it again")
    return arrays


ITERATOR_NEXT = register("IteratorGetNext", _next_forward, NO_GRADIENT, None, samples=(),
                         n_outputs=2, differentiable=False,
                         sample_note="next(iterator) inside tf.function: "
                                     "tests/test_function_control.py")


class TracedIterator:
    """What a trace sees for a tf.data iterator argument: ``next()`` is an op that reads the
    next element at every call. The trace reads none of the caller's iterator (an aborted trace
    must not lose an element): it learns the element's structure and shapes from a fresh
    iterator of the same dataset."""

    def __init__(self, iterator):
        self._iterator = iterator

    def __iter__(self):
        # (a loop over the rest of an iterator would read a fresh one's first element forever)
        raise Untraceable("a for loop over a tf.data iterator argument", user_location(2))

    def __next__(self):
        from tapegrad.autodiff.function.host import outside_traces

        dataset = getattr(self._iterator, "dataset", None)
        if not is_dataset(dataset):  # (as_numpy_iterator(), say: its values are Python's)
            raise Untraceable("next() on a tf.data iterator whose dataset is not known",
                              user_location(2))
        with outside_traces():
            item = next(iter(dataset), _END)
        if item is _END:
            raise OutOfRangeError("End of sequence")
        arrays = [array_in_trace(convert_to_tensor(leaf)) for leaf in nest.flatten(item)]
        outputs = apply(ITERATOR_NEXT, [], {"iterator": self._iterator, "traced": arrays,
                                            "element": _shapes(arrays), "effects": True})
        return nest.pack_sequence_as(item, list(outputs))
