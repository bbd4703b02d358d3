"""``compile``/``fit``/``evaluate``/``predict`` for Keras models, as Keras 3.

Every training step is an ordinary ``train_step`` written with ``tapegrad.GradientTape``
(override it exactly as Keras' "Customizing what happens in fit()" guide shows); ``fit`` is the
loop around it: batching, callbacks, validation and the progress bar.

>>> import numpy as np, tapegrad as tf
>>> model = tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.Dense(1)])
>>> model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
>>> history = model.fit(np.ones((8, 3)), np.ones((8, 1)), epochs=2, verbose=0)
>>> sorted(history.history)
['loss', 'mae']
"""

from __future__ import annotations

import functools
import inspect
import math
import warnings

from tapegrad._core import nest
from tapegrad._core.backend import np
from tapegrad._core.tensor import Tensor, to_array, wrap
from tapegrad._core.variable import Variable
from tapegrad.autodiff.tape import GradientTape
from tapegrad.keras import losses as losses_module
from tapegrad.keras import metrics as metrics_module
from tapegrad.keras import optimizers as optimizers_module
from tapegrad.keras.callbacks import CallbackList
from tapegrad.keras.utils import PyDataset, unpack_x_y_sample_weight
from tapegrad.ops import math as math_ops
from tapegrad.ops import reduction as reduction_ops

__all__ = ["Trainer", "CompileLoss", "CompileMetrics"]


# ---------------------------------------------------------------------------------------------
# compiled losses and metrics
# ---------------------------------------------------------------------------------------------

def _is_binary_or_sparse(y_true, y_pred) -> tuple:
    true_shape, pred_shape = tuple(y_true.shape), tuple(y_pred.shape)
    is_binary = bool(pred_shape) and pred_shape[-1] == 1
    is_sparse = len(true_shape) < len(pred_shape) or (
        bool(true_shape) and true_shape[-1] == 1 and bool(pred_shape) and pred_shape[-1] > 1)
    return is_binary, is_sparse


def _resolve_metric(identifier, y_true, y_pred):
    if identifier is None:
        raise ValueError("Expected metric, received `None`")
    if isinstance(identifier, str) and identifier.lower() in ("accuracy", "acc"):
        is_binary, is_sparse = _is_binary_or_sparse(y_true, y_pred)
        if is_binary:
            return metrics_module.BinaryAccuracy(name=identifier)
        if is_sparse:
            return metrics_module.SparseCategoricalAccuracy(name=identifier)
        return metrics_module.CategoricalAccuracy(name=identifier)
    metric = metrics_module.get(identifier)
    if not isinstance(metric, metrics_module.Metric):
        metric = metrics_module.MeanMetricWrapper(metric)
    if isinstance(identifier, str):
        metric.name = identifier
    return metric


def _resolve_loss(identifier, y_true, y_pred):
    if identifier is None:
        return None
    if isinstance(identifier, str) and identifier.lower() in ("crossentropy", "ce"):
        is_binary, is_sparse = _is_binary_or_sparse(y_true, y_pred)
        identifier = ("binary_crossentropy" if is_binary else
                      "sparse_categorical_crossentropy" if is_sparse else
                      "categorical_crossentropy")
    loss = losses_module.get(identifier)
    if not isinstance(loss, losses_module.Loss):
        name = identifier if isinstance(identifier, str) else getattr(loss, "__name__", "loss")
        loss = losses_module.LossFunctionWrapper(loss, name=name)
    return loss


def _check_identifiers(loss, metrics) -> None:
    """Unknown names fail at compile time, naming the known ones."""
    for item in nest.flatten(loss) if loss is not None else ():
        if isinstance(item, str) and item.lower() not in ("crossentropy", "ce"):
            losses_module.get(item)
    for item in nest.flatten(metrics) if metrics is not None else ():
        if isinstance(item, str) and item.lower() not in ("accuracy", "acc"):
            metrics_module.get(item)


