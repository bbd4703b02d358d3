"""Keras 3's ``.keras`` model files: ``model.save("m.keras")`` and
``keras.models.load_model("m.keras")``, readable and writable by real Keras 3 (needs h5py:
``pip install 'tapegrad[keras-files]'``).

A ``.keras`` file is a zip archive holding ``config.json`` (the model's
``serialize_keras_object`` config, with its ``build_config`` and ``compile_config``),
``metadata.json`` (the Keras version, the date) and ``model.weights.h5`` (the weights in the
layout of :mod:`tapegrad.keras.h5_weights`).

Loading is safe (Keras's ``safe_mode``): nothing is unpickled and no code from the file runs.
A config naming a ``Lambda`` layer, a serialized Python function or a class that is neither
built in nor registered (``register_keras_serializable``/``custom_objects``) is refused before
any object is created, with a clear error. The archive is checked before it is read: a
truncated or damaged zip, an encrypted or oddly compressed member, or members larger than
their limits (the config, or weights bigger than the model can hold) are refused in bounded
time and memory.

>>> import os, tempfile
>>> import tapegrad as tf
>>> model = tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.Dense(2)])
>>> path = os.path.join(tempfile.mkdtemp(), "m.keras")
>>> model.save(path)
>>> clone = tf.keras.models.load_model(path)
>>> bool((clone(tf.ones([1, 3])).numpy() == model(tf.ones([1, 3])).numpy()).all())
True
"""

from __future__ import annotations

import contextlib
import datetime
import inspect
import io
import json
import os
import stat
import warnings
import zipfile
import zlib

from tapegrad._core.backend import np
from tapegrad._core.tensor import array_of
from tapegrad.keras import h5_weights

__all__ = ["save_model", "load_model", "load_weights", "save_weights", "is_keras_weights",
           "from_keras_config", "to_keras_config"]

CONFIG, METADATA, WEIGHTS = "config.json", "metadata.json", "model.weights.h5"
KERAS_VERSION = "3.15.1"            # the Keras of TensorFlow 2.21, whose format is written
_MAX_CONFIG = 64 << 20               # bytes of config.json / metadata.json
_WEIGHTS_SLACK = 16 << 20            # HDF5 bookkeeping allowed beyond the weights' bytes
_READ_CHUNK = 1 << 20
_MAX_EXPANSION = 100                 # how far a compressed weights member may inflate
_MAX_PROBE_ELEMENTS = 1 << 28        # of an input tensor built from a config (1 GiB float32)
_MAX_OBJECTS = 100_000               # layers, initializers... in one config
_ZIP_DAMAGE = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, OSError, EOFError,
               KeyError, RuntimeError, NotImplementedError, ValueError)


# -- reading the archive ----------------------------------------------------------------------

