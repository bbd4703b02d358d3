"""Keras layers (``tf.keras.layers``) with Keras 3's names, arguments and defaults.

Layers create their weights lazily, on the first call, from the input's shape. Weights are
:class:`KerasVariable` s: ordinary ``tapegrad.Variable`` s whose ``name`` is the short name
(``"kernel"``) and whose ``path`` is the layer path (``"dense/kernel"``), as Keras 3's.

>>> import tapegrad as tf
>>> layer = tf.keras.layers.Dense(3)
>>> layer(tf.ones([2, 4])).shape
TensorShape([2, 3])
>>> [v.name for v in layer.trainable_variables]
['kernel', 'bias']
"""

from __future__ import annotations

import collections
import inspect
import threading

from tapegrad._core import dtypes as _dt
from tapegrad._core.backend import np
from tapegrad._core.tensor import Tensor, array_of, convert_to_tensor, to_array, wrap
from tapegrad._core.variable import Variable
from tapegrad.keras import activations, initializers
from tapegrad.keras.functional import KerasTensor, _leaves, symbolic_call
from tapegrad.ops import array as array_ops
from tapegrad.ops import linalg as linalg_ops
from tapegrad.ops import math as math_ops
from tapegrad.ops import random
from tapegrad.ops import reduction as reduction_ops
from tapegrad.training.module import Module, _camel_to_snake

__all__ = ["Layer", "KerasVariable", "Input", "InputLayer", "Dense", "Conv2D", "MaxPooling2D",
           "AveragePooling2D", "MaxPool2D", "AvgPool2D", "GlobalAveragePooling2D",
           "GlobalMaxPooling2D", "Flatten", "Reshape", "Dropout", "BatchNormalization",
           "LayerNormalization", "Embedding", "Activation", "ReLU", "Softmax", "InputSpec",
           "LeakyReLU", "Conv2DTranspose", "Conv1D", "MaxPooling1D", "AveragePooling1D",
           "MaxPool1D", "AvgPool1D", "GlobalAveragePooling1D", "GlobalMaxPooling1D",
           "UpSampling2D", "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum",
           "Concatenate", "add", "subtract", "multiply", "average", "maximum", "minimum",
           "concatenate", "Rescaling", "Normalization", "Lambda", "SimpleRNN", "LSTM", "GRU"]


# ---------------------------------------------------------------------------------------------
# naming, call context
# ---------------------------------------------------------------------------------------------

_uids: collections.Counter = collections.Counter()


def _unique_name(prefix: str) -> str:
    count = _uids[prefix]
    _uids[prefix] += 1
    return prefix if count == 0 else f"{prefix}_{count}"


class _CallState(threading.local):
    def __init__(self):
        self.path: list[str] = []        # names of the layers being built, outermost first
        self.training: list = []         # training flags of the enclosing calls
        self.weight_bytes_left = None    # while a model file loads: what its weights may take


_call_state = _CallState()


def _charge_weight(shape: tuple, dtype) -> None:
    """While a model file loads, refuse weights larger than the file can hold, before they
    are allocated (a crafted config must not exhaust memory)."""
    left = _call_state.weight_bytes_left
    if left is None:
        return
    nbytes = int(np.prod(shape, dtype=object)) * dtype.size if shape else 8
    if nbytes > left:
        raise ValueError(f"The model file describes a weight of shape {shape} ({nbytes} bytes), "
                         f"more than its weights file can hold ({left} bytes left); the file "
                         "is damaged or crafted. Nothing was loaded.")
    _call_state.weight_bytes_left = left - nbytes


class KerasVariable(Variable):
    """A layer weight: a ``tapegrad.Variable`` with Keras 3's ``name`` and ``path``."""

    def __init__(self, initial_value, trainable=True, name=None, dtype=None, path=None,
                 constraint=None, regularizer=None):
        super().__init__(initial_value, trainable=trainable, name=path or name, dtype=dtype)
        self._short_name = name or "variable"
        self._path = path or self._short_name
        self.constraint = constraint
        self.regularizer = regularizer

    @property
    def name(self) -> str:
        return self._short_name

    @property
    def path(self) -> str:
        return self._path

    @property
    def value(self):  # Keras 3: `variable.value` is the current value as a tensor
        return self.read_value()

    def __repr__(self) -> str:
        return (f"<Variable path={self._path}, shape={tuple(self.shape)}, "
                f"dtype={self.dtype.name}, value={np.asarray(array_of(self))}>")

    def __deepcopy__(self, memo):
        copy = KerasVariable(array_of(self).copy(), trainable=self.trainable,
                             name=self._short_name, path=self._path)
        memo[id(self)] = copy
        return copy


def _accepts(method, argument: str) -> bool:
    try:
        parameters = inspect.signature(method).parameters
    except (TypeError, ValueError):
        return False
    return argument in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values())


def _shape_of(x) -> tuple:
    if isinstance(x, (Tensor, Variable, KerasTensor)):
        return tuple(x.shape)
    if isinstance(x, (list, tuple)) and x and isinstance(x[0], (Tensor, Variable, np.ndarray)):
        return tuple(_shape_of(item) for item in x)
    return tuple(np.shape(x))


class InputSpec:
    """What a layer accepts (``dtype``, ``shape``, ``ndim``, ``min_ndim``, ``axes``); kept for
    API compatibility and shown in errors."""

    def __init__(self, dtype=None, shape=None, ndim=None, max_ndim=None, min_ndim=None,
                 axes=None, allow_last_axis_squeeze=False, name=None, optional=False):
        self.dtype = dtype
        self.shape = shape
        self.ndim = len(shape) if shape is not None else ndim
        self.max_ndim = max_ndim
        self.min_ndim = min_ndim
        self.axes = dict(axes or {})
        self.name = name
        self.optional = optional


def Input(shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None,  # noqa: N802
          name=None, tensor=None, optional=False) -> KerasTensor:
    """A model input of ``shape`` (without the batch dimension), as ``tf.keras.Input``.

    >>> import tapegrad as tf
    >>> tf.keras.Input(shape=(8,)).shape
    (None, 8)
    """
    if batch_shape is None:
        if shape is None:
            raise ValueError("You must pass a `shape` argument to Input, e.g. Input(shape=(8,)).")
        batch_shape = (batch_size,) + tuple(shape)
    layer = InputLayer(batch_shape=batch_shape, dtype=dtype,
                       name=name if name is not None else _unique_name("input_layer"))
    return layer.output


# ---------------------------------------------------------------------------------------------
# Layer
# ---------------------------------------------------------------------------------------------

