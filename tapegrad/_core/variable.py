"""Variable: a mutable slot whose reads are recorded, as ``tf.Variable``."""

from __future__ import annotations

from tapegrad._core import dtypes as _dt
from tapegrad._core import hooks
from tapegrad._core.backend import np
from tapegrad._core.errors import InvalidArgumentError
from tapegrad._core.naming import current_name_scope
from tapegrad._core.tensor import (
    Tensor,
    TensorShape,
    _value_text,
    next_uid,
    recording_threads,
    state,
    to_array,
    wrap,
)

_name_counts: dict[str, int] = {}


class Variable:
    """A mutable tensor-valued slot, as ``tf.Variable``.

    Trainable variables are watched by a tape when they are *read* while it records, wherever
    they were created. ``assign*`` replace the value (never in place), so a value already
    recorded on a tape keeps the value it had when it was read.

    >>> import tapegrad as tf
    >>> v = tf.Variable(3.0)
    >>> with tf.GradientTape() as tape:
    ...     y = v * v
    >>> float(tape.gradient(y, v))
    6.0
    """

    __array_priority__ = 100

    def __init__(self, initial_value=None, trainable: bool = True, name: str | None = None,
                 dtype=None, shape=None, validate_shape: bool = True, **unused):
        if initial_value is None:
            raise ValueError("initial_value must be specified, e.g. tapegrad.Variable(0.0).")
        if callable(initial_value):
            initial_value = initial_value()
        self._value = to_array(initial_value, dtype)
        if not isinstance(self._value, np.ndarray):
            self._value = np.asarray(self._value)
        if shape is not None and validate_shape and tuple(shape) != self._value.shape and \
                not any(d is None for d in shape):
            raise ValueError(f"initial_value has shape {self._value.shape}, which is not "
                             f"compatible with shape={tuple(shape)}.")
        self._trainable = bool(trainable)
        self._uid = next_uid()
        base = name if name is not None else "Variable"
        base = current_name_scope() + base
        self._name = base if base.endswith(":0") else base + ":0"
        self._shape = TensorShape(self._value.shape)

    # -- reads --------------------------------------------------------------------------------
    def _read_for_op(self) -> Tensor:
        tensor = wrap(self._value)
        if recording_threads:
            for recorder in state.recorders:
                recorder._read_variable(self, tensor)
        return tensor

    _read_for_conversion = _tensor_conversion = _read_for_op

    def value(self) -> Tensor:
        """The current value as a Tensor (a recorded read)."""
        return self._read_for_op()

    def read_value(self) -> Tensor:
        """The current value as a Tensor (a recorded read)."""
        return self._read_for_op()

    def numpy(self):
        self._accessed()
        return self._leaving().numpy()

    def __array__(self, dtype=None, copy=None):
        return self._leaving().__array__(dtype, copy)

    def _leaving(self) -> Tensor:
        """The value as a Tensor about to leave for NumPy/Python; provenance (when on) links
        it to this variable, so a diagnosis can say where the value left the tape."""
        tensor = wrap(self._value)
        if hooks.provenance is not None:
            hooks.provenance._read_variable(self, tensor)
        return tensor

    def _accessed(self):
        for recorder in state.recorders:
            recorder._read_variable(self, None)

    # -- writes -------------------------------------------------------------------------------
    def _converted(self, value):
        """``value`` as an array of the variable's dtype: Python values and NumPy arrays are
        converted, but a Tensor (or Variable) of another dtype is refused, as TensorFlow."""
        held = getattr(value, "_value", None)
        if isinstance(held, np.ndarray) and held.dtype != self._value.dtype and \
                isinstance(value, (Tensor, Variable)):
            raise ValueError(f"Tensor conversion requested dtype {self.dtype.name} for Tensor "
                             f"with dtype {_dt.from_numpy(held.dtype).name}; cast it first "
                             f"(tapegrad.cast(value, tapegrad.{self.dtype.name})).")
        return to_array(value, self.dtype)

    def _new_value(self, value, what: str):
        array = self._converted(value)
        if array.shape != self._value.shape:
            raise ValueError(f"Cannot {what} a value of shape {array.shape} to variable "
                             f"{self._name} of shape {self._value.shape}; reshape the value or "
                             "create a new Variable.")
        return np.array(array, copy=True) if array is self._value else np.asarray(array)

    def assign(self, value, use_locking=None, name=None, read_value=True):
        """Replace the value (not differentiable); returns the variable."""
        self._accessed()
        if hooks.provenance is not None:
            hooks.provenance.assigned(self, value)
        self._value = self._new_value(value, "assign")
        return self if read_value else None

    def assign_add(self, delta, use_locking=None, name=None, read_value=True):
        """Add ``delta`` to the value (not differentiable); returns the variable."""
        self._accessed()
        if hooks.provenance is not None:
            hooks.provenance.assigned(self, delta)
        self._value = self._value + self._new_value(delta, "assign_add")
        return self if read_value else None

    def assign_sub(self, delta, use_locking=None, name=None, read_value=True):
        """Subtract ``delta`` from the value (not differentiable); returns the variable."""
        self._accessed()
        if hooks.provenance is not None:
            hooks.provenance.assigned(self, delta)
        self._value = self._value - self._new_value(delta, "assign_sub")
        return self if read_value else None

    def _assign_at(self, key, value):
        self._accessed()
        updated = np.array(self._value, copy=True)
        values = self._converted(value)
        target = updated[key].shape
        if values.shape != target and values.ndim:  # (a scalar fills the slice, as TF)
            raise InvalidArgumentError(f"sliced l-value shape {list(target)} does not match "
                                       f"r-value shape {list(values.shape)}; give the value the "
                                       "slice's shape.")
        updated[key] = values
        self._value = updated
        return self

    def scatter_nd_update(self, indices, updates):
        """Write ``updates`` at ``indices`` (as ``tf.Variable.scatter_nd_update``); negative or
        out-of-range indices raise InvalidArgumentError."""
        updated = hooks.scattered_copy(self._value, indices, updates, self._converted,
                                       "ResourceScatterNdUpdate")
        self._accessed()
        self._value = updated
        return self

    # -- metadata -----------------------------------------------------------------------------
    @property
    def dtype(self) -> _dt.DType:
        return _dt.from_numpy(self._value.dtype)

    @property
    def shape(self) -> TensorShape:
        return self._shape

    @property
    def ndim(self) -> int:
        return self._value.ndim

    @property
    def name(self) -> str:
        return self._name

    @property
    def path(self) -> str:
        return self._name[:-2] if self._name.endswith(":0") else self._name

    @property
    def trainable(self) -> bool:
        return self._trainable

    @property
    def device(self) -> str:
        return "/job:localhost/replica:0/task:0/device:CPU:0"

    def get_shape(self) -> TensorShape:
        return self._shape

    def ref(self):
        return Tensor.ref(self)

    experimental_ref = ref

    def __repr__(self) -> str:
        return (f"<tf.Variable '{self._name}' shape={self._shape} "
                f"dtype={self.dtype.name}, numpy={_value_text(self._value, True)}>")

    def __len__(self) -> int:
        if self._value.ndim == 0:
            raise TypeError("len is not well defined for a rank-0 Variable.")
        return self._value.shape[0]

    def __iter__(self):
        return iter(self._read_for_op())

    def __bool__(self) -> bool:
        return bool(self._value)

    def __float__(self) -> float:
        return float(self._leaving())

    def __int__(self) -> int:
        return int(self._value)

    def __index__(self) -> int:
        return int(self._value)

    __hash__ = object.__hash__

    def __deepcopy__(self, memo):
        copy = Variable(self._value.copy(), trainable=self._trainable, name=self.path)
        memo[id(self)] = copy
        return copy


def replace_array(variable: Variable, array) -> None:
    """Give ``variable`` the array ``array`` (its shape and dtype) as it is: not converted,
    copied or recorded (optimizers' and checkpoints' write; ``assign`` converts and checks).

    >>> v = Variable([1.0, 2.0])
    >>> replace_array(v, np.zeros(2, np.float32)); v.numpy()
    array([0., 0.], dtype=float32)
    """
    variable._value = array
