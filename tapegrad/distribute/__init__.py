"""Data-parallel training over MPI with Horovod's API: ``import tapegrad.distribute as hvd``.

Run the same script in N processes (``mpiexec -n 4 python train.py``); each trains on its
shard of the data, and ``DistributedGradientTape`` (or ``DistributedOptimizer``) averages the
gradients, so every rank applies the same update. Needs the ``mpi`` extra
(``pip install 'tapegrad[mpi]'``: mpi4py and MPICH); without it there is one process and the
script runs unchanged. ``hvd.callbacks`` holds Horovod's Keras callbacks for ``model.fit``.
See docs/distributed.md.

>>> import tapegrad as tf
>>> import tapegrad.distribute as hvd
>>> hvd.init()
>>> hvd.rank(), hvd.size()
(0, 1)
>>> hvd.allreduce(tf.constant([1.0, 3.0])).numpy()
array([1., 3.], dtype=float32)

Settings: ``HOROVOD_FUSION_THRESHOLD`` (bytes per fused buffer, default 128 MiB, 0 turns
fusion off), ``TAPEGRAD_COLLECTIVE_TIMEOUT`` (seconds a collective may wait for the other
ranks before the job is aborted, default 300, 0 waits forever) and ``HOROVOD_CACHE_CAPACITY``
(how many plans of repeated allreduce calls are kept, default 1024, 0 keeps none), or
``hvd.init(fusion_threshold=, timeout=, cache_capacity=)``.
"""

from __future__ import annotations

from tapegrad.distribute import _engine
from tapegrad.distribute._engine import TensorMismatchError, require_init
from tapegrad.distribute.collectives import (
    Adasum,
    Average,
    Compression,
    Compressor,
    FP16Compressor,
    Max,
    Min,
    NoneCompressor,
    Product,
    ReduceOp,
    Sum,
    allgather,
    allgather_object,
    allreduce,
    alltoall,
    barrier,
    broadcast,
    broadcast_object,
    broadcast_variables,
    grouped_allreduce,
)
from tapegrad.distribute.training import DistributedGradientTape, DistributedOptimizer

__all__ = [
    "init", "shutdown", "is_initialized", "mpi_enabled", "size", "rank", "local_size",
    "local_rank", "cross_size", "cross_rank", "allreduce", "grouped_allreduce", "allgather",
    "broadcast", "alltoall", "barrier", "broadcast_variables", "broadcast_object",
    "allgather_object", "DistributedGradientTape", "DistributedOptimizer", "Compression",
    "Compressor", "NoneCompressor", "FP16Compressor", "ReduceOp", "Average", "Sum", "Adasum",
    "Min", "Max", "Product", "TensorMismatchError", "callbacks",
    "BroadcastGlobalVariablesCallback", "MetricAverageCallback", "LearningRateWarmupCallback",
]
_CALLBACKS = ("BroadcastGlobalVariablesCallback", "MetricAverageCallback",
              "LearningRateWarmupCallback")


def __getattr__(name):
    # The Keras callbacks load Keras: only on first use, keeping this package light.
    import importlib
    if name == "callbacks" or name in _CALLBACKS:
        module = importlib.import_module("tapegrad.distribute.callbacks")
        return module if name == "callbacks" else getattr(module, name)
    if name.endswith("Strategy") or name in ("get_strategy", "has_strategy"):
        raise AttributeError(
            f"tapegrad.distribute has no {name}: it is Horovod's API (hvd.init(), "
            "hvd.DistributedGradientTape, ...) over MPI, not TensorFlow's tf.distribute "
            "strategies. See docs/distributed.md.")
    raise AttributeError(f"module 'tapegrad.distribute' has no attribute {name!r}")


def init(comm=None, *, fusion_threshold: int | None = None, timeout: float | None = None,
         cache_capacity: int | None = None) -> None:
    """Start (once; later calls only update the settings): join the MPI job if mpi4py is
    installed, else run as the only process.

    ``comm`` is an mpi4py communicator (default: all processes). A rank that raises an uncaught
    exception then aborts the whole job, naming itself and the error.

    >>> import tapegrad.distribute as hvd
    >>> hvd.init(fusion_threshold=64 * 1024 * 1024)
    >>> hvd.is_initialized()
    True
    """
    _engine.init(comm, fusion_threshold=fusion_threshold, timeout=timeout,
                 cache_capacity=cache_capacity)


def shutdown() -> None:
    """Leave the job (MPI itself is finalized when the process exits)."""
    _engine.shutdown()


def is_initialized() -> bool:
    """Whether ``init()`` has been called (and not ``shutdown()``)."""
    return _engine.state.initialized


def mpi_enabled() -> bool:
    """Whether collectives go through MPI (mpi4py is installed and ``init()`` was called)."""
    return _engine.state.MPI is not None


def size() -> int:
    """The number of processes in the job."""
    return require_init().size


def rank() -> int:
    """This process's index in the job, 0 to ``size() - 1``."""
    return require_init().rank


def local_size() -> int:
    """The number of processes on this machine."""
    return require_init().local_size


def local_rank() -> int:
    """This process's index among those on this machine."""
    return require_init().local_rank


def cross_size() -> int:
    """The number of machines with a process of this local rank (machines, when every machine
    runs the same number of processes)."""
    return require_init().cross_size


def cross_rank() -> int:
    """This machine's index among those with a process of this local rank."""
    return require_init().cross_rank
