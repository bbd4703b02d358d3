"""``tapegrad.image``: image ops under TensorFlow's ``tf.image`` names."""

from tapegrad.ops.composite.image import (  # noqa: F401
    ResizeMethod,
    adjust_contrast,
    convert_image_dtype,
    flip_left_right,
    flip_up_down,
    resize,
    rgb_to_grayscale,
)
