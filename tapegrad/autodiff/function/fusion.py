"""Fusion (``tf.function(jit_compile=True)`` with the ``tapegrad[fast]`` extra): runs of
elementwise ops of a compiled program become one numexpr kernel.

Why numexpr: a small wheel (about 1 MB, NumPy its only dependency) that compiles an
elementwise expression once into a bytecode program run in cache-sized blocks, so a run of ops
reads its inputs once and makes no temporary arrays; calling a compiled program costs well
under a microsecond. A JIT compiler (numba, JAX) would fuse more but weighs tens to hundreds
of MB.

A kernel is a tree of fusable op steps: an op's result joins the kernel of the op that reads it
when that op is its only reader, both are fusable, and the value leaves neither the program nor
into a variable. Every other result is materialised as before. Kernels keep each op's own
arithmetic in the same order (Python scalars become 0-d arrays of the kernel's dtype, as
NumPy converts them), so ``+ - * /`` and ``sqrt`` give the same bits, except TanhGrad and
SigmoidGrad, reordered so that a long backward pass fuses (see ``REORDERED``); transcendental
functions (``sin``, ``exp``, ``tanh``...) come from the C library instead of NumPy's own loops
and may differ in the last bit (results agree with eager to about 1e-6 relative in float32).
"""

from __future__ import annotations

import re
from typing import NamedTuple

from tapegrad._core.backend import np
from tapegrad._core.registry import REGISTRY

_UNSET = object()
numexpr = _UNSET  # the optional extra, imported on first use (None when missing)

#: An op's forward -> (numexpr template over its operands {0}, {1}; the operands it reads more
#: than once, which must be kernel inputs rather than inlined expressions). Each template does
#: the forward's own arithmetic in its order but those of REORDERED; ``one`` is 1 in the
#: kernel's dtype.
_TEMPLATES = {
    np.add: ("({0} + {1})", ()), np.subtract: ("({0} - {1})", ()),
    np.multiply: ("({0} * {1})", ()), np.true_divide: ("({0} / {1})", ()),
    np.negative: ("(-{0})", ()), np.absolute: ("abs({0})", ()),
    np.arctan2: ("arctan2({0}, {1})", ()), np.sqrt: ("sqrt({0})", ()),
    np.square: ("({0} * {0})", (0,)), np.reciprocal: ("({one} / {0})", ()),
    **{getattr(np, name): (name + "({0})", ()) for name in (
        "sin", "cos", "tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "arcsinh",
        "arccosh", "arctanh", "exp", "expm1", "log", "log1p")},
    # TanhGrad(y, t) = t - (t y) y and SigmoidGrad(y, t) = t y - (t y) y, reordered as
    # t (1 - y y) and t (y (1 - y)): t, the upstream gradient, read once, so the kernel takes in
    # the ops computing it (the backward pass fuses across these ops instead of stopping)
    REGISTRY["TanhGrad"].forward: ("({1} * ({one} - ({0} * {0})))", (0,)),
    REGISTRY["SigmoidGrad"].forward: ("({1} * ({0} * ({one} - {0})))", (0,)),
}
#: The templates above whose arithmetic differs in order from their op's forward.
REORDERED = frozenset({REGISTRY["TanhGrad"].forward, REGISTRY["SigmoidGrad"].forward})
_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
MAX_OPS = 24  # per kernel: keeps numexpr's compile time (quadratic in size) small
MAX_INPUTS = 24  # below NumPy's iterator limit on operands


def available() -> bool:
    """Whether the fusing backend (numexpr) is installed (imported on the first ask)."""
    global numexpr
    if numexpr is _UNSET:
        try:
            import numexpr as backend
        except ImportError:  # without the extra, programs run unfused
            backend = None
        numexpr = backend
    return numexpr is not None


def _numexpr_type(array) -> type:
    return numexpr.necompiler.getType(array)


class Kernel(NamedTuple):
    """One fused expression: what a ``fused`` step runs."""

    expression: str
    program: object  # the compiled numexpr program: program(*inputs) -> array
    constants: tuple  # 0-d arrays passed after the registers


_cache: dict = {}  # (expression, signature) -> compiled program, shared by all programs
CACHE_SIZE = 512


def _compile(expression: str, names: list, types: list):
    """The numexpr program of ``expression`` over ``names`` (in call order), its inputs named
    by position so that equal kernels of different programs share one compilation."""
    positional = {name: f"a{k}" for k, name in enumerate(names)}
    expression = re.sub(r"\b[rk]\d+\b", lambda m: positional[m.group(0)], expression)
    key = (expression, tuple(types))
    program = _cache.get(key)
    if program is None:
        if len(_cache) >= CACHE_SIZE:
            del _cache[next(iter(_cache))]  # the oldest
        program = _cache[key] = numexpr.NumExpr(
            expression, signature=[(f"a{k}", t) for k, t in enumerate(types)],
            optimization="none")
    return program