class Layer(Module):
    """Base class of layers: weights made in ``build(input_shape)``, computation in ``call``.

    >>> import tapegrad as tf
    >>> class Scale(tf.keras.layers.Layer):
    ...     def build(self, input_shape):
    ...         self.s = self.add_weight(shape=(), initializer="ones", name="s")
    ...     def call(self, x):
    ...         return x * self.s
    >>> layer = Scale()
    >>> float(layer(tf.constant(3.0)))
    3.0
    >>> layer.trainable_variables[0].path
    'scale/s'
    """

    def __init__(self, activity_regularizer=None, trainable=True, dtype=None, autocast=True,
                 name=None, **kwargs):
        input_shape = kwargs.pop("input_shape", None)
        input_dim = kwargs.pop("input_dim", None)
        kwargs.pop("batch_input_shape", None)
        kwargs.pop("input_length", None)
        if kwargs:
            raise ValueError(f"Unrecognized keyword arguments passed to {type(self).__name__}: "
                             f"{kwargs}")
        object.__setattr__(self, "_layers", [])
        object.__setattr__(self, "_own_variables", [])
        object.__setattr__(self, "_tracked_metrics", [])
        object.__setattr__(self, "_losses", [])
        self._name = name if name is not None else \
            _unique_name(_camel_to_snake(type(self).__name__))
        self.activity_regularizer = _regularizer(activity_regularizer)
        self._scope_name = self._name + "/"
        self._trainable = trainable
        self._dtype = _dt.as_dtype(dtype or "float32")
        self.autocast = autocast
        self.built = False
        self._build_shapes = None
        self._output_shape = None
        self._inbound_nodes: list = []
        self._call_takes_training = _accepts(self.call, "training")
        self._call_takes_mask = _accepts(self.call, "mask")
        if input_dim is not None and input_shape is None:
            input_shape = (input_dim,)
        self._input_shape_arg = tuple(input_shape) if input_shape is not None else None

    # -- tracking ---------------------------------------------------------------------------
    def __setattr__(self, key, value):
        # Keras 3 tracks sub-layers, its own variables (a raw tapegrad.Variable attribute is
        # not a layer weight) and metrics assigned as attributes.
        if not key.startswith("__"):
            layers = self.__dict__.get("_layers")
            if layers is not None:
                from tapegrad.keras.metrics import Metric
                for item in _leaves(value):
                    if isinstance(item, Layer) and item is not self and \
                            not any(item is seen for seen in layers):
                        layers.append(item)
                    elif isinstance(item, KerasVariable) and \
                            not any(item is seen for seen in self._own_variables):
                        self._own_variables.append(item)
                    elif isinstance(item, Metric) and \
                            not any(item is seen for seen in self._tracked_metrics):
                        self._tracked_metrics.append(item)
        object.__setattr__(self, key, value)

    def _tracked_metrics_recursive(self) -> list:
        out = list(self._tracked_metrics)
        for layer in self._layers:
            if not hasattr(layer, "compile"):   # a sub-model's metrics are its own
                out.extend(layer._tracked_metrics_recursive())
        return out

    @property
    def metrics(self) -> list:
        """Metrics assigned as attributes of this layer and its sub-layers."""
        return self._tracked_metrics_recursive()

    # -- losses -----------------------------------------------------------------------------
    def add_loss(self, loss) -> None:
        """Add a loss term (a scalar tensor computed in ``call``) to :attr:`losses`; ``fit``
        adds every such term to the compiled loss.

        >>> import tapegrad as tf
        >>> class Penalty(tf.keras.layers.Layer):
        ...     def call(self, x):
        ...         self.add_loss(tf.reduce_sum(x))
        ...         return x
        >>> layer = Penalty()
        >>> _ = layer(tf.ones([2, 2]))
        >>> [float(v) for v in layer.losses]
        [4.0]
        """
        if isinstance(loss, KerasTensor):
            return
        self._losses.append(convert_to_tensor(loss) if not isinstance(loss, Tensor) else loss)

    @property
    def losses(self) -> list:
        """The ``add_loss`` terms of the last call, then the weight regularizers' penalties,
        of this layer and its sub-layers."""
        out = list(self._losses)
        for var in self._own_variables:
            regularizer = getattr(var, "regularizer", None)
            if regularizer is not None:
                out.append(regularizer(var))
        for layer in self._layers:
            out.extend(layer.losses)
        return out

    def _clear_losses(self) -> None:
        self._losses.clear()
        for layer in self._layers:
            layer._clear_losses()

    @property
    def name(self) -> str:
        return self._name

    @property
    def submodules(self):
        # A Keras 3 layer is not a tf.Module: it has no `submodules` (use `layers`).
        raise AttributeError(f"'{type(self).__name__}' object has no attribute 'submodules'")

    @property
    def dtype(self):
        return self._dtype.name

    @property
    def compute_dtype(self):
        return self._dtype.name

    @property
    def variable_dtype(self):
        return self._dtype.name

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)
        for layer in self._layers:
            layer.trainable = value

    @property
    def layers(self) -> list:
        return list(self._layers)

    @property
    def weights(self) -> list:
        """Own weights (creation order), then each sub-layer's, without duplicates."""
        out, seen = [], set()
        for var in self._own_variables:
            if id(var) not in seen:
                seen.add(id(var))
                out.append(var)
        for layer in self._layers:
            for var in layer.weights:
                if id(var) not in seen:
                    seen.add(id(var))
                    out.append(var)
        return out

    @property
    def trainable_weights(self) -> list:
        if not self._trainable:
            return []
        out = [v for v in self._own_variables if v.trainable]
        seen = {id(v) for v in out}
        for layer in self._layers:
            for var in layer.trainable_weights:
                if id(var) not in seen:
                    seen.add(id(var))
                    out.append(var)
        return out

    @property
    def non_trainable_weights(self) -> list:
        trainable = {id(v) for v in self.trainable_weights}
        return [v for v in self.weights if id(v) not in trainable]

    @property
    def variables(self) -> list:
        return self.weights

    @property
    def trainable_variables(self) -> list:
        return self.trainable_weights

    @property
    def non_trainable_variables(self) -> list:
        return self.non_trainable_weights

    def get_weights(self) -> list:
        """The weights' values as NumPy arrays."""
        return [np.array(array_of(v)) for v in self.weights]

    def set_weights(self, weights) -> None:
        """Set every weight from a list of arrays (checked for count and shapes first)."""
        params = self.weights
        weights = list(weights)
        if len(weights) != len(params):
            raise ValueError(f"Layer {self.name} expects {len(params)} weights, but the given "
                             f"list has {len(weights)}.")
        arrays = []
        for var, value in zip(params, weights):
            array = np.asarray(to_array(value) if isinstance(value, (Tensor, Variable))
                               else value)
            current = array_of(var)
            if array.shape != current.shape:
                raise ValueError(f"Layer {self.name} weight shape {current.shape} is not "
                                 f"compatible with provided weight shape {array.shape}.")
            arrays.append(array.astype(current.dtype))
        for var, array in zip(params, arrays):
            var.assign(array)

    def add_weight(self, *args, **kwargs) -> KerasVariable:
        """Create a weight of this layer: ``add_weight(shape=None, initializer=None,
        dtype=None, trainable=True, autocast=True, regularizer=None, constraint=None,
        aggregation="none", overwrite_with_gradient=False, name=None)`` (``initializer`` by
        name, object or callable)."""
        if args and isinstance(args[0], str):
            raise ValueError("`name` must be passed as a keyword argument. Received: "
                             f"add_weight({args[0]!r}, ...). Use: add_weight(shape=..., "
                             f"name={args[0]!r}).")
        return self._add_weight(*args, **kwargs)

    def _add_weight(self, shape=None, initializer=None, dtype=None, trainable=True,
                    autocast=True, regularizer=None, constraint=None, aggregation="none",
                    overwrite_with_gradient=False, name=None) -> KerasVariable:
        shape = () if shape is None else tuple(int(d) for d in shape)
        dtype = _dt.as_dtype(dtype or self._dtype)
        _charge_weight(shape, dtype)
        if initializer is None:
            initializer = "glorot_uniform" if dtype.is_floating else "zeros"
        init = initializers.get(initializer)
        value = init(shape, dtype=dtype)
        value = np.asarray(to_array(value), dtype=dtype.as_numpy_dtype)
        name = name or "variable"
        path = "/".join(_call_state.path + [name]) if _call_state.path else \
            f"{self._name}/{name}"
        variable = KerasVariable(value, trainable=trainable, name=name, path=path,
                                 constraint=constraint, regularizer=_regularizer(regularizer))
        self._own_variables.append(variable)
        return variable

    # -- calling ----------------------------------------------------------------------------
    def build(self, input_shape) -> None:
        self.built = True

    def call(self, inputs, *args, **kwargs):
        raise NotImplementedError(f"Layer {type(self).__name__} does not implement call().")

    def _convert(self, x):
        if isinstance(x, (list, tuple)):
            return type(x)(self._convert(item) for item in x)
        if isinstance(x, dict):
            return {k: self._convert(v) for k, v in x.items()}
        if isinstance(x, Variable):
            return x
        if not isinstance(x, Tensor):
            if isinstance(x, (np.ndarray, np.generic, list, float, int)):
                x = convert_to_tensor(x)
            else:
                return x
        dtype = array_of(x).dtype
        if self.autocast and dtype.kind == "f" and dtype != self._dtype.as_numpy_dtype \
                and self._dtype.is_floating:
            from tapegrad.ops.math import cast
            x = cast(x, self._dtype)
        return x

    def __call__(self, inputs, *args, training=None, mask=None, **kwargs):
        _check_positional_input(inputs)
        if any(isinstance(t, KerasTensor) for t in _leaves(inputs)):
            return symbolic_call(self, inputs, args,
                                            dict(kwargs, training=training, mask=mask))
        if not _call_state.path:          # the outermost call starts a fresh set of losses
            self._clear_losses()
        inputs = self._convert(inputs)
        if not self.built:
            _call_state.path.append(self._name)
            try:
                self._maybe_build_inner(inputs)
            finally:
                _call_state.path.pop()
        if training is None and _call_state.training:
            training = _call_state.training[-1]
        if self._call_takes_training:
            kwargs["training"] = training
        if mask is not None and self._call_takes_mask:
            kwargs["mask"] = mask
        _call_state.training.append(training)
        _call_state.path.append(self._name)
        try:
            outputs = self.call(inputs, *args, **kwargs)
        finally:
            _call_state.path.pop()
            _call_state.training.pop()
        if self.activity_regularizer is not None:
            for output in _leaves(outputs):
                self.add_loss(self.activity_regularizer(output) /
                              float(max(int(output.shape[0]), 1) if output.shape else 1))
        if self._output_shape is None:
            try:
                self._output_shape = _shape_of(outputs)
            except Exception:  # noqa: BLE001 - shapes are informative only (summary)
                self._output_shape = None
        return outputs

    def _maybe_build_inner(self, inputs):
        shapes = _shape_of(inputs)
        self.build(shapes)
        self.built = True
        self._build_shapes = shapes

    @property
    def output(self):
        """The symbolic output of this layer's call in a functional graph."""
        return self._only_node("output").outputs

    @property
    def input(self):
        """The symbolic input of this layer's call in a functional graph."""
        return self._only_node("input").inputs

    def _only_node(self, what: str):
        if not self._inbound_nodes:
            raise AttributeError(f"Layer {self.name} has no {what}: it was never called on a "
                                 "symbolic input (keras.Input).")
        return self._inbound_nodes[0]

    def count_params(self) -> int:
        return int(sum(int(np.prod(array_of(v).shape)) for v in self.weights))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {"name": self._name, "trainable": self._trainable, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self._name}, built={self.built}>"


