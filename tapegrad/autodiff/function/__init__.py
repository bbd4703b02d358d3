"""``tf.function``: tracing, the compiled NumPy replay and its gradients.

Modules: :mod:`.symbolic` (the tensors a trace runs on), :mod:`.tracer` (the recorder that
writes the program), :mod:`.program` (optimisation passes and code generation),
:mod:`.compiled` (a compiled trace and its gradient programs), :mod:`.core` (``Function``:
signatures, retracing, introspection), :mod:`.printing` (``tf.print``), :mod:`.autograph`
(Python control flow on tensors).
"""

import functools

from tapegrad._core import forward as _forward
from tapegrad._core import indexed_slices as _indexed_slices
from tapegrad._core import tape as _tape
from tapegrad._core import tensor as _tensor
from tapegrad.autodiff.function import host as _host
from tapegrad.autodiff.function import symbolic as _symbolic
from tapegrad.autodiff.function import types
from tapegrad.autodiff.function.core import (
    ConcreteFunction,
    Function,
    function,
    functions_run_eagerly,
    run_functions_eagerly,
)
from tapegrad.autodiff.function.host import TensorArray, init_scope
from tapegrad.autodiff.function.printing import print_


def py_function(func=None, inp=None, Tout=None, name=None):
    """``tf.py_function``: ``func`` runs in Python on eager tensors on every call, even inside
    ``tf.function``. Without ``func`` (``@tf.py_function(Tout=...)``) it is a decorator: the
    decorated function's arguments are the inputs.

    >>> import tapegrad as tf
    >>> @tf.py_function(Tout=tf.float32)
    ... def plus(x, y):
    ...     return x + y
    >>> float(tf.function(plus)(tf.constant(1.0), tf.constant(2.0)))
    3.0
    """
    if func is not None:
        return _host.py_function(func, inp, Tout, name)

    def decorator(function):
        @functools.wraps(function)
        def call(*inputs):
            return _host.py_function(function, inputs, Tout, name)
        return call
    return decorator


# Core code that passes symbolic values only to recorded forwards and rules reads them
# directly: the dispatcher, the Tensor class itself (SymbolicTensor overrides what reads a
# value), the backward and forward engines. (This package reads them with array_in_trace.)
_symbolic.trust_functions(_tensor.apply, _tensor.apply1, _tensor.apply2, _tensor.op_input)
_symbolic._trust_object(_tensor.Tensor, _tensor.__name__)
_symbolic.trust(_tape, _forward, _indexed_slices)

__all__ = ["function", "Function", "ConcreteFunction", "run_functions_eagerly",
           "functions_run_eagerly", "print_", "py_function", "init_scope", "TensorArray", "types"]
