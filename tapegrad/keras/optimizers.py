"""Optimizers (``tf.keras.optimizers``) with Keras 3's arithmetic, and learning-rate schedules.

Each update is computed in NumPy in the variable's dtype, in the same order of operations as
Keras 3 (epsilon placement, bias correction), and written by *replacing* the variable's array:
a value already recorded on a tape never changes.

>>> import tapegrad as tf
>>> w = tf.Variable(1.0)
>>> opt = tf.keras.optimizers.SGD(learning_rate=0.1)
>>> with tf.GradientTape() as tape:
...     loss = w * w
>>> _ = opt.apply_gradients([(tape.gradient(loss, w), w)])
>>> round(float(w), 6)
0.8
"""

from __future__ import annotations

import math
import sys
import threading
import types
import warnings

from tapegrad._core.backend import np
from tapegrad._core.errors import InvalidArgumentError
from tapegrad._core.indexed_slices import IndexedSlices
from tapegrad._core.tensor import Tensor, array_of, to_array, wrap
from tapegrad._core.variable import Variable, replace_array
from tapegrad.autodiff.function.host import host_call

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "schedules", "get"]


# ---------------------------------------------------------------------------------------------
# learning-rate schedules
# ---------------------------------------------------------------------------------------------

class LearningRateSchedule:
    """Base class: ``schedule(step) -> learning rate`` (a float32 scalar Tensor)."""

    def __call__(self, step):
        raise NotImplementedError

    def get_config(self) -> dict:
        raise NotImplementedError

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)


def _step_array(step, dtype):
    return np.asarray(to_array(step), dtype=dtype) if not isinstance(step, (int, float)) \
        else np.asarray(step, dtype=dtype)


class ExponentialDecay(LearningRateSchedule):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)`` (floored if staircase).

    >>> import tapegrad as tf
    >>> s = tf.keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    >>> round(float(s(10)), 6)
    0.05
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="ExponentialDecay"):
        if decay_steps <= 0:
            raise ValueError("Argument `decay_steps` must be > 0. "
                             f"Received: decay_steps={decay_steps}")
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name

    def __call__(self, step):
        initial = np.asarray(to_array(self.initial_learning_rate))
        dtype = initial.dtype
        p = _step_array(step, dtype) / np.asarray(self.decay_steps, dtype=dtype)
        if self.staircase:
            p = np.floor(p)
        return wrap(np.asarray(initial * np.power(np.asarray(self.decay_rate, dtype=dtype), p),
                                dtype=dtype))

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "decay_rate": self.decay_rate,
                "staircase": self.staircase, "name": self.name}


class CosineDecay(LearningRateSchedule):
    """Cosine decay from ``initial_learning_rate`` to ``alpha`` times it over ``decay_steps``,
    after an optional linear warmup to ``warmup_target`` over ``warmup_steps``.

    >>> import tapegrad as tf
    >>> s = tf.keras.optimizers.schedules.CosineDecay(1.0, decay_steps=4)
    >>> [round(float(s(k)), 4) for k in (0, 2, 4, 9)]
    [1.0, 0.5, 0.0, 0.0]
    """

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay",
                 warmup_target=None, warmup_steps=0):
        if decay_steps <= 0:
            raise ValueError("Argument `decay_steps` must be > 0. "
                             f"Received: decay_steps={decay_steps}")
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.alpha = alpha
        self.name = name
        self.warmup_steps = warmup_steps
        self.warmup_target = warmup_target

    def _decay(self, step, decay_steps, decay_from, dtype):
        completed = step / decay_steps
        pi = np.asarray(math.pi, dtype=dtype)
        cosine = np.asarray(0.5, dtype=dtype) * (np.asarray(1.0, dtype=dtype)
                                                 + np.cos(pi * completed))
        decayed = np.asarray(1 - self.alpha, dtype=dtype) * cosine + \
            np.asarray(self.alpha, dtype=dtype)
        return np.multiply(decay_from, decayed)

    def __call__(self, step):
        initial = np.asarray(to_array(self.initial_learning_rate))
        dtype = initial.dtype
        decay_steps = np.asarray(self.decay_steps, dtype=dtype)
        step = _step_array(step, dtype)
        if self.warmup_target is None:
            step = np.minimum(step, decay_steps)
            return wrap(np.asarray(self._decay(step, decay_steps, initial, dtype), dtype=dtype))
        warmup_steps = np.asarray(self.warmup_steps, dtype=dtype)
        target = np.asarray(self.warmup_target, dtype=dtype)
        step = np.minimum(step, decay_steps + warmup_steps)
        if step < warmup_steps:
            value = (target - initial) * (step / warmup_steps) + initial
        else:
            value = self._decay(step - warmup_steps, decay_steps, target, dtype)
        return wrap(np.asarray(value, dtype=dtype))

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "alpha": self.alpha, "name": self.name,
                "warmup_target": self.warmup_target, "warmup_steps": self.warmup_steps}