def _match_outputs(structure, y_pred, output_names, what: str) -> list:
    """``structure`` (one item, a list or a dict by output name) as one item per output."""
    flat_pred = nest.flatten(y_pred)
    count = len(flat_pred)
    if isinstance(structure, dict) and isinstance(y_pred, dict):
        return [structure.get(key) for key in nest.sorted_keys(y_pred)]
    if isinstance(structure, dict):
        unknown = set(structure) - set(output_names)
        if unknown:
            raise ValueError(f"In the dict argument `{what}`, key(s) {sorted(unknown)} do not "
                             f"correspond to any model output. Received: {what}={structure}; "
                             f"the model's outputs are {output_names}.")
        return [structure.get(name) for name in output_names]
    if isinstance(structure, (list, tuple)) and count > 1:
        if len(structure) != count:
            raise ValueError(f"For a model with multiple outputs, when providing the `{what}` "
                             f"argument as a list, it should have as many entries as the model "
                             f"has outputs. Received: {what}={structure} of length "
                             f"{len(structure)} whereas the model has {count} outputs.")
        return list(structure)
    if count == 1 and isinstance(structure, (list, tuple)) and what == "loss":
        if len(structure) != 1:
            raise ValueError(f"The model has 1 output, but `loss` has {len(structure)} "
                             f"entries: {structure}. Pass one loss.")
        return list(structure)
    return [structure] * count


def _flat_targets(y_true, y_pred, output_names) -> list:
    flat_pred = nest.flatten(y_pred)
    if isinstance(y_true, dict) and not isinstance(y_pred, dict):
        missing = [name for name in output_names if name not in y_true]
        if missing:
            raise ValueError(f"The target dict is missing output(s) {missing}; its keys are "
                             f"{sorted(y_true)} and the model's outputs are {output_names}.")
        return [y_true[name] for name in output_names]
    flat_true = nest.flatten(y_true)
    if len(flat_true) != len(flat_pred):
        raise ValueError(f"The model has {len(flat_pred)} output(s) but {len(flat_true)} "
                         "target(s) were given; pass one target per output (a list in output "
                         "order or a dict by output name).")
    return flat_true


def _output_names(model, y_pred) -> list:
    names = getattr(model, "output_names", None)
    count = len(nest.flatten(y_pred))
    if isinstance(y_pred, dict):
        return list(nest.sorted_keys(y_pred))
    if names and len(names) == count:
        return list(names)
    return [f"output_{i}" for i in range(count)] if count > 1 else ["output"]


class CompileMetrics(metrics_module.Metric):
    """The metrics given to ``compile``: built on the first batch (``"accuracy"`` becomes the
    binary, categorical or sparse variant from the shapes); ``result()`` is a dict."""

    def __init__(self, metrics, weighted_metrics, model, name="compile_metrics"):
        super().__init__(name=name)
        self._metrics_arg = metrics
        self._weighted_arg = weighted_metrics
        self._model = model
        self._per_output: list | None = None     # [(metrics, weighted metrics)] per output

    @property
    def built(self) -> bool:
        return self._per_output is not None

    @property
    def metrics(self) -> list:
        if self._per_output is None:
            return []
        return [m for unweighted, weighted in self._per_output for m in unweighted + weighted]

    def _build(self, y_true, y_pred) -> None:
        names = _output_names(self._model, y_pred)
        flat_pred = nest.flatten(y_pred)
        flat_true = _flat_targets(y_true, y_pred, names)
        per_output = []
        multi = len(flat_pred) > 1
        specs = [_match_outputs(arg, y_pred, names, what) if arg is not None
                 else [None] * len(flat_pred)
                 for arg, what in ((self._metrics_arg, "metrics"),
                                   (self._weighted_arg, "weighted_metrics"))]
        for index, (true, pred) in enumerate(zip(flat_true, flat_pred)):
            built = []
            for spec in (specs[0][index], specs[1][index]):
                items = [] if spec is None else list(spec) if isinstance(spec, (list, tuple)) \
                    else [spec]
                group = [_resolve_metric(item, true, pred) for item in items]
                if multi:
                    for metric in group:
                        metric.name = f"{names[index]}_{metric.name}"
                built.append(group)
            per_output.append(tuple(built))
        self._per_output = per_output

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        if self._per_output is None:
            self._build(y_true, y_pred)
        names = _output_names(self._model, y_pred)
        flat_true = _flat_targets(y_true, y_pred, names)
        flat_weight = (nest.flatten(sample_weight) if sample_weight is not None
                       else [None] * len(flat_true))
        if len(flat_weight) == 1 and len(flat_true) > 1:
            flat_weight = flat_weight * len(flat_true)
        for (unweighted, weighted), true, pred, weight in zip(
                self._per_output, flat_true, nest.flatten(y_pred), flat_weight):
            for metric in unweighted:
                metric.update_state(true, pred)
            for metric in weighted:
                metric.update_state(true, pred, sample_weight=weight)

    def reset_state(self) -> None:
        for metric in self.metrics:
            metric.reset_state()

    def result(self) -> dict:
        return {metric.name: metric.result() for metric in self.metrics}


