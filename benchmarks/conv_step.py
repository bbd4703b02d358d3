"""One training step of a small CNN: batch 32, 28x28x1 -> conv 3x3x16 (SAME, bias) -> relu ->
max-pool 2x2 -> dense 10, mean softmax cross-entropy; forward loss and the gradients of the
4 parameters, float32.

Run by hand: ``python benchmarks/conv_step.py [--blas-threads N] [--steps N]``.

Rows: a hand-written NumPy forward + backward (im2col convolution, reshape max-pool: the
floor), tapegrad (``tf.nn.conv2d``, ``tf.nn.max_pool2d``), PyTorch on CPU with
``torch.set_num_threads(1)`` and TensorFlow when importable. Before timing, tapegrad's loss and
gradients are checked against the floor's.
"""

from __future__ import annotations

import pathlib
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from mlp_step import run_step_benchmark  # noqa: E402

BATCH, SIDE, FILTERS, CLASSES = 32, 28, 16, 10
POOLED = SIDE // 2
PARAMETER_NAMES = ("kernel", "bias", "dense", "dense_bias")


def make_data(seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((BATCH, SIDE, SIDE, 1)).astype(np.float32)
    labels = rng.integers(0, CLASSES, BATCH)
    y = np.eye(CLASSES, dtype=np.float32)[labels]
    kernel = (rng.standard_normal((3, 3, 1, FILTERS)) * 0.3).astype(np.float32)
    bias = (rng.standard_normal(FILTERS) * 0.1).astype(np.float32)
    dense = (rng.standard_normal((POOLED * POOLED * FILTERS, CLASSES)) * 0.02
             ).astype(np.float32)
    dense_bias = np.zeros(CLASSES, np.float32)
    return x, y, labels, [kernel, bias, dense, dense_bias]


def numpy_step(params, x, y):
    """The floor: im2col convolution and a reshape max-pool, forward and backward by hand."""
    kernel, bias, dense, dense_bias = params
    n = len(x)
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    cols = np.lib.stride_tricks.sliding_window_view(padded, (3, 3), axis=(1, 2))
    cols = cols.reshape(n * SIDE * SIDE, 9)  # (n, 28, 28, 1, 3, 3): channel 1, so c*9 order
    z = (cols @ kernel.reshape(9, FILTERS)).reshape(n, SIDE, SIDE, FILTERS) + bias
    a = np.maximum(z, 0)
    windows = a.reshape(n, POOLED, 2, POOLED, 2, FILTERS)
    pooled = windows.max(axis=(2, 4))
    flat = pooled.reshape(n, -1)
    logits = flat @ dense + dense_bias
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    total = e.sum(axis=1, keepdims=True)
    loss = np.mean(np.sum(y * (np.log(total) - shifted), axis=1))
    d_logits = (e / total - y) / np.float32(n)
    g_dense = flat.T @ d_logits
    g_dense_bias = d_logits.sum(axis=0)
    d_pooled = (d_logits @ dense.T).reshape(n, POOLED, 1, POOLED, 1, FILTERS)
    # route to the maximum of each window (ties only occur at relu's zeros, whose gradient
    # relu kills anyway)
    mask = windows == pooled.reshape(n, POOLED, 1, POOLED, 1, FILTERS)
    d_z = ((mask * d_pooled).reshape(n, SIDE, SIDE, FILTERS)) * (z > 0)
    g_bias = d_z.sum(axis=(0, 1, 2))
    g_kernel = (cols.T @ d_z.reshape(-1, FILTERS)).reshape(3, 3, 1, FILTERS)
    return loss, [g_kernel, g_bias, g_dense, g_dense_bias]


def tf_style_step_factory(tf, params, x, y):
    """The step written once against TensorFlow's API; runs on tapegrad or TensorFlow."""
    variables = [tf.Variable(p) for p in params]
    xt, yt = tf.constant(x), tf.constant(y)

    def step():
        kernel, bias, dense, dense_bias = variables
        with tf.GradientTape() as tape:
            a = tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(xt, kernel, 1, "SAME"), bias))
            pooled = tf.nn.max_pool2d(a, 2, 2, "VALID")
            logits = tf.matmul(tf.reshape(pooled, [BATCH, -1]), dense) + dense_bias
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
    functional = torch.nn.functional
    kernel = torch.tensor(params[0].transpose(3, 2, 0, 1).copy(), requires_grad=True)
    weights = [kernel] + [torch.tensor(p, requires_grad=True) for p in params[1:]]
    xt = torch.tensor(x.transpose(0, 3, 1, 2).copy())  # NCHW, PyTorch's layout
    lt = torch.tensor(labels)

    def step():
        kernel, bias, dense, dense_bias = weights
        a = torch.relu(functional.conv2d(xt, kernel, bias, padding=1))
        pooled = functional.max_pool2d(a, 2)
        logits = pooled.reshape(BATCH, -1) @ dense + dense_bias
        loss = functional.cross_entropy(logits, lt)
        return loss, torch.autograd.grad(loss, weights)

    return step


def main(argv=None) -> None:
    run_step_benchmark(sys.modules[__name__],
                       f"CNN batch {BATCH}, {SIDE}x{SIDE}x1 -> conv 3x3x{FILTERS} SAME -> relu -> "
                       f"max-pool 2x2 -> dense {CLASSES}, float32", argv)


if __name__ == "__main__":
    main()
