"""``tf.image``'s ops: resampling (resize) and contrast.

Resampling follows TensorFlow 2's ``half_pixel_centers``: output pixel ``o`` looks at input
coordinate ``(o + 0.5) * in / out - 0.5`` (bilinear) or ``floor((o + 0.5) * in / out)``
(nearest). Both are separable linear maps, so one op applies a row matrix and a column matrix;
its gradient is the transposed map, as TensorFlow's ResizeBilinearGrad / ResizeNearestNeighborGrad.
The public ``tf.image`` functions are in :mod:`tapegrad.ops.composite.image`.
"""

from __future__ import annotations

from tapegrad._core.backend import np
from tapegrad._core.registry import NO_GRADIENT, register
from tapegrad._core.tensor import apply
from tapegrad.ops._sample import Sample
from tapegrad.ops._util import randn


def _resize_forward(images, rows, cols):
    # images [batch, height, width, channels]; rows [out_h, h]; cols [out_w, w]
    return np.einsum("oh,bhwc,pw->bopc", rows, images, cols).astype(images.dtype, copy=False)


def _resize_vjp(inputs, output, attrs, upstream, needs):
    return (apply(RESIZE_TRANSPOSED, (upstream,), attrs) if needs[0] else None,)


def _resize_jvp(inputs, output, attrs, tangents):
    return apply(RESIZE, (tangents[0],), attrs)


def _transposed_forward(upstream, rows, cols):
    return np.einsum("oh,bopc,pw->bhwc", rows, upstream, cols).astype(upstream.dtype,
                                                                       copy=False)


def _transposed_vjp(inputs, output, attrs, upstream, needs):
    return (apply(RESIZE, (upstream,), attrs) if needs[0] else None,)


def _transposed_jvp(inputs, output, attrs, tangents):
    return apply(RESIZE_TRANSPOSED, (tangents[0],), attrs)


def _sample_attrs(method: str):
    return {"rows": resample_weights(method, 3, 5), "cols": resample_weights(method, 4, 2)}


RESIZE = register(
    name="ResizeSeparable", forward=_resize_forward, vjp=_resize_vjp, jvp=_resize_jvp,
    samples=lambda: [Sample((randn(2, 3, 4, 2),), _sample_attrs("bilinear")),
                     Sample((randn(1, 3, 4, 1),), _sample_attrs("nearest"))])
RESIZE_TRANSPOSED = register(
    name="ResizeSeparableGrad", forward=_transposed_forward, vjp=_transposed_vjp,
    jvp=_transposed_jvp,
    samples=lambda: [Sample((randn(2, 5, 2, 2),), _sample_attrs("bilinear"))])


def resample_weights(method: str, size_in: int, size_out: int) -> np.ndarray:
    """The [size_out, size_in] matrix that resamples one axis."""
    scale = size_in / size_out
    out = np.arange(size_out)
    weights = np.zeros((size_out, size_in))
    if method == "nearest":
        source = np.minimum(np.floor((out + 0.5) * scale).astype(np.int64), size_in - 1)
        weights[out, source] = 1.0
        return weights
    position = np.maximum((out + 0.5) * scale - 0.5, 0.0)
    low = np.minimum(np.floor(position).astype(np.int64), size_in - 1)
    high = np.minimum(low + 1, size_in - 1)
    fraction = position - low
    np.add.at(weights, (out, low), 1.0 - fraction)
    np.add.at(weights, (out, high), fraction)
    return weights


def _contrast_forward(images, factor):
    mean = images.mean(axis=(-3, -2), keepdims=True, dtype=np.float64)
    return ((images - mean) * factor + mean).astype(images.dtype)


ADJUST_CONTRAST = register(
    name="AdjustContrastv2", forward=_contrast_forward, vjp=NO_GRADIENT, differentiable=False,
    samples=lambda: [Sample((randn(2, 2, 3), np.asarray(1.5)), wrt=(),
                            note="TensorFlow registers no gradient for AdjustContrastv2")])
