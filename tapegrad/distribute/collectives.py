"""Horovod's collectives on tapegrad tensors (``hvd.allreduce``, ``hvd.allgather``, ...)."""

from __future__ import annotations

import enum

from tapegrad._core.backend import np
from tapegrad._core.indexed_slices import IndexedSlices
from tapegrad._core.tensor import Tensor, array_of, to_array, wrap
from tapegrad.distribute import _engine, _objects
from tapegrad.distribute._engine import require_init


class ReduceOp(enum.IntEnum):
    """How ``allreduce`` combines the ranks' tensors."""

    # Hashed as the integer it equals (Enum's own hash is a Python call that every allreduce
    # would pay in its cache lookup).
    __hash__ = int.__hash__

    Average = 0
    Sum = 1
    Adasum = 2
    Min = 3
    Max = 4
    Product = 5


Average, Sum, Adasum, Min, Max, Product = (ReduceOp.Average, ReduceOp.Sum, ReduceOp.Adasum,
                                           ReduceOp.Min, ReduceOp.Max, ReduceOp.Product)


class Compressor:
    """Compresses a tensor before it travels and restores it after (Horovod's interface)."""

    @staticmethod
    def compress(tensor):
        """(tensor to send, context for ``decompress``)."""
        return tensor, None

    @staticmethod
    def decompress(tensor, ctx):
        return tensor


class NoneCompressor(Compressor):
    """Sends tensors as they are."""


class FP16Compressor(Compressor):
    """Sends floating-point tensors as float16 (half the bytes; the sum is rounded to float16:
    a relative error of about 1e-3 per value, and magnitudes above 65504 are refused)."""

    @staticmethod
    def compress(tensor):
        array = np.asarray(to_array(tensor))
        if array.dtype.kind != "f" or array.dtype == np.float16:
            return tensor, None
        finite = array[np.isfinite(array)]
        if finite.size and float(np.max(np.abs(finite))) > float(np.finfo(np.float16).max):
            raise ValueError(
                f"Compression.fp16 cannot carry values of magnitude "
                f"{float(np.max(np.abs(finite))):g} (float16's largest is 65504): they would "
                "become inf. Use Compression.none or scale the loss down.")
        return wrap(array.astype(np.float16)), array.dtype

    @staticmethod
    def decompress(tensor, ctx):
        if ctx is None:
            return tensor
        return wrap(np.asarray(to_array(tensor)).astype(ctx))


class Compression:
    """The available compressors: ``Compression.none`` and ``Compression.fp16``."""

    none = NoneCompressor
    fp16 = FP16Compressor


def _resolve_op(op, average) -> ReduceOp:
    if type(op) is ReduceOp and op is not Adasum and average is None:
        return op               # the usual case, without the Enum lookup (every call pays it)
    if average is not None:
        if op is not None:
            raise ValueError("The op parameter supersedes average; pass only op.")
        return Average if average else Sum
    op = Average if op is None else ReduceOp(op)
    if op is Adasum:
        raise NotImplementedError("The Adasum reduction is not available in tapegrad.distribute; "
                                  "use op=hvd.Average or hvd.Sum.")
    return op


def _check_process_set(process_set) -> None:
    if process_set is not None:
        raise NotImplementedError("tapegrad.distribute has one process set (all ranks); call "
                                  "without process_set.")


def _array(value):
    return np.asarray(to_array(value))


def _names(name, count: int, default: str) -> list:
    base = name or default
    return [base] if count == 1 else [f"{base}.{i}" for i in range(count)]


def _check_reducible(dtype, op: ReduceOp) -> None:
    if dtype == np.bool_ and op in (Sum, Average):
        raise TypeError("Sum and Average of boolean tensors are not defined; cast them to an "
                        "integer dtype or use op=hvd.Max (any) / hvd.Min (all).")
    if dtype.kind == "c" and op in (Min, Max):
        raise TypeError("Min and Max are not defined for complex tensors.")
    if dtype.kind in "iub" and op is Average:
        raise TypeError(f"Average of {dtype.name} tensors is not exact; use op=hvd.Sum and "
                        "divide, or cast to a floating-point dtype.")


def _check_scalable(dtype, factor: float, what: str) -> None:
    if factor != 1.0 and dtype.kind not in "fc":
        raise TypeError(f"{what} {factor} cannot scale an integer or boolean tensor exactly; "
                        "cast it to a floating-point dtype first.")