class CompileLoss:
    """The loss(es) given to ``compile``, weighted by ``loss_weights`` and summed; with
    several outputs each output's loss is also tracked as ``<output>_loss``."""

    def __init__(self, loss, loss_weights, model):
        self._loss_arg = loss
        self._weights_arg = loss_weights
        self._model = model
        self._losses: list | None = None
        self._weights: list = []
        self.metrics: list = []

    def _build(self, y_true, y_pred) -> None:
        names = _output_names(self._model, y_pred)
        flat_true = _flat_targets(y_true, y_pred, names)
        flat_pred = nest.flatten(y_pred)
        specs = _match_outputs(self._loss_arg, y_pred, names, "loss")
        self._losses = [_resolve_loss(spec, true, pred)
                        for spec, true, pred in zip(specs, flat_true, flat_pred)]
        if self._weights_arg is None:
            self._weights = [1.0] * len(flat_pred)
        else:
            weights = _match_outputs(self._weights_arg, y_pred, names, "loss_weights")
            self._weights = [1.0 if w is None else float(w) for w in weights]
        active = [i for i, loss in enumerate(self._losses) if loss is not None]
        if len(active) > 1:
            self.metrics = [metrics_module.Mean(name=f"{names[i]}_loss") for i in active]
        self._active = active

    def __call__(self, y_true, y_pred, sample_weight=None):
        if self._losses is None:
            self._build(y_true, y_pred)
        names = _output_names(self._model, y_pred)
        flat_true = _flat_targets(y_true, y_pred, names)
        flat_pred = nest.flatten(y_pred)
        flat_weight = (nest.flatten(sample_weight) if sample_weight is not None
                       else [None] * len(flat_pred))
        if len(flat_weight) == 1 and len(flat_pred) > 1:
            flat_weight = flat_weight * len(flat_pred)
        total = None
        for position, index in enumerate(self._active):
            value = _call_loss(self._losses[index], flat_true[index], flat_pred[index],
                               flat_weight[index])
            if self.metrics:
                batch = _batch_size(flat_pred[index])
                self.metrics[position].update_state(to_array(value), sample_weight=batch)
            weighted = value * self._weights[index] if self._weights[index] != 1.0 else value
            total = weighted if total is None else total + weighted
        return total


def _call_loss(loss, y_true, y_pred, sample_weight):
    if y_true is None:
        raise ValueError("The model was compiled with a loss but no target (y) was given; "
                         "pass y to fit/evaluate (or yield (x, y) pairs from the dataset).")
    value = loss(y_true, y_pred, sample_weight=sample_weight)
    if not isinstance(value, Tensor):
        value = wrap(np.asarray(value, dtype=np.float32))
    return value


def _batch_size(x) -> int:
    flat = nest.flatten(x)
    return int(flat[0].shape[0]) if flat and len(flat[0].shape) else 1


# ---------------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------------

def _as_array(value):
    if isinstance(value, (Tensor, Variable)):
        value = np.asarray(to_array(value))
    else:
        value = np.asarray(value)
    if value.dtype == np.float64:
        value = value.astype(np.float32)
    return value


def _to_batch_tensor(value):
    if isinstance(value, (Tensor, Variable)) or value is None:
        return value
    array = np.asarray(value)
    if array.dtype == np.float64:
        array = array.astype(np.float32)
    return wrap(array)


