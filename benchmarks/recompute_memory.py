"""Gradient checkpointing: peak memory and time of one gradient step of a deep tanh MLP
(default 16 hidden layers of width 512, batch 2048, float32), plain GradientTape against every
layer wrapped in ``tf.recompute_grad`` (the forward keeps only each block's input; the backward
re-runs the block).

Run by hand: ``python benchmarks/recompute_memory.py [--layers N] [--width N] [--batch N]
[--blas-threads N]``.

Memory is measured with tracemalloc (NumPy reports its array buffers to it); the parameters
and the input exist before measuring starts, so the figures are what the step itself
allocates: the activations the tape holds after the forward pass, the peak over the whole
step (which includes the parameter gradients the step returns: checkpointing cannot shrink
those, so it pays off once the batch is wider than the layers). Time is the best mean of a
forward + gradient step, without tracemalloc. Both modes' loss and gradients are checked to
agree before anything is measured.
"""

from __future__ import annotations

import argparse
import gc
import pathlib
import sys
import timeit
import tracemalloc

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from mlp_step import blas_limit  # noqa: E402

import tapegrad as tf  # noqa: E402

MIB = 2.0 ** 20


def make_model(layers: int, width: int, batch: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    weights = [tf.Variable((rng.standard_normal((width, width)) / np.sqrt(width)
                            ).astype(np.float32), name=f"w{i}") for i in range(layers)]
    biases = [tf.Variable((rng.standard_normal(width) * 0.1).astype(np.float32),
                          name=f"b{i}") for i in range(layers)]
    x = tf.constant(rng.standard_normal((batch, width)).astype(np.float32))
    return weights, biases, x


def make_blocks(weights, biases, checkpointed: bool) -> list:
    def block(w, b):
        return lambda h: tf.tanh(tf.matmul(h, w) + b)

    blocks = [block(w, b) for w, b in zip(weights, biases)]
    return [tf.recompute_grad(f) for f in blocks] if checkpointed else blocks


def forward(blocks, x):
    tape = tf.GradientTape()
    with tape:
        h = x
        for block in blocks:
            h = block(h)
        loss = tf.reduce_mean(h * h)
    return tape, loss


def step(blocks, x, variables):
    tape, loss = forward(blocks, x)
    return loss, tape.gradient(loss, variables)


def measure_memory(blocks, x, variables) -> tuple[float, float, float]:
    """(bytes held after the forward pass, peak bytes of the step, bytes of the gradients)."""
    step(blocks, x, variables)  # warm up: lazy imports and caches stay out of the figures
    gc.collect()
    tracemalloc.start()
    try:
        tape, loss = forward(blocks, x)
        held = tracemalloc.get_traced_memory()[0]
        grads = tape.gradient(loss, variables)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return held, peak, sum(g.numpy().nbytes for g in grads)


def check(plain, checkpointed, x, variables) -> None:
    loss, grads = step(plain, x, variables)
    c_loss, c_grads = step(checkpointed, x, variables)
    np.testing.assert_allclose(float(c_loss), float(loss), rtol=1e-6)
    for variable, ours, reference in zip(variables, c_grads, grads):
        np.testing.assert_allclose(ours.numpy(), reference.numpy(), rtol=1e-5, atol=1e-8,
                                   err_msg=f"gradient of {variable.name}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=16)
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--batch", type=int, default=2048)
    parser.add_argument("--blas-threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=3, help="steps per timing run")
    parser.add_argument("--repeat", type=int, default=5, help="timing runs (best is kept)")
    args = parser.parse_args(argv)

    weights, biases, x = make_model(args.layers, args.width, args.batch)
    variables = weights + biases
    modes = {"plain GradientTape": make_blocks(weights, biases, False),
             "recompute_grad per layer": make_blocks(weights, biases, True)}
    results = {}
    with blas_limit(args.blas_threads):
        check(*modes.values(), x, variables)
        for name, blocks in modes.items():
            held, peak, grad_bytes = measure_memory(blocks, x, variables)
            seconds = min(timeit.repeat(lambda b=blocks: step(b, x, variables),
                                        repeat=args.repeat, number=args.steps)) / args.steps
            results[name] = (held, peak, seconds)

    print(f"\n{args.layers} x Dense({args.width}, tanh), batch {args.batch}, float32: forward + "
          f"gradients of {len(variables)} parameters (BLAS threads: {args.blas_threads}); "
          f"gradients {grad_bytes / MIB:.1f} MiB")
    print(f"{'':26s}{'held after fwd':>16s}{'step peak':>11s}{'ms/step':>10s}")
    for name, (held, peak, seconds) in results.items():
        print(f"{name:26s}{held / MIB:12.1f} MiB{peak / MIB:7.1f} MiB{seconds * 1e3:10.1f}")
    (p_held, p_peak, p_time), (c_held, c_peak, c_time) = results.values()
    print(f"\nrecompute_grad: {p_held / c_held:.2f}x less held after the forward pass, "
          f"{p_peak / c_peak:.2f}x lower step peak, for {c_time / p_time:.2f}x the step time")


if __name__ == "__main__":
    main()