class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[i]`` while ``boundaries[i-1] < step <= boundaries[i]``.

    >>> import tapegrad as tf
    >>> s = tf.keras.optimizers.schedules.PiecewiseConstantDecay([2, 4], [1.0, 0.5, 0.1])
    >>> [round(float(s(k)), 3) for k in (0, 2, 3, 5)]
    [1.0, 1.0, 0.5, 0.1]
    """

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        if len(boundaries) != len(values) - 1:
            raise ValueError("The length of boundaries should be 1 less than the length of "
                             f"values. Received: boundaries={boundaries} of length "
                             f"{len(boundaries)}, and values={values} of length {len(values)}.")
        self.boundaries = boundaries
        self.values = values
        self.name = name

    def __call__(self, step):
        values = [np.asarray(to_array(v)) for v in self.values]
        dtype = values[0].dtype
        step = np.asarray(to_array(step))
        bounds = [np.asarray(to_array(b)) for b in self.boundaries]
        result = np.asarray(0, dtype=dtype)
        result = result + np.asarray(step <= bounds[0], dtype=dtype) * values[0]
        result = result + np.asarray(step > bounds[-1], dtype=dtype) * values[-1]
        for low, high, value in zip(bounds[:-1], bounds[1:], values[1:-1]):
            result = result + np.asarray((step > low) & (step <= high), dtype=dtype) * value
        return wrap(np.asarray(result, dtype=dtype))

    def get_config(self) -> dict:
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class InverseTimeDecay(LearningRateSchedule):
    """``initial_learning_rate / (1 + decay_rate * step / decay_steps)``."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="InverseTimeDecay"):
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name

    def __call__(self, step):
        initial = np.asarray(to_array(self.initial_learning_rate))
        dtype = initial.dtype
        p = _step_array(step, dtype) / np.asarray(self.decay_steps, dtype=dtype)
        if self.staircase:
            p = np.floor(p)
        denom = np.asarray(1, dtype=dtype) + np.asarray(self.decay_rate, dtype=dtype) * p
        return wrap(np.asarray(initial / denom, dtype=dtype))

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "decay_rate": self.decay_rate,
                "staircase": self.staircase, "name": self.name}


schedules = types.ModuleType(__name__ + ".schedules",
                             "Learning-rate schedules (``tf.keras.optimizers.schedules``).")
for _cls in (LearningRateSchedule, ExponentialDecay, CosineDecay, PiecewiseConstantDecay,
             InverseTimeDecay):
    setattr(schedules, _cls.__name__, _cls)
sys.modules[schedules.__name__] = schedules


# ---------------------------------------------------------------------------------------------
# optimizers
# ---------------------------------------------------------------------------------------------

def _variable_label(variable) -> str:
    """How Keras names a variable in its messages: ``path`` for Keras variables, else name."""
    from tapegrad.keras.layers import KerasVariable
    if isinstance(variable, KerasVariable):
        return variable.path
    return getattr(variable, "name", repr(variable))


def _no_gradient_hint(variables, tape=None, loss=None) -> str:
    """Why no gradient reached ``variables``, appended to "No gradients provided ...".

    With the tape and loss (``minimize``) this is ``GradientTape.explain``'s report; from
    ``apply_gradients``, which never sees the tape, it says how to get that report.
    """
    if tape is not None and loss is not None:
        try:
            return "Why:\n" + str(tape.explain(loss, list(variables)))
        except Exception:  # noqa: BLE001 - the hint must never hide the real error
            pass
    return ("To see why, call tape.explain(loss, variables) on the GradientTape that computed "
            "the gradients (it also works after tape.gradient()). Common causes: the loss was "
            "computed outside the `with tf.GradientTape()` block, through NumPy/.numpy()/float(),"
            " or from integer tensors.")


def _grad_array(grad, dtype):
    """(dense array or None, IndexedSlices parts or None) of a gradient, cast to ``dtype`` (the
    variable's)."""
    if isinstance(grad, IndexedSlices):
        values = np.asarray(to_array(grad.values))
        indices = np.asarray(to_array(grad.indices)).astype(np.int64).ravel()
        if values.dtype != dtype:
            values = values.astype(dtype)
        return None, (values, indices)
    array = array_of(grad) if isinstance(grad, Tensor) else to_array(grad)
    array = np.asarray(array)
    if array.dtype != dtype:
        array = array.astype(dtype)
    return array, None


