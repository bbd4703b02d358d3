"""``tf.function``: trace once per input signature, replay the compiled NumPy program.

Semantics follow TensorFlow 2.21: tensors are keyed by dtype and shape, Python values by value
(``1``, ``1.0`` and ``True`` share a trace), other objects by identity; ``input_signature``
fixes the trace (None dimensions accepted); ``reduce_retracing=True`` generalises the shapes
that differ between traces. Python side effects run while tracing only; ``tf.print`` runs on
every call; variables may be created on the first trace only.

A trace runs the Python function once on symbolic tensors (see :mod:`.symbolic`); variables
are restored afterwards and the call itself is the replay. Where the function needs a value
the trace cannot have (Python control flow on a tensor, ``float(t)``, a random op, an op
computing attributes from a value), that signature runs eagerly, with one warning naming the
line: results are never different from eager execution.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import io
import weakref

from tapegrad._core import nest
from tapegrad._core.backend import np
from tapegrad._core.dtypes import as_dtype
from tapegrad._core.errors import InvalidArgumentError
from tapegrad._core.tensor import (
    Tensor,
    TensorShape,
    array_of,
    convert_to_tensor,
    next_uid,
    set_recorders,
    state,
    to_array,
)
from tapegrad._core.variable import Variable, replace_array
from tapegrad.autodiff.function import symbolic
from tapegrad.autodiff.function.compiled import CompiledTrace, output_packer
from tapegrad.autodiff.function.control_flow import TracedIterator
from tapegrad.autodiff.function.program import has_effect, replays_as_traced, trace_value
from tapegrad.autodiff.function.symbolic import (
    SymbolicTensor,
    Untraceable,
    _slot_get,
    array_in_trace,
    zeros_like_spec,
)
from tapegrad.autodiff.function.tracer import Tracer
from tapegrad.autodiff.tensor_spec import TensorSpec, UnknownShape
from tapegrad.diagnostics.log import get_logger
from tapegrad.ops import random as _random

_RUN_EAGERLY = [False]


class TraceType:
    """Base of the trace types an argument's ``__tf_tracing_type__(context)`` returns
    (``tf.types.experimental.TraceType``): calls whose arguments have equal trace types share
    a trace.

    >>> import tapegrad as tf
    >>> class Kind(tf.types.experimental.TraceType):
    ...     def __init__(self, kind): self.kind = kind
    ...     def __eq__(self, other): return type(other) is Kind and other.kind is self.kind
    ...     def __hash__(self): return hash(self.kind)
    >>> class Fruit:
    ...     def __tf_tracing_type__(self, context): return Kind(type(self))
    >>> f = tf.function(lambda fruit, x: x + 1)
    >>> _ = f(Fruit(), tf.constant(1)); _ = f(Fruit(), tf.constant(2))
    >>> f.experimental_get_tracing_count()
    1
    """

    def is_subtype_of(self, other) -> bool:
        return self == other

    def most_specific_common_supertype(self, others):
        return self if all(self == other for other in others) else None


def run_functions_eagerly(run_eagerly: bool) -> None:
    """Run every ``tf.function`` as plain Python (as ``tf.config.run_functions_eagerly``).

    >>> import tapegrad as tf
    >>> tf.config.run_functions_eagerly(True)
    >>> tf.config.functions_run_eagerly()
    True
    >>> tf.config.run_functions_eagerly(False)
    """
    _RUN_EAGERLY[0] = bool(run_eagerly)


def functions_run_eagerly() -> bool:
    """Whether :func:`run_functions_eagerly` turned compilation off."""
    return _RUN_EAGERLY[0]


# -- input signatures -------------------------------------------------------------------------

class _Spec:
    """A tensor argument's trace type: dtype and shape (None dimensions match any size)."""

    __slots__ = ("shape", "dtype", "name")

    def __init__(self, shape, dtype, name=None):
        self.shape = None if shape is None else tuple(None if d is None else int(d)
                                                      for d in shape)
        self.dtype = as_dtype(dtype)
        self.name = name

    def key(self):
        return ("T", self.dtype.name, self.shape)

    def matches(self, shape, dtype) -> bool:
        if as_dtype(dtype) != self.dtype:
            return False
        if self.shape is None:
            return True
        return len(shape) == len(self.shape) and all(
            s is None or s == d for s, d in zip(self.shape, shape))

    def __repr__(self) -> str:
        return (f"TensorSpec(shape={_shape_text(self.shape)}, dtype=tf.{self.dtype.name}, "
                f"name={self.name!r})")


def _shape_text(shape) -> str:
    if shape is None:
        return "<unknown>"
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + \
        ("," if len(shape) == 1 else "") + ")"


class _GraphTensor:
    """An output of a concrete function as TensorFlow shows it (``Tensor("Identity:0",
    shape=(None, 3), dtype=float32)``): a name, a shape and a dtype."""

    def __init__(self, spec: _Spec, name: str):
        self.spec = spec
        self.name = name
        self.dtype = spec.dtype
        self.shape = UnknownShape() if spec.shape is None else TensorShape(spec.shape)

    def __str__(self) -> str:
        return (f'Tensor("{self.name}", shape={_shape_text(self.spec.shape)}, '
                f"dtype={self.dtype.name})")

    def __repr__(self) -> str:
        return (f"<tf.Tensor '{self.name}' shape={_shape_text(self.spec.shape)} "
                f"dtype={self.dtype.name}>")


