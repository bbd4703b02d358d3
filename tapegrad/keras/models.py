"""Models (``tf.keras.Model``): subclassed, functional (``Model(inputs, outputs)``) and
:class:`Sequential`, with ``compile``/``fit`` (see :mod:`tapegrad.keras.trainer`).

A model is a layer whose weights are those of the layers assigned to it.

>>> import tapegrad as tf
>>> model = tf.keras.Sequential([tf.keras.layers.Dense(4, activation="relu"),
...                              tf.keras.layers.Dense(2)])
>>> model(tf.ones([3, 5])).shape
TensorShape([3, 2])
>>> len(model.trainable_variables)
4
"""

from __future__ import annotations

from tapegrad._core import nest
from tapegrad.keras import functional, object_registry
from tapegrad.keras import summary as summary_module
from tapegrad.keras.layers import InputLayer, KerasTensor, Layer, _unique_name
from tapegrad.keras.trainer import Trainer

__all__ = ["Model", "Sequential", "Functional", "model_from_json", "clone_model", "load_model",
           "save_model"]


class Model(Trainer, Layer):
    """A layer made of layers: subclass it, create layers in ``__init__`` and use them in
    ``call(inputs, training=None)``.

    >>> import tapegrad as tf
    >>> class MLP(tf.keras.Model):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.hidden = tf.keras.layers.Dense(8, activation="relu")
    ...         self.out = tf.keras.layers.Dense(3)
    ...     def call(self, x, training=False):
    ...         return self.out(self.hidden(x))
    >>> model = MLP()
    >>> model(tf.zeros([2, 4])).shape
    TensorShape([2, 3])
    >>> [v.path for v in model.trainable_variables][0].endswith("/kernel")
    True
    """

    _is_graph = False

    def __init__(self, *args, **kwargs):
        if args or "inputs" in kwargs or "outputs" in kwargs:
            names = ("inputs", "outputs")
            given = dict(zip(names, args))
            for key in names:
                if key in kwargs:
                    given[key] = kwargs.pop(key)
            if set(given) != set(names):
                raise ValueError("A functional model needs both `inputs` and `outputs`: "
                                 "keras.Model(inputs=..., outputs=...).")
            name = kwargs.pop("name", None)
            super().__init__(name=name if name is not None else _unique_name("functional"),
                             **kwargs)
            self._init_graph(given["inputs"], given["outputs"])
            return
        super().__init__(**kwargs)

    def _init_graph(self, inputs, outputs) -> None:
        if isinstance(inputs, list) and len(inputs) == 1 and isinstance(inputs[0], KerasTensor):
            inputs = inputs[0]
        nodes = functional.build_graph(inputs, outputs)
        object.__setattr__(self, "_is_graph", True)
        object.__setattr__(self, "_nodes", nodes)
        object.__setattr__(self, "_inputs_structure", inputs)
        object.__setattr__(self, "_outputs_structure", outputs)
        object.__setattr__(self, "_flat_inputs", nest.flatten(inputs))
        input_layers = [getattr(t, "_input_layer", None) for t in self._flat_inputs]
        for layer in input_layers + [node.layer for node in nodes]:
            if isinstance(layer, Layer) and not any(layer is seen for seen in self._layers):
                self._layers.append(layer)
        self.built = True
        self._output_shape = functional._shape_structure(outputs)

    @property
    def inputs(self):
        return list(self._flat_inputs) if self._is_graph else None

    @property
    def outputs(self):
        return nest.flatten(self._outputs_structure) if self._is_graph else None

    @property
    def input(self):
        return self._inputs_structure if self._is_graph else None

    @property
    def output(self):
        return self._outputs_structure if self._is_graph else None

    @property
    def input_names(self) -> list:
        return [t.name for t in self._flat_inputs] if self._is_graph else []

    @property
    def output_names(self) -> list:
        if not self._is_graph:
            return []
        if isinstance(self._outputs_structure, dict):
            return list(nest.sorted_keys(self._outputs_structure))
        return [t._node.layer.name if t._node is not None else t.name
                for t in nest.flatten(self._outputs_structure)]

    def call(self, inputs, training=None, mask=None):
        if not self._is_graph:
            raise NotImplementedError(f"Model {type(self).__name__} must implement call() "
                                      "(or be built with keras.Model(inputs, outputs)).")
        return functional.run_graph(self, inputs, training=training)

    def build(self, input_shape) -> None:
        self.built = True

    def get_layer(self, name=None, index=None):
        """The layer called ``name`` (or at position ``index`` of :attr:`layers`)."""
        if index is not None and name is not None:
            raise ValueError("Provide only a layer name or a layer index. Received: "
                             f"index={index}, name={name}.")
        if index is not None:
            if len(self.layers) <= index:
                raise ValueError(f"Was asked to retrieve layer at index {index} but model only "
                                 f"has {len(self.layers)} layers.")
            return self.layers[index]
        if name is not None:
            for layer in self.layers:
                if layer.name == name:
                    return layer
            raise ValueError(f"No such layer: {name}. Existing layers are: "
                             f"{[layer.name for layer in self.layers]}.")
        raise ValueError("Provide either a layer name or layer index at `get_layer`.")

    def get_config(self) -> dict:
        if not self._is_graph:
            return super().get_config()
        from tapegrad.keras import saving
        return saving.functional_config(self)

    @classmethod
    def from_config(cls, config: dict, custom_objects=None):
        if "layers" in config and "input_layers" in config:
            from tapegrad.keras import saving
            return saving.functional_from_config(cls, config, custom_objects)
        return cls(**config)

    def to_json(self, **kwargs) -> str:
        """The model's architecture as JSON (rebuild it with ``keras.models.model_from_json``).
        """
        import json

        from tapegrad.keras import saving
        return json.dumps(saving.serialize_keras_object(self), **kwargs)

    # -- weights and model files -----------------------------------------------------------
    def save_weights(self, filepath, overwrite: bool = True) -> None:
        """Write every weight to ``filepath``: a Keras 3 ``.weights.h5`` file (needs h5py,
        ``tapegrad[keras-files]``) or a NumPy ``.npz`` archive (needs nothing more); written
        atomically. Any other name is refused, as Keras 3 refuses it."""
        import os

        from tapegrad.training import checkpoint as train
        if str(filepath).endswith(".weights.h5"):
            from tapegrad.keras import h5_weights
            h5_weights.save_weights(self, filepath, overwrite=overwrite)
            return
        if not str(filepath).endswith(".npz"):
            raise ValueError(f"The filename must end in `.weights.h5`. Received: "
                             f"filepath={filepath} (tapegrad also writes NumPy `.npz` weights "
                             "files, which need no h5py).")
        if not overwrite and os.path.exists(filepath):
            raise FileExistsError(f"{filepath} exists; pass overwrite=True to replace it.")
        train._write_arrays(os.fspath(filepath), train._object_arrays(self, "model"))

    def load_weights(self, filepath, skip_mismatch: bool = False) -> None:
        """Load weights from a ``.weights.h5`` or ``.keras`` file (Keras 3's formats) or a
        ``.npz`` archive from :meth:`save_weights`; every name, shape and dtype is checked
        before any weight changes."""
        import os

        from tapegrad.keras import keras_file
        from tapegrad.training import checkpoint as train
        if keras_file.is_keras_weights(filepath):
            keras_file.load_weights(self, filepath, skip_mismatch=skip_mismatch)
            return
        train._load_weights(self, os.fspath(filepath))

    def save(self, filepath, overwrite: bool = True, zipped=None, **kwargs) -> None:
        """Save the architecture, weights and optimizer state to a Keras 3 ``.keras`` file
        (load it with ``keras.models.load_model``, here or in Keras)."""
        from tapegrad.keras import keras_file
        keras_file.save_model(self, filepath, overwrite=overwrite, zipped=zipped, **kwargs)

    # -- summary ------------------------------------------------------------------------------
    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False,
                show_trainable=False, layer_range=None) -> None:
        """Print a table of the layers, their output shapes and parameter counts (and, for a
        functional model that is not a chain, what each layer is connected to)."""
        lines = summary_module.summary_lines(self, summary_module.layers_of(self),
                                             sequential=isinstance(self, Sequential))
        (print_fn or print)("\n".join(lines))


