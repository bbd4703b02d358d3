"""tapegrad.distribute's collectives against raw mpi4py, under MPI.

Run by hand: ``mpiexec -n 2 python benchmarks/allreduce.py [--max-mb 64] [--rounds 5]``
(needs the ``mpi`` extra; rank 0 prints). Three tables:

1. Allreduce bandwidth, 1 KB to ``--max-mb`` MB of float32: ``hvd.allreduce(op=Sum)`` of a
   tensor against ``comm.Allreduce`` of the same NumPy buffer into a preallocated output (the
   floor: what MPI itself costs) and into a fresh ``np.empty_like`` output ("+alloc": what any
   API that returns a new tensor pays, page faults of fresh memory included). Algorithm
   bandwidth is bytes / time; bus bandwidth is ``2 (N-1)/N`` bytes / time, the bytes each rank
   really sends in a ring allreduce (the cost model of docs/distributed.md). Goal: tapegrad
   >= 90% of raw from 1 MB. Then that model, fitted to the raw times (bandwidth and per-step
   latency), against each measured size.
2. Fusion: the gradients of a model with many small variables (``--small-vars`` of 1,000
   float32) reduced with ``grouped_allreduce`` with fusion on (one buffer) and off
   (``fusion_threshold=0``: one Allreduce per variable).
3. Scaling of the digits MLP step (64-128-10, ``tapegrad.examples.digits``, random images): one
   process on a global batch (the other ranks idle) against all N processes each on its slice
   (strong scaling), and each process on a full per-rank batch (weak scaling: images/s).

Before timing, tapegrad's allreduce is checked against the raw one. The rows of a table are timed
round-robin and the best of ``--rounds`` rounds is kept, as the other benchmarks do.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

import tapegrad as tf  # noqa: E402
import tapegrad.distribute as hvd  # noqa: E402
from tapegrad.distribute import _engine  # noqa: E402


def best_time(fn, repeat: int) -> float:
    """Seconds per call of ``fn`` (all ranks start together; the slowest rank's time)."""
    hvd.barrier()
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    elapsed = (time.perf_counter() - start) / repeat
    return max(hvd.allgather_object(elapsed))


def round_robin(rows: dict, repeat: int, rounds: int) -> dict:
    best = {name: float("inf") for name in rows}
    for _ in range(rounds):
        for name, fn in rows.items():
            best[name] = min(best[name], best_time(fn, repeat))
    return best


def report(line: str) -> None:
    if hvd.rank() == 0:
        print(line, flush=True)


def bandwidth_table(max_mb: int, rounds: int) -> dict:
    comm, size = _engine.state.comm, hvd.size()
    bus = 2 * (size - 1) / size
    report(f"\n1. allreduce of float32 buffers, {size} processes (best of {rounds} rounds)")
    report(f"{'bytes':>10} {'raw us':>10} {'+alloc us':>10} {'tapegrad us':>12} {'raw GB/s':>9} "
           f"{'tg GB/s':>8} {'raw bus':>8} {'tg bus':>7} {'tg/raw':>7} {'tg/+alloc':>9}")
    raw_times = {}
    nbytes = 1024
    while nbytes <= max_mb * 1024 * 1024:
        array = np.random.default_rng(hvd.rank()).standard_normal(nbytes // 4).astype(np.float32)
        tensor, out = tf.constant(array), np.empty_like(array)
        comm.Allreduce(array, out)
        mine = hvd.allreduce(tensor, op=hvd.Sum).numpy()
        assert np.array_equal(mine, out), "tapegrad's allreduce differs from MPI's"
        repeat = max(3, min(1000, (64 << 20) // nbytes // 4))
        times = round_robin({
            "raw": lambda a=array, o=out: comm.Allreduce(a, o),
            "alloc": lambda a=array: comm.Allreduce(a, np.empty_like(a)),
            "tapegrad": lambda t=tensor: hvd.allreduce(t, op=hvd.Sum)}, repeat, rounds)
        raw, alloc, ours = times["raw"], times["alloc"], times["tapegrad"]
        report(f"{nbytes:>10} {raw * 1e6:>10.1f} {alloc * 1e6:>10.1f} {ours * 1e6:>12.1f} "
               f"{nbytes / raw / 1e9:>9.2f} {nbytes / ours / 1e9:>8.2f} "
               f"{bus * nbytes / raw / 1e9:>8.2f} {bus * nbytes / ours / 1e9:>7.2f} "
               f"{raw / ours:>7.0%} {alloc / ours:>9.0%}")
        raw_times[nbytes] = raw
        nbytes *= 4
    return raw_times


def cost_model_table(raw_times: dict) -> None:
    """Fit the ring-allreduce model T = 2(N-1)/N * bytes / B + 2(N-1) * latency to the raw
    times (least squares, relative errors) and show how well it predicts each size."""
    size = hvd.size()
    sizes = np.array(sorted(raw_times), dtype=np.float64)
    times = np.array([raw_times[int(n)] for n in sizes])
    design = np.stack([2 * (size - 1) / size * sizes, np.full_like(sizes, 2 * (size - 1))], 1)
    weights = 1.0 / times
    (inverse_bandwidth, latency), *_ = np.linalg.lstsq(design * weights[:, None],
                                                       times * weights, rcond=None)
    report(f"\n1b. ring model fitted to the raw times: bandwidth {1 / inverse_bandwidth / 1e9:.2f} "
           f"GB/s, latency {latency * 1e6:.2f} us per step")
    report(f"{'bytes':>10} {'raw us':>10} {'model us':>10} {'model/raw':>10}")
    for n, measured, predicted in zip(sizes, times, design @ [inverse_bandwidth, latency]):
        report(f"{int(n):>10} {measured * 1e6:>10.1f} {predicted * 1e6:>10.1f} "
               f"{predicted / measured:>10.0%}")


def fusion_table(count: int, rounds: int) -> None:
    rng = np.random.default_rng(hvd.rank())
    grads = [tf.constant(rng.standard_normal(1000).astype(np.float32)) for _ in range(count)]
    threshold = _engine.state.fusion_threshold

    def reduce_with(fusion_threshold):
        def run():
            _engine.state.fusion_threshold = fusion_threshold
            hvd.grouped_allreduce(grads)
        return run

    times = round_robin({"fused": reduce_with(threshold), "unfused": reduce_with(0)}, 20, rounds)
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


def idle_wait(comm) -> None:
    """Wait for rank 0 without spinning a core (MPI's blocking barrier busy-polls)."""
    request = comm.Ibarrier()
    while not request.Test():
        time.sleep(0.01)


def scaling_table(global_batch: int, rounds: int) -> None:
    from tapegrad.examples.digits import build_model
    comm, size, rank = _engine.state.comm, hvd.size(), hvd.rank()
    rng = np.random.default_rng(rank)

    def setup(batch, distributed):
        model = build_model("mlp")
        images = tf.constant(rng.random((batch, 8, 8, 1), dtype=np.float32))
        labels = tf.constant(rng.integers(0, 10, batch).astype(np.int32))
        return mlp_step(model, tf.keras.optimizers.Adam(1e-3), images, labels, distributed)

    single = float("inf")
    if rank == 0:     # one process on the whole global batch while the others sleep
        step = setup(global_batch, False)
        step()
        for _ in range(rounds):
            start = time.perf_counter()
            for _ in range(20):
                step()
            single = min(single, (time.perf_counter() - start) / 20)
    if comm is not None:
        idle_wait(comm)
    strong = setup(global_batch // size, True)
    weak = setup(global_batch, True)
    strong()
    weak()
    times = round_robin({"strong": strong, "weak": weak}, 20, rounds)
    report(f"\n3. digits MLP step (64-128-10, Adam), global batch {global_batch}")
    report(f"1 process, batch {global_batch}:{'':14} {single * 1e3:8.3f} ms  "
           f"{global_batch / single:10.0f} images/s")
    report(f"{size} processes, batch {global_batch // size} each (strong): "
           f"{times['strong'] * 1e3:8.3f} ms  {global_batch / times['strong']:10.0f} images/s  "
           f"speedup {single / times['strong']:.2f}x")
    report(f"{size} processes, batch {global_batch} each (weak):   "
           f"{times['weak'] * 1e3:8.3f} ms  {size * global_batch / times['weak']:10.0f} images/s  "
           f"speedup {size * single / times['weak']:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-mb", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--small-vars", type=int, default=200)
    parser.add_argument("--batch", type=int, default=512)
    args = parser.parse_args()
    hvd.init()
    if not hvd.mpi_enabled():
        sys.exit("benchmarks/allreduce.py needs mpi4py: pip install '.[mpi]', then "
                 "mpiexec -n 2 python benchmarks/allreduce.py")
    report(f"MPI: {_engine.state.MPI.Get_library_version().splitlines()[0]}; "
           f"{hvd.size()} processes on {hvd.cross_size()} node(s)")
    cost_model_table(bandwidth_table(args.max_mb, args.rounds))
    fusion_table(args.small_vars, args.rounds)
    scaling_table(args.batch, args.rounds)


if __name__ == "__main__":
    main()
