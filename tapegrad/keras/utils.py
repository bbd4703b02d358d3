"""``tf.keras.utils``: progress bar, one-hot labels, seeding and ``PyDataset``.

>>> import tapegrad as tf
>>> tf.keras.utils.to_categorical([0, 2], num_classes=3).tolist()
[[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
"""

from __future__ import annotations

import math
import sys
import time

from tapegrad._core.backend import np
from tapegrad._core.tensor import Tensor, to_array

__all__ = ["Progbar", "to_categorical", "set_random_seed", "PyDataset", "Sequence",
           "unpack_x_y_sample_weight", "pack_x_y_sample_weight"]


def to_categorical(x, num_classes=None):
    """One-hot float32 rows of the integer labels ``x`` (a trailing size-1 axis is dropped).

    >>> import tapegrad as tf
    >>> tf.keras.utils.to_categorical([1, 0]).tolist()
    [[0.0, 1.0], [1.0, 0.0]]
    """
    labels = np.asarray(to_array(x) if isinstance(x, Tensor) else x)
    if labels.ndim > 1 and labels.shape[-1] == 1:
        labels = labels[..., 0]
    labels = labels.astype(np.int64)
    if num_classes is None:
        num_classes = int(labels.max()) + 1 if labels.size else 0
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"to_categorical: labels must lie in [0, {num_classes}); got values "
                         f"from {int(labels.min())} to {int(labels.max())}. Pass a larger "
                         "num_classes.")
    return (labels[..., None] == np.arange(num_classes)).astype(np.float32)