class _KerasArchive:
    """A ``.keras`` zip opened for reading, its directory checked when it opens."""

    def __init__(self, path: str):
        self.path = path
        try:
            info = os.stat(path)
        except FileNotFoundError:
            raise FileNotFoundError(f"File not found: filepath={path}. Please ensure the "
                                    "file is an accessible `.keras` zip file.") from None
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(f"{path} is not a regular file, so not a .keras model file.")
        self._size = info.st_size
        self._file = open(path, "rb")   # noqa: SIM115 - closed by close()
        self._zip = None
        try:
            try:
                self._zip = zipfile.ZipFile(self._file)
            except _ZIP_DAMAGE as error:
                raise self._damaged(f"it is not a valid zip archive ({error})") from None
            self._members = self._directory()
        except BaseException:
            self.close()
            raise

    def _damaged(self, what: str) -> ValueError:
        return ValueError(f"Cannot load {self.path}: {what}. A .keras file is a zip archive "
                          f"holding {CONFIG}, {METADATA} and {WEIGHTS} (as written by "
                          "model.save); the file may be truncated or damaged. Nothing was "
                          "loaded.")

    def _directory(self) -> dict:
        members = {}
        for info in self._zip.infolist():
            name = info.filename
            if name in members:
                raise self._damaged(f"member {name!r} appears twice")
            if info.flag_bits & 0x61:
                raise self._damaged(f"member {name!r} is encrypted or patched")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise self._damaged(f"member {name!r} uses an unsupported compression method")
            if info.compress_size > self._size or (info.compress_type == zipfile.ZIP_STORED
                                                   and info.compress_size != info.file_size):
                raise self._damaged(f"member {name!r} declares sizes the file cannot hold")
            members[name] = info
        if WEIGHTS not in members and "model.weights.npz" in members:
            raise ValueError(f"Cannot load {self.path}: its weights are stored as "
                             "model.weights.npz (Keras's weights_format='npz'), which tapegrad "
                             "does not read; save the model with Keras's default format.")
        for required in (CONFIG, WEIGHTS):
            if required not in members:
                found = sorted(members)[:10]
                raise self._damaged(f"it has no {required} (members: {found})")
        return members

    def read(self, name: str, limit: int, why: str) -> bytes:
        """The member's bytes; refused when it declares (or inflates to) more than ``limit``.
        """
        info = self._members.get(name)
        if info is None:
            return b""
        if info.file_size > limit:
            raise self._damaged(f"member {name!r} declares {info.file_size} bytes, more than "
                                f"{limit} ({why})")
        data = bytearray()
        try:
            with self._zip.open(info) as member:
                # zipfile checks the CRC when the declared end is reached
                while len(data) <= limit:
                    chunk = member.read(min(_READ_CHUNK, limit + 1 - len(data)))
                    if not chunk:
                        break
                    data += chunk
        except _ZIP_DAMAGE as error:
            raise self._damaged(f"member {name!r}: {type(error).__name__}: {error}") from None
        if len(data) > limit:
            raise self._damaged(f"member {name!r} inflates to more than {limit} bytes ({why})")
        return bytes(data)

    def weights_budget(self) -> int:
        """The most bytes of weights the archive's weights file can hold: its declared size,
        and no more than a hundred times what it takes in the archive (compressed)."""
        info = self._members[WEIGHTS]
        return min(info.file_size, _MAX_EXPANSION * info.compress_size + _WEIGHTS_SLACK)

    def read_json(self, name: str):
        raw = self.read(name, _MAX_CONFIG, "a model config is far smaller")
        if raw.count(b'"class_name"') > _MAX_OBJECTS:      # bounds the time to build it
            raise self._damaged(f"{name} describes more than {_MAX_OBJECTS} objects")
        try:
            return json.loads(raw.decode("utf-8")) if raw else {}
        except (UnicodeDecodeError, ValueError, RecursionError) as error:
            raise self._damaged(f"{name} is not valid JSON ({error})") from None

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()
        self._file.close()


@contextlib.contextmanager
def _weights_budget(nbytes: int):
    """Layers built inside may create at most ``nbytes`` of weights (checked before each is
    allocated), so a crafted config cannot exhaust memory."""
    from tapegrad.keras import layers
    state = layers._call_state
    saved, state.weight_bytes_left = state.weight_bytes_left, nbytes
    try:
        yield
    finally:
        state.weight_bytes_left = saved


def _weights_limit(model) -> int:
    """The most bytes a weights file for ``model`` needs: its weights, an optimizer state
    up to three times as large, and the HDF5 bookkeeping."""
    nbytes = sum(int(array_of(v).nbytes) for v in model.weights)
    return 4 * nbytes + _WEIGHTS_SLACK


# -- safe mode: what a config may name --------------------------------------------------------

_CODE_MARKERS = ("Lambda", "__lambda__", "__python_function__", "__bytes__")
_NOT_OBJECTS = ("__keras_tensor__", "DTypePolicy", "FloatDTypePolicy", "function")


def _kerasy_bases() -> tuple:
    from tapegrad.keras import initializers, layers, losses, metrics, optimizers, regularizers
    return (layers.Layer, optimizers.Optimizer, optimizers.LearningRateSchedule, losses.Loss,
            metrics.Metric, initializers.Initializer, regularizers.Regularizer)


def _resolve(config: dict, custom_objects):
    """(class, custom?) for an object config, or (None, False) when nothing safe matches.
    Only registered objects and tapegrad's own Keras classes qualify; no module is imported.
    """
    from tapegrad.keras import (
        initializers,
        layers,
        losses,
        metrics,
        object_registry,
        optimizers,
        regularizers,
    )
    name, registered = config.get("class_name"), config.get("registered_name")
    for key in (registered, name):
        if key:
            found = object_registry.get_registered_object(key, custom_objects)
            if found is not None:
                return found, True
    if not isinstance(name, str) or (registered and ">" in str(registered)):
        return None, False
    module = str(config.get("module") or "")
    places = {"initializers": (initializers,), "regularizers": (regularizers,),
              "optimizers": (optimizers,), "losses": (losses,), "metrics": (metrics,)}
    search = next((where for key, where in places.items() if key in module),
                  (layers, losses, metrics, optimizers, initializers, regularizers))
    candidates = [object_registry.BUILTINS.get(name)] + [getattr(m, name, None) for m in search]
    for found in candidates:
        if isinstance(found, type) and issubclass(found, _kerasy_bases()):
            return found, False
    return None, False


