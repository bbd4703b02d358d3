"""custom_gradient, recompute_grad and grad_pass_through."""

from __future__ import annotations

import functools
import inspect

from tapegrad._core import nest
from tapegrad._core.registry import register
from tapegrad._core.tape import Recording
from tapegrad._core.tensor import (
    Recorder,
    Tensor,
    array_of,
    convert_to_tensor,
    op_input,
    remove_recorder,
    set_recorders,
    state,
    wrap,
)
from tapegrad._core.variable import Variable
from tapegrad.autodiff.tape import GradientTape


class _VariableWatcher(Recorder):
    """Recorder that only notes which variables are read (while tapes are paused)."""

    def __init__(self):
        self.variables: dict = {}

    def _record(self, op, inputs, output, attrs):
        pass

    def _read_variable(self, variable, tensor):
        if variable.trainable:
            self.variables.setdefault(id(variable), variable)


def _accepts_variables(function) -> bool:
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return True
    return any(p.name == "variables" or p.kind is inspect.Parameter.VAR_KEYWORD
               for p in parameters)


def _name_of(function) -> str:
    return getattr(function, "__qualname__", getattr(function, "__name__", repr(function)))


def _custom_vjp(inputs, output, attrs, upstream, needs):
    grad_fn = attrs["grad_fn"]
    n_args = attrs["n_args"]
    variables = attrs["variables"]
    name = attrs["name"]
    upstreams = upstream if type(output) is tuple else (upstream,)
    if variables:
        result = grad_fn(*upstreams, variables=list(variables))
        if not isinstance(result, (list, tuple)) or len(result) != 2:
            raise ValueError(f"@custom_gradient grad_fn of {name} reads variables, so it must "
                             "return (input_gradients, variable_gradients).")
        input_grads, variable_grads = result
        variable_grads = list(variable_grads) if variable_grads is not None else []
        if len(variable_grads) != len(variables):
            raise ValueError(f"Must return gradient for each variable from @custom_gradient "
                             f"grad_fn ({name} read {len(variables)} variables, its grad_fn "
                             f"returned {len(variable_grads)} variable gradients).")
    else:
        input_grads, variable_grads = grad_fn(*upstreams), []
    flat = nest.flatten(input_grads) if isinstance(input_grads, (list, tuple)) else [input_grads]
    if len(flat) != n_args:
        raise ValueError(f"custom_gradient function expected to return {n_args} gradients, but "
                         f"returned {len(flat)} instead (grad_fn of {name}: one gradient per "
                         "positional tensor argument).")
    for position, (grad, source) in enumerate(zip(flat, inputs)):
        if not isinstance(grad, Tensor):
            continue
        grad_value, source_value = array_of(grad), array_of(source)
        if grad_value.shape != source_value.shape and grad_value.size != 1:
            raise ValueError(f"grad_fn of {name} returned a gradient of shape "
                             f"{tuple(grad_value.shape)} for argument {position}, which has "
                             f"shape {tuple(source_value.shape)}.")
    extra = len(inputs) - n_args - len(variables)
    return (*flat, *variable_grads, *([None] * extra))


def _custom_jvp(inputs, output, attrs, tangents):
    inner = tangents[attrs["n_args"] + len(attrs["variables"]):]
    return tuple(inner) if type(output) is tuple else inner[0]


CUSTOM_GRADIENT = register("CustomGradient", None, _custom_vjp, _custom_jvp, samples=())


