"""``tf.autodiff.ForwardAccumulator``: forward-mode autodiff's public façade over the core's
tangent recorder."""

from __future__ import annotations

from tapegrad._core import hooks, nest
from tapegrad._core.forward import TangentRecorder
from tapegrad._core.tensor import (
    Tensor,
    array_of,
    convert_to_tensor,
    push_recorder,
    remove_recorder,
)
from tapegrad._core.variable import Variable
from tapegrad.autodiff.arguments import UnconnectedGradients, parse_unconnected
from tapegrad.diagnostics.log import warn_once_per_line


class ForwardAccumulator(TangentRecorder):
    """Compute Jacobian-vector products with forward-mode autodiff.

    >>> import tapegrad as tf
    >>> x = tf.constant([1.0, 2.0])
    >>> with tf.autodiff.ForwardAccumulator(x, tf.constant([1.0, 0.0])) as acc:
    ...     y = x * x * x
    >>> acc.jvp(y).numpy().tolist()
    [3.0, 0.0]
    """

    def __init__(self, primals, tangents):
        flat_primals = nest.flatten(primals)
        flat_tangents = nest.flatten(tangents)
        if len(flat_primals) != len(flat_tangents):
            raise ValueError(f"ForwardAccumulator: {len(flat_primals)} primals but "
                             f"{len(flat_tangents)} tangents; give one tangent per primal.")
        super().__init__()
        self._recording = False
        for primal, tangent in zip(flat_primals, flat_tangents):
            if not isinstance(primal, (Tensor, Variable)):
                raise TypeError(f"ForwardAccumulator primals must be Tensors or Variables, got "
                                f"{type(primal).__name__}.")
            if id(primal) in self._tangents:
                raise ValueError(f"Tensor {primal!r} was specified as a primal multiple times. "
                                 "This may indicate an error. If it was intended, please sum "
                                 "the corresponding tangents.")
            if array_of(primal).dtype.kind not in "fc":
                warn_once_per_line(f"The dtype of the watched primal must be floating (e.g. "
                                    f"tf.float32), got tf.{primal.dtype.name}", depth=2)
                continue
            try:
                tangent = convert_to_tensor(tangent, dtype=primal.dtype)
            except (TypeError, ValueError) as error:
                raise ValueError(f"Tangent for a {primal.dtype.name} primal has the wrong dtype: "
                                 f"{error}") from None
            self._tangents[id(primal)] = (primal, tangent)

    # -- public API -----------------------------------------------------------------------------
    def __enter__(self) -> ForwardAccumulator:
        if self._recording:
            raise ValueError("Accumulator is already recording.")
        push_recorder(self)
        self._recording = True
        return self

    def __exit__(self, *exc):
        if self._recording:
            remove_recorder(self)
            self._recording = False
        return False

    def jvp(self, primals, unconnected_gradients=UnconnectedGradients.NONE):
        """The Jacobian-vector product of each tensor in the nest ``primals``."""
        unconnected = parse_unconnected(unconnected_gradients)

        def one(value):
            entry = self._tangents.get(id(value))
            if entry is not None:
                return entry[1]
            if unconnected is UnconnectedGradients.ZERO:
                return hooks.zeros_like(value)
            return None

        return nest.map_structure(one, primals)
