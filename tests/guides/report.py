"""Per-guide match ratio of tapegrad against the recorded TensorFlow outputs.

    python -m tests.guides.report [-v] [guide ...]

``-v`` prints both outputs of every mismatching cell.
"""

from __future__ import annotations

import difflib
import json
import sys

from tests.guides.harness import (
    EXPECTED,
    SCRIPTS,
    compare,
    load_cells,
    normalise,
    run_in_process,
)


def random_words(guide: str) -> dict[str, tuple[str, ...]]:
    """Each cell's random words (masked in random cells), by cell number."""
    return {cell.number: cell.random_words for cell in load_cells(SCRIPTS / f"{guide}.py")}


def guide_verdicts(guide: str) -> tuple[dict, dict, dict]:
    """(recorded cells, tapegrad's outputs, verdict per scored cell) for one guide."""
    expected = json.loads(EXPECTED.read_text(encoding="utf-8"))[guide]
    actual = run_in_process("tapegrad", SCRIPTS / f"{guide}.py", seed=1)
    return expected, actual, compare(expected, actual, random_words(guide))


def eager_fallbacks(actual: dict) -> set:
    """The cells where tapegrad warned that a tf.function runs eagerly."""
    return {number for number, output in actual.items()
            if output is not None and "WARNING:tapegrad:tf.function" in output and
            "runs eagerly" in output}


if __name__ == "__main__":
    verbose = "-v" in sys.argv
    guides = [arg for arg in sys.argv[1:] if arg != "-v"] or sorted(
        json.loads(EXPECTED.read_text(encoding="utf-8")))
    for guide in guides:
        expected, actual, verdicts = guide_verdicts(guide)
        matched = sum(verdict == "match" for verdict in verdicts.values())
        failed = sorted((n for n, v in verdicts.items() if v != "match"), key=int)
        print(f"{guide}: {matched}/{len(verdicts)} = {matched / len(verdicts):.1%}  "
              f"mismatches: {failed}  eager fallbacks: {sorted(eager_fallbacks(actual), key=int)}")
        words = random_words(guide)
        for number in failed if verbose else ():
            random = expected[number]["random"]
            print(f"--- cell {number}" + (" (random)" if random else ""))
            print("\n".join(difflib.unified_diff(
                normalise(expected[number]["output"], random, words[number]).splitlines(),
                normalise(actual[number], random, words[number]).splitlines(), "tf",
                "tapegrad", lineterm="")))
