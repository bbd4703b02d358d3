"""``tf.image``'s functions: resize, flips, dtype conversion, grayscale, contrast (TensorFlow's
``image_ops_impl``), built on the image ops of :mod:`tapegrad.ops.image` and other families."""

from __future__ import annotations

from tapegrad._core import dtypes as _dt
from tapegrad._core.backend import np
from tapegrad._core.errors import InvalidArgumentError
from tapegrad._core.tensor import Tensor, apply, convert_to_tensor
from tapegrad.ops import array, math
from tapegrad.ops import image as image_ops
from tapegrad.ops.composite import clip as clip_ops


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
    batched = images if images.ndim == 4 else array.expand_dims(images, 0)
    if method == "bilinear" and batched.dtype != _dt.float32:
        batched = math.cast(batched, _dt.float32)
    weights = {"rows": image_ops.resample_weights(method, batched.shape[1], size[0]),
               "cols": image_ops.resample_weights(method, batched.shape[2], size[1])}
    if not batched.dtype.is_floating:
        # nearest on integers: a pure selection, done on float64 (exact for these integers)
        out = math.cast(apply(image_ops.RESIZE, (math.cast(batched, _dt.float64),), weights),
                        batched.dtype)
    else:
        out = apply(image_ops.RESIZE, (batched,), weights)
    return out if images.ndim == 4 else array.squeeze(out, [0])


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
    return array.reverse(_image(image, "flip_left_right"), [-2])


def flip_up_down(image) -> Tensor:
    """Mirror the height axis."""
    return array.reverse(_image(image, "flip_up_down"), [-3])


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
        return math.identity(image)
    source = image.dtype
    if source.is_integer and dtype.is_integer:
        if source.max > dtype.max:  # scale down, then cast
            scaled = math.floordiv(image, (source.max + 1) // (dtype.max + 1))
            return math.cast(_saturated(scaled, dtype) if saturate else scaled, dtype)
        cast = math.cast(_saturated(image, dtype) if saturate else image, dtype)
        return math.multiply(cast, (dtype.max + 1) // (source.max + 1))
    if source.is_floating and dtype.is_floating:
        return math.cast(image, dtype)
    if source.is_integer:  # to float
        return math.multiply(math.cast(image, dtype), 1.0 / source.max)
    scaled = math.multiply(image, dtype.max + 0.5)  # float to integer
    return math.cast(_saturated(scaled, dtype) if saturate else scaled, dtype)


def _saturated(value: Tensor, dtype) -> Tensor:
    low = max(value.dtype.min, dtype.min) if value.dtype.is_integer else dtype.min
    high = min(value.dtype.max, dtype.max) if value.dtype.is_integer else dtype.max
    return clip_ops.clip_by_value(value, math.cast(low, value.dtype),
                                  math.cast(high, value.dtype))


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
    gray = array.expand_dims(array.tensordot(as_float, list(_GRAY_WEIGHTS), [[-1], [0]]), -1)
    return convert_image_dtype(gray, images.dtype)


def adjust_contrast(images, contrast_factor) -> Tensor:
    """``(x - mean) * contrast_factor + mean`` per channel (the mean over height and width).

    TensorFlow registers no gradient for it, so ``tape.gradient`` through it raises
    LookupError, as in TensorFlow.
    """
    images = _image(images, "adjust_contrast")
    source = images.dtype
    as_float = images if source.is_floating else math.cast(images, _dt.float32)
    factor = math.cast(convert_to_tensor(contrast_factor), as_float.dtype)
    out = apply(image_ops.ADJUST_CONTRAST, (as_float, factor))
    return out if source.is_floating else math.cast(out, source)
