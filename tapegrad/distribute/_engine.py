"""The MPI engine under ``tapegrad.distribute``: buffer collectives through mpi4py.

Everything here works on NumPy arrays. Without mpi4py (or outside ``mpiexec``) there is one
process and every collective returns its input unchanged. With several processes:

- every collective first checks that all ranks called the same collective on tensors of the same
  dtypes and shapes in the same order, and that none failed to prepare its part (one 24-byte
  ``Allreduce`` of a digest and a flag; only on a mismatch are the descriptions gathered to say
  which tensor, by name, differs on which ranks), as Horovod's coordinator does, so a mismatch
  or a failure on one rank is an error on all, never a hang or a wrong sum;
- tensors are fused: packed per dtype into contiguous buffers of at most the fusion threshold and
  reduced with one buffer ``Allreduce`` each (never pickled objects);
- an allreduce that repeats an earlier call (the same op, dtypes and shapes: every training step)
  reuses that call's plan from a ``PlanCache`` (Horovod's response cache): its digest, buckets,
  MPI ops, and output buffers that no returned tensor holds any more;
- a watchdog thread aborts the job when a collective has not finished within the timeout (a
  rank died, hung or skipped the call), and an uncaught exception on any rank aborts the job
  after printing which rank failed and why, so the other ranks never wait forever.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import mmap
import os
import sys
import threading
import time
from collections import OrderedDict

from tapegrad._core.backend import np
from tapegrad._core.errors import FailedPreconditionError

DEFAULT_FUSION_THRESHOLD = 128 * 1024 * 1024   # bytes, Horovod's default
DEFAULT_TIMEOUT = 300.0                       # seconds a collective may wait for its peers
DEFAULT_CACHE_CAPACITY = 1024                 # plans of repeated calls kept, Horovod's default
FUSION_THRESHOLD_ENV = "HOROVOD_FUSION_THRESHOLD"
TIMEOUT_ENV = "TAPEGRAD_COLLECTIVE_TIMEOUT"
CACHE_CAPACITY_ENV = "HOROVOD_CACHE_CAPACITY"
# Variables that MPI launchers set to the number of processes they started.
_LAUNCHER_SIZE_ENVS = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE")


class TensorMismatchError(FailedPreconditionError):
    """Ranks called a collective with different tensors (a dtype or shape differs at some
    position, or one rank has more) or called different collectives; the message names the
    tensors and the ranks."""


class _State:
    def __init__(self):
        self.MPI = None             # the mpi4py.MPI module, or None for one process
        self.comm = None            # our duplicate of the world communicator
        self.local_comm = None
        self.cross_comm = None
        self.rank = self.size = self.local_rank = self.local_size = 0
        self.cross_rank = self.cross_size = 0
        self.initialized = False
        self.fusion_threshold = DEFAULT_FUSION_THRESHOLD
        self.timeout = DEFAULT_TIMEOUT
        self.cache_capacity = DEFAULT_CACHE_CAPACITY
        self.watchdog = None
        self.previous_excepthook = None


state = _State()


# -- start and stop ----------------------------------------------------------------------------

def _launcher_size() -> int:
    for key in _LAUNCHER_SIZE_ENVS:
        value = os.environ.get(key, "")
        if value.isdigit():
            return int(value)
    return 1


def _import_mpi():
    """mpi4py's MPI module, or None when mpi4py is not installed and no launcher started us."""
    try:
        from mpi4py import MPI
    except ImportError as error:
        launched = _launcher_size()
        if launched > 1:
            raise ImportError(
                f"This process is one of {launched} started by an MPI launcher, but mpi4py is "
                "not installed, so every process would train alone on its own data. Install "
                "the MPI extra: pip install 'tapegrad[mpi]'.") from error
        return None
    return MPI


def _setting(value, env: str, default, convert, what: str):
    if value is None:
        raw = os.environ.get(env)
        if raw is None:
            return default
        try:
            value = convert(raw)
        except ValueError:
            raise ValueError(f"{env}={raw!r} is not a valid {what}.") from None
    if value < 0:
        raise ValueError(f"The {what} must be >= 0 (0 turns it off); got {value}.")
    return value


