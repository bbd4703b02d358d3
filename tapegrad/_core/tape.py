"""GradientTape: recording on a thread-local stack and the iterative backward engine."""

from __future__ import annotations

import enum
import logging
import sys
from typing import NamedTuple

from tapegrad._core import hooks
from tapegrad._core.backend import np, ones
from tapegrad._core.errors import InvalidArgumentError
from tapegrad._core.indexed_slices import IndexedSlices
from tapegrad._core.registry import NO_GRADIENT, Op, register
from tapegrad._core.tensor import Recorder, Tensor, _wrap, state
from tapegrad._core.variable import Variable

_ndarray_type = np.ndarray
_np_generic = np.generic

TRAINABLE_KINDS = "fc"
logger = logging.getLogger("tapegrad")


def get_logger() -> logging.Logger:
    """The logger tapegrad warns through (as ``tf.get_logger()``)."""
    return logger


_warned_at: dict = {}


def warn_once_per_line(message: str, limit: int = 5, depth: int = 3):
    frame = sys._getframe(depth)
    key = (frame.f_code.co_filename, frame.f_lineno, message[:40])
    count = _warned_at.get(key, 0)
    if count < limit:
        _warned_at[key] = count + 1
        logger.warning(message)


class UnconnectedGradients(enum.Enum):
    """What ``gradient()`` returns for a source the target does not depend on."""

    NONE = "none"
    ZERO = "zero"


def _read_vjp(inputs, output, attrs, upstream, needs):
    return (upstream,)


def _read_jvp(inputs, output, attrs, tangents):
    return tangents[0]


READ_VARIABLE = register("ReadVariableOp", None, _read_vjp, _read_jvp, samples=(),
                         batchable=True, vjp_raw=_read_vjp, jvp_raw=_read_jvp)


class Call(NamedTuple):
    """A recorded call that still holds its values."""

    op: Op
    inputs: tuple
    output: object  # a Tensor, or a tuple of them for a multi-output op
    attrs: dict | None
    parents: tuple  # each input's slot on the tape (None for an input it does not track)
    input_ids: tuple


class Ghost(NamedTuple):
    """A recorded call after a non-persistent backward pass freed its values: only the graph's
    shape is left (for ``explain`` and ``graph``)."""

    op: Op
    input_ids: tuple
    output_dtype: object
    output_ids: tuple