def _check_input_signature(signature) -> None:
    """TensorFlow's checks of ``input_signature``: a list or tuple of (nested) TensorSpecs."""
    if not isinstance(signature, (list, tuple)):
        raise TypeError(f"input_signature must be either a tuple or a list, got "
                        f"{type(signature)}.")
    invalid = [item for item in nest.flatten(signature) if not _is_spec(item)]
    if invalid:
        raise TypeError(f"input_signature must be a possibly nested sequence of TensorSpec "
                        f"objects, got invalid args {invalid} with types "
                        f"{[type(item) for item in invalid]}.")


def _is_spec(value) -> bool:
    return isinstance(value, TensorSpec)


def _as_spec(value) -> _Spec:
    shape = value.shape
    shape = None if shape is None or getattr(shape, "rank", 0) is None else \
        [None if d is None else d for d in (shape.as_list() if hasattr(shape, "as_list")
                                              else shape)]
    return _Spec(shape, value.dtype, getattr(value, "name", None))


def _leaf_key(value):
    """The trace type of one argument leaf (hashable)."""
    if isinstance(value, Tensor):
        return ("T", value.dtype.name, tuple(value.shape) if type(value) is not SymbolicTensor
                else symbolic.info_of(value).shape)
    tracing_type = getattr(type(value), "__tf_tracing_type__", None)
    if tracing_type is not None:  # the tracing protocol: the object says what it is
        return ("X", tracing_type(value, None))
    if isinstance(value, Variable):
        return ("V", id(value))
    if _is_spec(value):
        return _as_spec(value).key()
    if isinstance(value, np.ndarray):
        return ("T", as_dtype(to_array(value).dtype).name, value.shape)
    try:
        hash(value)
    except TypeError:
        return ("O", id(value))
    return ("P", value)


def _relax(key, other):
    """The most specific key matching both (None where the shapes differ), or None."""
    if type(key) is not tuple or type(other) is not tuple or len(key) != len(other):
        return None
    if key and key[0] == "T" and other[0] == "T" and len(key) == 3:
        if key[1] != other[1] or key[2] is None or other[2] is None or \
                len(key[2]) != len(other[2]):
            return None
        return ("T", key[1], tuple(a if a == b else None for a, b in zip(key[2], other[2])))
    parts = []
    for a, b in zip(key, other):
        if a == b:
            parts.append(a)
            continue
        relaxed = _relax(a, b)
        if relaxed is None:
            return None
        parts.append(relaxed)
    return tuple(parts)


def _key_matches(general, key) -> bool:
    if general == key:
        return True
    if type(general) is not tuple or type(key) is not tuple or len(general) != len(key):
        return False
    if general and general[0] == "T" and key[0] == "T" and len(general) == 3:
        return general[1] == key[1] and _Spec(general[2], general[1]).matches(key[2], key[1]) \
            if general[2] is not None else general[1] == key[1]
    return all(_key_matches(a, b) for a, b in zip(general, key))


def _structure_key(value):
    if isinstance(value, dict):
        return ("dict", tuple((k, _structure_key(value[k])) for k in sorted(value, key=str)))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(_structure_key(v) for v in value))
    return _leaf_key(value)


def _fast_key(args: tuple):
    """The dtypes and shapes of positional arguments that are all plain tensors, else None."""
    key = []
    for arg in args:
        if type(arg) is not Tensor:
            return None
        value = _slot_get(arg)
        key.append((value.dtype, value.shape))
    return tuple(key)


# -- ConcreteFunction -------------------------------------------------------------------------

class _WeakMethod:
    """A method bound to a weakly held instance: the per-instance cache of a decorated method
    must not keep its instance alive."""

    def __init__(self, function, instance):
        self.__func__ = function
        self._instance = weakref.ref(instance)
        self.__name__ = getattr(function, "__name__", "method")
        self.__signature__ = inspect.signature(function.__get__(instance))

    @property
    def __self__(self):
        return self._instance()

    def __call__(self, *args, **kwargs):
        return self.__func__(self._instance(), *args, **kwargs)


