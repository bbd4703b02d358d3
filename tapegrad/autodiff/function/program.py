"""From a traced :class:`Graph` to a compiled NumPy program.

Passes, in order (each one a function with its own tests):

* :func:`fold_constants`: an op whose inputs are all constants computed its value at trace
  time already; that value becomes a constant (the op never runs again);
* :func:`eliminate_common_subexpressions`: two ops with the same inputs and attributes compute
  the same value once;
* :func:`eliminate_dead_code`: ops that nothing returned, assigned or printed depends on are
  dropped;
* :func:`reusable_buffers` (at code generation): a ufunc writes its result into the array of
  an input it reads for the last time, where nothing else can see that array.

The result is generated as the source of one Python function (``r3 = f3(r0, r1)`` per step),
so a replay is a straight run of NumPy forwards with no dispatch, no dtype or broadcasting
checks (the trace fixed every shape and dtype) and no tape bookkeeping.
"""

from __future__ import annotations

import itertools
from typing import NamedTuple

from tapegrad._core.backend import np
from tapegrad._core.variable import Variable
from tapegrad.autodiff.function import fusion
from tapegrad.autodiff.function.symbolic import _slot_get
from tapegrad.autodiff.function.tracer import Graph, Step
from tapegrad.ops import nn as _nn

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
    return value._value if isinstance(value, Variable) else _slot_get(value)


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
#: Reusing a dead input's array, they run as that ufunc with ``out=`` (the same bits).
UFUNC_FORMS = {"Relu": (np.maximum, (0,))}
#: Non-ufunc ops that never keep a view of an input (reading an array they may share it).
_NO_VIEWS = frozenset({"MatMul", "Relu", "ReluGrad", "TanhGrad", "SigmoidGrad"})


def reusable_buffers(graph: Graph, escaping: set, steps: list | None = None) -> dict:
    """In-place buffer reuse: {step index: input register whose array the step may write its
    result into}. Only for a NumPy ufunc step reading, for the last time, an array that an
    earlier ufunc (or matmul) step made, that only ufuncs read (no view of it exists), that
    leaves neither the replay nor into a variable, and whose shape and dtype the result has.
    ``steps``: the program's steps when they are not the graph's (fused)."""
    steps = graph.steps if steps is None else steps
    readers: dict = {}
    for index, step in enumerate(steps):
        for register in step.ins:
            readers.setdefault(register, []).append(index)
        if step.kind == "assign" or has_effect(step):
            escaping = escaping | set(step.ins)  # a variable or Python keeps the array

    def ufunc(step) -> bool:
        return step.kind == "op" and not step.multi and isinstance(step.op.forward, np.ufunc)

    def in_place(step) -> bool:
        return (ufunc(step) and not step.attrs and step.call in ("1", "2")) or \
            (step.kind == "op" and step.op.name in UFUNC_FORMS and not step.attrs)

    def no_views(step) -> bool:
        return ufunc(step) or step.kind == "fused" or (
            step.kind == "op" and step.op.name in _NO_VIEWS)

    fresh: set = set()
    plan: dict = {}
    for index, step in enumerate(steps):
        if in_place(step):
            result = np.asarray(trace_value(graph, step.outs[0]))
            for register in step.ins:
                value = np.asarray(trace_value(graph, register)) if register in fresh else None
                if value is not None and register not in escaping and \
                        readers[register][-1] == index and result.ndim and \
                        value.shape == result.shape and value.dtype == result.dtype and \
                        all(no_views(steps[reader]) for reader in readers[register]):
                    plan[index] = register
                    fresh.discard(register)
                    break
        if step.kind == "fused" or (step.kind == "op" and not step.multi and (
                ufunc(step) or step.op.name in _FRESH_RESULTS or step.op.name in UFUNC_FORMS)):
            fresh.add(step.outs[0])
        elif step.kind == "op" and step.op is _LOSS_AND_SOFTMAX:
            fresh.update(step.outs)
    return plan


class _Fused(NamedTuple):
    """An op of the compiled program that is no registered op (one forward for two)."""

    name: str
    forward: object


def _loss_and_softmax(logits, labels):
    """Softmax cross-entropy and the softmax of the same logits, sharing their exponentials:
    the bits of the two ops' forwards."""
    parts = [None]
    loss = _nn._xent_forward(logits, labels, saved=parts)
    if parts[0] is None:  # (no rows: nothing shared)
        return loss, _nn._softmax_forward(logits, -1)
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


def escaping_registers(graph: Graph, steps: list, kept: set) -> set:
    """``kept`` and every register an assignment or a Python call receives."""
    escaping = set(kept)
    for step in steps:
        if step.kind == "assign" or has_effect(step):
            escaping.update(step.ins)
    return escaping


