"""Opt-in provenance: every value remembers the op that made it and where in the user's code.

While enabled, a recorder on the thread's recorder list sees every op (recorded on a tape or
not), variable reads and assignments, and values exported to NumPy or Python. ``explain`` uses it
to tell ``not_recorded``, ``left_the_tape`` and ``replaced_variable`` apart and to give
``file:line`` locations.
"""

from __future__ import annotations

import collections
import os
import sys
import weakref

from tapegrad._core import hooks
from tapegrad._core.backend import np
from tapegrad._core.tensor import Recorder, Tensor, recording_threads, set_recorders, state
from tapegrad._core.variable import Variable

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_NUMPY_DIR = os.path.dirname(os.path.abspath(np.__file__)) + os.sep


_internal_code: dict = {}


def _is_internal(code) -> bool:
    internal = _internal_code.get(code)
    if internal is None:
        internal = _internal_code[code] = code.co_filename.startswith(_PACKAGE_DIR)
    return internal


def user_frame(depth: int = 2):
    """``(filename, line)`` of the innermost caller outside tapegrad (None when none)."""
    frame = sys._getframe(depth)
    while frame is not None:
        if not _is_internal(frame.f_code):
            return frame.f_code.co_filename, frame.f_lineno
        frame = frame.f_back
    return None


def _user_position(frame):
    """``(code, bytecode offset)`` of the first frame from ``frame`` outwards that is outside
    tapegrad (None when there is none): the line is looked up only when asked for."""
    internal = _internal_code
    while frame is not None:
        code = frame.f_code
        flag = internal.get(code)
        if flag is None:
            flag = internal[code] = code.co_filename.startswith(_PACKAGE_DIR)
        if not flag:
            return code, frame.f_lasti
        frame = frame.f_back
    return None


def _export_site(frame) -> tuple[str | None, str]:
    """Where a value left for NumPy/Python, from the frame of the Tensor method that let it out
    (``numpy``, ``__float__`` or ``__array__``): the user's ``file:line`` (NumPy's own frames
    skipped) and how it left, in words."""
    how = {"numpy": ".numpy()", "__float__": "float()"}.get(frame.f_code.co_name)
    numpy_function = None
    frame = frame.f_back
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename.startswith(_NUMPY_DIR):
            numpy_function = frame.f_code.co_name  # the outermost one is the user's call
        elif not _is_internal(frame.f_code):
            break
        frame = frame.f_back
    location = None if frame is None else \
        f"{os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno}"
    if how is None:
        if numpy_function is None:
            how = "NumPy (a ufunc such as np.sin, or np.asarray/np.array)"
        elif hasattr(np, numpy_function):
            how = f"np.{numpy_function}()"
        else:
            how = f"the NumPy function {numpy_function}()"
    return location, how


def user_location(depth: int = 2) -> str | None:
    """``file:line`` of the innermost caller outside tapegrad (None when there is none)."""
    found = user_frame(depth + 1)
    return None if found is None else f"{os.path.basename(found[0])}:{found[1]}"


# An origin is stored on its value as a plain tuple (cheap to make on every op):
# (op name, id of the value, parent origins, (code, offset) or (file, line), exported-from
# origin, variable id). `Origin` is the readable view used by the diagnostics.
_OP, _KEY, _PARENTS, _FRAME, _EXPORTED, _VARIABLE = range(6)


def make_origin(op, key, parents=(), frame=None, exported_from=None, variable_id=None) -> tuple:
    return (op, key, parents, frame, exported_from, variable_id)