class ConcreteFunction:
    """One trace of a :class:`Function` (``f.get_concrete_function(...)``): callable with the
    tensors of its signature.

    >>> import tapegrad as tf
    >>> f = tf.function(lambda x: x * 2.0)
    >>> concrete = f.get_concrete_function(tf.TensorSpec([None], tf.float32))
    >>> concrete(tf.constant([1.0, 2.0])).numpy().tolist()
    [2.0, 4.0]
    >>> concrete.structured_input_signature[0][0]
    TensorSpec(shape=(None,), dtype=tf.float32, name='x')
    """

    def __init__(self, function: Function, key, bound: inspect.BoundArguments, traces: dict,
                 structured_outputs):
        self._function = function
        self._key = key
        self._bound = bound  # the arguments as traced (tensors as specs)
        self._traces = traces  # concrete shapes -> CompiledTrace
        self.structured_outputs = structured_outputs
        self._pack = output_packer(structured_outputs)

    @property
    def structured_outputs(self):
        """The outputs' structure with graph tensors (``Identity:0``, ``Identity_1:0``...) as
        TensorFlow's."""
        names = iter(range(len(nest.flatten(self._output_specs))))
        return nest.map_structure(
            lambda spec: _GraphTensor(spec, "Identity" + (f"_{k}" if (k := next(names)) else "")
                                      + ":0") if isinstance(spec, _Spec) else spec,
            self._output_specs)

    @structured_outputs.setter
    def structured_outputs(self, specs):
        self._output_specs = specs  # (what the trace returns: _Spec leaves)

    @property
    def structured_input_signature(self):
        """(positional specs and values, {}); a tensor argument's spec is named after it."""
        args = tuple(_Spec(value.shape, value.dtype, name) if isinstance(value, _Spec)
                     else value for name, value in self._bound.arguments.items())
        return args, {}

    @property
    def graph(self):
        return next(iter(self._traces.values())).graph

    @property
    def python_function(self):
        return self._function.python_function

    def __call__(self, *args, **kwargs):
        # Positional arguments go to the tensor parameters (the Python ones keep the values
        # they were traced with, and may only be given again, by name, with those values).
        tensor_parameters = [name for name, traced in self._bound.arguments.items()
                             if any(isinstance(leaf, _Spec) for leaf in nest.flatten(traced))]
        if len(args) > len(tensor_parameters):
            raise TypeError(f"{self._function.__name__}: this concrete function takes "
                            f"{len(tensor_parameters)} positional tensor argument(s), got "
                            f"{len(args)}.")
        given = dict(zip(tensor_parameters, args))
        for name, value in kwargs.items():
            if name in given or name not in self._bound.arguments:
                raise TypeError(f"{self._function.__name__}: unexpected or repeated argument "
                                f"{name!r}.")
            given[name] = value
        flat = []
        for name, traced in self._bound.arguments.items():
            specs = [leaf for leaf in nest.flatten(traced) if isinstance(leaf, _Spec)]
            if name not in given:
                if specs:
                    raise TypeError(f"{self._function.__name__}: missing required argument "
                                    f"{name!r}.")
                continue
            value = given[name]
            if not specs:
                if not _same_value(value, traced):
                    raise TypeError(f"{self._function.__name__}: argument {name!r} was traced "
                                    f"with the Python value {traced!r}; this concrete function "
                                    f"cannot take {value!r} (call the tf.function instead).")
                continue
            leaves = [convert_to_tensor(leaf) if not isinstance(leaf, (Tensor, Variable))
                      else leaf for leaf in nest.flatten(value)]
            if len(leaves) != len(specs):
                raise TypeError(f"{self._function.__name__}: argument {name!r} has "
                                f"{len(leaves)} tensors, the trace {len(specs)}.")
            for leaf, spec in zip(leaves, specs):
                if leaf.dtype != spec.dtype:  # (as TensorFlow's graph call)
                    raise InvalidArgumentError(
                        f"cannot compute {self._function.__name__} as input {name!r} was "
                        f"expected to be a {spec.dtype.name} tensor but is a "
                        f"{leaf.dtype.name} tensor")
                if not spec.matches(tuple(leaf.shape), leaf.dtype):
                    raise TypeError(
                        f"Binding inputs to tf.function failed due to `Can not cast "
                        f"{_spec_of(leaf)!r} to {spec!r}`. Received args: {args} and kwargs: "
                        f"{kwargs} for signature: {self.pretty_printed_signature()}.")
            flat.extend(leaves)
        return self._function._run(self, flat)

    def _flat_specs(self) -> list:
        return [leaf for leaf in nest.flatten(list(self._bound.arguments.values()))
                if isinstance(leaf, _Spec)]

    @property
    def function_type(self) -> FunctionType:
        """The parameters' and the output's types (``str`` prints them as TensorFlow)."""
        return FunctionType(self)

    @property
    def inference_fn(self):
        """The traced program, called with the flat tensors of the signature."""
        def call_flat(*tensors):
            return self._function._run(self, [convert_to_tensor(t) for t in tensors])
        return call_flat

    def pretty_printed_signature(self, verbose: bool = True) -> str:
        lines = ["Input Parameters:"]
        parameters = self._bound.signature.parameters
        for name, value in self._bound.arguments.items():
            kind = parameters[name].kind.name if name in parameters else "POSITIONAL_OR_KEYWORD"
            lines.append(f"  {name} ({kind}): {_type_text(value)}")
        lines.append("Output Type:")
        lines.append(f"  {_type_text(self._output_specs)}")
        lines.append("Captures:")
        lines.append("  None")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"ConcreteFunction {self.pretty_printed_signature()}"

    __str__ = __repr__


class FunctionType:
    """A concrete function's signature: ``(x: TensorSpec(...), n: Literal[2]) -> output``.

    >>> import tapegrad as tf
    >>> f = tf.function(lambda n: tf.constant(n))
    >>> print(f.get_concrete_function(2).function_type)
    (n: Literal[2]) -> TensorSpec(shape=(), dtype=tf.int32, name=None)
    """

    def __init__(self, concrete: ConcreteFunction):
        self._concrete = concrete

    def __str__(self) -> str:
        concrete = self._concrete
        parameters = ", ".join(f"{name}: {_type_text(value)}"
                               for name, value in concrete._bound.arguments.items())
        return f"({parameters}) -> {_type_text(concrete._output_specs)}"

    def __repr__(self) -> str:
        return f"FunctionType{self}"


# (tf.data is a layer above this one: recognised by module name, not imported)
_DATA_MODULE = "tapegrad.training.data"


