"""check_numerics: stop at the first op that makes a NaN or Inf, forward or backward."""

from __future__ import annotations

import weakref

from tapegrad._core import hooks
from tapegrad._core.backend import np
from tapegrad._core.errors import InvalidArgumentError
from tapegrad._core.indexed_slices import IndexedSlices
from tapegrad._core.tensor import Recorder, Tensor, array_of
from tapegrad.diagnostics.provenance import set_global_recorder, user_location


def _summary(value) -> str:
    array = array_of(value)
    if isinstance(value, IndexedSlices):
        array = array_of(value.values)
    if not hasattr(array, "dtype"):
        return repr(value)
    text = f"shape={tuple(np.shape(array))} dtype={array.dtype.name}"
    if array.dtype.kind in "fc" and np.size(array):
        finite = np.isfinite(array)
        values = array[finite] if not finite.all() else array
        nan = int(np.count_nonzero(np.isnan(array)))
        inf = int(np.size(array) - np.count_nonzero(finite) - nan)
        if np.size(values):
            text += f" min={np.min(values.real):.4g} max={np.max(values.real):.4g}"
        text += f" nan={nan} inf={inf}"
    return text


def _bad(value) -> bool:
    if not isinstance(value, Tensor):
        return False
    array = array_of(value)
    if array.dtype.kind not in "fc":
        return False
    return not np.isfinite(array).all()


class NumericsChecker(Recorder):
    """Recorder that checks each op's outputs; backward rules are checked by ``observe``."""

    def __init__(self):
        self.locations: dict = {}

    def _remember(self, output, location):
        key = id(output)
        self.locations[key] = location
        try:
            weakref.finalize(output, self.locations.pop, key, None)
        except TypeError:
            pass

    def _record(self, op, inputs, output, attrs):
        location = user_location(3)
        outputs = output if type(output) is tuple else (output,)
        for item in outputs:
            self._remember(item, location)
        if hooks.in_backward:
            return
        for item in outputs:
            if _bad(item):
                described = "\n".join(f"    input {i}: {_summary(v)}"
                                      for i, v in enumerate(inputs))
                raise InvalidArgumentError(
                    f"check_numerics: {op.name} produced NaN or Inf in the forward pass at "
                    f"{location or 'an unknown location'}.\n  output: {_summary(item)}\n"
                    f"  inputs:\n{described}\n"
                    "Fix the input range (e.g. log of a non-positive value, division by zero, "
                    "overflowing exp) or use a stable op (log_softmax, reduce_logsumexp, "
                    "divide_no_nan).")

    def _read_variable(self, variable, tensor):
        pass

    def observe(self, op, inputs, output, upstream, input_grads, needs):
        for position, grad in enumerate(input_grads):
            value = grad.values if isinstance(grad, IndexedSlices) else grad
            if isinstance(value, Tensor) and _bad(value):
                outputs = output if type(output) is tuple else (output,)
                location = next((self.locations.get(id(o)) for o in outputs
                                 if id(o) in self.locations), None)
                ups = upstream if isinstance(upstream, tuple) else (upstream,)
                raise InvalidArgumentError(
                    f"check_numerics: the gradient rule of {op.name} (forward op at "
                    f"{location or 'an unknown location'}) produced NaN or Inf for its input "
                    f"{position} during backpropagation.\n  gradient: {_summary(value)}\n"
                    + "".join(f"  forward input {i}: {_summary(v)}\n"
                              for i, v in enumerate(inputs))
                    + "".join(f"  upstream: {_summary(u)}\n" for u in ups)
                    + "A forward value at a singular point (sqrt or log at 0, a tf.where "
                    "branch that is infinite where it is not selected) is the usual cause: "
                    "sanitize the input first (the double-where pattern).")


_checker: NumericsChecker | None = None


def enable_check_numerics(stack_height_limit: int = 30, path_length_limit: int = 50) -> None:
    """Raise InvalidArgumentError at the first op whose output (or gradient) has NaN or Inf.

    >>> import tapegrad as tf
    >>> tf.debugging.enable_check_numerics()
    >>> try:
    ...     tf.math.log(tf.constant(0.0))
    ... except tf.errors.InvalidArgumentError as error:
    ...     print("caught:", str(error).splitlines()[0][:39])
    caught: check_numerics: Log produced NaN or Inf
    >>> tf.debugging.disable_check_numerics()
    """
    global _checker
    if _checker is not None:
        return
    _checker = NumericsChecker()
    set_global_recorder(_checker, True)
    hooks.backward_observer = _checker.observe


def disable_check_numerics() -> None:
    """Turn check_numerics off (no cost remains)."""
    global _checker
    if _checker is None:
        return
    set_global_recorder(_checker, False)
    hooks.backward_observer = None
    _checker = None
