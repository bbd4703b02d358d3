"""Train a small conv net on scikit-learn's handwritten digits with a custom GradientTape loop.

Everything is TensorFlow-2 code run on tapegrad (``import tapegrad as tf``): a ``tf.data``
pipeline, a ``tf.keras.Sequential`` conv net, ``Adam``, a ``GradientTape`` training step,
metrics, a checkpoint saved, reloaded into a fresh model and re-checked, and a learning curve.

The digits (1,797 8x8 images) ship inside scikit-learn (``pip install "tapegrad[examples]"``);
nothing is downloaded. tqdm (progress bar) and matplotlib (learning-curve PNG) are optional.

>>> from tapegrad.examples import digits
>>> callable(digits.train)
True
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

import tapegrad as tf

__all__ = ["load_data", "build_model", "train", "evaluate", "main"]

BATCH_SIZE = 32
LEARNING_RATE = 3e-3


def load_data(seed: int = 0, test_fraction: float = 0.2):
    """(x_train, y_train, x_test, y_test): images ``(n, 8, 8, 1)`` in [0, 1], int labels."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:  # pragma: no cover - depends on the optional extra
        raise ImportError('The digits example needs scikit-learn: pip install '
                          '"tapegrad[examples]" (or pip install scikit-learn).') from None
    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[..., None]
    labels = digits.target.astype(np.int32)
    order = np.random.default_rng(seed).permutation(len(labels))
    n_test = int(round(len(labels) * test_fraction))
    test, train = order[:n_test], order[n_test:]
    return images[train], labels[train], images[test], labels[test]