def _is_data_iterator(value) -> bool:
    """An iterator over a tf.data Dataset (a trace reads it through a TracedIterator)."""
    if type(value).__module__ == _DATA_MODULE:
        return type(value).__name__ == "_Iterator"
    frame = getattr(value, "gi_frame", None) if inspect.isgenerator(value) else None
    return frame is not None and frame.f_globals.get("__name__") == _DATA_MODULE


def _same_value(value, traced) -> bool:
    if value is traced:
        return True
    if isinstance(value, (Tensor, Variable)) or isinstance(traced, (Tensor, Variable)):
        return False
    try:
        return bool(value == traced)
    except Exception:  # an object whose equality cannot answer: not the traced one
        return False


def _spec_of(value) -> _Spec:
    return _Spec(tuple(value.shape), value.dtype)


def _type_text(value) -> str:
    if isinstance(value, _GraphTensor):
        value = value.spec
    if isinstance(value, _Spec):
        return repr(value)
    if isinstance(value, (list, tuple)):
        inner = ", ".join(_type_text(v) for v in value)
        if isinstance(value, list):
            return f"List[{inner}]"
        return f"Tuple[{inner}]"
    if isinstance(value, dict):
        return "Dict[" + ", ".join(f"[Literal[{k!r}], {_type_text(v)}]"
                                   for k, v in value.items()) + "]"
    if value is None:
        return "NoneTensorSpec()"
    if isinstance(value, Variable):
        return f"VariableSpec(shape={tuple(value.shape)}, dtype=tf.{value.dtype.name})"
    return f"Literal[{value!r}]"


# -- the retracing warning ---------------------------------------------------------------------

class _TracingDetector:
    """TensorFlow's retracing warning: once 5 of the last calls (within 10) traced, warn (at
    most twice per Python function)."""

    __slots__ = ("calls_per_trace", "calls", "warnings")

    def __init__(self):
        self.calls_per_trace: list = []  # calls since each recent trace (the trace included)
        self.calls = 0
        self.warnings = 0

    def note(self, traced: bool, function) -> None:
        self.calls += 1
        if not traced:
            if not self.calls_per_trace:
                self.calls_per_trace = [0]
            self.calls_per_trace[-1] += 1
            return
        self.calls_per_trace.append(1)
        while self.calls_per_trace and self.calls - self.calls_per_trace[0] > 10:
            self.calls -= self.calls_per_trace.pop(0)
        if self.warnings >= 2 or len(self.calls_per_trace) < 5:
            return
        self.warnings += 1
        get_logger().warning(
            f"{len(self.calls_per_trace)} out of the last {self.calls} calls to {function} "
            "triggered tf.function retracing. Tracing is expensive and the excessive number of "
            "tracings could be due to (1) creating @tf.function repeatedly in a loop, (2) "
            "passing tensors with different shapes, (3) passing Python objects instead of "
            "tensors. For (1), please define your @tf.function outside of the loop. For (2), "
            "@tf.function has reduce_retracing=True option that can avoid unnecessary "
            "retracing. For (3), please refer to "
            "https://www.tensorflow.org/guide/function#controlling_retracing and "
            "https://www.tensorflow.org/api_docs/python/tf/function for  more details.")


_TRACING_DETECTORS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


# -- Function ---------------------------------------------------------------------------------

