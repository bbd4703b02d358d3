"""GradientTape: recording on a thread-local stack and the iterative backward engine."""

from __future__ import annotations

from typing import NamedTuple

from tapegrad._core import hooks
from tapegrad._core.backend import np, ones
from tapegrad._core.errors import InvalidArgumentError
from tapegrad._core.indexed_slices import IndexedSlices
from tapegrad._core.registry import NO_GRADIENT, Op, register
from tapegrad._core.tensor import Recorder, Tensor, array_of, recording_threads, state, wrap
from tapegrad._core.variable import Variable

_ndarray_type = np.ndarray
_np_generic = np.generic
_NUMPY_VALUES = frozenset({_ndarray_type, np.float16, np.float32, np.float64, np.longdouble})

TRAINABLE_KINDS = "fc"


# A variable read passes its gradient and its tangent through unchanged.
READ_VARIABLE = register("ReadVariableOp", None,
                         lambda inputs, output, attrs, upstream, needs: (upstream,),
                         lambda inputs, output, attrs, tangents: tangents[0],
                         samples=(), batchable=True, array_rules=True)


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

    ``calls`` is the engine's own storage: plain tuples (cheap to build) in :class:`Call`'s
    layout, shortened to ``(op, input ids, output dtype[, output ids])`` once freed; the rest
    of tapegrad reads :meth:`records`, which decodes them as :class:`Call` and :class:`Ghost`.
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
        id_of_slot = {slot: key for key, slot in self.tracked.items()}
        for index, call in enumerate(self.calls):
            if len(call) == 6:
                records.append(Call(*call))
            elif len(call) == 4:
                records.append(Ghost(*call))
            else:  # a freed single-output call: its output's id is found from its slot
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
                self.extra += 1
                tracked[id(item)] = -self.extra
        else:
            tracked[id(output)] = len(calls)
        calls.append((op, inputs, output, attrs, parents, keys))

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
        slot = self.tracked.get(key)
        if slot is None:
            self.extra += 1
            slot = self.tracked[key] = -self.extra
            if self.calls and type(value) is not Variable:
                # (a variable is only ever an input once tracked: ops read it first)
                self._adopt_late_input(key)
        self.watched_slots.add(slot)

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

    def watch_values(self, values) -> list:
        """Watch each of ``values`` (Tensors, Variables); return those that are not floating."""
        not_floating = []
        for value in values:
            if isinstance(value, Variable):
                self.watch_variable(value)
            else:
                self.watch_tensor(value)
            if value._value.dtype.kind not in TRAINABLE_KINDS:
                not_floating.append(value)
        return not_floating

    def free(self):
        """Drop every saved value; keep the graph's shape (for explain) as ghost records."""
        calls = self.calls
        for index, call in enumerate(calls):
            if len(call) == 6:
                calls[index] = _ghost(call)
        self.freed = True


def _sum_gradients(old, new):
    old_raw = type(old) is _ndarray_type or isinstance(old, _np_generic)
    new_raw = type(new) is _ndarray_type or isinstance(new, _np_generic)
    if old_raw and new_raw:
        return old + new
    if old_raw:
        old = wrap(old)
    if new_raw:
        new = wrap(new)
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
    if observer is not None:
        hooks.in_backward += 1
    try:
        return _backward(recording, targets, seeds, sources, free, batch_dims, observer)
    finally:
        if observer is not None:
            hooks.in_backward -= 1


def _per_row(rule, inputs, output, attrs, upstream, needs):
    """Run a rule that cannot take batched cotangents once per row, then stack the rows."""
    multi = type(upstream) is tuple
    rows = upstream[0]._value.shape[0] if multi else upstream._value.shape[0]
    results = []
    for row in range(rows):
        row_upstream = tuple(u[row] for u in upstream) if multi else upstream[row]
        results.append(rule(inputs, output, attrs, row_upstream, needs))
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
    tracked = recording.tracked
    grads: list = [None] * (len(calls) + recording.extra)  # by slot (negative: from the end)
    loose = _place_seeds(grads, tracked, targets, seeds, batch_dims)
    keep, source_slots = _source_slots(tracked, sources)
    count = len(calls) if source_slots else 0  # (no float source: no rule to run)
    live = _depends_on_sources(recording, source_slots, len(grads)) if source_slots else None
    # Sources made by single-output calls keep their slot's gradient once it is complete
    # (watched values belong to no call: their slots are negative).
    keep_single = {slot for slot in keep if slot >= 0} if max(keep, default=-1) >= 0 else None
    # Raw mode: nothing records this backward pass, so rules that take arrays (ops declared
    # with `array_rules`) run on them directly; gradients are then arrays until wrapped.
    raw_mode = not (recording_threads and state.recorders) and observer is None
    sweep = _Sweep(calls, grads, tracked, keep, keep_single, live, free, raw_mode, batch_dims,
                   observer)
    if raw_mode and live is None and keep_single is None and \
            (not batch_dims or all(call[0].batchable for call in calls)):
        _first_order_numpy_pass(sweep, count)  # an optimisation of the loop below
    else:
        for index in range(count - 1, -1, -1):
            sweep.step(index)
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


