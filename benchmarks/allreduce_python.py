"""The Python cost of one ``hvd.allreduce`` call, without MPI's: one process, MPI's
``COMM_SELF`` standing in for two ranks (its collectives cost next to nothing), so what is
timed is tapegrad's own work per call.

Run by hand (needs mpi4py, not mpiexec): ``python benchmarks/allreduce_python.py [--bytes
1000] [--calls 2000]``. Three rows, taking turns call by call, median microseconds:

- "short": a repeated ``hvd.allreduce(tensor, op=hvd.Sum)`` (the path of every training step);
- "full": the same call through ``reduce_group``, the general path (every value's signature,
  the resolved arguments, the general plan runner);
- "minimal": a hand-written floor, the metadata ``Allreduce``, its comparison, the data
  ``Allreduce`` into a reused buffer and one tensor.

Each is timed in a loop ("warm") and after an 8 MB copy that flushes the CPU caches ("cold"),
as a large transfer does between the calls of a real job.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

import tapegrad.distribute as hvd  # noqa: E402
from tapegrad._core.tensor import wrap  # noqa: E402
from tapegrad.distribute import _engine, collectives  # noqa: E402


def pose_as_two_ranks():
    """Initialise on ``COMM_SELF`` and claim a size of 2, so that every call takes the
    multi-process path (its metadata round and buffer ``Allreduce``)."""
    from mpi4py import MPI
    hvd.init()
    state = _engine.state
    state.MPI, state.comm, state.size = MPI, MPI.COMM_SELF.Dup(), 2
    state.watchdog = _engine._Watchdog()
    return MPI, state.comm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bytes", type=int, default=1000)
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    MPI, comm = pose_as_two_ranks()
    array = np.ones(args.bytes // 4, np.float32)
    tensor = wrap(array)
    check, kept = np.zeros(3, np.int64), [np.empty_like(array)]
    agreed, idle = check.tobytes(), sys.getrefcount(kept[0])   # held by the list alone

    def minimal():
        comm.Allreduce(MPI.IN_PLACE, check, op=MPI.MAX)
        if check.tobytes() != agreed:
            raise AssertionError("the ranks disagree")
        buffer = kept[0] if sys.getrefcount(kept[0]) <= idle else np.empty_like(array)
        comm.Allreduce(array, buffer, op=MPI.SUM)
        return wrap(buffer)

    rows = {"short": lambda: hvd.allreduce(tensor, op=hvd.Sum),
            "full": lambda: collectives.reduce_group([tensor], ["x"], hvd.Sum),
            "minimal": minimal}
    flush, sink = np.ones(8 << 20, np.uint8), np.empty(8 << 20, np.uint8)
    for run in rows.values():
        run()
    print(f"Python per allreduce call of {args.bytes} bytes, median us (COMM_SELF as 2 ranks)")
    for cold in (False, True):
        times: dict = {name: [] for name in rows}
        for _ in range(args.calls):
            for name, run in rows.items():
                if cold:
                    np.copyto(sink, flush)
                start = time.perf_counter()
                run()
                times[name].append(time.perf_counter() - start)
        print(f"{'cold' if cold else 'warm'}: " + "  ".join(
            f"{name} {np.median(values) * 1e6:6.2f}" for name, values in times.items()))


if __name__ == "__main__":
    main()
