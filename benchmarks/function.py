"""tf.function: the compiled replay against eager execution.

Run by hand: ``python benchmarks/function.py [--repeat N] [--epochs N]``. Four tables, each
timed round-robin in this one interpreter (best of ``--repeat`` rounds; BLAS, numexpr and XLA
limited to 1 thread):

1. the chain of 200 small elementwise ops of ``overhead.py`` (16 float32), forward + gradient:
   tapegrad eager, ``@tf.function`` with the tape inside and with the tape outside the call,
   the same with ``jit_compile=True`` (numexpr fusion, ``tapegrad[fast]``), PyTorch eager
   (CPU, 1 thread), ``jax.jit`` of the same vector-Jacobian product and TensorFlow's
   ``@tf.function``, each when importable;
2. the MLP 784-256-256-10 step of ``mlp_step.py`` under ``@tf.function`` against the
   hand-written NumPy floor, tapegrad eager and TensorFlow's ``@tf.function``;
3. tracing cost: a fresh function's first call (trace + compile + run) over one eager call;
4. one training epoch of the digits demo (``tapegrad/examples/digits.py``, the conv net, with
   scikit-learn): its training step eager, under ``@tf.function``, and the same demo code run
   by TensorFlow under its ``@tf.function`` (best of ``--epochs`` interleaved epochs).

Every compiled result is checked against eager before timing.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import pathlib
import sys
import timeit

for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                  "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")  # one thread, set before NumPy (numexpr) loads
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false "
                                   "intra_op_parallelism_threads=1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import mlp_step  # noqa: E402
from overhead import SIZE, chain, interleaved_best  # noqa: E402


def chain_steps(tf, x0, c0, jit_compile=None) -> dict:
    """Forward + gradient of the chain: eager, and compiled with the tape inside or outside."""
    x, c = tf.constant(x0), tf.constant(c0)

    def eager():
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = chain(x, c, tf.sin, tf.tanh)
        return tape.gradient(y, x)

    @tf.function(jit_compile=jit_compile)
    def inside(v):
        with tf.GradientTape() as tape:
            tape.watch(v)
            y = chain(v, c, tf.sin, tf.tanh)
        return tape.gradient(y, v)

    forward = tf.function(lambda v: chain(v, c, tf.sin, tf.tanh), jit_compile=jit_compile)

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


def jax_chain(x0, c0):
    """``jax.jit`` of the chain's vector-Jacobian product (upstream ones, as the tape's)."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    c = jnp.asarray(c0)
    x = jnp.asarray(x0)

    def gradient(v):
        _, pullback = jax.vjp(lambda u: chain(u, c, jnp.sin, jnp.tanh), v)
        return pullback(jnp.ones_like(v))[0]

    compiled = jax.jit(gradient)
    return lambda: compiled(x).block_until_ready()


def fusing():
    try:
        import numexpr  # noqa: F401
    except ImportError:
        return False
    return True


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


def first_call_ratio(make, eager_call, rounds: int = 9) -> float:
    """Best first call of a fresh compiled function over the best eager call (the retracing
    warning that functions made in a loop earn is silenced: they are made so on purpose)."""
    logger = logging.getLogger("tapegrad")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        first = min(timeit.timeit(make(), number=1) for _ in range(rounds))
    finally:
        logger.setLevel(level)
    eager = min(timeit.repeat(eager_call, number=1, repeat=rounds * 3))
    return first / eager, first, eager


def print_ratios(best: dict) -> None:
    """The issue's goals: compiled against PyTorch eager, fused against jax.jit."""
    pairs = [("tapegrad @tf.function, tape inside", "PyTorch eager"),
             ("tapegrad jit_compile=True (numexpr), inside", "jax.jit (vjp)"),
             ("tapegrad jit_compile=True (numexpr), outside", "jax.jit (vjp)")]
    for ours, theirs in pairs:
        if ours in best and theirs in best:
            print(f"  {ours} / {theirs}: {best[ours] / best[theirs]:.2f}")


def digits_module(tf):
    """A copy of the digits demo's module whose global ``tf`` is ``tf`` (tapegrad or
    TensorFlow: the demo is TensorFlow 2 code)."""
    from tapegrad.examples import digits

    spec = importlib.util.spec_from_file_location(f"digits_{tf.__name__}", digits.__file__)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.tf = tf
    return module


