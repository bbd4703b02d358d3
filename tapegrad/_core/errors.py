"""TensorFlow's exception types (``tf.errors``), so code that catches them keeps working."""


class OpError(Exception):
    """Base class of the errors an operation raises (as ``tf.errors.OpError``)."""

    def __init__(self, node_def=None, op=None, message: str = "", *args):
        if message == "" and isinstance(node_def, str) and op is None:
            message, node_def = node_def, None
        super().__init__(message)
        self.message = message
        self.node_def = node_def
        self.op = op


class InvalidArgumentError(OpError, ValueError):
    """An operation received an invalid argument (bad shape, dtype or value)."""


class InternalError(OpError):
    """Internal state is inconsistent."""


class UnimplementedError(OpError, NotImplementedError):
    """The operation is not implemented for these arguments."""


class NotFoundError(OpError):
    """A file or entity was not found."""


class FailedPreconditionError(OpError):
    """The system is not in a state to run the operation."""


class OutOfRangeError(OpError, IndexError):
    """An index or iteration went past the valid range."""


class ResourceExhaustedError(OpError):
    """A resource (memory, quota) is exhausted."""


class DataLossError(OpError):
    """Unrecoverable data loss or corruption (for example a truncated checkpoint)."""