def _place_seeds(grads: list, tracked: dict, targets: list, seeds: list,
                 batch_dims: int) -> dict:
    """Put each target's seed (ones by default) in its slot; return the seeds of targets the
    tape does not track, by id (a source may be one of them)."""
    loose: dict = {}
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
                f"{wrap(value).dtype.name}; pass output_gradients of the target's dtype (e.g. "
                f"tapegrad.cast(seed, tapegrad.{wrap(value).dtype.name})).")
        elif not batch_dims and np.ndim(getattr(seed, "_value", seed)) > value.ndim:
            # (the rules read axes in front of the output's as a vectorised jacobian's rows)
            raise InvalidArgumentError(
                f"output_gradients has shape {list(np.shape(seed._value))} but its target has "
                f"shape {list(value.shape)}; pass output_gradients of the target's shape.")
        slot = tracked.get(id(target))
        if slot is None:
            key = id(target)
            loose[key] = seed if key not in loose else _sum_gradients(loose[key], seed)
        else:
            old = grads[slot]
            grads[slot] = seed if old is None else _sum_gradients(old, seed)
    return loose


def _source_slots(tracked: dict, sources: list) -> tuple[set, set]:
    """The slots of every tracked source, and of those that can get a gradient (floats)."""
    keep, source_slots = set(), set()
    for source in sources:
        slot = tracked.get(id(source))
        if slot is not None:
            keep.add(slot)
            if source._value.dtype.kind in TRAINABLE_KINDS:
                source_slots.add(slot)
    return keep, source_slots


def _depends_on_sources(recording: Recording, source_slots: set, size: int) -> list | None:
    """Per slot, whether its value depends on a source (only those calls' rules need to run);
    None when every tracked value does (every watched value is a source)."""
    if source_slots.issuperset(recording.watched_slots):
        return None
    tracked = recording.tracked
    live = [False] * size
    for slot in source_slots:
        live[slot] = True
    for index, call in enumerate(recording.calls):
        if any(parent is not None and live[parent] for parent in call[4]):
            output = call[2]
            if type(output) is tuple:
                for item in output:
                    live[tracked[id(item)]] = True
            else:
                live[index] = True
    return live