def _vet(config, safe_mode: bool, custom_objects, where: str = "config") -> None:
    """Refuse, before anything is built, any part of the config that would run code from
    the file or that names a class that is neither tapegrad's nor registered."""
    if isinstance(config, list):
        for index, item in enumerate(config):
            _vet(item, safe_mode, custom_objects, f"{where}[{index}]")
        return
    if not isinstance(config, dict):
        return
    class_name = config.get("class_name")
    if class_name in _CODE_MARKERS:
        inner = config.get("config")
        name = inner.get("name", "") if isinstance(inner, dict) else ""
        mode = ("This carries a risk of arbitrary code execution, so it is refused in "
                "safe mode (the default)." if safe_mode else
                "tapegrad never runs code read from a file, even with safe_mode=False.")
        raise ValueError(f"The model file asks for a {class_name} {name!r} at {where}: "
                         f"Python code stored in the file. {mode} Rebuild the model in code "
                         "(define the layer as a registered Layer subclass) and load only its "
                         "weights with model.load_weights(path).")
    if class_name is not None and "config" in config and class_name not in _NOT_OBJECTS:
        cls, _ = _resolve(config, custom_objects)
        if cls is None:
            raise TypeError(f"Could not locate class {class_name!r} (module "
                            f"{config.get('module')!r}, registered name "
                            f"{config.get('registered_name')!r}) named at {where}. Make sure "
                            "custom classes are decorated with "
                            "`@keras.saving.register_keras_serializable()` or passed in "
                            "`custom_objects`; tapegrad never imports a module a file names. "
                            "Nothing was loaded.")
    for key, value in config.items():
        if key in _SHAPE_KEYS and isinstance(value, list):
            _check_shape(value, f"{where}.{key}")
        _vet(value, safe_mode, custom_objects, f"{where}.{key}")


_SHAPE_KEYS = ("batch_shape", "input_shape", "batch_input_shape", "shape")


def _check_shape(shape: list, where: str) -> None:
    """An input shape from a config (batch first): dimensions are None or sizes, and two
    examples (other unknown sizes taken as 32, as the symbolic build does) fit in memory."""
    if shape and all(isinstance(item, list) for item in shape):
        for index, item in enumerate(shape):
            _check_shape(item, f"{where}[{index}]")
        return
    if not all(d is None or (isinstance(d, int) and not isinstance(d, bool) and d >= 0)
               for d in shape):
        raise ValueError(f"The model file gives {where} = {shape!r}: dimensions must be sizes "
                         "or null. Nothing was loaded.")
    elements = 2
    for index, d in enumerate(shape):
        elements *= (1 if index == 0 else 32) if d is None else d
    if elements > _MAX_PROBE_ELEMENTS:
        raise ValueError(f"The model file gives {where} = {shape!r}, an input of {elements} "
                         f"values for two examples (more than {_MAX_PROBE_ELEMENTS}); the file "
                         "is damaged or crafted. Nothing was loaded.")


# -- Keras 3 configs -> tapegrad --------------------------------------------------------------

# Keras options tapegrad lacks, at the values that mean "not used": dropped when reading.
_UNUSED_KERAS_OPTIONS = {"quantization_config": None, "lora_rank": None, "lora_alpha": None,
                         "sparse": False, "ragged": False, "optional": False,
                         "synchronized": False, "renorm": False, "renorm_clipping": None,
                         "renorm_momentum": 0.99, "input_axes": None, "output_axes": None,
                         "kernel_constraint": None, "bias_constraint": None,
                         "beta_constraint": None, "gamma_constraint": None,
                         "embeddings_constraint": None, "kernel_regularizer": None,
                         "bias_regularizer": None, "beta_regularizer": None,
                         "gamma_regularizer": None, "embeddings_regularizer": None,
                         "activity_regularizer": None, "groups": 1, "lora_enabled": False,
                         "use_ema": False, "ema_momentum": 0.99, "ema_overwrite_frequency": None,
                         "loss_scale_factor": None, "gradient_accumulation_steps": None,
                         "global_clipnorm": None, "clipnorm": None, "clipvalue": None,
                         "weight_decay": None, "reduction": "sum_over_batch_size"}
