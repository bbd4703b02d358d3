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
from tapegrad._core.tensor import Tensor, _to_array, _wrap, convert_to_tensor
from tapegrad._core.variable import Variable
from tapegrad.keras import activations, initializers
from tapegrad.module import Module, _camel_to_snake
from tapegrad.ops import array as array_ops
from tapegrad.ops import linalg as linalg_ops
from tapegrad.ops import math as math_ops
from tapegrad.ops import nn as nn_ops
from tapegrad.ops import random
from tapegrad.ops import reduction as reduction_ops

__all__ = ["Layer", "KerasVariable", "Input", "InputLayer", "Dense", "Conv2D", "MaxPooling2D",
           "AveragePooling2D", "MaxPool2D", "AvgPool2D", "GlobalAveragePooling2D",
           "GlobalMaxPooling2D", "Flatten", "Reshape", "Dropout", "BatchNormalization",
           "LayerNormalization", "Embedding", "Activation", "ReLU", "Softmax"]


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


_call_state = _CallState()


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
        return self._read_for_op()

    def __repr__(self) -> str:
        return (f"<KerasVariable path={self._path}, shape={tuple(self.shape)}, "
                f"dtype={self.dtype.name}, value={np.asarray(self._value)}>")

    def __deepcopy__(self, memo):
        copy = KerasVariable(self._value.copy(), trainable=self._trainable,
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


class KerasTensor:
    """The symbolic input of a model (``tf.keras.Input``): a shape with a batch dimension."""

    def __init__(self, shape, dtype="float32", name=None):
        self.shape = tuple(shape)
        self.dtype = _dt.as_dtype(dtype)
        self.name = name

    def __repr__(self) -> str:
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype.name}, name={self.name}>"


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
    return KerasTensor(batch_shape, dtype or "float32", name or _unique_name("input_layer"))


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
        self._name = name or _unique_name(_camel_to_snake(type(self).__name__))
        self._scope_name = self._name + "/"
        self._trainable = trainable
        self._dtype = _dt.as_dtype(dtype or "float32")
        self.autocast = autocast
        self.built = False
        self._build_shapes = None
        self._output_shape = None
        self._call_takes_training = _accepts(self.call, "training")
        self._call_takes_mask = _accepts(self.call, "mask")
        if input_dim is not None and input_shape is None:
            input_shape = (input_dim,)
        self._input_shape_arg = tuple(input_shape) if input_shape is not None else None

    # -- tracking ---------------------------------------------------------------------------
    def __setattr__(self, key, value):
        if not key.startswith("__"):
            layers = self.__dict__.get("_layers")
            if layers is not None:
                for item in _leaves(value):
                    if isinstance(item, Layer) and item is not self and \
                            not any(item is seen for seen in layers):
                        layers.append(item)
                    elif isinstance(item, Variable) and \
                            not any(item is seen for seen in self._own_variables):
                        self._own_variables.append(item)
        object.__setattr__(self, key, value)

    @property
    def name(self) -> str:
        return self._name

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
        return [np.array(v._value) for v in self.weights]

    def set_weights(self, weights) -> None:
        """Set every weight from a list of arrays (checked for count and shapes first)."""
        params = self.weights
        weights = list(weights)
        if len(weights) != len(params):
            raise ValueError(f"Layer {self.name} expects {len(params)} weights, but the given "
                             f"list has {len(weights)}.")
        arrays = []
        for var, value in zip(params, weights):
            array = np.asarray(_to_array(value) if isinstance(value, (Tensor, Variable))
                               else value)
            if array.shape != var._value.shape:
                raise ValueError(f"Layer {self.name} weight shape {var._value.shape} is not "
                                 f"compatible with provided weight shape {array.shape}.")
            arrays.append(array.astype(var._value.dtype))
        for var, array in zip(params, arrays):
            var.assign(array)

    def add_weight(self, shape=None, initializer=None, dtype=None, trainable=True,
                   autocast=True, regularizer=None, constraint=None, aggregation="none",
                   overwrite_with_gradient=False, name=None) -> KerasVariable:
        """Create a weight of this layer (``initializer`` by name, object or callable)."""
        shape = () if shape is None else tuple(int(d) for d in shape)
        dtype = _dt.as_dtype(dtype or self._dtype)
        if initializer is None:
            initializer = "glorot_uniform" if np.dtype(dtype._np).kind == "f" else "zeros"
        init = initializers.get(initializer)
        value = init(shape, dtype=dtype)
        value = np.asarray(_to_array(value), dtype=dtype._np)
        name = name or "variable"
        path = "/".join(_call_state.path + [name]) if _call_state.path else \
            f"{self._name}/{name}"
        variable = KerasVariable(value, trainable=trainable, name=name, path=path,
                                 constraint=constraint, regularizer=regularizer)
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
        if self.autocast and x._value.dtype.kind == "f" and x._value.dtype != self._dtype._np \
                and np.dtype(self._dtype._np).kind == "f":
            from tapegrad.ops.math import cast
            x = cast(x, self._dtype)
        return x

    def __call__(self, inputs, *args, training=None, mask=None, **kwargs):
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

    def count_params(self) -> int:
        return int(sum(int(np.prod(v._value.shape)) for v in self.weights))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {"name": self._name, "trainable": self._trainable, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self._name}, built={self.built}>"


