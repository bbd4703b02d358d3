"""Host-side helpers that work inside and outside ``tf.function``: ``tf.py_function``,
``tf.init_scope`` and ``tf.TensorArray``."""

from __future__ import annotations

import contextlib
import functools

from tapegrad._core import nest
from tapegrad._core.dtypes import as_dtype
from tapegrad._core.indexed_slices import IndexedSlices
from tapegrad._core.registry import register
from tapegrad._core.tape import TRAINABLE_KINDS
from tapegrad._core.tensor import Tensor, apply, convert_to_tensor, set_recorders, state, wrap
from tapegrad._core.variable import Variable
from tapegrad.autodiff.function import symbolic
from tapegrad.autodiff.function.symbolic import array_in_trace
from tapegrad.autodiff.function.tracer import active_tracer


@contextlib.contextmanager
def outside_traces():
    """Nothing records and every trace is closed (its tensors raise if used) meanwhile."""
    saved = state.recorders
    traces = list(symbolic.tracing.stack)
    set_recorders(())
    symbolic.tracing.stack[:] = []
    opened = [t for t in traces if t.open]
    for tracer in opened:
        tracer.open = False
    try:
        yield
    finally:
        for tracer in opened:
            tracer.open = True
        symbolic.tracing.stack[:] = traces
        set_recorders(saved)


def init_scope():
    """Run a block outside the function being traced, eagerly (as ``tf.init_scope``): what it
    computes is a constant of the trace; the trace's tensors cannot be used inside.

    >>> import tapegrad as tf
    >>> @tf.function
    ... def f(x):
    ...     with tf.init_scope():
    ...         c = tf.constant(2.0) * 3.0   # computed once, at trace time
    ...     return x * c
    >>> float(f(tf.constant(1.0)))
    6.0
    """
    return outside_traces()


def _py_forward(*values, function, dtypes, structure, name):
    with outside_traces():
        result = function(*[wrap(v) for v in values])
    flat = nest.flatten(result) if structure else [result]
    arrays = [array_in_trace(convert_to_tensor(item, dtype=dtype))
              for item, dtype in zip(flat, dtypes)]
    if len(arrays) != len(dtypes):
        raise ValueError(f"py_function: the function returned {len(arrays)} values, Tout "
                         f"declares {len(dtypes)}.")
    return arrays


def _py_vjp(inputs, output, attrs, upstream, needs):
    from tapegrad.autodiff.tape import GradientTape

    if any(type(x) is symbolic.SymbolicTensor for x in inputs):
        # a Python function's gradient needs its inputs' values: never part of a trace
        raise symbolic.Untraceable("the gradient of a tf.py_function", attrs["name"])
    sources = [x for x, need in zip(inputs, needs)
               if need and array_in_trace(x).dtype.kind in TRAINABLE_KINDS]
    with GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(sources)
        result = attrs["function"](*inputs)
    flat = nest.flatten(result) if attrs["structure"] else [result]
    upstreams = upstream if type(upstream) is tuple else (upstream,)
    pairs = [(o, u) for o, u in zip(flat, upstreams)
             if isinstance(o, Tensor) and array_in_trace(o).dtype.kind in TRAINABLE_KINDS]
    grads = iter(tape.gradient([o for o, _ in pairs], sources,
                               output_gradients=[u for _, u in pairs]) if pairs else
                 [None] * len(sources))
    return tuple(next(grads) if x in sources else None for x in inputs)


PY_FUNCTION = register("EagerPyFunc", _py_forward, _py_vjp, None, samples=(), n_outputs=2,
                       sample_note="tf.py_function: tests/test_function_control.py")


def py_function(func, inp, Tout, name=None):
    """Run the Python ``func`` on eager tensors, on every call even inside ``tf.function``
    (as ``tf.py_function``); differentiable through ``func``'s own ops.

    >>> import tapegrad as tf
    >>> f = tf.function(lambda x: tf.py_function(lambda v: v.numpy() * 2, [x], tf.float32))
    >>> float(f(tf.constant(1.5)))
    3.0
    """
    structure = isinstance(Tout, (list, tuple))
    dtypes = [as_dtype(d) for d in (Tout if structure else [Tout])]
    outputs = apply(PY_FUNCTION, [convert_to_tensor(x) for x in inp],
                    {"function": func, "dtypes": [d.as_numpy_dtype for d in dtypes],
                     "structure": structure, "name": getattr(func, "__name__", "py_function")})
    return list(outputs) if structure else outputs[0]


