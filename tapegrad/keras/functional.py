"""The functional API: layers called on symbolic ``keras.Input`` s record a graph of calls,
and ``keras.Model(inputs, outputs)`` replays it on real tensors.

A symbolic call runs the layer once on small zero tensors (the batch axis, and any other
unknown axis, given a probe size) to build its weights and learn its output shapes; the axes
whose size followed the probe are unknown (``None``) in the output.

>>> import tapegrad as tf
>>> inputs = tf.keras.Input(shape=(4,))
>>> hidden = tf.keras.layers.Dense(8, activation="relu")(inputs)
>>> hidden.shape
(None, 8)
>>> model = tf.keras.Model(inputs, tf.keras.layers.Dense(2)(hidden))
>>> model(tf.ones([3, 4])).shape
TensorShape([3, 2])
"""

from __future__ import annotations

import itertools
import operator

from tapegrad._core import dtypes as _dt
from tapegrad._core import nest
from tapegrad._core.backend import np
from tapegrad._core.tensor import Tensor, wrap
from tapegrad._core.variable import Variable
from tapegrad.ops import math as math_ops

__all__ = ["KerasTensor", "Node", "symbolic_call", "build_graph", "run_graph"]

_node_ids = itertools.count()
_PROBE_SIZES = (1, 2)      # the batch axis (outputs keep it as their first axis)
_FREE_SIZES = (32, 35)     # other unknown axes (large enough for a few poolings)


class KerasTensor:
    """The symbolic input of a model (``tf.keras.Input``): a shape with a batch dimension."""

    _node = None          # the functional.Node that produced it (None for an Input)
    _index = 0

    def __init__(self, shape, dtype="float32", name=None):
        self.shape = tuple(None if d is None else int(d) for d in shape)
        self._dtype = _dt.as_dtype(dtype)
        self.name = name

    @property
    def dtype(self) -> str:
        """The dtype's name (``"float32"``), as Keras 3's KerasTensor."""
        return self._dtype.name

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}, name={self.name}>"

    def __bool__(self):
        raise TypeError("A symbolic KerasTensor has no truth value: it stands for a value "
                        "known only when the model runs.")

    # Operators on symbolic tensors become graph nodes (as Keras 3's ops on KerasTensors).
    def _op(self, function, other=None, reverse=False, name=None):
        inputs = (self,) if other is None else ((other, self) if reverse else (self, other))
        return Operation(function, name or function.__name__)(inputs)

    def __add__(self, other):
        return self._op(operator.add, other)

    def __radd__(self, other):
        return self._op(operator.add, other, reverse=True)

    def __sub__(self, other):
        return self._op(operator.sub, other)

    def __rsub__(self, other):
        return self._op(operator.sub, other, reverse=True)

    def __mul__(self, other):
        return self._op(operator.mul, other)

    def __rmul__(self, other):
        return self._op(operator.mul, other, reverse=True)

    def __truediv__(self, other):
        return self._op(operator.truediv, other)

    def __rtruediv__(self, other):
        return self._op(operator.truediv, other, reverse=True)

    def __pow__(self, other):
        return self._op(operator.pow, other)

    def __matmul__(self, other):
        return self._op(operator.matmul, other)

    def __neg__(self):
        return self._op(operator.neg)

    def __getitem__(self, key):
        return Operation(lambda x: x[key], "getitem")((self,))

    def __array__(self, dtype=None, copy=None):
        raise TypeError("A symbolic KerasTensor cannot be converted to a NumPy array: it "
                        "stands for a model input. Call a layer on it, or call the model on "
                        "real data.")