class _DataHandler:
    """Batches of ``(x, y, sample_weight)`` for one epoch at a time, from arrays/tensors (any
    nest), a ``tf.data.Dataset``, a ``PyDataset`` or a Python generator."""

    def __init__(self, x, y=None, sample_weight=None, batch_size=None, steps_per_epoch=None,
                 shuffle=False, class_weight=None):
        self._class_weight = class_weight
        self._steps_per_epoch = steps_per_epoch
        self._iterator = None
        self._shuffle = shuffle
        if _is_dataset(x) or isinstance(x, PyDataset) or _is_generator(x):
            kind = "a tf.data.Dataset" if _is_dataset(x) else \
                "a PyDataset" if isinstance(x, PyDataset) else "a generator"
            if y is not None:
                raise ValueError(f"When providing `x` as {kind}, `y` should not be passed. "
                                 "Instead, the targets should be included as part of the "
                                 "dataset `x`.")
            if sample_weight is not None:
                raise ValueError(f"When providing `x` as {kind}, `sample_weight` should not be "
                                 "passed. Instead, the sample weights should be included as "
                                 "part of the dataset `x`.")
            if batch_size is not None and not _is_generator(x):
                raise ValueError(f"When providing `x` as {kind}, `batch_size` should not be "
                                 "passed: the dataset is already batched. Received: "
                                 f"batch_size={batch_size}")
            self._source = x
            self._arrays = None
            if _is_dataset(x):
                count = x._cardinality()
                self._num_batches = count if count >= 0 else None
            elif isinstance(x, PyDataset):
                self._num_batches = len(x)
            else:
                self._num_batches = None
                if steps_per_epoch is None:
                    self._steps_per_epoch = None
        else:
            if x is None:
                raise ValueError("Unexpected value for `x`: None. Pass the input data (arrays, "
                                 "tensors, a dict of them or a tf.data.Dataset).")
            self._structure = (x, y, sample_weight)
            flat = [_as_array(leaf) for leaf in nest.flatten(self._structure)
                    if leaf is not None]
            self._arrays = flat
            self._skeleton = nest.map_structure(lambda leaf: None if leaf is None else 0,
                                                self._structure)
            sizes = {a.shape[0] if a.ndim else None for a in flat}
            if None in sizes:
                raise ValueError("Every input, target and sample weight must have a first "
                                 "(batch) dimension; got a scalar. Reshape it to (n, ...).")
            if len(sizes) > 1:
                raise ValueError(_cardinality_message(x, y, sample_weight))
            self._num_samples = sizes.pop()
            self._batch_size = 32 if batch_size is None else int(batch_size)
            if self._batch_size <= 0:
                raise ValueError(f"`batch_size` must be a positive integer; got {batch_size}.")
            self._num_batches = math.ceil(self._num_samples / self._batch_size)
            if class_weight is not None and y is None:
                raise ValueError("`class_weight` needs targets `y` to look the weights up.")
        if class_weight is not None and not isinstance(class_weight, dict):
            raise ValueError("`class_weight` must be a dict mapping class indices to weights; "
                             f"got {class_weight!r}.")

    @property
    def steps(self):
        return self._steps_per_epoch if self._steps_per_epoch is not None else self._num_batches

    def epoch(self):
        """Yield ``(step, data)`` for one epoch (``data`` as ``train_step`` receives it)."""
        if self._arrays is not None:
            yield from self._array_epoch()
            return
        if isinstance(self._source, PyDataset):
            yield from self._pydataset_epoch()
            return
        limit = self._steps_per_epoch
        if self._iterator is None or limit is None:
            self._iterator = iter(self._source)
        step = 0
        while limit is None or step < limit:
            try:
                element = next(self._iterator)
            except StopIteration:
                self._iterator = None
                if limit is not None:
                    warnings.warn("Your input ran out of data; interrupting training. Make sure "
                                  "that your dataset or generator can generate at least "
                                  "`steps_per_epoch * epochs` batches. You may need to use the "
                                  "`.repeat()` function when building your dataset.",
                                  stacklevel=4)
                    self.exhausted = True
                return
            yield step, self._with_class_weight(element)
            step += 1

    exhausted = False

    def _array_epoch(self):
        n = self._num_samples
        order = np.random.permutation(n) if self._shuffle else None
        steps = self._num_batches if self._steps_per_epoch is None else self._steps_per_epoch
        for step in range(steps):
            start = (step % self._num_batches) * self._batch_size
            index = slice(start, min(start + self._batch_size, n)) if order is None else \
                order[start:start + self._batch_size]
            batch = iter([_to_batch_tensor(a[index]) for a in self._arrays])
            x, y, weight = nest.map_structure(
                lambda leaf, batch=batch: None if leaf is None else next(batch), self._skeleton)
            yield step, self._with_class_weight(_pack(x, y, weight))

    def _pydataset_epoch(self):
        self._source.on_epoch_begin()
        steps = len(self._source) if self._steps_per_epoch is None else self._steps_per_epoch
        for step in range(steps):
            element = self._source[step % len(self._source)]
            yield step, self._with_class_weight(nest.map_structure(_to_batch_tensor, element))
        self._source.on_epoch_end()

    def _with_class_weight(self, data):
        if self._class_weight is None:
            return data
        x, y, weight = unpack_x_y_sample_weight(data)
        labels = np.asarray(to_array(y) if isinstance(y, (Tensor, Variable)) else y)
        if labels.ndim > 1 and labels.shape[-1] > 1:
            labels = np.argmax(labels, axis=-1)
        elif labels.ndim > 1:
            labels = labels[..., 0]
        labels = np.rint(labels).astype(np.int64).ravel()
        missing = sorted(set(labels.tolist()) - set(self._class_weight))
        if missing:
            raise ValueError(f"`class_weight` must contain all classes in the data. The "
                             f"classes {set(missing)} exist in the data but not in "
                             "`class_weight`.")
        table = np.asarray([self._class_weight[c] for c in labels], dtype=np.float32)
        if weight is not None:
            table = table * np.asarray(to_array(weight), dtype=np.float32).reshape(-1)
        return (x, y, wrap(table))