def _check_sparse(slices: IndexedSlices, op: ReduceOp, prescale: float, postscale: float):
    if op not in (Sum, Average):
        raise NotImplementedError("Only Sum and Average ops are supported with IndexedSlices "
                                  "(sparse gradients); pass sparse_as_dense=True for others.")
    if prescale != 1.0 or postscale != 1.0:
        raise NotImplementedError("prescale_factor/postscale_factor are not supported with "
                                  "IndexedSlices; pass sparse_as_dense=True.")
    _check_reducible(_array(slices.values).dtype, op)


def _gather_sparse(slices: IndexedSlices, op: ReduceOp, name: str) -> IndexedSlices:
    values, _ = _engine.allgather_rows(_array(slices.values), f"allgather of {name} values")
    indices, _ = _engine.allgather_rows(_array(slices.indices), f"allgather of {name} indices")
    if op is Average:
        values = values / np.asarray(_engine.state.size, dtype=values.dtype)
    return IndexedSlices(wrap(values), wrap(indices), slices.dense_shape)


def _describe(value):
    """What the metadata check compares: dtype and shape (sparse: of the dense tensor)."""
    if value is None:
        return None
    if isinstance(value, IndexedSlices):
        return ["sparse", _array(value.values).dtype.str, [int(d) for d in
                                                            _array(value.dense_shape)]]
    return _engine.describe(_array(value))


def _signature(value):
    """What a cached plan depends on for a None or an IndexedSlices (for a dense array: its
    dtype and shape)."""
    if value is None:
        return None
    return "sparse", _array(value.values).dtype, tuple(int(d) for d in _array(value.dense_shape))


class _GroupPlan:
    """What every ``reduce_group`` call of one signature (op, compression, scale factors, and
    the kind, dtype and shape of each value) shares, checked and computed once: the digest of
    the metadata check, and the fused reduction with its buffers."""

    __slots__ = ("op", "compression", "prescale", "header", "descriptions", "dense", "sparse",
                 "factor", "metadata", "mpi_op", "plain", "reduction", "wire_layout", "description",
                 "alone")

    def __init__(self, values: list, arrays: list, op: ReduceOp, compression, prescale: float,
                 postscale: float):
        self.op, self.compression, self.prescale = op, compression, prescale
        self.header = {"collective": "allreduce", "op": op.name}
        self.descriptions = [_describe(v) for v in values]
        self.dense = [i for i, a in enumerate(arrays) if a is not None]
        self.sparse = [i for i, v in enumerate(values) if isinstance(v, IndexedSlices)]
        for i in self.sparse:
            _check_sparse(values[i], op, prescale, postscale)
        self.factor = postscale / _engine.state.size if op is Average else postscale
        for i in self.dense:
            _check_reducible(arrays[i].dtype, op)
            for factor, what in ((prescale, "prescale_factor"), (self.factor, "postscale_factor")):
                _check_scalable(arrays[i].dtype, factor, what)
        self.metadata = _engine.MetadataRound(
            _engine.call_digest(self.header, [[None, d] for d in self.descriptions]), "allreduce")
        self.mpi_op = "sum" if op is Average else op.name.lower()
        # Whether the dense arrays travel as they are (no None, no sparse value, no prescale,
        # no compression): then a call sends its arrays list itself.
        self.plain = (len(self.dense) == len(values) and prescale == 1.0
                      and compression is NoneCompressor)
        self.description = f"allreduce of {len(self.dense)} tensor(s)"
        # The AllreducePlan: of the arrays themselves when plain, else made from the first
        # call's arrays to send (compression may change their dtypes: wire_layout says which).
        self.reduction = (_engine.AllreducePlan(arrays, self.mpi_op, self.factor, self.description)
                          if self.plain else None)
        self.wire_layout = None
        # One plain tensor on several ranks: allreduce's short path may run this plan.
        self.alone = (self.plain and len(values) == 1 and _engine.state.size > 1
                      and _engine.state.watchdog is not None)

    def release(self) -> None:
        if self.reduction is not None:
            self.reduction.release()

    def prepare(self, arrays: list):
        """What this rank sends (prescaled, compressed) and the decompression contexts."""
        sending = [arrays[i] for i in self.dense]
        if self.prescale != 1.0:
            sending = [a * np.asarray(self.prescale, dtype=a.dtype) for a in sending]
        if self.compression is NoneCompressor:
            return sending, None
        contexts = []
        for k, array in enumerate(sending):
            compressed, ctx = self.compression.compress(wrap(array))
            sending[k] = _array(compressed)
            contexts.append(ctx)
        return sending, contexts

    def reduce(self, sending: list, contexts) -> list:
        """The reduced dense arrays, decompressed and scaled."""
        if contexts is None:         # uncompressed: the checked dtypes and shapes
            scale = self.factor
        else:
            scale = None
            layout = [(a.dtype, a.shape) for a in sending]
            if layout != self.wire_layout:
                self.release()
                self.reduction, self.wire_layout = None, layout
        if self.reduction is None:
            self.reduction = _engine.AllreducePlan(sending, self.mpi_op, scale, self.description)
        reduced = self.reduction.run(sending)
        if contexts is None:
            return reduced
        reduced = [_array(self.compression.decompress(wrap(r), ctx))
                   for r, ctx in zip(reduced, contexts)]
        if self.factor == 1.0:
            return reduced
        return [r * np.asarray(self.factor, dtype=r.dtype) for r in reduced]