def _leaves(value):
    if isinstance(value, (list, tuple)):
        for item in value:
            yield from _leaves(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    else:
        yield value


class Operation:
    """A function applied to symbolic tensors (``x + y``, ``x[:, 0]``, a ``keras.ops`` call):
    a graph node without weights, replayed on real values by the model."""

    _call_takes_training = False

    def __init__(self, function, name: str):
        self.function = function
        self.name = name
        self._inbound_nodes: list = []
        self._output_shape = None

    def __call__(self, inputs, *args, **kwargs):
        if any(isinstance(t, KerasTensor) for t in _leaves((inputs, args, kwargs))):
            return symbolic_call(self, inputs, args, kwargs)
        return self.function(*inputs, *args, **kwargs)

    def _clear_losses(self) -> None:
        """An operation adds no losses."""


class Node:
    """One call of ``layer`` on symbolic tensors: the call's arguments (with KerasTensors in
    place of values) and its symbolic outputs."""

    def __init__(self, layer, inputs, args, kwargs, outputs):
        self.id = next(_node_ids)
        self.layer = layer
        self.inputs = inputs
        self.args = args
        self.kwargs = kwargs
        self.outputs = outputs

    @property
    def input_tensors(self) -> list:
        return [t for t in _leaves((self.inputs, self.args, list(self.kwargs.values())))
                if isinstance(t, KerasTensor)]


def _probe_value(tensor: KerasTensor, probe: int):
    shape = tuple((_PROBE_SIZES[probe] if i == 0 else _FREE_SIZES[probe]) if d is None else d
                  for i, d in enumerate(tensor.shape))
    return wrap(np.zeros(shape, dtype=tensor._dtype.as_numpy_dtype))


def _substitute(structure, mapping):
    if isinstance(structure, KerasTensor):
        return mapping(structure)
    if isinstance(structure, (list, tuple)):
        return type(structure)(_substitute(item, mapping) for item in structure)
    if isinstance(structure, dict):
        return {key: _substitute(value, mapping) for key, value in structure.items()}
    return structure


def _run(layer, inputs, args, kwargs):
    kwargs = {k: v for k, v in kwargs.items() if v is not None or k not in ("training", "mask")}
    return layer(inputs, *args, **kwargs)


def symbolic_call(layer, inputs, args, kwargs):
    """Call ``layer`` on KerasTensors: build it, record a :class:`Node`, return KerasTensors.
    """
    has_free_axis = any(d is None for t in _leaves((inputs, args, list(kwargs.values())))
                        if isinstance(t, KerasTensor) for d in t.shape[1:])
    probes = (0, 1) if has_free_axis else (0,)
    results = []
    for probe in probes:
        def to_value(tensor, probe=probe):
            return _probe_value(tensor, probe)
        outputs = _run(layer, _substitute(inputs, to_value), _substitute(args, to_value),
                       _substitute(kwargs, to_value))
        results.append(outputs)
        layer._clear_losses()
    batch_unknown = any(t.shape and t.shape[0] is None for t in _leaves(inputs)
                        if isinstance(t, KerasTensor))
    flat = [nest.flatten(r) for r in results]
    symbolic = []
    for index, value in enumerate(flat[0]):
        if not isinstance(value, (Tensor,)) and not hasattr(value, "shape"):
            raise TypeError(f"Layer {layer.name} returned {type(value).__name__} from a "
                            "symbolic call; layers in a functional model must return tensors.")
        shape = list(value.shape)
        if len(flat) > 1:
            other = list(flat[1][index].shape)
            shape = [None if a != b else a for a, b in zip(shape, other)]
        if batch_unknown and shape:
            shape[0] = None
        symbolic.append(KerasTensor(tuple(shape), value.dtype, name=f"keras_tensor_{index}"))
    outputs = nest.pack_sequence_as(results[0], symbolic)
    node = Node(layer, inputs, args, kwargs, outputs)
    for index, tensor in enumerate(symbolic):
        tensor._node = node
        tensor._index = index
    layer._inbound_nodes.append(node)
    layer._output_shape = _shape_structure(outputs)
    return outputs


def _shape_structure(outputs):
    if isinstance(outputs, KerasTensor):
        return outputs.shape
    return tuple(t.shape for t in nest.flatten(outputs))


def build_graph(inputs, outputs):
    """The nodes that compute ``outputs`` from ``inputs``, in execution order."""
    flat_inputs = nest.flatten(inputs)
    for tensor in flat_inputs:
        if not isinstance(tensor, KerasTensor):
            raise ValueError("All `inputs` values must be KerasTensors (from keras.Input). "
                             f"Received: inputs={inputs} including invalid value {tensor} of "
                             f"type {type(tensor)}")
    input_ids = {id(t) for t in flat_inputs}
    nodes: dict = {}
    stack = list(nest.flatten(outputs))
    for tensor in stack:
        if not isinstance(tensor, KerasTensor):
            raise ValueError("All `outputs` values must be KerasTensors (the results of "
                             f"calling layers on keras.Input). Received: {tensor!r}")
    seen = set()
    while stack:
        tensor = stack.pop()
        if id(tensor) in seen:
            continue
        seen.add(id(tensor))
        if id(tensor) in input_ids:
            continue
        node = getattr(tensor, "_node", None)
        if node is None:
            raise ValueError(f"Graph disconnected: cannot find the value of {tensor!r}: it is "
                             "an Input that is not in the model's `inputs`. Add it to "
                             "`inputs`.")
        nodes[node.id] = node
        stack.extend(node.input_tensors)
    return [nodes[key] for key in sorted(nodes)]


def run_graph(model, inputs, training=None):
    """Replay the model's nodes on the values of ``inputs``."""
    flat_specs = model._flat_inputs
    if isinstance(model._inputs_structure, dict) and isinstance(inputs, dict):
        flat_values = [inputs[key] for key in nest.sorted_keys(model._inputs_structure)]
    elif isinstance(inputs, dict) and len(flat_specs) >= 1:
        missing = [t.name for t in flat_specs if t.name not in inputs]
        if missing:
            raise ValueError(f"Missing input(s) {missing} for model {model.name}; the inputs "
                             f"dict has keys {sorted(inputs)}.")
        flat_values = [inputs[t.name] for t in flat_specs]
    else:
        flat_values = nest.flatten(inputs)
    if len(flat_values) != len(flat_specs):
        raise ValueError(f"Layer \"{model.name}\" expects {len(flat_specs)} input(s), but it "
                         f"received {len(flat_values)} input tensors. Inputs received: "
                         f"{[tuple(getattr(v, 'shape', ())) for v in flat_values]}")
    values = {}
    for position, (spec, value) in enumerate(zip(flat_specs, flat_values)):
        value = _as_input(value, spec)
        _check_input_shape(model, position, spec, value)
        values[id(spec)] = value
    for node in model._nodes:
        def lookup(tensor):
            return values[id(tensor)]
        kwargs = dict(node.kwargs)
        if node.layer._call_takes_training and training is not None and \
                kwargs.get("training") is None:
            kwargs["training"] = training
        result = _run(node.layer, _substitute(node.inputs, lookup),
                      _substitute(node.args, lookup), _substitute(kwargs, lookup))
        for tensor, value in zip(nest.flatten(node.outputs), nest.flatten(result)):
            values[id(tensor)] = value
    return nest.map_structure(lambda t: values[id(t)], model._outputs_structure)


def _as_input(value, spec: KerasTensor):
    if isinstance(value, (Tensor, Variable)):
        array_dtype = value.dtype
        if array_dtype != spec._dtype and spec._dtype.is_floating and \
                np.dtype(array_dtype.as_numpy_dtype).kind in "fiub":
            return math_ops.cast(value, spec._dtype)
        return value
    array = np.asarray(value)
    if spec._dtype.is_floating:
        array = array.astype(spec._dtype.as_numpy_dtype)
    return wrap(array)


def _check_input_shape(model, position, spec: KerasTensor, value) -> None:
    shape = tuple(value.shape)
    expected = spec.shape
    if len(shape) != len(expected) or any(e is not None and e != s
                                          for e, s in zip(expected, shape)):
        raise ValueError(f"Input {position} of layer \"{model.name}\" is incompatible with the "
                         f"layer: expected shape={expected}, found shape={shape}")