def _pack(x, y, weight):
    if y is None and weight is None:
        return (x,)
    if weight is None:
        return (x, y)
    return (x, y, weight)


def _is_dataset(x) -> bool:
    from tapegrad.training.data import Dataset
    return isinstance(x, Dataset)


def _is_generator(x) -> bool:
    return hasattr(x, "__next__") and hasattr(x, "__iter__")


def _cardinality_message(x, y, sample_weight) -> str:
    def sizes(value):
        return ", ".join(str(_as_array(v).shape[0]) for v in nest.flatten(value)
                         if v is not None)
    message = "Data cardinality is ambiguous. Make sure all arrays contain the same number " \
        f"of samples.'x' sizes: {sizes(x)}\n"
    if y is not None:
        message += f"'y' sizes: {sizes(y)}\n"
    if sample_weight is not None:
        message += f"'sample_weight' sizes: {sizes(sample_weight)}\n"
    return message


def _split_validation(x, y, sample_weight, validation_split):
    if not 0 < validation_split < 1:
        raise ValueError("`validation_split` must be a float between 0 and 1 (exclusive); got "
                         f"{validation_split}.")
    if _is_dataset(x) or isinstance(x, PyDataset) or _is_generator(x):
        raise ValueError("`validation_split` is only supported for Tensors or NumPy arrays. "
                         f"Found incompatible type in the input: {type(x)}. Pass "
                         "validation_data instead.")
    flat = [leaf for leaf in nest.flatten((x, y, sample_weight)) if leaf is not None]
    count = _as_array(flat[0]).shape[0]
    split_at = int(math.floor(count * (1.0 - validation_split)))
    if split_at == 0 or split_at == count:
        raise ValueError(f"Training data contains {count} samples, which is not sufficient to "
                         f"split it into a validation and training set as specified by "
                         f"`validation_split={validation_split}`. Either provide more data, or "
                         "a different value for the `validation_split` argument.")

    def part(lo, hi):
        return nest.map_structure(lambda a: None if a is None else _as_array(a)[lo:hi],
                                  (x, y, sample_weight))
    return part(0, split_at), part(split_at, count)


def _pythonify_logs(logs) -> dict:
    out = {}
    for key, value in sorted((logs or {}).items()):
        if isinstance(value, dict):
            out.update(_pythonify_logs(value))
            continue
        if isinstance(value, (Tensor, Variable)):
            value = np.asarray(to_array(value))
        if isinstance(value, (np.ndarray, np.generic)) and value.ndim == 0:
            value = value.item()
        out[key] = value
    return out


# ---------------------------------------------------------------------------------------------
# the trainer
# ---------------------------------------------------------------------------------------------

