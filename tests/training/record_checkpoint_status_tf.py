"""Record the probes of ``checkpoint_status_cases.py`` from real TensorFlow 2.21.

Run where TensorFlow is installed (never a project dependency), from the repository root:

    /tmp/tfenv/bin/python tests/training/record_checkpoint_status_tf.py

It rewrites ``tests/training/expected_tf_checkpoint_status.json``.
"""

import json
import os
import pathlib
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(pathlib.Path(__file__).parent))

import checkpoint_status_cases  # noqa: E402
import tensorflow as tf  # noqa: E402

if __name__ == "__main__":
    results = checkpoint_status_cases.record(tf)
    results["_recorded_with"] = {"tensorflow": tf.__version__, "keras": tf.keras.__version__}
    out = pathlib.Path(__file__).parent / "expected_tf_checkpoint_status.json"
    out.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    print(f"wrote {out} ({len(results)} entries)")