_BASE_OPTIONS = ("weight_decay", "clipnorm", "clipvalue", "global_clipnorm", "use_ema",
                 "ema_momentum", "ema_overwrite_frequency", "loss_scale_factor",
                 "gradient_accumulation_steps", "name")


def _base_options(arguments: dict) -> dict:
    """The options every optimizer forwards to :class:`Optimizer`, from a subclass's
    ``locals()`` (each subclass spells out Keras's full signature)."""
    return {key: arguments[key] for key in _BASE_OPTIONS} | arguments["kwargs"]


class Optimizer:
    """Base class of Keras optimizers (``tf.keras.optimizers.Optimizer``).

    Subclasses implement ``build(var_list)`` (creating slot variables with
    :meth:`add_variable_from_reference`) and ``_update(var, grad, lr, slots)`` working on NumPy
    arrays.
    """

    _slot_names: tuple = ()

    def __init__(self, learning_rate, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        if kwargs:
            raise ValueError(f"Argument(s) not recognized: {kwargs}")
        if use_ema:
            raise NotImplementedError("use_ema=True is not supported by tapegrad's optimizers.")
        if gradient_accumulation_steps:
            raise NotImplementedError("gradient_accumulation_steps is not supported by "
                                      "tapegrad's optimizers.")
        if sum(c is not None for c in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError("Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be "
                             f"set. Received: clipnorm={clipnorm}, clipvalue={clipvalue}, "
                             f"global_clipnorm={global_clipnorm}")
        self.name = name or _snake(type(self).__name__)
        self.weight_decay = weight_decay
        self.clipnorm = clipnorm
        self.clipvalue = clipvalue
        self.global_clipnorm = global_clipnorm
        self.loss_scale_factor = loss_scale_factor
        self.use_ema = use_ema
        self._iterations = Variable(np.asarray(0, dtype=np.int64), trainable=False,
                                    name=f"{self.name}/iteration")
        if isinstance(learning_rate, LearningRateSchedule):
            self._learning_rate = learning_rate
        elif callable(learning_rate):
            self._learning_rate = learning_rate
        else:
            self._learning_rate = Variable(np.asarray(to_array(learning_rate),
                                                      dtype=np.float32),
                                           trainable=False, name=f"{self.name}/learning_rate")
        self._slots: dict = {}          # id(variable) -> {slot name: Variable}
        self._trainable_variables: list = []
        self._deferred_slots: dict | None = None   # checkpoint values awaiting build
        # Threads may share one optimizer: slot creation and the step count take this lock
        # (only there, so a step pays one uncontended acquire).
        self._lock = threading.Lock()
        self.built = False
        self._exclude_from_weight_decay: set = set()
        self._exclude_names: tuple = ()

    # -- public state -------------------------------------------------------------------------
    @property
    def iterations(self) -> Variable:
        """The number of update steps applied so far (an int64 Variable)."""
        return self._iterations

    @property
    def learning_rate(self):
        """The current learning rate (a schedule is evaluated at ``iterations``)."""
        return self._current_learning_rate()

    @learning_rate.setter
    def learning_rate(self, value):
        if isinstance(value, LearningRateSchedule) or (callable(value)
                                                       and not isinstance(value, Variable)):
            self._learning_rate = value
        elif isinstance(self._learning_rate, Variable):
            self._learning_rate.assign(np.asarray(to_array(value), dtype=np.float32))
        else:
            self._learning_rate = Variable(np.asarray(to_array(value), dtype=np.float32),
                                           trainable=False, name=f"{self.name}/learning_rate")

    lr = learning_rate

    def _current_learning_rate(self):
        lr = self._learning_rate
        if isinstance(lr, LearningRateSchedule):
            return lr(self._iterations)
        if isinstance(lr, Variable):
            return lr
        return lr()

    @property
    def variables(self) -> list:
        """The optimizer's own variables: iterations, learning rate, then every slot."""
        out = [self._iterations]
        if isinstance(self._learning_rate, Variable):
            out.append(self._learning_rate)
        for var in self._trainable_variables:
            out.extend(self._slots[id(var)].values())
        return out

    def get_slot_names(self) -> list:
        return list(self._slot_names)

    def exclude_from_weight_decay(self, var_list=None, var_names=None) -> None:
        """Exempt variables (or variables whose name contains one of ``var_names``)."""
        if self.built:
            raise ValueError("exclude_from_weight_decay() can only be called before the "
                             "optimizer is built.")
        self._exclude_from_weight_decay = {id(v) for v in var_list or ()}
        self._exclude_names = tuple(var_names or ())

    # -- building -----------------------------------------------------------------------------
    def add_variable_from_reference(self, reference_variable, name=None, initializer="zeros"):
        """A slot variable with the reference variable's shape and dtype."""
        reference = array_of(reference_variable)
        value = np.zeros(reference.shape, dtype=reference.dtype)
        if not isinstance(initializer, str):
            value = value + _cast(initializer, value.dtype)
        label = _variable_label(reference_variable).replace("/", "_").split(":")[0]
        return Variable(value, trainable=False, name=f"{self.name}/{label}_{name}")

    def build(self, var_list) -> None:
        """Create the slot variables for ``var_list`` (done on the first apply).

        Threads sharing the optimizer create each variable's slots once. Slot values restored
        from a checkpoint before the optimizer was built are checked against the new slots
        (shape and dtype) before anything changes, then assigned; the slots are visible to
        other threads only with their values in.
        """
        with self._lock:
            new, seen = [], set()
            for var in var_list:
                if id(var) not in self._slots and id(var) not in seen:
                    seen.add(id(var))
                    new.append(var)
            slots = {id(var): {name: self._make_slot(var, name) for name in self._slot_names}
                     for var in new}
            if self._deferred_slots is not None:
                self._restore_deferred_slots(new, slots)
            for var in new:
                self._trainable_variables.append(var)
                self._slots[id(var)] = slots[id(var)]
            self.built = True

    def _restore_deferred_slots(self, new: list, slots: dict) -> None:
        targets = _slot_targets(new, slots, first=len(self._trainable_variables))
        problems = []
        for key, array in self._deferred_slots.items():
            target = targets.get(key)
            slot = array_of(target) if target is not None else None
            if target is None:
                problems.append(f"{key}: no such slot")
            elif array.shape != slot.shape or array.dtype != slot.dtype:
                problems.append(f"{key}: checkpoint {array.dtype} {array.shape}, slot "
                                f"{slot.dtype} {slot.shape}")
        if problems:
            raise ValueError(
                f"Checkpointed optimizer slots do not match the variables this optimizer is "
                f"being built for ({'; '.join(problems[:10])}); nothing was changed. Apply "
                "gradients for the same model's trainable_variables, in the same order, as "
                "when the checkpoint was saved.")
        for key, array in self._deferred_slots.items():
            replace_array(targets[key], np.array(array, copy=True))
        self._deferred_slots = None

    def _make_slot(self, var, name):
        return self.add_variable_from_reference(var, name)

    # -- applying -----------------------------------------------------------------------------
    def apply_gradients(self, grads_and_vars, name=None, skip_gradients_aggregation=False,
                        **kwargs):
        """Apply ``[(gradient, variable), ...]``; returns ``iterations``.

        Pairs whose gradient is None are skipped with a warning (an error when all are None).
        """
        pairs = list(grads_and_vars)
        if not pairs:
            raise ValueError("not enough values to unpack (expected 2, got 0)")
        grads, variables = zip(*pairs)
        return self.apply(list(grads), list(variables))

    def _build_for(self, grads, trainable_variables=None) -> None:
        """Create the slots ``apply`` would (while tracing it: TensorFlow creates them in the
        trace, so a second optimizer's first trace of a function is refused)."""
        variables = self._trainable_variables if trainable_variables is None else \
            list(trainable_variables)
        if all(isinstance(v, Variable) for v in variables) and \
                (not self.built or any(id(v) not in self._slots for v in variables)):
            self.build(variables)

    @host_call(traced_result=lambda self, *args, **kwargs: self._iterations,
               at_trace=_build_for, updates=lambda self, *args, **kwargs: self.variables)
    def apply(self, grads, trainable_variables=None):
        """Apply ``grads`` to ``trainable_variables`` (Keras 3's ``Optimizer.apply``); inside
        ``tf.function`` one host step of the compiled program, made on every call."""
        grads = list(grads)
        if trainable_variables is None:
            if not self.built:
                raise ValueError("When passing `grads` without `variables`, the optimizer "
                                 "must already be built on a list of variables. Call "
                                 "`optimizer.build(trainable_variables)` first.")
            trainable_variables = self._trainable_variables
        variables = list(trainable_variables)
        if len(grads) != len(variables):
            raise ValueError(f"Got {len(grads)} gradients for {len(variables)} variables.")
        for var in variables:
            if not isinstance(var, Variable):
                raise TypeError(f"Optimizers update tapegrad Variables; got {type(var).__name__}"
                                f" ({var!r}). Create the parameter with tapegrad.Variable(...).")
        if not self.built or any(id(v) not in self._slots for v in variables):
            self.build(variables)
        grads, variables = self._filter_empty_gradients(grads, variables)
        if len(grads) > 0:
            # (read once: the updates below keep each variable's shape and dtype)
            arrays = [array_of(v) for v in variables]
            prepared = [_grad_array(g, a.dtype) for g, a in zip(grads, arrays)]
            for (dense, sparse), var, array in zip(prepared, variables, arrays):
                self._check_shape(dense, sparse, var, array.shape)
            if self.loss_scale_factor is not None:
                prepared = [_scale(p, 1.0 / self.loss_scale_factor) for p in prepared]
            prepared = self._clip(prepared)
            lr = np.asarray(to_array(self._current_learning_rate()), dtype=np.float32)
            self._apply_weight_decay(variables, lr)
            for (dense, sparse), var, array in zip(prepared, variables, arrays):
                var_lr = lr.astype(array.dtype)
                self._update_step(var, dense, sparse, var_lr, self._slots[id(var)])
                constraint = getattr(var, "constraint", None)
                if constraint is not None:
                    var.assign(constraint(var))
        with self._lock:
            replace_array(self._iterations, array_of(self._iterations) + np.int64(1))
        return self._iterations

    def minimize(self, loss, var_list, tape=None):
        """Compute the gradients of ``loss`` and apply them (``loss`` is a callable unless a
        ``tape`` that recorded it is given); returns ``iterations``."""
        from tapegrad.autodiff.tape import GradientTape
        if callable(var_list):
            var_list = var_list()
        var_list = list(var_list)
        if tape is None:
            if not callable(loss):
                raise ValueError("`tape` is required when a `Tensor` loss is passed. "
                                 "Pass a callable loss, e.g. `lambda: loss_fn(x)`, or the tape "
                                 "that recorded the loss.")
            with GradientTape() as tape:
                tape.watch(var_list)
                loss = loss()
        elif callable(loss):
            with tape:
                loss = loss()
        grads = tape.gradient(loss, var_list)
        if all(g is None for g in grads) and var_list:
            self._filter_empty_gradients(grads, var_list, tape, loss)   # raises, explained
        return self.apply_gradients(zip(grads, var_list))

    # -- pieces -------------------------------------------------------------------------------
    def _filter_empty_gradients(self, grads, variables, tape=None, loss=None):
        kept_grads, kept_vars, missing = [], [], []
        for grad, var in zip(grads, variables):
            if grad is None:
                missing.append(var)
            else:
                kept_grads.append(grad)
                kept_vars.append(var)
        if not kept_grads:
            names = [_variable_label(v) for v in missing]
            hint = _no_gradient_hint(missing, tape, loss)
            raise ValueError(f"No gradients provided for any variable. Variables: {names}."
                             + (f" {hint}" if hint else ""))
        if missing:
            warnings.warn(
                f"Gradients do not exist for variables {[_variable_label(v) for v in missing]} "
                "when minimizing the loss. If using `model.compile()`, did you forget to "
                "provide a `loss` argument?", UserWarning, stacklevel=4)
        return kept_grads, kept_vars

    @staticmethod
    def _check_shape(dense, sparse, var, shape):
        if dense is not None:
            if dense.shape != shape:
                raise InvalidArgumentError(
                    f"Cannot update variable {_variable_label(var)} with shape {list(shape)} "
                    f"using a gradient with shape {list(dense.shape)}: shapes must be equal. "
                    "Pass each gradient with the variable it was computed for.")
            return
        values, indices = sparse
        if values.shape[1:] != shape[1:] or values.shape[:1] != indices.shape:
            raise InvalidArgumentError(
                f"Cannot update variable {_variable_label(var)} with shape {list(shape)} using "
                f"IndexedSlices of values {list(values.shape)} at indices "
                f"{list(indices.shape)}.")
        if indices.size and (indices.min() < 0 or indices.max() >= shape[0]):
            raise InvalidArgumentError(
                f"IndexedSlices indices out of range [0, {shape[0]}) for variable "
                f"{_variable_label(var)}.")

    def _clip(self, prepared):
        if self.clipnorm and self.clipnorm > 0:
            return [_clip_by_norm(p, self.clipnorm) for p in prepared]
        if self.global_clipnorm and self.global_clipnorm > 0:
            return _clip_by_global_norm(prepared, self.global_clipnorm)
        if self.clipvalue and self.clipvalue > 0:
            v = self.clipvalue
            return [(np.clip(d, -v, v), None) if d is not None
                    else (None, (np.clip(s[0], -v, v), s[1])) for d, s in prepared]
        return prepared

    def _use_weight_decay(self, variable) -> bool:
        if id(variable) in self._exclude_from_weight_decay:
            return False
        name = getattr(variable, "name", "")
        return not any(n in name for n in self._exclude_names)

    def _apply_weight_decay(self, variables, lr):
        if self.weight_decay is None:
            return
        for var in variables:
            if self._use_weight_decay(var):
                value = array_of(var)
                dtype = value.dtype
                wd = _cast(self.weight_decay, dtype)
                replace_array(var, value - value * wd * lr.astype(dtype))

    def _update_step(self, var, dense, sparse, lr, slots):
        if sparse is None:
            self._update(var, dense, lr, slots)
        elif not self._sparse_update(var, sparse, lr, slots):
            # Keras 3 (TF backend) keeps an IndexedSlices through element-wise unary ops, so
            # the squared gradient adds up the squares of duplicate rows; every other use of
            # the gradient densifies it (adding duplicates). Rows the gradient does not touch
            # see a zero gradient, as in Keras.
            current = array_of(var)
            shape, dtype = current.shape, current.dtype
            values, indices = sparse
            self._update(var, _densify(sparse, shape, dtype), lr, slots,
                         grad_sq=_densify((np.square(values), indices), shape, dtype))

    def _sparse_update(self, var, sparse, lr, slots) -> bool:
        """Apply an IndexedSlices gradient touching only its rows; False = densify instead."""
        return False

    def _update(self, var, grad, lr, slots, grad_sq=None):
        """Apply a dense gradient (``grad_sq``: the squared gradient, when it differs from
        ``grad ** 2`` for IndexedSlices with duplicate rows)."""
        raise NotImplementedError

    # -- config / checkpoint support --------------------------------------------------------
    def get_config(self) -> dict:
        lr = self._learning_rate
        return {"name": self.name,
                "learning_rate": float(array_of(lr)) if isinstance(lr, Variable) else lr,
                "weight_decay": self.weight_decay, "clipnorm": self.clipnorm,
                "global_clipnorm": self.global_clipnorm, "clipvalue": self.clipvalue,
                "loss_scale_factor": self.loss_scale_factor}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def defer_restore(self, values: dict) -> None:
        """Keep checkpointed slot ``values`` (name -> array) for when this optimizer builds;
        they are checked against the slots then, before anything changes."""
        self._deferred_slots = values

    @property
    def pending_restore(self) -> dict | None:
        """Checkpointed slot values still waiting for this optimizer to build, or None."""
        return self._deferred_slots

    def checkpoint_variables(self) -> dict:
        """Stable names -> variables for a checkpoint (slots keyed by the variable's
        position)."""
        out = {"iterations": self._iterations}
        if isinstance(self._learning_rate, Variable):
            out["learning_rate"] = self._learning_rate
        out.update(_slot_targets(self._trainable_variables, self._slots))
        return out


def _slot_targets(variables, slots: dict, first: int = 0) -> dict:
    """``slots/<position>/<slot name>`` -> slot Variable, positions counted from ``first``."""
    return {f"slots/{first + index}/{name}": slot
            for index, var in enumerate(variables) for name, slot in slots[id(var)].items()}


def _cast(value, dtype):
    """``ops.cast(python_float, dtype)`` as Keras computes it: through a float32 tensor."""
    return np.asarray(np.float32(value)).astype(dtype)


def _scale(prepared, factor):
    dense, sparse = prepared
    if dense is not None:
        return dense * np.asarray(factor, dtype=dense.dtype), None
    return None, (sparse[0] * np.asarray(factor, dtype=sparse[0].dtype), sparse[1])


def _densify(sparse, shape, dtype):
    values, indices = sparse
    out = np.zeros(shape, dtype=dtype)
    np.add.at(out, indices, values)
    return out


def _clip_by_norm(prepared, clip_norm):
    # tf.clip_by_norm: t * clip_norm / max(||t||, clip_norm), with a safe zero norm
    dense, sparse = prepared
    values = dense if dense is not None else sparse[0]
    dtype = values.dtype
    l2sum = np.sum(np.square(values), keepdims=True)
    l2norm = np.sqrt(l2sum) if l2sum.size and l2sum.item() > 0 else l2sum
    clip = np.asarray(clip_norm, dtype=dtype)
    clipped = (values * clip) / np.maximum(l2norm, clip)
    return (clipped, None) if dense is not None else (None, (clipped, sparse[1]))


def _clip_by_global_norm(prepared, clip_norm):
    arrays = [d if d is not None else s[0] for d, s in prepared]
    dtype = arrays[0].dtype
    squared = np.sum(np.stack([np.sum(np.square(a)) for a in arrays]))
    use_norm = np.sqrt(squared)
    clip = np.asarray(clip_norm, dtype=dtype)
    one = np.asarray(1.0, dtype=dtype)
    scale = clip * np.minimum(one / use_norm, one / clip)
    scale = scale + (use_norm - use_norm)
    return [_scale(p, scale) for p in prepared]


def _snake(name: str) -> str:
    import re
    name = re.sub(r"(.)([A-Z][a-z0-9]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


class SGD(Optimizer):
    """Gradient descent with optional (Nesterov) momentum, as Keras 3.

    ``m = momentum * m - lr * g``; ``w += m`` (Nesterov: ``w += momentum * m - lr * g``);
    without momentum ``w -= lr * g``. An IndexedSlices gradient without momentum updates only
    its rows, adding up duplicates.

    >>> import tapegrad as tf
    >>> v = tf.Variable([1.0, 2.0])
    >>> _ = tf.keras.optimizers.SGD(0.5).apply_gradients([(tf.constant([1.0, 1.0]), v)])
    >>> v.numpy().tolist()
    [0.5, 1.5]
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
                 ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name="SGD", **kwargs):
        super().__init__(learning_rate, **_base_options(locals()))
        if not isinstance(momentum, float) or momentum < 0 or momentum > 1:
            raise ValueError("`momentum` must be a float between [0, 1].")
        self.momentum = momentum
        self.nesterov = nesterov
        self._slot_names = ("momentum",) if momentum != 0 else ()

    def _sparse_update(self, var, sparse, lr, slots) -> bool:
        if self.momentum != 0:
            return False
        values, indices = sparse
        updated = np.array(array_of(var), copy=True)
        np.subtract.at(updated, indices, values * lr)
        replace_array(var, updated)
        return True

    def _update(self, var, grad, lr, slots, grad_sq=None):
        w = array_of(var)
        if self.momentum != 0:
            m_var = slots["momentum"]
            momentum = _cast(self.momentum, w.dtype)
            m = array_of(m_var) * momentum - grad * lr
            replace_array(m_var, m)
            if self.nesterov:
                replace_array(var, w + (m * momentum - grad * lr))
            else:
                replace_array(var, w + m)
        else:
            replace_array(var, w - grad * lr)

    def get_config(self) -> dict:
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    """Adam, as Keras 3: ``alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)``,
    ``w -= alpha * m / (sqrt(v) + epsilon)`` (epsilon outside the square root, added after the
    bias correction folded into ``alpha``).

    >>> import tapegrad as tf
    >>> v = tf.Variable(1.0)
    >>> _ = tf.keras.optimizers.Adam(0.1).apply_gradients([(tf.constant(2.0), v)])
    >>> round(float(v), 5)
    0.9
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name="adam", **kwargs):
        super().__init__(learning_rate, **_base_options(locals()))
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.amsgrad = amsgrad
        self._slot_names = ("momentum", "velocity") + (("velocity_hat",) if amsgrad else ())

    def _update(self, var, grad, lr, slots, grad_sq=None):
        w = array_of(var)
        dtype = w.dtype
        if grad_sq is None:
            grad_sq = np.square(grad)
        local_step = np.asarray(array_of(self._iterations) + 1, dtype=dtype)
        beta_1_power = np.power(_cast(self.beta_1, dtype), local_step)
        beta_2_power = np.power(_cast(self.beta_2, dtype), local_step)
        one = np.asarray(1, dtype=dtype)
        alpha = lr * np.sqrt(one - beta_2_power) / (one - beta_1_power)
        m_var, v_var = slots["momentum"], slots["velocity"]
        m, v = array_of(m_var), array_of(v_var)
        m = m + (grad - m) * np.asarray(1 - self.beta_1, dtype=dtype)
        v = v + (grad_sq - v) * np.asarray(1 - self.beta_2, dtype=dtype)
        replace_array(m_var, m)
        replace_array(v_var, v)
        if self.amsgrad:
            vh_var = slots["velocity_hat"]
            v = np.maximum(array_of(vh_var), v)
            replace_array(vh_var, v)
        replace_array(var, w - (m * alpha) / (np.sqrt(v) + np.asarray(self.epsilon,
                                                                      dtype=dtype)))

    def get_config(self) -> dict:
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon, "amsgrad": self.amsgrad}