class TensorArray:
    """A list of tensors written by index, as ``tf.TensorArray`` (eager: a Python list; inside
    ``tf.function`` with Python indices, unrolled into the trace).

    >>> import tapegrad as tf
    >>> ta = tf.TensorArray(tf.float32, size=2)
    >>> ta = ta.write(0, 1.0).write(1, 2.0)
    >>> ta.stack().numpy().tolist()
    [1.0, 2.0]
    """

    def __init__(self, dtype, size=None, dynamic_size=None, clear_after_read=None,
                 tensor_array_name=None, handle=None, flow=None, infer_shape=True,
                 element_shape=None, colocate_with_first_write_call=True, name=None):
        self._dtype = as_dtype(dtype)
        self._dynamic = bool(dynamic_size)
        self._items: list = [None] * (int(size) if size is not None else 0)
        self._element_shape = element_shape

    @property
    def dtype(self):
        return self._dtype

    def _copy(self, items) -> TensorArray:
        copy = TensorArray(self._dtype, dynamic_size=self._dynamic,
                           element_shape=self._element_shape)
        copy._items = items
        return copy

    def write(self, index, value, name=None) -> TensorArray:
        index = int(index)
        value = convert_to_tensor(value, dtype=self._dtype)
        items = list(self._items)
        if index >= len(items):
            if not self._dynamic:
                raise IndexError(f"Tried to write to index {index} but array is not resizeable "
                                 f"and size is: {len(items)}")
            items.extend([None] * (index + 1 - len(items)))
        items[index] = value
        return self._copy(items)

    def read(self, index, name=None) -> Tensor:
        value = self._items[int(index)]
        if value is None:
            raise ValueError(f"Could not read from TensorArray index {int(index)}: it has not "
                             "been written.")
        return value

    def size(self, name=None) -> Tensor:
        return convert_to_tensor(len(self._items))

    def stack(self, name=None) -> Tensor:
        from tapegrad.ops.array import stack, zeros

        if not self._items:
            return zeros((0,), self._dtype)
        return stack([self.read(i) for i in range(len(self._items))])

    def gather(self, indices, name=None) -> Tensor:
        from tapegrad.ops.array import stack

        return stack([self.read(i) for i in nest.flatten(list(indices))])

    def concat(self, name=None) -> Tensor:
        from tapegrad.ops.array import concat

        return concat([self.read(i) for i in range(len(self._items))], 0)

    def unstack(self, value, name=None) -> TensorArray:
        from tapegrad.ops.array import unstack

        return self._copy(list(unstack(convert_to_tensor(value, dtype=self._dtype))))


def host_call(method=None, *, traced_result=None, at_trace=None, updates=None):
    """Mark a method that updates state from tensors in Python (a Keras optimizer's
    ``apply``) as one host step of any ``tf.function`` that calls it: the trace records the
    call, and every replay makes it with that call's tensors (IndexedSlices included); the
    variables among its arguments are read afresh after it. Outside a trace it is the method
    itself. Inside one it returns ``traced_result(*args, **kwargs)`` (default None): what the
    call returns must not depend on the tensors' values (variables among it are read afresh
    too). ``at_trace(*args, **kwargs)``, when given, runs while tracing: it creates the state
    the call needs (a Keras optimizer's slot variables), as TensorFlow creates it in the trace.
    ``updates(*args, **kwargs)`` names the other variables the call changes (a metric's own):
    what the function reads of them after the call is read afresh at every replay.

    >>> import tapegrad as tf
    >>> from tapegrad.autodiff.function.host import host_call
    >>> class Sgd:
    ...     @host_call
    ...     def apply(self, pairs):
    ...         for g, v in pairs:
    ...             v.assign_sub(0.5 * g.numpy())
    >>> v = tf.Variable(1.0)
    >>> step = tf.function(lambda: Sgd().apply([(tf.constant(1.0) * v, v)]))
    >>> step(); step(); float(v)
    0.25
    """
    if method is None:
        return lambda function: host_call(function, traced_result=traced_result,
                                          at_trace=at_trace, updates=updates)

    def call(*args, **kwargs):
        tracer = active_tracer()
        if tracer is None:
            return method(*args, **kwargs)
        # Iterators (zip(grads, variables)) are read once, here, into lists.
        args = [list(a) if _is_iterator(a) else a for a in args]
        kwargs = {k: list(v) if _is_iterator(v) else v for k, v in kwargs.items()}
        if at_trace is not None:
            at_trace(*args, **kwargs)
        structure = [args, kwargs]
        leaves = nest.flatten(structure)
        tensors = []
        for leaf in leaves:
            tensors.extend(_tensors_of(leaf))

        def run(*values):
            remaining = iter(values)
            eager = [_rebuilt(leaf, remaining) for leaf in leaves]
            call_args, call_kwargs = nest.pack_sequence_as(structure, eager)
            with outside_traces():
                method(*call_args, **call_kwargs)

        tracer.effect(run, tensors)
        result = None if traced_result is None else traced_result(*args, **kwargs)
        changed = leaves + nest.flatten(result) + \
            (list(updates(*args, **kwargs)) if updates is not None else [])
        for leaf in changed:
            if isinstance(leaf, Variable):
                tracer.assigned.add(id(leaf))  # later reads see the call's update
        return result

    return functools.wraps(method)(call)


def _tensors_of(leaf) -> list:
    """The traced tensors an argument leaf carries."""
    if isinstance(leaf, Tensor):
        return [leaf]
    if type(leaf) is IndexedSlices:
        return [part for part in _parts(leaf) if isinstance(part, Tensor)]
    return []


def _parts(slices: IndexedSlices) -> tuple:
    return slices.values, slices.indices, slices.dense_shape


def _rebuilt(leaf, values):
    """The leaf of a replayed host call, its tensors taken in order from ``values``."""
    if isinstance(leaf, Tensor):
        return wrap(next(values))
    if type(leaf) is IndexedSlices:
        return IndexedSlices(*[wrap(next(values)) if isinstance(part, Tensor) else part
                               for part in _parts(leaf)])
    return leaf


def _is_iterator(value) -> bool:
    return hasattr(value, "__next__") and hasattr(value, "__iter__")