class Function:
    """A Python function compiled per input signature (``tf.function``).

    >>> import tapegrad as tf
    >>> @tf.function
    ... def f(x):
    ...     return x * x + 1.0
    >>> float(f(tf.constant(2.0)))
    5.0
    >>> f.experimental_get_tracing_count()
    1
    """

    def __init__(self, python_function, input_signature=None, autograph: bool = True,
                 jit_compile=None, reduce_retracing: bool = False, name: str | None = None):
        if input_signature is not None:
            _check_input_signature(input_signature)
        self._python_function = python_function
        self._input_signature = None if input_signature is None else \
            [_as_spec(s) if _is_spec(s) else s for s in nest.flatten(list(input_signature))]
        self._signature_structure = input_signature
        self._autograph = autograph
        self._jit_compile = jit_compile
        self._reduce_retracing = reduce_retracing
        self._concrete: dict = {}  # trace key -> ConcreteFunction (or "eager")
        # plain tensor arguments' dtypes and shapes -> (the same concrete function, the shapes)
        self._by_tensors: dict = {}
        self._tracing_count = 0
        self._created_variables = False
        self._warned: set = set()
        self.__name__ = name or getattr(python_function, "__name__",
                                        type(python_function).__name__)
        if inspect.isfunction(python_function) or inspect.ismethod(python_function):
            # (a callable object, a Keras model say, keeps its attributes to itself)
            functools.update_wrapper(self, python_function)
        try:
            self._signature = inspect.signature(python_function)
        except (TypeError, ValueError):
            self._signature = None

    @property
    def python_function(self):
        """The Python function this Function compiles."""
        return self._python_function

    @property
    def input_signature(self):
        return self._signature_structure

    def __get__(self, instance, owner):
        if instance is None:
            return self
        # A method: one Function per instance (as TensorFlow), keeping its traces.
        cache = self.__dict__.setdefault("_bound_functions", weakref.WeakKeyDictionary())
        try:
            bound = cache.get(instance)
        except TypeError:
            bound = None
        if bound is None:
            bound = Function(_WeakMethod(self._python_function, instance),
                             self._signature_structure, self._autograph, self._jit_compile,
                             self._reduce_retracing, self.__name__)
            try:
                cache[instance] = bound
            except TypeError:
                pass
        return bound

    def experimental_get_tracing_count(self) -> int:
        """How many times the Python function was traced."""
        return self._tracing_count

    # -- binding --------------------------------------------------------------------------
    def _bind(self, args, kwargs) -> inspect.BoundArguments | None:
        if self._signature is None:
            return None
        bound = self._signature.bind(*args, **kwargs)
        bound.apply_defaults()
        return bound

    def _key(self, bound, args, kwargs):
        if bound is None:
            return _structure_key((list(args), kwargs))
        return tuple((name, _structure_key(value)) for name, value in bound.arguments.items())

    def _check_signature(self, args, kwargs):
        given = list(args) + [kwargs[k] for k in sorted(kwargs)]
        structure = list(self._signature_structure)
        if len(given) != len(structure):
            raise TypeError(f"{self.__name__}() takes {len(structure)} positional arguments "
                            f"as given by its input_signature, but {len(given)} were given.")
        flat = _flatten_up_to(structure, given)
        specs = self._input_signature
        converted = []
        for value, spec in zip(flat, specs):
            if not isinstance(value, (Tensor, Variable)):
                try:
                    value = convert_to_tensor(value, dtype=spec.dtype)
                except (TypeError, ValueError):
                    value = convert_to_tensor(value)
            if not spec.matches(tuple(value.shape), value.dtype):
                raise TypeError(
                    f"Binding inputs to tf.function failed due to `Can not cast "
                    f"{_spec_of(value)!r} to {spec!r}`. Received args: {args} and kwargs: "
                    f"{kwargs} for signature: (" + ", ".join(repr(s) for s in specs) + ").")
            converted.append(value)
        return nest.pack_sequence_as(list(self._signature_structure), converted)

    # -- calls ----------------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        if _RUN_EAGERLY[0]:
            return self._python_function(*args, **kwargs)
        # Positional tensors of a (dtype, shape) seen before: the same concrete function as
        # the full binding found then (binding costs more than a small program's replay).
        fast_key = None if kwargs else _fast_key(args)
        if fast_key is not None:
            found = self._by_tensors.get(fast_key)
            if found is not None:
                self._note_call(False)
                concrete, shapes = found
                if concrete == "eager":
                    return _eager_outputs(self._python_function(*args))
                return self._run(concrete, args, shapes)
        if self._input_signature is not None:
            args, kwargs = tuple(self._check_signature(args, kwargs)), {}
        bound = self._bind(args, kwargs)
        key = self._key(bound, args, kwargs)
        concrete = self._lookup(key)
        traced = concrete is None
        self._note_call(traced)
        if concrete is None:
            concrete = self._trace(bound, args, kwargs, key)
        if fast_key is not None:
            self._by_tensors[fast_key] = (concrete, tuple(shape for _, shape in fast_key))
        if concrete == "eager":
            return _eager_outputs(self._python_function(*args, **kwargs))
        flat = [leaf for leaf in nest.flatten(list(bound.arguments.values()) if bound is not None
                                              else [list(args), kwargs])
                if isinstance(leaf, Tensor) or isinstance(leaf, np.ndarray)]
        flat = [convert_to_tensor(a) if isinstance(a, np.ndarray) else a for a in flat]
        return self._run(concrete, flat)

    def _lookup(self, key):
        found = self._concrete.get(key)
        if found is not None:
            return found
        for general, concrete in self._concrete.items():
            if _key_matches(general, key):
                return concrete
        return None

    def _note_call(self, traced: bool) -> None:
        if symbolic.tracing.stack:
            return  # (a call inside another trace is not one of the user's calls)
        detector = self.__dict__.get("_detector")
        if detector is None:
            target = self._python_function
            while hasattr(target, "__wrapped__"):
                target = target.__wrapped__
            target = getattr(target, "__func__", target)
            key = getattr(target, "__code__", target)  # (shared by tf.function(f) in a loop)
            try:
                detector = _TRACING_DETECTORS.setdefault(key, _TracingDetector())
            except TypeError:  # (not weakly referable: no warning)
                detector = _TracingDetector()
            self._detector = detector
        detector.note(traced, self._python_function)

    def _general_key(self, key):
        if self._input_signature is not None:
            return _signature_key(self, key)
        if self._reduce_retracing:
            for existing in list(self._concrete):
                relaxed = _relax(existing, key)
                if relaxed is not None:
                    return relaxed
        return key

    def _run(self, concrete: ConcreteFunction, flat, shapes: tuple | None = None):
        """The call of ``concrete`` on its flat tensor arguments (``shapes``: theirs, when
        the caller has them)."""
        if shapes is None:
            shapes = tuple(tuple(t.shape) for t in flat)
        trace = concrete._traces.get(shapes)
        if trace is None:
            args, kwargs = _arguments_for(concrete, flat)
            trace = self._retrace_quietly(concrete, flat, args, kwargs)
            if trace is None:
                return _eager_outputs(self._python_function(*args, **kwargs))
        if state.recorders:
            outputs = trace.call_recorded(flat)
        else:
            outputs = trace.run(flat)
        return concrete._pack(outputs)

    # -- tracing --------------------------------------------------------------------------
    def _trace(self, bound, args, kwargs, key):
        general = self._general_key(key)
        try:
            trace, bound_specs, outputs = self._trace_once(bound, args, kwargs, general)
        except Untraceable as reason:
            self._fall_back(key, reason)
            return "eager"
        self._tracing_count += 1
        shapes = tuple(tuple(v.shape) for v in _flat_tensors(bound, args, kwargs))
        concrete = ConcreteFunction(self, general, bound_specs, {shapes: trace}, outputs)
        self._concrete[general] = concrete
        return concrete

    def _retrace_quietly(self, concrete, flat, args, kwargs):
        """A new concrete shape under a relaxed signature: the program is shape-specialised,
        so it is traced again for these shapes (Python output of that trace suppressed)."""
        bound = self._bind(args, kwargs)
        sink = io.StringIO()
        try:
            with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
                trace, _, _ = self._trace_once(bound, args, kwargs, concrete._key, quiet=True)
        except Untraceable as reason:
            self._fall_back(None, reason)
            return None
        concrete._traces[tuple(tuple(t.shape) for t in flat)] = trace
        return trace

    def _fall_back(self, key, reason: Untraceable) -> None:
        if key is not None:
            self._concrete[key] = "eager"
        if reason.where not in self._warned:
            self._warned.add(reason.where)
            get_logger().warning(f"tf.function {self.__name__}: {reason.reason} at "
                                 f"{reason.where}; this call signature runs eagerly (same "
                                 "results, no compilation).")

    def _trace_once(self, bound, args, kwargs, general_key, specs_only: bool = False,
                    quiet: bool = False):
        tracer = Tracer(self.__name__)
        arg_keys = dict(general_key) if bound is not None and isinstance(general_key, tuple) \
            and all(isinstance(k, tuple) and len(k) == 2 and isinstance(k[0], str)
                    for k in general_key) else {}

        def placeholder_for(value, name, key):
            if _is_spec(value):
                spec = _as_spec(value)
                shape = spec.shape
                return tracer.placeholder(zeros_like_spec(shape, spec.dtype.as_numpy_dtype),
                                          name, shape)
            if isinstance(value, np.ndarray):
                value = convert_to_tensor(value)
            shape = key[2] if isinstance(key, tuple) and len(key) == 3 and key[0] == "T" \
                else tuple(value.shape)
            if shape is None:  # a spec of unknown rank: this call's rank, every size unknown
                shape = (None,) * value.ndim
            return tracer.placeholder(array_in_trace(value), name, shape)

        if bound is not None:
            new_arguments = {}
            specs = {}
            for name, value in bound.arguments.items():
                new_arguments[name], specs[name] = _placeholders(
                    value, name, arg_keys.get(name), placeholder_for)
            call_args, call_kwargs = _rebind(bound, new_arguments)
            bound_specs = self._signature.bind_partial()
            bound_specs.arguments.update(specs)
        else:
            call_args, call_kwargs = args, kwargs
            bound_specs = None
        function = self._python_function
        from tapegrad.autodiff.function import autograph
        if self._autograph:
            function = autograph.convert(function)
        saved = state.recorders
        set_recorders((tracer,))
        symbolic.tracing.stack.append(tracer)
        marker = _uid_mark()
        random_state = _random_state()
        try:
            with np.errstate(all="ignore"), _random.draws_on_copies():
                try:
                    result = function(*call_args, **call_kwargs)
                except Exception as error:
                    staged = autograph.staging_error(error) if self._autograph else None
                    if staged is None:
                        raise
                    raise staged from None
            if _random_state() != random_state:
                raise Untraceable("a random op draws new values on every call",
                                  f"{self.__name__}")
            outputs = _output_registers(tracer, result)
        except Untraceable:
            # The function runs eagerly instead, but the variables this trace made exist: as
            # TensorFlow, only the first trace may make them (a Keras optimizer's slots, say).
            if _created_between(marker, _uid_mark()) and not quiet:
                if self._created_variables:
                    raise _variables_made_again() from None
                self._created_variables = True
            raise
        finally:
            symbolic.tracing.stack.pop()
            set_recorders(saved)
            tracer.open = False
            for variable, value in tracer.original.values():
                replace_array(variable, value)
            _restore_random(random_state)
        created = _created_between(marker, _uid_mark())
        if created and quiet:
            raise Untraceable("creating variables while tracing for new shapes", self.__name__)
        if created and self._created_variables:
            raise _variables_made_again()
        if created:
            # As TensorFlow: a trace that created variables is traced once more, and that
            # trace must create none (so a function that always creates one raises at once).
            self._created_variables = True
            return self._trace_once(bound, args, kwargs, general_key, specs_only, quiet)
        graph = tracer.graph
        graph.outputs = outputs
        pure = replays_as_traced(graph)
        first = [None if r is None else trace_value(graph, r) for r in graph.outputs] \
            if pure and not specs_only else None
        return CompiledTrace(graph, tracer, first, fuse=bool(self._jit_compile)), bound_specs, \
            _output_specs(result)

    # -- introspection --------------------------------------------------------------------
    def get_concrete_function(self, *args, **kwargs) -> ConcreteFunction:
        """The ConcreteFunction for these arguments (tensors, specs or Python values),
        tracing it if needed."""
        if not args and not kwargs and self._input_signature is not None:
            args = tuple(self._signature_structure)
        bound = self._bind(args, kwargs)
        key = self._key(bound, args, kwargs)
        concrete = self._lookup(key)
        if concrete is None:
            general = self._general_key(key)
            try:
                trace, bound_specs, outputs = self._trace_once(bound, args, kwargs, general,
                                                               specs_only=True)
            except Untraceable as reason:
                raise TypeError(f"tf.function {self.__name__} cannot be traced for these "
                                f"arguments: {reason}") from None
            self._tracing_count += 1
            from_specs = any(_is_spec(a) for a in nest.flatten([list(args), kwargs]))
            if from_specs:
                outputs = _unknown_output_dims(trace, outputs)
            shapes = None if from_specs else \
                tuple(tuple(v.shape) for v in _flat_tensors(bound, args, kwargs))
            concrete = ConcreteFunction(self, general, bound_specs,
                                        {shapes: trace} if shapes is not None else {},
                                        outputs)
            self._concrete[general] = concrete
        if concrete == "eager":
            raise TypeError(f"tf.function {self.__name__} runs eagerly for these arguments "
                            "(it could not be traced); there is no concrete function.")
        return concrete

    def pretty_printed_concrete_signatures(self, verbose: bool = True) -> str:
        """Every traced signature, as TensorFlow prints them."""
        return "\n\n".join(c.pretty_printed_signature(verbose)
                           for c in self._concrete.values() if c != "eager")

    def __repr__(self) -> str:
        return f"<tapegrad.function {self.__name__}>"


