"""tapegrad.distribute's collectives against raw mpi4py, under MPI.

Run by hand: ``mpiexec -bind-to core -n 2 python benchmarks/allreduce.py [--max-mb 64]
[--batch 512]`` (needs the ``mpi`` extra; rank 0 prints; binding each rank to a core, Open
MPI's ``--bind-to core``, steadies the figures on a busy machine). Three tables:

1. Allreduce bandwidth, 1 KB to ``--max-mb`` MB of float32: ``hvd.allreduce(op=Sum)`` of a
   tensor wrapping a NumPy buffer (no copy) against ``comm.Allreduce`` of that same buffer
   into a preallocated ``np.empty_like`` output ("raw": what MPI itself costs, the goal's
   reference), into a preallocated output on huge pages as tapegrad allocates its own from
   1 MiB up ("huge": the part of the difference that is the output buffer's memory), into
   another preallocated output after the 24-byte ``Allreduce`` of tapegrad's metadata check
   ("+check": the floor of any allreduce that checks its peers' shapes first), and into a
   fresh ``np.empty_like`` output ("+alloc": what an API returning a new array each call
   pays, page faults of fresh memory included; timed in a pass of its own against "raw",
   because the call after it pays for its freed memory too). "tg avg" is ``hvd.allreduce``
   with its default op, Average (the sum, then 1/size). tapegrad returns a tensor of the
   caller's own, reduced into an output buffer it reuses once no earlier result holds it (the
   case here); each row writes to its own output once per round. Algorithm bandwidth is
   bytes / time; bus bandwidth is ``2 (N-1)/N`` bytes / time, the bytes each rank really sends
   in a ring allreduce (the cost model of docs/distributed.md). Goal: tapegrad >= 90% of raw
   from 1 MB. Then that model, its latency measured on 1-4 KB buffers and its bandwidth on 1 MB
   and larger, against each size.
2. Fusion: the gradients of a model with many small variables (``--small-vars`` of 1,000
   float32) reduced with ``grouped_allreduce`` with fusion on (one buffer) and off
   (``fusion_threshold=0``: one Allreduce per variable).
3. Scaling of the digits MLP step (64-128-10, ``tapegrad.examples.digits``, random images): one
   process on a global batch (the other ranks idle) against all N processes each on its slice
   (strong scaling), and each process on a full per-rank batch (weak scaling: images/s).

BLAS libraries get cores / (processes on the node) threads each unless OPENBLAS_NUM_THREADS,
OMP_NUM_THREADS or MKL_NUM_THREADS is set. Before timing, tapegrad's allreduce is checked
against the raw one. The rows of a table take turns call by call, in an order rotated every
round (so that no row always finds the caches as the same other row left them), each call
timed alone after a barrier, and the median is kept (the slowest rank's): on a shared machine
other jobs then slow every row alike.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import time


def _blas_threads_per_process() -> str:
    """Cores / processes on this node: N processes with a full BLAS thread pool each would
    oversubscribe the cores (2 ranks on 2 cores made the MLP step over 10x slower here)."""
    local = next((os.environ[key] for key in ("MPI_LOCALNRANKS", "OMPI_COMM_WORLD_LOCAL_SIZE",
                                              "PMI_SIZE") if os.environ.get(key, "").isdigit()),
                 "1")
    return str(max(1, (os.cpu_count() or 1) // int(local)))


for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, _blas_threads_per_process())

import numpy as np  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

import tapegrad as tf  # noqa: E402
import tapegrad.distribute as hvd  # noqa: E402
from tapegrad._core.tensor import wrap  # noqa: E402
from tapegrad.distribute import _engine  # noqa: E402


def interleaved_medians(rows: dict, samples: int) -> dict:
    """Median seconds per call of each row (the slowest rank's median). The rows take turns
    call by call, in an order rotated every round, each call timed alone after a barrier, so
    that other jobs on a shared machine slow every row alike and the median ignores the calls
    they hit hardest."""
    comm = _engine.state.comm
    times: dict = {name: [] for name in rows}
    names = list(rows)
    for round_ in range(samples):
        for name in names[round_ % len(names):] + names[:round_ % len(names)]:
            comm.Barrier()
            times[name].append(timed(rows[name]))
    medians = {name: float(np.median(values)) for name, values in times.items()}
    every = hvd.allgather_object(medians)
    return {name: max(rank_medians[name] for rank_medians in every) for name in rows}


def report(line: str) -> None:
    if hvd.rank() == 0:
        print(line, flush=True)


def bandwidth_table(max_mb: int) -> dict:
    comm, size = _engine.state.comm, hvd.size()
    bus = 2 * (size - 1) / size
    report(f"\n1. allreduce of float32 buffers, {size} processes (median of interleaved calls)")
    report(f"{'bytes':>10} {'raw us':>10} {'huge us':>10} {'+check us':>10} {'tapegrad us':>12} "
           f"{'+alloc us':>10} {'tg avg us':>10} {'raw GB/s':>9} {'tg GB/s':>8} {'raw bus':>8} "
           f"{'tg bus':>7} {'tg/raw':>7} {'tg/huge':>8} {'tg/+check':>9} {'avg/raw':>8}")
    raw_times = {}
    check = np.zeros(3, dtype=np.int64)

    def checked(a, o):
        comm.Allreduce(_engine.state.MPI.IN_PLACE, check, op=_engine.state.MPI.MAX)
        comm.Allreduce(a, o)

    nbytes = 1024
    while nbytes <= max_mb * 1024 * 1024:
        array = np.random.default_rng(hvd.rank()).standard_normal(nbytes // 4).astype(np.float32)
        # Each row writes to its own output, once per round, as tapegrad does to its own.
        tensor, out, checked_out = wrap(array), np.empty_like(array), np.empty_like(array)
        huge_out = _engine._new_output(array.shape, array.dtype)
        comm.Allreduce(array, out)
        mine = hvd.allreduce(tensor, op=hvd.Sum).numpy()
        assert np.array_equal(mine, out), "tapegrad's allreduce differs from MPI's"
        samples = max(60, min(1000, (256 << 20) // nbytes))
        times = interleaved_medians({
            "raw": lambda a=array, o=out: comm.Allreduce(a, o),
            "huge": lambda a=array, o=huge_out: comm.Allreduce(a, o),
            "check": lambda a=array, o=checked_out: checked(a, o),
            "tapegrad": lambda t=tensor: hvd.allreduce(t, op=hvd.Sum),
            "average": lambda t=tensor: hvd.allreduce(t)}, samples)
        # Apart: the call after one that freed a fresh output runs up to 40% slower (from 4
        # MB on, MPI's own temporary buffer then lands in fresh memory), whichever row it is.
        alloc = interleaved_medians({
            "raw": lambda a=array, o=out: comm.Allreduce(a, o),
            "alloc": lambda a=array: comm.Allreduce(a, np.empty_like(a))}, samples // 2)
        raw, huge, checked_raw, ours = (times["raw"], times["huge"], times["check"],
                                        times["tapegrad"])
        fresh = alloc["alloc"] / alloc["raw"] * raw        # on the scale of this raw row
        average = times["average"]
        report(f"{nbytes:>10} {raw * 1e6:>10.1f} {huge * 1e6:>10.1f} {checked_raw * 1e6:>10.1f} "
               f"{ours * 1e6:>12.1f} {fresh * 1e6:>10.1f} {average * 1e6:>10.1f} "
               f"{nbytes / raw / 1e9:>9.2f} {nbytes / ours / 1e9:>8.2f} "
               f"{bus * nbytes / raw / 1e9:>8.2f} {bus * nbytes / ours / 1e9:>7.2f} "
               f"{raw / ours:>7.0%} {huge / ours:>8.0%} {checked_raw / ours:>9.0%} "
               f"{raw / average:>8.0%}")
        raw_times[nbytes] = raw
        nbytes *= 4
    return raw_times


def cost_model_table(raw_times: dict) -> None:
    """The ring model T = 2(N-1)/N * bytes / B + 2(N-1) * latency with its two parameters
    measured where each one dominates: the latency from buffers up to 4 KB, the bandwidth from
    1 MB up (least squares on relative errors); then its prediction for every size."""
    size = hvd.size()
    steps, share = 2 * (size - 1), 2 * (size - 1) / size
    small = [n for n in raw_times if n <= 4096]
    large = [n for n in raw_times if n >= 1 << 20]
    if not small or not large:
        return
    latency = float(np.median([raw_times[n] for n in small])) / steps
    # T - latency part = share * n / B: the relative-error least squares of 1/B.
    ratios = [(raw_times[n] - steps * latency) / (share * n) for n in large]
    inverse_bandwidth = float(np.mean(ratios))
    report(f"\n1b. ring model: latency {latency * 1e6:.2f} us per step (from 1-4 KB), bandwidth "
           f"{1 / inverse_bandwidth / 1e9:.2f} GB/s (from >= 1 MB)")
    report(f"{'bytes':>10} {'raw us':>10} {'model us':>10} {'model/raw':>10}")
    for n in sorted(raw_times):
        predicted = share * n * inverse_bandwidth + steps * latency
        report(f"{n:>10} {raw_times[n] * 1e6:>10.1f} {predicted * 1e6:>10.1f} "
               f"{predicted / raw_times[n]:>10.0%}")


def fusion_table(count: int) -> None:
    rng = np.random.default_rng(hvd.rank())
    grads = [tf.constant(rng.standard_normal(1000).astype(np.float32)) for _ in range(count)]
    threshold = _engine.state.fusion_threshold

    def reduce_with(fusion_threshold):
        def run():
            _engine.state.fusion_threshold = fusion_threshold
            hvd.grouped_allreduce(grads)
        return run

    times = interleaved_medians({"fused": reduce_with(threshold), "unfused": reduce_with(0)},
                                50)
    _engine.state.fusion_threshold = threshold
    report(f"\n2. grouped_allreduce of {count} gradients of 1,000 float32 (4 KB each)")
    report(f"fusion on (1 buffer):         {times['fused'] * 1e3:8.3f} ms")
    report(f"fusion off ({count} Allreduce): {times['unfused'] * 1e3:8.3f} ms   "
           f"({times['unfused'] / times['fused']:.1f}x slower)")


def mlp_step(model, optimizer, images, labels, distributed: bool):
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def step():
        with tf.GradientTape() as tape:
            loss = loss_fn(labels, model(images, training=True))
        if distributed:
            tape = hvd.DistributedGradientTape(tape)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
    return step


STEPS = 40


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def idle_wait(comm) -> None:
    """Wait for rank 0 without spinning a core (MPI's blocking barrier busy-polls)."""
    request = comm.Ibarrier()
    while not request.Test():
        time.sleep(0.01)


def scaling_table(global_batch: int) -> None:
    from tapegrad.examples.digits import build_model
    comm, size, rank = _engine.state.comm, hvd.size(), hvd.rank()
    rng = np.random.default_rng(rank)

    def setup(batch, distributed):
        model = build_model("mlp")
        images = tf.constant(rng.random((batch, 8, 8, 1), dtype=np.float32))
        labels = tf.constant(rng.integers(0, 10, batch).astype(np.int32))
        return mlp_step(model, tf.keras.optimizers.Adam(1e-3), images, labels, distributed)

    single = 0.0
    if rank == 0:     # one process on the whole global batch while the others sleep
        step = setup(global_batch, False)
        step()
        single = float(np.median([timed(step) for _ in range(STEPS)]))
    idle_wait(comm)
    single = hvd.broadcast_object(single, root_rank=0)
    alone = setup(global_batch // size, False)
    parameters = build_model("mlp").count_params()
    buffer, out = np.zeros(parameters, np.float32), np.zeros(parameters, np.float32)

    def alone_then_raw_allreduce():
        alone()
        comm.Allreduce(buffer, out)

    rows = {"strong": setup(global_batch // size, True), "weak": setup(global_batch, True),
            "alone": alone, "raw": alone_then_raw_allreduce}
    for step in rows.values():
        step()
    times = interleaved_medians(rows, STEPS)
    report(f"\n3. digits MLP step (64-128-10, Adam), global batch {global_batch}")
    report(f"1 process, batch {global_batch}:{'':14} {single * 1e3:8.3f} ms  "
           f"{global_batch / single:10.0f} images/s")
    report(f"{size} processes, batch {global_batch // size} each (strong): "
           f"{times['strong'] * 1e3:8.3f} ms  {global_batch / times['strong']:10.0f} images/s  "
           f"speedup {single / times['strong']:.2f}x")
    report(f"{size} processes, batch {global_batch} each (weak):   "
           f"{times['weak'] * 1e3:8.3f} ms  {size * global_batch / times['weak']:10.0f} images/s  "
           f"speedup {size * single / times['weak']:.2f}x")
    report(f"{size} processes, batch {global_batch // size} each, no averaging:   "
           f"{times['alone'] * 1e3:8.3f} ms")
    report(f"  the same + one raw mpi4py Allreduce of the {parameters * 4:,} gradient bytes: "
           f"{times['raw'] * 1e3:8.3f} ms (the MPI and synchronisation floor of the strong step)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-mb", type=int, default=64)
    parser.add_argument("--small-vars", type=int, default=200)
    parser.add_argument("--batch", type=int, default=512)
    args = parser.parse_args()
    hvd.init()
    if not hvd.mpi_enabled():
        sys.exit("benchmarks/allreduce.py needs mpi4py: pip install '.[mpi]', then "
                 "mpiexec -n 2 python benchmarks/allreduce.py")
    report(f"MPI: {_engine.state.MPI.Get_library_version().splitlines()[0]}; "
           f"{hvd.size()} processes on {hvd.cross_size()} node(s)")
    cost_model_table(bandwidth_table(args.max_mb))
    fusion_table(args.small_vars)
    scaling_table(args.batch)


if __name__ == "__main__":
    main()
