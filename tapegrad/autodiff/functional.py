"""``tapegrad.autodiff``: ForwardAccumulator (TensorFlow's) and functional transforms (JAX's).

The transforms are thin layers over GradientTape and ForwardAccumulator and accept nested
structures (lists, tuples, dicts) of arguments.

>>> import tapegrad as tf
>>> f = lambda x: tf.reduce_sum(x ** 3)
>>> tf.autodiff.grad(f)(tf.constant([1.0, 2.0])).numpy().tolist()
[3.0, 12.0]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from tapegrad._core import nest
from tapegrad._core.tensor import Tensor, convert_to_tensor
from tapegrad._core.variable import Variable
from tapegrad.autodiff.forward import ForwardAccumulator
from tapegrad.autodiff.tape import GradientTape

__all__ = ["ForwardAccumulator", "grad", "value_and_grad", "jacobian", "hessian", "hvp", "jvp",
           "vjp"]


def _as_tensors(structure):
    return nest.map_structure(
        lambda v: v if isinstance(v, (Tensor, Variable)) else convert_to_tensor(v), structure)


def _positions(argnums, count: int) -> tuple[int, ...]:
    positions = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for p in positions:
        if not -count <= p < count:
            raise ValueError(f"argnums {argnums!r} is out of range for a function called with "
                             f"{count} positional arguments.")
    return tuple(p % count for p in positions)


def _traced(f: Callable, argnums, args: tuple, kwargs: dict):
    """Run ``f`` on a tape that watches the arguments ``argnums``: (tape, output, sources)."""
    args = list(args)
    positions = _positions(argnums, len(args))
    for p in positions:
        args[p] = _as_tensors(args[p])
    sources = [args[p] for p in positions]
    with GradientTape() as tape:
        tape.watch(sources)
        out = f(*args, **kwargs)
    return tape, out, sources


def value_and_grad(f: Callable, argnums: int | Sequence[int] = 0,
                   has_aux: bool = False) -> Callable:
    """``f``'s value and its gradient with respect to the arguments ``argnums``.

    ``f`` must return a scalar (or, with ``has_aux``, a pair ``(scalar, aux)``).
    """

    def wrapper(*args, **kwargs):
        tape, out, sources = _traced(f, argnums, args, kwargs)
        value, aux = (out if has_aux else (out, None))
        grads = tape.gradient(value, sources, unconnected_gradients="zero")
        result = grads[0] if isinstance(argnums, int) else tuple(grads)
        return ((value, aux), result) if has_aux else (value, result)

    return wrapper


def grad(f: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False) -> Callable:
    """The gradient of scalar-valued ``f`` with respect to the arguments ``argnums``."""
    both = value_and_grad(f, argnums, has_aux)

    def wrapper(*args, **kwargs):
        value, result = both(*args, **kwargs)
        return (result, value[1]) if has_aux else result

    return wrapper


def jacobian(f: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """The Jacobian of ``f`` (shape ``output.shape + input.shape``) for the arguments
    ``argnums``."""

    def wrapper(*args, **kwargs):
        tape, out, sources = _traced(f, argnums, args, kwargs)
        result = tape.jacobian(out, sources, unconnected_gradients="zero")
        return result[0] if isinstance(argnums, int) else tuple(result)

    return wrapper


def hessian(f: Callable, argnums: int = 0) -> Callable:
    """The Hessian of scalar-valued ``f`` with respect to argument ``argnums``."""
    return jacobian(grad(f, argnums), argnums)


def hvp(f: Callable, primals, tangents):
    """Hessian-vector product of scalar-valued ``f`` at ``primals`` along ``tangents``
    (forward-over-reverse: about the cost of one gradient)."""
    primals = _as_tensors(primals)
    single = not isinstance(primals, (list, tuple))
    flat = [primals] if single else list(primals)
    with ForwardAccumulator(flat, [tangents] if single else list(tangents)) as accumulator:
        with GradientTape() as tape:
            tape.watch(flat)
            value = f(*flat)
        grads = tape.gradient(value, flat, unconnected_gradients="zero")
    products = accumulator.jvp(grads, unconnected_gradients="zero")
    return products[0] if single else products


def jvp(f: Callable, primals: Sequence, tangents: Sequence):
    """``(f(*primals), J @ tangents)`` by forward mode."""
    primals = [_as_tensors(p) for p in primals]
    with ForwardAccumulator(primals, list(tangents)) as accumulator:
        out = f(*primals)
    return out, accumulator.jvp(out, unconnected_gradients="zero")


def vjp(f: Callable, *primals):
    """``(f(*primals), vjp_fn)`` where ``vjp_fn(cotangent)`` gives ``cotangent @ J`` for each
    primal."""
    primals = [_as_tensors(p) for p in primals]
    tape = GradientTape(persistent=True)
    with tape:
        tape.watch(primals)
        out = f(*primals)

    def vjp_fn(cotangent):
        grads = tape.gradient(out, primals, output_gradients=cotangent,
                              unconnected_gradients="zero")
        return tuple(grads)

    return out, vjp_fn
