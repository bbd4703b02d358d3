"""Hessian-vector product of an MLP's loss (12-32-16-1, tanh, float64, 961 parameters, batch 64,
mean squared error) against the cost of one gradient.

Run by hand: ``python benchmarks/hvp.py [--number N] [--repeat N] [--blas-threads N]``.

tapegrad rows: one gradient (GradientTape), ``tf.autodiff.hvp`` (forward-over-reverse: a
ForwardAccumulator around the tape) and reverse-over-reverse (a nested GradientTape: the
gradient of ``sum(gradient * v)``). PyTorch rows (CPU, 1 thread) when installed: one gradient,
``torch.autograd.functional.hvp``, a hand-written double backward and ``torch.func``'s
forward-over-reverse ``jvp(grad(f))``. Each HVP is first checked against central differences
of the gradient along ``v``. The last column is the cost relative to the same library's
gradient (the target for tapegrad's HVP is at most 4x).
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import timeit

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from mlp_step import blas_limit  # noqa: E402

SIZES, BATCH = (12, 32, 16, 1), 64


def make_data(seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((BATCH, SIZES[0]))
    y = rng.standard_normal((BATCH, SIZES[-1]))
    params = []
    for fan_in, fan_out in zip(SIZES[:-1], SIZES[1:]):
        params.append(rng.standard_normal((fan_in, fan_out)) / np.sqrt(fan_in))
        params.append(rng.standard_normal(fan_out) * 0.1)
    vector = [rng.standard_normal(p.shape) for p in params]
    return x, y, params, vector


def finite_difference_hvp(gradient, params, vector, eps: float = 1e-5) -> list:
    """(grad(p + eps v) - grad(p - eps v)) / (2 eps), with ``gradient`` taking NumPy arrays."""
    plus = gradient([p + eps * v for p, v in zip(params, vector)])
    minus = gradient([p - eps * v for p, v in zip(params, vector)])
    return [(a - b) / (2 * eps) for a, b in zip(plus, minus)]


def check(name, products, expected) -> None:
    for index, (ours, reference) in enumerate(zip(products, expected)):
        np.testing.assert_allclose(np.asarray(ours), reference, rtol=1e-6, atol=1e-8,
                                   err_msg=f"{name}: HVP block {index}")


def run_tapegrad(x, y, params, vector) -> dict:
    import tapegrad as tf

    xt, yt = tf.constant(x), tf.constant(y)
    pt = [tf.constant(p) for p in params]
    vt = [tf.constant(v) for v in vector]

    def loss(w1, b1, w2, b2, w3, b3):
        h = tf.tanh(tf.matmul(xt, w1) + b1)
        h = tf.tanh(tf.matmul(h, w2) + b2)
        return tf.reduce_mean(tf.square(tf.matmul(h, w3) + b3 - yt))

    def gradient(ps=pt):
        with tf.GradientTape() as tape:
            tape.watch(ps)
            value = loss(*ps)
        return tape.gradient(value, ps)

    def forward_over_reverse():
        return tf.autodiff.hvp(loss, pt, vt)

    def reverse_over_reverse():
        with tf.GradientTape() as outer:
            outer.watch(pt)
            with tf.GradientTape() as inner:
                inner.watch(pt)
                value = loss(*pt)
            grads = inner.gradient(value, pt)
            dot = tf.add_n([tf.reduce_sum(g * v) for g, v in zip(grads, vt)])
        return outer.gradient(dot, pt)

    expected = finite_difference_hvp(
        lambda ps: [g.numpy() for g in gradient([tf.constant(p) for p in ps])], params, vector)
    rows = {"gradient": gradient, "hvp forward-over-reverse": forward_over_reverse,
            "hvp reverse-over-reverse": reverse_over_reverse}
    for name, function in rows.items():
        if name != "gradient":
            check(f"tapegrad {name}", [p.numpy() for p in function()], expected)
    return rows


def run_torch(x, y, params, vector) -> dict | None:
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    xt, yt = torch.tensor(x), torch.tensor(y)
    pt = tuple(torch.tensor(p, requires_grad=True) for p in params)
    vt = tuple(torch.tensor(v) for v in vector)

    def loss(w1, b1, w2, b2, w3, b3):
        h = torch.tanh(xt @ w1 + b1)
        h = torch.tanh(h @ w2 + b2)
        return torch.mean((h @ w3 + b3 - yt) ** 2)

    def gradient(ps=pt):
        return torch.autograd.grad(loss(*ps), ps)

    def functional_hvp():
        return torch.autograd.functional.hvp(loss, pt, vt)[1]

    def double_backward():
        grads = torch.autograd.grad(loss(*pt), pt, create_graph=True)
        dot = sum((g * v).sum() for g, v in zip(grads, vt))
        return torch.autograd.grad(dot, pt)

    rows = {"gradient": gradient, "autograd.functional.hvp": functional_hvp,
            "double backward": double_backward}
    try:
        from torch.func import grad, jvp

        grad_fn = grad(lambda ps: loss(*ps))
        plain = tuple(p.detach() for p in pt)
        rows["func jvp(grad) fwd-over-rev"] = lambda: jvp(grad_fn, (plain,), (vt,))[1]
    except ImportError:
        pass
    expected = finite_difference_hvp(
        lambda ps: [g.numpy() for g in gradient(tuple(torch.tensor(p, requires_grad=True)
                                                      for p in ps))], params, vector)
    for name, function in rows.items():
        if name != "gradient":
            check(f"PyTorch {name}", [p.detach().numpy() for p in function()], expected)
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=200, help="calls per timing run")
    parser.add_argument("--repeat", type=int, default=7, help="timing runs (best is kept)")
    parser.add_argument("--blas-threads", type=int, default=1)
    args = parser.parse_args(argv)
    with blas_limit(args.blas_threads):
        run(args)


def run(args) -> None:

    x, y, params, vector = make_data()
    count = sum(p.size for p in params)
    print(f"Hessian-vector product, MLP {'-'.join(map(str, SIZES))} tanh, {count} parameters, "
          f"batch {BATCH}, float64 (BLAS threads: {args.blas_threads})\n")
    print(f"{'':40s}{'us/call':>10s}{'/ gradient':>12s}  (PyTorch: CPU, 1 thread)")
    results = {}
    for library, runner in (("tapegrad", run_tapegrad), ("PyTorch", run_torch)):
        rows = runner(x, y, params, vector)
        if rows is None:
            print(f"{library}: not installed")
            continue
        timings = {}
        for name, function in rows.items():
            function()  # warm up
            timings[name] = min(timeit.repeat(function, repeat=args.repeat,
                                              number=args.number)) / args.number
        base = timings["gradient"]
        for name, seconds in timings.items():
            print(f"{library + ' ' + name:40s}{seconds * 1e6:10.1f}{seconds / base:12.2f}")
        results[library] = timings
    ours = results["tapegrad"]
    best = min(ours["hvp forward-over-reverse"], ours["hvp reverse-over-reverse"])
    print(f"\ntapegrad: best HVP = {best / ours['gradient']:.2f}x its gradient (target <= 4x)")
    if "PyTorch" in results:
        peer = results["PyTorch"]
        peer_best = min(v for k, v in peer.items() if k != "gradient")
        print(f"PyTorch's best HVP / tapegrad's best HVP: {peer_best / best:.2f}")


if __name__ == "__main__":
    main()
