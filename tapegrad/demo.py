"""The demo: TensorFlow's classic GradientTape programs explained, broken ones diagnosed, and a
conv net trained on handwritten digits with a custom GradientTape loop.

Run ``python -m tapegrad`` (``--help`` for the options). The training part needs the optional
``examples`` extra (scikit-learn; matplotlib and tqdm for the plot and progress bar).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import textwrap
import time
from dataclasses import dataclass

import tapegrad as tf
from tapegrad.diagnostics import provenance as _provenance

INSTALL_HINT = ('pip install ".[examples]"   (in the tapegrad source folder; elsewhere: '
                "pip install scikit-learn matplotlib tqdm)")
WIDTH = 100


@dataclass(frozen=True)
class Program:
    """A small TF program ending in ``tape.gradient(...)``, and what to say about it."""

    label: str
    title: str
    source: str
    note: str = ""
    provenance: bool = False


CLASSIC = [
    Program("a", "a variable created outside the tape",
            "x = tf.Variable(1.0)\n"
            "with tf.GradientTape() as tape:\n"
            "    y = x * x\n"
            "    z = tf.Variable(2.0)\n"
            "    y = y + z\n"
            "tape.gradient(y, x)",
            "x is trainable and was read inside the tape, so it was watched: dy/dx = 2x = 2."),
    Program("b", "a variable created inside the tape",
            "with tf.GradientTape() as tape:\n"
            "    x = tf.Variable(1.0)\n"
            "    y = x * x\n"
            "tape.gradient(y, x)",
            "Not None, whatever you may have read: a trainable variable is watched when it is "
            "READ while the tape records, wherever it was created. dy/dx = 2."),
    Program("c", "a variable watched explicitly",
            "x = tf.Variable(1.0)\n"
            "with tf.GradientTape() as tape:\n"
            "    tape.watch(x)\n"
            "    y = x * x\n"
            "tape.gradient(y, x)",
            "watch() is only needed for plain tensors; for a variable it changes nothing. "
            "dy/dx = 2."),
]

BROKEN = [
    Program("d", "a constant that was never watched",
            "x = tf.constant(3.0)\n"
            "with tf.GradientTape() as tape:\n"
            "    y = x * x\n"
            "tape.gradient(y, x)"),
    Program("e", "a cast to an integer on the path",
            "x = tf.Variable(2.7)\n"
            "with tf.GradientTape() as tape:\n"
            "    n = tf.cast(x, tf.int32)          # e.g. a count or an index\n"
            "    y = tf.cast(n, tf.float32) * 2.0\n"
            "tape.gradient(y, x)"),
    Program("f", "stop_gradient on the path",
            "x = tf.Variable(3.0)\n"
            "with tf.GradientTape() as tape:\n"
            "    y = tf.stop_gradient(x * x)\n"
            "tape.gradient(y, x)"),
    Program("g", "a variable rebound to a tensor (needs provenance)",
            "tf.debugging.enable_provenance()\n"
            "v = tf.Variable(1.0)\n"
            "v = v + 1.0                           # meant v.assign_add(1.0)\n"
            "with tf.GradientTape() as tape:\n"
            "    y = v * v\n"
            "tape.gradient(y, v)",
            provenance=True),
]


@dataclass
class Outcome:
    """What running one program gave: its gradient (None or a float) and the explain report."""

    program: Program
    gradient: float | None
    report: tf.debugging.GradientReport

    @property
    def reasons(self) -> list[str]:
        return [entry.reason for entry in self.report]


def run_program(program: Program) -> Outcome:
    """Run ``program``; its last line ``tape.gradient(...)`` is also asked ``tape.explain``."""
    *body, last = program.source.splitlines()
    namespace: dict = {"tf": tf}
    had_provenance = _provenance.current() is not None
    try:
        exec(compile("\n".join(body), f"program-{program.label}", "exec"), namespace)
        gradient = eval(last, namespace)
        report = eval(last.replace("tape.gradient(", "tape.explain(", 1), namespace)
    finally:
        if program.provenance and not had_provenance:
            tf.debugging.disable_provenance()
    return Outcome(program, None if gradient is None else float(gradient), report)


def _wrap(text: str, indent: str) -> str:
    return textwrap.fill(text, WIDTH, initial_indent=indent, subsequent_indent=indent + "    ",
                         break_on_hyphens=False)


def _show(outcome: Outcome) -> None:
    program = outcome.program
    print(f"({program.label}) {program.title}:")
    for number, line in enumerate(program.source.splitlines(), 1):
        print(f"    {number}  {line}")
    print(f"  gradient: {outcome.gradient}")
    print("  tape.explain:")
    for entry in outcome.report:
        print(_wrap(str(entry), "    "))
    if program.note:
        print(_wrap(f"why: {program.note}", "  "))
    print()


def explain_part() -> list[Outcome]:
    """Parts 1 and 2: the classic programs and the broken ones, each with its diagnosis."""
    outcomes = []
    print("tapegrad: TensorFlow 2 GradientTape code run on NumPy (import tapegrad as tf). "
          "Options: python -m tapegrad --help\n")
    print("Part 1. The three classic GradientTape programs, run on tapegrad\n")
    for program in CLASSIC:
        outcomes.append(run_program(program))
        _show(outcomes[-1])
    print("Part 2. Broken programs: the gradient is None, tape.explain says why\n")
    for program in BROKEN:
        outcomes.append(run_program(program))
        _show(outcomes[-1])
    return outcomes


def sklearn_available() -> bool:
    """Whether the digits data set (scikit-learn, the ``examples`` extra) can be loaded."""
    try:
        import sklearn.datasets  # noqa: F401
    except ImportError:
        return False
    return True


def training_part(args: argparse.Namespace) -> dict:
    """Part 3: train on the digits (tapegrad/examples/digits.py), checkpoint, reload, plot."""
    from tapegrad.examples import digits

    kind = "conv net" if args.model == "conv" else "two-layer perceptron"
    print(f"Part 3. Training a {kind} on scikit-learn's 1,797 handwritten 8x8 digits")
    print("        (tapegrad/examples/digits.py: tf.data pipeline, keras layers, Adam, a custom "
          "GradientTape step)\n", flush=True)
    with _one_blas_thread():
        return digits.train(args.epochs, args.seed, args.output_dir, progress=args.progress,
                            kind=args.model)


def _one_blas_thread():
    """Limit BLAS to one thread: the model's matrices are small, and on a busy 2-core machine
    OpenBLAS threads made an epoch several times slower (1.6 s against 3.5-15 s for 15 epochs)."""
    try:
        from threadpoolctl import threadpool_limits  # a dependency of scikit-learn
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


def _summary(outcomes: list[Outcome], result: dict | None, skipped: str | None,
             elapsed: float) -> None:
    classic = [o for o in outcomes if o.program in CLASSIC]
    broken = [o for o in outcomes if o.program in BROKEN]
    print("\nSummary")
    gradients = ", ".join(str(o.gradient) for o in classic)
    print(f"  classic programs : gradients {gradients} (all connected)")
    print(f"  broken programs  : {', '.join(o.reasons[0] for o in broken)}")
    if result is None:
        print(f"  training         : {skipped}")
    else:
        print(f"  model            : {result['parameters']:,} parameters, {result['epochs']} "
              f"epochs, seed {result['seed']}, trained in {result['seconds']:.1f} s")
        print(f"  test accuracy    : {result['test_accuracy']:.4f} after training, "
              f"{result['reloaded_accuracy']:.4f} after reloading the checkpoint")
        print(f"  checkpoint       : {result['checkpoint']}.npz")
        plot = result["plot"] or "not written (matplotlib is missing: pip install matplotlib)"
        print(f"  learning curve   : {plot}")
    print(f"  elapsed          : {elapsed:.1f} s")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line of ``python -m tapegrad``."""
    parser = argparse.ArgumentParser(prog="python -m tapegrad",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=15, help="training epochs (default 15)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--output-dir", default=os.path.join(".", "tapegrad-demo-output"),
                        help="where the checkpoint and the learning curve go "
                             "(default ./tapegrad-demo-output)")
    parser.add_argument("--model", choices=("conv", "mlp"), default="conv",
                        help="conv net or two-layer perceptron (default conv)")
    parser.add_argument("--no-progress", dest="progress", action="store_false",
                        help="no progress bar or per-epoch lines")
    parser.add_argument("--skip-training", action="store_true",
                        help="run only the explained programs")
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error("--epochs must be at least 1")
    return args


def run(argv: list[str] | None = None) -> dict:
    """The whole demo; returns ``outcomes`` (parts 1-2), ``training`` (digits.train's dict or
    None), ``skipped`` (why training did not run, or None) and ``elapsed`` seconds."""
    start = time.perf_counter()
    args = parse_args(argv)
    outcomes = explain_part()
    result, skipped = None, None
    if args.skip_training:
        skipped = "skipped (--skip-training)"
    elif not sklearn_available():
        skipped = "skipped: scikit-learn is not installed (install command above)"
        print("Part 3 (training on the digits) needs scikit-learn, the optional 'examples' "
              f"extra. Install it with:\n\n    {INSTALL_HINT}\n")
    else:
        result = training_part(args)
    elapsed = time.perf_counter() - start
    _summary(outcomes, result, skipped, elapsed)
    return {"outcomes": outcomes, "training": result, "skipped": skipped, "elapsed": elapsed}


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m tapegrad``."""
    run(argv)
    return 0