def _check_positional_input(inputs) -> None:
    """Keras 3: the positional input is a tensor (or a nest of tensors), never a Python
    number list."""
    if isinstance(inputs, (list, tuple)):
        for item in _leaves(inputs):
            if isinstance(item, (bool, int, float, str)) or item is None:
                raise ValueError("Only input tensors may be passed as positional arguments. "
                                 "The following argument value should be passed as a keyword "
                                 f"argument: {item} (of type {type(item)})")


def _regularizer(value):
    if value is None:
        return None
    from tapegrad.keras import regularizers
    return regularizers.get(value)


def _pair(value, what: str) -> tuple:
    if isinstance(value, int):
        return (value, value)
    value = tuple(int(v) for v in value)
    if len(value) != 2:
        raise ValueError(f"The `{what}` argument must be a tuple of 2 integers. "
                         f"Received {what}={value}")
    return value


_nn = activations.nn_function


# ---------------------------------------------------------------------------------------------
# core layers
# ---------------------------------------------------------------------------------------------

class InputLayer(Layer):
    """Identity layer standing for a model input (what ``tf.keras.Input`` makes); its
    ``output`` is the symbolic input tensor."""

    def __init__(self, shape=None, batch_size=None, dtype=None, name=None, batch_shape=None,
                 sparse=None, **kwargs):
        super().__init__(name=name, dtype=dtype)
        if batch_shape is None:
            batch_shape = (batch_size,) + tuple(shape) if shape is not None else None
        self._input_shape_arg = tuple(batch_shape[1:]) if batch_shape is not None else None
        self.batch_shape = tuple(batch_shape) if batch_shape is not None else None
        self._output_tensor = KerasTensor(self.batch_shape or (None,), dtype or "float32",
                                          name=self._name)
        self._output_tensor._input_layer = self
        self._output_shape = self.batch_shape
        self.built = True

    @property
    def output(self):
        return self._output_tensor

    @property
    def input(self):
        return self._output_tensor

    def call(self, inputs):
        return inputs

    def get_config(self) -> dict:
        return {"batch_shape": self.batch_shape, "dtype": self._output_tensor.dtype,
                "sparse": False, "name": self._name}


