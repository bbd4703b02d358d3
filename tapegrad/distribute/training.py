"""Gradient averaging for training loops: ``DistributedGradientTape`` and ``DistributedOptimizer``.

Both wrap what you already have (a ``GradientTape``, a Keras optimizer) in a subclass of its own
class whose gradients are reduced across ranks (fused, checked across ranks) before use.
"""

from __future__ import annotations

from tapegrad._core import nest
from tapegrad._core.indexed_slices import IndexedSlices
from tapegrad.distribute._engine import require_init
from tapegrad.distribute.collectives import (
    Average,
    Compression,
    ReduceOp,
    _resolve_op,
    reduce_group,
)


class _Reduction:
    """How gradients are combined: the op, compression, sparse handling and predivision."""

    def __init__(self, compression, sparse_as_dense: bool, op, gradient_predivide_factor):
        op = _resolve_op(op, None)
        if gradient_predivide_factor != 1.0 and op is not Average:
            raise ValueError("gradient_predivide_factor is only supported with op=hvd.Average.")
        self.compression = compression
        self.sparse_as_dense = sparse_as_dense
        self.op = op
        self.predivide = float(gradient_predivide_factor)

    def __call__(self, grads: list, names: list) -> list:
        require_init()
        if self.sparse_as_dense:
            grads = [g.to_dense() if isinstance(g, IndexedSlices) else g for g in grads]
        # Average = sum of (g / f) times f / size: predivision keeps large sums in range.
        return reduce_group(grads, names, self.op, self.compression, 1.0 / self.predivide,
                            self.predivide)


def _label(source, index: int) -> str:
    name = getattr(source, "path", None) or getattr(source, "name", None)
    return name if isinstance(name, str) else f"source {index}"


_DERIVED: dict = {}     # (mixin, class) -> the class deriving from both, made once


def _rebuild(instance, mixin: type, extra: dict):
    """A copy of ``instance`` whose class also derives from ``mixin`` (so isinstance checks and
    every other method are unchanged), with ``extra`` attributes."""
    if isinstance(instance, mixin):
        raise ValueError(f"{type(instance).__name__} is already distributed: wrapping it again "
                         "would reduce its gradients twice.")
    base = type(instance)
    cls = _DERIVED.get((mixin, base))
    if cls is None:
        cls = _DERIVED[(mixin, base)] = type(base.__name__, (mixin, base),
                                             {"__module__": base.__module__})
    wrapped = object.__new__(cls)
    wrapped.__dict__.update(instance.__dict__)
    wrapped.__dict__.update(extra)
    return wrapped


class _DistributedGradientTape:
    def gradient(self, target, sources, output_gradients=None, unconnected_gradients=None,
                 **kwargs):
        """The tape's gradients, reduced across ranks (averaged by default)."""
        if unconnected_gradients is not None:
            kwargs["unconnected_gradients"] = unconnected_gradients
        grads = super().gradient(target, sources, output_gradients=output_gradients, **kwargs)
        flat_sources = nest.flatten(sources)
        reduced = self._hvd_reduction(nest.flatten(grads),
                                      [_label(s, i) for i, s in enumerate(flat_sources)])
        return nest.pack_sequence_as(grads, reduced)


def DistributedGradientTape(gradtape, device_dense: str = "", device_sparse: str = "",
                            compression=Compression.none, sparse_as_dense: bool = False,
                            op: ReduceOp = Average, gradient_predivide_factor: float = 1.0):
    """``gradtape`` whose ``gradient()`` averages (``op``) the gradients over all ranks.

    Gradients are fused into one buffer per dtype; IndexedSlices are all-gathered (or made dense
    first with ``sparse_as_dense=True``); ``Compression.fp16`` halves the bytes sent. Every rank
    gets identical gradients. Wrap the tape after its ``with`` block (or before entering it).

    >>> import tapegrad as tf
    >>> import tapegrad.distribute as hvd
    >>> hvd.init()
    >>> w = tf.Variable([1.0, 2.0])
    >>> with tf.GradientTape() as tape:
    ...     loss = tf.reduce_sum(w * w)
    >>> tape = hvd.DistributedGradientTape(tape)
    >>> tape.gradient(loss, [w])[0].numpy()
    array([2., 4.], dtype=float32)
    """
    reduction = _Reduction(compression, sparse_as_dense, op, gradient_predivide_factor)
    return _rebuild(gradtape, _DistributedGradientTape, {"_hvd_reduction": reduction})


class _DistributedOptimizer:
    def apply(self, grads, trainable_variables=None):
        """Reduce ``grads`` across ranks, then apply them as the wrapped optimizer does."""
        grads = list(grads)
        variables = (self._trainable_variables if trainable_variables is None
                     else list(trainable_variables))
        names = [_label(v, i) for i, v in enumerate(variables)] if len(variables) == len(grads) \
            else [f"gradient {i}" for i in range(len(grads))]
        return super().apply(self._hvd_reduction(grads, names), trainable_variables)


def DistributedOptimizer(optimizer, name: str | None = None, use_locking: bool = False,
                         device_dense: str = "", device_sparse: str = "",
                         compression=Compression.none, sparse_as_dense: bool = False,
                         backward_passes_per_step: int = 1, op: ReduceOp = Average,
                         gradient_predivide_factor: float = 1.0):
    """A Keras optimizer that averages (``op``) gradients over all ranks before applying them.

    It takes over ``optimizer``'s state (use the returned one from then on); ``apply``,
    ``apply_gradients`` and ``minimize`` all reduce first.

    >>> import tapegrad as tf
    >>> import tapegrad.distribute as hvd
    >>> hvd.init()
    >>> w = tf.Variable([1.0])
    >>> opt = hvd.DistributedOptimizer(tf.keras.optimizers.SGD(learning_rate=0.5))
    >>> _ = opt.apply_gradients([(tf.constant([2.0]), w)])
    >>> w.numpy()
    array([0.], dtype=float32)
    """
    from tapegrad.keras.optimizers import Optimizer
    if not isinstance(optimizer, Optimizer):
        raise TypeError("DistributedOptimizer wraps a tapegrad.keras.optimizers optimizer; got "
                        f"{type(optimizer).__name__}.")
    if backward_passes_per_step != 1:
        raise NotImplementedError("backward_passes_per_step > 1 (local gradient accumulation) "
                                  "is not supported; accumulate the gradients in your loop.")
    reduction = _Reduction(compression, sparse_as_dense, op, gradient_predivide_factor)
    extra = {"_hvd_reduction": reduction}
    if name is not None:
        extra["name"] = name
    return _rebuild(optimizer, _DistributedOptimizer, extra)
