"""``tf.image`` basics: resize (bilinear, nearest), flips, grayscale, dtype conversion, contrast.

``resize`` follows TensorFlow 2's ``half_pixel_centers`` sampling: output pixel ``o`` looks at
input coordinate ``(o + 0.5) * in / out - 0.5`` (bilinear) or ``floor((o + 0.5) * in / out)``
(nearest). Both are separable linear maps, so one op applies a row matrix and a column matrix;
its gradient is the transposed map, as TensorFlow's ResizeBilinearGrad / ResizeNearestNeighborGrad.
"""

from __future__ import annotations

from tapegrad._core import dtypes as _dt
from tapegrad._core.backend import np
from tapegrad._core.errors import InvalidArgumentError
from tapegrad._core.registry import NO_GRADIENT, register
from tapegrad._core.tensor import Tensor, apply, convert_to_tensor
from tapegrad.ops import array as _array
from tapegrad.ops import math as _math
from tapegrad.ops._sample import Sample
from tapegrad.ops._util import randn
from tapegrad.ops.composite import clip as clip_ops


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
    return {"rows": _weights(method, 3, 5), "cols": _weights(method, 4, 2)}


RESIZE = register(
    name="ResizeSeparable", forward=_resize_forward, vjp=_resize_vjp, jvp=_resize_jvp,
    samples=lambda: [Sample((randn(2, 3, 4, 2),), _sample_attrs("bilinear")),
                     Sample((randn(1, 3, 4, 1),), _sample_attrs("nearest"))])
RESIZE_TRANSPOSED = register(
    name="ResizeSeparableGrad", forward=_transposed_forward, vjp=_transposed_vjp,
    jvp=_transposed_jvp,
    samples=lambda: [Sample((randn(2, 5, 2, 2),), _sample_attrs("bilinear"))])


def _weights(method: str, size_in: int, size_out: int) -> np.ndarray:
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


class ResizeMethod:
    """The names ``tf.image.resize`` accepts as ``method`` (tapegrad implements the first two)."""

    BILINEAR = "bilinear"
    NEAREST_NEIGHBOR = "nearest"
    BICUBIC = "bicubic"
    AREA = "area"
    LANCZOS3 = "lanczos3"
    LANCZOS5 = "lanczos5"
    GAUSSIAN = "gaussian"
    MITCHELLCUBIC = "mitchellcubic"


_METHODS = (ResizeMethod.BILINEAR, ResizeMethod.NEAREST_NEIGHBOR)


def resize(images, size, method="bilinear", preserve_aspect_ratio=False, antialias=False,
           name=None) -> Tensor:
    """Resize ``images`` ([batch,] height, width, channels) to ``size`` = [height, width].

    Bilinear results are float32; nearest keeps the input dtype (as TensorFlow).

    >>> import tapegrad as tf
    >>> tf.image.resize([[[1.0], [3.0]]], [1, 4])[0, :, 0].numpy().tolist()
    [1.0, 1.5, 2.5, 3.0]
    """
    if method not in _METHODS:
        raise ValueError(f"Resize method is not implemented: {method} (tapegrad supports "
                         f"'bilinear' and 'nearest').")
    if preserve_aspect_ratio or antialias:
        raise NotImplementedError("tf.image.resize: preserve_aspect_ratio and antialias are not "
                                  "supported by tapegrad.")
    images = convert_to_tensor(images)
    if images.ndim not in (3, 4):
        raise ValueError(f"'images' must have either 3 or 4 dimensions, got shape "
                         f"{list(images.shape)}.")
    size = [int(s) for s in np.asarray(size.numpy() if isinstance(size, Tensor) else size)]
    if len(size) != 2:
        raise ValueError(f"'size' must be a 1-D Tensor of 2 elements: new_height, new_width; "
                         f"got {size}.")
    if min(size) <= 0:
        raise ValueError(f"'size' must be positive, got {size}.")
    batched = images if images.ndim == 4 else _array.expand_dims(images, 0)
    if method == "bilinear" and batched.dtype != _dt.float32:
        batched = _math.cast(batched, _dt.float32)
    if not batched.dtype.is_floating:
        # nearest on integers: a pure selection, done on float64 (exact for these integers)
        out = apply(RESIZE, (_math.cast(batched, _dt.float64),),
                    {"rows": _weights(method, batched.shape[1], size[0]),
                     "cols": _weights(method, batched.shape[2], size[1])})
        out = _math.cast(out, batched.dtype)
    else:
        out = apply(RESIZE, (batched,), {"rows": _weights(method, batched.shape[1], size[0]),
                                         "cols": _weights(method, batched.shape[2], size[1])})
    return out if images.ndim == 4 else _array.squeeze(out, [0])


