"""The small core: Tensor, Variable, dtypes, the tape stack, recording and the backward engine."""
