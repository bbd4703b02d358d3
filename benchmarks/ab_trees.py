"""A/B of the speed-gate benchmarks between two source trees (e.g. a worktree of the commit
before a refactor and the current checkout). Run by hand:
``python benchmarks/ab_trees.py BASE_TREE HEAD_TREE [ROUNDS]``.

Each benchmark runs in fresh interpreters, alternating the two trees ROUNDS times (default 3),
so both see the same machine conditions; the best figure of each tree is kept and the ratio
head/base printed (the architecture issue's gate: within 5%, or faster).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

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


def main() -> None:
    base, head = sys.argv[1], sys.argv[2]
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    for script, args in BENCHMARKS:
        best: dict = {base: {}, head: {}}
        for _ in range(rounds):
            for tree in (base, head):
                for key, value in figures(script, run(tree, script, *args)).items():
                    best[tree][key] = min(best[tree].get(key, float("inf")), value)
        for key, b in best[base].items():
            h = best[head][key]
            print(f"{script:26s} {key:24s} base {b:9.3f}  head {h:9.3f}  head/base {h / b:.3f}",
                  flush=True)


if __name__ == "__main__":
    main()
