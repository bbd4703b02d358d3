"""One training epoch of the demo's digits models (``tapegrad/examples/digits.py``: the conv net
and the MLP) on scikit-learn's digits, tapegrad against the same model in PyTorch.

Run by hand: ``python benchmarks/epoch.py [--epochs N] [--model conv|mlp|both]
[--blas-threads N]``.

An epoch is what the demo's loop runs per epoch, less its test-set evaluation: 1,438 training
images, shuffled, in batches of ``BATCH_SIZE`` (32) and, per batch, the forward pass in
training mode (dropout on), the sparse softmax cross-entropy, the gradients, an Adam step on the
demo's cosine-decay schedule, and the running loss and accuracy metrics. tapegrad runs the
demo's own code (``build_model``, a ``tf.data`` pipeline, ``tf.keras.optimizers.Adam``);
PyTorch (CPU, ``torch.set_num_threads(1)``) runs the same layers (NCHW), the same batch size,
Adam with Keras's defaults and the same schedule, and shuffles by indexing tensors (no
DataLoader). Before timing, the PyTorch model is loaded with the tapegrad model's weights and
the two must agree on the loss and on every gradient of one batch. Reported: the best and the
median seconds per epoch over ``--epochs`` epochs (after one warm-up epoch), and the training
loss and accuracy of the last epoch.
"""

from __future__ import annotations

import argparse
import math
import pathlib
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from mlp_step import blas_limit  # noqa: E402


def tapegrad_trainer(kind: str, x_train, y_train, epochs: int, seed: int = 0):
    """(run_one_epoch, model, loss_fn): the demo's own training step and pipeline."""
    import tapegrad as tf
    from tapegrad.examples import digits

    tf.random.set_seed(seed)
    model = digits.build_model(kind)
    trainer = digits.make_trainer(model, x_train, y_train, epochs, seed)

    def epoch():
        trainer.loss.reset_state()
        trainer.accuracy.reset_state()
        for images, labels in trainer.dataset:
            trainer.train_step(images, labels)
        return float(trainer.loss.result()), float(trainer.accuracy.result())

    return epoch, model, trainer.loss_fn


def torch_model(kind: str):
    import torch

    nn = torch.nn
    if kind == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(64, 128), nn.ReLU(), nn.Dropout(0.2),
                             nn.Linear(128, 10))
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 2 * 2, 64), nn.ReLU(), nn.Dropout(0.2), nn.Linear(64, 10))