def init(comm=None, *, fusion_threshold: int | None = None, timeout: float | None = None,
         cache_capacity: int | None = None) -> None:
    state.fusion_threshold = _setting(fusion_threshold, FUSION_THRESHOLD_ENV,
                                      DEFAULT_FUSION_THRESHOLD, int, "fusion threshold in bytes")
    state.timeout = _setting(timeout, TIMEOUT_ENV, DEFAULT_TIMEOUT, float,
                             "collective timeout in seconds")
    state.cache_capacity = _setting(cache_capacity, CACHE_CAPACITY_ENV, DEFAULT_CACHE_CAPACITY,
                                    int, "cache capacity (plans of repeated calls)")
    for cache in PlanCache.every:
        cache.trim()
    if state.initialized:
        return
    MPI = _import_mpi()
    if MPI is None:
        state.rank, state.size, state.local_rank, state.local_size = 0, 1, 0, 1
        state.cross_rank, state.cross_size = 0, 1
        state.initialized = True
        return
    if comm is None:
        comm = MPI.COMM_WORLD
    elif not isinstance(comm, MPI.Comm):
        raise TypeError("init(comm) takes an mpi4py communicator (e.g. MPI.COMM_WORLD.Split(...))"
                        f"; got {type(comm).__name__}.")
    launched = _launcher_size()
    if comm == MPI.COMM_WORLD and launched > 1 and comm.Get_size() == 1:
        raise RuntimeError(
            f"The launcher started {launched} processes but MPI reports 1: mpiexec belongs to "
            "a different MPI library than the one mpi4py was built with. Use the mpiexec "
            "installed with mpi4py's MPI (with the 'mpi' extra: the mpiexec next to python).")
    state.MPI = MPI
    state.comm = comm.Dup()          # our own context: never mixed with the user's messages
    state.rank, state.size = state.comm.Get_rank(), state.comm.Get_size()
    state.local_comm = state.comm.Split_type(MPI.COMM_TYPE_SHARED, key=state.rank)
    state.local_rank, state.local_size = state.local_comm.Get_rank(), state.local_comm.Get_size()
    state.cross_comm = state.comm.Split(color=state.local_rank, key=state.rank)
    state.cross_rank, state.cross_size = state.cross_comm.Get_rank(), state.cross_comm.Get_size()
    state.initialized = True
    if state.size > 1:
        state.previous_excepthook = sys.excepthook
        sys.excepthook = _abort_on_uncaught
        state.watchdog = _Watchdog()


def shutdown() -> None:
    if not state.initialized:
        return
    if state.watchdog is not None:
        state.watchdog.stop()
    if state.previous_excepthook is not None and sys.excepthook is _abort_on_uncaught:
        sys.excepthook = state.previous_excepthook
    for comm in (state.cross_comm, state.local_comm, state.comm):
        if comm is not None:
            comm.Free()
    for cache in PlanCache.every:
        cache.clear()
    for op in _HALF_OPS.values():
        op.Free()
    _HALF_OPS.clear()
    state.__dict__.update(_State().__dict__)


def require_init() -> _State:
    if not state.initialized:
        raise ValueError("tapegrad.distribute has not been initialized; call hvd.init() first.")
    return state


# -- faults ------------------------------------------------------------------------------------

def _abort(message: str) -> None:
    sys.stderr.write(f"\ntapegrad.distribute: {message}\n")
    sys.stderr.flush()
    # MPI_Abort ends every process at once; the launcher forwards each rank's output through a
    # pipe, and a line written just before the abort can be lost with it: give it time to pass.
    time.sleep(0.25)
    state.MPI.COMM_WORLD.Abort(1)


def _abort_on_uncaught(exc_type, exc, tb):
    """``sys.excepthook`` on every rank of a multi-process job: say which rank failed and why,
    print the traceback, then end the whole job."""
    sys.stderr.write(f"\ntapegrad.distribute: rank {state.rank} of {state.size} failed with "
                     f"{exc_type.__name__}: {exc}\n")
    (state.previous_excepthook or sys.__excepthook__)(exc_type, exc, tb)
    _abort(f"rank {state.rank} of {state.size} failed with {exc_type.__name__}: {exc}\n"
           f"tapegrad.distribute: aborting all {state.size} ranks so that none waits for it.")