class Recording(Recorder):
    """Everything one GradientTape recorded, in execution order.

    Each tracked value has a *slot*, an int that indexes the gradient list of a backward pass:
    the output of ``calls[i]`` has slot ``i``; watched values and the outputs of multi-output
    calls get negative slots (counted by ``extra``). ``tracked`` maps ``id(value)`` to its slot.

    ``calls`` is the engine's own storage: plain tuples in the layout of :class:`Call` (tuples
    are several times cheaper to build on the hot path), shortened to ``(op, input ids, output
    dtype[, output ids])`` once freed. Everything outside the engine reads
    :meth:`records`, which decodes them as :class:`Call` and :class:`Ghost`.
    """

    __slots__ = ("tracked", "calls", "watched", "watched_tensors", "watched_slots",
                 "watch_accessed_variables", "freed", "extra", "last_gradients")

    def __init__(self, watch_accessed_variables: bool):
        self.tracked: dict = {}
        self.calls: list = []
        self.watched: dict = {}  # variables, by id
        self.watched_tensors: dict = {}  # tensors passed to watch(), by id
        self.watched_slots: set = set()  # slots of everything watched
        self.watch_accessed_variables = watch_accessed_variables
        self.freed = False  # calls hold only the graph's shape (see _ghost), no values
        self.extra = 0  # negative slots handed out
        self.last_gradients: dict = {}  # id(source) -> weakref to its last gradient

    def records(self) -> list:
        """Every recorded call, in execution order, as a :class:`Call` or :class:`Ghost`."""
        records = []
        id_of_slot = None
        for index, call in enumerate(self.calls):
            if len(call) == 6:
                records.append(Call(*call))
            elif len(call) == 4:
                records.append(Ghost(*call))
            else:  # a freed single-output call: its output's id is found from its slot
                if id_of_slot is None:
                    id_of_slot = {slot: key for key, slot in self.tracked.items()}
                records.append(Ghost(call[0], call[1], call[2], (id_of_slot.get(index),)))
        return records

    def _record1(self, op, x, output, attrs):
        key = id(x)
        tracked = self.tracked
        parent = tracked.get(key)
        if parent is None:
            return
        calls = self.calls
        tracked[id(output)] = len(calls)
        calls.append((op, (x,), output, attrs, (parent,), (key,)))

    def _record2(self, op, x, y, output, attrs):
        tracked = self.tracked
        first_key = id(x)
        second_key = id(y)
        first = tracked.get(first_key)
        second = tracked.get(second_key)
        if first is None and second is None:
            return
        calls = self.calls
        tracked[id(output)] = len(calls)
        calls.append((op, (x, y), output, attrs, (first, second), (first_key, second_key)))

    def _record(self, op, inputs, output, attrs):
        tracked = self.tracked
        keys = tuple(map(id, inputs))
        parents = tuple(map(tracked.get, keys))
        if parents.count(None) == len(parents):
            return
        calls = self.calls
        if type(output) is tuple:
            for item in output:
                tracked[id(item)] = self._new_slot()
        else:
            tracked[id(output)] = len(calls)
        calls.append((op, inputs, output, attrs, parents, keys))

    def _new_slot(self) -> int:
        self.extra += 1
        return -self.extra

    def _read_variable(self, variable, tensor):
        if id(variable) not in self.tracked:
            if not (self.watch_accessed_variables and variable._trainable):
                return
            self.watch_variable(variable)
        if tensor is not None:
            self._record1(READ_VARIABLE, variable, tensor, None)

    def _track_leaf(self, value):
        """Track a watched value (a new slot unless an earlier call made it)."""
        key = id(value)
        if key not in self.tracked:
            self.tracked[key] = self._new_slot()
            if self.calls and type(value) is not Variable:
                # (a variable is only ever an input once tracked: ops read it first)
                self._adopt_late_input(key)
        self.watched_slots.add(self.tracked[key])

    def _adopt_late_input(self, key):
        """A value watched after calls already used it: those calls now pass it a gradient."""
        slot = self.tracked[key]
        for index, call in enumerate(self.calls):
            if len(call) == 6 and key in call[5]:
                parents = tuple(slot if k == key else p for k, p in zip(call[5], call[4]))
                self.calls[index] = call[:4] + (parents, call[5])

    def watch_variable(self, variable):
        if id(variable) not in self.watched:
            self.watched[id(variable)] = variable
            self._track_leaf(variable)

    def watch_tensor(self, tensor):
        self.watched_tensors[id(tensor)] = tensor
        self._track_leaf(tensor)

    def free(self):
        """Drop every saved value; keep the graph's shape (for explain) as ghost records."""
        calls = self.calls
        for index, call in enumerate(calls):
            if len(call) == 6:
                calls[index] = _ghost(call)
        self.freed = True


def parse_unconnected(value) -> UnconnectedGradients:
    if isinstance(value, UnconnectedGradients):
        return value
    try:
        return UnconnectedGradients(value)
    except ValueError:
        raise ValueError(f"Unknown value for unconnected_gradients: {value!r}; use "
                         "'none', 'zero' or tapegrad.UnconnectedGradients.") from None


def _sum_gradients(old, new):
    old_raw = type(old) is _ndarray_type or isinstance(old, _np_generic)
    new_raw = type(new) is _ndarray_type or isinstance(new, _np_generic)
    if old_raw and new_raw:
        return old + new
    if old_raw:
        old = _wrap(old)
    if new_raw:
        new = _wrap(new)
    if type(old) is IndexedSlices or type(new) is IndexedSlices:
        if type(old) is IndexedSlices and type(new) is IndexedSlices:
            return hooks.concat_rows(new, old)  # earlier-recorded use first, as TensorFlow
        old = old.to_dense() if type(old) is IndexedSlices else old
        new = new.to_dense() if type(new) is IndexedSlices else new
    return hooks.add(old, new)