class _KernelLayer(Layer):
    """A layer with a kernel, an optional bias and an activation (Dense, Conv2D)."""

    def _set_kernel_options(self, activation, use_bias, kernel_initializer, bias_initializer,
                            kernel_regularizer, bias_regularizer, kernel_constraint,
                            bias_constraint):
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = kernel_regularizer
        self.bias_regularizer = bias_regularizer
        self.kernel_constraint = kernel_constraint
        self.bias_constraint = bias_constraint

    def _add_kernel_and_bias(self, kernel_shape: tuple, units: int) -> None:
        self.kernel = self.add_weight(name="kernel", shape=kernel_shape,
                                      initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.bias = self.add_weight(name="bias", shape=(units,),
                                    initializer=self.bias_initializer,
                                    regularizer=self.bias_regularizer,
                                    constraint=self.bias_constraint) if self.use_bias else None

    def _activate(self, x):
        return x if self.activation is activations.linear else self.activation(x)

    def _bias_and_activation(self, x):
        """``activation(x + bias)`` for channels-last outputs."""
        if self.bias is not None:
            x = x + self.bias
        return self._activate(x)

    def _float_input(self, inputs, channel_axis: int):
        """Integer inputs are cast to the layer's float dtype (Keras 3); the channel axis must
        match the built kernel (Keras' input_spec check, with its message)."""
        expected = self.kernel.shape[-2] if len(self.kernel.shape) > 2 else self.kernel.shape[0]
        shape = tuple(inputs.shape)
        if shape and shape[channel_axis] != expected:
            raise ValueError(f"Input 0 of layer \"{self.name}\" is incompatible with the layer: "
                             f"expected axis {channel_axis} of input shape to have value "
                             f"{expected}, but received input with shape {shape}")
        if inputs.dtype.name != self.dtype:
            inputs = math_ops.cast(inputs, self.dtype)
        return inputs


class Dense(_KernelLayer):
    """``activation(inputs @ kernel + bias)`` on the last axis.

    >>> import tapegrad as tf
    >>> d = tf.keras.layers.Dense(2, kernel_initializer="ones")
    >>> d(tf.ones([1, 3])).numpy().tolist()
    [[3.0, 3.0]]
    """

    def __init__(self, units, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, lora_rank=None, lora_alpha=None,
                 **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        if not isinstance(units, int) or units <= 0:
            raise ValueError("Received an invalid value for `units`, expected a positive "
                             f"integer. Received: units={units}")
        self.units = units
        self._set_kernel_options(activation, use_bias, kernel_initializer, bias_initializer,
                                 kernel_regularizer, bias_regularizer, kernel_constraint,
                                 bias_constraint)

    def build(self, input_shape):
        self._add_kernel_and_bias((input_shape[-1], self.units), self.units)
        self.built = True

    def call(self, inputs, training=None):
        inputs = self._float_input(inputs, -1)
        if len(inputs.shape) == 2:
            x = linalg_ops.matmul(inputs, self.kernel)
        else:
            shape = tuple(inputs.shape)
            flat = array_ops.reshape(inputs, (-1, shape[-1]))
            x = array_ops.reshape(linalg_ops.matmul(flat, self.kernel),
                                  shape[:-1] + (self.units,))
        return self._bias_and_activation(x)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self) -> dict:
        return {**super().get_config(), "units": self.units,
                "activation": activations.serialize(self.activation),
                "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer)}


def _conv_padding(padding: str) -> str:
    padding = padding.lower()
    if padding not in ("valid", "same"):
        raise ValueError(f"The `padding` argument must be one of 'valid', 'same'. "
                         f"Received: padding={padding}")
    return padding.upper()


def _channels_first(data_format) -> bool:
    if data_format is None or data_format == "channels_last":
        return False
    if data_format == "channels_first":
        return True
    raise ValueError("The `data_format` argument must be one of 'channels_first', "
                     f"'channels_last'. Received: data_format={data_format}")


class Conv2D(_KernelLayer):
    """2-D convolution over ``(batch, height, width, channels)`` inputs (channels_last).

    Kernel shape ``(kernel_h, kernel_w, in_channels, filters)``, as Keras.
    """

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        if groups != 1:
            raise NotImplementedError("Conv2D(groups != 1) is not supported by tapegrad yet.")
        self.filters = int(filters)
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.strides = _pair(strides, "strides")
        self.padding = _conv_padding(padding)
        self.data_format = "channels_first" if _channels_first(data_format) else "channels_last"
        self.dilation_rate = _pair(dilation_rate, "dilation_rate")
        self._set_kernel_options(activation, use_bias, kernel_initializer, bias_initializer,
                                 kernel_regularizer, bias_regularizer, kernel_constraint,
                                 bias_constraint)

    def build(self, input_shape):
        channels = input_shape[1] if self.data_format == "channels_first" else input_shape[-1]
        self._add_kernel_and_bias(self.kernel_size + (channels, self.filters), self.filters)

    def call(self, inputs, training=None):
        fmt = "NCHW" if self.data_format == "channels_first" else "NHWC"
        inputs = self._float_input(inputs, 1 if fmt == "NCHW" else -1)
        x = _nn("conv2d")(inputs, self.kernel, strides=list(self.strides), padding=self.padding,
                          data_format=fmt, dilations=list(self.dilation_rate))
        if self.bias is not None:
            if fmt == "NHWC":
                x = x + self.bias
            else:
                x = x + array_ops.reshape(self.bias, (1, self.filters, 1, 1))
        return self._activate(x)

    def get_config(self) -> dict:
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": self.kernel_size, "strides": self.strides,
                "padding": self.padding.lower(), "data_format": self.data_format,
                "dilation_rate": self.dilation_rate,
                "activation": activations.serialize(self.activation), "use_bias": self.use_bias}


class _Pooling2D(Layer):
    _op = ""

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None,
                 name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.pool_size = _pair(pool_size, "pool_size")
        self.strides = _pair(strides, "strides") if strides is not None else self.pool_size
        self.padding = _conv_padding(padding)
        self.data_format = "channels_first" if _channels_first(data_format) else "channels_last"

    def call(self, inputs):
        fmt = "NCHW" if self.data_format == "channels_first" else "NHWC"
        return _nn(self._op)(inputs, ksize=list(self.pool_size), strides=list(self.strides),
                             padding=self.padding, data_format=fmt)

    def get_config(self) -> dict:
        return {**super().get_config(), "pool_size": self.pool_size, "strides": self.strides,
                "padding": self.padding.lower(), "data_format": self.data_format}


class MaxPooling2D(_Pooling2D):
    """Maximum over ``pool_size`` windows (strides default to the pool size)."""

    _op = "max_pool2d"


class AveragePooling2D(_Pooling2D):
    """Mean over ``pool_size`` windows (strides default to the pool size)."""

    _op = "avg_pool2d"


MaxPool2D = MaxPooling2D
AvgPool2D = AveragePooling2D


class GlobalAveragePooling2D(Layer):
    """Mean over the spatial axes: ``(b, h, w, c) -> (b, c)``."""

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = "channels_first" if _channels_first(data_format) else "channels_last"
        self.keepdims = keepdims

    def call(self, inputs):
        axes = [2, 3] if self.data_format == "channels_first" else [1, 2]
        return reduction_ops.reduce_mean(inputs, axis=axes, keepdims=self.keepdims)

    def get_config(self) -> dict:
        return {**super().get_config(), "data_format": self.data_format,
                "keepdims": self.keepdims}


class GlobalMaxPooling2D(GlobalAveragePooling2D):
    """Maximum over the spatial axes: ``(b, h, w, c) -> (b, c)``."""

    def call(self, inputs):
        axes = [2, 3] if self.data_format == "channels_first" else [1, 2]
        return reduction_ops.reduce_max(inputs, axis=axes, keepdims=self.keepdims)


class Flatten(Layer):
    """Flatten every axis but the batch axis: ``(b, ...) -> (b, prod(...))``.

    >>> import tapegrad as tf
    >>> tf.keras.layers.Flatten()(tf.zeros([2, 3, 4])).shape
    TensorShape([2, 12])
    """

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = "channels_first" if _channels_first(data_format) else "channels_last"

    def get_config(self) -> dict:
        return {**super().get_config(), "data_format": self.data_format}

    def call(self, inputs):
        shape = tuple(inputs.shape)
        if self.data_format == "channels_first" and len(shape) > 2:
            perm = [0] + list(range(2, len(shape))) + [1]
            inputs = array_ops.transpose(inputs, perm)
        if len(shape) == 1:
            return array_ops.expand_dims(inputs, 1)
        return array_ops.reshape(inputs, (shape[0], int(np.prod(shape[1:]))))


class Reshape(Layer):
    """Reshape every example to ``target_shape`` (batch axis kept)."""

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        self.target_shape = tuple(target_shape)

    def call(self, inputs):
        return array_ops.reshape(inputs, (tuple(inputs.shape)[0],) + self.target_shape)

    def get_config(self) -> dict:
        return {**super().get_config(), "target_shape": self.target_shape}


class Dropout(Layer):
    """In training, zero each value with probability ``rate`` and scale the rest by
    ``1 / (1 - rate)``; at inference (``training`` False or unset) the identity.

    >>> import tapegrad as tf
    >>> drop = tf.keras.layers.Dropout(0.5, seed=1)
    >>> x = tf.ones([1000])
    >>> bool((drop(x).numpy() == 1.0).all())
    True
    >>> sorted(set(drop(x, training=True).numpy().tolist()))
    [0.0, 2.0]
    """

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= rate <= 1:
            raise ValueError(f"Invalid value received for argument `rate`. Expected a float "
                             f"value between 0 and 1. Received: rate={rate}")
        self.rate = rate
        self.noise_shape = noise_shape
        self.seed = seed
        self._rng = np.random.default_rng([int(seed), 21]) if seed is not None else None

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        inputs = inputs if isinstance(inputs, Tensor) else convert_to_tensor(inputs)
        dtype = array_of(inputs).dtype
        shape = tuple(inputs.shape)
        if self.noise_shape is not None:
            shape = tuple(s if n is None else n for s, n in zip(shape, self.noise_shape))
        keep = 1.0 - self.rate
        if keep == 0:
            return inputs * wrap(np.zeros(shape, dtype=dtype))
        # (ops, not NumPy: a compiled tf.function replays the draw on every call)
        draws = random.uniform_unit(shape, "float64", generator=self._rng)
        kept = math_ops.cast(math_ops.less(draws, np.float64(keep)), dtype)
        return inputs * (kept / wrap(np.asarray(keep, dtype=dtype)))

    def get_config(self) -> dict:
        return {**super().get_config(), "rate": self.rate, "seed": self.seed,
                "noise_shape": self.noise_shape}


class BatchNormalization(Layer):
    """Normalize with the batch's statistics in training (updating the moving averages:
    ``moving = moving * momentum + batch * (1 - momentum)``), with the moving averages at
    inference. Keras 3 defaults: momentum 0.99, epsilon 1e-3.

    >>> import tapegrad as tf
    >>> bn = tf.keras.layers.BatchNormalization()
    >>> x = tf.constant([[0.0], [2.0]])
    >>> [round(float(v), 3) for v in bn(x).numpy().ravel()]   # inference: moving mean 0, var 1
    [0.0, 1.999]
    >>> [round(float(v), 3) for v in bn(x, training=True).numpy().ravel()]
    [-1.0, 1.0]
    >>> [round(float(v), 4) for v in (bn.moving_mean[0], bn.moving_variance[0])]
    [0.01, 1.0]
    """

    def __init__(self, axis=-1, momentum=0.99, epsilon=0.001, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones",
                 moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, synchronized=False, renorm=False, **kwargs):
        super().__init__(**kwargs)
        self.axis = int(axis)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.center = center
        self.scale = scale
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.beta_constraint = beta_constraint
        self.gamma_constraint = gamma_constraint

    def build(self, input_shape):
        axis = self.axis % len(input_shape)
        shape = (input_shape[axis],)
        self.gamma = self.add_weight(shape=shape, name="gamma",
                                     initializer=self.gamma_initializer,
                                     constraint=self.gamma_constraint) if self.scale else None
        self.beta = self.add_weight(shape=shape, name="beta",
                                    initializer=self.beta_initializer,
                                    constraint=self.beta_constraint) if self.center else None
        self.moving_mean = self.add_weight(shape=shape, name="moving_mean",
                                           initializer=self.moving_mean_initializer,
                                           trainable=False)
        self.moving_variance = self.add_weight(shape=shape, name="moving_variance",
                                               initializer=self.moving_variance_initializer,
                                               trainable=False)

    def call(self, inputs, training=None, mask=None):
        ndim = len(inputs.shape)
        axis = self.axis % ndim
        reduction = [i for i in range(ndim) if i != axis]
        broadcast = [1] * ndim
        broadcast[axis] = inputs.shape[axis]

        def shaped(v):
            return array_ops.reshape(v, broadcast) if axis != ndim - 1 else v

        if training and self.trainable:
            mean, variance = _moments(inputs, reduction)
            momentum = self.momentum
            m_value = np.asarray(to_array(mean))
            v_value = np.asarray(to_array(variance))
            dtype = array_of(self.moving_mean).dtype
            self.moving_mean.assign((array_of(self.moving_mean) * np.asarray(momentum, dtype)
                                     + m_value * np.asarray(1.0 - momentum, dtype)).astype(dtype))
            self.moving_variance.assign((array_of(self.moving_variance)
                                         * np.asarray(momentum, dtype)
                                         + v_value * np.asarray(1.0 - momentum, dtype)
                                         ).astype(dtype))
        else:
            mean, variance = self.moving_mean, self.moving_variance
        inv = math_ops.rsqrt(shaped(variance) + self.epsilon)
        if self.gamma is not None:
            inv = inv * shaped(self.gamma)
        out = (inputs - shaped(mean)) * inv
        if self.beta is not None:
            out = out + shaped(self.beta)
        return out

    def get_config(self) -> dict:
        return {**super().get_config(), "axis": self.axis, "momentum": self.momentum,
                "epsilon": self.epsilon, "center": self.center, "scale": self.scale}


def _moments(x, axes, keepdims=False):
    """Mean and (biased) variance over ``axes``, as ``tf.nn.moments``."""
    mean = reduction_ops.reduce_mean(x, axis=axes, keepdims=True)
    variance = reduction_ops.reduce_mean(math_ops.square(x - math_ops.stop_gradient(mean)),
                                         axis=axes, keepdims=True)
    if not keepdims:
        mean = array_ops.squeeze(mean, axis=axes)
        variance = array_ops.squeeze(variance, axis=axes)
    return mean, variance


class LayerNormalization(Layer):
    """Normalize each example over ``axis`` (default last), then scale by gamma and shift by
    beta (Keras 3 default epsilon 1e-3)."""

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, rms_scaling=False,
                 beta_initializer="zeros", gamma_initializer="ones", beta_regularizer=None,
                 gamma_regularizer=None, beta_constraint=None, gamma_constraint=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.axis = axis
        self.epsilon = epsilon
        self.center = center
        self.scale = scale
        self.rms_scaling = rms_scaling
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)

    def build(self, input_shape):
        ndim = len(input_shape)
        axes = [self.axis] if isinstance(self.axis, int) else list(self.axis)
        self._axes = sorted(a % ndim for a in axes)
        shape = tuple(input_shape[a] for a in self._axes)
        self.gamma = self.add_weight(name="gamma", shape=shape,
                                     initializer=self.gamma_initializer) if self.scale else None
        self.beta = self.add_weight(name="beta", shape=shape,
                                    initializer=self.beta_initializer) if self.center else None

    def call(self, inputs):
        ndim = len(inputs.shape)
        broadcast = [1] * ndim
        for a in self._axes:
            broadcast[a] = inputs.shape[a]

        def shaped(v):
            return array_ops.reshape(v, broadcast) if self._axes != [ndim - 1] else v

        if self.rms_scaling:
            variance = reduction_ops.reduce_mean(math_ops.square(inputs), axis=self._axes,
                                                 keepdims=True)
            out = inputs * (1.0 / math_ops.sqrt(variance + self.epsilon))
            return out * shaped(self.gamma) if self.gamma is not None else out
        mean, variance = _moments(inputs, self._axes, keepdims=True)
        out = (inputs - mean) * (1.0 / math_ops.sqrt(variance + self.epsilon))
        if self.gamma is not None:
            out = out * shaped(self.gamma)
        if self.beta is not None:
            out = out + shaped(self.beta)
        return out

    def get_config(self) -> dict:
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale, "rms_scaling": self.rms_scaling}