class AdamW(Adam):
    """Adam with decoupled weight decay: ``w -= w * weight_decay * lr`` before each Adam step.

    >>> import tapegrad as tf
    >>> tf.keras.optimizers.AdamW().weight_decay
    0.004
    """

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-7, amsgrad=False, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name="adamw", **kwargs):
        if weight_decay is None:
            raise ValueError("Argument `weight_decay` must be a float. Received: "
                             "weight_decay=None")
        super().__init__(learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
                         amsgrad=amsgrad, **_base_options(locals()))


class RMSprop(Optimizer):
    """RMSprop, as Keras 3: ``v = rho v + (1 - rho) g^2``;
    ``w -= lr * g / sqrt(v + epsilon)`` (epsilon inside the root; centered subtracts the
    squared mean gradient first; momentum accumulates the increments).

    >>> import tapegrad as tf
    >>> v = tf.Variable(1.0)
    >>> _ = tf.keras.optimizers.RMSprop(0.01).apply_gradients([(tf.constant(1.0), v)])
    >>> round(float(v), 4)
    0.9684
    """

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7,
                 centered=False, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name="rmsprop", **kwargs):
        super().__init__(learning_rate, **_base_options(locals()))
        self.rho = rho
        self.momentum = momentum
        self.epsilon = epsilon
        self.centered = centered
        self._slot_names = ("velocity",) + (("momentum",) if momentum > 0 else ()) + \
            (("average_gradient",) if centered else ())

    def _update(self, var, grad, lr, slots, grad_sq=None):
        w = array_of(var)
        dtype = w.dtype
        if grad_sq is None:
            grad_sq = np.square(grad)
        rho = np.asarray(self.rho, dtype=dtype)
        one_minus_rho = np.asarray(1 - self.rho, dtype=dtype)
        eps = np.asarray(self.epsilon, dtype=dtype)
        v_var = slots["velocity"]
        velocity = rho * array_of(v_var) + one_minus_rho * grad_sq
        replace_array(v_var, velocity)
        if self.centered:
            a_var = slots["average_gradient"]
            average = rho * array_of(a_var) + one_minus_rho * grad
            replace_array(a_var, average)
            denominator = velocity - np.square(average) + eps
        else:
            denominator = velocity + eps
        increment = (lr * grad) / np.sqrt(denominator)
        if self.momentum > 0:
            m_var = slots["momentum"]
            m = np.asarray(self.momentum, dtype=dtype) * array_of(m_var) + increment
            replace_array(m_var, m)
            replace_array(var, w - m)
        else:
            replace_array(var, w - increment)

    def get_config(self) -> dict:
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum,
                "epsilon": self.epsilon, "centered": self.centered}


