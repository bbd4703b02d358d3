"""GradientTape: the public façade over a Recording and the backward engine."""

from __future__ import annotations

import contextlib
import weakref

from tapegrad._core import hooks, nest
from tapegrad._core.tape import (
    Recording,
    backward,
)
from tapegrad._core.tensor import (
    Tensor,
    push_recorder,
    remove_recorder,
    set_recorders,
    state,
)
from tapegrad._core.variable import Variable
from tapegrad.autodiff import jacobian
from tapegrad.autodiff.arguments import (
    CONSUMED,
    DIFFERENTIABLE,
    UnconnectedGradients,
    check_differentiable_value,
    parse_unconnected,
    seeds_for,
)
from tapegrad.diagnostics.log import warn_once_per_line

_WATCHABLE = (Tensor, Variable)


class GradientTape:
    """Record operations for automatic differentiation, as ``tf.GradientTape``.

    >>> import tapegrad as tf
    >>> x = tf.constant(3.0)
    >>> with tf.GradientTape() as tape:
    ...     tape.watch(x)
    ...     y = x * x
    >>> float(tape.gradient(y, x))
    6.0
    """

    def __init__(self, persistent: bool = False, watch_accessed_variables: bool = True):
        self._persistent = persistent
        self._watch_accessed_variables = watch_accessed_variables
        self._recording: Recording | None = None
        self._in_block = False
        self._used = False
        self._last_recording: Recording | None = None  # shape of the graph after gradient()

    # -- context --------------------------------------------------------------------------
    def __enter__(self) -> GradientTape:
        if self._in_block:
            raise ValueError("Tape is still recording, This can happen if you try to re-enter "
                             "an already-active tape.")
        if self._recording is None:
            self._recording = Recording(self._watch_accessed_variables)
            self._used = False
        push_recorder(self._recording)
        self._in_block = True
        return self

    def __exit__(self, exc_type, exc, tb):
        self._in_block = False
        if self._recording is not None:  # (None: gradient() inside the block consumed it)
            remove_recorder(self._recording)
        return False

    def _is_active(self) -> bool:
        return any(r is self._recording for r in state.recorders)

    # -- watching -------------------------------------------------------------------------
    def watch(self, tensor) -> None:
        """Track ``tensor`` (a Tensor, a Variable, or any nest of them) on this tape."""
        recording = self._recording
        if recording is None:
            raise RuntimeError(
                "GradientTape.watch needs a tape that is recording: call it inside "
                "`with tapegrad.GradientTape() as tape:`" + (
                    " (this non-persistent tape was already used by gradient(); create a new "
                    "one)" if self._used else ""))
        items = (tensor,) if type(tensor) is Tensor else nest.flatten(tensor)
        for item in items:
            if not isinstance(item, _WATCHABLE):
                raise ValueError(
                    f"Passed in object {item!r} of type {type(item).__name__!r}, not tf.Tensor "
                    "or tf.Variable or ExtensionType. Convert it first with "
                    "tapegrad.constant(...) or watch a tapegrad.Variable.")
        for item in recording.watch_values(items):
            warn_once_per_line(f"The dtype of the watched tensor must be floating (e.g. "
                               f"tf.float32), got tf.{item.dtype.name}", depth=2)

    def watched_variables(self) -> tuple:
        """The variables this tape watches, in creation order."""
        recording = self._recording or self._last_recording
        watched = recording.watched if recording is not None else {}
        return tuple(sorted(watched.values(), key=lambda v: v._uid))

    # -- recording control ------------------------------------------------------------------
    @contextlib.contextmanager
    def stop_recording(self):
        """Temporarily stop recording operations (and watching variables) on this tape."""
        if self._recording is None:
            raise RuntimeError("Trying to stop recording a tape which is not recording.")
        if not self._in_block or not self._is_active():
            if self._in_block:
                raise RuntimeError("Trying to stop recording a tape which is not recording.")
            raise ValueError("Tape is not recording.")
        stack = state.recorders
        position = next(i for i, r in enumerate(stack) if r is self._recording)
        recording = stack[position]
        set_recorders(stack[:position] + stack[position + 1:])
        try:
            yield
        finally:
            if self._recording is recording and self._in_block:
                stack = state.recorders
                set_recorders(stack[:position] + (recording,) + stack[position:])

    def reset(self) -> None:
        """Forget everything recorded so far and keep recording."""
        if not self._in_block or self._recording is None or not self._is_active():
            raise ValueError("Tape is not recording.")
        old = self._recording
        self._recording = Recording(self._watch_accessed_variables)
        set_recorders(tuple(self._recording if r is old else r for r in state.recorders))

    # -- gradients --------------------------------------------------------------------------
    def gradient(self, target, sources, output_gradients=None,
                 unconnected_gradients=UnconnectedGradients.NONE):
        """Gradient of (the sum of) ``target`` with respect to each of ``sources``.

        The result has the structure of ``sources``. Sources the target does not depend on
        give None (or zeros with ``unconnected_gradients='zero'``).
        """
        if self._recording is None:
            raise RuntimeError(CONSUMED)
        unconnected = unconnected_gradients if unconnected_gradients is \
            UnconnectedGradients.NONE else parse_unconnected(unconnected_gradients)
        if target is None:
            raise TypeError("Argument `target` should be a list or nested structure of Tensors, "
                            "Variables or CompositeTensors to be differentiated, but received "
                            "None.")
        if type(target) is Tensor and type(sources) is Tensor:  # (the usual call: no nests)
            flat_targets, flat_sources = [target], [sources]
        else:
            flat_targets = nest.flatten(target)
            for item in flat_targets:
                if not isinstance(item, DIFFERENTIABLE):
                    check_differentiable_value(item, "target")
            flat_sources = nest.flatten(sources)
            for item in flat_sources:
                if not isinstance(item, DIFFERENTIABLE):
                    check_differentiable_value(item, "source")
        recording = self._consume()
        seeds = [None] * len(flat_targets) if output_gradients is None else \
            seeds_for(flat_targets, output_gradients)
        flat = backward(recording, flat_targets, seeds, flat_sources,
                        free=not self._persistent, observer=hooks.backward_observer)
        recording.last_gradients = {id(s): weakref.ref(g) for s, g in zip(flat_sources, flat)
                                    if type(g) is Tensor}
        if hooks.strict_gradients and any(g is None for g in flat):
            from tapegrad.diagnostics.strict import raise_missing
            raise_missing(recording, target, sources, flat)
        if unconnected is UnconnectedGradients.ZERO:
            flat = [hooks.zeros_like(s) if g is None else g for g, s in zip(flat, flat_sources)]
        return flat[0] if type(sources) is Tensor else nest.pack_sequence_as(sources, flat)

    def _consume(self) -> Recording:
        """Hand out the recording for one backward pass (the last one, if not persistent)."""
        recording = self._recording
        if self._persistent:
            if self._in_block and self._is_active():
                warn_once_per_line(
                    "Calling GradientTape.gradient on a persistent tape inside its context is "
                    "significantly less efficient than calling it outside the context (it "
                    "causes the gradient ops to be recorded on the tape, leading to increased "
                    "CPU and memory usage). Only call GradientTape.gradient inside the context "
                    "if you actually want to trace the gradient in order to compute higher "
                    "order derivatives.", limit=1, depth=4)
            return recording
        remove_recorder(recording)
        self._last_recording = recording
        self._recording = None
        self._used = True
        return recording

    def __del__(self):
        if self._persistent and self._recording is not None and self._recording.calls:
            try:
                from tapegrad.diagnostics.memory import warn_if_large
                warn_if_large(self._recording)
            except Exception:  # noqa: BLE001 - never raise from a destructor (shutdown)
                pass

    # -- diagnostics (tapegrad.diagnostics) ------------------------------------------------------
    def explain(self, target, sources):
        """Why each of ``sources`` does or does not get a gradient from ``target``.

        Returns a GradientReport (one entry per flattened source, with ``reason``, ``message``
        and ``location``); it does not consume a non-persistent tape.
        """
        from tapegrad.diagnostics.explain import explain
        return explain(self._recording or self._last_recording, target, sources)

    def graph(self, target, sources=None):
        """The recorded graph between ``sources`` and ``target``, drawable as DOT/SVG/PNG."""
        from tapegrad.diagnostics.graph import TapeGraph
        return TapeGraph(self._recording or self._last_recording, target, sources)

    def stats(self) -> dict:
        """What this tape holds: recorded ops and the bytes of saved and watched arrays."""
        from tapegrad.diagnostics.memory import tape_stats
        return tape_stats(self._recording)

    def jacobian(self, target, sources, unconnected_gradients=UnconnectedGradients.NONE,
                 parallel_iterations=None, experimental_use_pfor=True):
        """Jacobian of ``target`` with respect to each of ``sources``."""
        return jacobian.jacobian(self, target, sources, unconnected_gradients, parallel_iterations,
                        experimental_use_pfor)

    def batch_jacobian(self, target, source, unconnected_gradients=UnconnectedGradients.NONE,
                       parallel_iterations=None, experimental_use_pfor=True):
        """Per-example Jacobians: ``target[b]`` with respect to ``source[b]`` for each b."""
        return jacobian.batch_jacobian(self, target, source, unconnected_gradients,
                              parallel_iterations, experimental_use_pfor)