def _leaves(value):
    if isinstance(value, (list, tuple)):
        for item in value:
            yield from _leaves(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    else:
        yield value


def _pair(value, what: str) -> tuple:
    if isinstance(value, int):
        return (value, value)
    value = tuple(int(v) for v in value)
    if len(value) != 2:
        raise ValueError(f"The `{what}` argument must be a tuple of 2 integers. "
                         f"Received {what}={value}")
    return value


def _nn(name: str):
    return getattr(nn_ops, name)


# ---------------------------------------------------------------------------------------------
# core layers
# ---------------------------------------------------------------------------------------------

class InputLayer(Layer):
    """Identity layer standing for a model input (what ``tf.keras.Input`` makes)."""

    def __init__(self, shape=None, batch_size=None, dtype=None, name=None, **kwargs):
        super().__init__(name=name, dtype=dtype)
        self._input_shape_arg = tuple(shape) if shape is not None else None

    def call(self, inputs):
        return inputs


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
        if len(inputs.shape) == 2:
            x = linalg_ops.matmul(inputs, self.kernel)
        else:
            shape = tuple(inputs.shape)
            flat = array_ops.reshape(inputs, (-1, shape[-1]))
            x = array_ops.reshape(linalg_ops.matmul(flat, self.kernel),
                                  shape[:-1] + (self.units,))
        if self.bias is not None:
            x = x + self.bias
        return self._activate(x)

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
        rng = self._rng if self._rng is not None else random.global_rng()
        value = np.asarray(_to_array(inputs))
        shape = value.shape
        if self.noise_shape is not None:
            shape = tuple(s if n is None else n for s, n in zip(shape, self.noise_shape))
        keep = 1.0 - self.rate
        if keep == 0:
            return inputs * _wrap(np.zeros(shape, dtype=value.dtype))
        mask = (rng.random(shape) < keep).astype(value.dtype) / np.asarray(keep,
                                                                          dtype=value.dtype)
        return inputs * _wrap(mask)

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
            m_value = np.asarray(_to_array(mean))
            v_value = np.asarray(_to_array(variance))
            dtype = self.moving_mean._value.dtype
            self.moving_mean.assign((self.moving_mean._value * np.asarray(momentum, dtype)
                                     + m_value * np.asarray(1.0 - momentum, dtype)).astype(dtype))
            self.moving_variance.assign((self.moving_variance._value
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


class Softmax(Layer):
    """Softmax over ``axis`` (default last)."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis

    def call(self, inputs, mask=None):
        return activations.softmax(inputs, axis=self.axis)
