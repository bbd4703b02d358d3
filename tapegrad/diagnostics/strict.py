"""strict_gradients: gradient() raises, with the explain report, instead of returning None."""

from __future__ import annotations

from tapegrad._core import nest
from tapegrad._core.tape import Recording
from tapegrad.diagnostics.explain import explain


class MissingGradientError(ValueError):
    """A source got no gradient while strict gradients are on; ``.report`` says why."""

    def __init__(self, message: str, report):
        super().__init__(message)
        self.report = report


def raise_missing(recording: Recording, target, sources, flat_gradients) -> None:
    report = explain(recording, target, sources)
    missing = [entry for entry, grad in zip(report, flat_gradients) if grad is None]
    lines = "\n".join(f"  - {entry}" for entry in missing)
    raise MissingGradientError(
        f"{len(missing)} of {len(nest.flatten(sources))} sources got no gradient "
        f"(tapegrad.debugging.strict_gradients is on):\n{lines}", report)