def copy_weights(tapegrad_model, model, kind: str) -> None:
    """Load the tapegrad (NHWC, Keras layouts) weights into the PyTorch (NCHW) model."""
    import torch

    arrays = [v.numpy() for v in tapegrad_model.trainable_variables]
    targets = [m for m in model if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    pairs = list(zip(arrays[0::2], arrays[1::2]))
    first_dense = True
    with torch.no_grad():
        for module, (kernel, bias) in zip(targets, pairs):
            if kernel.ndim == 4:  # HWIO -> OIHW
                kernel = kernel.transpose(3, 2, 0, 1)
            else:
                if first_dense and kind == "conv":
                    # Keras flattens (h, w, c), PyTorch (c, h, w): reorder the kernel's rows.
                    h = w = 2
                    c = kernel.shape[0] // (h * w)
                    kernel = kernel.reshape(h, w, c, -1).transpose(2, 0, 1, 3).reshape(
                        c * h * w, -1)
                first_dense = False
                kernel = kernel.T
            module.weight.copy_(torch.from_numpy(np.ascontiguousarray(kernel)))
            module.bias.copy_(torch.from_numpy(bias))


def torch_trainer(kind: str, x_train, y_train, epochs: int, batch_size: int,
                  learning_rate: float, seed: int = 0):
    import torch

    torch.manual_seed(seed)
    model = torch_model(kind)
    images = torch.from_numpy(np.ascontiguousarray(x_train.transpose(0, 3, 1, 2)))
    labels = torch.from_numpy(y_train.astype(np.int64))
    steps = math.ceil(len(labels) / batch_size)
    total_steps = epochs * steps
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate, eps=1e-7)

    def cosine(step):  # Keras CosineDecay(alpha=0.05), as a factor of the initial rate
        done = min(step, total_steps) / total_steps
        return (1 - 0.05) * 0.5 * (1 + math.cos(math.pi * done)) + 0.05

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, cosine)
    loss_fn = torch.nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(seed)

    def epoch():
        model.train()
        order = torch.randperm(len(labels), generator=generator)
        loss_sum, count, correct = 0.0, 0, 0
        for start in range(0, len(labels), batch_size):
            index = order[start:start + batch_size]
            xb, yb = images[index], labels[index]
            logits = model(xb)
            loss = loss_fn(logits, yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            loss_sum += loss.item()
            count += 1
            correct += int((logits.argmax(1) == yb).sum())
        return loss_sum / count, correct / len(labels)

    return epoch, model


def check(kind: str, tapegrad_model, loss_fn, model, x, y) -> None:
    """Same weights, one batch, dropout off: equal loss and gradients."""
    import torch

    import tapegrad as tf

    copy_weights(tapegrad_model, model, kind)
    xb, yb = x[:32], y[:32]
    with tf.GradientTape() as tape:
        loss = loss_fn(yb, tapegrad_model(xb, training=False))
    grads = [g.numpy() for g in tape.gradient(loss, tapegrad_model.trainable_variables)]
    model.eval()
    model.zero_grad()
    t_loss = torch.nn.functional.cross_entropy(
        model(torch.from_numpy(np.ascontiguousarray(xb.transpose(0, 3, 1, 2)))),
        torch.from_numpy(yb.astype(np.int64)))
    t_loss.backward()
    np.testing.assert_allclose(float(t_loss.detach()), float(loss), rtol=1e-5)
    # Compare gradients in PyTorch's layouts by pushing ours through the same weight mapping.
    probe = torch_model(kind)
    shadow = type("Shadow", (), {"trainable_variables": [tf.constant(g) for g in grads]})()
    copy_weights(shadow, probe, kind)
    for (name, ours), theirs in zip(probe.named_parameters(), model.parameters()):
        np.testing.assert_allclose(ours.detach().numpy(), theirs.grad.numpy(), rtol=1e-4,
                                   atol=1e-6, err_msg=f"{kind}: gradient of {name}")


def time_epochs(epoch, epochs: int):
    epoch()  # warm up
    seconds, result = [], None
    for _ in range(epochs):
        start = time.perf_counter()
        result = epoch()
        seconds.append(time.perf_counter() - start)
    return seconds, result


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10, help="timed epochs (after a warm-up)")
    parser.add_argument("--model", choices=("conv", "mlp", "both"), default="both")
    parser.add_argument("--blas-threads", type=int, default=1)
    args = parser.parse_args(argv)

    from tapegrad.examples import digits

    x_train, y_train, _, _ = digits.load_data(0)
    try:
        import torch
        torch.set_num_threads(1)
    except ImportError:
        torch = None
        print("PyTorch: not installed")
    kinds = ("conv", "mlp") if args.model == "both" else (args.model,)
    print(f"One epoch of tapegrad/examples/digits.py: {len(y_train)} images, batch "
          f"{digits.BATCH_SIZE}, Adam + cosine decay (BLAS threads: {args.blas_threads}; "
          "PyTorch: CPU, 1 thread)\n")
    print(f"{'':22s}{'best s':>9s}{'median s':>10s}{'loss':>8s}{'acc':>7s}{'/ PyTorch':>11s}")
    with blas_limit(args.blas_threads):
        for kind in kinds:
            total = args.epochs + 1
            epoch, model, loss_fn = tapegrad_trainer(kind, x_train, y_train, total)
            rows = {}
            if torch is not None:
                t_epoch, t_model = torch_trainer(kind, x_train, y_train, total,
                                                 digits.BATCH_SIZE, digits.LEARNING_RATE)
                check(kind, model, loss_fn, t_model, x_train, y_train)
                rows["PyTorch"] = time_epochs(t_epoch, args.epochs)
            rows["tapegrad"] = time_epochs(epoch, args.epochs)
            peer = min(rows["PyTorch"][0]) if "PyTorch" in rows else None
            for library in ("tapegrad", "PyTorch"):
                if library not in rows:
                    continue
                seconds, (loss, accuracy) = rows[library]
                ratio = f"{min(seconds) / peer:11.2f}" if peer else ""
                print(f"{kind + ' ' + library:22s}{min(seconds):9.3f}"
                      f"{statistics.median(seconds):10.3f}{loss:8.4f}{accuracy:7.3f}{ratio}")


if __name__ == "__main__":
    main()