class Adagrad(Optimizer):
    """Adagrad, as Keras 3: ``a += g^2``; ``w -= lr * g / sqrt(a + epsilon)``, with the
    accumulator starting at ``initial_accumulator_value`` (0.1).

    >>> import tapegrad as tf
    >>> v = tf.Variable(1.0)
    >>> _ = tf.keras.optimizers.Adagrad(0.1).apply_gradients([(tf.constant(1.0), v)])
    >>> round(float(v), 4)
    0.9047
    """

    _slot_names = ("accumulator",)

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name="adagrad",
                 **kwargs):
        super().__init__(learning_rate, **_base_options(locals()))
        self.initial_accumulator_value = initial_accumulator_value
        self.epsilon = epsilon

    def _make_slot(self, var, name):
        return self.add_variable_from_reference(var, name,
                                                initializer=self.initial_accumulator_value)

    def _update(self, var, grad, lr, slots, grad_sq=None):
        w = array_of(var)
        dtype = w.dtype
        a_var = slots["accumulator"]
        accumulator = array_of(a_var) + (np.square(grad) if grad_sq is None else grad_sq)
        replace_array(a_var, accumulator)
        replace_array(var, w - (lr * grad) / np.sqrt(accumulator + np.asarray(self.epsilon,
                                                                             dtype=dtype)))

    def get_config(self) -> dict:
        return {**super().get_config(),
                "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}


_BY_NAME = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop, "adagrad": Adagrad}


def get(identifier) -> Optimizer:
    """An optimizer from a name (``"adam"``) or an Optimizer instance."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in _BY_NAME:
        return _BY_NAME[identifier.lower()]()
    raise ValueError(f"Could not interpret optimizer identifier: {identifier!r}; known: "
                     f"{sorted(_BY_NAME)}.")


legacy = types.SimpleNamespace(SGD=SGD, Adam=Adam, RMSprop=RMSprop, Adagrad=Adagrad)
