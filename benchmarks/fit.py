"""``model.fit`` of the digits conv net (``tapegrad/examples/digits.py``) for 15 epochs:
tapegrad's Keras against TensorFlow 2.21's ``tf.keras`` (Keras 3), same data, same model,
same initial weights, same batch size.

Run by hand, with an interpreter that has TensorFlow (the tapegrad row runs anyway):
``PYTHONPATH=. python benchmarks/fit.py [--model conv|mlp] [--epochs 15] [--rounds 2]
[--blas-threads 1] [--tf-threads 1]``.

Both run ``model.compile(Adam(3e-3), SparseCategoricalCrossentropy(from_logits=True),
metrics=["accuracy"])`` then ``model.fit(x, y, batch_size=32, epochs=..., verbose=0)`` on the
1,438 training images of scikit-learn's digits (shuffled each epoch, dropout on). Before
timing, the TensorFlow model gets the tapegrad model's initial weights and the two must agree
on the loss of one evaluation. Reported: the best wall time of ``--rounds`` full fits (rounds
alternate between the frameworks) and the last epoch's training loss and accuracy.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from mlp_step import blas_limit  # noqa: E402


def build(keras, kind="conv"):
    """The digits conv net (or MLP) of tapegrad/examples/digits.py, with ``keras`` (either
    library)."""
    layers = keras.layers
    if kind == "mlp":
        return keras.Sequential([keras.Input(shape=(8, 8, 1)), layers.Flatten(),
                                 layers.Dense(128, activation="relu"), layers.Dropout(0.2),
                                 layers.Dense(10)])
    return keras.Sequential([
        keras.Input(shape=(8, 8, 1)),
        layers.Conv2D(16, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(),
        layers.Conv2D(32, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(),
        layers.Flatten(),
        layers.Dense(64, activation="relu"),
        layers.Dropout(0.2),
        layers.Dense(10),
    ])


def compiled(keras, weights, kind):
    model = build(keras, kind)
    model.set_weights(weights)
    model.compile(optimizer=keras.optimizers.Adam(3e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


def timed_fit(keras, weights, kind, x, y, epochs):
    model = compiled(keras, weights, kind)
    start = time.perf_counter()
    history = model.fit(x, y, batch_size=32, epochs=epochs, verbose=0)
    seconds = time.perf_counter() - start
    return seconds, history.history["loss"][-1], history.history["accuracy"][-1]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--model", choices=("conv", "mlp"), default="conv")
    parser.add_argument("--blas-threads", type=int, default=1,
                        help="NumPy's BLAS threads (needs threadpoolctl)")
    parser.add_argument("--tf-threads", type=int, default=1,
                        help="TensorFlow intra- and inter-op threads (0: TF's default)")
    args = parser.parse_args(argv)

    import tapegrad
    from tapegrad.examples import digits

    x, y, x_test, y_test = digits.load_data(0)
    tapegrad.keras.utils.set_random_seed(0)
    weights = build(tapegrad.keras, args.model).get_weights()
    frameworks = {"tapegrad": tapegrad.keras}
    try:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        import tensorflow as tf
        if args.tf_threads:
            tf.config.threading.set_intra_op_parallelism_threads(args.tf_threads)
            tf.config.threading.set_inter_op_parallelism_threads(args.tf_threads)
        frameworks[f"TensorFlow {tf.__version__}"] = tf.keras
        reference = compiled(tf.keras, weights, args.model).evaluate(x_test, y_test, verbose=0)
        ours = compiled(tapegrad.keras, weights, args.model).evaluate(x_test, y_test, verbose=0)
        np.testing.assert_allclose(ours, reference, rtol=1e-4)
    except ImportError:
        print("TensorFlow: not installed (tapegrad row only)")
    print(f"model.fit of the digits {args.model} net: {len(y)} images, batch 32, "
          f"{args.epochs} epochs, best of {args.rounds} (BLAS threads: {args.blas_threads}; "
          f"TF threads: {args.tf_threads or 'default'})\n")
    print(f"{'':24s}{'best s':>9s}{'s/epoch':>9s}{'loss':>8s}{'acc':>7s}")
    results = {name: [] for name in frameworks}
    with blas_limit(args.blas_threads):
        for _ in range(args.rounds):
            for name, keras in frameworks.items():
                results[name].append(timed_fit(keras, weights, args.model, x, y, args.epochs))
    for name, runs in results.items():
        seconds, loss, accuracy = min(runs)
        print(f"{name:24s}{seconds:9.2f}{seconds / args.epochs:9.3f}{loss:8.4f}{accuracy:7.3f}")


if __name__ == "__main__":
    main()