def custom_gradient(f=None):
    """Decorate ``f(*x) -> (y, grad_fn)`` so that its gradient is ``grad_fn(*dy)``.

    ``grad_fn`` returns one gradient per positional tensor argument; when ``f`` reads variables
    that are not arguments, it must accept ``variables=`` and return
    ``(input_gradients, variable_gradients)``.

    >>> import tapegrad as tf
    >>> @tf.custom_gradient
    ... def clip_gradient(x):
    ...     return tf.identity(x), lambda dy: tf.clip_by_value(dy, -0.5, 0.5)
    >>> x = tf.constant(2.0)
    >>> with tf.GradientTape() as tape:
    ...     tape.watch(x)
    ...     y = clip_gradient(x) * 3.0
    >>> float(tape.gradient(y, x))
    0.5
    """
    if f is None:
        return custom_gradient

    @functools.wraps(f)
    def decorated(*args, **kwargs):
        recorders = state.recorders
        tapes = [r for r in recorders if isinstance(r, Recording)]
        # Positional variables are ordinary inputs: read them where the tapes can see.
        inputs = [a.read_value() if isinstance(a, Variable) else a for a in nest.flatten(args)]
        arg_tensors = [a for a in inputs if isinstance(a, Tensor)]
        watcher = _VariableWatcher()
        positions = [i for i, r in enumerate(recorders) if isinstance(r, Recording)]
        set_recorders(tuple(r for r in recorders if not isinstance(r, Recording)) + (watcher,))
        try:
            outputs, grad_fn = f(*args, **kwargs)
        finally:
            remove_recorder(watcher)
            restored = list(state.recorders)
            for i, tape in zip(positions, tapes):
                restored.insert(i, tape)
            set_recorders(tuple(restored))
            recorders = state.recorders
        argument_ids = {id(a) for a in args if isinstance(a, Variable)}
        variables = [v for key, v in watcher.variables.items() if key not in argument_ids]
        if variables and not _accepts_variables(grad_fn):
            raise TypeError(
                f"@tf.custom_gradient grad_fn must accept keyword argument 'variables', since "
                f"function uses variables: {[v.name for v in variables]} (in {_name_of(f)}; "
                "add `variables=None` to grad_fn and return (input_grads, variable_grads)).")
        flat_outputs = [o if isinstance(o, Tensor) else convert_to_tensor(o)
                        for o in nest.flatten(outputs)]
        # the dispatcher's read (CUSTOM_GRADIENT is a recorded op): inside tf.function, the
        # traced tensors' arrays, where array_of gives a guard
        new_outputs = [wrap(op_input(o, None)[1]) for o in flat_outputs]
        if recorders:
            for variable in variables:
                for recorder in recorders:
                    recorder._read_variable(variable, None)
            recorded = tuple(new_outputs) if len(new_outputs) != 1 else new_outputs[0]
            attrs = {"grad_fn": grad_fn, "n_args": len(arg_tensors), "variables": variables,
                     "name": _name_of(f)}
            op_inputs = (*arg_tensors, *variables, *flat_outputs)
            for recorder in recorders:
                recorder._record(CUSTOM_GRADIENT, op_inputs, recorded, attrs)
        return nest.pack_sequence_as(outputs, new_outputs)

    return decorated


def recompute_grad(f):
    """Gradient checkpointing: the forward pass keeps only the inputs; backprop re-runs ``f``.

    >>> import tapegrad as tf
    >>> block = tf.recompute_grad(lambda x: tf.sin(x) * x)
    >>> x = tf.constant(1.0)
    >>> with tf.GradientTape() as tape:
    ...     tape.watch(x)
    ...     y = block(x)
    >>> round(float(tape.gradient(y, x)), 5)
    1.38177
    """

    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        @custom_gradient
        def inner(*inner_args):
            result = f(*inner_args, **kwargs)

            def grad_fn(*upstream, variables=None):
                sources = [a for a in inner_args if isinstance(a, (Tensor, Variable))]
                watched = sources + list(variables or [])
                with GradientTape() as tape:
                    tape.watch(watched)
                    again = f(*inner_args, **kwargs)
                grads = tape.gradient(again, watched, output_gradients=list(upstream))
                if variables:
                    return grads[:len(sources)], grads[len(sources):]
                return grads
            return result, grad_fn
        return inner(*args)

    return wrapper


def grad_pass_through(f):
    """Use ``f`` forward, the identity backward (straight-through estimator)."""

    @functools.wraps(f)
    def wrapper(x):
        @custom_gradient
        def inner(value):
            return f(value), lambda upstream: upstream
        return inner(x)

    return wrapper
