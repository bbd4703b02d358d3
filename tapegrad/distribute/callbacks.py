"""Horovod's Keras callbacks for ``model.fit`` across ranks (``hvd.callbacks``).

Use them with a ``DistributedOptimizer``:

>>> import numpy as np, tapegrad as tf
>>> import tapegrad.distribute as hvd
>>> hvd.init()
>>> model = tf.keras.Sequential([tf.keras.Input((2,)), tf.keras.layers.Dense(1)])
>>> model.compile(hvd.DistributedOptimizer(tf.keras.optimizers.SGD(0.1)), "mse")
>>> history = model.fit(np.ones((8, 2)), np.ones((8, 1)), epochs=2, verbose=0, callbacks=[
...     hvd.callbacks.BroadcastGlobalVariablesCallback(0),
...     hvd.callbacks.MetricAverageCallback(),
...     hvd.callbacks.LearningRateWarmupCallback(initial_lr=0.1, warmup_epochs=1)])
>>> len(history.history["loss"])
2
"""

from __future__ import annotations

from tapegrad._core.backend import np
from tapegrad._core.tensor import to_array
from tapegrad.distribute import collectives
from tapegrad.distribute._engine import require_init
from tapegrad.keras.callbacks import Callback

__all__ = ["BroadcastGlobalVariablesCallback", "MetricAverageCallback",
           "LearningRateWarmupCallback"]


class BroadcastGlobalVariablesCallback(Callback):
    """Give every rank rank ``root_rank``'s model and optimizer variables when training
    starts (or after the first batch when the model is built by it), so all ranks start
    alike."""

    def __init__(self, root_rank: int, device: str = ""):
        super().__init__()
        self.root_rank = root_rank
        self.broadcast_done = False

    def _broadcast(self) -> None:
        model = self.model
        optimizer = getattr(model, "optimizer", None)
        if optimizer is not None and not optimizer.built:
            optimizer.build(model.trainable_variables)
        variables = list(model.variables) + (list(optimizer.variables) if optimizer else [])
        collectives.broadcast_variables(variables, self.root_rank)
        self.broadcast_done = True

    def on_train_begin(self, logs=None):
        if not self.broadcast_done and self.model.variables:
            self._broadcast()

    def on_train_batch_end(self, batch, logs=None):
        if not self.broadcast_done:
            self._broadcast()


class MetricAverageCallback(Callback):
    """Replace each epoch's metrics (``logs``) by their average over the ranks, so that
    callbacks after it (EarlyStopping, ReduceLROnPlateau, checkpoints) see the same values on
    every rank. Put it before them in ``callbacks``."""

    def __init__(self, device: str = ""):
        super().__init__()

    def on_epoch_end(self, epoch, logs=None):
        if not logs:
            return
        state = require_init()
        numbers = {key: float(np.asarray(to_array(value))) for key, value in logs.items()
                   if np.ndim(np.asarray(to_array(value))) == 0}
        every = collectives.allgather_object(numbers)
        keys = [sorted(rank_logs) for rank_logs in every]
        if any(k != keys[0] for k in keys):
            raise ValueError("MetricAverageCallback: the ranks have different metrics: "
                             + "; ".join(f"rank {r}: {k}" for r, k in enumerate(keys)))
        for key in numbers:
            logs[key] = sum(rank_logs[key] for rank_logs in every) / state.size


class LearningRateWarmupCallback(Callback):
    """Ramp the learning rate from ``initial_lr / size()`` to ``initial_lr`` over the first
    ``warmup_epochs`` epochs, batch by batch (Goyal et al., 2017: a large global batch needs a
    gentle start). With ``momentum_correction``, an SGD momentum is scaled by the change of
    the learning rate for the batch in which it changes."""

    def __init__(self, initial_lr: float, warmup_epochs: int = 5,
                 momentum_correction: bool = True, steps_per_epoch: int | None = None,
                 verbose: int = 0):
        super().__init__()
        self.initial_lr = float(initial_lr)
        self.warmup_epochs = warmup_epochs
        self.momentum_correction = momentum_correction
        self.steps_per_epoch = steps_per_epoch
        self.verbose = verbose
        self._epoch = 0
        self._saved_momentum = None

    def multiplier(self, epoch: float) -> float:
        """The learning-rate factor at (fractional) ``epoch``: 1/size at 0, 1 at the end."""
        size = require_init().size
        return (epoch * (size - 1) / self.warmup_epochs + 1) / size

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        if self._epoch >= self.warmup_epochs:
            return
        steps = self.steps_per_epoch or self.params.get("steps")
        if not steps:
            raise ValueError("LearningRateWarmupCallback needs steps_per_epoch when fit does "
                             "not know the number of steps (an unsized dataset).")
        # Counting the current batch as done makes the last warmup batch reach initial_lr.
        progress = self._epoch + (batch + 1) / steps
        optimizer = self.model.optimizer
        old_lr = float(np.asarray(to_array(optimizer.learning_rate)))
        new_lr = self.initial_lr * self.multiplier(progress)
        optimizer.learning_rate = new_lr
        momentum = getattr(optimizer, "momentum", 0.0)
        if self.momentum_correction and momentum and old_lr > 0:
            self._saved_momentum = momentum
            optimizer.momentum = momentum * new_lr / old_lr

    def on_train_batch_end(self, batch, logs=None):
        if self._saved_momentum is not None:
            self.model.optimizer.momentum = self._saved_momentum
            self._saved_momentum = None

    def on_epoch_end(self, epoch, logs=None):
        if self.verbose and epoch == self.warmup_epochs - 1 and require_init().rank == 0:
            print(f"\nEpoch {epoch + 1}: finished gradual learning rate warmup to "
                  f"{self.initial_lr:g}.")