def generate(graph: Graph, parameters: list, returns: list, saved: list | None = None,
             fuse: bool = False):
    """Compile ``graph`` to a Python function of the registers ``parameters`` returning the
    tuple of ``returns`` (and, with ``saved``, the tuple of those registers too); ``fuse``:
    runs of elementwise ops become numexpr kernels (when numexpr is installed)."""
    kept = set(returns) | set(saved or ())
    steps = share_softmax(graph, graph.steps)
    if fuse and fusion.available():
        steps = fusion.fuse(steps, lambda r: trace_value(graph, r),
                            escaping_registers(graph, steps, kept), graph.constants)
    reuse = reusable_buffers(graph, kept, steps)
    env: dict = {"_as_array": _as_array, "np": np}
    names: dict = {}
    for register in parameters:
        names[register] = f"r{register}"
    for register, value in graph.constants.items():
        names[register] = f"c{register}"
        env[f"c{register}"] = value
    lines = [f"def replay({', '.join(names[r] for r in parameters)}):"]
    for index, step in enumerate(steps):
        args = ", ".join(names.get(i, f"r{i}") for i in step.ins)
        outs = [f"r{o}" for o in step.outs]
        for o in step.outs:
            names[o] = f"r{o}"
        if step.kind == "op":
            if index in reuse:  # the dead input's array takes the result
                args += f", out={names.get(reuse[index], f'r{reuse[index]}')}"
            lines.extend(_op_lines(graph, env, index, step, args, outs))
        elif step.kind == "fused":
            env[f"k{index}"] = step.op.program
            for k, constant in enumerate(step.op.constants):
                env[f"k{index}_{k}"] = constant
                args += f"{', ' if args else ''}k{index}_{k}"
            lines.append(f"    {outs[0]} = k{index}({args})")
        elif step.kind == "read":
            env[f"v{index}"] = step.op
            lines.append(f"    {outs[0]} = v{index}._value")
        elif step.kind == "assign":
            env[f"v{index}"] = step.op
            value = _assigned_value(graph, env, index, step, args)
            mode = step.attrs["mode"]
            if mode == "assign":
                lines.append(f"    v{index}._value = {value}")
            else:
                sign = "+" if mode == "assign_add" else "-"
                lines.append(f"    v{index}._value = v{index}._value {sign} {value}")
        else:
            env[f"e{index}"] = step.op
            lines.append(f"    e{index}({args})")
    result = "(" + "".join(f"{_name(names, r)}, " for r in returns) + ")"
    if saved is not None:
        result += ", (" + "".join(f"{_name(names, r)}, " for r in saved) + ")"
    lines.append(f"    return {result}")
    source = "\n".join(lines)
    exec(compile(source, f"<tf.function replay {next(_counter)}>", "exec"), env)
    replay = env["replay"]
    replay.source = source
    return replay


def _name(names: dict, register) -> str:
    return "None" if register is None else names[register]


def _op_lines(graph: Graph, env: dict, index: int, step: Step, args: str, outs: list) -> list:
    op = step.op
    if op.name == "CustomGradient":  # its outputs are the function's own (the last inputs)
        sources = args.split(", ")[-len(outs):]
        return [f"    {o} = {s}" for o, s in zip(outs, sources)]
    if op.name in UFUNC_FORMS and "out=" in args:  # in place: the op as its ufunc
        ufunc, constants = UFUNC_FORMS[op.name]
        env[f"f{index}"] = ufunc
        source, out = args.split(", out=")
        extra = "".join(f", {constant!r}" for constant in constants)
        return [f"    {outs[0]} = f{index}({source}{extra}, out={out})"]
    env[f"f{index}"] = op.forward
    call = f"f{index}({args}{', ' if args and step.attrs else ''}" \
           f"{f'**a{index}' if step.attrs else ''})"
    if step.attrs:
        env[f"a{index}"] = step.attrs
    if step.multi:
        lines = [f"    _m{index} = {call}"]
        lines += [f"    {o} = _as_array(_m{index}[{k}])" for k, o in enumerate(outs)]
        return lines
    if step.call != "1" and np.ndim(trace_value(graph, step.outs[0])) == 0:
        call = f"_as_array({call})"
    return [f"    {outs[0]} = {call}"]


def _assigned_value(graph: Graph, env: dict, index: int, step: Step, args: str) -> str:
    """The assigned register, converted to the variable's dtype where the trace's was not."""
    target = np.dtype(step.op.dtype._np)
    if np.asarray(trace_value(graph, step.ins[0])).dtype != target:
        env[f"t{index}"] = target
        return f"np.asarray({args}, dtype=t{index})"
    return args