_DTYPE_POLICIES = ("DTypePolicy", "FloatDTypePolicy")


def _accepted_arguments(cls) -> set | None:
    """The keyword arguments ``cls(...)`` takes, following ``**kwargs`` up the classes; None
    when any is open-ended (a custom class: its config is left as it is)."""
    names = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        try:
            parameters = inspect.signature(init).parameters.values()
        except (TypeError, ValueError):
            return None
        names |= {p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD,
                                                            p.KEYWORD_ONLY)}
        if not any(p.kind is p.VAR_KEYWORD for p in parameters):
            return names
    return names


def from_keras_config(config, custom_objects=None):
    """A Keras 3 config (as real Keras writes it) made ready for tapegrad's
    ``deserialize_keras_object``: dtype policies become dtype names, and options tapegrad
    lacks are dropped when they hold their "not used" value; any other option tapegrad lacks
    is refused (never silently ignored).

    >>> from_keras_config({"module": "keras.layers", "class_name": "Dense", "config": {
    ...     "units": 2, "quantization_config": None, "dtype": {"module": "keras",
    ...     "class_name": "DTypePolicy", "config": {"name": "float32"}}}})["config"]
    {'units': 2, 'dtype': 'float32'}
    """
    if isinstance(config, list):
        return [from_keras_config(item, custom_objects) for item in config]
    if not isinstance(config, dict):
        return config
    if config.get("class_name") in _DTYPE_POLICIES and isinstance(config.get("config"), dict):
        return config["config"].get("name", "float32")
    if config.get("class_name") == "function" and isinstance(config.get("config"), str):
        return config["config"]         # a function by its (registered) name
    out = {key: from_keras_config(value, custom_objects) for key, value in config.items()
           if key != "shared_object_id"}
    inner = out.get("config")
    if "class_name" in out and isinstance(inner, dict) and out["class_name"] != \
            "__keras_tensor__":
        cls, custom = _resolve(out, custom_objects)
        accepted = _accepted_arguments(cls) if cls is not None and not custom else None
        if accepted is not None and not _reads_its_own_config(cls):
            out["config"] = _drop_unused(out["class_name"], inner, accepted)
    return out


def _reads_its_own_config(cls) -> bool:
    """Models take their config apart in ``from_config`` (layers, inputs...), not as
    constructor arguments."""
    from tapegrad.keras.trainer import Trainer
    return issubclass(cls, Trainer)


def _drop_unused(class_name: str, inner: dict, accepted: set) -> dict:
    kept = {}
    for key, value in inner.items():
        if key in accepted:
            kept[key] = value
        elif key in _UNUSED_KERAS_OPTIONS and value == _UNUSED_KERAS_OPTIONS[key] or \
                (key not in _UNUSED_KERAS_OPTIONS and value is None):
            continue
        else:
            raise ValueError(f"{class_name} option {key}={value!r} is not supported by "
                             "tapegrad, so this model cannot be loaded faithfully (see "
                             "docs/differences-from-tensorflow.md).")
    return kept


def to_keras_config(config):
    """tapegrad's config made loadable by real Keras 3: nested objects get the ``module``
    Keras looks them up by."""
    if isinstance(config, list):
        return [to_keras_config(item) for item in config]
    if not isinstance(config, dict):
        return config
    out = {key: _keras_function(key, value) if isinstance(value, str) else
           to_keras_config(value) for key, value in config.items()}
    if "class_name" in out and "config" in out and "module" not in out:
        module = _keras_module(out["class_name"])
        if module is not None:
            out = {"module": module, **out, "registered_name": out.get("registered_name")}
    return out


def _keras_function(key: str, value: str):
    """A custom function named in a config, in the form Keras reads (``"function"`` objects);
    built-in activation names and other strings stay as they are."""
    from tapegrad.keras import activations, object_registry
    found = object_registry.get_registered_object(value)
    custom = callable(found) and not isinstance(found, type)
    if custom or (key.endswith("activation") and value not in activations._BY_NAME):
        return {"module": "builtins", "class_name": "function", "config": value,
                "registered_name": "function"}
    return value


def _keras_module(class_name: str):
    from tapegrad.keras import initializers, optimizers, regularizers
    for module, name in ((initializers, "keras.initializers"),
                         (regularizers, "keras.regularizers"),
                         (optimizers, "keras.optimizers")):
        if isinstance(getattr(module, class_name, None), type):
            return name
    return None


