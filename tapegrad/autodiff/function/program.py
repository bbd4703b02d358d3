"""From a traced :class:`Graph` to a compiled NumPy program.

Passes, in order (each one a function with its own tests):

* :func:`fold_constants`: an op whose inputs are all constants computed its value at trace
  time already; that value becomes a constant (the op never runs again);
* :func:`eliminate_common_subexpressions`: two ops with the same inputs and attributes compute
  the same value once;
* :func:`eliminate_dead_code`: ops that nothing returned, assigned or printed depends on are
  dropped;
* :func:`batch_independent` (at code generation): many independent calls of one ufunc on
  arrays of one shape run as one call on their concatenation;
* :func:`plan_buffers` (at code generation): a ufunc writes its result into the array of an
  input it reads for the last time, or into one of the program's own arrays (kept between
  calls, reused once their value is dead), where nothing else can see that array; ops of
  :data:`EXPANSIONS` are written out as their ufunc calls (shape-specialised: no test).

The result is generated as the source of one Python function (``r3 = f3(r0, r1)`` per step,
``f3(r0, r1, b2)`` where the result goes into a buffer), so a replay is a straight run of NumPy
forwards with no dispatch, no dtype or broadcasting checks (the trace fixed every shape and
dtype) and no tape bookkeeping.
"""

from __future__ import annotations

import itertools
import textwrap
import threading
from typing import NamedTuple

from tapegrad._core.backend import np
from tapegrad._core.registry import REGISTRY
from tapegrad._core.tensor import array_of
from tapegrad._core.variable import Variable
from tapegrad.autodiff.function import fusion
from tapegrad.autodiff.function.symbolic import _slot_get
from tapegrad.autodiff.function.tracer import Graph, Step

_ndarray = np.ndarray
_generic = np.generic


def _as_array(value):
    """As the dispatcher stores a result: arrays and NumPy scalars kept, the rest converted."""
    if type(value) is _ndarray or isinstance(value, _generic):
        return value
    return np.asarray(value)


def trace_value(graph: Graph, register: int):
    """The value register ``register`` held during the trace."""
    if register in graph.constants:
        return graph.constants[register]
    value = graph.values[register]
    return array_of(value) if isinstance(value, Variable) else _slot_get(value)


#: Ops that draw random values: a trace draws from copies of the generators (see
#: ``tapegrad.ops.random.draws_on_copies``) and every replay draws anew.
DRAWS = frozenset({"RandomUniform"})
#: Ops run for what they do besides their result (a Python function or a random draw on every
#: call): never folded, merged or dropped.
IMPURE = frozenset({"EagerPyFunc"}) | DRAWS


def effect_at_replay(step: Step) -> bool:
    """An assignment or print, or a tf.cond/tf.while_loop holding one: a trace records it
    without running it."""
    return step.kind in ("assign", "effect") or (
        step.kind == "op" and step.attrs is not None and bool(step.attrs.get("effects")))


def draws(step: Step) -> bool:
    """A random op: its trace-time values are not a call's (the trace drew on copies)."""
    return step.kind == "op" and step.op.name in DRAWS


def replays_as_traced(graph: Graph) -> bool:
    """Whether a replay computes what the trace did: no assignment, host call or effect
    (nested ones included) and no random draw."""
    for step in graph.steps:
        kind = step.kind
        if kind == "op":
            attrs = step.attrs
            if step.op.name in DRAWS or (attrs is not None and attrs.get("effects")):
                return False
        elif kind != "read":
            return False
    return True


def has_effect(step: Step) -> bool:
    return effect_at_replay(step) or (step.kind == "op" and step.op.name in IMPURE)


def _depends_on_input(graph: Graph) -> set:
    """Registers whose value depends on an argument, a variable, a replayed effect or a
    random draw."""
    dynamic = set(graph.arguments) | set(graph.variable_inputs.values())
    for step in graph.steps:
        if step.kind == "read" or any(i in dynamic for i in step.ins) or has_effect(step):
            dynamic.update(step.outs)  # (a py_function's result is new at every call)
    return dynamic


