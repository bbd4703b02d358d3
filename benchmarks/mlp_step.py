"""One training step of an MLP 784-256-256-10 (relu), batch 128, float32, mean softmax
cross-entropy: the forward loss and the gradients of all 6 parameters.

Run by hand: ``python benchmarks/mlp_step.py [--blas-threads N] [--steps N]``.

Rows: a hand-written NumPy forward + backward (the floor: what any NumPy autodiff must pay),
tapegrad (GradientTape over Variables), PyTorch on CPU with ``torch.set_num_threads(1)`` and
TensorFlow when importable. NumPy's BLAS (so the floor and tapegrad) runs with
``--blas-threads`` threads (default 1, to match PyTorch's single thread; needs threadpoolctl).
Before timing, tapegrad's loss and gradients are checked against the floor's. Last, the step's 8
matrix products alone in NumPy and in PyTorch: how much of any gap is the BLAS library's.
"""

from __future__ import annotations

import argparse
import contextlib
import pathlib
import sys
import timeit

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

BATCH, SIZES = 128, (784, 256, 256, 10)
PARAMETER_NAMES = ("W1", "b1", "W2", "b2", "W3", "b3")


def make_data(seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((BATCH, SIZES[0])).astype(np.float32)
    labels = rng.integers(0, SIZES[-1], BATCH)
    y = np.eye(SIZES[-1], dtype=np.float32)[labels]
    params = []
    for fan_in, fan_out in zip(SIZES[:-1], SIZES[1:]):
        params.append((rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / fan_in)
                       ).astype(np.float32))
        params.append((rng.standard_normal(fan_out) * 0.1).astype(np.float32))
    return x, y, labels, params


def numpy_step(params, x, y):
    """The floor: forward and backward written by hand in NumPy."""
    w1, b1, w2, b2, w3, b3 = params
    z1 = x @ w1 + b1
    h1 = np.maximum(z1, 0)
    z2 = h1 @ w2 + b2
    h2 = np.maximum(z2, 0)
    logits = h2 @ w3 + b3
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    total = e.sum(axis=1, keepdims=True)
    loss = np.mean(np.sum(y * (np.log(total) - shifted), axis=1))
    d3 = (e / total - y) / np.float32(len(x))
    g_w3 = h2.T @ d3
    g_b3 = d3.sum(axis=0)
    d2 = (d3 @ w3.T) * (z2 > 0)
    g_w2 = h1.T @ d2
    g_b2 = d2.sum(axis=0)
    d1 = (d2 @ w2.T) * (z1 > 0)
    g_w1 = x.T @ d1
    g_b1 = d1.sum(axis=0)
    return loss, [g_w1, g_b1, g_w2, g_b2, g_w3, g_b3]


def tf_style_step_factory(tf, params, x, y):
    """The step written once against TensorFlow's API; runs on tapegrad or TensorFlow."""
    variables = [tf.Variable(p) for p in params]
    xt, yt = tf.constant(x), tf.constant(y)

    def step():
        w1, b1, w2, b2, w3, b3 = variables
        with tf.GradientTape() as tape:
            h1 = tf.nn.relu(tf.matmul(xt, w1) + b1)
            h2 = tf.nn.relu(tf.matmul(h1, w2) + b2)
            logits = tf.matmul(h2, w3) + b3
            loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=yt,
                                                                          logits=logits))
        return loss, tape.gradient(loss, variables)

    return step


def torch_step_factory(params, x, labels):
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    weights = [torch.tensor(p, requires_grad=True) for p in params]
    xt = torch.tensor(x)
    lt = torch.tensor(labels)
    functional = torch.nn.functional

    def step():
        w1, b1, w2, b2, w3, b3 = weights
        h1 = torch.relu(xt @ w1 + b1)
        h2 = torch.relu(h1 @ w2 + b2)
        loss = functional.cross_entropy(h2 @ w3 + b3, lt)
        return loss, torch.autograd.grad(loss, weights)

    return step


def blas_limit(threads: int):
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        print("(threadpoolctl not installed: NumPy's BLAS uses its default thread count)")
        return contextlib.nullcontext()
    return threadpool_limits(limits=threads, user_api="blas")


def check(bench, tapegrad_step, params, x, y) -> None:
    """tapegrad's loss and gradients must agree with the hand-written floor's."""
    loss, grads = bench.numpy_step(params, x, y)
    t_loss, t_grads = tapegrad_step()
    np.testing.assert_allclose(float(t_loss), loss, rtol=1e-5)
    for name, ours, floor in zip(bench.PARAMETER_NAMES, t_grads, grads):
        np.testing.assert_allclose(np.asarray(ours), floor, rtol=1e-4, atol=1e-6,
                                   err_msg=f"gradient of {name}")


def tensorflow_step(bench, params, x, y):
    try:
        import tensorflow
    except ImportError:
        return None
    return bench.tf_style_step_factory(tensorflow, params, x, y)


