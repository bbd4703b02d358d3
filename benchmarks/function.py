"""tf.function: the compiled replay against eager execution.

Run by hand: ``python benchmarks/function.py [--repeat N]``. Three tables, each timed
round-robin in this one interpreter (best of ``--repeat`` rounds; BLAS limited to 1 thread):

1. the chain of 200 small elementwise ops of ``overhead.py`` (16 float32), forward + gradient:
   tapegrad eager, ``@tf.function`` with the tape inside and with the tape outside the call,
   PyTorch eager (CPU, 1 thread) and TensorFlow's ``@tf.function`` when importable;
2. the MLP 784-256-256-10 step of ``mlp_step.py`` under ``@tf.function`` against the
   hand-written NumPy floor, tapegrad eager and TensorFlow's ``@tf.function``;
3. tracing cost: a fresh function's first call (trace + compile + run) over one eager call.

Every compiled result is checked against eager before timing.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import timeit

for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")  # one BLAS thread, set before NumPy loads

import numpy as np  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import mlp_step  # noqa: E402
from overhead import SIZE, chain, interleaved_best  # noqa: E402


def chain_steps(tf, x0, c0) -> dict:
    """Forward + gradient of the chain: eager, and compiled with the tape inside or outside."""
    x, c = tf.constant(x0), tf.constant(c0)

    def eager():
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = chain(x, c, tf.sin, tf.tanh)
        return tape.gradient(y, x)

    @tf.function
    def inside(v):
        with tf.GradientTape() as tape:
            tape.watch(v)
            y = chain(v, c, tf.sin, tf.tanh)
        return tape.gradient(y, v)

    forward = tf.function(lambda v: chain(v, c, tf.sin, tf.tanh))

    def outside():
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = forward(x)
        return tape.gradient(y, x)

    return {"eager": eager, "inside": lambda: inside(x), "outside": outside}


def torch_chain(x0, c0):
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    c = torch.tensor(c0)

    def step():
        x = torch.tensor(x0, requires_grad=True)
        y = chain(x, c, torch.sin, torch.tanh)
        y.backward(torch.ones_like(y))
        return x.grad

    return step


def tensorflow():
    try:
        import tensorflow
    except ImportError:
        return None
    return tensorflow


def compiled_mlp_step(tf, params, x, y):
    """mlp_step's step (tape inside) under tf.function."""
    step = tf.function(mlp_step.tf_style_step_factory(tf, params, x, y))
    return step


def first_call_ratio(make, eager_call, rounds: int = 5) -> float:
    """Best first call of a fresh compiled function over the best eager call."""
    first = min(timeit.timeit(make(), number=1) for _ in range(rounds))
    eager = min(timeit.repeat(eager_call, number=1, repeat=rounds * 3))
    return first / eager, first, eager


def print_table(title: str, best: dict, reference: str) -> None:
    print(f"\n{title}")
    print(f"{'':44s}{'us/call':>11s}{'/ ' + reference:>22s}")
    for name, seconds in best.items():
        print(f"{name:44s}{seconds * 1e6:11.1f}{seconds / best[reference]:22.3f}")


def main(argv=None) -> None:
    import tapegrad as tg

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    x0 = rng.standard_normal(SIZE).astype(np.float32)
    c0 = np.full(SIZE, 0.9, np.float32)
    real_tf = tensorflow()

    with mlp_step.blas_limit(1):
        # 1. the chain
        steps = chain_steps(tg, x0, c0)
        expected = steps["eager"]().numpy()
        for name in ("inside", "outside"):
            np.testing.assert_allclose(steps[name]().numpy(), expected, rtol=1e-6, atol=1e-7)
        rows = {"tapegrad eager (GradientTape)": steps["eager"],
                "tapegrad @tf.function, tape inside": steps["inside"],
                "tapegrad @tf.function, tape outside call": steps["outside"],
                "NumPy, forward only": lambda: chain(x0, c0, np.sin, np.tanh)}
        torch_step = torch_chain(x0, c0)
        if torch_step is not None:
            rows["PyTorch eager"] = torch_step
        if real_tf is not None:
            rows["TensorFlow @tf.function, tape inside"] = chain_steps(real_tf, x0, c0)["inside"]
        print_table("Chain of 200 elementwise ops (16 float32), forward + gradient",
                    interleaved_best(rows, repeat=args.repeat),
                    "tapegrad eager (GradientTape)")
        if torch_step is None:
            print("PyTorch: not installed")

        # 2. the MLP step
        x, y, _, params = mlp_step.make_data()
        eager_step = mlp_step.tf_style_step_factory(tg, params, x, y)
        compiled = compiled_mlp_step(tg, params, x, y)
        mlp_step.check(mlp_step, compiled, params, x, y)
        rows = {"NumPy by hand (floor)": lambda: mlp_step.numpy_step(params, x, y),
                "tapegrad eager": eager_step,
                "tapegrad @tf.function": compiled}
        if real_tf is not None:
            rows["TensorFlow @tf.function"] = compiled_mlp_step(real_tf, params, x, y)
        print_table("MLP 784-256-256-10 step, batch 128 (loss + 6 gradients)",
                    interleaved_best(rows, repeat=args.repeat, number=10),
                    "NumPy by hand (floor)")

        # 3. tracing cost
        print("\nTracing cost: first call of a fresh @tf.function / one eager call")
        ratio, first, eager = first_call_ratio(
            lambda: (lambda f: lambda: f())(compiled_mlp_step(tg, params, x, y)), eager_step)
        print(f"  MLP step: {ratio:.2f}x ({first * 1e3:.2f} ms vs {eager * 1e3:.2f} ms)")
        ratio, first, eager = first_call_ratio(
            lambda: (lambda s: s["inside"])(chain_steps(tg, x0, c0)), steps["eager"])
        print(f"  chain, tape inside: {ratio:.2f}x ({first * 1e3:.2f} ms vs "
              f"{eager * 1e3:.2f} ms)")
        ratio, first, eager = first_call_ratio(
            lambda: (lambda s: s["outside"])(chain_steps(tg, x0, c0)), steps["eager"])
        print(f"  chain, tape outside (includes deriving the backward program): {ratio:.2f}x "
              f"({first * 1e3:.2f} ms vs {eager * 1e3:.2f} ms)")
    if real_tf is None:
        print("\nTensorFlow: not installed (run with a Python that has it, PYTHONPATH=<repo>)")


if __name__ == "__main__":
    main()