def fold_constants(graph: Graph) -> int:
    """Replace every op step that depends on no input by its trace-time value; returns how
    many steps were folded."""
    dynamic = _depends_on_input(graph)
    kept, folded = [], 0
    for step in graph.steps:
        if step.kind == "op" and not any(o in dynamic for o in step.outs) and \
                step.op.name != "CustomGradient" and not has_effect(step):
            for register in step.outs:
                graph.constants[register] = _slot_get(graph.values[register])
            folded += 1
        else:
            kept.append(step)
    graph.steps = kept
    return folded


_SIMPLE = (int, float, bool, str, type(None), np.dtype, _generic)


def _attrs_key(attrs):
    """A hashable key of ``attrs`` when they hold only simple values (else None: not merged)."""
    if not attrs:
        return ()
    items = []
    for name in sorted(attrs):
        value = attrs[name]
        if isinstance(value, _SIMPLE) or (isinstance(value, tuple) and
                                          all(isinstance(v, _SIMPLE) for v in value)):
            items.append((name, type(value).__name__, value))
        else:
            return None
    return tuple(items)


def eliminate_common_subexpressions(graph: Graph) -> int:
    """Merge op steps with the same op, inputs and attributes; returns how many merged."""
    alias: dict = {}
    seen: dict = {}
    kept, merged = [], 0
    for step in graph.steps:
        ins = tuple(alias.get(i, i) for i in step.ins)
        if ins != step.ins:
            step = step._replace(ins=ins)
        if step.kind == "op" and step.op.name != "CustomGradient" and not has_effect(step):
            attrs = _attrs_key(step.attrs)
            if attrs is not None:
                key = (step.op.name, ins, attrs, step.call)
                earlier = seen.get(key)
                if earlier is not None:
                    for mine, theirs in zip(step.outs, earlier.outs):
                        alias[mine] = theirs
                    merged += 1
                    continue
                seen[key] = step
        kept.append(step)
    graph.steps = kept
    graph.outputs = [alias.get(r, r) if r is not None else None for r in graph.outputs]
    return merged


def eliminate_dead_code(graph: Graph, roots=()) -> int:
    """Drop op and read steps whose outputs nothing needs; returns how many were dropped."""
    needed = {r for r in graph.outputs if r is not None} | set(roots)
    kept, dropped = [], 0
    for step in reversed(graph.steps):
        if has_effect(step) or any(o in needed for o in step.outs):
            needed.update(step.ins)
            kept.append(step)
        else:
            dropped += 1
    kept.reverse()
    graph.steps = kept
    return dropped


def optimise(graph: Graph, roots=()) -> dict:
    """Run every pass; returns what each did."""
    return {"folded": fold_constants(graph),
            "merged": eliminate_common_subexpressions(graph),
            "dropped": eliminate_dead_code(graph, roots)}


_counter = itertools.count()


#: Ops whose result is a new array of its own (never a view of an input).
_FRESH_RESULTS = frozenset({"MatMul", "TanhGrad", "SigmoidGrad"})
#: Ops that are a NumPy ufunc of their input and constants: name -> (ufunc, the constants).
#: Writing into a given array, they run as that ufunc with ``out`` (the same bits).
UFUNC_FORMS = {"Relu": (np.maximum, (0,))}
#: Non-ufunc ops that never keep a view of an input (reading an array they may share it).
_NO_VIEWS = frozenset({"MatMul", "Relu", "ReluGrad", "TanhGrad", "SigmoidGrad", "Sum", "Mean"})


def _elementwise(inputs, result) -> bool:
    """Every input is an array of the result's shape and dtype."""
    return all(type(v) is _ndarray and v.shape == result.shape and v.dtype == result.dtype
               for v in inputs)


def _relu_gradient_case(inputs, result) -> bool:
    g, y = inputs
    return type(g) is _ndarray and type(y) is _ndarray and g.shape == y.shape == result.shape


def _matrix_product_case(inputs, result) -> bool:
    return all(type(v) is _ndarray and v.ndim == 2 and v.dtype == result.dtype
               for v in inputs)


