"""IndexedSlices: the sparse gradient of a gather along axis 0 (as ``tf.IndexedSlices``)."""

from __future__ import annotations

from tapegrad._core import hooks


class IndexedSlices:
    """Rows ``values`` placed at ``indices`` of a dense tensor of shape ``dense_shape``.

    Duplicate indices are kept; converting to a dense tensor adds them up.

    >>> import tapegrad as tf
    >>> v = tf.Variable([[1.0], [2.0], [3.0]])
    >>> with tf.GradientTape() as tape:
    ...     y = tf.reduce_sum(tf.gather(v, [0, 0]))
    >>> tf.convert_to_tensor(tape.gradient(y, v)).numpy().ravel().tolist()
    [2.0, 0.0, 0.0]
    """

    __slots__ = ("values", "indices", "dense_shape")

    def __init__(self, values, indices, dense_shape):
        self.values = values
        self.indices = indices
        self.dense_shape = dense_shape

    @property
    def dtype(self):
        return self.values.dtype

    @property
    def shape(self):
        from tapegrad._core.tensor import TensorShape
        return TensorShape(int(d) for d in self.dense_shape.numpy())

    def to_dense(self):
        return hooks.scatter_rows(self.values, self.indices, self.dense_shape)

    def _tensor_conversion(self):
        return self.to_dense()

    def __repr__(self) -> str:
        return (f"IndexedSlices(indices={self.indices!r}, values={self.values!r}, "
                f"dense_shape={self.dense_shape!r})")
