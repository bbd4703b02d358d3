"""Which conformance cases tapegrad does not (yet) match, and why.

* ``WAITING``: behaviour an open issue will bring; the test expects these to fail (strict, so a
  case that starts passing must be taken off this list).
* ``DIFFERENCES``: deliberate differences from TensorFlow, each listed with its reason in
  ``docs/differences-from-tensorflow.md``; the test checks tapegrad's documented result instead.
"""

ISSUE_OPS = "issue 3 (op catalog)"
ISSUE_TRAINING = "issue 6 (keras optimizers)"

WAITING = {
}

_TYPE_ERROR = {"raises": "TypeError"}

# case -> ({dotted path in TF's recorded result: tapegrad's value}, reason). Everything not
# named keeps TF's recorded value. Reasons are spelled out in docs/differences-from-tensorflow.md.
DIFFERENCES = {
    "watch_on_unentered_tape_raises": (
        {"raises": "RuntimeError"},
        "TF raises AttributeError from its internal tape being None; tapegrad raises "
        "RuntimeError saying to call watch inside the `with` block."),
    "watch_list_with_a_bad_item": (
        {"gradient": None},
        "TF watches the items before the bad one, then raises; tapegrad checks every item "
        "before it watches any, so a failed watch() leaves the tape as it was."),
    "error_target_python_float": (
        _TYPE_ERROR, "TF's AttributeError ('float' has no attribute 'dtype') is an accident; "
                     "tapegrad raises TypeError naming the bad target."),
    "error_target_numpy": (
        _TYPE_ERROR, "TF's AttributeError ('ndarray' has no attribute '_id') is an accident; "
                     "tapegrad raises TypeError naming the bad target."),
    "error_source_python_float": (
        _TYPE_ERROR, "TF's AttributeError is an accident; tapegrad raises TypeError."),
    "error_source_numpy": (
        _TYPE_ERROR, "TF's AttributeError is an accident; tapegrad raises TypeError."),
    "jacobian_list_target_raises": (
        _TYPE_ERROR, "TF's AttributeError (list has no shape) is an accident; tapegrad raises "
                     "TypeError saying jacobian takes a single tensor."),
    "error_in_argument_check_does_not_consume_tape": (
        {"first.raises": "TypeError"},
        "Same rule as TF (a failed argument check leaves the tape usable); the error is "
        "TypeError instead of TF's AttributeError."),
    "error_during_backward_poisons_nonpersistent_tape": (
        {"retry.raises": "RuntimeError", "retry.gist": False},
        "TF's retry raises InternalError about invalid internal state; tapegrad raises the "
        "ordinary RuntimeError for a used non-persistent tape."),
}


def expected_for_tapegrad(name, tf_result):
    """TF's recorded result with the documented differences of case ``name`` applied."""
    import copy
    if name not in DIFFERENCES:
        return tf_result
    result = copy.deepcopy(tf_result)
    for path, value in DIFFERENCES[name][0].items():
        *parents, leaf = path.split(".")
        node = result
        for key in parents:
            node = node[key]
        node[leaf] = value
    return result