class _Watchdog:
    """A thread that aborts the job when the collective in progress outlives the timeout.

    The collectives themselves are MPI's blocking ones (non-blocking ones polled in Python reach
    only 60-80% of their bandwidth here). A collective only stores its start in ``current`` (no
    lock, no wake-up: that would cost more than a small allreduce); the thread looks at it a
    few times per timeout (mpi4py releases the GIL while MPI blocks).
    """

    def __init__(self):
        self.current = None         # (description, start time) of the collective in progress
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tapegrad-distribute-watchdog",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(min(1.0, max(state.timeout, 0.1) / 10)):
            current = self.current
            if current is None or not state.timeout:
                continue
            description, started = current
            if time.monotonic() - started > state.timeout and current is self.current:
                _abort(f"rank {state.rank} of {state.size}: {description} did not finish within "
                       f"{state.timeout:g} s (another rank died, hangs, or did not make the same "
                       f"call); aborting the job. Set {TIMEOUT_ENV} (seconds) or "
                       "hvd.init(timeout=...) if a step legitimately takes longer.")
                return


class watched:
    """``with watched(description):`` around a blocking collective, so that the watchdog can
    abort it (a class rather than a generator, and reusable: this runs twice per allreduce)."""

    __slots__ = ("description",)

    def __init__(self, description: str):
        self.description = description

    def __enter__(self):
        if state.watchdog is not None:
            state.watchdog.current = (self.description, time.monotonic())

    def __exit__(self, *exc_info):
        if state.watchdog is not None:
            state.watchdog.current = None


# -- the metadata check ------------------------------------------------------------------------

def describe(array, rows_may_differ: bool = False) -> list:
    """What the metadata check compares for one tensor: dtype and shape (without the first
    dimension for collectives where it may differ); refuses dtypes MPI cannot carry."""
    _check_carriable(array)
    return [array.dtype.str, list(array.shape[1:] if rows_may_differ else array.shape)]


def _check_carriable(array) -> None:
    if array.dtype.kind not in "biufc":
        raise TypeError(f"tapegrad.distribute collectives carry numeric and boolean tensors; "
                        f"got dtype {array.dtype}. Send other values with broadcast_object or "
                        "allgather_object.")


# Errors a collective's local preparation may raise on some ranks only (a value too large for
# fp16 here, a string tensor there): every rank must learn of them, or the others would wait.
LOCAL_ERRORS = (TypeError, ValueError, NotImplementedError)


def agree(header: dict, prepare):
    """Run ``prepare()`` (this rank's checks and conversions; returns ``(tensors, payload)``,
    ``tensors`` as for :func:`check_same_call`), then make sure that every rank makes the same
    call and that none failed to prepare it; returns ``payload``.

    A rank whose preparation raised re-raises its error; the others raise the same type of
    error naming that rank, so that no rank is left waiting in a collective.
    """
    try:
        tensors, payload = prepare()
        problem = None
    except LOCAL_ERRORS as error:
        if state.comm is None or state.size == 1:
            raise
        tensors, payload, problem = [], None, error
    check_same_call(header, tensors, problem)
    return payload


def check_same_call(header: dict, tensors: list, problem: Exception | None = None) -> None:
    """Raise TensorMismatchError unless every rank passes an identical ``header`` (the collective,
    its op and root) and the same tensor descriptions, position by position (``tensors`` holds
    ``[name, description]`` pairs; names only label the error: layers built in a different
    order get different automatic names, yet their gradients still line up). A ``problem``
    (this rank could not prepare the call) is raised on every rank."""
    confirm(0 if problem else call_digest(header, tensors), header["collective"], problem,
            lambda: [header, tensors])


def confirm(digest: int, collective: str, problem: Exception | None, describe) -> None:
    """The metadata round of a call not seen before (see :class:`MetadataRound`); ``describe()``
    gives ``[header, tensors]`` as for :func:`check_same_call`, for the error."""
    if not MetadataRound(digest, collective).run(problem):
        raise_mismatch(collective, describe())


class MetadataRound:
    """The metadata check of one call: one ``Allreduce`` (MAX) of the call's digest, its
    complement and whether this rank failed to prepare the call. The buffer is filled once:
    when the ranks agree and none failed, MAX leaves it as it was, so a cached plan reuses its
    round as it is."""

    __slots__ = ("collective", "buffer", "agreed", "watch")

    def __init__(self, digest: int, collective: str):
        self.collective = collective
        self.buffer = np.array([digest, ~digest, 0], dtype=np.int64)
        self.agreed = self.buffer.tobytes()
        self.watch = watched(f"{collective} (metadata check)")

    def run(self, problem: Exception | None = None) -> bool:
        """Whether every rank made this call; raises on every rank the ``problem`` of any
        rank. When it returns False, every rank must call :func:`raise_mismatch`."""
        if state.comm is None or state.size == 1:
            if problem is not None:
                raise problem
            return True
        buffer = self.buffer
        if problem is not None:
            buffer[2] = 1
        with self.watch:
            state.comm.Allreduce(state.MPI.IN_PLACE, buffer, op=state.MPI.MAX)
        if buffer.tobytes() == self.agreed:
            return True
        self.disagreed(problem)
        return False

    def disagreed(self, problem: Exception | None) -> None:
        """After a round that did not come back as this rank sent it: raise the ``problem`` of
        any rank, or return None (the ranks made different calls)."""
        buffer = self.buffer
        failed = bool(buffer[2])
        buffer[:] = np.frombuffer(self.agreed, dtype=np.int64)        # ready for the next call
        if failed:
            _raise_problem(self.collective, problem)