def _variables_made_again() -> ValueError:
    return ValueError(
        "tf.function only supports singleton tf.Variables created on the first call. Make "
        "sure the tf.Variable is only created once or created outside tf.function. See "
        "https://www.tensorflow.org/guide/function#creating_tfvariables for more information.")


def _flatten_up_to(structure, value) -> list:
    """``value``'s items at the leaves (specs) of ``structure`` (a list given for a spec stays
    one value: it is converted to a tensor)."""
    if _is_spec(structure):
        return [value]
    if isinstance(structure, dict):
        return [leaf for key in sorted(structure) for leaf in
                _flatten_up_to(structure[key], value[key])]
    if not isinstance(value, (list, tuple)) or len(value) != len(structure):
        raise TypeError(f"the arguments do not match the structure of the input_signature: "
                        f"{value!r} for {structure!r}.")
    return [leaf for s, v in zip(structure, value) for leaf in _flatten_up_to(s, v)]


def _unknown_output_dims(trace: CompiledTrace, structure):
    """Output specs of a trace from specs with None where a size follows an unknown input
    size: the program runs once more with those sizes changed (TensorFlow infers shapes; a
    program that prints or assigns keeps the sizes it traced)."""
    graph = trace.graph
    inputs = [symbolic.info_of(graph.values[r]) for r in graph.arguments]
    if any(info.shape is None for info in inputs):  # an unknown rank: every output's too
        return nest.map_structure(
            lambda spec: _Spec(None, spec.dtype) if isinstance(spec, _Spec) else spec,
            structure)
    if structure is None or all(None not in info.shape for info in inputs) or \
            any(has_effect(step) for step in graph.steps):
        return structure
    values = [np.zeros(tuple(3 if d is None else d for d in info.shape),
                       _slot_get(graph.values[r]).dtype)
              for info, r in zip(inputs, graph.arguments)]
    values += [array_of(trace.variables[i]) for i in trace.input_variables]
    try:
        with np.errstate(all="ignore"):
            results = trace.compile().replay(*values)
    except Exception:  # the program is specialised to the sizes it traced: keep them
        return structure
    flat = nest.flatten(structure)
    for position, value in zip(trace.order, results):
        spec = flat[position]
        if isinstance(spec, _Spec) and spec.shape is not None and \
                len(spec.shape) == np.ndim(value):
            flat[position] = _Spec(tuple(None if a != b else a
                                         for a, b in zip(spec.shape, np.shape(value))),
                                   spec.dtype)
    return nest.pack_sequence_as(structure, flat)