# -- building the model -----------------------------------------------------------------------

def _build_from_config(model, build_config) -> None:
    """Create a subclassed model's weights the way Keras does: call it once on zeros of the
    recorded input shape."""
    if model.weights or not build_config or "input_shape" not in build_config:
        return
    shape = build_config["input_shape"]
    if not isinstance(shape, list) or not all(d is None or isinstance(d, int) for d in shape):
        raise ValueError(f"The model's build_config input_shape {shape!r} is not a single "
                         "input shape; build the model in code and use load_weights.")
    model(np.zeros([1 if d is None else d for d in shape], dtype=np.float32))
    if getattr(model, "_build_shapes", None) is None:   # saved again as its build_config
        model._build_shapes = tuple(shape)


def _compile_from_config(model, compile_config, custom_objects) -> None:
    from tapegrad.keras import saving
    if not compile_config:
        return
    try:
        arguments = {key: saving.deserialize_keras_object(value, custom_objects)
                     if isinstance(value, dict) and "class_name" in value else value
                     for key, value in compile_config.items()}
        model.compile(**arguments)
        if model.optimizer is not None:
            model.optimizer.build(model.trainable_variables)
    except (TypeError, ValueError, KeyError) as error:
        warnings.warn(f"compile() was not restored from the file ({error}); the model is "
                      "loaded uncompiled: call model.compile(...) before training it.",
                      stacklevel=3)


def load_model(filepath, custom_objects=None, compile: bool = True,
               safe_mode: bool = True):
    """The model saved in a ``.keras`` file (by tapegrad or by Keras 3), with its weights
    and, when ``compile``, its optimizer, loss and metrics."""
    from tapegrad.keras import saving
    filepath = os.fspath(filepath)
    if not filepath.endswith(".keras"):
        raise ValueError(f"File format not supported: filepath={filepath}. tapegrad loads "
                         "Keras 3's native .keras files; load .weights.h5/.npz weights into "
                         "a model built in code with model.load_weights(path).")
    h5_weights.require_h5py()
    with contextlib.closing(_KerasArchive(filepath)) as archive:
        config = archive.read_json(CONFIG)
        if not isinstance(config, dict) or "class_name" not in config:
            raise archive._damaged(f"{CONFIG} does not describe a model")
        try:
            _vet(config, safe_mode, custom_objects)
            config = from_keras_config(config, custom_objects)
        except RecursionError:
            raise archive._damaged(f"{CONFIG} is nested too deeply") from None
        compile_config = config.pop("compile_config", None)
        with _weights_budget(archive.weights_budget()):
            try:
                model = saving.deserialize_keras_object(config, custom_objects,
                                                        safe_mode=safe_mode)
                _build_from_config(model, config.get("build_config"))
            except (OverflowError, MemoryError) as error:
                raise archive._damaged(f"{CONFIG} describes tensors too large to build "
                                       f"({type(error).__name__})") from None
        if compile:
            _compile_from_config(model, compile_config, custom_objects)
        data = archive.read(WEIGHTS, _weights_limit(model),
                            "larger than this model's weights and optimizer state")
    with h5_weights.open_h5(data, f"{filepath}:{WEIGHTS}") as file:
        values = h5_weights.read_checked(file, model, f"{filepath}:{WEIGHTS}")
    h5_weights.assign(values)
    return model


_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def is_keras_weights(filepath) -> bool:
    """Whether ``load_weights`` reads ``filepath`` as a Keras file (``.weights.h5``,
    ``.keras``, or any HDF5 file) rather than as a NumPy ``.npz`` archive."""
    filepath = os.fspath(filepath)
    if filepath.endswith((".weights.h5", ".keras", ".weights.json")):
        return True
    try:
        with open(filepath, "rb") as file:
            return file.read(len(_HDF5_SIGNATURE)) == _HDF5_SIGNATURE
    except OSError:
        return False


def load_weights(model, filepath, skip_mismatch: bool = False) -> None:
    """``model.load_weights`` for ``.weights.h5`` files (Keras 3's layout in any HDF5 file)
    and the weights inside ``.keras`` files; everything is checked before any weight
    changes."""
    filepath = os.fspath(filepath)
    if filepath.endswith(".weights.json"):
        raise ValueError(f"{filepath}: sharded Keras weights (.weights.json and its shards) "
                         "are not read by tapegrad. Save them unsharded in Keras: "
                         "model.save_weights('model.weights.h5').")
    if not filepath.endswith(".keras"):
        h5_weights.load_weights(model, filepath, skip_mismatch=skip_mismatch)
        return
    h5_weights.require_h5py()
    h5_weights.check_built(model)
    with contextlib.closing(_KerasArchive(filepath)) as archive:
        data = archive.read(WEIGHTS, _weights_limit(model),
                            "larger than this model's weights and optimizer state")
    with h5_weights.open_h5(data, f"{filepath}:{WEIGHTS}") as file:
        values = h5_weights.read_checked(file, model, f"{filepath}:{WEIGHTS}", skip_mismatch)
    h5_weights.assign(values)