_PLANS = _engine.PlanCache()


def reduce_group(values: list, names: list, op, compression=NoneCompressor,
                 prescale: float = 1.0, postscale: float = 1.0, average=None, key=None) -> list:
    """Allreduce a list of tensors, IndexedSlices and Nones (kept as None), checked across
    ranks (``op`` may be None: Horovod's default, or ``average``'s). A call that repeats an
    earlier one reuses its plan (the response cache): the metadata check then exchanges the
    cached digest only. ``key``: the plan's key in the cache, when the caller has one (else
    made of the resolved arguments and every value's dtype and shape)."""
    arrays = [None if v is None or isinstance(v, IndexedSlices) else np.asarray(to_array(v))
              for v in values]
    try:
        settings = (_resolve_op(op, average), compression, float(prescale), float(postscale))
        if key is None:
            key = (*settings, _engine.state.fusion_threshold,
                   *[(a.dtype, a.shape) if a is not None else _signature(v)
                     for v, a in zip(values, arrays)])
        plan = _PLANS.get(key)
        if plan is None:
            plan = _PLANS.add(key, _GroupPlan(values, arrays, *settings))
        else:
            _PLANS.move_to_end(key)
        if not plan.plain:
            sending, contexts = plan.prepare(arrays)
    except _engine.LOCAL_ERRORS as error:
        if _engine.state.comm is None or _engine.state.size == 1:
            raise
        _engine.confirm(0, "allreduce", error, None)       # raises it on every rank
    if not plan.metadata.run():
        _engine.raise_mismatch("allreduce", [plan.header, [list(t) for t in zip(
            names, plan.descriptions)]])
    if plan.plain:                # the usual call, kept short: every step of training makes it
        return list(map(wrap, plan.reduction.run(arrays)))
    out: list = [None] * len(values)
    if plan.dense:
        for i, array in zip(plan.dense, plan.reduce(sending, contexts)):
            out[i] = wrap(array)
    for i in plan.sparse:
        out[i] = _gather_sparse(values[i], plan.op, names[i])
    return out


# The first item of the cache key of a one-tensor ``allreduce`` (its arguments as passed, then
# the tensor's dtype and shape), which group keys (resolved arguments) never start with.
_ALONE = "allreduce of one tensor"


def _plain_arguments(op, average, process_set, prescale, postscale) -> bool:
    """Whether arguments equal as dictionary keys mean the same call (so they may key a plan as
    they are): no Variable or array factor, whose value may change while its key would not."""
    return ((op is None or type(op) is ReduceOp) and average is None and process_set is None
            and type(prescale) in (float, int) and type(postscale) in (float, int))


def allreduce(tensor, average=None, device_dense="", device_sparse="",
              compression=Compression.none, op=None, prescale_factor: float = 1.0,
              postscale_factor: float = 1.0, name: str | None = None, process_set=None,
              ignore_name_scope: bool = False):
    """Combine ``tensor`` across all ranks (default: their average).

    An ``IndexedSlices`` is all-gathered instead (Sum and Average only). With one process the
    result equals the input (times the scale factors).

    >>> import tapegrad as tf
    >>> import tapegrad.distribute as hvd
    >>> hvd.init()
    >>> hvd.allreduce(tf.constant([1.0, 2.0]), op=hvd.Sum, postscale_factor=2.0).numpy()
    array([2., 4.], dtype=float32)
    """
    key = None
    if type(tensor) is Tensor:    # the usual call, kept short: every training step makes it
        value = array_of(tensor)
        key = (_ALONE, op, average, process_set, compression, prescale_factor, postscale_factor,
               value.dtype, value.shape)
        try:
            plan = _PLANS.get(key)
        except TypeError:         # an unhashable argument: the full path says what is wrong
            plan = key = None
        if plan is not None and plan.alone:
            _PLANS.move_to_end(key)
            reduced = plan.reduction.run_alone(value, plan.metadata)
            if reduced is not None:
                return wrap(reduced)
            _engine.raise_mismatch("allreduce", [plan.header, [[name or "allreduce",
                                                                plan.descriptions[0]]]])
        if not _plain_arguments(op, average, process_set, prescale_factor, postscale_factor):
            key = None
    require_init()
    _check_process_set(process_set)
    return reduce_group([tensor], [name or "allreduce"], op, compression, prescale_factor,
                        postscale_factor, average, key)[0]


