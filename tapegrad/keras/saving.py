"""``tf.keras.saving``: serializing objects to configs and back, custom-object registration,
and the functional model's config (its layers and the calls between them).

>>> import tapegrad as tf
>>> @tf.keras.saving.register_keras_serializable(package="demo")
... class Twice(tf.keras.layers.Layer):
...     def call(self, x):
...         return 2 * x
>>> config = tf.keras.saving.serialize_keras_object(Twice(name="t"))
>>> config["registered_name"]
'demo>Twice'
>>> type(tf.keras.saving.deserialize_keras_object(config)).__name__
'Twice'
"""

from __future__ import annotations

from tapegrad._core import nest
from tapegrad.keras import initializers, layers, losses, metrics, optimizers, regularizers
from tapegrad.keras.object_registry import (
    _GLOBAL_CUSTOM_NAMES,
    BUILTINS,
    CustomObjectScope,
    custom_object_scope,
    get_custom_objects,
    get_registered_name,
    get_registered_object,
    register_keras_serializable,
)

__all__ = ["register_keras_serializable", "get_custom_objects", "custom_object_scope",
           "CustomObjectScope", "serialize_keras_object", "deserialize_keras_object",
           "get_registered_name", "get_registered_object"]

_InputLayer = layers.InputLayer
_PUBLIC_MODULES = {"tapegrad.keras.models": "keras", "tapegrad.keras.layers": "keras.layers",
                   "tapegrad.keras.losses": "keras.losses",
                   "tapegrad.keras.metrics": "keras.metrics",
                   "tapegrad.keras.optimizers": "keras.optimizers",
                   "tapegrad.keras.initializers": "keras.initializers",
                   "tapegrad.keras.regularizers": "keras.regularizers"}


def _module_of(obj) -> str:
    module = type(obj).__module__
    return _PUBLIC_MODULES.get(module, module)


def serialize_keras_object(obj):
    """``{"module", "class_name", "config", "registered_name"}`` for a Keras object; plain
    Python values are returned as they are, functions as their registered name."""
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, (list, tuple)):
        return [serialize_keras_object(item) for item in obj]
    if isinstance(obj, dict):
        return {key: serialize_keras_object(value) for key, value in obj.items()}
    if callable(obj) and not hasattr(obj, "get_config"):
        return get_registered_name(obj)
    cls = type(obj)
    registered = _GLOBAL_CUSTOM_NAMES.get(cls)
    config = {"module": _module_of(obj), "class_name": cls.__name__,
              "config": obj.get_config(), "registered_name": registered or cls.__name__}
    build_shape = getattr(obj, "_build_shapes", None)
    if build_shape is not None and not isinstance(build_shape, dict):
        config["build_config"] = {"input_shape": _jsonable(build_shape)}
    return config


def _jsonable(shape):
    if isinstance(shape, (list, tuple)):
        return [_jsonable(item) for item in shape]
    return shape


def _find_class(config: dict, custom_objects):
    name = config.get("registered_name") or config["class_name"]
    found = get_registered_object(name, custom_objects) or \
        get_registered_object(config["class_name"], custom_objects)
    if found is not None:
        return found
    if config["class_name"] in BUILTINS:
        return BUILTINS[config["class_name"]]
    for module in (layers, losses, metrics, optimizers, initializers, regularizers):
        found = getattr(module, config["class_name"], None)
        if isinstance(found, type):
            return found
    raise TypeError(f"Could not locate class '{config['class_name']}'. Make sure custom classes "
                    "are decorated with `@keras.saving.register_keras_serializable()` or passed "
                    f"in `custom_objects`. Full object config: {config}")


def deserialize_keras_object(config, custom_objects=None, safe_mode=True, **kwargs):
    """The object described by :func:`serialize_keras_object`'s output."""
    if config is None or isinstance(config, (bool, int, float)):
        return config
    if isinstance(config, str):
        found = get_registered_object(config, custom_objects)
        if found is None:
            raise ValueError(f"Could not interpret serialized object {config!r}: register it "
                             "or pass it in custom_objects.")
        return found
    if isinstance(config, (list, tuple)):
        return [deserialize_keras_object(item, custom_objects) for item in config]
    if "class_name" not in config:
        return config
    cls = _find_class(config, custom_objects)
    inner = config.get("config", {})
    from_config = getattr(cls, "from_config", None)
    with CustomObjectScope(custom_objects or {}):
        if from_config is None:
            return cls(**inner)
        try:
            obj = cls.from_config(inner, custom_objects=custom_objects)
        except TypeError:
            obj = cls.from_config(inner)
        build_config = config.get("build_config")
        if build_config and not getattr(obj, "built", True) and \
                type(obj).build is not _base_build():
            obj.build(_tuple_shape(build_config["input_shape"]))
            obj.built = True
        return obj


def _base_build():
    return layers.Layer.build


def _tuple_shape(shape):
    if isinstance(shape, list) and shape and isinstance(shape[0], list):
        return tuple(_tuple_shape(item) for item in shape)
    return tuple(shape)


