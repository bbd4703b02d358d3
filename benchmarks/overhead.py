"""Per-op overhead: a chain of 200 elementwise ops on a 16-element float32 array.

Run by hand: ``python benchmarks/overhead.py``. Reports microseconds per op for raw NumPy,
tapegrad with no tape, tapegrad recording, the gradient call, and PyTorch (CPU, 1 thread) and
TensorFlow when they are installed; plus the time of ``import tapegrad``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import timeit

import numpy as np

N_OPS = 200  # 50 rounds of sin, multiply, add, tanh
SIZE = 16


def best_of(function, repeat: int = 7, number: int = 20) -> float:
    """Best mean time of one call, in seconds."""
    return min(timeit.repeat(function, repeat=repeat, number=number)) / number


def chain_numpy(x, c):
    for _ in range(N_OPS // 4):
        x = np.sin(x)
        x = x * c
        x = x + c
        x = np.tanh(x)
    return x


def time_tf_style(tf, x0, c0, repeat: int = 7, number: int = 20) -> dict:
    """Time the chain with a module that has TensorFlow's API (tapegrad or TensorFlow)."""
    x = tf.constant(x0)
    c = tf.constant(c0)

    def chain(x):
        for _ in range(N_OPS // 4):
            x = tf.sin(x)
            x = x * c
            x = x + c
            x = tf.tanh(x)
        return x

    def record():
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = chain(x)
        return tape, y

    def forward_and_gradient():
        tape, y = record()
        return tape.gradient(y, x)

    no_tape = best_of(lambda: chain(x), repeat, number)
    recording = best_of(record, repeat, number)
    total = best_of(forward_and_gradient, repeat, number)
    return {"no tape": no_tape, "recording": recording, "gradient": total - recording,
            "forward+gradient": total}


def run_tapegrad(x0, c0) -> dict:
    import tapegrad as tg

    # correctness first: the gradient must agree with central differences (float64)
    x64 = tg.constant(x0.astype(np.float64))
    c64 = tg.constant(c0.astype(np.float64))

    def chain64(v):
        for _ in range(N_OPS // 4):
            v = tg.tanh(tg.sin(v) * c64 + c64)
        return tg.reduce_sum(v)

    with tg.GradientTape() as tape:
        tape.watch(x64)
        total = chain64(x64)
    grad = tape.gradient(total, x64).numpy()
    eps = 1e-6
    numeric = np.array([(float(chain64(tg.constant(x0.astype(np.float64) + eps * e)))
                         - float(chain64(tg.constant(x0.astype(np.float64) - eps * e))))
                        / (2 * eps) for e in np.eye(SIZE)])
    assert np.allclose(grad, numeric, rtol=1e-5, atol=1e-8), "tapegrad gradient is wrong"
    return time_tf_style(tg, x0, c0)


def run_torch(x0, c0) -> dict | None:
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    c = torch.tensor(c0)

    def chain(x):
        for _ in range(N_OPS // 4):
            x = torch.sin(x)
            x = x * c
            x = x + c
            x = torch.tanh(x)
        return x

    def forward_and_gradient():
        x = torch.tensor(x0, requires_grad=True)
        y = chain(x)
        y.backward(torch.ones_like(y))
        return x.grad

    with torch.no_grad():
        x_plain = torch.tensor(x0)
        no_grad = best_of(lambda: chain(x_plain))

    def record():
        return chain(torch.tensor(x0, requires_grad=True))

    return {"no tape": no_grad, "recording": best_of(record),
            "forward+gradient": best_of(forward_and_gradient)}


def run_tensorflow(x0, c0) -> dict | None:
    try:
        import tensorflow as tf
    except ImportError:
        return None
    result = time_tf_style(tf, x0, c0, repeat=3, number=5)
    del result["gradient"]
    return result


def import_time(module: str = "tapegrad") -> float:
    """Seconds for `import module` in a fresh interpreter (best of 5, bytecode cached as after
    a pip install)."""
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    subprocess.run([sys.executable, "-c", f"import {module}"], env=environment, check=True)
    times = []
    for _ in range(5):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True, env=environment)
        times.append(float(out.stdout))
    return min(times)


def main() -> None:
    rng = np.random.default_rng(0)
    x0 = rng.standard_normal(SIZE).astype(np.float32)
    c0 = np.full(SIZE, 0.9, dtype=np.float32)
    raw = best_of(lambda: chain_numpy(x0, c0))
    per_op = 1e6 / N_OPS
    print(f"chain of {N_OPS} elementwise ops on {SIZE} float32 values (us per op)\n")
    print(f"{'':28s}{'us/op':>10s}{'above NumPy':>14s}")
    print(f"{'raw NumPy':28s}{raw * per_op:10.2f}{'':>14s}")
    results = run_tapegrad(x0, c0)
    for key in ("no tape", "recording", "gradient", "forward+gradient"):
        extra = f"{(results[key] - raw) * per_op:14.2f}" if key in ("no tape", "recording") \
            else ""
        print(f"{'tapegrad ' + key:28s}{results[key] * per_op:10.2f}{extra}")
    peers = {"PyTorch (1 thread)": run_torch(x0, c0), "TensorFlow": run_tensorflow(x0, c0)}
    for name, peer in peers.items():
        if peer is None:
            print(f"{name}: not installed")
            continue
        for key, value in peer.items():
            print(f"{name + ' ' + key:28s}{value * per_op:10.2f}")
        ratio = results["forward+gradient"] / peer["forward+gradient"]
        print(f"  tapegrad forward+gradient / {name}: {ratio:.2f}x")
    print(f"\nimport numpy: {import_time('numpy') * 1000:.0f} ms; "
          f"import tapegrad (numpy included): {import_time() * 1000:.0f} ms")


if __name__ == "__main__":
    main()