class Sequential(Model):
    """A plain stack of layers, each feeding the next.

    A first ``tf.keras.Input(shape)`` (or a first layer given ``input_shape=``) builds the
    model at once; otherwise it is built on its first call.

    >>> import tapegrad as tf
    >>> model = tf.keras.Sequential([tf.keras.Input(shape=(3,)), tf.keras.layers.Dense(2)])
    >>> model.built, model.count_params()
    (True, 8)
    """

    def __init__(self, layers=None, trainable: bool = True, name=None, **kwargs):
        super().__init__(trainable=trainable, name=name, **kwargs)
        self._input_spec = None
        for layer in layers or ():
            self.add(layer, rebuild=False)
        self._maybe_build_from_input()

    def add(self, layer, rebuild: bool = True) -> None:
        """Append a layer (a ``tf.keras.Input`` first fixes the input shape)."""
        if isinstance(layer, KerasTensor):
            if self._layers:
                raise ValueError("tf.keras.Input can only be the first element of a "
                                 "Sequential model.")
            self._input_spec = layer
            return
        if not isinstance(layer, Layer):
            raise ValueError("Only instances of `keras.Layer` can be added to a Sequential "
                             f"model. Received: {layer!r} (of type {type(layer)})")
        if self._input_spec is None and not self._layers and layer._input_shape_arg:
            self._input_spec = KerasTensor((None,) + layer._input_shape_arg)
        self._layers.append(layer)
        self.built = False
        if rebuild:
            self._maybe_build_from_input()

    def pop(self):
        layer = self._layers.pop()
        self.built = False
        return layer

    @property
    def layers(self) -> list:
        return [layer for layer in self._layers if not isinstance(layer, InputLayer)]

    def _maybe_build_from_input(self):
        if self._input_spec is None or not self._layers:
            return
        x = self._input_spec      # a symbolic pass: builds the layers, records their shapes
        for layer in self._layers:
            x = layer(x)
        self.built = True
        self._build_shapes = self._input_spec.shape
        self._output_shape = functional._shape_structure(x)

    def call(self, inputs, training=None, mask=None):
        if self._input_spec is not None and hasattr(inputs, "shape"):
            functional._check_input_shape(self, 0, self._input_spec, inputs)
        x = inputs
        for layer in self._layers:
            if layer._call_takes_training:
                x = layer(x, training=training)
            else:
                x = layer(x)
        return x

    def get_config(self) -> dict:
        from tapegrad.keras import saving
        layers = [saving.serialize_keras_object(layer) for layer in self.layers]
        if self._input_spec is not None:
            layers.insert(0, saving.serialize_keras_object(
                getattr(self._input_spec, "_input_layer", None)
                or InputLayer(batch_shape=self._input_spec.shape)))
        return {"name": self.name, "trainable": self.trainable, "dtype": self.dtype,
                "layers": layers}

    @classmethod
    def from_config(cls, config: dict, custom_objects=None):
        from tapegrad.keras import saving
        model = cls(name=config.get("name"), trainable=config.get("trainable", True))
        for layer_config in config["layers"]:
            layer = saving.deserialize_keras_object(layer_config, custom_objects)
            model.add(layer.output if isinstance(layer, InputLayer) else layer)
        return model


