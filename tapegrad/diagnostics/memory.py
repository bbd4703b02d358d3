"""Memory accounting for a tape: recorded ops and the bytes their saved arrays hold."""

from __future__ import annotations

from tapegrad._core.tape import Call, Recording
from tapegrad._core.tensor import Tensor, array_of
from tapegrad.diagnostics.log import get_logger

_logger = get_logger()

#: A persistent tape dropped while holding more than this many bytes logs a warning
#: (None turns the warning off).
warn_persistent_tape_bytes: int | None = 256 * 2 ** 20


def _arrays_of(value):
    if isinstance(value, Tensor):
        yield array_of(value)
    elif isinstance(value, tuple):
        for item in value:
            yield from _arrays_of(item)


def tape_stats(recording: Recording | None) -> dict:
    """Counts and bytes a tape's ``recording`` holds (zero once a non-persistent tape's
    gradient() freed it).

    Keys: ``ops`` (recorded calls that still hold values), ``saved_bytes`` (distinct arrays the
    calls keep alive), ``watched_bytes`` (watched tensors and variables), ``per_op`` (op name ->
    {"count", "bytes"}).
    """
    result = {"ops": 0, "saved_bytes": 0, "watched_bytes": 0, "per_op": {}}
    if recording is None or recording.freed:
        return result
    seen = set()
    for record in recording.records():
        if type(record) is not Call:
            continue
        op, inputs, output = record.op, record.inputs, record.output
        entry = result["per_op"].setdefault(op.name, {"count": 0, "bytes": 0})
        entry["count"] += 1
        result["ops"] += 1
        for value in (*inputs, output):
            for array in _arrays_of(value):
                if id(array) in seen:
                    continue
                seen.add(id(array))
                size = getattr(array, "nbytes", 0)
                entry["bytes"] += size
                result["saved_bytes"] += size
    for value in (*recording.watched.values(), *recording.watched_tensors.values()):
        result["watched_bytes"] += getattr(array_of(value), "nbytes", 0)
    return result


def warn_if_large(recording) -> None:
    """Called when a persistent tape is collected: warn if it still held many bytes."""
    if warn_persistent_tape_bytes is None or recording is None or recording.freed:
        return
    held = tape_stats(recording)["saved_bytes"]
    if held > warn_persistent_tape_bytes:
        _logger.warning("A persistent GradientTape was dropped while holding %.1f MB of saved "
                        "values; call tape.reset() or `del tape` once you are done with it "
                        "(tapegrad.diagnostics.memory.warn_persistent_tape_bytes sets the "
                        "threshold).", held / 2 ** 20)