class Embedding(Layer):
    """Rows of an ``(input_dim, output_dim)`` table looked up by integer ids; its gradient is
    an IndexedSlices, so optimizers update only the rows used.

    >>> import tapegrad as tf
    >>> emb = tf.keras.layers.Embedding(10, 4)
    >>> emb(tf.constant([[1, 2, 3]])).shape
    TensorShape([1, 3, 4])
    """

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform",
                 embeddings_regularizer=None, embeddings_constraint=None, mask_zero=False,
                 weights=None, lora_rank=None, **kwargs):
        super().__init__(**kwargs)
        self.input_dim = int(input_dim)
        self.output_dim = int(output_dim)
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.embeddings_constraint = embeddings_constraint
        self.mask_zero = mask_zero
        self._initial_weights = weights

    def build(self, input_shape=None):
        self.embeddings = self.add_weight(shape=(self.input_dim, self.output_dim),
                                          initializer=self.embeddings_initializer,
                                          name="embeddings",
                                          constraint=self.embeddings_constraint)
        if self._initial_weights is not None:
            self.set_weights(self._initial_weights)

    def _convert(self, x):
        return x if isinstance(x, (Tensor, Variable)) else convert_to_tensor(x)

    def call(self, inputs):
        if inputs.dtype not in (_dt.int32, _dt.int64):
            inputs = math_ops.cast(inputs, _dt.int32)
        return array_ops.gather(self.embeddings, inputs)

    def get_config(self) -> dict:
        return {**super().get_config(), "input_dim": self.input_dim,
                "output_dim": self.output_dim, "mask_zero": self.mask_zero,
                "embeddings_initializer": initializers.serialize(self.embeddings_initializer)}

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero:
            return None
        return math_ops.not_equal(inputs, 0)


class Activation(Layer):
    """Apply an activation function (by name or callable)."""

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def call(self, inputs):
        return self.activation(inputs)

    def get_config(self) -> dict:
        return {**super().get_config(), "activation": activations.serialize(self.activation)}


