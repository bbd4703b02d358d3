"""Run a guide script cell by cell, as a notebook would, and compare outputs with TensorFlow's.

A cell's output is what it prints plus, when its last statement is an expression with a value
other than None, that value's repr (what a notebook displays). An exception ends the cell with a
``<raised TypeName>`` line and the next cell runs, as in a notebook.

Each guide runs in its own process (``python -m tests.guides.harness <backend> <script> <seed>``)
so that name counters and global state start fresh, as in a new notebook kernel; the backend
module is installed as ``tensorflow`` (and its ``keras`` as ``keras``), so the scripts keep
TensorFlow's import lines. matplotlib is replaced by a stub that draws nothing under both, so the
plotting cells still run the code around their plots.

A cell's output is what it writes to stdout and stderr, in order, captured at the file-descriptor
level (TensorFlow's ``tf.print`` writes to the process's stderr from C++, past Python's
``sys.stderr``); the cell's source is registered in ``linecache`` as a notebook does, so that
AutoGraph can read the functions it defines. ``traceback.print_exc`` prints the exception's type
only (the frames are each library's own files).

A script marks cells with ``# %% cell N``; two suffixes take a cell out of the score, each with
its reason: ``skip: <reason>`` (the cell does not run: a download, a SavedModel, an IPython
magic) and ``unscored: <reason>`` (the cell runs, so the notebook's state flows on, but its
output is not compared: it prints something outside the API, such as ``type(x).__name__``).
A random cell (one whose output changes with the seed under TensorFlow itself) has its numbers
masked; a line ``# harness: random words: w1 w2 ...`` in such a cell masks those words too (the
labels a random prediction picks, e.g. class names).
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import linecache
import logging
import os
import random
import re
import subprocess
import sys
import tempfile
import traceback
import types
from dataclasses import dataclass
from pathlib import Path

SCRIPTS = Path(__file__).parent / "scripts"
EXPECTED = Path(__file__).parent / "expected_tf.json"
ROOT = Path(__file__).resolve().parents[2]

_MARKER = re.compile(r"^# %% cell (\d+)(?: (skip|unscored): (.*))?$")
_RANDOM_WORDS = re.compile(r"^\s*# harness: random words: (.*)$", re.MULTILINE)


@dataclass
class Cell:
    number: str
    source: str
    skip: str | None  # why the cell does not run, or None
    unscored: str | None = None  # why the cell runs but is not compared, or None

    @property
    def random_words(self) -> tuple[str, ...]:
        """Words masked when the cell's output is random (see the module's docstring)."""
        return tuple(word for found in _RANDOM_WORDS.findall(self.source)
                     for word in found.split())


def load_cells(script: Path) -> list[Cell]:
    """The cells of a guide script, in order."""
    cells: list[Cell] = []
    for line in script.read_text(encoding="utf-8").splitlines():
        match = _MARKER.match(line)
        if match:
            number, kind, reason = match.groups()
            cells.append(Cell(number, "", reason if kind == "skip" else None,
                              reason if kind == "unscored" else None))
        elif cells:
            cells[-1].source += line + "\n"
    return cells


class _Anything:
    """Accepts every call, attribute and item, so plotting code runs without drawing."""

    def __call__(self, *args, **kwargs):
        return _Anything()

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _Anything()

    def __getitem__(self, key):
        return _Anything()

    def __setitem__(self, key, value):
        pass

    def __iter__(self):
        # `fig, ax = plt.subplots()` unpacks two values
        return iter((_Anything(), _Anything()))


class _LogToStderr(logging.Handler):
    """tapegrad's log records as TensorFlow's logger writes its own (``WARNING:name:text``), to
    the stderr of the moment (the cell's capture)."""

    def __init__(self):
        super().__init__()
        self.setFormatter(logging.Formatter("%(levelname)s:%(name)s:%(message)s"))

    def emit(self, record):
        sys.stderr.write(self.format(record) + "\n")


def _print_exception_type(*args, **kwargs) -> None:
    """``traceback.print_exc`` as the harness shows it: the exception's type only."""
    print(f"<traceback of {type(sys.exc_info()[1]).__name__}>", file=sys.stderr)


def _install_stubs(backend: str) -> None:
    for name in ("matplotlib", "matplotlib.pyplot", "matplotlib.image"):
        stub = types.ModuleType(name)
        stub.__getattr__ = _Anything().__getattr__  # (no __file__: inspect skips the stub)
        sys.modules[name] = stub
    sys.modules["matplotlib"].pyplot = sys.modules["matplotlib.pyplot"]
    sys.modules["matplotlib"].image = sys.modules["matplotlib.image"]
    traceback.print_exc = _print_exception_type
    if backend == "tapegrad":
        import tapegrad
        tapegrad.get_logger().addHandler(_LogToStderr())
        sys.modules["tensorflow"] = tapegrad
        sys.modules["keras"] = tapegrad.keras


def _ends_with_semicolon(source: str) -> bool:
    code = [line.split("#", 1)[0].rstrip() for line in source.splitlines()]
    code = [line for line in code if line]
    return bool(code) and code[-1].endswith(";")


@contextlib.contextmanager
def _both_streams_captured(buffer: io.StringIO):
    """Send stdout and stderr, Python's and the process's file descriptors 1 and 2, to one
    file in the order they are written; its text goes into ``buffer`` at the end."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    python_streams = sys.stdout, sys.stderr
    with tempfile.TemporaryFile() as capture:
        # unbuffered, so that Python's writes and C++'s interleave in the order made
        stream = io.TextIOWrapper(io.FileIO(capture.fileno(), "w", closefd=False),
                                  encoding="utf-8", write_through=True)
        os.dup2(capture.fileno(), 1)
        os.dup2(capture.fileno(), 2)
        sys.stdout = sys.stderr = stream
        try:
            yield
        finally:
            python_streams[0].flush()
            python_streams[1].flush()
            sys.stdout, sys.stderr = python_streams
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
            capture.seek(0)
            buffer.write(capture.read().decode("utf-8", errors="replace"))


def run_cell(source: str, namespace: dict, filename: str = "<cell>") -> str:
    """Run one cell in ``namespace`` and return its output.

    The source is registered under ``filename`` in ``linecache``, as a notebook does, so that
    ``inspect.getsource`` (AutoGraph) finds the functions the cell defines.
    """
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    buffer = io.StringIO()
    with _both_streams_captured(buffer):
        try:
            tree = ast.parse(source)
            last = tree.body[-1] if tree.body and isinstance(tree.body[-1], ast.Expr) else None
            if last is not None and _ends_with_semicolon(source):
                last = None  # a trailing ";" hides the value in a notebook
            if last is not None:
                tree.body.pop()
            exec(compile(tree, filename, "exec"), namespace)
            if last is not None:
                value = eval(compile(ast.Expression(last.value), filename, "eval"),
                             namespace)
                if value is not None and not isinstance(value, _Anything):  # (stub plots)
                    print(repr(value))
        except Exception as error:  # a notebook shows the error and goes on
            print(f"<raised {type(error).__name__}>")
    return buffer.getvalue()


# TensorFlow's C++ runtime logs to stderr (oneDNN notices) whatever TF_CPP_MIN_LOG_LEVEL says:
# not the cell's output
_NATIVE_LOG = re.compile(r"^(?:WARNING: All log messages before absl::InitializeLog\(\) is "
                         r"called are written to STDERR"
                         r"|[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+ +\d+ \S+:\d+\] .*)\n", re.MULTILINE)


def run_script(backend: str, script: Path, seed: int) -> dict[str, str | None]:
    """Each cell's output (None for a skipped or unscored cell), in a scratch working
    directory."""
    _install_stubs(backend)
    import numpy as np
    import tensorflow
    random.seed(seed)  # Keras 3 draws its initializers' seeds from Python's generator
    np.random.seed(seed)
    tensorflow.random.set_seed(seed)
    # a guide's own set_seed(n) becomes set_seed(n + seed), so that the recording's two runs
    # (seeds 1 and 2) tell which cells depend on the random stream even in seeded guides
    fixed_seed = tensorflow.random.set_seed
    tensorflow.random.set_seed = lambda value: fixed_seed(value + seed)
    namespace: dict = {"__name__": "__main__"}
    outputs: dict[str, str | None] = {}
    # the library's version string differs by definition (guides print tf.__version__)
    version = re.compile(rf"(?<![\w.]){re.escape(tensorflow.__version__)}(?![\w.])")
    with tempfile.TemporaryDirectory() as scratch:
        os.chdir(scratch)
        for cell in load_cells(script):
            output = None if cell.skip else run_cell(cell.source, namespace,
                                                     f"<cell {cell.number}>")
            outputs[cell.number] = None if output is None or cell.unscored else version.sub(
                "<version>", _NATIVE_LOG.sub("", output))
    return outputs


def run_in_process(backend: str, script: Path, seed: int, python: str = sys.executable,
                   timeout: float = 300) -> dict[str, str | None]:
    """``run_script`` in a fresh interpreter (``python`` may be another venv's)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run([python, "-m", "tests.guides.harness", backend, str(script), str(seed)],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=timeout,
                          check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{script.name} under {backend} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.splitlines()[-1])


_ADDRESS = re.compile(r"0x[0-9a-fA-F]+")
# Guides print caught errors as f"{type(e).__name__}: {e}"; the message texts of TensorFlow's
# kernels are not part of the contract, the exception type is.
_ERROR_LINE = re.compile(r"^(\s*[A-Za-z_][\w.]*(?:Error|Exception)):.*$", re.MULTILINE)
# In a cell whose output depends on the random stream, every number is masked (NumPy pads
# printed numbers to a common width, so the padding goes with it) except the sizes in
# "shape=(...)"; the text, structure, shapes and dtypes are still compared.
_NUMBER = re.compile(r" *(?<![\w.])-?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)? *")
_SHAPE = re.compile(r"(shape=\([^)]*\))")
# A class shows its module path (``<class 'tensorflow.python.framework.errors_impl.X'>``): the
# library's internal layout, not compared; the class name is.
_CLASS_PATH = re.compile(r"<class '(?:\w+\.)+(\w+)'>")
# Log records (``WARNING:tensorflow:...``: retracing notes of TensorFlow's own internal
# functions; tapegrad's, formatted alike by the harness) and Python warnings (``file:line:
# UserWarning: ...`` and the source line under it) are the libraries' diagnostics, not what the
# cell prints. (tests/guides/test_guides.py checks tapegrad's eager fallbacks separately.)
_LIBRARY_NOTES = re.compile(r"^(?:(?:WARNING|INFO|ERROR):(?:tensorflow|tapegrad):.*"
                            r"|\S+:\d+: \w*Warning: .*(?:\n  .*)?)(?:\n|$)", re.MULTILINE)


def normalise(text: str, random: bool, words: tuple[str, ...] = ()) -> str:
    """What is compared: log records, addresses, error messages and classes' module paths
    dropped; numbers, and the cell's random ``words``, masked in random cells."""
    text = _LIBRARY_NOTES.sub("", text)
    text = _ADDRESS.sub("0x?", text)
    text = _CLASS_PATH.sub(r"<class '\1'>", text)
    text = _ERROR_LINE.sub(r"\1: ...", text)
    if random:
        text = "".join(part if _SHAPE.fullmatch(part) else _NUMBER.sub(" <n> ", part)
                       for part in _SHAPE.split(text))
        if words:
            alternatives = "|".join(map(re.escape, words))
            text = re.sub(rf"\b(?:{alternatives})\b", "<word>", text)
    return "\n".join(line.rstrip() for line in text.splitlines())


def compare(expected: dict, actual: dict[str, str | None],
            words: dict[str, tuple[str, ...]] | None = None) -> dict[str, str]:
    """Each scored cell's verdict, "match" or "mismatch" (skipped and unscored cells are left
    out); ``words`` gives each cell's random words (``Cell.random_words``)."""
    verdicts = {}
    for number, record in expected.items():
        if record is None or actual.get(number) is None:
            continue
        masked = (words or {}).get(number, ())
        same = normalise(record["output"], record["random"], masked) == normalise(
            actual[number], record["random"], masked)
        verdicts[number] = "match" if same else "mismatch"
    return verdicts


if __name__ == "__main__":
    results = run_script(sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]))
    print(json.dumps(results))