def build_model(kind: str = "conv") -> tf.keras.Model:
    """The network: a small conv net (``"conv"``) or a two-layer perceptron (``"mlp"``)."""
    layers = tf.keras.layers
    if kind == "mlp":
        return tf.keras.Sequential([
            tf.keras.Input(shape=(8, 8, 1)),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dropout(0.2),
            layers.Dense(10),
        ], name="digits_mlp")
    return tf.keras.Sequential([
        tf.keras.Input(shape=(8, 8, 1)),
        layers.Conv2D(16, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(),
        layers.Conv2D(32, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(),
        layers.Flatten(),
        layers.Dense(64, activation="relu"),
        layers.Dropout(0.2),
        layers.Dense(10),
    ], name="digits_cnn")


def evaluate(model, x, y, batch_size: int = 256) -> float:
    """Test accuracy of ``model`` (inference mode)."""
    accuracy = tf.keras.metrics.SparseCategoricalAccuracy()
    for xb, yb in tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size):
        accuracy.update_state(yb, model(xb, training=False))
    return float(accuracy.result())


def _progress(iterable, total, enabled, description):
    if not enabled:
        return iterable, None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return iterable, None
    bar = tqdm(iterable, total=total, desc=description, leave=False, dynamic_ncols=True)
    return bar, bar


class Trainer(NamedTuple):
    """The pieces of the custom training loop (shared with benchmarks/epoch.py)."""

    dataset: object
    steps: int
    train_step: Callable
    loss: object
    accuracy: object
    optimizer: object
    loss_fn: object


def make_trainer(model, x_train, y_train, epochs: int, seed: int = 0) -> Trainer:
    """Data pipeline, Adam with cosine decay, and the GradientTape step for ``model``."""
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    train_loss = tf.keras.metrics.Mean()
    train_accuracy = tf.keras.metrics.SparseCategoricalAccuracy()
    dataset = (tf.data.Dataset.from_tensor_slices((x_train, y_train))
               .shuffle(len(y_train), seed=seed)
               .batch(BATCH_SIZE)
               .prefetch(tf.data.AUTOTUNE))
    steps = len(dataset)
    schedule = tf.keras.optimizers.schedules.CosineDecay(LEARNING_RATE, epochs * steps,
                                                         alpha=0.05)
    optimizer = tf.keras.optimizers.Adam(schedule)

    def train_step(images, labels):
        with tf.GradientTape() as tape:
            logits = model(images, training=True)
            loss = loss_fn(labels, logits)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        train_loss.update_state(loss)
        train_accuracy.update_state(labels, logits)

    return Trainer(dataset, steps, train_step, train_loss, train_accuracy, optimizer, loss_fn)


def train(epochs: int = 15, seed: int = 0, output_dir: str = "digits-output",
          progress: bool = True, kind: str = "conv") -> dict:
    """Train, checkpoint, reload and plot; returns a summary dict.

    Keys: ``test_accuracy``, ``reloaded_accuracy``, ``history`` (per-epoch ``loss``,
    ``accuracy``, ``test_accuracy``), ``seconds``, ``checkpoint``, ``plot`` (None without
    matplotlib), ``parameters``.
    """
    tf.random.set_seed(seed)
    x_train, y_train, x_test, y_test = load_data(seed)
    os.makedirs(output_dir, exist_ok=True)

    model = build_model(kind)
    trainer = make_trainer(model, x_train, y_train, epochs, seed)
    dataset, steps, train_step = trainer.dataset, trainer.steps, trainer.train_step
    train_loss, train_accuracy = trainer.loss, trainer.accuracy
    optimizer = trainer.optimizer

    history = {"loss": [], "accuracy": [], "test_accuracy": []}
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        train_loss.reset_state()
        train_accuracy.reset_state()
        batches, bar = _progress(dataset, steps, progress, f"epoch {epoch}/{epochs}")
        for images, labels in batches:
            train_step(images, labels)
            if bar is not None:
                bar.set_postfix(loss=f"{float(train_loss.result()):.4f}",
                                acc=f"{float(train_accuracy.result()):.3f}", refresh=False)
        if bar is not None:
            bar.close()
        test_accuracy = evaluate(model, x_test, y_test)
        history["loss"].append(float(train_loss.result()))
        history["accuracy"].append(float(train_accuracy.result()))
        history["test_accuracy"].append(test_accuracy)
        if progress:
            print(f"epoch {epoch:2d}/{epochs}  loss {history['loss'][-1]:.4f}  "
                  f"train acc {history['accuracy'][-1]:.3f}  test acc {test_accuracy:.3f}",
                  flush=True)
    seconds = time.perf_counter() - start

    checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer)
    path = checkpoint.save(os.path.join(output_dir, "ckpt"))

    fresh = build_model(kind)   # built from its Input: same variables, new values
    tf.train.Checkpoint(model=fresh).restore(path)
    reloaded_accuracy = evaluate(fresh, x_test, y_test)

    plot = _plot(history, os.path.join(output_dir, "learning_curve.png"),
                 "conv net" if kind == "conv" else "MLP")
    return {"test_accuracy": history["test_accuracy"][-1],
            "reloaded_accuracy": reloaded_accuracy, "history": history, "seconds": seconds,
            "checkpoint": path, "plot": plot, "parameters": model.count_params(),
            "epochs": epochs, "seed": seed}


def _plot(history: dict, path: str, model_name: str = "conv net") -> str | None:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    epochs = np.arange(1, len(history["loss"]) + 1)
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    left.plot(epochs, history["loss"], marker="o")
    left.set_xlabel("epoch")
    left.set_ylabel("training loss")
    left.set_title("Loss")
    right.plot(epochs, history["accuracy"], marker="o", label="train")
    right.plot(epochs, history["test_accuracy"], marker="s", label="test")
    right.set_xlabel("epoch")
    right.set_ylabel("accuracy")
    right.set_title("Accuracy")
    right.legend()
    fig.suptitle(f"tapegrad: digits {model_name}, custom GradientTape loop")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def main(argv=None) -> int:
    import argparse
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output-dir", default="digits-output")
    parser.add_argument("--model", choices=("conv", "mlp"), default="conv")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    result = train(args.epochs, args.seed, args.output_dir, progress=not args.no_progress,
                   kind=args.model)
    print(f"test accuracy {result['test_accuracy']:.4f} after {args.epochs} epochs "
          f"({result['seconds']:.1f} s, {result['parameters']:,} parameters)")
    print(f"checkpoint {result['checkpoint']}.npz reloaded into a fresh model: "
          f"accuracy {result['reloaded_accuracy']:.4f}")
    if result["plot"]:
        print(f"learning curve: {result['plot']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
