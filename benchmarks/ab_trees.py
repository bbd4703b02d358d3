"""A/B of the speed-gate benchmarks between two source trees (e.g. a worktree of the commit
before a refactor and the current checkout). Run by hand:
``python benchmarks/ab_trees.py BASE_TREE HEAD_TREE [ROUNDS] [--placements N]``.

Each benchmark runs in fresh interpreters, alternating the two trees ROUNDS times (default 3),
so both see the same machine conditions; the best figure of each tree is kept and the ratio
head/base printed (the architecture issue's gate: within 5%, or faster).

Where a tree lies changes its figures: the length of its path shifts the interpreter's memory
layout, which moves a small benchmark such as hvp.py by up to 2% with the code unchanged. So
both trees are copied side by side to N placements of different path lengths (default 4), each
pair at equal length, and the median ratio over the placements is printed with its range.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

BENCHMARKS = [("overhead.py", ("--measure", "tapegrad")), ("mlp_step.py", ()),
              ("conv_step.py", ()), ("jacobian.py", ()), ("hvp.py", ()),
              ("diagnostics_overhead.py", ())]


def run(tree: str, script: str, *args) -> str:
    out = subprocess.run([sys.executable, f"{tree}/benchmarks/{script}", *args],
                         env={"PYTHONPATH": tree, "PATH": "/usr/bin:/bin"},
                         capture_output=True, text=True, timeout=900, check=True)
    return out.stdout


def number(pattern: str, text: str) -> float:
    return float(re.search(pattern, text, re.M).group(1))


def figures(script: str, text: str) -> dict:
    """The tapegrad figures of one benchmark's output (lower is better)."""
    if script == "overhead.py":
        measured = json.loads(text.strip().splitlines()[-1])
        return {k: v * 1e6 / 200 for k, v in measured.items() if k.startswith("tapegrad")}
    if script in ("mlp_step.py", "conv_step.py"):
        return {"tapegrad ms": number(r"^tapegrad\s+([\d.]+)", text)}
    if script == "jacobian.py":
        return {"tapegrad ms": number(r"tapegrad tape.jacobian\s+([\d.]+)", text)}
    if script == "hvp.py":
        return {"gradient us": number(r"tapegrad gradient\s+([\d.]+)", text),
                "hvp fwd-over-rev us": number(r"forward-over-reverse\s+([\d.]+)", text)}
    return {"recording us/op": number(r"recording ([\d.]+) \(overhead", text),
            "provenance us/op": number(r"with provenance ([\d.]+)", text)}


def place(tree: str, destination: str) -> str:
    """A compiled copy of ``tree``'s package and benchmarks at ``destination``."""
    for part in ("tapegrad", "benchmarks"):
        shutil.copytree(f"{tree}/{part}", f"{destination}/{part}",
                        ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "compileall", "-q", f"{destination}/tapegrad"],
                   check=True)
    return destination


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("base")
    parser.add_argument("head")
    parser.add_argument("rounds", nargs="?", type=int, default=3)
    parser.add_argument("--placements", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        pairs = [(place(args.base, f"{scratch}/{'p' * (1 + 3 * k)}/base"),
                  place(args.head, f"{scratch}/{'p' * (1 + 3 * k)}/head"))
                 for k in range(args.placements)]
        for script, script_args in BENCHMARKS:
            ratios: dict = {}
            best_of: dict = {"base": {}, "head": {}}
            for pair in pairs:
                best: dict = {tree: {} for tree in pair}
                for _ in range(args.rounds):
                    for tree in pair:
                        for key, value in figures(script, run(tree, script, *script_args)).items():
                            best[tree][key] = min(best[tree].get(key, float("inf")), value)
                for key, b in best[pair[0]].items():
                    ratios.setdefault(key, []).append(best[pair[1]][key] / b)
                    for who, tree in zip(("base", "head"), pair):
                        best_of[who][key] = min(best_of[who].get(key, float("inf")),
                                                best[tree][key])
            for key, values in ratios.items():
                print(f"{script:26s} {key:24s} base {best_of['base'][key]:9.3f}  head "
                      f"{best_of['head'][key]:9.3f}  head/base {statistics.median(values):.3f} "
                      f"(placements {min(values):.3f}-{max(values):.3f})", flush=True)


if __name__ == "__main__":
    main()