def grouped_allreduce(tensors, average=None, device_dense="", device_sparse="",
                      compression=Compression.none, op=None, prescale_factor: float = 1.0,
                      postscale_factor: float = 1.0, process_set=None,
                      ignore_name_scope: bool = False, name: str | None = None) -> list:
    """``allreduce`` of several tensors at once, fused into one buffer per dtype.

    >>> import tapegrad as tf
    >>> import tapegrad.distribute as hvd
    >>> hvd.init()
    >>> [t.numpy().tolist() for t in hvd.grouped_allreduce([tf.constant(1.0),
    ...                                                     tf.constant([2, 3])], op=hvd.Max)]
    [1.0, [2, 3]]
    """
    require_init()
    _check_process_set(process_set)
    tensors = list(tensors)
    if not tensors:
        return tensors
    return reduce_group(tensors, _names(name, len(tensors), "grouped_allreduce"), op,
                        compression, prescale_factor, postscale_factor, average)


def allgather(tensor, name: str | None = None, process_set=None,
              ignore_name_scope: bool = False) -> Tensor:
    """The tensors of all ranks concatenated along the first axis, in rank order (their first
    dimensions may differ; the other dimensions and the dtype must agree).

    >>> import tapegrad as tf
    >>> import tapegrad.distribute as hvd
    >>> hvd.init()
    >>> hvd.allgather(tf.constant([[1, 2]])).shape
    TensorShape([1, 2])
    """
    require_init()
    _check_process_set(process_set)
    label = name or "allgather"

    def prepare():
        array = _array(tensor)
        if array.ndim == 0:
            raise ValueError("allgather needs a tensor of rank >= 1 (it concatenates along the "
                             "first axis); reshape a scalar to [1].")
        return [[label, _engine.describe(array, rows_may_differ=True)]], array

    array = _engine.agree({"collective": "allgather"}, prepare)
    return wrap(_engine.allgather_rows(array, label)[0])


def broadcast(tensor, root_rank: int, name: str | None = None, process_set=None,
              ignore_name_scope: bool = False) -> Tensor:
    """Rank ``root_rank``'s value of ``tensor`` on every rank.

    >>> import tapegrad as tf
    >>> import tapegrad.distribute as hvd
    >>> hvd.init()
    >>> hvd.broadcast(tf.constant([5.0]), root_rank=0).numpy()
    array([5.], dtype=float32)
    """
    require_init()
    _check_process_set(process_set)
    label = name or "broadcast"

    def prepare():
        array = _array(tensor)
        return [[label, _engine.describe(array)]], (array, _check_root(root_rank))

    array, root = _engine.agree({"collective": "broadcast", "root": repr(root_rank)}, prepare)
    return wrap(_engine.fused_broadcast([array], root, f"broadcast of {label}")[0])


def _check_root(root_rank) -> int:
    size = require_init().size
    if not isinstance(root_rank, (int, np.integer)) or not 0 <= int(root_rank) < size:
        raise ValueError(f"root_rank must be an integer rank in [0, {size - 1}]; got "
                         f"{root_rank!r}.")
    return int(root_rank)