class Origin:
    """How one value came to be: the op, the origins of its inputs, and where (a view)."""

    __slots__ = ("raw",)

    def __init__(self, raw: tuple):
        self.raw = raw

    op = property(lambda self: self.raw[_OP])
    key = property(lambda self: self.raw[_KEY])  # id() of the value when it was made
    variable_id = property(lambda self: self.raw[_VARIABLE])  # for variable reads

    @property
    def parents(self) -> tuple:
        return tuple(Origin(p) for p in self.raw[_PARENTS])

    @property
    def exported_from(self):
        """The origin of the value that left the tape into this one (or None)."""
        raw = self.raw[_EXPORTED]
        return None if raw is None else Origin(raw)

    def __eq__(self, other) -> bool:
        return isinstance(other, Origin) and other.raw is self.raw

    def __hash__(self) -> int:
        return id(self.raw)

    @property
    def location(self) -> str | None:
        """``file:line`` in the user's code where the value was made."""
        frame = self.raw[_FRAME]
        if frame is None:
            return None
        where, position = frame
        if isinstance(where, str):
            return f"{os.path.basename(where)}:{position}"
        # (code object, bytecode offset): the line is looked up only when asked for
        line = next((number for start, end, number in where.co_lines()
                     if start <= position < end), where.co_firstlineno)
        return f"{os.path.basename(where.co_filename)}:{line}"


_HISTORY = 256


class ProvenanceRecorder(Recorder):
    """Records the origin of every value produced while it is installed."""

    def __init__(self):
        self.exports: dict = {}  # id(ndarray) or ('value', number) -> Origin of the tensor
        self.assignments: dict = {}  # id(variable) -> list of (Origin of the value, location)
        # The latest values that left for NumPy/Python and constants made from NumPy/Python
        # data with no known link to one, oldest first: ("export", origin, location, how) or
        # ("const", origin). NumPy arithmetic on an exported value cannot be followed; this
        # order is what lets a diagnosis still say where the value left.
        self.history: collections.deque = collections.deque(maxlen=_HISTORY)

    def _remember(self, obj, origin: tuple):
        # The origin lives on the value itself: it dies with the value unless a later value's
        # origin still refers to it (the history of live values stays, and nothing else).
        try:
            obj._origin = origin
        except AttributeError:
            pass

    def raw_origin_of(self, value) -> tuple:
        """The origin tuple of a value; a value made before provenance gets a leaf origin,
        cached on it so later lookups are cheap."""
        found = getattr(value, "_origin", None)
        if found is not None:
            return found
        leaf = make_origin("Leaf", id(value),
                           variable_id=id(value) if isinstance(value, Variable) else None)
        try:
            value._origin = leaf
        except AttributeError:
            pass
        return leaf

    def origin_of(self, value) -> Origin:
        """The Origin (view) of a value."""
        return Origin(self.raw_origin_of(value))

    # Hot while provenance is on: kept flat (few helper calls on the common path) on purpose.
    def _record1(self, op, x, output, attrs):
        if type(x) is Tensor:
            try:
                parent = x._origin
            except AttributeError:
                parent = self.raw_origin_of(x)
        else:
            parent = self.raw_origin_of(x)
        # _record1 <- apply1 <- the op's function (tapegrad's own) <- (maybe) the user: the walk
        # starts past the op's function (each frame it steps through costs a frame object)
        output._origin = (op.name, id(output), (parent,), _user_position(sys._getframe(3)),
                          None, None)

    def _record2(self, op, x, y, output, attrs):
        exported = None
        kind = type(x)
        if kind is float or kind is int:
            first = None
            if self.exports:
                exported = self.exports.get(("value", x))
        elif kind is Tensor:
            try:
                first = x._origin
            except AttributeError:
                first = self.raw_origin_of(x)
        else:
            first = self.raw_origin_of(x)
        kind = type(y)
        if kind is float or kind is int:
            second = None
            if self.exports:
                exported = self.exports.get(("value", y), exported)
        elif kind is Tensor:
            try:
                second = y._origin
            except AttributeError:
                second = self.raw_origin_of(y)
        else:
            second = self.raw_origin_of(y)
        parents = (first,) if second is None else (second,) if first is None else (first, second)
        # _record2 <- apply2 <- the op or operator <- (maybe) the user
        output._origin = (op.name, id(output), parents, _user_position(sys._getframe(2)),
                          exported, None)

    def _record(self, op, inputs, output, attrs):
        parents = []
        exported = None
        for value in inputs:
            if type(value) is Tensor:
                try:
                    parents.append(value._origin)
                    continue
                except AttributeError:
                    pass
            kind = type(value)
            if kind is float or kind is int:
                if self.exports:
                    exported = self.exports.get(("value", value), exported)
                continue
            parents.append(self.raw_origin_of(value))
        self._stamp(op, tuple(parents), exported, output)

    def _stamp(self, op, parents, exported, output):
        """Give ``output`` its origin: the op, the parents' origins and the user's line."""
        try:
            frame = sys._getframe(3)  # _stamp <- _record <- apply <- the op (or the user)
        except ValueError:
            frame = sys._getframe(1)
        where = _user_position(frame)
        if type(output) is tuple:
            for item in output:
                item._origin = (op.name, id(item), parents, where, exported, None)
        else:
            output._origin = (op.name, id(output), parents, where, exported, None)

    def _read_variable(self, variable, tensor):
        if tensor is not None:
            self._remember(tensor, make_origin("ReadVariableOp", id(tensor),
                                               (self.raw_origin_of(variable),), user_frame(3),
                                               variable_id=id(variable)))

    # -- hooks called by the core while provenance is on ------------------------------------------
    def exported(self, tensor, value):
        """``tensor``'s value left the tape as ``value`` (a NumPy array or Python number)."""
        origin = self.raw_origin_of(tensor)
        self.history.append(("export", origin, *_export_site(sys._getframe(1))))
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
        origin = make_origin("Const", id(tensor), (), user_frame(3), exported_from=exported)
        self._remember(tensor, origin)
        if exported is None:
            self.history.append(("const", origin))

    def export_site(self, origin: Origin) -> tuple[str | None, str | None]:
        """``(file:line, how)`` where and how the value with this origin last left for
        NumPy/Python (how: ``.numpy()``, ``float()``, the NumPy function; None if unknown)."""
        for event in reversed(self.history):
            if event[0] == "export" and event[1] is origin.raw:
                return event[2], event[3]
        return None, None

    def assigned(self, variable, value):
        if isinstance(value, (Tensor, Variable)):
            self.assignments.setdefault(id(variable), []).append(
                (self.raw_origin_of(value), user_location(3)))

    def ancestry(self, value) -> dict:
        """Every Origin ``value`` was computed from, by id, mapped to ``(origin, next origin on
        the way to value)`` (exports and variable reads are followed)."""
        return ancestry_of(self.raw_origin_of(value))


