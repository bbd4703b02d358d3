"""The demo: TensorFlow's three classic GradientTape programs, run on tapegrad, explained."""

from __future__ import annotations

import argparse

import tapegrad as tf

PROGRAMS = [
    ("(a) variable created outside the tape",
     "x = tf.Variable(1.0)\n"
     "with tf.GradientTape() as tape:\n"
     "    y = x * x\n"
     "    z = tf.Variable(2.0)\n"
     "    y = y + z\n"
     "tape.gradient(y, x)",
     "x is trainable and was read inside the tape, so it was watched: dy/dx = 2x = 2."),
    ("(b) variable created inside the tape",
     "with tf.GradientTape() as tape:\n"
     "    x = tf.Variable(1.0)\n"
     "    y = x * x\n"
     "tape.gradient(y, x)",
     "Not None, whatever you may have read: a trainable variable is watched when it is READ "
     "while the tape records, wherever it was created. dy/dx = 2."),
    ("(c) variable watched explicitly",
     "x = tf.Variable(1.0)\n"
     "with tf.GradientTape() as tape:\n"
     "    tape.watch(x)\n"
     "    y = x * x\n"
     "tape.gradient(y, x)",
     "watch() is only needed for plain tensors; for a variable it changes nothing. dy/dx = 2."),
]


def run_program(source: str):
    namespace: dict = {"tf": tf}
    *body, last = source.splitlines()
    exec("\n".join(body), namespace)
    return eval(last, namespace)


def classic_programs() -> None:
    print("The three classic GradientTape programs, run on tapegrad\n")
    for title, source, why in PROGRAMS:
        result = run_program(source)
        print(f"{title}:")
        print("    " + source.replace("\n", "\n    "))
        value = None if result is None else float(result)
        print(f"  -> {value}   ({why})\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tapegrad", description=__doc__)
    parser.parse_args(argv)
    classic_programs()
    return 0