def run_step_benchmark(bench, title: str, argv=None) -> None:
    """Check, time and print one training step: ``bench`` is a module with make_data,
    numpy_step, PARAMETER_NAMES, tf_style_step_factory (run with tapegrad and TensorFlow) and
    torch_step_factory."""
    import tapegrad

    parser = argparse.ArgumentParser(description=(bench.__doc__ or "").splitlines()[0])
    parser.add_argument("--blas-threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=20, help="steps per timing run")
    parser.add_argument("--repeat", type=int, default=15,
                        help="timing rounds (the best of each row is kept)")
    args = parser.parse_args(argv)

    x, y, labels, params = bench.make_data()
    tapegrad_step = bench.tf_style_step_factory(tapegrad, params, x, y)
    steps = {"NumPy by hand (floor)": lambda: bench.numpy_step(params, x, y),
             "tapegrad": tapegrad_step}
    for name, step in (("PyTorch CPU, 1 thread", bench.torch_step_factory(params, x, labels)),
                       ("TensorFlow", tensorflow_step(bench, params, x, y))):
        if step is None:
            print(f"{name}: not installed")
        else:
            steps[name] = step
    with blas_limit(args.blas_threads):
        check(bench, tapegrad_step, params, x, y)
        for step in steps.values():
            step()  # warm up
        best = {name: float("inf") for name in steps}
        for _ in range(args.repeat):  # round-robin: every row sees the same machine conditions
            for name, step in steps.items():
                best[name] = min(best[name], timeit.timeit(step, number=args.steps) / args.steps)
    rows = list(best.items())
    floor = best["NumPy by hand (floor)"]

    print(f"\n{title} (BLAS threads: {args.blas_threads})")
    print(f"{'':26s}{'ms/step':>10s}{'/ floor':>10s}{'tapegrad /':>12s}")
    tapegrad_time = dict(rows)["tapegrad"]
    for name, seconds in rows:
        print(f"{name:26s}{seconds * 1e3:10.3f}{seconds / floor:10.2f}"
              f"{tapegrad_time / seconds:12.2f}")


def step_gemms(seed: int = 1) -> list:
    """The 8 matrix products of one step, as (a, b) pairs laid out as the step has them
    (transposed operands are views): 3 forward, then dW3, dh2, dW2, dh1, dW1."""
    rng = np.random.default_rng(seed)

    def matrix(rows, columns, transposed=False):
        value = rng.standard_normal((columns, rows) if transposed else (rows, columns))
        value = value.astype(np.float32)
        return value.T if transposed else value

    b, (n0, n1, n2, n3) = BATCH, SIZES
    return [(matrix(b, n0), matrix(n0, n1)), (matrix(b, n1), matrix(n1, n2)),
            (matrix(b, n2), matrix(n2, n3)), (matrix(n2, b, True), matrix(b, n3)),
            (matrix(b, n3), matrix(n3, n2, True)), (matrix(n1, b, True), matrix(b, n2)),
            (matrix(b, n2), matrix(n2, n1, True)), (matrix(n0, b, True), matrix(b, n1))]


def compare_gemms(blas_threads: int) -> None:
    """Time the step's 8 matrix products alone in NumPy and in PyTorch: the part of the step
    that is the BLAS library's, not the autodiff's."""
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(1)
    pairs = step_gemms()
    torch_pairs = [(torch.from_numpy(np.ascontiguousarray(a.T)).T if not a.flags.c_contiguous
                    else torch.from_numpy(a),
                    torch.from_numpy(np.ascontiguousarray(b.T)).T if not b.flags.c_contiguous
                    else torch.from_numpy(b)) for a, b in pairs]

    def numpy_products():
        for a, b in pairs:
            a @ b

    def torch_products():
        for a, b in torch_pairs:
            a @ b

    best = {"numpy": float("inf"), "torch": float("inf")}
    with blas_limit(blas_threads):
        for _ in range(15):
            best["numpy"] = min(best["numpy"], timeit.timeit(numpy_products, number=20) / 20)
            best["torch"] = min(best["torch"], timeit.timeit(torch_products, number=20) / 20)
    ratio = best["numpy"] / best["torch"]
    print(f"\nthe step's 8 matrix products alone: NumPy {best['numpy'] * 1e3:.3f} ms, PyTorch "
          f"{best['torch'] * 1e3:.3f} ms (NumPy's BLAS takes {ratio:.2f}x PyTorch's)")


def main(argv=None) -> None:
    run_step_benchmark(sys.modules[__name__],
                       f"MLP {'-'.join(map(str, SIZES))} relu, batch {BATCH}, float32: forward "
                       "+ gradients of 6 parameters", argv)
    threads = argparse.ArgumentParser(add_help=False)
    threads.add_argument("--blas-threads", type=int, default=1)
    compare_gemms(threads.parse_known_args(argv)[0].blas_threads)


if __name__ == "__main__":
    main()