def raise_mismatch(collective: str, described: list):
    """Gather every rank's ``described`` call (``[header, tensors]`` as for
    :func:`check_same_call`) and raise the TensorMismatchError naming what differs."""
    full = json.dumps(described, separators=(",", ":")).encode()
    every = [json.loads(part) for part in allgather_bytes(full, collective)]
    raise TensorMismatchError(_mismatch_message(every))


def _raise_problem(collective: str, problem: Exception | None):
    mine = json.dumps(None if problem is None else [type(problem).__name__, str(problem)])
    every = [json.loads(part) for part in allgather_bytes(mine.encode(), collective)]
    if problem is not None:
        raise problem
    rank, (kind, message) = next((r, p) for r, p in enumerate(every) if p is not None)
    error_type = next((e for e in LOCAL_ERRORS if e.__name__ == kind), ValueError)
    raise error_type(f"{collective} failed on rank {rank}, so on every rank: {kind}: {message}")


def call_digest(header: dict, tensors: list) -> int:
    """The same 64-bit number on every rank for the same call (``tensors`` as for
    :func:`check_same_call`; names do not count)."""
    key = repr((sorted(header.items()), [d for _, d in tensors]))
    return int(np.frombuffer(hashlib.blake2b(key.encode(), digest_size=8).digest(),
                             dtype=np.int64)[0])


def _ranks(ranks) -> str:
    return "rank " + str(ranks[0]) if len(ranks) == 1 else "ranks " + str(list(ranks))


def _group(values: dict) -> str:
    """``{rank: value}`` as "value on ranks [..]; value on ranks [..]"."""
    groups: dict = {}
    for rank, value in values.items():
        groups.setdefault(value, []).append(rank)
    return "; ".join(f"{value} on {_ranks(ranks)}" for value, ranks in groups.items())


def _mismatch_message(every: list) -> str:
    """Which tensors differ on which ranks, from every rank's ``[header, tensors]``."""
    headers = {rank: json.dumps(header, sort_keys=True) for rank, (header, _) in enumerate(every)}
    if len(set(headers.values())) > 1:
        return ("Ranks called different collectives (or with different ops or roots): "
                + _group(headers) + ". Every rank must make the same collective calls in the "
                "same order.")
    collective = every[0][0]["collective"]
    lists = [tensors for _, tensors in every]
    problems = []
    for position in range(max(len(tensors) for tensors in lists)):
        having = [r for r, tensors in enumerate(lists) if position < len(tensors)]
        names = dict.fromkeys(lists[r][position][0] for r in having)
        label = "tensor " + " / ".join(f"'{n}'" for n in names) + f" (#{position})"
        if len(having) < len(lists):
            missing = [r for r in range(len(lists)) if r not in having]
            problems.append(f"{label} is present on {_ranks(having)} only (missing on "
                            f"{_ranks(missing)})")
            continue
        seen = {r: _show(lists[r][position][1]) for r in having}
        if len(set(seen.values())) > 1:
            problems.append(f"{label} has {_group(seen)}")
    return (f"Mismatched {collective} across ranks: " + "; ".join(problems)
            + ". Every rank must pass tensors of the same dtypes and shapes in the same order.")


def _show(description) -> str:
    if description is None:
        return "no gradient (None)"
    dtype, shape = description
    return f"dtype {np.dtype(dtype).name} shape {tuple(shape)}"


# -- buffer collectives ------------------------------------------------------------------------

def mpi_op(name: str):
    return {"sum": state.MPI.SUM, "min": state.MPI.MIN, "max": state.MPI.MAX,
            "product": state.MPI.PROD}[name]