def _template(step):
    """(template, operands read twice) of a fusable op step, else None."""
    if step.kind != "op" or step.multi or step.attrs:
        return None
    try:
        return _TEMPLATES.get(step.op.forward)
    except TypeError:  # an unhashable forward
        return None


def fuse(steps: list, value_of, escaping: set, constants: dict | None = None) -> list:
    """``steps`` with every run of fusable elementwise ops replaced by one ``fused`` step
    (kind "fused", op a :class:`Kernel`, ins its input registers). ``value_of(register)``:
    its traced value (an array or a Python scalar); ``escaping``: registers that must be
    materialised (returned, saved, assigned or passed to Python); ``constants``: the
    program's constant registers (equal small ones are read as one kernel input)."""
    same = _equal_constants(constants or {})
    readers: dict = {}
    for step in steps:
        for register in step.ins:
            readers[register] = readers.get(register, 0) + 1
    fusable: dict = {}  # output register -> (step index, template, operands read twice)
    for index, step in enumerate(steps):
        rule = _template(step)
        if rule is not None:
            out = value_of(step.outs[0])
            if type(out) is np.ndarray and out.dtype in _DTYPES and out.ndim and \
                    all(_operand_ok(value_of(i), out) for i in step.ins):
                fusable[step.outs[0]] = (index, *rule)
    constants: dict = {}  # name -> 0-d array, and (dtype, bytes) -> name
    trees: dict = {}  # output register -> _Tree
    absorbed: set = set()
    for register, (index, template, twice) in fusable.items():
        out = value_of(register)
        operands, tree = [], _Tree("", [], [], 1)
        inputs = steps[index].ins
        for position, source in enumerate(inputs):
            inner = trees.get(source)
            if inner is not None and position not in twice and source not in escaping and \
                    readers[source] == 1 and value_of(source).shape == out.shape and \
                    tree.ops + inner.ops <= MAX_OPS and \
                    len(tree.leaves) + len(inner.leaves) + len(inputs) <= MAX_INPUTS:
                operands.append(inner.expression)
                tree.leaves.extend(r for r in inner.leaves if r not in tree.leaves)
                tree.constants.extend(k for k in inner.constants if k not in tree.constants)
                tree = tree._replace(ops=tree.ops + inner.ops)
                absorbed.add(fusable[source][0])
            elif type(value_of(source)) is np.ndarray:
                source = same.get(source, source)
                operands.append(f"r{source}")
                if source not in tree.leaves:
                    tree.leaves.append(source)
            else:  # a Python number: a 0-d array of the kernel's dtype, as NumPy converts it
                operands.append(_constant(constants, tree, value_of(source), out.dtype))
        one = _constant(constants, tree, 1, out.dtype) if "{one}" in template else None
        trees[register] = tree._replace(expression=template.format(*operands, one=one))
    fused = []
    for index, step in enumerate(steps):
        if index in absorbed:
            continue
        tree = trees.get(step.outs[0]) if step.outs else None
        if tree is None or tree.ops < 2:  # (one op: NumPy's own call is as fast)
            fused.append(step)
            continue
        arrays = [value_of(r) for r in tree.leaves] + [constants[k] for k in tree.constants]
        program = _compile(tree.expression, [f"r{r}" for r in tree.leaves] + tree.constants,
                           [_numexpr_type(a) for a in arrays])
        kernel = Kernel(tree.expression, program,
                        tuple(constants[name] for name in tree.constants))
        fused.append(step._replace(kind="fused", op=kernel, ins=tuple(tree.leaves),
                                   attrs=None, call="n"))
    return fused


def _equal_constants(constants: dict) -> dict:
    """{register: the first register holding an equal small constant array}."""
    first: dict = {}
    same = {}
    for register, value in constants.items():
        if type(value) is np.ndarray and value.size <= 4096:
            key = (value.dtype, value.shape, value.tobytes())
            same[register] = first.setdefault(key, register)
    return same


class _Tree(NamedTuple):
    expression: str
    leaves: list  # input registers, in first-use order
    constants: list  # names of its constants
    ops: int


def _constant(constants: dict, tree: _Tree, value, dtype) -> str:
    """The name of a 0-d array holding ``value`` (one per value and dtype)."""
    array = np.asarray(value, dtype)
    key = (array.dtype, array.tobytes())
    name = constants.get(key)
    if name is None:
        name = constants[key] = f"k{len(constants) // 2}"
        constants[name] = array
    if name not in tree.constants:
        tree.constants.append(name)
    return name


def _operand_ok(value, out) -> bool:
    """An operand a kernel reads as NumPy would: an array of the output's dtype, or a
    Python number."""
    if type(value) is np.ndarray:
        return value.dtype == out.dtype
    return type(value) in (int, float)