# -- functional models ------------------------------------------------------------------------

def _tensor_ref(tensor, node_index_of) -> dict:
    if not isinstance(tensor, layers.KerasTensor):
        return tensor
    if tensor._node is None:
        layer = tensor._input_layer
        history = [layer.name, 0, 0]
    else:
        history = [tensor._node.layer.name, node_index_of[id(tensor._node)], tensor._index]
    return {"class_name": "__keras_tensor__",
            "config": {"shape": list(tensor.shape), "dtype": tensor.dtype,
                       "keras_history": history}}


def _map_tensors(structure, fn):
    if isinstance(structure, layers.KerasTensor):
        return fn(structure)
    if isinstance(structure, dict) and structure.get("class_name") == "__keras_tensor__":
        return fn(structure)
    if isinstance(structure, (list, tuple)):
        return [_map_tensors(item, fn) for item in structure]
    if isinstance(structure, dict):
        return {key: _map_tensors(value, fn) for key, value in structure.items()}
    return structure


def functional_config(model) -> dict:
    """Keras 3's functional config: every layer with its inbound calls, inputs, outputs."""
    node_index_of = {}
    for layer in model.layers:
        for index, node in enumerate(layer._inbound_nodes):
            node_index_of[id(node)] = index
    operations = [node.layer.name for node in model._nodes
                  if not isinstance(node.layer, layers.Layer)]
    if operations:
        raise NotImplementedError(
            f"Model {model.name} applies operations directly to symbolic tensors "
            f"({', '.join(operations)}), which tapegrad cannot serialize; wrap them in layers "
            "(layers.Add, layers.Lambda or a custom Layer with get_config).")
    model_nodes = {id(node) for node in model._nodes}
    layer_configs = []
    for layer in model.layers:
        entry = serialize_keras_object(layer)
        entry["name"] = layer.name
        inbound = []
        for node in layer._inbound_nodes:
            if id(node) not in model_nodes:
                continue
            kwargs = {k: v for k, v in node.kwargs.items() if v is not None}
            inbound.append({"args": _map_tensors([node.inputs, *node.args],
                                                 lambda t: _tensor_ref(t, node_index_of)),
                            "kwargs": _map_tensors(kwargs,
                                                   lambda t: _tensor_ref(t, node_index_of))})
        entry["inbound_nodes"] = inbound
        layer_configs.append(entry)

    def refs(structure):
        return _map_tensors(structure,
                            lambda t: _tensor_ref(t, node_index_of)["config"]["keras_history"])
    return {"name": model.name, "trainable": model.trainable, "layers": layer_configs,
            "input_layers": refs(model._inputs_structure),
            "output_layers": refs(model._outputs_structure)}


def functional_from_config(cls, config: dict, custom_objects=None, layers=None):
    """Rebuild a functional model: create each layer (or take it from ``layers`` by name),
    then replay the recorded calls."""
    given, built, outputs_of = layers or {}, {}, {}
    for entry in config["layers"]:
        layer = given.get(entry["name"]) or deserialize_keras_object(entry, custom_objects)
        built[entry["name"]] = layer
        if isinstance(layer, _InputLayer):
            outputs_of[(layer.name, 0)] = layer.output
    pending = [entry for entry in config["layers"] if entry.get("inbound_nodes")]
    node_counts = {name: 0 for name in built}
    progress = True
    while pending and progress:
        progress = False
        for entry in list(pending):
            name = entry["name"]
            while node_counts[name] < len(entry["inbound_nodes"]):
                node = entry["inbound_nodes"][node_counts[name]]
                try:
                    args = _map_tensors(node["args"], lambda ref: _resolve(ref, outputs_of))
                    kwargs = _map_tensors(node["kwargs"], lambda ref: _resolve(ref, outputs_of))
                except KeyError:
                    break
                result = built[name](*args, **kwargs)
                outputs_of[(name, node_counts[name])] = result
                node_counts[name] += 1
                progress = True
            if node_counts[name] == len(entry["inbound_nodes"]):
                pending.remove(entry)
    if pending:
        raise ValueError("Could not rebuild the functional model: the calls of layers "
                         f"{[e['name'] for e in pending]} refer to tensors never produced.")

    def history(ref):
        name, node_index, tensor_index = ref
        return nest.flatten(outputs_of[(name, node_index)])[tensor_index]
    inputs = _map_history(config["input_layers"], history)
    outputs = _map_history(config["output_layers"], history)
    return cls(inputs=inputs, outputs=outputs, name=config.get("name"))


def _map_history(structure, fn):
    if isinstance(structure, list) and len(structure) == 3 and isinstance(structure[0], str):
        return fn(structure)
    if isinstance(structure, list):
        return [_map_history(item, fn) for item in structure]
    if isinstance(structure, dict):
        return {key: _map_history(value, fn) for key, value in structure.items()}
    return structure


def _resolve(ref, outputs_of):
    name, node_index, tensor_index = ref["config"]["keras_history"]
    return nest.flatten(outputs_of[(name, node_index)])[tensor_index]