def backward(recording: Recording, targets: list, seeds: list, sources: list,
             free: bool = False, batch_dims: int = 0, observer=None) -> list:
    """Reverse sweep over ``recording``: one gradient (or None) per entry of ``sources``.

    Iterative, in reverse execution order; only calls that lie downstream of a source and
    received an upstream gradient run their rule. With ``free`` each call is dropped as soon as
    its rule has run. ``observer(op, inputs, output, upstream, input_grads, needs)`` sees every
    rule that runs (diagnostics). With ``batch_dims`` the seeds carry that many extra leading
    axes (all rows of a Jacobian in one pass): batchable rules take them at once, other rules
    once per row.
    """
    previous = state.batch_dims
    state.batch_dims = batch_dims
    if observer is not None:
        hooks.in_backward += 1
    try:
        return _backward(recording, targets, seeds, sources, free, batch_dims, observer)
    finally:
        state.batch_dims = previous
        if observer is not None:
            hooks.in_backward -= 1


def _per_row(rule, inputs, output, attrs, upstream, needs):
    """Run a rule that cannot take batched cotangents once per row, then stack the rows."""
    previous = state.batch_dims
    state.batch_dims = 0
    try:
        multi = type(upstream) is tuple
        rows = upstream[0]._value.shape[0] if multi else upstream._value.shape[0]
        results = []
        for row in range(rows):
            row_upstream = tuple(u[row] for u in upstream) if multi else upstream[row]
            results.append(rule(inputs, output, attrs, row_upstream, needs))
    finally:
        state.batch_dims = previous
    stacked = []
    for position, value in enumerate(inputs):
        column = [r[position] for r in results]
        if all(g is None for g in column):
            stacked.append(None)
            continue
        stacked.append(hooks.stack([_dense(g) if g is not None else hooks.zeros_like(value)
                              for g in column]))
    return tuple(stacked)