def save_weights(model, filepath, overwrite: bool = True, max_shard_size=None) -> None:
    """``keras.saving.save_weights``: ``model``'s weights in a Keras 3 ``.weights.h5`` file.
    """
    if max_shard_size is not None:
        raise ValueError("Sharded weights (max_shard_size) are not supported; save one "
                         ".weights.h5 file.")
    if not os.fspath(filepath).endswith(".weights.h5"):
        raise ValueError(f"The filename must end in `.weights.h5`. Received: filepath={filepath}")
    h5_weights.save_weights(model, filepath, overwrite=overwrite)


# -- writing ----------------------------------------------------------------------------------

# Options that change training; a built-in layer whose config leaves one out cannot be saved
# faithfully (reloaded, it would train differently without a word).
_TRAINING_OPTIONS = ("kernel_regularizer", "bias_regularizer", "activity_regularizer",
                     "kernel_constraint", "bias_constraint", "beta_regularizer",
                     "gamma_regularizer", "beta_constraint", "gamma_constraint",
                     "embeddings_regularizer", "embeddings_constraint")


def _check_config_complete(model) -> None:
    from tapegrad.keras import layers
    for _, obj in h5_weights.keras_paths(model):
        if type(obj).__module__ != layers.__name__:     # custom layers own their configs
            continue
        used = [option for option in _TRAINING_OPTIONS if getattr(obj, option, None) is not None]
        missing = [option for option in used if option not in obj.get_config()] if used else []
        if missing:
            raise ValueError(f"Cannot save {type(obj).__name__} {obj.name!r} faithfully: "
                             f"tapegrad does not serialize its {', '.join(missing)} yet, so the "
                             "saved model would train differently. Save the weights only "
                             "(model.save_weights('model.weights.h5')) and rebuild the model "
                             "in code.")


def _model_config(model) -> dict:
    from tapegrad.keras import saving
    _check_config_complete(model)
    config = saving.serialize_keras_object(model)
    shape = getattr(model, "_build_shapes", None)
    if "build_config" not in config and shape is not None and not isinstance(shape, dict):
        config["build_config"] = {"input_shape": saving._jsonable(shape)}
    compile_config = model.get_compile_config() if getattr(model, "compiled", False) else None
    if compile_config:
        config["compile_config"] = {key: saving.serialize_keras_object(value)
                                    for key, value in compile_config.items()}
    return to_keras_config(config)


def save_model(model, filepath, overwrite: bool = True, zipped=None, **kwargs) -> None:
    """Write ``model`` to a Keras 3 ``.keras`` file (atomically)."""
    from tapegrad.training import checkpoint as train
    filepath = os.fspath(filepath)
    if kwargs:
        raise ValueError(f"Unrecognized keyword arguments: {sorted(kwargs)}.")
    if zipped is False:
        raise ValueError("zipped=False (an unzipped model folder) is not supported; save a "
                         ".keras zip file.")
    if filepath.endswith((".h5", ".hdf5")):
        raise ValueError(f"Cannot save to {filepath}: the legacy Keras 2 HDF5 model format is "
                         "not supported. Save a .keras file (model.save('model.keras')), or "
                         "only the weights (model.save_weights('model.weights.h5')).")
    if not filepath.endswith(".keras"):
        raise ValueError("Invalid filepath extension for saving. Please add a `.keras` "
                         f"extension for the native Keras format. Received: {filepath}")
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f"{filepath} exists; pass overwrite=True to replace it.")
    config = json.dumps(_model_config(model))
    weights = h5_weights.write_h5(model)
    metadata = json.dumps({"keras_version": KERAS_VERSION,
                           "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
                           "saved_by": "tapegrad"})
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr(METADATA, metadata)
        archive.writestr(CONFIG, config)
        archive.writestr(WEIGHTS, weights)
    train._write_atomically(filepath, "wb", lambda file: file.write(buffer.getvalue()))