def alltoall(tensor, splits=None, name: str | None = None, process_set=None,
             ignore_name_scope: bool = False):
    """Send ``splits[r]`` rows of ``tensor`` (in order) to each rank r and receive theirs.

    Without ``splits`` the first dimension is split equally (it must divide by ``size()``) and
    the received tensor is returned; with ``splits``, also the rows received from each rank.

    >>> import tapegrad as tf
    >>> import tapegrad.distribute as hvd
    >>> hvd.init()
    >>> out, received = hvd.alltoall(tf.constant([1, 2, 3]), splits=[3])
    >>> out.numpy().tolist(), received.numpy().tolist()
    ([1, 2, 3], [3])
    """
    state = require_init()
    _check_process_set(process_set)
    label = name or "alltoall"

    def prepare():
        array = _array(tensor)
        if array.ndim == 0:
            raise ValueError("alltoall needs a tensor of rank >= 1 (it splits the first axis).")
        if splits is None:
            if array.shape[0] % state.size:
                raise ValueError(f"alltoall without splits divides the first dimension "
                                 f"({array.shape[0]}) equally among {state.size} ranks; it does "
                                 "not divide. Pass splits.")
            counts = np.full(state.size, array.shape[0] // state.size, dtype=np.int64)
        else:
            counts = _array(splits).astype(np.int64).ravel()
            if counts.shape[0] != state.size or (counts < 0).any() or \
                    int(counts.sum()) != array.shape[0]:
                raise ValueError(f"splits must hold {state.size} non-negative row counts (one "
                                 f"per rank) adding up to the first dimension {array.shape[0]}; "
                                 f"got {counts.tolist()}.")
        return [[label, _engine.describe(array, rows_may_differ=True)]], (array, counts)

    array, counts = _engine.agree({"collective": "alltoall", "splits": splits is not None},
                                  prepare)
    received, received_splits = _engine.alltoall_rows(array, counts, label)
    if splits is None:
        return wrap(received)
    return wrap(received), wrap(received_splits.astype(np.int32))


def barrier(process_set=None) -> None:
    """Wait until every rank has reached this call."""
    require_init()
    _check_process_set(process_set)
    _engine.agree({"collective": "barrier"}, lambda: ([], None))
    _engine.barrier()


def broadcast_variables(variables, root_rank: int, process_set=None,
                        inplace: bool = False) -> None:
    """Assign rank ``root_rank``'s values of ``variables`` on every rank (fused per dtype), as
    done once after building the model so every rank starts from the same weights.

    >>> import tapegrad as tf
    >>> import tapegrad.distribute as hvd
    >>> hvd.init()
    >>> v = tf.Variable([1.0, 2.0])
    >>> hvd.broadcast_variables([v], root_rank=0)
    >>> v.numpy()
    array([1., 2.], dtype=float32)
    """
    state = require_init()
    _check_process_set(process_set)
    variables = list(variables)

    def prepare():
        arrays = [_array(v) for v in variables]
        tensors = [[getattr(v, "name", f"variable {i}"), _engine.describe(a)]
                   for i, (v, a) in enumerate(zip(variables, arrays))]
        return tensors, (arrays, _check_root(root_rank))

    arrays, root = _engine.agree({"collective": "broadcast_variables", "root": repr(root_rank)},
                                 prepare)
    received = _engine.fused_broadcast(arrays, root, f"broadcast of {len(arrays)} variable(s)")
    if state.rank != root:
        for variable, value in zip(variables, received):
            variable.assign(value.copy())


def broadcast_object(obj, root_rank: int = 0, session=None, name: str | None = None,
                     process_set=None):
    """Rank ``root_rank``'s ``obj`` on every rank (JSON-like values, NumPy arrays and tensors;
    tensors arrive as NumPy arrays; no pickle).

    >>> import tapegrad.distribute as hvd
    >>> hvd.init()
    >>> hvd.broadcast_object({"epoch": 3, "lr": (0.1, 0.01)}, root_rank=0)
    {'epoch': 3, 'lr': (0.1, 0.01)}
    """
    state = require_init()
    _check_process_set(process_set)

    def prepare():
        root = _check_root(root_rank)
        return [], (root, _objects.encode(obj) if state.rank == root else None)

    root, data = _engine.agree({"collective": "broadcast_object", "root": repr(root_rank)},
                               prepare)
    return _objects.decode(_engine.broadcast_bytes(data, root, name or "broadcast_object"))


def allgather_object(obj, session=None, name: str | None = None, process_set=None) -> list:
    """Every rank's ``obj`` as a list in rank order (the values ``broadcast_object`` sends).

    >>> import tapegrad.distribute as hvd
    >>> hvd.init()
    >>> hvd.allgather_object([1, "a"])
    [[1, 'a']]
    """
    require_init()
    _check_process_set(process_set)
    data = _engine.agree({"collective": "allgather_object"},
                         lambda: ([], _objects.encode(obj)))
    return [_objects.decode(part)
            for part in _engine.allgather_bytes(data, name or "allgather_object")]
