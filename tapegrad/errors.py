"""TensorFlow's exception types (``tapegrad.errors.InvalidArgumentError`` etc.)."""

from tapegrad._core.errors import (  # noqa: F401
    DataLossError,
    FailedPreconditionError,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    OpError,
    OutOfRangeError,
    ResourceExhaustedError,
    UnimplementedError,
)
