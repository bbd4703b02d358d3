"""tapegrad.distribute across 2 MPI processes: ``mpiexec -n 2 python mpi_worker.py ...``.

Skipped when mpi4py or mpiexec is missing (install the extra: ``pip install '.[mpi]'``).
"""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("mpi_worker.py")


def _mpiexec():
    beside_python = Path(sys.executable).parent / "mpiexec"
    return str(beside_python) if beside_python.exists() else shutil.which("mpiexec")


try:
    import mpi4py  # noqa: F401
    MISSING = None if _mpiexec() else "mpiexec not found (pip install '.[mpi]' installs MPICH)"
except ImportError:
    MISSING = "mpi4py is not installed (pip install '.[mpi]')"

pytestmark = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")


def run_worker(*args, timeout=120):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    env.pop("TAPEGRAD_COLLECTIVE_TIMEOUT", None)
    start = time.monotonic()
    done = subprocess.run([_mpiexec(), "-n", "2", sys.executable, str(WORKER), *args],
                          capture_output=True, text=True, timeout=timeout, env=env,
                          stdin=subprocess.DEVNULL)
    return done, time.monotonic() - start


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    output = tmp_path_factory.mktemp("mpi") / "results.json"
    done, _ = run_worker("checks", str(output))
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(output.read_text())


CHECKS = ["topology", "allreduce Sum", "allreduce Average", "allreduce Min", "allreduce Max",
          "allreduce Product", "allreduce float16 Sum", "allreduce float16 Min",
          "allreduce float16 Max", "allreduce float16 Product", "allreduce bool Max and Min",
          "allreduce 1 MiB repeated, every result held", "allreduce 512 KiB scaled, in chunks",
          "allreduce 512 KiB scaled, odd size", "allreduce small chunks",
          "allreduce pre/postscale",
          "grouped_allreduce fused", "allgather uneven", "allgather bool", "broadcast root 1",
          "alltoall splits", "alltoall equal",
          "broadcast_variables", "broadcast_object", "allgather_object",
          "mismatch shape", "mismatch dtype", "mismatch missing variable",
          "mismatch None gradient", "mismatch different collectives",
          "one rank's failure raises on all: fp16 overflow",
          "one rank's failure raises on all: string tensor",
          "one rank's failure raises on all: Average of integers, the other rank's call cached",
          "collectives work after a mismatch", "names may differ across ranks",
          "cache hit", "cache miss after a shape change",
          "mismatch after a cached hit on every rank", "mismatch after a cached hit on one rank",
          "cached plan works after a mismatch"]
TRAINING = [f"tape {opt} sparse_as_dense={dense} {compression}{suffix}"
            for opt in ("sgd", "adam") for dense in (False, True)
            for compression in ("none", "fp16") for suffix in ("", " identical on ranks")]
TRAINING += ["gradients identical on ranks", "DistributedOptimizer sgd",
             "DistributedOptimizer adam",
             "fit with DistributedOptimizer and broadcast", "fit weights identical on ranks",
             "MetricAverageCallback averages the loss",
             "LearningRateWarmupCallback ramps the learning rate",
             "momentum restored after warmup"]


@pytest.mark.parametrize("name", CHECKS + TRAINING)
def test_two_processes(results, name):
    passed, detail = results[name]
    assert passed, detail


def test_every_check_ran(results):
    assert sorted(results) == sorted(CHECKS + TRAINING)


def test_a_rank_that_raises_aborts_the_job_naming_it():
    done, seconds = run_worker("raise", timeout=60)
    assert done.returncode != 0
    assert "rank 1 of 2 failed with RuntimeError: boom on purpose" in done.stderr
    assert "rank 0 was not stopped" not in done.stdout
    assert seconds < 20


def test_a_killed_rank_ends_the_job():
    done, seconds = run_worker("die", timeout=60)
    assert done.returncode != 0
    assert "rank 0 was not stopped" not in done.stdout
    assert seconds < 20


def test_a_hung_rank_times_the_collective_out():
    done, seconds = run_worker("hang", timeout=60)
    assert done.returncode != 0
    assert "rank 0 of 2: allreduce (metadata check) did not finish within 1 s" in done.stderr
    assert seconds < 20


def test_distributed_digits_example_keeps_ranks_identical():
    pytest.importorskip("sklearn", reason="the digits example needs scikit-learn")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([_mpiexec(), "-n", "2", sys.executable,
                           str(ROOT / "examples" / "distributed_digits.py"), "--epochs", "1"],
                          capture_output=True, text=True, timeout=120, env=env,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "(2 process(es), 22 steps of 32 x 2 images)" in done.stdout
    assert "weights identical on all ranks: True" in done.stdout
    accuracy = float(done.stdout.split("test accuracy ")[1].split(";")[0])
    assert accuracy > 0.8


def test_the_installation_check_sees_two_processes():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([_mpiexec(), "-n", "2", sys.executable, "-m", "tapegrad.distribute"],
                          capture_output=True, text=True, timeout=60, env=env,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "tapegrad.distribute: 2 process(es) on 1 host(s)" in done.stdout
    assert "MPI: MPICH Version: " in done.stdout and done.stdout.endswith("allreduce ok\n")
