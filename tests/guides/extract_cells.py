"""Turn a guide notebook of tensorflow/docs into a harness script, one ``# %%`` block per code cell.

Run once per guide (the scripts are committed and then edited by hand where a cell needs a
download, a GPU or a SavedModel)::

    python tests/guides/extract_cells.py docs/site/en/guide/autodiff.ipynb \
        tests/guides/scripts/autodiff.py

The notebook's licence header cell is dropped; IPython magics and shell lines (``%...``, ``!...``)
become a skipped cell, since neither TensorFlow nor tapegrad runs them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def notebook_cells(notebook: Path) -> list[str]:
    """The source text of every code cell of ``notebook`` except the licence header."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    sources = ["".join(cell["source"]).rstrip() for cell in cells if cell["cell_type"] == "code"]
    return [source for source in sources if not source.startswith("#@title Licensed")]


def script_text(notebook: Path, origin: str) -> str:
    """The harness script for ``notebook``; ``origin`` names it in the header."""
    lines = [
        f'"""Code cells of {origin} (tensorflow/docs, Apache License 2.0), one "# %%" block each.',
        "",
        'Blocks marked "skip: <reason>" do not run, "unscored: <reason>" run uncompared; edits',
        'for the harness carry "# harness:".',
        '"""',
    ]
    for number, source in enumerate(notebook_cells(notebook), start=1):
        magic = any(line.lstrip().startswith(("%", "!")) for line in source.splitlines())
        marker = f"# %% cell {number}" + (" skip: IPython magic or shell command" if magic else "")
        lines += ["", marker, source]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    source, target = Path(sys.argv[1]), Path(sys.argv[2])
    origin = "/".join(source.parts[source.parts.index("site"):]) if "site" in source.parts \
        else source.name
    target.write_text(script_text(source, origin), encoding="utf-8")
