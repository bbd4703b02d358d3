"""Data-parallel training of the digits MLP with Horovod's API on tapegrad.

Each of N processes trains on its shard of scikit-learn's digits (``Dataset.shard(size, rank)``);
``DistributedGradientTape`` averages the gradients, so all ranks apply the same update and keep
identical weights (checked at the end). Run it with::

    mpiexec -n 2 python examples/distributed_digits.py --epochs 5
    python examples/distributed_digits.py            # one process, same script

It needs the ``mpi`` extra for several processes (``pip install ".[mpi,examples]"``). Run at
most one process per core, each with its share of BLAS threads (MPICH:
``mpiexec -n 2 -genv OPENBLAS_NUM_THREADS 1 ...``): a full thread pool in every process
oversubscribes the cores.
"""

from __future__ import annotations

import argparse

import numpy as np

import tapegrad as tf
import tapegrad.distribute as hvd
from tapegrad.examples.digits import build_model, load_data

BATCH_PER_RANK = 32
LEARNING_RATE = 3e-3


def train(epochs: int = 5, seed: int = 0, log=print) -> dict:
    """Train on this rank's shard; returns the averaged last-epoch loss and test accuracy."""
    hvd.init()
    tf.random.set_seed(seed + hvd.rank())          # dropout differs per rank, as it should
    x_train, y_train, x_test, y_test = load_data(seed)
    # Every rank takes the same number of full batches, so all make the same collective calls.
    steps = len(x_train) // hvd.size() // BATCH_PER_RANK
    dataset = (tf.data.Dataset.from_tensor_slices((x_train, y_train))
               .shard(hvd.size(), hvd.rank())
               .shuffle(len(x_train), seed=seed)
               .batch(BATCH_PER_RANK, drop_remainder=True)
               .take(steps))
    model = build_model("mlp")
    # The global batch is size() times larger: scale the learning rate with it, as Horovod does.
    optimizer = tf.keras.optimizers.Adam(LEARNING_RATE * hvd.size())
    optimizer.build(model.trainable_variables)
    hvd.broadcast_variables(model.variables + optimizer.variables, root_rank=0)
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    for epoch in range(epochs):
        losses = []
        for images, labels in dataset:
            with tf.GradientTape() as tape:
                loss = loss_fn(labels, model(images, training=True))
            tape = hvd.DistributedGradientTape(tape)
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            losses.append(float(loss))
        mean_loss = float(hvd.allreduce(tf.constant(np.mean(losses), dtype=tf.float32)))
        if hvd.rank() == 0:
            log(f"epoch {epoch + 1}/{epochs}: loss {mean_loss:.4f} ({hvd.size()} process(es), "
                f"{steps} steps of {BATCH_PER_RANK} x {hvd.size()} images)")

    predictions = np.argmax(model(x_test, training=False).numpy(), axis=1)
    accuracy = float(np.mean(predictions == y_test))
    same = hvd.allgather_object([v.numpy() for v in model.variables])
    identical = all(np.array_equal(a, b) for other in same for a, b in zip(same[0], other))
    if hvd.rank() == 0:
        log(f"test accuracy {accuracy:.3f}; weights identical on all ranks: {identical}")
    return {"loss": mean_loss, "accuracy": accuracy, "identical": identical}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    train(args.epochs, args.seed)


if __name__ == "__main__":
    main()