def _backward(recording, targets, seeds, sources, free, batch_dims, observer) -> list:
    calls = recording.calls
    count = len(calls)
    tracked = recording.tracked
    grads: list = [None] * (count + recording.extra)  # by slot (negative slots from the end)
    loose: dict = {}  # seeds of targets the tape does not track, by id (a source may be one)
    for target, seed in zip(targets, seeds):
        value = target._value if not isinstance(target, IndexedSlices) else target.values._value
        if value.dtype.kind == "O":
            continue
        if seed is None:
            seed = _ones_seed(value)
        elif value.dtype.kind in TRAINABLE_KINDS and not isinstance(seed, IndexedSlices) and \
                seed._value.dtype != value.dtype:
            raise InvalidArgumentError(
                f"output_gradients has dtype {seed.dtype.name} but its target has dtype "
                f"{_wrap(value).dtype.name}; pass output_gradients of the target's dtype (e.g. "
                f"tapegrad.cast(seed, tapegrad.{_wrap(value).dtype.name})).")
        slot = tracked.get(id(target))
        if slot is None:
            key = id(target)
            loose[key] = seed if key not in loose else _sum_gradients(loose[key], seed)
        else:
            old = grads[slot]
            grads[slot] = seed if old is None else _sum_gradients(old, seed)

    # Only float sources this tape tracks (watched, or made by recorded calls) get gradients.
    source_slots = set()
    keep = set()  # slots of all tracked sources: their gradient is kept once complete
    for source in sources:
        slot = tracked.get(id(source))
        if slot is not None:
            keep.add(slot)
            if source._value.dtype.kind in TRAINABLE_KINDS:
                source_slots.add(slot)
    # those of single-output calls (watched values belong to no call: their slots are < 0)
    keep_single = {slot for slot in keep if slot >= 0} or None
    if source_slots and source_slots.issuperset(recording.watched_slots):
        # Every watched value is a source, so every tracked value depends on a source.
        live = None
    elif source_slots:
        # Forward sweep: which values depend on a source (only their rules need to run).
        live = [False] * len(grads)
        for slot in source_slots:
            live[slot] = True
        for index, call in enumerate(calls):
            for parent in call[4]:
                if parent is not None and live[parent]:
                    output = call[2]
                    if type(output) is tuple:
                        for item in output:
                            live[tracked[id(item)]] = True
                    else:
                        live[index] = True
                    break
    else:
        count = 0  # nothing can receive a gradient
        live = None

    # Raw mode: nothing records this backward pass, so ops that declare a NumPy reverse rule
    # (`vjp_raw`) run it on arrays directly; gradients are then arrays until wrapped.
    raw_mode = not state.recorders and observer is None
    sweep = _Sweep(calls, grads, tracked, keep, keep_single, live, free, raw_mode, batch_dims,
                   observer)
    if not (raw_mode and not batch_dims and live is None and keep_single is None):
        step = sweep.step
        for index in range(count - 1, -1, -1):
            step(index)
    else:
        step = sweep.step
        # The common first-order pass, inlined: real single-output calls with a NumPy twin and
        # an array upstream; anything else goes through the general step.
        # (A multi-output call's own slot never holds a gradient: its outputs have others.)
        for index in range(count - 1, -1, -1):
            upstream = grads[index]
            if upstream is None or (type(upstream) is not _ndarray_type and
                                    not isinstance(upstream, _np_generic)):
                step(index)
                continue
            op, inputs, output, attrs, parents, keys = calls[index]
            rule = op.vjp_raw
            dtype = output._value.dtype
            arity = len(parents)
            if rule is None or dtype.kind != "f" or arity > 2:
                step(index)
                continue
            if free:
                calls[index] = (op, keys, dtype)
            grads[index] = None
            if arity == 1:
                try:
                    grad = rule(inputs, output, attrs, upstream, _ONLY)[0]
                except ValueError as error:
                    raise _shape_error(op, upstream, output, error) from None
                if grad is not None:
                    parent = parents[0]
                    old = grads[parent]
                    grads[parent] = grad if old is None else _sum_gradients(old, grad)
                continue
            first, second = parents
            try:
                first_grad, second_grad = rule(
                    inputs, output, attrs, upstream,
                    _BOTH if first is not None and second is not None else
                    (first is not None, second is not None))
            except ValueError as error:
                raise _shape_error(op, upstream, output, error) from None
            if first is not None and first_grad is not None:
                old = grads[first]
                grads[first] = first_grad if old is None else _sum_gradients(old, first_grad)
            if second is not None and second_grad is not None:
                old = grads[second]
                grads[second] = second_grad if old is None else _sum_gradients(old, second_grad)
    if free:
        if count:  # the sweep already left only ghosts
            recording.freed = True
        else:
            recording.free()
    results = []
    for source in sources:
        slot = tracked.get(id(source))
        results.append(_as_gradient(loose.get(id(source)) if slot is None else grads[slot]))
    return results