#: Ops whose forward, in a case the trace decides, is a few (g)ufunc calls: the forward ->
#: (the case, given the trace's input values and result; the calls, each (ufunc, operands,
#: destination)). An operand is an input's position, a destination, or ``("literal", value)``;
#: destinations are ``"out"`` (the result) and ``"tmp"`` (a scratch array of the result's
#: shape and dtype). Written out in the program, they run with no Python call or shape test and
#: write into the program's buffers (the same calls in the same order: the same bits).
EXPANSIONS = {
    # TanhGrad(y, t) = t - (t y) y
    REGISTRY["TanhGrad"].forward: (_elementwise, ((np.multiply, (1, 0), "out"),
                                                    (np.multiply, ("out", 0), "out"),
                                                    (np.subtract, (1, "out"), "out"))),
    # SigmoidGrad(y, t) = t y - (t y) y
    REGISTRY["SigmoidGrad"].forward: (_elementwise, (
        (np.multiply, (1, 0), "tmp"), (np.multiply, ("tmp", 0), "out"),
        (np.subtract, ("tmp", "out"), "out"))),
    # ReluGrad(g, y) = (y > 0 as g's dtype) g
    REGISTRY["ReluGrad"].forward: (_relu_gradient_case, (
        (np.greater, (1, ("literal", 0)), "tmp"), (np.multiply, ("tmp", 0), "out"))),
    # MatMul of two matrices
    REGISTRY["MatMul"].forward: (_matrix_product_case, ((np.matmul, (0, 1), "out"),)),
}
#: Most bytes of buffers one program keeps between its calls (beyond it, results are
#: allocated on each call as NumPy does).
BUFFER_BYTES = 64 << 20


class BufferPlan(NamedTuple):
    """Where each step of a program writes its result (steps not named allocate a new array,
    as NumPy does). ``into``: step index -> an input register whose array dies at that step
    and takes its result (an elementwise ufunc may write over its own operand). ``buffers``:
    step index -> number of the program's own array (kept between calls, used by one call at
    a time) that takes a result nothing outside the program sees. ``scratch``: step index ->
    buffer number of an expansion's intermediate. ``specs``: buffer number -> (shape, dtype).
    """

    into: dict
    buffers: dict
    scratch: dict
    specs: list


def _ufunc(step) -> bool:
    return step.kind == "op" and not step.multi and isinstance(step.op.forward, np.ufunc)


def _writes_out(graph: Graph, step) -> bool:
    """A step that can be told where to write its result: a ufunc of its inputs (positional,
    no attributes), an op with a ufunc form, or an expansion."""
    if step.kind != "op" or step.attrs:
        return False
    return (_ufunc(step) and step.call in ("1", "2") and len(step.ins) == step.op.forward.nin) \
        or step.op.name in UFUNC_FORMS or expansion(graph, step) is not None


def expansion(graph: Graph, step):
    """The calls of an :data:`EXPANSIONS` op step in the case they are its forward, or None."""
    entry = EXPANSIONS.get(step.op.forward) if step.kind == "op" and not step.multi else None
    if entry is None or step.attrs:
        return None
    result = trace_value(graph, step.outs[0])
    case, calls = entry
    if type(result) is not _ndarray or \
            not case([trace_value(graph, register) for register in step.ins], result):
        return None
    return calls


def _no_views(step) -> bool:
    return _ufunc(step) or step.kind in ("fused", "batched") or (
        step.kind == "op" and step.op.name in _NO_VIEWS)


def _view(step) -> bool:
    """A step whose result is a view of its input that the program reads (a transpose)."""
    return step.kind == "op" and step.op.name == "Transpose" and not step.multi