class Trainer:
    """The training half of ``keras.Model`` (mixed into :class:`~tapegrad.keras.Model`)."""

    compiled = False
    optimizer = None
    loss = None
    stop_training = False
    history = None
    run_eagerly = False
    jit_compile = False
    steps_per_execution = 1
    _loss_tracker = None
    _compile_loss = None
    _compile_metrics = None

    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None,
                weighted_metrics=None, run_eagerly=False, steps_per_execution=1,
                jit_compile="auto", auto_scale_loss=True) -> None:
        """Set the optimizer, loss(es) and metrics ``fit``/``evaluate`` use (names or objects).

        ``run_eagerly`` and ``jit_compile`` are accepted and recorded: tapegrad always runs
        eagerly.
        """
        optimizer = optimizers_module.get(optimizer)
        _check_identifiers(loss, [metrics, weighted_metrics])
        state = dict(optimizer=optimizer, loss=loss, compiled=True, stop_training=False,
                     run_eagerly=bool(run_eagerly),
                     jit_compile=False if jit_compile == "auto" else bool(jit_compile),
                     steps_per_execution=steps_per_execution,
                     _loss_tracker=metrics_module.Mean(name="loss"),
                     _compile_loss=None if loss is None else
                     CompileLoss(loss, loss_weights, self),
                     _compile_metrics=None if metrics is None and weighted_metrics is None
                     else CompileMetrics(metrics, weighted_metrics, self),
                     _compile_config=dict(optimizer=optimizer, loss=loss,
                                          loss_weights=loss_weights, metrics=metrics,
                                          weighted_metrics=weighted_metrics,
                                          run_eagerly=run_eagerly,
                                          steps_per_execution=steps_per_execution,
                                          jit_compile=jit_compile))
        for key, value in state.items():  # not tracked as sub-layers or model metrics
            object.__setattr__(self, key, value)

    # -- metrics ----------------------------------------------------------------------------
    @property
    def metrics(self) -> list:
        """Loss tracker, compiled metrics, per-output losses, then the model's own metrics."""
        out = []
        if self.compiled:
            if self._loss_tracker is not None:
                out.append(self._loss_tracker)
            if self._compile_metrics is not None:
                out.append(self._compile_metrics)
            if self._compile_loss is not None:
                out.extend(self._compile_loss.metrics)
        out.extend(self._tracked_metrics_recursive())
        return out

    @property
    def metrics_names(self) -> list:
        return [metric.name for metric in self.metrics]

    @property
    def metrics_variables(self) -> list:
        return [v for metric in self.metrics for v in metric.variables]

    def reset_metrics(self) -> None:
        for metric in self.metrics:
            metric.reset_state()

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The compiled loss(es) plus every ``add_loss`` loss (regularizers included)."""
        losses = []
        if self._compile_loss is not None:
            value = self._compile_loss(y, y_pred, sample_weight)
            if value is not None:
                losses.append(value)
        for extra in self.losses:
            if extra.dtype.name not in ("float32", "float64"):
                extra = math_ops.cast(extra, "float32")
            losses.append(reduction_ops.reduce_sum(extra))
        if not losses:
            raise ValueError("No loss to compute. Provide a `loss` argument in `compile()`.")
        total = losses[0]
        for value in losses[1:]:
            total = total + value
        return total

    def _compute_loss(self, x, y, y_pred, sample_weight, training):
        # compute_loss overrides written before Keras 3.3 take no `training` argument.
        if _takes_training(type(self).compute_loss):
            return self.compute_loss(x, y, y_pred, sample_weight, training=training)
        return self.compute_loss(x, y, y_pred, sample_weight)

    def compute_metrics(self, x, y, y_pred, sample_weight=None) -> dict:
        """Update the compiled metrics; return every metric's current result."""
        if self._compile_metrics is not None:
            self._compile_metrics.update_state(y, y_pred, sample_weight)
        return self.get_metrics_result()

    def get_metrics_result(self) -> dict:
        out = {}
        for metric in self.metrics:
            result = metric.result()
            if isinstance(result, dict):
                out.update(result)
            else:
                out[metric.name] = result
        return out

    # -- steps ------------------------------------------------------------------------------
    def train_step(self, data):
        """One optimisation step on a batch: forward under a GradientTape, the compiled loss,
        ``optimizer.apply``; returns the metrics' results."""
        x, y, sample_weight = unpack_x_y_sample_weight(data)
        with GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self._compute_loss(x, y, y_pred, sample_weight, training=True)
        self._loss_tracker.update_state(to_array(loss), sample_weight=_batch_size(x))
        variables = self.trainable_weights
        if variables:
            gradients = tape.gradient(loss, variables)
            self.optimizer.apply(gradients, variables)
        else:
            warnings.warn("The model does not have any trainable weights.", stacklevel=2)
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def test_step(self, data):
        """Inference-mode loss and metrics on a batch."""
        x, y, sample_weight = unpack_x_y_sample_weight(data)
        y_pred = self(x, training=False)
        loss = self._compute_loss(x, y, y_pred, sample_weight, training=False)
        self._loss_tracker.update_state(to_array(loss), sample_weight=_batch_size(x))
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def predict_step(self, data):
        """The model's output on a batch (inference mode)."""
        x, _, _ = unpack_x_y_sample_weight(data)
        return self(x, training=False)

    def _assert_compiled(self) -> None:
        if not self.compiled:
            raise ValueError("You must call `compile()` before using the model.")

    # -- loops ------------------------------------------------------------------------------
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1):
        """Train for ``epochs`` epochs; returns the :class:`~tapegrad.keras.callbacks.History`.
        """
        self._assert_compiled()
        if validation_split and validation_data is None:
            (x, y, sample_weight), validation_data = _split_validation(x, y, sample_weight,
                                                                       validation_split)
        data = _DataHandler(x, y, sample_weight, batch_size, steps_per_epoch, shuffle,
                            class_weight)
        val_x = val_y = val_weight = None
        if validation_data is not None:
            if _is_dataset(validation_data) or isinstance(validation_data, PyDataset) or \
                    _is_generator(validation_data):
                val_x = validation_data
            else:
                val_x, val_y, val_weight = unpack_x_y_sample_weight(validation_data)
        verbose = 1 if verbose == "auto" else verbose
        callbacks = callbacks if isinstance(callbacks, CallbackList) else CallbackList(
            callbacks, add_history=True, add_progbar=verbose != 0, model=self,
            verbose=verbose, epochs=epochs, steps=data.steps)
        object.__setattr__(self, "stop_training", False)
        callbacks.on_train_begin()
        training_logs = None
        for epoch in range(initial_epoch, epochs):
            self.reset_metrics()
            callbacks.on_epoch_begin(epoch)
            logs = None
            for step, batch in data.epoch():
                callbacks.on_train_batch_begin(step)
                logs = _pythonify_logs(self.train_step(batch))
                callbacks.on_train_batch_end(step, logs)
                if self.stop_training:
                    break
            if logs is None:
                if data.exhausted:
                    break
                raise ValueError("Unexpected result of `train_function` (Empty logs). This "
                                 "could be due to issues in input pipeline that resulted in an "
                                 "empty dataset. Otherwise, please check your model and "
                                 "dataset.")
            epoch_logs = dict(self._metrics_result_or_logs(logs))
            if val_x is not None and _should_validate(epoch, validation_freq):
                val_logs = self._evaluate(val_x, val_y, val_weight,
                                          validation_batch_size or batch_size,
                                          validation_steps, callbacks)
                epoch_logs.update({"val_" + key: value for key, value in val_logs.items()})
            callbacks.on_epoch_end(epoch, epoch_logs)
            training_logs = epoch_logs
            if self.stop_training or data.exhausted:
                break
        callbacks.on_train_end(logs=training_logs)
        return self.history

    def _metrics_result_or_logs(self, logs) -> dict:
        metric_logs = _pythonify_logs(self.get_metrics_result())
        return metric_logs if set(metric_logs) == set(logs) else logs

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 steps=None, callbacks=None, return_dict=False, **kwargs):
        """The loss and metrics over ``x``/``y`` in inference mode: a scalar (loss only), a
        list in ``metrics_names`` order, or a dict with ``return_dict=True``."""
        self._assert_compiled()
        verbose = 1 if verbose == "auto" else verbose
        data_steps = _DataHandler(x, y, sample_weight, batch_size, steps).steps
        callbacks = CallbackList(callbacks, add_progbar=verbose != 0, model=self,
                                 verbose=verbose, epochs=1, steps=data_steps)
        logs = self._evaluate(x, y, sample_weight, batch_size, steps, callbacks)
        if return_dict:
            return logs
        return self._flatten_in_order(logs)

    def _evaluate(self, x, y, sample_weight, batch_size, steps, callbacks) -> dict:
        data = _DataHandler(x, y, sample_weight, batch_size, steps)
        self.reset_metrics()
        callbacks.on_test_begin()
        logs = None
        for step, batch in data.epoch():
            callbacks.on_test_batch_begin(step)
            logs = _pythonify_logs(self.test_step(batch))
            callbacks.on_test_batch_end(step, logs)
        if logs is None:
            raise ValueError("Unexpected result of `test_function` (Empty logs): the "
                             "evaluation data produced no batch.")
        logs = self._metrics_result_or_logs(logs)
        callbacks.on_test_end(logs)
        return logs

    def _flatten_in_order(self, logs):
        names = []
        for metric in self.metrics:
            if isinstance(metric, CompileMetrics):
                names.extend(m.name for m in metric.metrics)
            else:
                names.append(metric.name)
        results = [logs[name] for name in names if name in logs]
        results += [logs[key] for key in sorted(logs) if key not in names]
        return results[0] if len(results) == 1 else results

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """The model's outputs over ``x`` as NumPy arrays (same nesting as the outputs)."""
        verbose = 1 if verbose == "auto" else verbose
        data = _DataHandler(x, None, None, batch_size, steps, shuffle=False)
        callbacks = CallbackList(callbacks, add_progbar=verbose != 0, model=self,
                                 verbose=verbose, epochs=1, steps=data.steps)
        callbacks.on_predict_begin()
        outputs = []
        for step, batch in data.epoch():
            callbacks.on_predict_batch_begin(step)
            result = self.predict_step(batch)
            outputs.append(nest.map_structure(lambda t: np.asarray(to_array(t)), result))
            callbacks.on_predict_batch_end(step, {"outputs": outputs[-1]})
        callbacks.on_predict_end()
        if not outputs:
            raise ValueError("Unexpected result of `predict_function` (Empty batch_outputs). "
                             "Please use `Model.compile(..., run_eagerly=True)`, or "
                             "`tf.config.run_functions_eagerly(True)` for more information of "
                             "where went wrong, or file a issue/bug to `tf.keras`.")
        flat = [nest.flatten(out) for out in outputs]
        joined = [np.concatenate([f[i] for f in flat], axis=0) for i in range(len(flat[0]))]
        return nest.pack_sequence_as(outputs[0], joined)

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None,
                       return_dict=False):
        """One ``train_step`` on exactly this batch; returns its logs (after reset)."""
        self._assert_compiled()
        self.reset_metrics()
        data = _DataHandler(x, y, sample_weight, _first_dim(x), None, False, class_weight)
        (_, batch), = data.epoch()
        logs = _pythonify_logs(self.train_step(batch))
        return logs if return_dict else self._flatten_in_order(logs)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """One ``test_step`` on exactly this batch."""
        self._assert_compiled()
        self.reset_metrics()
        data = _DataHandler(x, y, sample_weight, _first_dim(x), None)
        (_, batch), = data.epoch()
        logs = _pythonify_logs(self.test_step(batch))
        return logs if return_dict else self._flatten_in_order(logs)

    def predict_on_batch(self, x):
        """The model's output on exactly this batch, as NumPy."""
        result = self.predict_step((_to_batch_input(x),))
        return nest.map_structure(lambda t: np.asarray(to_array(t)), result)

    def get_compile_config(self):
        return dict(getattr(self, "_compile_config", {})) if self.compiled else None


@functools.cache
def _takes_training(function) -> bool:
    return "training" in inspect.signature(function).parameters


def _first_dim(x) -> int:
    return max(int(_as_array(nest.flatten(x)[0]).shape[0]), 1)


def _to_batch_input(x):
    return nest.map_structure(_to_batch_tensor, x)


def _should_validate(epoch, validation_freq) -> bool:
    if isinstance(validation_freq, int):
        return (epoch + 1) % validation_freq == 0
    return epoch + 1 in validation_freq