_UFUNCS = {"sum": np.add, "min": np.minimum, "max": np.maximum, "product": np.multiply}
_HALF_OPS: dict = {}


def _half_op(name: str):
    """An MPI reduction of float16 values (carried as 16-bit integers) computed by NumPy:
    MPI has no standard half-precision type (MPICH's is an extension, Open MPI has none)."""
    op = _HALF_OPS.get(name)
    if op is None:
        ufunc = _UFUNCS[name]

        def combine(incoming, accumulated, datatype):
            into = np.frombuffer(accumulated, dtype=np.float16)
            ufunc(np.frombuffer(incoming, dtype=np.float16), into, out=into)
        op = _HALF_OPS[name] = state.MPI.Op.Create(combine, commute=True)
    return op


def _transport(array):
    """A C-contiguous array MPI can carry with a standard datatype (booleans as bytes, float16
    as 16-bit integers)."""
    _check_carriable(array)
    array = np.ascontiguousarray(array)
    wire = _WIRE_DTYPES.get(array.dtype)
    return array if wire is None else array.view(wire)


# The dtypes without a standard MPI datatype, and what they travel as.
_WIRE_DTYPES = {np.dtype(np.bool_): np.dtype(np.uint8), np.dtype(np.float16): np.dtype(np.uint16)}


def _reduction(name: str, dtype):
    return _half_op(name) if dtype == np.float16 else mpi_op(name)


class PlanCache(OrderedDict):
    """The plans of calls made before (objects with a ``release()`` of their buffers), least
    recently used first, at most ``state.cache_capacity`` of them (0 keeps none): Horovod's
    response cache. A call that repeats an earlier one (the same op, dtypes and shapes: every
    training step) then skips its checks, its digest and its buffer set-up. A mapping itself,
    so that a hit costs two C calls: ``get(key)``, then ``move_to_end(key)``."""

    every: list = []      # every cache, so that init() and shutdown() reach them

    def __init__(self):
        super().__init__()
        PlanCache.every.append(self)

    def add(self, key, plan):
        self[key] = plan
        self.trim()
        return plan

    def trim(self) -> None:
        while len(self) > state.cache_capacity:
            self.popitem(last=False)[1].release()

    def clear(self) -> None:
        for plan in self.values():
            plan.release()
        super().clear()


_uses = itertools.count()


class _Outputs:
    """The output buffers that the reduced tensors of one bucket wrap, reused once no tensor
    returned earlier holds them any more. Two are kept, so that a loop that still holds the
    previous step's gradients while it computes the next ones reuses them too; the buffers of
    all plans together stay under twice the fusion threshold (the least recently used plans
    give theirs up first; the plan in use always keeps one)."""

    kept_bytes = 0                  # of every plan's buffers together
    keeping: set = set()            # the _Outputs that keep buffers
    # Slots, here and in the other classes of a plan: fewer memory lines touched per call.
    __slots__ = ("shape", "dtype", "nbytes", "huge", "kept", "last_use")

    def __init__(self, shape: tuple, dtype):
        self.shape, self.dtype = shape, dtype
        nbytes = math.prod(shape) * dtype.itemsize
        self.nbytes, self.huge = _footprint(nbytes), _on_huge_pages(nbytes)
        self.kept: list = []
        self.last_use = 0

    def take(self):
        """A buffer that no returned tensor holds: a kept one, or a new one (kept if room)."""
        self.last_use = next(_uses)
        kept = self.kept
        for i in range(len(kept)):
            # Only our list holds a buffer that no tensor wraps (a NumPy view holds its base:
            # the views of a fused buffer keep it busy too).
            if _references(kept, i) <= _IDLE_REFERENCES:
                return kept[i]
        buffer = (_new_output(self.shape, self.dtype) if self.huge
                  else np.empty(self.shape, self.dtype))
        if state.cache_capacity and len(self.kept) < 2:
            self._keep(buffer)
        return buffer

    def _keep(self, buffer) -> None:
        budget = 2 * state.fusion_threshold
        for other in sorted(_Outputs.keeping - {self}, key=lambda o: o.last_use):
            if _Outputs.kept_bytes + self.nbytes <= budget:
                break
            other.release()
        if self.kept and _Outputs.kept_bytes + self.nbytes > budget:
            return
        self.kept.append(buffer)
        _Outputs.kept_bytes += self.nbytes
        _Outputs.keeping.add(self)

    def release(self) -> None:
        _Outputs.kept_bytes -= self.nbytes * len(self.kept)
        self.kept.clear()
        _Outputs.keeping.discard(self)