def plan_buffers(graph: Graph, escaping: set, steps: list | None = None,
                 budget: int | None = None) -> BufferPlan:
    """Buffer reuse: which array each step of a program writes into (see :class:`BufferPlan`).
    A result goes into an array only when only ufunc-like steps read it, or transposes whose
    results only those read (no view of it outlives its last reading); into an own buffer only
    when it leaves neither the replay nor into a variable or Python. ``steps``: the program's
    steps when they are not the graph's (fused); ``budget``: the most bytes of own buffers
    (:data:`BUFFER_BYTES` by default; 0: none, only dead inputs' arrays are reused)."""
    steps = graph.steps if steps is None else steps
    readers: dict = {}
    for index, step in enumerate(steps):
        for register in step.ins:
            readers.setdefault(register, []).append(index)
        if step.kind == "assign" or has_effect(step):
            escaping = escaping | set(step.ins)  # a variable or Python keeps the array

    def array_of(register):
        value = trace_value(graph, register)
        return value if type(value) is _ndarray and value.ndim else None

    known_private: dict = {}
    known_last: dict = {}

    def private(register) -> bool:
        """Only ufunc-like steps read the register (or its views), nothing outside does."""
        if register not in known_private:
            known_private[register] = register not in escaping and all(
                private(steps[i].outs[0]) if _view(steps[i]) else _no_views(steps[i])
                for i in readers.get(register, ()))
        return known_private[register]

    def last_read(register) -> int:
        """The index of the last step reading the register or a view of it (-1: none)."""
        if register not in known_last:
            known_last[register] = max((last_read(steps[i].outs[0]) if _view(steps[i]) else i
                                        for i in readers.get(register, ())), default=-1)
        return known_last[register]

    def hold(register, number) -> None:
        held[register] = number
        frees_at.setdefault(last_read(register), []).append(register)

    fresh: set = set()  # registers holding a new array of this call (NumPy allocated it)
    held: dict = {}  # register -> the buffer holding it
    frees_at: dict = {}  # step index -> held registers it reads for the last time
    free: dict = {}  # (shape, dtype) -> numbers of buffers nothing holds now
    plan = BufferPlan({}, {}, {}, [])
    budget = [BUFFER_BYTES if budget is None else budget]

    def take(result) -> int | None:
        key = (result.shape, result.dtype)
        if free.get(key):
            return free[key].pop()
        if result.nbytes > budget[0]:
            return None
        budget[0] -= result.nbytes
        plan.specs.append(key)
        return len(plan.specs) - 1

    for index, step in enumerate(steps):
        result = array_of(step.outs[0]) if step.outs and _writes_out(graph, step) else None
        if result is not None:
            calls = expansion(graph, step)
            dying = [] if calls is not None else [
                r for r in step.ins if last_read(r) == index and (r in fresh or r in held)
                and private(r) and (a := array_of(r)) is not None and
                a.shape == result.shape and a.dtype == result.dtype]
            mine = private(step.outs[0])
            reused = next((r for r in dying if r in fresh), None)
            if reused is None and mine:
                reused = next((r for r in dying if r in held), None)
            if reused is not None:  # the dead input's array takes the result
                plan.into[index] = reused
                if reused in fresh:
                    fresh.add(step.outs[0])
                else:
                    hold(step.outs[0], held.pop(reused))
            elif mine and (number := take(result)) is not None:
                plan.buffers[index] = number
                hold(step.outs[0], number)
            else:
                fresh.add(step.outs[0])
            if calls is not None and any(d == "tmp" for _, _, d in calls):
                number = take(result)
                if number is not None:
                    plan.scratch[index] = number
                    free.setdefault(plan.specs[number], []).append(number)
        elif step.kind == "fused" or (step.kind == "op" and not step.multi and (
                _ufunc(step) or step.op.name in _FRESH_RESULTS)):
            fresh.add(step.outs[0])
        elif step.kind == "op" and step.op is _LOSS_AND_SOFTMAX:
            fresh.update(step.outs)
        for register in frees_at.pop(index, ()):  # values read for the last time: their
            if register in held:  # buffers come free (unless an in-place step took them on)
                number = held.pop(register)
                free.setdefault(plan.specs[number], []).append(number)
    return plan


class _Fused(NamedTuple):
    """An op of the compiled program that is no registered op (one forward for two)."""

    name: str
    forward: object


def _loss_and_softmax(logits, labels):
    """Softmax cross-entropy and the softmax of the same logits, sharing their exponentials:
    the bits of the two ops' forwards."""
    parts = [None]
    loss = REGISTRY["SoftmaxCrossEntropyWithLogits"].forward(logits, labels, saved=parts)
    if parts[0] is None:  # (no rows: nothing shared)
        return loss, REGISTRY["Softmax"].forward(logits, -1)
    _, exp, total = parts[0]
    exp /= total  # (the softmax's own `e /= sum(e)`)
    return loss, exp


_LOSS_AND_SOFTMAX = _Fused("SoftmaxCrossEntropyAndSoftmax", _loss_and_softmax)


