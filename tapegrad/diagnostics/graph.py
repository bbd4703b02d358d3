"""The recorded graph, drawn: DOT text always; SVG/PNG through the optional graphviz extra."""

from __future__ import annotations

import os
import shutil

from tapegrad._core import nest
from tapegrad._core.tape import Recording
from tapegrad._core.tensor import Tensor
from tapegrad._core.variable import Variable
from tapegrad.diagnostics import provenance as _provenance
from tapegrad.diagnostics.explain import broken_call, explain
from tapegrad.diagnostics.graph_model import backward_reach, forward_reach, view_of


def _quote(text: str) -> str:
    """A DOT string; ``\\n`` in labels stays DOT's line break, quotes are escaped."""
    return '"' + text.replace('"', '\\"') + '"'


def _value_label(value) -> str:
    if isinstance(value, Variable):
        return f"Variable {value.name}\\n{tuple(value.shape)} {value.dtype.name}"
    if isinstance(value, Tensor):
        return f"{tuple(value.shape)} {value.dtype.name}"
    return type(value).__name__


class TapeGraph:
    """What a tape recorded between ``sources`` and ``target``.

    ``to_dot()`` gives Graphviz DOT text; ``render(path)`` writes SVG or PNG (by the file's
    extension) and needs ``pip install "tapegrad[graph]"`` and Graphviz's ``dot`` program.
    Sources are green, targets blue, the gradient path red, and where ``explain`` says a path
    breaks the op is drawn orange with the reason.
    """

    def __init__(self, recording: Recording | None, target, sources=None):
        if recording is None:
            raise ValueError("This tape recorded nothing: draw it after computing the target "
                             "inside `with tape:`.")
        self.view = view_of(recording)
        self.targets = [t for t in nest.flatten(target) if isinstance(t, (Tensor, Variable))]
        self.sources = [] if sources is None else nest.flatten(sources)
        self.report = explain(recording, target, sources) if sources is not None else None

    def to_dot(self) -> str:
        view = self.view
        target_ids = {id(t) for t in self.targets}
        needed = backward_reach(view, target_ids)
        on_path: set = set()
        for source in self.sources:
            on_path |= forward_reach(view, id(source), differentiable_only=True)
        on_path &= needed
        breaks = {}
        recorder = _provenance.current()
        if self.report is not None:
            for source, entry in zip(self.sources, self.report):
                if entry.reason in ("stop_gradient", "non_differentiable_op", "non_float_dtype"):
                    call = broken_call(view, id(source), target_ids, recorder)
                    if call is not None:
                        breaks[call.index] = entry.reason
        lines = ["digraph tape {", "  rankdir=TB;", '  node [fontname="Helvetica", fontsize=10];']
        produced = set(view.producer)
        leaves = {}
        for source in self.sources:
            leaves[id(source)] = ("source", source)
        for target in self.targets:
            if id(target) not in produced:
                leaves.setdefault(id(target), ("target", target))
        calls = [c for c in view.calls if any(o in needed for o in c.output_ids)]
        for call in calls:
            for key in call.input_ids:
                if key not in produced and key not in leaves:
                    value = next((v for v in call.inputs if id(v) == key), None)
                    leaves[key] = ("input", value)
        for key, (role, value) in leaves.items():
            color = {"source": "palegreen", "target": "lightblue"}.get(role, "white")
            label = f"{role}\\n{_value_label(value)}" if value is not None else role
            lines.append(f"  v{key} [shape=ellipse, style=filled, fillcolor={color}, "
                         f"label={_quote(label)}];")
        for call in calls:
            label = call.name
            if call.outputs:
                label += "\\n" + _value_label(call.outputs[0])
            if recorder is not None:
                raw = getattr(call.outputs[0], "_origin", None) if call.outputs else None
                location = None if raw is None else _provenance.Origin(raw).location
                if location:
                    label += f"\\n{location}"
            attributes = ["shape=box", "style=filled"]
            if call.index in breaks:
                attributes.append("fillcolor=orange")
                label += f"\\npath breaks here: {breaks[call.index]}"
            elif any(o in target_ids for o in call.output_ids):
                attributes.append("fillcolor=lightblue")
            elif any(o in on_path for o in call.output_ids):
                attributes.append("fillcolor=mistyrose")
            else:
                attributes.append("fillcolor=white")
            lines.append(f"  c{call.index} [{', '.join(attributes)}, label={_quote(label)}];")
        for call in calls:
            for key in call.input_ids:
                producer = view.producer.get(key)
                if producer is not None:
                    start = f"c{producer.index}"
                elif key in leaves:
                    start = f"v{key}"
                else:
                    continue
                hot = key in on_path and any(o in on_path for o in call.output_ids)
                style = ' [color=red, penwidth=2]' if hot else ""
                lines.append(f"  {start} -> c{call.index}{style};")
        lines.append("}")
        return "\n".join(lines) + "\n"

    def render(self, path: str) -> str:
        """Write the drawing to ``path`` (``.svg`` or ``.png``) and return the path."""
        try:
            import graphviz
        except ImportError:
            raise ImportError("Drawing needs the graphviz Python package and Graphviz's `dot` "
                              "program: pip install \"tapegrad[graph]\" and install Graphviz "
                              "(e.g. apt-get install graphviz). to_dot() works without "
                              "them.") from None
        if shutil.which("dot") is None:
            raise RuntimeError("Graphviz's `dot` program is not on PATH: install Graphviz (e.g. "
                               "apt-get install graphviz); to_dot() works without it.")
        stem, extension = os.path.splitext(path)
        fmt = extension.lstrip(".") or "svg"
        source = graphviz.Source(self.to_dot())
        return source.render(filename=stem, format=fmt, cleanup=True)

    def _repr_svg_(self):  # pragma: no cover - notebooks
        import graphviz
        return graphviz.Source(self.to_dot())._repr_image_svg_xml()
