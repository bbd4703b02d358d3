"""GradientTape.jacobian and batch_jacobian."""

from __future__ import annotations

import math

from tapegrad._core import nest
from tapegrad._core.backend import np
from tapegrad._core.indexed_slices import IndexedSlices
from tapegrad._core.tape import backward
from tapegrad._core.tensor import Tensor, array_of, wrap
from tapegrad._core.variable import Variable
from tapegrad.autodiff.arguments import (
    CONSUMED,
    UnconnectedGradients,
    check_differentiable_value,
    parse_unconnected,
)


def _check_pfor(tape, parallel_iterations, use_pfor: bool, what: str, rows: int):
    if not use_pfor and not tape._persistent:
        raise RuntimeError(f"GradientTape must be created with persistent=True to compute the "
                           f"{what} with eager execution enabled and with experimental_use_pfor "
                           "set to False.")
    if use_pfor and parallel_iterations is not None:
        if parallel_iterations == 1 and what == "jacobian":
            raise ValueError("Encountered an exception while vectorizing the jacobian "
                             "computation. Vectorization can be disabled by setting "
                             "experimental_use_pfor to False. (parallel_iterations == 1: use "
                             "experimental_use_pfor=False for a loop instead.)")
        if not tape._persistent and parallel_iterations <= rows:
            if what == "jacobian":
                raise ValueError("Encountered an exception while vectorizing the jacobian "
                                 "computation. Vectorization can be disabled by setting "
                                 "experimental_use_pfor to False. (parallel_iterations smaller "
                                 "than the number of target elements needs a persistent tape.)")
            raise RuntimeError("GradientTape must be created with persistent=True to compute "
                               "the batch_jacobian with parallel_iterations.")


def _rows(tape, target, flat_sources, seeds):
    """Gradients of ``target`` for each seed in ``seeds`` (one backward pass per seed)."""
    recording = tape._consume()
    results = []
    for seed in seeds:
        results.append(backward(recording, [target], [seed], flat_sources, free=False))
    if not tape._persistent:
        recording.free()
    return results


def _batched(tape, target, flat_sources, seed):
    """Gradients for a seed with one leading batch axis, from a single backward pass."""
    recording = tape._consume()
    results = backward(recording, [target], [seed], flat_sources, free=not tape._persistent,
                       batch_dims=1)
    return results


def _rows_to(grad, batched_shape, shape):
    """A batched gradient (rows first) as a tensor of ``shape`` (recorded ops)."""
    from tapegrad.ops import array
    if type(grad) is IndexedSlices:
        grad = grad.to_dense()
    if tuple(array_of(grad).shape) != batched_shape:
        grad = array.broadcast_to(grad, batched_shape)
    return array.apply1(array.RESHAPE, grad, {"shape": tuple(shape)})


def _dense(grad, like):
    if grad is None:
        like_value = array_of(like)
        return wrap(np.zeros(like_value.shape, like_value.dtype))
    return grad.to_dense() if type(grad) is IndexedSlices else grad


def _stack_ops():
    """tapegrad's stack and reshape: recorded, so an enclosing tape can differentiate the
    Jacobian (Hessians)."""
    from tapegrad.ops.array import reshape, stack
    return stack, reshape