class ReLU(Layer):
    """Rectified linear unit with Keras' ``max_value``, ``negative_slope`` and ``threshold``."""

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        if max_value is not None and max_value < 0.0:
            raise ValueError("max_value of a ReLU layer cannot be a negative value. "
                             f"Received: max_value={max_value}")
        self.max_value = max_value
        self.negative_slope = negative_slope
        self.threshold = threshold

    def call(self, inputs):
        return activations.relu(inputs, negative_slope=self.negative_slope,
                                max_value=self.max_value, threshold=self.threshold)

    def get_config(self) -> dict:
        return {**super().get_config(), "max_value": self.max_value,
                "negative_slope": self.negative_slope, "threshold": self.threshold}


class Softmax(Layer):
    """Softmax over ``axis`` (default last)."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis

    def call(self, inputs, mask=None):
        return activations.softmax(inputs, axis=self.axis)

    def get_config(self) -> dict:
        return {**super().get_config(), "axis": self.axis}


# ---------------------------------------------------------------------------------------------
# more layers: activations, convolutions, pooling, merging, preprocessing, recurrent
# ---------------------------------------------------------------------------------------------

class LeakyReLU(Layer):
    """``x`` where positive, ``negative_slope * x`` elsewhere (Keras 3 default slope 0.3).

    >>> import tapegrad as tf
    >>> tf.keras.layers.LeakyReLU()(tf.constant([-1.0, 2.0])).numpy().tolist()
    [-0.30000001192092896, 2.0]
    """

    def __init__(self, negative_slope=0.3, **kwargs):
        if "alpha" in kwargs:
            raise ValueError("Argument `alpha` is no longer supported. Use `negative_slope` "
                             "instead.")
        super().__init__(**kwargs)
        if negative_slope is None or negative_slope < 0:
            raise ValueError("The negative_slope value of a Leaky ReLU layer cannot be None or "
                             f"negative value. Expected a float. Received: "
                             f"negative_slope={negative_slope}")
        self.negative_slope = float(negative_slope)

    def call(self, inputs):
        return _nn("leaky_relu")(inputs, alpha=self.negative_slope)

    def get_config(self) -> dict:
        return {**super().get_config(), "negative_slope": self.negative_slope}


def _serialized_kernel_options(layer) -> dict:
    return {"activation": activations.serialize(layer.activation), "use_bias": layer.use_bias,
            "kernel_initializer": initializers.serialize(layer.kernel_initializer),
            "bias_initializer": initializers.serialize(layer.bias_initializer)}


class Conv2DTranspose(_KernelLayer):
    """Transposed 2-D convolution (the gradient of Conv2D with respect to its input), kernel
    shape ``(kernel_h, kernel_w, filters, in_channels)`` as Keras.

    >>> import tapegrad as tf
    >>> tf.keras.layers.Conv2DTranspose(4, 3, strides=2, padding="same")(
    ...     tf.zeros([1, 5, 5, 2])).shape
    TensorShape([1, 10, 10, 4])
    """

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        if _channels_first(data_format):
            raise NotImplementedError("Conv2DTranspose supports data_format='channels_last' "
                                      "only in tapegrad.")
        self.filters = int(filters)
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.strides = _pair(strides, "strides")
        self.padding = _conv_padding(padding)
        self.data_format = "channels_last"
        self.dilation_rate = _pair(dilation_rate, "dilation_rate")
        if self.dilation_rate != (1, 1):
            raise NotImplementedError("Conv2DTranspose(dilation_rate != 1) is not supported by "
                                      "tapegrad yet.")
        self._set_kernel_options(activation, use_bias, kernel_initializer, bias_initializer,
                                 kernel_regularizer, bias_regularizer, kernel_constraint,
                                 bias_constraint)

    def build(self, input_shape):
        self._add_kernel_and_bias(self.kernel_size + (self.filters, input_shape[-1]),
                                  self.filters)

    def _output_size(self, size, kernel, stride):
        return size * stride if self.padding == "SAME" else (size - 1) * stride + kernel

    def call(self, inputs):
        if inputs.dtype.name != self.dtype:
            inputs = math_ops.cast(inputs, self.dtype)
        batch, height, width, _ = tuple(inputs.shape)
        out_shape = [batch, self._output_size(height, self.kernel_size[0], self.strides[0]),
                     self._output_size(width, self.kernel_size[1], self.strides[1]),
                     self.filters]
        x = _nn("conv2d_transpose")(inputs, self.kernel, out_shape, strides=list(self.strides),
                                    padding=self.padding)
        return self._bias_and_activation(x)

    def get_config(self) -> dict:
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": self.kernel_size, "strides": self.strides,
                "padding": self.padding.lower(), "data_format": self.data_format,
                "dilation_rate": self.dilation_rate, **_serialized_kernel_options(self)}


class Conv1D(_KernelLayer):
    """1-D convolution over ``(batch, steps, channels)``; kernel ``(k, in, filters)``.

    >>> import tapegrad as tf
    >>> tf.keras.layers.Conv1D(4, 3)(tf.zeros([2, 10, 3])).shape
    TensorShape([2, 8, 4])
    """

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        if groups != 1 or _channels_first(data_format):
            raise NotImplementedError("Conv1D supports groups=1 and channels_last only in "
                                      "tapegrad.")
        self.filters = int(filters)
        self.kernel_size = _single(kernel_size, "kernel_size")
        self.strides = _single(strides, "strides")
        self.dilation_rate = _single(dilation_rate, "dilation_rate")
        self.padding = padding.lower()
        if self.padding not in ("valid", "same", "causal"):
            raise ValueError("The `padding` argument must be one of 'valid', 'same', 'causal'. "
                             f"Received: padding={padding}")
        self.data_format = "channels_last"
        self._set_kernel_options(activation, use_bias, kernel_initializer, bias_initializer,
                                 kernel_regularizer, bias_regularizer, kernel_constraint,
                                 bias_constraint)

    def build(self, input_shape):
        self._add_kernel_and_bias((self.kernel_size, input_shape[-1], self.filters),
                                  self.filters)

    def call(self, inputs):
        inputs = self._float_input(inputs, -1)
        padding = self.padding.upper()
        if padding == "CAUSAL":
            left = self.dilation_rate * (self.kernel_size - 1)
            inputs = array_ops.pad(inputs, [[0, 0], [left, 0], [0, 0]])
            padding = "VALID"
        x = _nn("conv1d")(inputs, self.kernel, stride=self.strides, padding=padding,
                          dilations=self.dilation_rate)
        return self._bias_and_activation(x)

    def get_config(self) -> dict:
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": (self.kernel_size,), "strides": (self.strides,),
                "padding": self.padding, "data_format": self.data_format,
                "dilation_rate": (self.dilation_rate,), **_serialized_kernel_options(self)}


def _single(value, what: str) -> int:
    if isinstance(value, (tuple, list)):
        if len(value) != 1:
            raise ValueError(f"The `{what}` argument must be an integer or a tuple of 1 "
                             f"integer. Received {what}={value}")
        value = value[0]
    return int(value)


class MaxPooling1D(Layer):
    """Maximum over ``pool_size`` windows of ``(batch, steps, channels)``."""

    _op = "max_pool1d"

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.pool_size = _single(pool_size, "pool_size")
        self.strides = _single(strides, "strides") if strides is not None else self.pool_size
        self.padding = _conv_padding(padding)
        self.data_format = "channels_last"

    def call(self, inputs):
        return _nn(self._op)(inputs, ksize=self.pool_size, strides=self.strides,
                             padding=self.padding)

    def get_config(self) -> dict:
        return {**super().get_config(), "pool_size": (self.pool_size,),
                "strides": (self.strides,), "padding": self.padding.lower(),
                "data_format": self.data_format}


class AveragePooling1D(MaxPooling1D):
    """Mean over ``pool_size`` windows of ``(batch, steps, channels)``."""

    _op = "avg_pool1d"


MaxPool1D = MaxPooling1D
AvgPool1D = AveragePooling1D


class GlobalAveragePooling1D(Layer):
    """Mean over the steps axis: ``(b, steps, c) -> (b, c)``."""

    _reduce = "reduce_mean"

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = "channels_first" if _channels_first(data_format) else "channels_last"
        self.keepdims = keepdims

    def call(self, inputs, mask=None):
        axis = 2 if self.data_format == "channels_first" else 1
        return getattr(reduction_ops, self._reduce)(inputs, axis=axis, keepdims=self.keepdims)

    def get_config(self) -> dict:
        return {**super().get_config(), "data_format": self.data_format,
                "keepdims": self.keepdims}


class GlobalMaxPooling1D(GlobalAveragePooling1D):
    """Maximum over the steps axis: ``(b, steps, c) -> (b, c)``."""

    _reduce = "reduce_max"


class UpSampling2D(Layer):
    """Repeat rows and columns ``size`` times (nearest-neighbour upsampling).

    >>> import tapegrad as tf
    >>> tf.keras.layers.UpSampling2D()(tf.zeros([1, 2, 3, 1])).shape
    TensorShape([1, 4, 6, 1])
    """

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(**kwargs)
        if interpolation != "nearest":
            raise NotImplementedError("UpSampling2D supports interpolation='nearest' only in "
                                      "tapegrad.")
        self.size = _pair(size, "size")
        self.data_format = "channels_first" if _channels_first(data_format) else "channels_last"
        self.interpolation = interpolation

    def call(self, inputs):
        rows, cols = (2, 3) if self.data_format == "channels_first" else (1, 2)
        x = array_ops.repeat(inputs, self.size[0], axis=rows)
        return array_ops.repeat(x, self.size[1], axis=cols)

    def get_config(self) -> dict:
        return {**super().get_config(), "size": self.size, "data_format": self.data_format,
                "interpolation": self.interpolation}


class _Merge(Layer):
    """Base of the layers that combine a list of same-shaped tensors."""

    def _check_inputs(self, inputs):
        if not isinstance(inputs, (list, tuple)) or len(inputs) < 1:
            raise ValueError(f"A merge layer should be called on a list of inputs. Received: "
                             f"inputs={inputs} (not a list of tensors)")
        return list(inputs)

    def call(self, inputs):
        inputs = self._check_inputs(inputs)
        out = inputs[0]
        for item in inputs[1:]:
            out = self._combine(out, item)
        return self._finish(out, len(inputs))

    def _finish(self, out, count):
        return out


class Add(_Merge):
    """Elementwise sum of the inputs."""

    def _combine(self, a, b):
        return a + b


class Subtract(_Merge):
    """``inputs[0] - inputs[1]`` (exactly two inputs)."""

    def call(self, inputs):
        inputs = self._check_inputs(inputs)
        if len(inputs) != 2:
            raise ValueError("A `Subtract` layer should be called on exactly 2 inputs. "
                             f"Received: inputs={inputs}")
        return inputs[0] - inputs[1]


class Multiply(_Merge):
    """Elementwise product of the inputs."""

    def _combine(self, a, b):
        return a * b


class Average(Add):
    """Elementwise mean of the inputs."""

    def _finish(self, out, count):
        return out / float(count)


class Maximum(_Merge):
    """Elementwise maximum of the inputs."""

    def _combine(self, a, b):
        return math_ops.maximum(a, b)


class Minimum(_Merge):
    """Elementwise minimum of the inputs."""

    def _combine(self, a, b):
        return math_ops.minimum(a, b)


class Concatenate(_Merge):
    """Join the inputs along ``axis`` (default last).

    >>> import tapegrad as tf
    >>> tf.keras.layers.Concatenate()([tf.zeros([2, 3]), tf.ones([2, 1])]).shape
    TensorShape([2, 4])
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis

    def call(self, inputs):
        return array_ops.concat(self._check_inputs(inputs), axis=self.axis)

    def get_config(self) -> dict:
        return {**super().get_config(), "axis": self.axis}