class _Sweep:
    """State of one reverse sweep, and its general step (any call, any mode)."""

    __slots__ = ("calls", "grads", "tracked", "keep", "keep_single", "live", "free", "raw_mode",
                 "batch_dims", "observer")

    def __init__(self, calls, grads, tracked, keep, keep_single, live, free, raw_mode,
                 batch_dims, observer):
        self.calls = calls
        self.grads = grads
        self.tracked = tracked
        self.keep = keep  # slots of all tracked sources
        self.keep_single = keep_single  # those of single-output calls, or None
        self.live = live  # per slot: depends on a source (None: everything does)
        self.free = free
        self.raw_mode = raw_mode
        self.batch_dims = batch_dims
        self.observer = observer

    def step(self, index: int) -> None:
        """Run the reverse rule of ``calls[index]`` (if it has an upstream gradient and an
        input that needs one) and add its input gradients to their slots."""
        calls, grads, live = self.calls, self.grads, self.live
        call = calls[index]
        output = call[2]
        if type(output) is tuple:
            upstream = _multi_upstream(call, grads, self.tracked, self.keep)
            if self.free:
                calls[index] = _ghost(call)
            if upstream is None:
                return
            kind = output[0]._value.dtype.kind
        else:
            upstream = grads[index]
            dtype = output._value.dtype
            if self.free:  # keep only the graph's shape (for explain)
                calls[index] = (call[0], call[5], dtype)
            if upstream is None:
                return
            if self.keep_single is None or index not in self.keep_single:
                grads[index] = None
            kind = dtype.kind
            if kind != "f" and kind != "c":
                return
        op, inputs, _, attrs, parents, _ = call
        if len(parents) == 1:
            if live is not None and not live[parents[0]]:
                return
            needs = _ONLY
        else:
            needs = tuple([p is not None and (live is None or live[p]) for p in parents])
            if True not in needs:
                return
        batch_dims = self.batch_dims
        rule = op.vjp_raw
        # NumPy twins handle real values; complex ones take the tapegrad rule (conjugates).
        if self.raw_mode and rule is not None and kind == "f" and \
                (not batch_dims or op.batchable):
            if type(upstream) is not _ndarray_type:
                upstream = _raw_upstream(upstream, op)
            try:
                input_grads = rule(inputs, output, attrs, upstream, needs)
            except ValueError as error:
                raise _shape_error(op, upstream, output, error) from None
        else:
            rule = op.vjp
            if rule is None:
                return
            if rule is NO_GRADIENT:
                raise LookupError(f"gradient registry has no entry for: {op.name} (this op is "
                                  "not differentiable; wrap it in tapegrad.stop_gradient or "
                                  "write a tapegrad.custom_gradient for it)")
            if type(upstream) is not tuple:
                if type(upstream) is IndexedSlices and op is not READ_VARIABLE:
                    upstream = upstream.to_dense()
                elif type(upstream) is _ndarray_type or isinstance(upstream, _np_generic):
                    upstream = _wrap(upstream)
            if batch_dims and not op.batchable:
                input_grads = _per_row(rule, inputs, output, attrs, upstream, needs)
            else:
                input_grads = rule(inputs, output, attrs, upstream, needs)
        if self.observer is not None:
            self.observer(op, inputs, output, upstream, input_grads, needs)
        for slot, need, grad in zip(parents, needs, input_grads):
            if need and grad is not None:
                old = grads[slot]
                grads[slot] = grad if old is None else _sum_gradients(old, grad)


def _shape_error(op, upstream, output, error) -> InvalidArgumentError:
    return InvalidArgumentError(
        f"{op.name} gradient: Incompatible shapes: upstream "
        f"{list(getattr(upstream, 'shape', ()))} vs. output {list(output._value.shape)} "
        f"({error}); check output_gradients' shapes.")


def _raw_upstream(upstream, op):
    """An upstream gradient as a raw-mode rule takes it: an array (IndexedSlices only for
    variable reads, which pass it on unchanged)."""
    if type(upstream) is Tensor:
        return upstream._value
    if type(upstream) is IndexedSlices and op is not READ_VARIABLE:
        return upstream.to_dense()._value
    return upstream


def _ones_seed(value):
    """The default seed for a target: ones of its shape and dtype (a NumPy scalar for a scalar
    target)."""
    return value.dtype.type(1) if value.ndim == 0 else ones(value.shape, value.dtype)


def _as_gradient(grad):
    """Gradients leave the engine as Tensors (raw-mode arrays are wrapped)."""
    if type(grad) is _ndarray_type or isinstance(grad, _np_generic):
        return _wrap(grad)
    return grad


_ONLY = (True,)
_BOTH = (True, True)


def _multi_upstream(call, grads, tracked, keep):
    """The upstream tuple of a multi-output call (zeros for unused outputs), or None."""
    output = call[2]
    slots = [tracked[id(o)] for o in output]
    upstream = [grads[slot] for slot in slots]
    if all(g is None for g in upstream):
        return None
    for slot in slots:
        if slot not in keep:
            grads[slot] = None
    if output[0]._value.dtype.kind not in TRAINABLE_KINDS:
        return None
    return tuple(hooks.zeros_like(o) if g is None else _dense(g)
                 for g, o in zip(upstream, output))


def _ghost(call):
    """A recorded call without its values: ``(op, input ids, output dtype)``, plus the output
    ids for a multi-output call (a single output's id is found from its slot, the call's
    index). Attributes are dropped too (a custom gradient's closure holds its inputs)."""
    op, inputs, output, attrs, parents, keys = call
    if type(output) is tuple:
        dtype = output[0]._value.dtype if output else np.dtype("float32")
        return op, keys, dtype, tuple(map(id, output))
    return op, keys, output._value.dtype


def _dense(grad):
    if type(grad) is IndexedSlices:
        return grad.to_dense()
    return _as_gradient(grad)