def _signature_key(function: Function, key):
    specs = iter(function._input_signature)

    def replace(part):
        if isinstance(part, tuple) and len(part) == 3 and part[0] == "T":
            return next(specs).key()
        if isinstance(part, tuple):
            return tuple(replace(p) for p in part)
        return part

    return replace(key)


def _placeholders(value, name: str, key, make):
    """(the value with its tensors replaced by placeholders, its signature with specs)."""
    if _is_data_iterator(value):
        return TracedIterator(value), value
    if isinstance(value, (Tensor, np.ndarray)) or _is_spec(value):
        tensor = make(value, name, key)
        return tensor, _Spec(symbolic.info_of(tensor).shape, tensor.dtype,
                             value.name if _is_spec(value) else None)
    if isinstance(value, (list, tuple)) and not hasattr(value, "_fields"):
        keys = key[1] if isinstance(key, tuple) and len(key) == 2 else [None] * len(value)
        pairs = [_placeholders(v, f"{name}_{k}" if k else name, kk, make)
                 for k, (v, kk) in enumerate(zip(value, keys))]
        return type(value)(p[0] for p in pairs), type(value)(p[1] for p in pairs)
    if isinstance(value, dict):
        out, specs = {}, {}
        for k in value:
            out[k], specs[k] = _placeholders(value[k], f"{name}_{k}", None, make)
        return out, specs
    return value, value


def _arguments_for(concrete: ConcreteFunction, flat: list):
    """The call's (args, kwargs): the traced arguments with ``flat`` in place of the specs."""
    tensors = iter(flat)
    arguments = {name: nest.map_structure(
        lambda leaf: next(tensors) if isinstance(leaf, _Spec) else leaf, value)
        for name, value in concrete._bound.arguments.items()}
    return _rebind(concrete._bound, arguments)