def _image(images, what: str) -> Tensor:
    images = convert_to_tensor(images)
    if images.ndim < 3:
        raise ValueError(f"{what}: 'image' must be at least three-dimensional, got shape "
                         f"{list(images.shape)}.")
    return images


def flip_left_right(image) -> Tensor:
    """Mirror the width axis.

    >>> import tapegrad as tf
    >>> tf.image.flip_left_right([[[1], [2]]])[0, :, 0].numpy().tolist()
    [2, 1]
    """
    return _array.reverse(_image(image, "flip_left_right"), [-2])


def flip_up_down(image) -> Tensor:
    """Mirror the height axis."""
    return _array.reverse(_image(image, "flip_up_down"), [-3])


def convert_image_dtype(image, dtype, saturate=False, name=None) -> Tensor:
    """Convert pixel values between dtypes, rescaling: floats span [0, 1], integers [0, MAX].

    >>> import tapegrad as tf
    >>> tf.image.convert_image_dtype(tf.constant([0, 255], tf.uint8), tf.float32).numpy()
    array([0., 1.], dtype=float32)
    """
    image = convert_to_tensor(image)
    dtype = _dt.as_dtype(dtype)
    if not (dtype.is_floating or dtype.is_integer):
        raise AttributeError("dtype must be either floating point or integer")
    if not (image.dtype.is_floating or image.dtype.is_integer):
        raise AttributeError("image dtype must be either floating point or integer")
    if dtype == image.dtype:
        return _math.identity(image)
    source = image.dtype
    if source.is_integer and dtype.is_integer:
        if source.max > dtype.max:  # scale down, then cast
            scaled = _math.floordiv(image, (source.max + 1) // (dtype.max + 1))
            return _math.cast(_saturated(scaled, dtype) if saturate else scaled, dtype)
        cast = _math.cast(_saturated(image, dtype) if saturate else image, dtype)
        return _math.multiply(cast, (dtype.max + 1) // (source.max + 1))
    if source.is_floating and dtype.is_floating:
        return _math.cast(image, dtype)
    if source.is_integer:  # to float
        return _math.multiply(_math.cast(image, dtype), 1.0 / source.max)
    scaled = _math.multiply(image, dtype.max + 0.5)  # float to integer
    return _math.cast(_saturated(scaled, dtype) if saturate else scaled, dtype)


def _saturated(value: Tensor, dtype) -> Tensor:
    low = max(value.dtype.min, dtype.min) if value.dtype.is_integer else dtype.min
    high = min(value.dtype.max, dtype.max) if value.dtype.is_integer else dtype.max
    return clip_ops.clip_by_value(value, _math.cast(low, value.dtype),
                                  _math.cast(high, value.dtype))


_GRAY_WEIGHTS = (0.2989, 0.5870, 0.1140)


def rgb_to_grayscale(images, name=None) -> Tensor:
    """Luma of RGB images (last axis 3 -> 1), in the input's dtype.

    >>> import tapegrad as tf
    >>> float(tf.image.rgb_to_grayscale([[[1.0, 1.0, 1.0]]])[0, 0, 0])
    0.9999000430107117
    """
    images = convert_to_tensor(images)
    if images.ndim < 1 or images.shape[-1] != 3:
        raise InvalidArgumentError(f"rgb_to_grayscale: the last dimension must be 3 (RGB), "
                                   f"got shape {list(images.shape)}.")
    as_float = convert_image_dtype(images, _dt.float32)
    gray = _array.expand_dims(_array.tensordot(as_float, list(_GRAY_WEIGHTS), [[-1], [0]]), -1)
    return convert_image_dtype(gray, images.dtype)


def _contrast_forward(images, factor):
    mean = images.mean(axis=(-3, -2), keepdims=True, dtype=np.float64)
    return ((images - mean) * factor + mean).astype(images.dtype)


ADJUST_CONTRAST = register(
    name="AdjustContrastv2", forward=_contrast_forward, vjp=NO_GRADIENT, differentiable=False,
    samples=lambda: [Sample((randn(2, 2, 3), np.asarray(1.5)), wrt=(),
                            note="TensorFlow registers no gradient for AdjustContrastv2")])


def adjust_contrast(images, contrast_factor) -> Tensor:
    """``(x - mean) * contrast_factor + mean`` per channel (the mean over height and width).

    TensorFlow registers no gradient for it, so ``tape.gradient`` through it raises
    LookupError, as in TensorFlow.
    """
    images = _image(images, "adjust_contrast")
    source = images.dtype
    as_float = images if source.is_floating else _math.cast(images, _dt.float32)
    factor = _math.cast(convert_to_tensor(contrast_factor), as_float.dtype)
    out = apply(ADJUST_CONTRAST, (as_float, factor))
    return out if source.is_floating else _math.cast(out, source)