def _merge_function(cls):
    def merge(inputs, **kwargs):
        return cls(**kwargs)(inputs)
    merge.__name__ = _camel_to_snake(cls.__name__)
    merge.__doc__ = f"``{cls.__name__}(**kwargs)(inputs)``."
    return merge


add = _merge_function(Add)
subtract = _merge_function(Subtract)
multiply = _merge_function(Multiply)
average = _merge_function(Average)
maximum = _merge_function(Maximum)
minimum = _merge_function(Minimum)
concatenate = _merge_function(Concatenate)


class Rescaling(Layer):
    """``inputs * scale + offset`` in the layer's float dtype (e.g. ``1 / 255``)."""

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = scale
        self.offset = offset

    def call(self, inputs):
        if inputs.dtype.name != self.dtype:
            inputs = math_ops.cast(inputs, self.dtype)
        return inputs * self.scale + self.offset

    def get_config(self) -> dict:
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}


class Normalization(Layer):
    """``(inputs - mean) / max(sqrt(variance), 1e-7)`` per feature of ``axis``; the statistics
    come from ``mean``/``variance`` or from :meth:`adapt` over data.

    >>> import numpy as np, tapegrad as tf
    >>> norm = tf.keras.layers.Normalization()
    >>> norm.adapt(np.array([[1.0], [3.0]], np.float32))
    >>> norm(tf.constant([[3.0]])).numpy().tolist()
    [[1.0]]
    """

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        self.axis = (axis,) if isinstance(axis, int) else tuple(axis or ())
        self.invert = invert
        self.input_mean = mean
        self.input_variance = variance
        if (mean is None) != (variance is None):
            raise ValueError("When setting values directly, both `mean` and `variance` must be "
                             f"set. Received: mean={mean} and variance={variance}")

    def build(self, input_shape):
        ndim = len(input_shape)
        self._axes = tuple(a % ndim for a in self.axis)
        shape = tuple(input_shape[a] if a in self._axes else 1 for a in range(ndim))
        self._broadcast = shape
        features = tuple(input_shape[a] for a in self._axes)
        if self.input_mean is None:
            self.adapt_mean = self.add_weight(name="mean", shape=features,
                                              initializer="zeros", trainable=False)
            self.adapt_variance = self.add_weight(name="variance", shape=features,
                                                  initializer="ones", trainable=False)
            self.count = self.add_weight(name="count", shape=(), initializer="zeros",
                                         dtype="int64", trainable=False)

    def adapt(self, data, batch_size=None, steps=None) -> None:
        """Set the mean and variance from ``data`` (an array, tensor or Dataset)."""
        if hasattr(data, "as_numpy_iterator"):
            data = np.concatenate([np.asarray(b) for b in data.as_numpy_iterator()], axis=0)
        array = np.asarray(to_array(data) if isinstance(data, (Tensor, Variable)) else data,
                           dtype=np.float64)
        if not self.built:
            self.build(array.shape)
            self.built = True
        reduce_axes = tuple(a for a in range(array.ndim) if a not in self._axes)
        self.adapt_mean.assign(array.mean(axis=reduce_axes).astype(np.float32).reshape(
            self.adapt_mean.shape))
        self.adapt_variance.assign(array.var(axis=reduce_axes).astype(np.float32).reshape(
            self.adapt_variance.shape))
        self.count.assign(np.asarray(int(np.prod([array.shape[a] for a in reduce_axes])),
                                     dtype=np.int64))

    def call(self, inputs):
        if inputs.dtype.name != self.dtype:
            inputs = math_ops.cast(inputs, self.dtype)
        if self.input_mean is not None:
            mean = np.broadcast_to(np.asarray(self.input_mean, np.float32), self._broadcast)
            variance = np.broadcast_to(np.asarray(self.input_variance, np.float32),
                                       self._broadcast)
            mean, variance = wrap(mean.copy()), wrap(variance.copy())
        else:
            mean = array_ops.reshape(self.adapt_mean, self._broadcast)
            variance = array_ops.reshape(self.adapt_variance, self._broadcast)
        scale = math_ops.maximum(math_ops.sqrt(variance), 1e-7)
        if self.invert:
            return inputs * scale + mean
        return (inputs - mean) / scale

    def get_config(self) -> dict:
        return {**super().get_config(), "axis": self.axis, "invert": self.invert,
                "mean": _listed(self.input_mean), "variance": _listed(self.input_variance)}


