"""Opt-in provenance: every value remembers the op that made it and where in the user's code.

While enabled, a recorder on the thread's recorder list sees every op (recorded on a tape or
not), variable reads and assignments, and values exported to NumPy or Python. ``explain`` uses it
to tell ``not_recorded``, ``left_the_tape`` and ``replaced_variable`` apart and to give
``file:line`` locations.
"""

from __future__ import annotations

import os
import sys
import weakref

from tapegrad._core import hooks
from tapegrad._core.tensor import state

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def user_location(depth: int = 2) -> str | None:
    """``file:line`` of the innermost caller outside tapegrad (None when there is none)."""
    frame = sys._getframe(depth)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not filename.startswith(_PACKAGE_DIR):
            return f"{os.path.basename(filename)}:{frame.f_lineno}"
        frame = frame.f_back
    return None


class Origin:
    """How one value came to be: the op, the origins of its inputs, and where."""

    __slots__ = ("op", "key", "parents", "location", "recorded", "exported_from", "variable_id")

    def __init__(self, op, key, parents=(), location=None, recorded=False, exported_from=None,
                 variable_id=None):
        self.op = op
        self.key = key  # id() of the value when it was made
        self.parents = parents  # Origins of the inputs (strong refs: the history stays)
        self.location = location
        self.recorded = recorded  # recorded on at least one tape
        self.exported_from = exported_from  # Origin of the value that left the tape into this
        self.variable_id = variable_id  # for variable reads


class ProvenanceRecorder:
    """Records the origin of every value produced while it is installed."""

    def __init__(self):
        self.origins: dict = {}  # id(live value) -> Origin
        self.exports: dict = {}  # id(ndarray) or ('value', number) -> Origin of the tensor
        self.assignments: dict = {}  # id(variable) -> list of (Origin of the value, location)

    def _remember(self, obj, origin: Origin):
        key = id(obj)
        self.origins[key] = origin
        try:
            weakref.finalize(obj, _forget, self.origins, key, origin)
        except TypeError:
            pass

    def origin_of(self, value) -> Origin:
        """The Origin of a live value (a leaf Origin for values made before provenance)."""
        found = self.origins.get(id(value))
        if found is not None:
            return found
        variable_id = id(value) if hasattr(value, "_read_for_op") else None
        return Origin("Leaf", id(value), variable_id=variable_id)

    def _record(self, op, inputs, output, attrs):
        recorded = False
        for recorder in state.recorders:
            tracked = getattr(recorder, "tracked", None)
            if tracked is not None and any(id(v) in tracked for v in inputs):
                recorded = True
                break
        parents = []
        exported = None
        for value in inputs:
            if type(value) in (float, int):
                source = self.exports.get(("value", value))
                if source is not None:
                    exported = source
                continue
            parents.append(self.origin_of(value))
        location = user_location(3)
        for item in (output if type(output) is tuple else (output,)):
            self._remember(item, Origin(op.name, id(item), tuple(parents), location, recorded,
                                        exported))

    def _read_variable(self, variable, tensor):
        if tensor is not None:
            self._remember(tensor, Origin("ReadVariableOp", id(tensor),
                                          (self.origin_of(variable),), user_location(3), False,
                                          variable_id=id(variable)))

    # -- hooks called by the core while provenance is on ------------------------------------------
    def exported(self, tensor, value):
        """``tensor``'s value left the tape as ``value`` (a NumPy array or Python number)."""
        origin = self.origin_of(tensor)
        if isinstance(value, (float, int, complex)):
            self.exports[("value", value)] = origin
        else:
            self.exports[id(value)] = origin
            try:
                weakref.finalize(value, self.exports.pop, id(value), None)
            except TypeError:
                pass

    def constant_created(self, source, tensor):
        """A tensor was built from ``source`` (a NumPy array or Python number)."""
        key = ("value", source) if isinstance(source, (float, int, complex)) else id(source)
        exported = self.exports.get(key)
        self._remember(tensor, Origin("Const", id(tensor), (), user_location(3), False,
                                      exported_from=exported))

    def assigned(self, variable, value):
        if hasattr(value, "_value"):
            self.assignments.setdefault(id(variable), []).append(
                (self.origin_of(value), user_location(3)))

    def ancestry(self, value) -> dict:
        """Every Origin ``value`` was computed from, by id, mapped to ``(origin, next origin on
        the way to value)`` (exports and variable reads are followed)."""
        return ancestry_of(self.origin_of(value))


def ancestry_of(start: Origin) -> dict:
    """Like ProvenanceRecorder.ancestry, from an Origin."""
    if True:
        seen = {id(start): (start, None)}
        stack = [start]
        while stack:
            origin = stack.pop()
            parents = list(origin.parents)
            if origin.exported_from is not None:
                parents.append(origin.exported_from)
            for parent in parents:
                if id(parent) not in seen:
                    seen[id(parent)] = (parent, origin)
                    stack.append(parent)
        return seen


def _forget(origins: dict, key: int, origin: Origin) -> None:
    if origins.get(key) is origin:
        del origins[key]


_recorder: ProvenanceRecorder | None = None


def enable() -> None:
    """Turn provenance on (this thread and threads started later)."""
    global _recorder
    if _recorder is None:
        _recorder = ProvenanceRecorder()
        state.recorders.insert(0, _recorder)
        hooks.provenance = _recorder
        hooks.global_recorders.append(_recorder)


def disable() -> None:
    global _recorder
    if _recorder is not None:
        if _recorder in state.recorders:
            state.recorders.remove(_recorder)
        hooks.global_recorders.remove(_recorder)
        hooks.provenance = None
        _recorder = None


def current() -> ProvenanceRecorder | None:
    return _recorder