def set_random_seed(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global generator and tapegrad's (``tf.random``).

    >>> import tapegrad as tf
    >>> tf.keras.utils.set_random_seed(1)
    """
    import random

    from tapegrad.ops import random as _random
    if not isinstance(seed, int):
        raise ValueError(f"Expected `seed` argument to be an integer. Received: seed={seed} "
                         f"(of type {type(seed)})")
    random.seed(seed)
    np.random.seed(seed)
    _random.set_seed(seed)


def unpack_x_y_sample_weight(data):
    """``(x, y, sample_weight)`` from ``x``, ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)``.

    >>> import tapegrad as tf
    >>> tf.keras.utils.unpack_x_y_sample_weight((1, 2))
    (1, 2, None)
    """
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return data, None, None
    if len(data) == 1:
        return data[0], None, None
    if len(data) == 2:
        return data[0], data[1], None
    if len(data) == 3:
        return data
    raise ValueError("Data is expected to be in format `x`, `(x,)`, `(x, y)`, or "
                     f"`(x, y, sample_weight)`, found: {data}")


def pack_x_y_sample_weight(x, y=None, sample_weight=None):
    """The inverse of :func:`unpack_x_y_sample_weight`.

    >>> import tapegrad as tf
    >>> tf.keras.utils.pack_x_y_sample_weight(1, 2)
    (1, 2)
    """
    if y is None:
        return (x,) if isinstance(x, (tuple, list)) else x
    if sample_weight is None:
        return (x, y)
    return (x, y, sample_weight)


class PyDataset:
    """Batches served by index (``__getitem__``) with a known count (``__len__``), as
    ``keras.utils.PyDataset``; ``fit`` iterates it once per epoch and calls ``on_epoch_end``.

    >>> import tapegrad as tf
    >>> class Pairs(tf.keras.utils.PyDataset):
    ...     def __len__(self):
    ...         return 2
    ...     def __getitem__(self, index):
    ...         return tf.ones([4, 3]), tf.zeros([4, 1])
    >>> len(Pairs())
    2
    """

    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        self._workers = workers
        self._use_multiprocessing = use_multiprocessing
        self._max_queue_size = max_queue_size

    @property
    def workers(self):
        return self._workers

    @property
    def use_multiprocessing(self):
        return self._use_multiprocessing

    @property
    def max_queue_size(self):
        return self._max_queue_size

    def __getitem__(self, index):
        raise NotImplementedError

    def __len__(self):
        raise NotImplementedError

    @property
    def num_batches(self):
        return len(self)

    def on_epoch_begin(self):
        pass

    def on_epoch_end(self):
        pass


Sequence = PyDataset


class Progbar:
    """Keras' progress bar: ``12/50 ━━━━━━━━━━━━━━━━━━━━ 1s 3ms/step - loss: 0.1234``.

    On a terminal each update redraws the line; otherwise (a log file, a pipe) nothing is
    printed until the final update, which prints one line, so logs are not flooded.

    >>> import tapegrad as tf
    >>> bar = tf.keras.utils.Progbar(2, verbose=2)
    >>> bar.update(2, [("loss", 0.5)])  # doctest: +ELLIPSIS
    2/2 - ...s - ...step - loss: 0.5000
    """

    def __init__(self, target, width=20, verbose=1, interval=0.05, stateful_metrics=None,
                 unit_name="step"):
        self.target = target
        self.width = width
        self.verbose = verbose
        self.interval = interval
        self.unit_name = unit_name
        self.stateful_metrics = set(stateful_metrics or ())
        self._dynamic_display = hasattr(sys.stdout, "isatty") and sys.stdout.isatty()
        self._values: dict = {}
        self._values_order: list = []
        self._seen_so_far = 0
        self._start = time.time()
        self._last_update = 0.0
        self._time_after_first_step = None
        self._prev_total_width = 0

    def update(self, current, values=None, finalize=None):
        """Record progress ``current`` and the latest ``(name, value)`` pairs; values not in
        ``stateful_metrics`` are averaged over the steps since the start."""
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        for name, value in values or ():
            if name not in self._values_order:
                self._values_order.append(name)
            value = float(np.asarray(to_array(value) if isinstance(value, Tensor) else value))
            if name in self.stateful_metrics or finalize:
                self._values[name] = [value, 1]
            else:
                weight = max(current - self._seen_so_far, 1)
                total, count = self._values.get(name, [0.0, 0])
                self._values[name] = [total + value * weight, count + weight]
        self._seen_so_far = current
        now = time.time()
        per_unit = self._step_duration(current, now)
        if self.verbose == 1:
            if not finalize and (not self._dynamic_display or now - self._last_update
                                 < self.interval):
                return
            self._print_bar(current, now, per_unit, finalize)
        elif self.verbose == 2 and finalize:
            if self.target:
                digits = int(math.log10(self.target)) + 1
                info = f"{current:{digits}d}/{self.target} - {now - self._start:.0f}s -"
            else:
                info = f"{current} - {now - self._start:.0f}s -"
            info += self._format_time(per_unit) + self._metrics_text()
            sys.stdout.write(info + "\n")
            sys.stdout.flush()
        self._last_update = now

    def add(self, n, values=None):
        self.update(self._seen_so_far + n, values)

    def _print_bar(self, current, now, per_unit, finalize):
        if self.target:
            digits = int(math.log10(self.target)) + 1
            done = int(self.width * current / self.target)
            bar = f"{current:{digits}d}/{self.target} " + "━" * done + "━" * (self.width - done)
        else:
            bar = f"{current:7d}/Unknown"
        if self.target and not finalize:
            info = f" {_eta(per_unit * (self.target - current))}"
        else:
            info = f" {now - self._start:.0f}s"
        info += self._format_time(per_unit) + self._metrics_text()
        line = bar + info
        prefix = "\r" if self._dynamic_display else ""
        padding = " " * max(self._prev_total_width - len(line), 0)
        sys.stdout.write(prefix + line + padding + ("\n" if finalize else ""))
        sys.stdout.flush()
        self._prev_total_width = len(line)

    def _metrics_text(self) -> str:
        text = ""
        for name in self._values_order:
            total, count = self._values[name]
            mean = total / max(1, count)
            text += f" - {name}: {mean:.4f}" if abs(mean) > 1e-3 else f" - {name}: {mean:.4e}"
        return text

    def _format_time(self, per_unit: float) -> str:
        if per_unit >= 1 or per_unit == 0:
            return f" {per_unit:.0f}s/{self.unit_name}"
        if per_unit >= 1e-3:
            return f" {per_unit * 1e3:.0f}ms/{self.unit_name}"
        return f" {per_unit * 1e6:.0f}us/{self.unit_name}"

    def _step_duration(self, current, now) -> float:
        if not current:
            return 0.0
        if self._time_after_first_step is not None and current > 1:
            per_unit = (now - self._time_after_first_step) / (current - 1)
        else:
            per_unit = (now - self._start) / current
        if current == 1:
            self._time_after_first_step = now
        return per_unit


def _eta(seconds: float) -> str:
    if seconds > 3600:
        return f"{int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"
    if seconds > 60:
        return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
    return f"{int(seconds)}s"