def _listed(value):
    return np.asarray(value).tolist() if value is not None else None


class Lambda(Layer):
    """Wrap a function of the inputs as a layer: ``Lambda(lambda x: x ** 2)``."""

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        self.function = function
        self.output_shape = output_shape
        self.arguments = dict(arguments or {})

    def call(self, inputs, mask=None, training=None):
        return self.function(inputs, **self.arguments)

    def get_config(self) -> dict:
        raise NotImplementedError("A Lambda layer wraps Python code, which tapegrad does not "
                                  "serialize; subclass keras.layers.Layer (with get_config) "
                                  "to make the layer serializable.")


class _RNN(Layer):
    """A recurrent layer over ``(batch, time, features)``: the input projection of every
    step is one matmul, then a loop over time applies the recurrence (all on the tape)."""

    _gates = 1

    def __init__(self, units, activation="tanh", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, seed=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        if stateful:
            raise NotImplementedError("stateful recurrent layers are not supported by "
                                      "tapegrad.")
        if dropout or recurrent_dropout:
            raise NotImplementedError("dropout/recurrent_dropout in recurrent layers are not "
                                      "supported by tapegrad yet; add a Dropout layer instead.")
        self.units = int(units)
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = kernel_regularizer
        self.recurrent_regularizer = recurrent_regularizer
        self.bias_regularizer = bias_regularizer
        self.return_sequences = return_sequences
        self.return_state = return_state
        self.go_backwards = go_backwards

    def build(self, input_shape):
        width = self._gates * self.units
        self.kernel = self.add_weight(name="kernel", shape=(input_shape[-1], width),
                                      initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer)
        self.recurrent_kernel = self.add_weight(name="recurrent_kernel",
                                                shape=(self.units, width),
                                                initializer=self.recurrent_initializer,
                                                regularizer=self.recurrent_regularizer)
        self.bias = self.add_weight(name="bias", shape=self._bias_shape(),
                                    initializer=self._bias_initializer(),
                                    regularizer=self.bias_regularizer) if self.use_bias else None

    def _bias_shape(self):
        return (self._gates * self.units,)

    def _bias_initializer(self):
        return self.bias_initializer

    def _initial_state(self, batch, dtype):
        zeros = wrap(np.zeros((batch, self.units), dtype=dtype))
        return [zeros]

    def call(self, inputs, mask=None, training=None, initial_state=None):
        if inputs.dtype.name != self.dtype:
            inputs = math_ops.cast(inputs, self.dtype)
        batch, steps, features = tuple(inputs.shape)
        flat = array_ops.reshape(inputs, (-1, features))
        projected = array_ops.reshape(linalg_ops.matmul(flat, self.kernel),
                                      (batch, steps, self._gates * self.units))
        state = list(initial_state) if initial_state is not None else \
            self._initial_state(batch, array_of(inputs).dtype)
        outputs = []
        order = range(steps - 1, -1, -1) if self.go_backwards else range(steps)
        for t in order:
            output, state = self._step(projected[:, t], state)
            outputs.append(output)
        last = outputs[-1]
        result = array_ops.stack(outputs, axis=1) if self.return_sequences else last
        if self.return_state:
            return [result] + state
        return result

    def get_config(self) -> dict:
        return {**super().get_config(), "units": self.units,
                "activation": activations.serialize(self.activation),
                "use_bias": self.use_bias, "return_sequences": self.return_sequences,
                "return_state": self.return_state, "go_backwards": self.go_backwards,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer)}


class SimpleRNN(_RNN):
    """``h_t = activation(x_t W + h_{t-1} U + b)``.

    >>> import tapegrad as tf
    >>> tf.keras.layers.SimpleRNN(4, return_sequences=True)(tf.zeros([2, 5, 3])).shape
    TensorShape([2, 5, 4])
    """

    def _step(self, x_projected, state):
        z = x_projected + linalg_ops.matmul(state[0], self.recurrent_kernel)
        if self.bias is not None:
            z = z + self.bias
        h = self.activation(z)
        return h, [h]


class LSTM(_RNN):
    """Long short-term memory (Keras' gate order i, f, c, o; forget-gate bias starts at 1).

    >>> import tapegrad as tf
    >>> out, h, c = tf.keras.layers.LSTM(4, return_state=True)(tf.zeros([2, 5, 3]))
    >>> out.shape, c.shape
    (TensorShape([2, 4]), TensorShape([2, 4]))
    """

    _gates = 4

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid",
                 unit_forget_bias=True, **kwargs):
        super().__init__(units, activation=activation, **kwargs)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.unit_forget_bias = unit_forget_bias

    def _bias_initializer(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        units, base = self.units, self.bias_initializer

        def init(shape, dtype=None):
            value = np.asarray(to_array(base((units,), dtype=dtype)))
            return np.concatenate([value, np.ones(units, value.dtype), value, value])
        return init

    def _initial_state(self, batch, dtype):
        return super()._initial_state(batch, dtype) * 2

    def _step(self, x_projected, state):
        h, c = state
        z = x_projected + linalg_ops.matmul(h, self.recurrent_kernel)
        if self.bias is not None:
            z = z + self.bias
        i, f, g, o = array_ops.split(z, 4, axis=-1)
        i, f, o = (self.recurrent_activation(v) for v in (i, f, o))
        c = f * c + i * self.activation(g)
        h = o * self.activation(c)
        return h, [h, c]

    def get_config(self) -> dict:
        return {**super().get_config(),
                "recurrent_activation": activations.serialize(self.recurrent_activation),
                "unit_forget_bias": self.unit_forget_bias}


class GRU(_RNN):
    """Gated recurrent unit, Keras 3's default ``reset_after=True`` form (gate order z, r, h;
    bias ``(2, 3 * units)``: input and recurrent biases).

    >>> import tapegrad as tf
    >>> tf.keras.layers.GRU(4)(tf.zeros([2, 5, 3])).shape
    TensorShape([2, 4])
    """

    _gates = 3

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid",
                 reset_after=True, **kwargs):
        super().__init__(units, activation=activation, **kwargs)
        if not reset_after:
            raise NotImplementedError("GRU(reset_after=False) is not supported by tapegrad.")
        self.recurrent_activation = activations.get(recurrent_activation)
        self.reset_after = reset_after

    def _bias_shape(self):
        return (2, 3 * self.units)

    def _step(self, x_projected, state):
        h = state[0]
        recurrent = linalg_ops.matmul(h, self.recurrent_kernel)
        if self.bias is not None:
            x_projected = x_projected + self.bias[0]
            recurrent = recurrent + self.bias[1]
        x_z, x_r, x_h = array_ops.split(x_projected, 3, axis=-1)
        r_z, r_r, r_h = array_ops.split(recurrent, 3, axis=-1)
        z = self.recurrent_activation(x_z + r_z)
        r = self.recurrent_activation(x_r + r_r)
        candidate = self.activation(x_h + r * r_h)
        h = z * h + (1.0 - z) * candidate
        return h, [h]

    def get_config(self) -> dict:
        return {**super().get_config(),
                "recurrent_activation": activations.serialize(self.recurrent_activation),
                "reset_after": self.reset_after}