def share_softmax(graph: Graph, steps: list) -> list:
    """A softmax cross-entropy whose logits' softmax (over the last axis) the program computes
    too (its gradient, traced in the same function) becomes one step giving both."""
    softmax_of: dict = {}
    for index, step in enumerate(steps):
        if step.kind == "op" and step.op.name == "Softmax" and not step.multi:
            logits = step.ins[0]
            if step.attrs and step.attrs.get("axis") in (
                    -1, np.ndim(trace_value(graph, logits)) - 1):
                softmax_of.setdefault(logits, index)
    if not softmax_of:
        return steps
    merged = {}
    for index, step in enumerate(steps):
        later = softmax_of.get(step.ins[0]) if step.ins else None
        if step.kind == "op" and step.op.name == "SoftmaxCrossEntropyWithLogits" and \
                later is not None and later > index and later not in merged.values():
            merged[index] = later
    if not merged:
        return steps
    out = []
    dropped = set(merged.values())
    for index, step in enumerate(steps):
        if index in merged:
            out.append(step._replace(op=_LOSS_AND_SOFTMAX, attrs=None, call="n", multi=True,
                                     outs=step.outs + steps[merged[index]].outs))
        elif index not in dropped:
            out.append(step)
    return out


#: Fewest independent calls of one ufunc that :func:`batch_independent` runs as one.
BATCH_MIN = 8
#: Most bytes of one batch's inputs (its two arrays are kept between calls, counted against
#: :data:`BUFFER_BYTES`).
BATCH_BYTES = 1 << 20


class Batch(NamedTuple):
    """What a ``batched`` step runs: ``ufunc`` on the concatenation of its inputs (each of
    ``shape`` and ``dtype``), its results the pieces of one array."""

    ufunc: object
    shape: tuple
    dtype: object


def batch_independent(graph: Graph, steps: list, escaping: set) -> list:
    """``steps`` where at least :data:`BATCH_MIN` one-input ufunc steps of the same ufunc, on
    arrays of one shape and dtype that all exist where the first of them runs, and whose
    results only ufunc-like steps read, become one ``batched`` step there: one call on their
    inputs' concatenation instead of one call each (the cosines of a chain's sines in its
    backward pass, say). NumPy's loops give an element the same bits wherever it sits in an
    array, so results are unchanged."""
    defined = {}
    readers: dict = {}
    for index, step in enumerate(steps):
        for register in step.outs:
            defined[register] = index
        for register in step.ins:
            readers.setdefault(register, []).append(index)
    escaping = escaping_registers(graph, steps, escaping)
    groups: dict = {}
    for index, step in enumerate(steps):
        if not (_ufunc(step) and step.call == "1" and not step.attrs and
                step.op.forward.nin == 1 and step.op.forward.nout == 1):
            continue
        value, result = trace_value(graph, step.ins[0]), trace_value(graph, step.outs[0])
        if type(value) is not _ndarray or type(result) is not _ndarray or not value.ndim or \
                value.shape != result.shape or value.dtype != result.dtype or \
                step.outs[0] in escaping or \
                not all(_no_views(steps[i]) for i in readers.get(step.outs[0], ())):
            continue
        group = groups.setdefault((step.op.forward, value.shape, value.dtype), [])
        if not group or defined.get(step.ins[0], -1) < group[0]:
            group.append(index)
    batched, dropped = {}, set()
    for (ufunc, shape, dtype), members in groups.items():
        if len(members) >= BATCH_MIN and \
                len(members) * np.dtype(dtype).itemsize * int(np.prod(shape)) <= BATCH_BYTES:
            batched[members[0]] = Step("batched", Batch(ufunc, shape, dtype),
                                       tuple(steps[i].ins[0] for i in members), None,
                                       tuple(steps[i].outs[0] for i in members), "n", True)
            dropped.update(members[1:])
    return [batched.get(index, step) for index, step in enumerate(steps)
            if index not in dropped]


def escaping_registers(graph: Graph, steps: list, kept: set) -> set:
    """``kept`` and every register an assignment or a Python call receives."""
    escaping = set(kept)
    for step in steps:
        if step.kind == "assign" or has_effect(step):
            escaping.update(step.ins)
    return escaping