def ancestry_of(start) -> dict:
    """Like ProvenanceRecorder.ancestry, from an origin (tuple or Origin)."""
    start = start.raw if isinstance(start, Origin) else start
    seen = {id(start): (start, None)}
    stack = [start]
    while stack:
        origin = stack.pop()
        parents = list(origin[_PARENTS])
        if origin[_EXPORTED] is not None:
            parents.append(origin[_EXPORTED])
        for parent in parents:
            if id(parent) not in seen:
                seen[id(parent)] = (parent, origin)
                stack.append(parent)
    return {key: (Origin(o), None if child is None else Origin(child))
            for key, (o, child) in seen.items()}


_recorder: ProvenanceRecorder | None = None


def set_global_recorder(recorder, on: bool) -> None:
    """Turn a recorder that sees every thread's work (provenance, check_numerics) on or off: it
    goes outermost on this thread's stack, and every new thread starts with it."""
    if on:
        hooks.global_recorders.append(recorder)
        recording_threads.add(0)  # (new threads' stacks start with it)
        set_recorders((recorder,) + state.recorders)
    else:
        hooks.global_recorders.remove(recorder)
        if not hooks.global_recorders:
            recording_threads.discard(0)
        set_recorders(tuple(r for r in state.recorders if r is not recorder))


def enable() -> None:
    """Turn provenance on (this thread and threads started later)."""
    global _recorder
    if _recorder is None:
        _recorder = ProvenanceRecorder()
        hooks.provenance = _recorder
        set_global_recorder(_recorder, True)


def disable() -> None:
    global _recorder
    if _recorder is not None:
        set_global_recorder(_recorder, False)
        hooks.provenance = None
        _recorder = None


def current() -> ProvenanceRecorder | None:
    return _recorder
