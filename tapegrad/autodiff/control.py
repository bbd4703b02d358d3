"""Control flow and placement as functions: ``cond``, ``while_loop``, ``map_fn`` and
``device``."""

from __future__ import annotations

import contextlib

from tapegrad._core import dtypes as _dt
from tapegrad._core import nest
from tapegrad._core.errors import InvalidArgumentError
from tapegrad._core.tensor import Tensor, convert_to_tensor
from tapegrad._core.variable import Variable


def cond(pred, true_fn=None, false_fn=None, name=None):
    """Call ``true_fn()`` or ``false_fn()`` depending on ``pred``; inside ``tf.function`` both
    branches are traced and the call is one op.

    >>> import tapegrad as tf
    >>> f = tf.function(lambda x: tf.cond(x > 0, lambda: x * x, lambda: -x))
    >>> float(f(tf.constant(3.0))), float(f(tf.constant(-2.0)))
    (9.0, 2.0)
    """
    if true_fn is None or false_fn is None:
        raise TypeError("cond(): true_fn and false_fn are required, e.g. "
                        "tf.cond(x > 0, lambda: x, lambda: -x).")
    from tapegrad.autodiff.function import control_flow as _traced  # (loaded on first use)
    return _traced.cond(pred, true_fn, false_fn)


def while_loop(cond, body, loop_vars, shape_invariants=None, parallel_iterations=10,
               back_prop=True, swap_memory=False, maximum_iterations=None, name=None):
    """Run ``loop_vars = body(*loop_vars)`` while ``cond(*loop_vars)`` holds; inside
    ``tf.function`` condition and body are traced once and the loop is one op.

    >>> import tapegrad as tf
    >>> f = tf.function(lambda n: tf.while_loop(lambda i, s: i < n, lambda i, s: (i + 1, s + i),
    ...                                         (0, 0))[1])
    >>> int(f(tf.constant(4))), int(f(tf.constant(5)))
    (6, 10)
    """
    from tapegrad.autodiff.function import control_flow as _traced  # (loaded on first use)
    if _traced.active_tracer() is not None:
        return _traced.while_loop(cond, body, loop_vars, maximum_iterations)
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


_DEVICE_TYPES = ("CPU", "GPU", "TPU")


def _check_device_name(name) -> None:
    """Parse a device name as TensorFlow does (``/job:x/replica:0/task:0/device:CPU:0``,
    ``CPU:0``, ``gpu`` ...), raising TensorFlow's ValueError for a malformed one."""
    if name is None:
        return
    if not isinstance(name, str):
        raise ValueError(f"Expecting a string device name. Got {type(name)}({name})")
    device_type = None
    for part in name.split("/"):
        fields = part.split(":")
        if fields[0] in ("job", "replica", "task") and len(fields) == 2:
            continue
        if fields[0].upper() in _DEVICE_TYPES and len(fields) <= 2:
            kind, index = fields[0], fields[1:]
        elif fields[0] == "device" and len(fields) == 3:
            kind, index = fields[1], fields[2:]
        elif fields[0] == "":
            continue
        else:
            raise ValueError(f"Unknown attribute '{fields[0]}' is encountered while parsing "
                             f"the device spec: '{name}'.")
        if device_type is not None:
            raise ValueError(f"Multiple device types are not allowed while parsing the device "
                             f"spec: {name}.")
        device_type = kind
        if index and index[0] != "*":
            int(index[0])  # ValueError for a non-numeric index, as TensorFlow


@contextlib.contextmanager
def device(device_name):
    """Place ops on a device: every op runs on the CPU here, as TensorFlow does when the named
    device is absent (soft placement), so this only checks the name.

    >>> import tapegrad as tf
    >>> with tf.device("CPU:0"):
    ...     x = tf.constant(1.0)
    >>> x.device
    '/job:localhost/replica:0/task:0/device:CPU:0'
    """
    _check_device_name(device_name)
    yield None


def map_fn(fn, elems, dtype=None, parallel_iterations=None, back_prop=True, swap_memory=False,
           infer_shape=True, name=None, fn_output_signature=None):
    """Apply ``fn`` to each slice of ``elems`` along axis 0 and stack the results (recorded, so
    gradients flow through ``fn``).

    ``elems`` may be a nested structure of tensors with one first dimension; ``fn`` then gets
    the same structure of slices. Results must have the structure and dtypes of
    ``fn_output_signature`` (default: those of ``elems``).

    >>> import tapegrad as tf
    >>> tf.map_fn(lambda x: x * x, tf.constant([1.0, 2.0, 3.0])).numpy()
    array([1., 4., 9.], dtype=float32)
    >>> tf.map_fn(lambda pair: pair[0] + pair[1], (tf.constant([1, 2]), tf.constant([10, 20])),
    ...           fn_output_signature=tf.int32).numpy()
    array([11, 22], dtype=int32)
    """
    from tapegrad.ops.array import stack, unstack, zeros

    signature = fn_output_signature if fn_output_signature is not None else dtype
    flat = [convert_to_tensor(item) for item in nest.flatten(elems)]
    if not flat:
        raise ValueError("elems must be a Tensor or (possibly nested) sequence of Tensors. "
                         "Got [].")
    for item in flat:
        if item.ndim == 0:
            raise ValueError("elems must be a 1+ dimensional Tensor, not a scalar")
    count = flat[0].shape[0]
    if any(item.shape[0] != count for item in flat):
        raise ValueError(f"Tensors in elems must have the same size in their first "
                         f"dimension; got {[item.shape[0] for item in flat]}.")
    expected = elems if signature is None else signature
    expected_flat = [_dt.as_dtype(spec.dtype if hasattr(spec, "dtype") else spec)
                     for spec in nest.flatten(expected)]
    columns = [unstack(item) for item in flat]
    results = []
    for index in range(count):
        result = fn(nest.pack_sequence_as(elems, [column[index] for column in columns]))
        leaves = [convert_to_tensor(leaf) for leaf in nest.flatten(result)]
        if len(leaves) != len(expected_flat):
            raise ValueError(f"map_fn: fn returned {len(leaves)} values, but the output "
                             f"signature has {len(expected_flat)}: {expected!r}.")
        for leaf, want in zip(leaves, expected_flat):
            if leaf.dtype != want:
                raise InvalidArgumentError(f"map_fn: fn returned a {leaf.dtype.name} value where "
                                           f"{want.name} was expected; pass "
                                           f"fn_output_signature=tf.{leaf.dtype.name} when fn "
                                           f"changes the dtype.")
        results.append(leaves)
    if count == 0:
        stacked = [zeros((0,), want) for want in expected_flat]  # shape (0,), as TensorFlow
    else:
        stacked = [stack(list(column)) for column in zip(*results)]
    return nest.pack_sequence_as(expected, stacked)