def generate(graph: Graph, parameters: list, returns: list, saved: list | None = None,
             fuse: bool = False, own_buffers: bool = True):
    """Compile ``graph`` to a Python function of the registers ``parameters`` returning the
    tuple of ``returns`` (and, with ``saved``, the tuple of those registers too); ``fuse``:
    runs of elementwise ops become numexpr kernels (when numexpr is installed);
    ``own_buffers``: results nothing outside sees go into arrays the function keeps between
    calls (a call finding them in use, from another thread or from within itself, runs a
    version without them)."""
    kept = set(returns) | set(saved or ())
    steps = share_softmax(graph, graph.steps)
    fused = fuse and fusion.available()
    if fused:
        steps = fusion.fuse(steps, lambda r: trace_value(graph, r),
                            escaping_registers(graph, steps, kept), graph.constants)
    budget = BUFFER_BYTES if own_buffers else 0
    if not fused and own_buffers:
        batched = batch_independent(graph, steps, kept)
        reserved = sum(2 * len(step.ins) * np.dtype(step.op.dtype).itemsize *
                       int(np.prod(step.op.shape)) for step in batched if step.kind == "batched")
        if reserved <= budget:  # (a batch's two arrays count against the program's bound)
            steps, budget = batched, budget - reserved
    plan = plan_buffers(graph, kept, steps, budget)
    env: dict = {"_as_array": _as_array, "np": np}
    names: dict = {}
    for register in parameters:
        names[register] = f"r{register}"
    for register, value in graph.constants.items():
        names[register] = f"c{register}"
        env[f"c{register}"] = value
    for number, (shape, dtype) in enumerate(plan.specs):
        env[f"b{number}"] = np.empty(shape, dtype)
    lines = []
    for index, step in enumerate(steps):
        args = ", ".join(names.get(i, f"r{i}") for i in step.ins)
        outs = [f"r{o}" for o in step.outs]
        if step.kind == "op":
            target = names.get(plan.into[index], f"r{plan.into[index]}") \
                if index in plan.into else None
            if index in plan.buffers:
                target = f"b{plan.buffers[index]}"
            if target is not None:
                outs = [target]
            lines.extend(_op_lines(graph, env, index, step, args, outs, target is not None,
                                   plan.scratch.get(index)))
        elif step.kind == "fused":
            env[f"k{index}"] = step.op.program
            for k, constant in enumerate(step.op.constants):
                env[f"k{index}_{k}"] = constant
                args += f"{', ' if args else ''}k{index}_{k}"
            lines.append(f"{outs[0]} = k{index}({args})")
        elif step.kind == "batched":
            outs = _batched_lines(env, lines, index, step, args)
        elif step.kind == "read":
            env[f"v{index}"] = step.op
            lines.append(f"{outs[0]} = v{index}._value")
        elif step.kind == "assign":
            env[f"v{index}"] = step.op
            value = _assigned_value(graph, env, index, step, args)
            mode = step.attrs["mode"]
            if mode == "assign":
                lines.append(f"v{index}._value = {value}")
            else:
                sign = "+" if mode == "assign_add" else "-"
                lines.append(f"v{index}._value = v{index}._value {sign} {value}")
        else:
            env[f"e{index}"] = step.op
            lines.append(f"e{index}({args})")
        names.update(zip(step.outs, outs))
    result = "(" + "".join(f"{_name(names, r)}, " for r in returns) + ")"
    if saved is not None:
        result += ", (" + "".join(f"{_name(names, r)}, " for r in saved) + ")"
    lines.append(f"return {result}")
    signature = ", ".join(names[r] for r in parameters)
    body = "\n".join("    " + line for line in lines)
    if plan.specs or any(step.kind == "batched" for step in steps):
        # one call at a time uses the buffers
        lock = threading.Lock()
        env["_acquire"], env["_release"] = lock.acquire, lock.release
        env["_unbuffered"] = _generated_once(
            lambda: generate(graph, parameters, returns, saved, fuse, own_buffers=False))
        body = (f"    if not _acquire(False):\n        return _unbuffered({signature})\n"
                f"    try:\n{textwrap.indent(body, '    ')}\n    finally:\n        _release()")
    source = f"def replay({signature}):\n{body}"
    exec(compile(source, f"<tf.function replay {next(_counter)}>", "exec"), env)
    replay = env["replay"]
    replay.source = source
    replay.buffers = plan.specs
    return replay