def _rebind(bound, arguments: dict):
    parameters = bound.signature.parameters
    args, kwargs = [], {}
    for name, value in arguments.items():
        kind = parameters[name].kind
        if kind is inspect.Parameter.VAR_POSITIONAL:
            args.extend(value)
        elif kind is inspect.Parameter.VAR_KEYWORD:
            kwargs.update(value)
        elif kind is inspect.Parameter.KEYWORD_ONLY:
            kwargs[name] = value
        else:
            args.append(value)
    return args, kwargs


def _flat_tensors(bound, args, kwargs) -> list:
    values = list(bound.arguments.values()) if bound is not None else [list(args), kwargs]
    flat = [leaf for leaf in nest.flatten(values)
            if isinstance(leaf, (Tensor, np.ndarray)) or _is_spec(leaf)]
    return [convert_to_tensor(a) if isinstance(a, np.ndarray) else a for a in flat]


def _output_registers(tracer: Tracer, result) -> list:
    """The registers of the flat outputs: return values become tensors, as TensorFlow."""
    flat = nest.flatten(result)
    registers = []
    for item in flat:
        if item is None:
            registers.append(None)
        elif isinstance(item, Tensor):
            registers.append(tracer.ref(item))
        elif isinstance(item, Variable):
            registers.append(tracer.variable_value(item))
        else:
            try:
                tensor = convert_to_tensor(item)
            except (TypeError, ValueError):
                raise TypeError(
                    f"To be compatible with tf.function, Python functions must return zero or "
                    f"more Tensors or ExtensionTypes or None values; in compilation of "
                    f"{tracer.function_name}, found return value of type {type(item)}, which "
                    "is not a Tensor or ExtensionType.") from None
            registers.append(tracer.ref(tensor))
    return registers


def _eager_outputs(result):
    """An eager fallback's result as a compiled call returns it: numbers become tensors."""
    return nest.map_structure(
        lambda item: convert_to_tensor(item) if isinstance(item, (bool, int, float, complex,
                                                                   np.ndarray, np.generic))
        else item, result)


def _output_specs(result):
    def spec(item):
        if isinstance(item, (Tensor, Variable)):
            shape = symbolic.info_of(item).shape if type(item) is SymbolicTensor \
                else tuple(item.shape)
            return _Spec(shape, item.dtype)
        if item is None:
            return None
        return _Spec((), convert_to_tensor(item).dtype)
    return nest.map_structure(spec, result) if result is not None else None


_MARKS = [0]  # uids this module consumed as marks (nested traces take some)


def _uid_mark() -> tuple:
    """(the next uid, marks taken so far): Variables are the only other takers of uids."""
    _MARKS[0] += 1
    return next_uid(), _MARKS[0]


def _created_between(start: tuple, end: tuple) -> int:
    """How many variables were created between two marks."""
    return (end[0] - start[0] - 1) - (end[1] - start[1] - 1)


def _random_state() -> dict:
    """The global random stream's state and each op-seeded stream's (a trace must not draw)."""
    streams = {None: _random.global_rng()}
    streams.update(_random.op_seeded_streams())
    return {key: (generator, generator.bit_generator.state)
            for key, generator in streams.items()}


def _restore_random(snapshot: dict) -> None:
    """Undo what a trace drew: its draws are replayed by the eager run instead."""
    streams = _random.op_seeded_streams()
    for key in [k for k in streams if k not in snapshot]:
        del streams[key]
    for generator, state_before in snapshot.values():
        if generator.bit_generator.state != state_before:
            generator.bit_generator.state = state_before


def function(func=None, input_signature=None, autograph: bool = True, jit_compile=None,
             reduce_retracing: bool = False, experimental_implements=None,
             experimental_autograph_options=None, experimental_attributes=None,
             experimental_relax_shapes=None, experimental_compile=None,
             experimental_follow_type_hints=None) -> Function:
    """Compile ``func`` per input signature (as ``tf.function``): the first call traces it,
    later calls replay the optimised NumPy program.

    >>> import tapegrad as tf
    >>> @tf.function
    ... def f(x):
    ...     return x * 2.0
    >>> float(f(tf.constant(1.5)))
    3.0
    """
    if experimental_relax_shapes:
        reduce_retracing = True
    if func is None:
        return lambda f: Function(f, input_signature, autograph, jit_compile, reduce_retracing)
    return Function(func, input_signature, autograph, jit_compile, reduce_retracing)



def jit(func=None, *, static_argnums=()) -> Function:
    """Compile a function of tensors, JAX style (``tapegrad.autodiff.jit``): ``tf.function``
    without AutoGraph, composing with the functional transforms.

    ``static_argnums`` is accepted for JAX's signature: Python arguments are static anyway
    (each value has its own trace). As ``jit_compile=True``: elementwise runs are fused when
    numexpr (``tapegrad[fast]``) is installed.

    >>> import tapegrad as tf
    >>> f = lambda x: tf.reduce_sum(tf.sin(x) * x)
    >>> fast_grad = tf.autodiff.jit(tf.autodiff.grad(f))
    >>> [round(v, 4) for v in fast_grad(tf.constant([0.5, 1.0])).numpy().tolist()]
    [0.9182, 1.3818]
    """
    if func is None:
        return lambda f: Function(f, autograph=False, jit_compile=True)
    return Function(func, autograph=False, jit_compile=True)
