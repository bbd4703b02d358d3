"""The differential fuzz test by hand: ``python -m tests.fuzz --programs 10000 [--start N]
[--tf]`` checks random op programs under tapegrad against NumPy and central differences (and,
with ``--tf`` where TensorFlow is installed, against TensorFlow itself) and prints the
agreement figure and the programs that disagree."""

import argparse
import collections
import json
import os
import sys
import time
import warnings

import tapegrad
from tests.fuzz.check import check
from tests.fuzz.programs import generate
from tests.tf_edges.probes import plain


def _tensorflow_answer(tf, program):
    from tests.fuzz.programs import execute
    try:
        return plain(execute(tf, program))
    except Exception as error:  # noqa: BLE001 - the exception is the answer
        return {"raises": type(error).__name__, "message": str(error)[:100]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--programs", type=int, default=1000)
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--tf", action="store_true", help="compare with TensorFlow too")
    parser.add_argument("--show", type=int, default=20, help="disagreeing programs to print")
    args = parser.parse_args(argv)
    tf = None
    if args.tf:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        import tensorflow as tf
    warnings.simplefilter("ignore")
    started = time.time()
    agree = 0
    per_check = collections.Counter()
    failed_check = collections.Counter()
    shown = 0
    for seed in range(args.start, args.start + args.programs):
        program = generate(seed)
        answer = _tensorflow_answer(tf, program) if tf is not None else None
        results = check(tapegrad, program, answer)
        for name, ok in results.items():
            per_check[name] += 1
            failed_check[name] += not ok
        if all(results.values()):
            agree += 1
        elif shown < args.show:
            shown += 1
            bad = [name for name, ok in results.items() if not ok]
            print(f"seed {seed}: {bad} {json.dumps(program)[:300]}")
    total = args.programs
    print(f"{agree}/{total} programs agree ({100.0 * agree / total:.2f}%) in "
          f"{time.time() - started:.0f} s")
    for name in sorted(per_check):
        print(f"  {name}: {per_check[name] - failed_check[name]}/{per_check[name]}")
    return 0 if agree == total else 1


if __name__ == "__main__":
    sys.exit(main())
