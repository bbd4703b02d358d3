"""The op registry: every differentiable operation is declared once, as an :class:`Op`.

An op bundles its NumPy forward, its reverse rule (VJP), its forward rule (JVP) and sample
inputs for the gradient checker. The dispatcher in :mod:`tapegrad._core.tensor` runs the
forward and hands the call to every active tape; the backward engine in
:mod:`tapegrad._core.tape` calls the reverse rule.

Rule signatures:

* ``vjp(inputs, output, attrs, upstream, needs) -> tuple`` of one gradient (or None) per
  input; ``upstream`` is one Tensor (a tuple of Tensors for multi-output ops); ``needs[i]``
  says whether input ``i`` wants a gradient at all (skip the work when it does not).
* ``jvp(inputs, output, attrs, tangents) -> Tensor`` (a tuple for multi-output ops);
  ``tangents[i]`` is None for inputs that carry no tangent.

An op whose reverse rule also works when ``upstream`` carries extra leading (batch) axes in
front of the output's shape (elementwise rules usually do; the vocabulary's ``sum_like`` and
``batch_shape`` find them by comparing ``upstream`` with ``output``) is declared
``batchable=True``; the vectorised jacobian then runs it once for all rows.

A two-input op whose inputs broadcast to its output (``x + y``, ``a @ b``) declares
``broadcasting=True`` when its reverse rule returns gradients in the output's shape: the engine
sums each to its input's shape (as PyTorch's engine does).

Rules are written with tapegrad ops, so an enclosing tape records them (higher order). An op
whose rules use only Python operators and the rule vocabulary (``tapegrad.ops._vocab``, whose
words run NumPy on arrays and the registered ops on tensors) declares ``array_rules=True``: the
engines then hand its rules NumPy arrays (real values) when nothing would record the rules' own
work, so one rule serves both (the op sweep checks that both agree); such a rule of several
inputs returns None for each input whose ``needs`` is False. Every field is given to
:func:`register`; the op cannot be changed afterwards.
"""

from __future__ import annotations

from collections.abc import Callable

from tapegrad._core.backend import np

#: Marks an op that has no gradient registered at all (``gradient()`` then raises LookupError).
NO_GRADIENT = "no-gradient"


class Op:
    """One declared operation; immutable once :func:`register` returns it."""

    __slots__ = ("name", "forward", "vjp", "jvp", "samples", "n_outputs", "differentiable",
                 "batchable", "sample_note", "array_rules", "elementwise", "broadcasting",
                 "dtypes", "usual_dtype", "__weakref__")

    def __init__(self, name: str, forward: Callable | None, vjp=None, jvp=None, samples=None,
                 n_outputs: int = 1, differentiable: bool = True, batchable: bool = False,
                 sample_note: str | None = None, dtypes=None, array_rules: bool = False,
                 elementwise: bool = False, broadcasting: bool = False):
        fields = {
            "name": name, "forward": forward, "vjp": vjp, "jvp": jvp, "samples": samples,
            "n_outputs": n_outputs, "differentiable": differentiable and vjp is not None,
            "batchable": batchable, "array_rules": array_rules,  # (see the module's text)
            # True for a one-input elementwise op: the dispatcher maps it over the values of a
            # composite tensor (one with ``__tapegrad_elementwise__``, such as a RaggedTensor).
            "elementwise": elementwise,
            "broadcasting": broadcasting,
            "sample_note": sample_note,  # why the samples are limited (an optional dependency)
            # The NumPy dtypes the first input may have (None: any), as TensorFlow's kernels
            # declare theirs; the dispatcher raises InvalidArgumentError for any other.
            "dtypes": _dtype_set(dtypes),
        }
        # float32 when the op takes it: the dispatcher's identity test then stands for the set
        # lookup (most tensors are float32)
        accepts_float32 = fields["dtypes"] is None or _FLOAT32 in fields["dtypes"]
        fields["usual_dtype"] = _FLOAT32 if accepts_float32 else None
        for field, value in fields.items():
            object.__setattr__(self, field, value)

    def __setattr__(self, field, value):
        raise AttributeError(f"op {self.name!r} is immutable: declare {field!r} in its "
                             "register(...) call")

    def __repr__(self) -> str:
        return f"<Op {self.name}>"


_FLOAT32 = np.dtype("float32")
#: Every dtype an op can declare, by NumPy kind ("b" bool, "i"/"u" (un)signed integers,
#: "f" floats, "c" complex).
_KNOWN_DTYPES = tuple(map(np.dtype, (
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float16", "float32", "float64", "complex64", "complex128")))


def _dtype_set(dtypes) -> frozenset | None:
    """``dtypes`` (NumPy kinds such as ``"f"`` and dtype names such as ``"int32"``) as a
    frozenset of NumPy dtypes: membership of ``array.dtype`` is then one hash lookup."""
    if dtypes is None:
        return None
    accepted = set()
    for item in dtypes:
        if len(item) == 1:
            if item not in "biufc":
                raise ValueError(f"unknown dtype kind {item!r} (kinds: b, i, u, f, c)")
            accepted.update(d for d in _KNOWN_DTYPES if d.kind == item)
        else:
            accepted.add(np.dtype(item))
    return frozenset(accepted)


REGISTRY: dict[str, Op] = {}


def register(name: str, forward: Callable | None, vjp=None, jvp=None, samples=None, *,
             n_outputs: int = 1, differentiable: bool = True, batchable: bool = False,
             sample_note: str | None = None, dtypes=None, array_rules: bool = False,
             elementwise: bool = False, broadcasting: bool = False) -> Op:
    """Declare an op once, with every field; a second declaration under the same name is a
    bug.

    ``dtypes`` lists the dtypes the op's first input accepts (NumPy kinds like ``"fc"`` or
    names like ``"int32"``; None: any), e.g. ``register("Sqrt", np.sqrt, dtypes="fc")``.
    """
    if name in REGISTRY:
        raise ValueError(f"op {name!r} is registered twice")
    op = Op(name, forward, vjp, jvp, samples, n_outputs, differentiable, batchable, sample_note,
            dtypes, array_rules, elementwise, broadcasting)
    REGISTRY[name] = op
    return op