def digits_epochs(tf, compiled: bool, data):
    """(run one epoch of the digits demo's training step, its trainer) with module ``tf``."""
    digits = digits_module(tf)
    tf.random.set_seed(0)
    model = digits.build_model("conv")
    trainer = digits.make_trainer(model, *data, epochs=100)
    step = tf.function(trainer.train_step) if compiled else trainer.train_step

    def epoch():
        for images, labels in trainer.dataset:
            step(images, labels)

    return epoch, trainer


def digits_table(tg, real_tf, epochs: int) -> None:
    try:
        from tapegrad.examples import digits

        x, y, _, _ = digits.load_data(0)
    except ImportError:
        print("\nDigits demo: scikit-learn not installed")
        return
    rows = {"tapegrad eager": digits_epochs(tg, False, (x, y))[0],
            "tapegrad @tf.function": digits_epochs(tg, True, (x, y))[0]}
    if real_tf is not None:
        rows["TensorFlow @tf.function"] = digits_epochs(real_tf, True, (x, y))[0]
    best = interleaved_best(rows, repeat=epochs, number=1)
    print(f"\nDigits demo, one training epoch ({len(y)} images, batch {digits.BATCH_SIZE}, "
          "conv net, dropout, Adam, metrics)")
    print(f"{'':44s}{'s/epoch':>11s}{'/ tapegrad eager':>22s}")
    for name, seconds in best.items():
        print(f"{name:44s}{seconds:11.3f}{seconds / best['tapegrad eager']:22.3f}")


def print_table(title: str, best: dict, reference: str) -> None:
    print(f"\n{title}")
    print(f"{'':44s}{'us/call':>11s}{'/ ' + reference:>22s}")
    for name, seconds in best.items():
        print(f"{name:44s}{seconds * 1e6:11.1f}{seconds / best[reference]:22.3f}")


def main(argv=None) -> None:
    import tapegrad as tg

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--epochs", type=int, default=3, help="digits epochs per row")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    x0 = rng.standard_normal(SIZE).astype(np.float32)
    c0 = np.full(SIZE, 0.9, np.float32)
    real_tf = tensorflow()

    with mlp_step.blas_limit(1):
        # 1. the chain
        steps = chain_steps(tg, x0, c0)
        fused = chain_steps(tg, x0, c0, jit_compile=True)
        expected = steps["eager"]().numpy()
        for name in ("inside", "outside"):
            for compiled in (steps, fused):
                compiled[name]()
                np.testing.assert_allclose(compiled[name]().numpy(), expected, rtol=1e-6,
                                           atol=1e-7)
        rows = {"tapegrad eager (GradientTape)": steps["eager"],
                "tapegrad @tf.function, tape inside": steps["inside"],
                "tapegrad @tf.function, tape outside call": steps["outside"]}
        if fusing():
            rows["tapegrad jit_compile=True (numexpr), inside"] = fused["inside"]
            rows["tapegrad jit_compile=True (numexpr), outside"] = fused["outside"]
        rows["NumPy, forward only"] = lambda: chain(x0, c0, np.sin, np.tanh)
        optional = {"PyTorch eager": torch_chain(x0, c0), "jax.jit (vjp)": jax_chain(x0, c0),
                    "TensorFlow @tf.function, tape inside":
                        None if real_tf is None else chain_steps(real_tf, x0, c0)["inside"]}
        rows.update({name: step for name, step in optional.items() if step is not None})
        best = interleaved_best(rows, repeat=args.repeat)
        print_table("Chain of 200 elementwise ops (16 float32), forward + gradient", best,
                    "tapegrad eager (GradientTape)")
        print_ratios(best)
        for name in [name for name, step in optional.items() if step is None] + \
                ([] if fusing() else ["numexpr (tapegrad[fast])"]):
            print(f"{name}: not installed")

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

    # 4. the digits demo's training epoch
    digits_table(tg, real_tf, args.epochs)
    if real_tf is None:
        print("\nTensorFlow: not installed (run with a Python that has it, PYTHONPATH=<repo>)")


if __name__ == "__main__":
    main()
