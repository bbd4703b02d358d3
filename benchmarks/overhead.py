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


def interleaved_best(functions: dict, repeat: int = 15, number: int = 20) -> dict:
    """Best mean seconds per call of each function, timed round-robin (one batch of ``number``
    calls each per round) so that all of them see the same machine conditions."""
    for function in functions.values():
        function()  # warm up
    best = {name: float("inf") for name in functions}
    for _ in range(repeat):
        for name, function in functions.items():
            best[name] = min(best[name], timeit.timeit(function, number=number) / number)
    return best


def chain_numpy(x, c):
    for _ in range(N_OPS // 4):
        x = np.sin(x)
        x = x * c
        x = x + c
        x = np.tanh(x)
    return x


def tf_style_functions(tf, x0, c0) -> dict:
    """The chain without a tape, recorded, and recorded + differentiated, written against
    TensorFlow's API (run with tapegrad or TensorFlow)."""
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

    return {"no tape": lambda: chain(x), "recording": record,
            "forward+gradient": forward_and_gradient}


def check_tapegrad(x0) -> None:
    """The gradient must agree with central differences (float64) before anything is timed."""
    import tapegrad as tg

    c64 = tg.constant(np.full(SIZE, 0.9))

    def chain64(v):
        for _ in range(N_OPS // 4):
            v = tg.tanh(tg.sin(v) * c64 + c64)
        return tg.reduce_sum(v)

    x64 = tg.constant(x0.astype(np.float64))
    with tg.GradientTape() as tape:
        tape.watch(x64)
        total = chain64(x64)
    grad = tape.gradient(total, x64).numpy()
    eps = 1e-6
    numeric = np.array([(float(chain64(tg.constant(x0.astype(np.float64) + eps * e)))
                         - float(chain64(tg.constant(x0.astype(np.float64) - eps * e))))
                        / (2 * eps) for e in np.eye(SIZE)])
    assert np.allclose(grad, numeric, rtol=1e-5, atol=1e-8), "tapegrad gradient is wrong"


def torch_functions(x0, c0) -> dict | None:
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

    def no_grad():
        with torch.no_grad():
            return chain(x_plain)

    def forward_and_gradient():
        x = torch.tensor(x0, requires_grad=True)
        y = chain(x)
        y.backward(torch.ones_like(y))
        return x.grad

    x_plain = torch.tensor(x0)
    return {"no tape": no_grad, "recording": lambda: chain(torch.tensor(x0, requires_grad=True)),
            "forward+gradient": forward_and_gradient}


def tensorflow_functions(x0, c0) -> dict | None:
    try:
        import tensorflow as tf
    except ImportError:
        return None
    return tf_style_functions(tf, x0, c0)


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
    import tapegrad

    rng = np.random.default_rng(0)
    x0 = rng.standard_normal(SIZE).astype(np.float32)
    c0 = np.full(SIZE, 0.9, dtype=np.float32)
    check_tapegrad(x0)
    frameworks = {"tapegrad": tf_style_functions(tapegrad, x0, c0),
                  "PyTorch (1 thread)": torch_functions(x0, c0),
                  "TensorFlow": tensorflow_functions(x0, c0)}
    functions = {"raw NumPy": lambda: chain_numpy(x0, c0)}
    for name, group in frameworks.items():
        if group is None:
            continue
        for key, function in group.items():
            if name == "TensorFlow" and key == "no tape":
                continue
            functions[(name, key)] = function
    best = interleaved_best(functions)
    raw = best["raw NumPy"]
    per_op = 1e6 / N_OPS
    print(f"chain of {N_OPS} elementwise ops on {SIZE} float32 values (us per op; best of "
          "15 interleaved rounds)\n")
    print(f"{'':36s}{'us/op':>8s}{'above NumPy':>14s}")
    print(f"{'raw NumPy':36s}{raw * per_op:8.2f}")
    ours = best[("tapegrad", "forward+gradient")]
    for name, group in frameworks.items():
        if group is None:
            print(f"{name}: not installed")
            continue
        for key in group:
            if (name, key) not in best:
                continue
            seconds = best[(name, key)]
            extra = f"{(seconds - raw) * per_op:14.2f}" if key in ("no tape", "recording") \
                else ""
            print(f"{name + ' ' + key:36s}{seconds * per_op:8.2f}{extra}")
            if key == "forward+gradient" and name == "tapegrad":
                gradient = seconds - best[(name, "recording")]
                print(f"{name + ' gradient alone':36s}{gradient * per_op:8.2f}")
        if name != "tapegrad":
            ratio = ours / best[(name, "forward+gradient")]
            print(f"  tapegrad forward+gradient / {name}: {ratio:.3f}x")
    print(f"\nimport numpy: {import_time('numpy') * 1000:.0f} ms; "
          f"import tapegrad (numpy included): {import_time() * 1000:.0f} ms")


if __name__ == "__main__":
    main()