def _batched_lines(env: dict, lines: list, index: int, step: Step, args: str) -> list:
    """Append the lines of a ``batched`` step; returns the names of its results (pieces of
    one array kept between calls)."""
    ufunc, shape, dtype = step.op
    whole = (len(step.ins) * shape[0],) + tuple(shape[1:])
    env["u_concatenate"] = np.concatenate
    env[f"u_{ufunc.__name__}"] = ufunc
    env[f"bi{index}"] = np.empty(whole, dtype)
    env[f"bo{index}"] = results = np.empty(whole, dtype)
    lines.append(f"u_concatenate(({args},), out=bi{index})")
    lines.append(f"u_{ufunc.__name__}(bi{index}, bo{index})")
    names = []
    for k in range(len(step.outs)):
        env[f"bo{index}_{k}"] = results[k * shape[0]:(k + 1) * shape[0]]
        names.append(f"bo{index}_{k}")
    return names


def _generated_once(make):
    """A function calling what ``make()`` returns, made on the first call."""
    made = []

    def call(*args):
        if not made:
            made.append(make())
        return made[0](*args)

    return call


def _name(names: dict, register) -> str:
    return "None" if register is None else names[register]


def _op_lines(graph: Graph, env: dict, index: int, step: Step, args: str, outs: list,
              given: bool, scratch: int | None) -> list:
    """The lines running op step ``step``; ``given``: ``outs[0]`` names the array it writes
    into; ``scratch``: the buffer an expansion's intermediate goes into."""
    op = step.op
    if op.name == "CustomGradient":  # its outputs are the function's own (the last inputs)
        sources = args.split(", ")[-len(outs):]
        return [f"{o} = {s}" for o, s in zip(outs, sources)]
    calls = expansion(graph, step)
    if calls is not None:
        return _expanded_lines(env, calls, args.split(", "), outs[0], given,
                               None if scratch is None else f"b{scratch}")
    if given:  # the ufunc (or the op's ufunc form) writes into the given array
        ufunc, constants = UFUNC_FORMS.get(op.name, (op.forward, ()))
        env[f"f{index}"] = ufunc
        extra = "".join(f", {constant!r}" for constant in constants)
        return [f"f{index}({args}{extra}, {_out(ufunc)}{outs[0]})"]
    if op.name == "Transpose" and step.attrs and \
            tuple(step.attrs.get("perm", ())) == (1, 0):  # a matrix: its .T
        return [f"{outs[0]} = {args}.T"]
    env[f"f{index}"] = op.forward
    call = f"f{index}({args}{', ' if args and step.attrs else ''}" \
           f"{f'**a{index}' if step.attrs else ''})"
    if step.attrs:
        env[f"a{index}"] = step.attrs
    if step.multi:
        lines = [f"_m{index} = {call}"]
        lines += [f"{o} = _as_array(_m{index}[{k}])" for k, o in enumerate(outs)]
        return lines
    if step.call != "1" and np.ndim(trace_value(graph, step.outs[0])) == 0:
        call = f"_as_array({call})"
    return [f"{outs[0]} = {call}"]


def _out(ufunc) -> str:
    """How ``ufunc`` is given its output array: positionally (no keyword to parse), but as
    ``out=`` for maximum and minimum (NumPy deprecates their positional form)."""
    return "out=" if ufunc in (np.maximum, np.minimum) else ""


def _expanded_lines(env: dict, calls, inputs: list, out: str, given: bool,
                    scratch: str | None) -> list:
    """An expansion's ufunc calls; ``out`` (an array already when ``given``) and ``scratch``
    (None: a new array) take the results."""
    where = {"out": out, "tmp": scratch or "_tmp"}
    made = {"out": given, "tmp": scratch is not None}
    lines = []
    for ufunc, operands, destination in calls:
        env[f"u_{ufunc.__name__}"] = ufunc
        args = ", ".join(inputs[o] if type(o) is int else where[o] if type(o) is str else
                         repr(o[1]) for o in operands)
        if made[destination]:
            lines.append(f"u_{ufunc.__name__}({args}, {_out(ufunc)}{where[destination]})")
        else:
            lines.append(f"{where[destination]} = u_{ufunc.__name__}({args})")
            made[destination] = True
    return lines


def _assigned_value(graph: Graph, env: dict, index: int, step: Step, args: str) -> str:
    """The assigned register, converted to the variable's dtype where the trace's was not."""
    target = np.dtype(step.op.dtype.as_numpy_dtype)
    if np.asarray(trace_value(graph, step.ins[0])).dtype != target:
        env[f"t{index}"] = target
        return f"np.asarray({args}, dtype=t{index})"
    return args
