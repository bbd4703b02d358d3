"""What the diagnostics cost: provenance on recording, check_numerics on a training step.

Run by hand: ``python benchmarks/diagnostics_overhead.py``. Targets: provenance at most 2x the
recording overhead (recording time above raw NumPy); check_numerics at most 2x the MLP step;
nothing at all when both are off.
"""

from __future__ import annotations

import pathlib
import sys
import timeit

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

import mlp_step  # noqa: E402
import overhead  # noqa: E402

import tapegrad as tg  # noqa: E402


def best_of(function, repeat: int = 7, number: int = 20) -> float:
    return min(timeit.repeat(function, repeat=repeat, number=number)) / number


def recording_function():
    rng = np.random.default_rng(0)
    x = tg.constant(rng.standard_normal(overhead.SIZE).astype(np.float32))
    c = tg.constant(np.full(overhead.SIZE, 0.9, dtype=np.float32))

    def record():
        with tg.GradientTape() as tape:
            tape.watch(x)
            y = overhead.chain(x, c, tg.sin, tg.tanh)
        return tape, y

    return record


def main() -> None:
    rng = np.random.default_rng(0)
    x0 = rng.standard_normal(overhead.SIZE).astype(np.float32)
    c0 = np.full(overhead.SIZE, 0.9, dtype=np.float32)
    per_op = 1e6 / overhead.N_OPS
    record = recording_function()
    raw = plain = with_provenance = float("inf")
    for _ in range(15):  # round-robin, so that all three see the same machine conditions
        raw = min(raw, best_of(lambda: overhead.chain_numpy(x0, c0), repeat=1))
        plain = min(plain, best_of(record, repeat=1))
        tg.debugging.enable_provenance()
        try:
            with_provenance = min(with_provenance, best_of(record, repeat=1))
        finally:
            tg.debugging.disable_provenance()
    raw, plain, with_provenance = raw * per_op, plain * per_op, with_provenance * per_op
    print("recording a chain of 200 elementwise ops (us per op)")
    print(f"  raw NumPy {raw:.2f}; recording {plain:.2f} (overhead {plain - raw:.2f}); "
          f"with provenance {with_provenance:.2f} (overhead {with_provenance - raw:.2f}, "
          f"{(with_provenance - raw) / (plain - raw):.2f}x the plain overhead; target <= 2x)")

    x, y, _, params = mlp_step.make_data()
    step = mlp_step.tf_style_step_factory(tg, params, x, y)
    plain_step = best_of(step, number=10)
    tg.debugging.enable_check_numerics()
    try:
        checked_step = best_of(step, number=10)
    finally:
        tg.debugging.disable_check_numerics()
    after = best_of(step, number=10)
    print("MLP 784-256-256-10 training step (ms)")
    print(f"  plain {plain_step * 1e3:.3f}; with check_numerics {checked_step * 1e3:.3f} "
          f"({checked_step / plain_step:.2f}x; target <= 2x); after disabling "
          f"{after * 1e3:.3f}")


if __name__ == "__main__":
    main()