def _first_order_numpy_pass(sweep: _Sweep, count: int) -> None:
    """The common unrecorded pass (a gradient, or a vectorised jacobian's when every op
    batches), with the step inlined for the usual call: one or two inputs, a real output,
    rules that take arrays and an array upstream. Anything else goes through the general
    :meth:`_Sweep.step`. (A multi-output call's own slot never holds a gradient.)"""
    calls, grads, free, step = sweep.calls, sweep.grads, sweep.free, sweep.step
    sum_to_shape = hooks.sum_to_shape
    for index in range(count - 1, -1, -1):
        upstream = grads[index]
        if type(upstream) not in _NUMPY_VALUES:
            step(index)  # no upstream, or a Tensor or IndexedSlices one
            continue
        op, inputs, output, attrs, parents, keys = calls[index]
        value = output._value
        arity = len(parents)
        if not op.array_rules or value.dtype.kind != "f" or arity > 2:
            step(index)
            continue
        if free:
            calls[index] = (op, keys, value.dtype)
        grads[index] = None
        rule = op.vjp  # (read first: a call of `op.vjp(...)` looks the name up on Op)
        if arity == 1:  # (its input is a Tensor, and its gradient has the input's shape)
            try:
                grad = rule((inputs[0]._value,), value, attrs, upstream, _ONLY)[0]
            except ValueError as error:
                raise _shape_error(op, upstream, output, error) from None
            if grad is not None:
                old = grads[parents[0]]
                grads[parents[0]] = grad if old is None else _sum_gradients(old, grad)
            continue
        x, y = inputs
        try:
            x, y = x._value, y._value
        except AttributeError:  # (a Python number operand is its own value)
            x, y = getattr(x, "_value", x), getattr(y, "_value", y)
        first, second = parents
        try:
            grad_x, grad_y = rule((x, y), value, attrs, upstream,
                                  _NEEDS[first is None][second is None])
        except ValueError as error:
            raise _shape_error(op, upstream, output, error) from None
        # (None where none is needed, as array rules promise; a broadcasting op's, summed here)
        if grad_x is not None:
            if grad_x.shape != x.shape:
                grad_x = sum_to_shape(grad_x, x.shape, grad_x.ndim - value.ndim)
            old = grads[first]
            grads[first] = grad_x if old is None else _sum_gradients(old, grad_x)
        if grad_y is not None:
            if grad_y.shape != y.shape:
                grad_y = sum_to_shape(grad_y, y.shape, grad_y.ndim - value.ndim)
            old = grads[second]
            grads[second] = grad_y if old is None else _sum_gradients(old, grad_y)


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
        call = self.calls[index]
        upstream = self._take_upstream(index, call)
        if upstream is None:
            return
        op, inputs, output, attrs, parents, _ = call
        needs = self._needs(parents)
        if needs is None:
            return
        input_grads = self._run_rule(op, inputs, output, attrs, upstream, needs)
        if input_grads is None:
            return
        if op.broadcasting:  # (gradients in the output's shape, None where not needed)
            input_grads = [None if grad is None else hooks.sum_like(grad, operand, output)
                           for grad, operand in zip(input_grads, inputs)]
        if self.observer is not None:
            self.observer(op, inputs, output, upstream, input_grads, needs)
        grads = self.grads
        for slot, need, grad in zip(parents, needs, input_grads):
            if need and grad is not None:
                old = grads[slot]
                grads[slot] = grad if old is None else _sum_gradients(old, grad)

    def _take_upstream(self, index: int, call: tuple):
        """The call's upstream gradient (None when it has none or its output is not
        differentiable), cleared from its slot unless a source keeps it; frees the call's
        values when the sweep frees as it goes."""
        output = call[2]
        if type(output) is tuple:
            upstream = _multi_upstream(call, self.grads, self.tracked, self.keep,
                                       self.batch_dims)
            if self.free:
                self.calls[index] = _ghost(call)
            return upstream
        grads = self.grads
        upstream = grads[index]
        dtype = output._raw.dtype
        if self.free:  # keep only the graph's shape (for explain)
            self.calls[index] = (call[0], call[5], dtype)
        if upstream is None:
            return None
        if self.keep_single is None or index not in self.keep_single:
            grads[index] = None
        return upstream if dtype.kind in TRAINABLE_KINDS else None

    def _needs(self, parents: tuple) -> tuple | None:
        """Which inputs want a gradient (tracked and depending on a source); None if none."""
        live = self.live
        if len(parents) == 1:
            return _ONLY if live is None or live[parents[0]] else None
        if live is None and len(parents) == 2:
            return _NEEDS[parents[0] is None][parents[1] is None]
        needs = tuple([p is not None and (live is None or live[p]) for p in parents])
        return needs if True in needs else None

    def _run_rule(self, op, inputs, output, attrs, upstream, needs):
        """The input gradients from the op's reverse rule, on arrays in raw mode when it takes
        them (real values: complex ones take tensors) and on tensors otherwise (per row when it
        cannot take a vectorised jacobian's batch axes)."""
        batch_dims = self.batch_dims
        rule = op.vjp
        if self.raw_mode and op.array_rules and \
                (output[0] if type(output) is tuple else output)._raw.dtype.kind == "f" and \
                (not batch_dims or op.batchable):
            if type(upstream) is not _ndarray_type:
                upstream = _raw_upstream(upstream, op)
            try:
                return rule(array_of(inputs), output._value if type(output) is Tensor
                            else array_of(output), attrs, upstream, needs)
            except ValueError as error:
                raise _shape_error(op, upstream, output, error) from None
        if rule is None:
            return None
        if rule is NO_GRADIENT:
            raise LookupError(f"gradient registry has no entry for: {op.name} (this op is not "
                              "differentiable; wrap it in tapegrad.stop_gradient or write a "
                              "tapegrad.custom_gradient for it)")
        if type(upstream) is IndexedSlices and op is not READ_VARIABLE:
            upstream = upstream.to_dense()
        elif type(upstream) is _ndarray_type or isinstance(upstream, _np_generic):
            upstream = wrap(upstream)
        if batch_dims and not op.batchable:
            return _per_row(rule, inputs, output, attrs, upstream, needs)
        return rule(inputs, output, attrs, upstream, needs)


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
        tensor = Tensor()  # (wrap's body: a call less for each source)
        tensor._value = grad
        return tensor
    return grad


_ONLY = (True,)
# What a two-input call's inputs need, by [first is None][second is None] (a recorded call has
# at least one tracked input).
_NEEDS = (((True, True), (True, False)), ((False, True), None))


def _multi_upstream(call, grads, tracked, keep, batch_dims):
    """The upstream tuple of a multi-output call (zeros for unused outputs), or None."""
    output = call[2]
    slots = [tracked[id(o)] for o in output]
    upstream = [grads[slot] for slot in slots]
    if all(g is None for g in upstream):
        return None
    for slot in slots:
        if slot not in keep:
            grads[slot] = None
    # Only floating outputs carry a gradient (an integer output's seed is ignored, as TF does)
    upstream = [None if g is None or o._value.dtype.kind not in TRAINABLE_KINDS else _dense(g)
                for g, o in zip(upstream, output)]
    if all(g is None for g in upstream):
        return None
    # An unused output's zeros carry the same leading batch axes (jacobian rows) as the
    # used outputs' upstream, so the per-row rule sees one row of every output.
    rows = next(g for g in upstream if g is not None)._value.shape[:batch_dims]
    return tuple(wrap(np.zeros(rows + o._value.shape, o._value.dtype)) if g is None else g
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
