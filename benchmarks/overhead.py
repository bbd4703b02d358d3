"""Per-op overhead: a chain of 200 elementwise ops on a 16-element float32 array.

Run by hand: ``python benchmarks/overhead.py [--same-process]``. Reports microseconds per op for
raw NumPy, tapegrad with no tape, tapegrad recording, the gradient call, and PyTorch (CPU, 1
thread) and TensorFlow when they are installed; plus the time of ``import tapegrad``.

Each framework is timed in a fresh interpreter of its own (as a user runs one), the three
alternating three times, best kept; within one interpreter its rows and raw NumPy are timed
round-robin. ``--same-process`` times all frameworks round-robin in this one interpreter
instead (there, whichever runs alongside the others' leftovers can be 5-20% slower).
"""

from __future__ import annotations

import json
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


def chain(x, c, sin, tanh):
    """The benchmark's chain, for any library: 50 rounds of sin, multiply, add, tanh."""
    for _ in range(N_OPS // 4):
        x = sin(x)
        x = x * c
        x = x + c
        x = tanh(x)
    return x


def chain_numpy(x, c):
    return chain(x, c, np.sin, np.tanh)


def tf_style_functions(tf, x0, c0) -> dict:
    """The chain without a tape, recorded, and recorded + differentiated, written against
    TensorFlow's API (run with tapegrad or TensorFlow)."""
    x = tf.constant(x0)
    c = tf.constant(c0)

    def record():
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = chain(x, c, tf.sin, tf.tanh)
        return tape, y

    def forward_and_gradient():
        tape, y = record()
        return tape.gradient(y, x)

    return {"no tape": lambda: chain(x, c, tf.sin, tf.tanh), "recording": record,
            "forward+gradient": forward_and_gradient}


def check_tapegrad(x0) -> None:
    """The gradient must agree with central differences (float64) before anything is timed."""
    import tapegrad as tg

    c64 = tg.constant(np.full(SIZE, 0.9))

    def chain64(v):
        return tg.reduce_sum(chain(v, c64, tg.sin, tg.tanh))

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

    def torch_chain(x):
        return chain(x, c, torch.sin, torch.tanh)

    def no_grad():
        with torch.no_grad():
            return torch_chain(x_plain)

    def forward_and_gradient():
        x = torch.tensor(x0, requires_grad=True)
        y = torch_chain(x)
        y.backward(torch.ones_like(y))
        return x.grad

    x_plain = torch.tensor(x0)
    return {"no tape": no_grad,
            "recording": lambda: torch_chain(torch.tensor(x0, requires_grad=True)),
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


FRAMEWORKS = ("tapegrad", "PyTorch (1 thread)", "TensorFlow")


def framework_functions(name: str, x0, c0) -> dict | None:
    if name == "tapegrad":
        import tapegrad

        check_tapegrad(x0)
        return tf_style_functions(tapegrad, x0, c0)
    if name == "PyTorch (1 thread)":
        return torch_functions(x0, c0)
    group = tensorflow_functions(x0, c0)
    if group is not None:
        del group["no tape"]  # TensorFlow has no tape-free path apart from its tape
    return group


def measure(names) -> dict:
    """Best seconds per call of raw NumPy and of each row of the named frameworks (None for one
    that is not installed), all timed round-robin in this interpreter."""
    rng = np.random.default_rng(0)
    x0 = rng.standard_normal(SIZE).astype(np.float32)
    c0 = np.full(SIZE, 0.9, dtype=np.float32)
    functions = {"raw NumPy": lambda: chain_numpy(x0, c0)}
    missing = []
    for name in names:
        group = framework_functions(name, x0, c0)
        if group is None:
            missing.append(name)
            continue
        for key, function in group.items():
            functions[f"{name}|{key}"] = function
    result = interleaved_best(functions)
    result.update({f"{name}|missing": None for name in missing})
    return result


def measure_in_fresh_interpreters(rounds: int = 3) -> dict:
    best: dict = {}
    for _ in range(rounds):
        for name in FRAMEWORKS:
            out = subprocess.run([sys.executable, __file__, "--measure", name],
                                 capture_output=True, text=True, check=True)
            for key, seconds in json.loads(out.stdout.strip().splitlines()[-1]).items():
                best[key] = seconds if seconds is None else min(best.get(key, seconds), seconds)
    return best


def main() -> None:
    if "--measure" in sys.argv:  # a child: one framework, results as JSON on the last line
        print(json.dumps(measure([sys.argv[sys.argv.index("--measure") + 1]])))
        return
    same_process = "--same-process" in sys.argv
    best = measure(FRAMEWORKS) if same_process else measure_in_fresh_interpreters()
    raw = best["raw NumPy"]
    per_op = 1e6 / N_OPS
    how = ("all frameworks round-robin in one interpreter" if same_process else
           "each framework in its own interpreter, best of 3 alternating runs")
    print(f"chain of {N_OPS} elementwise ops on {SIZE} float32 values (us per op; {how})\n")
    print(f"{'':36s}{'us/op':>8s}{'above NumPy':>14s}")
    print(f"{'raw NumPy':36s}{raw * per_op:8.2f}")
    ours = best["tapegrad|forward+gradient"]
    for name in FRAMEWORKS:
        if f"{name}|missing" in best:
            print(f"{name}: not installed")
            continue
        for key in ("no tape", "recording", "forward+gradient"):
            seconds = best.get(f"{name}|{key}")
            if seconds is None:
                continue
            extra = f"{(seconds - raw) * per_op:14.2f}" if key != "forward+gradient" else ""
            print(f"{name + ' ' + key:36s}{seconds * per_op:8.2f}{extra}")
        if name == "tapegrad":
            gradient = ours - best["tapegrad|recording"]
            print(f"{'tapegrad gradient alone':36s}{gradient * per_op:8.2f}")
        else:
            ratio = ours / best[f"{name}|forward+gradient"]
            print(f"  tapegrad forward+gradient / {name}: {ratio:.3f}x")
    print(f"\nimport numpy: {import_time('numpy') * 1000:.0f} ms; "
          f"import tapegrad (numpy included): {import_time() * 1000:.0f} ms")


if __name__ == "__main__":
    main()
