"""``tapegrad.train`` (as ``tf.train``): checkpoints."""

from tapegrad.training.checkpoint import (
    Checkpoint,
    CheckpointManager,
    CheckpointNotFoundError,
    latest_checkpoint,
    list_variables,
    load_variable,
)

__all__ = ["Checkpoint", "CheckpointManager", "latest_checkpoint", "list_variables",
           "load_variable", "CheckpointNotFoundError"]