def jacobian(tape, target, sources, unconnected_gradients, parallel_iterations, use_pfor):
    if tape._recording is None:
        raise RuntimeError(CONSUMED)
    if not isinstance(target, (Tensor, Variable)):
        raise TypeError(f"jacobian: target must be a single Tensor, got "
                        f"{type(target).__name__}; call jacobian once per target (or stack "
                        "them into one tensor).")
    unconnected = parse_unconnected(unconnected_gradients)
    flat_sources = nest.flatten(sources)
    for item in flat_sources:
        check_differentiable_value(item, "source")
    target_value = array_of(target)
    size = math.prod(target_value.shape)
    _check_pfor(tape, parallel_iterations, use_pfor, "jacobian", size)
    if use_pfor and size:
        # One backward pass: the seed carries all rows of the identity on a leading axis.
        seed = wrap(np.eye(size, dtype=target_value.dtype).reshape((size,) + target_value.shape))
        columns = _batched(tape, target, flat_sources, seed)
        results = []
        for source, grad in zip(flat_sources, columns):
            source_value = array_of(source)
            shape = tuple(target_value.shape) + tuple(source_value.shape)
            if grad is None:
                results.append(None if unconnected is UnconnectedGradients.NONE else
                               wrap(np.zeros(shape, dtype=source_value.dtype)))
            else:
                results.append(_rows_to(grad, (size,) + tuple(source_value.shape), shape))
        return nest.pack_sequence_as(sources, results)
    seeds = []
    for row in range(size):
        seed = np.zeros(target_value.shape, dtype=target_value.dtype)
        seed.reshape(-1)[row] = 1
        seeds.append(wrap(seed))
    rows = _rows(tape, target, flat_sources, seeds)
    results = []
    for index, source in enumerate(flat_sources):
        column = [row[index] for row in rows]
        source_value = array_of(source)
        shape = tuple(target_value.shape) + tuple(source_value.shape)
        if size and all(g is None for g in column):
            results.append(None if unconnected is UnconnectedGradients.NONE else
                           wrap(np.zeros(shape, dtype=source_value.dtype)))
            continue
        if not size:
            results.append(wrap(np.zeros(shape, dtype=source_value.dtype)))
            continue
        stack, reshape = _stack_ops()
        results.append(reshape(stack([_dense(g, source) for g in column]), shape))
    return nest.pack_sequence_as(sources, results)


def batch_jacobian(tape, target, source, unconnected_gradients, parallel_iterations, use_pfor):
    if tape._recording is None:
        raise RuntimeError(CONSUMED)
    check_differentiable_value(target, "target")
    check_differentiable_value(source, "source")
    target_value, source_value = array_of(target), array_of(source)
    target_shape, source_shape = tuple(target_value.shape), tuple(source_value.shape)
    for shape in (target_shape, source_shape):
        if len(shape) < 2:
            raise ValueError(f"Shape {shape} must have rank at least 2 (batch_jacobian needs a "
                             "leading batch axis on both target and source).")
    if target_shape[0] != source_shape[0]:
        raise ValueError(f"Need first dimension of target shape ({target_shape}) and source "
                         f"shape ({source_shape}) to match.")
    batch = target_shape[0]
    row_size = math.prod(target_shape[1:])
    _check_pfor(tape, parallel_iterations, use_pfor, "batch_jacobian", row_size)
    out_shape = target_shape + source_shape[1:]
    if use_pfor:
        # Row r of every example at once: seed[r, b, r] = 1; each example's target row depends
        # only on its own source row, so one batched backward pass gives every block.
        seed = np.zeros((row_size, batch, row_size), dtype=target_value.dtype)
        seed[np.arange(row_size), :, np.arange(row_size)] = 1
        (grad,) = _batched(tape, target, [source], wrap(seed.reshape((row_size,) +
                                                                      target_shape)))
        if grad is None:
            return wrap(np.zeros(out_shape, dtype=source_value.dtype))
        from tapegrad.ops.array import transpose
        rows_first = _rows_to(grad, (row_size,) + source_shape,
                              (row_size, batch, math.prod(source_shape[1:])))
        return _reshape(transpose(rows_first, (1, 0, 2)), out_shape)
    seeds = []
    for row in range(row_size):
        seed = np.zeros((batch, row_size), dtype=target_value.dtype)
        seed[:, row] = 1
        seeds.append(wrap(seed.reshape(target_shape)))
    rows = _rows(tape, target, [source], seeds)
    columns = [row[0] for row in rows]
    if not columns or all(g is None for g in columns):
        # TensorFlow returns zeros here even with unconnected_gradients=NONE.
        return wrap(np.zeros(out_shape, dtype=source_value.dtype))
    stack, reshape = _stack_ops()
    return reshape(stack([_dense(g, source) for g in columns], axis=1), out_shape)


def _reshape(tensor, shape):
    from tapegrad.ops.array import reshape
    return reshape(tensor, shape)
