"""Record TensorFlow's ``Dataset.shard`` (elements, cardinality, errors) into shard_tf.json.

Run with tensorflow-cpu installed: ``python tests/distributed/record_shard_tf.py``.
"""

import json
import os

CASES = [(3, 0), (3, 1), (3, 2), (4, 3), (1, 0), (20, 5)]
BAD = [(0, 0), (-2, 0), (-1, 0), (3, 3), (3, -1), (2.5, 0)]


def pipelines(tf):
    """The pipelines compared, built with ``tf`` (TensorFlow or tapegrad)."""
    base = tf.data.Dataset.range(10)
    return {
        "range": lambda n, i: base.shard(n, i),
        "repeat2": lambda n, i: base.repeat(2).shard(n, i),
        "filter": lambda n, i: base.filter(lambda x: True).shard(n, i),
        "take7_batch2": lambda n, i: base.take(7).shard(n, i).batch(2),
        "slices_skip": lambda n, i: tf.data.Dataset.from_tensor_slices(
            ([[0.0, 1.0]] * 5, list(range(5)))).skip(1).shard(n, i),
    }


def element(value):
    return [element(v) for v in value] if isinstance(value, tuple) else value.tolist()


def main():
    import tensorflow as tf
    out = {"cases": {}, "errors": {}, "infinite_cardinality": None}
    for name, make in pipelines(tf).items():
        for n, i in CASES:
            ds = make(n, i)
            out["cases"][f"{name}/{n}/{i}"] = {
                "elements": [element(e) for e in ds.as_numpy_iterator()],
                "cardinality": int(ds.cardinality())}
    out["infinite_cardinality"] = int(tf.data.Dataset.range(10).repeat().shard(3, 1)
                                      .cardinality())
    for n, i in BAD:
        try:
            list(tf.data.Dataset.range(10).shard(n, i))
            out["errors"][repr((n, i))] = None
        except Exception as error:  # noqa: BLE001 - recording whatever TF raises
            message = str(error).split("}} ")[-1].split(" [Op:")[0]
            out["errors"][repr((n, i))] = [type(error).__name__, message]
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "shard_tf.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