# Output buffers of 1-16 MiB start on a 2 MiB boundary in memory that asks the kernel for
# huge pages: MPI writes them 20-50% faster at 256 KiB-4 MiB (measured on the development VM,
# where each TLB miss of 4 KiB pages costs a nested page walk), rounded up to whole huge pages
# (at most twice the bytes at 1 MiB, hence no smaller buffers). From 16 MiB the transfer is
# memory-bound and was no faster on huge pages (at 64 MiB 4% slower), so larger buffers are
# ordinary ones. Where the system has no transparent huge pages this is page-aligned memory.
_HUGE_PAGE = 2 << 20
_HUGE_PAGE_BYTES = (1 << 20, 16 << 20)              # the sizes of buffers put on them
_HUGE_PAGES = hasattr(mmap, "MADV_HUGEPAGE")        # Linux


def _on_huge_pages(nbytes: int) -> bool:
    return _HUGE_PAGES and _HUGE_PAGE_BYTES[0] <= nbytes <= _HUGE_PAGE_BYTES[1]


def _footprint(nbytes: int) -> int:
    """The memory an output buffer of ``nbytes`` takes (see :func:`_new_output`)."""
    if _on_huge_pages(nbytes):
        return -(-nbytes // _HUGE_PAGE) * _HUGE_PAGE
    return nbytes


def _new_output(shape: tuple, dtype):
    """An uninitialised array for reduced values, on huge pages at 1-16 MiB (see above). The
    array is made straight on the mapping, so that every NumPy view of it (a fused bucket's
    results) keeps the array itself referenced, as ``_Outputs.take`` needs."""
    nbytes = math.prod(shape) * dtype.itemsize
    if not _on_huge_pages(nbytes):
        return np.empty(shape, dtype)
    mapping = mmap.mmap(-1, _footprint(nbytes) + _HUGE_PAGE, flags=mmap.MAP_PRIVATE)
    try:
        mapping.madvise(mmap.MADV_HUGEPAGE)
    except OSError:           # a kernel without transparent huge pages: ordinary pages
        pass
    start = np.frombuffer(mapping, np.uint8, count=1).ctypes.data
    return np.ndarray(shape, dtype, buffer=mapping, offset=-start % _HUGE_PAGE)


def _references(kept: list, i: int) -> int:
    """The reference count of ``kept[i]``, taken the same way for the calibration below and for
    every buffer (whatever the interpreter's own temporary references, they are the same)."""
    return sys.getrefcount(kept[i])


_IDLE_REFERENCES = _references([np.empty(0)], 0)     # a buffer that only its list holds


class _Bucket:
    """One ``Allreduce`` of a plan: which arrays, where in the buffer, with which MPI op."""

    __slots__ = ("single", "spans", "outputs", "wire", "op", "scale", "chunks")

    def __init__(self, arrays: list, indices: list, op: str, scale):
        dtype = arrays[indices[0]].dtype
        self.single = len(indices) == 1
        self.spans, offset = [], 0
        for i in indices:
            self.spans.append((i, offset, offset + arrays[i].size, arrays[i].shape))
            offset += arrays[i].size
        self.outputs = _Outputs(arrays[indices[0]].shape if self.single else (offset,), dtype)
        self.wire = _WIRE_DTYPES.get(dtype)
        self.op = _reduction(op, dtype) if state.comm is not None and state.size > 1 else None
        self.scale = None if scale is None or scale == 1.0 else np.asarray(scale, dtype=dtype)
        # This rank's chunk when the bucket is reduced in chunks (see _reduce_in_chunks).
        self.chunks = None
        if (self.scale is not None and self.op is not None and self.wire is None
                and offset * dtype.itemsize >= _CHUNKED_MIN_BYTES and offset % state.size == 0):
            length = offset // state.size
            self.chunks = slice(state.rank * length, (state.rank + 1) * length)


# A scaled bucket (Average's 1/size, a postscale factor) from this size up, whose elements
# divide equally among the ranks, is reduced in chunks (see _reduce_in_chunks): MPI's allreduce
# then a scale took 10-20% longer at 1-16 MiB here. (MPICH's collectives with uneven counts,
# Reduce_scatter and Allgatherv, were slower than Allreduce and the scale.)
_CHUNKED_MIN_BYTES = 256 << 10


def _reduce_in_chunks(source, buffer, bucket: _Bucket, watch: watched) -> None:
    """Allreduce ``source`` (None: the values are packed in ``buffer`` already) into ``buffer``
    and scale the result, as a reduce-scatter, the scale of this rank's chunk while it is still
    in the cache, and an all-gather: the bytes each rank sends are those of MPI's own
    large-message allreduce, but the scale no longer makes a pass over the whole result. Each
    element is reduced and scaled on one rank only, so every rank gets the same bits."""
    mine = bucket.chunks
    flat = buffer.reshape(-1)
    chunk = flat[mine]
    with watch:
        if source is None:      # in place: this rank's reduced chunk comes first in the buffer
            state.comm.Reduce_scatter_block(state.MPI.IN_PLACE, flat, op=bucket.op)
            if mine.start:
                np.copyto(chunk, flat[:mine.stop - mine.start])
        else:
            state.comm.Reduce_scatter_block(source, chunk, op=bucket.op)
        np.multiply(chunk, bucket.scale, out=chunk)
        state.comm.Allgather(state.MPI.IN_PLACE, flat)


class AllreducePlan:
    """The reduction of arrays of fixed dtypes and shapes with ``op`` ("sum", "min", "max",
    "product"), set up once: one ``Allreduce`` per dtype bucket of at most the fusion threshold
    (an array alone in its bucket goes straight from its own memory), into output buffers
    reused from call to call, the results then multiplied by ``scale`` in place (Average's
    1/size). The results are the caller's: no array it passed is among them."""

    __slots__ = ("buckets", "watch")

    def __init__(self, arrays: list, op: str, scale=None, description: str = "allreduce"):
        self.buckets = [_Bucket(arrays, indices, op, scale)
                        for indices in _buckets(arrays, state.fusion_threshold)]
        self.watch = watched(description)

    def release(self) -> None:
        for bucket in self.buckets:
            bucket.outputs.release()

    def run_alone(self, array, metadata: MetadataRound):
        """``metadata.run()``, then ``run([array])[0]``, for a plan of one array on several
        ranks (``allreduce``'s usual call, every training step): its two ``Allreduce`` calls,
        the output buffer reused, the scale in place; None when the ranks' calls differ (the
        caller raises the mismatch). Written out here rather than through the general methods,
        whose calls and branches cost more than all of this when the CPU caches are cold after
        a large transfer."""
        comm, watchdog = state.comm, state.watchdog
        check = metadata.buffer
        watchdog.current = (metadata.watch.description, time.monotonic())
        try:
            comm.Allreduce(state.MPI.IN_PLACE, check, op=state.MPI.MAX)
        finally:
            watchdog.current = None
        if check.tobytes() != metadata.agreed:
            metadata.disagreed(None)            # raises another rank's failure, if any
            return None
        bucket = self.buckets[0]
        buffer = bucket.outputs.take()
        source, target = np.ascontiguousarray(array), buffer
        if bucket.chunks is not None:
            _reduce_in_chunks(source, buffer, bucket, self.watch)
            return buffer
        if bucket.wire is not None:
            source, target = source.view(bucket.wire), buffer.view(bucket.wire)
        watchdog.current = (self.watch.description, time.monotonic())
        try:
            comm.Allreduce(source, target, op=bucket.op)
        finally:
            watchdog.current = None
        if bucket.scale is not None:
            np.multiply(buffer, bucket.scale, out=buffer)
        return buffer

    def run(self, arrays: list) -> list:
        out: list = [None] * len(arrays)
        comm = state.comm if state.size > 1 else None
        for bucket in self.buckets:
            buffer = bucket.outputs.take()
            wire = buffer if bucket.wire is None else buffer.view(bucket.wire)
            source = None                  # fused: packed into the buffer, reduced in place
            if bucket.single:
                source = arrays[bucket.spans[0][0]]
                if comm is not None:
                    source = np.ascontiguousarray(source)
            else:
                np.concatenate([arrays[i].ravel() for i, _, _, _ in bucket.spans], out=buffer)
            if comm is None:
                if source is not None:
                    np.copyto(buffer, source)
            elif bucket.chunks is not None:
                _reduce_in_chunks(source, buffer, bucket, self.watch)
            else:
                if source is not None and bucket.wire is not None:
                    source = source.view(bucket.wire)
                with self.watch:
                    comm.Allreduce(state.MPI.IN_PLACE if source is None else source, wire,
                                   op=bucket.op)
            if bucket.scale is not None and bucket.chunks is None:
                np.multiply(buffer, bucket.scale, out=buffer)
            if bucket.single:
                out[bucket.spans[0][0]] = buffer
            else:
                for i, start, stop, shape in bucket.spans:
                    out[i] = buffer[start:stop].reshape(shape)
        return out


def fused_broadcast(arrays: list, root: int, description: str) -> list:
    """``arrays`` of rank ``root`` on every rank, one ``Bcast`` per dtype bucket."""
    if state.comm is None or state.size == 1:
        return list(arrays)
    out: list = [None] * len(arrays)
    for bucket in _buckets(arrays, state.fusion_threshold):
        buffer = np.concatenate([_transport(arrays[i]).ravel() for i in bucket])
        with watched(description):
            state.comm.Bcast(buffer, root=root)
        _unpack(buffer, bucket, arrays, out)
    return out


def _buckets(arrays: list, threshold: int):
    """Index lists: same dtype, in order, each at most ``threshold`` bytes unless one array is
    larger (threshold 0: one array per bucket)."""
    by_dtype: dict = {}
    for i, array in enumerate(arrays):
        by_dtype.setdefault(array.dtype, []).append(i)
    for indices in by_dtype.values():
        bucket, size = [], 0
        for i in indices:
            nbytes = arrays[i].nbytes
            if bucket and size + nbytes > threshold:
                yield bucket
                bucket, size = [], 0
            bucket.append(i)
            size += nbytes
        if bucket:
            yield bucket


def _unpack(buffer, bucket, arrays, out) -> None:
    offset = 0
    for i in bucket:
        n = arrays[i].size
        out[i] = buffer[offset:offset + n].view(arrays[i].dtype).reshape(arrays[i].shape)
        offset += n


def allgather_rows(array, description: str):
    """The arrays of all ranks concatenated along the first axis (first dims may differ), and
    the number of rows each rank sent."""
    if state.comm is None or state.size == 1:
        return np.array(array), np.array([array.shape[0]], dtype=np.int64)
    source = _transport(array)
    rows = np.empty(state.size, dtype=np.int64)
    row_size = int(np.prod(array.shape[1:], dtype=np.int64))
    with watched(description):
        state.comm.Allgather(np.array([array.shape[0]], dtype=np.int64), rows)
        result = np.empty((int(rows.sum()),) + array.shape[1:], dtype=source.dtype)
        counts = rows * row_size
        state.comm.Allgatherv(source, [result, (counts, _displacements(counts))])
    return result.view(array.dtype), rows


def alltoall_rows(array, splits, description: str):
    """Rows ``splits[r]`` of ``array`` (in order) go to rank r; returns (received, their rows)."""
    if state.comm is None or state.size == 1:
        return np.array(array), np.asarray(splits, dtype=np.int64)
    source = _transport(array)
    splits = np.asarray(splits, dtype=np.int64)
    received = np.empty(state.size, dtype=np.int64)
    row_size = int(np.prod(array.shape[1:], dtype=np.int64))
    with watched(description):
        state.comm.Alltoall(splits, received)
        result = np.empty((int(received.sum()),) + array.shape[1:], dtype=source.dtype)
        send, recv = splits * row_size, received * row_size
        state.comm.Alltoallv([source, (send, _displacements(send))],
                             [result, (recv, _displacements(recv))])
    return result.view(array.dtype), received


def _displacements(counts):
    return np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)


def allgather_bytes(data: bytes, description: str) -> list:
    """Every rank's ``data`` (lengths may differ), in rank order."""
    gathered, lengths = allgather_rows(np.frombuffer(data, dtype=np.uint8), description)
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    return [gathered[bounds[r]:bounds[r + 1]].tobytes() for r in range(state.size)]


def broadcast_bytes(data: bytes | None, root: int, description: str) -> bytes:
    if state.comm is None or state.size == 1:
        return bytes(data)
    length = np.array([len(data) if state.rank == root else 0], dtype=np.int64)
    with watched(description):
        state.comm.Bcast(length, root=root)
        buffer = (np.frombuffer(data, dtype=np.uint8).copy() if state.rank == root
                  else np.empty(int(length[0]), dtype=np.uint8))
        state.comm.Bcast(buffer, root=root)
    return buffer.tobytes()


def barrier() -> None:
    if state.comm is not None and state.size > 1:
        with watched("barrier"):
            state.comm.Barrier()