Functional = Model
object_registry.BUILTINS.update(Model=Model, Functional=Model, Sequential=Sequential)



def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):  # noqa: A002
    """The model in a Keras 3 ``.keras`` file (see :mod:`tapegrad.keras.keras_file`)."""
    from tapegrad.keras import keras_file
    return keras_file.load_model(filepath, custom_objects=custom_objects, compile=compile,
                                 safe_mode=safe_mode)


def save_model(model, filepath, overwrite=True, zipped=None, **kwargs) -> None:
    """``model.save(filepath)``: a Keras 3 ``.keras`` file."""
    model.save(filepath, overwrite=overwrite, zipped=zipped, **kwargs)


def model_from_json(json_string: str, custom_objects=None):
    """The (unbuilt-weights) model described by ``model.to_json()``.

    >>> import tapegrad as tf
    >>> model = tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.Dense(2)])
    >>> clone = tf.keras.models.model_from_json(model.to_json())
    >>> clone.count_params()
    8
    """
    import json

    from tapegrad.keras import saving
    return saving.deserialize_keras_object(json.loads(json_string), custom_objects)


def clone_model(model, input_tensors=None, clone_function=None, call_function=None,
                recursive=False, **kwargs):
    """A new model with the same architecture and freshly initialised weights (layers
    rebuilt from their configs; ``clone_function(layer)`` may replace the rebuilding).

    >>> import tapegrad as tf
    >>> model = tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.Dense(2)])
    >>> tf.keras.models.clone_model(model).count_params()
    8
    """
    from tapegrad.keras import saving
    if isinstance(model, Sequential):
        clone = Sequential(name=model.name)
        if model._input_spec is not None:
            clone.add(_fresh_input(model._input_spec))
        for layer in model.layers:
            clone.add(_clone_layer(layer, clone_function))
        return clone
    if model._is_graph:
        if clone_function is None:
            return type(model).from_config(model.get_config())
        config = saving.functional_config(model)
        rebuilt = {layer.name: _clone_layer(layer, clone_function) for layer in model.layers
                   if not isinstance(layer, InputLayer)}
        return saving.functional_from_config(type(model), config,
                                             custom_objects=None, layers=rebuilt)
    raise ValueError("clone_model() works on Sequential and functional models; a subclassed "
                     f"model ({type(model).__name__}) cannot be cloned from its config. "
                     "Create a new instance of the class instead.")


def _clone_layer(layer, clone_function):
    if clone_function is not None:
        return clone_function(layer)
    return type(layer).from_config(layer.get_config())


def _fresh_input(spec):
    from tapegrad.keras.layers import Input
    return Input(batch_shape=spec.shape, dtype=spec.dtype)
