"""Models: subclassable :class:`Model` and :class:`Sequential` (``tf.keras.Model``).

There is no ``compile``/``fit``: the custom ``GradientTape`` loop is the product. A model is a
layer whose weights are those of the layers assigned to it, built lazily on its first call.

>>> import tapegrad as tf
>>> model = tf.keras.Sequential([tf.keras.layers.Dense(4, activation="relu"),
...                              tf.keras.layers.Dense(2)])
>>> model(tf.ones([3, 5])).shape
TensorShape([3, 2])
>>> len(model.trainable_variables)
4
"""

from __future__ import annotations

from tapegrad._core.backend import np
from tapegrad._core.tensor import _to_array, _wrap
from tapegrad.keras.layers import InputLayer, KerasTensor, Layer

__all__ = ["Model", "Sequential"]


class Model(Layer):
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

    def __init__(self, *args, **kwargs):
        if args or "inputs" in kwargs or "outputs" in kwargs:
            raise NotImplementedError(
                "The functional API (Model(inputs, outputs)) is not supported by tapegrad; "
                "subclass tapegrad.keras.Model or use tapegrad.keras.Sequential.")
        super().__init__(**kwargs)

    def build(self, input_shape) -> None:
        self.built = True

    # -- inference helpers ------------------------------------------------------------------
    def predict(self, x, batch_size: int = 32, verbose="auto", steps=None, callbacks=None):
        """Run the model in inference mode over ``x`` in batches; returns a NumPy array."""
        array = np.asarray(_to_array(x))
        outputs = [np.asarray(_to_array(self(_wrap(array[i:i + batch_size]), training=False)))
                   for i in range(0, array.shape[0], batch_size)]
        return np.concatenate(outputs, axis=0)

    def compile(self, *args, **kwargs):
        raise NotImplementedError("tapegrad.keras has no compile()/fit(): write the training "
                                  "step with tapegrad.GradientTape and an optimizer's "
                                  "apply_gradients (see tapegrad.examples.digits).")

    fit = evaluate = compile

    # -- weights files ------------------------------------------------------------------------
    def save_weights(self, filepath, overwrite: bool = True) -> None:
        """Write every weight to ``filepath`` (a NumPy ``.npz`` archive, written atomically)."""
        import os

        from tapegrad import train
        if not overwrite and os.path.exists(filepath):
            raise FileExistsError(f"{filepath} exists; pass overwrite=True to replace it.")
        train._write_arrays(os.fspath(filepath), train._object_arrays(self, "model"))

    def load_weights(self, filepath, skip_mismatch: bool = False) -> None:
        """Load weights written by :meth:`save_weights`; every name, shape and dtype is checked
        before any weight changes."""
        import os

        from tapegrad import train
        train._load_weights(self, os.fspath(filepath))

    # -- summary ------------------------------------------------------------------------------
    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False,
                show_trainable=False, layer_range=None) -> None:
        """Print a table of the layers, their output shapes and parameter counts."""
        print_fn = print_fn or print
        width = line_length or 80
        cols = [int(width * 0.42), int(width * 0.3)]
        rows = []
        for layer in self._summary_layers():
            shape = layer._output_shape
            shape_text = "?" if shape is None else str(_batchless(shape, self))
            rows.append((f"{layer.name} ({type(layer).__name__})", shape_text,
                         layer.count_params() if layer.built else 0))
        lines = [f'Model: "{self.name}"', "━" * width,
                 f"{'Layer (type)':<{cols[0]}}{'Output Shape':<{cols[1]}}"
                 f"{'Param #':>{width - cols[0] - cols[1]}}", "━" * width]
        for i, (name, shape, count) in enumerate(rows):
            lines.append(f"{name:<{cols[0]}}{shape:<{cols[1]}}"
                         f"{count:>{width - cols[0] - cols[1]},}")
            lines.append("─" * width if i < len(rows) - 1 else "━" * width)
        total = self.count_params() if self.built else 0
        trainable = int(sum(int(np.prod(v._value.shape)) for v in self.trainable_weights))
        nbytes = int(sum(v._value.nbytes for v in self.weights))
        tbytes = int(sum(v._value.nbytes for v in self.trainable_weights))
        lines += [f" Total params: {total:,} ({_size(nbytes)})",
                  f" Trainable params: {trainable:,} ({_size(tbytes)})",
                  f" Non-trainable params: {total - trainable:,} ({_size(nbytes - tbytes)})"]
        if not self.built:
            lines.append(" (the model is not built yet: call it on a batch first)")
        print_fn("\n".join(lines))

    def _summary_layers(self):
        return [layer for layer in self._layers if not isinstance(layer, InputLayer)]


def _batchless(shape, model):
    if isinstance(model, Sequential) and shape and isinstance(shape[0], int):
        return (None,) + tuple(shape[1:])
    return tuple(shape)


def _size(nbytes: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if nbytes < 1024 or unit == "GB":
            return f"{nbytes:.2f} {unit}"
        nbytes /= 1024
    return f"{nbytes:.2f} GB"


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
        shape = tuple(1 if d is None else d for d in self._input_spec.shape)
        dtype = self._input_spec.dtype._np
        self(_wrap(np.zeros(shape, dtype=dtype)), training=False)

    def call(self, inputs, training=None, mask=None):
        x = inputs
        for layer in self._layers:
            if layer._call_takes_training:
                x = layer(x, training=training)
            else:
                x = layer(x)
        return x

    def get_config(self) -> dict:
        return {"name": self.name, "layers": [
            {"class_name": type(layer).__name__, "config": layer.get_config()}
            for layer in self.layers]}

