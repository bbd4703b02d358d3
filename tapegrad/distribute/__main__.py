"""Check an installation: ``mpiexec -n 4 python -m tapegrad.distribute``.

Every process joins, the ranks sum their numbers with an allreduce, and rank 0 prints how many
processes on which hosts took part and which MPI library carried it; the exit status is 1 if
the sum is wrong. Run without ``mpiexec`` it reports the single-process mode.
"""

from __future__ import annotations

import socket
import sys

import tapegrad.distribute as hvd
from tapegrad._core.tensor import convert_to_tensor
from tapegrad.distribute import _engine


def main() -> int:
    hvd.init()
    size, rank = hvd.size(), hvd.rank()
    total = float(hvd.allreduce(convert_to_tensor(float(rank)), op=hvd.Sum))
    hosts = sorted(set(hvd.allgather_object(socket.gethostname())))
    ok = total == size * (size - 1) / 2
    if rank == 0:
        library = (" ".join(_engine.state.MPI.Get_library_version().splitlines()[0].split())
                   if hvd.mpi_enabled() else "none (mpi4py is not installed: one process)")
        print(f"tapegrad.distribute: {size} process(es) on {len(hosts)} host(s) "
              f"({', '.join(hosts)}); MPI: {library}; allreduce "
              f"{'ok' if ok else f'WRONG (sum of ranks {total:g})'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
