"""Eager stand-ins for graph-building helpers: ``function``, ``cond``, ``while_loop``."""

from __future__ import annotations

import functools

from tapegrad._core.tensor import Tensor
from tapegrad._core.variable import Variable


def function(func=None, input_signature=None, autograph=True, jit_compile=None,
             reduce_retracing=False, **unused):
    """Run ``func`` eagerly, so ``@tf.function`` code works unchanged (no graph is built).

    >>> import tapegrad as tf
    >>> @tf.function
    ... def f(x):
    ...     return x * 2.0
    >>> float(f(tf.constant(1.5)))
    3.0
    """
    if func is None:
        return lambda f: function(f, input_signature, autograph, jit_compile)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        return func(*args, **kwargs)

    wrapper.python_function = func
    return wrapper


def cond(pred, true_fn=None, false_fn=None, name=None):
    """Call ``true_fn()`` or ``false_fn()`` depending on ``pred`` (eagerly)."""
    return true_fn() if bool(pred) else false_fn()


def while_loop(cond, body, loop_vars, shape_invariants=None, parallel_iterations=10,
               back_prop=True, swap_memory=False, maximum_iterations=None, name=None):
    """Run ``loop_vars = body(*loop_vars)`` while ``cond(*loop_vars)`` holds (eagerly)."""
    single = not isinstance(loop_vars, (list, tuple))
    state = [loop_vars] if single else list(loop_vars)
    count = 0
    while bool(cond(*state)):
        if maximum_iterations is not None and count >= maximum_iterations:
            break
        result = body(*state)
        state = [result] if single or not isinstance(result, (list, tuple)) else list(result)
        count += 1
    if single:
        return state[0]
    return type(loop_vars)(state) if isinstance(loop_vars, tuple) else state


def is_tensor(x) -> bool:
    """Whether ``x`` is a tapegrad Tensor or Variable."""
    return isinstance(x, (Tensor, Variable))
