"""Which conformance cases tapegrad does not (yet) match, and why.

* ``WAITING``: behaviour an open issue will bring; the test expects these to fail (strict, so a
  case that starts passing must be taken off this list).
* ``DIFFERENCES``: deliberate differences from TensorFlow, each listed with its reason in
  ``docs/differences-from-tensorflow.md``; the test checks tapegrad's documented result instead.
"""

ISSUE_OPS = "issue 3 (op catalog)"
ISSUE_BEYOND = "issue 4 (custom gradients, forward mode, recompute)"
ISSUE_TRAINING = "issue 6 (keras optimizers)"

WAITING = {
    **{name: ISSUE_BEYOND for name in (
        "custom_gradient_clip_upstream", "custom_gradient_log1pexp",
        "custom_gradient_two_inputs", "custom_gradient_two_outputs",
        "custom_gradient_unused_output_gets_zero_upstream", "custom_gradient_variables_kwarg",
        "custom_gradient_missing_variables_kwarg_raises",
        "custom_gradient_missing_variables_kwarg_raises_at_forward",
        "custom_gradient_wrong_number_of_variable_grads_raises",
        "custom_gradient_tensor_kwarg_not_differentiated",
        "custom_gradient_wrong_number_of_grads_raises", "custom_gradient_returns_none",
        "custom_gradient_returns_python_float", "custom_gradient_second_order",
        "custom_gradient_python_kwarg", "custom_gradient_output_gradients",
        "custom_gradient_variable_as_argument", "custom_gradient_forward_value_unchanged",
        "recompute_grad_matches_plain", "grad_pass_through_round",
        "jvp_basic", "jvp_unconnected_none_and_zero", "jvp_variable_primal",
        "jvp_python_float_tangent", "jvp_elementwise", "jvp_matmul_and_reduce_max",
        "jvp_nested_structure", "jvp_of_primal_itself", "jvp_ops_after_exit_not_tracked",
        "jvp_inside_block", "jvp_int_primal_none", "jvp_stop_gradient", "jvp_reenter_raises",
        "jvp_duplicate_primal_raises", "jvp_tangent_dtype_mismatch_raises",
        "jvp_tangent_shape_mismatch_raises_at_op", "jvp_variable_assign",
        "hvp_forward_over_reverse", "hvp_reverse_over_forward",
        "forward_over_forward_second_derivative", "jvp_through_custom_gradient")},
    **{name: ISSUE_OPS for name in (
        "embedding_lookup_indexed_slices", "argmax_none",
        "no_gradient_registered_raises", "top_k_gradient", "sort_gradient", "relu_at_zero",
        "relu6_edges", "leaky_relu_at_zero", "elu_at_zero", "clip_by_value_bounds_inclusive",
        "norm_at_zero_nan", "divide_no_nan_at_zero", "xlogy_at_zero", "sigmoid_tanh_softplus",
        "softmax_component", "softmax_cross_entropy_logits_and_labels",
        "sparse_softmax_cross_entropy", "sigmoid_cross_entropy")},
    **{name: ISSUE_TRAINING for name in (
        "gather_sgd_apply", "keras_apply_gradients_some_none",
        "keras_apply_gradients_all_none_raises", "keras_apply_gradients_indexed_slices",
        "keras_apply_gradients_shape_mismatch_raises")},
}

_TYPE_ERROR = {"raises": "TypeError"}

# case -> ({dotted path in TF's recorded result: tapegrad's value}, reason). Everything not
# named keeps TF's recorded value. Reasons are spelled out in docs/differences-from-tensorflow.md.
DIFFERENCES = {
    "watch_on_unentered_tape_raises": (
        {"raises": "RuntimeError"},
        "TF raises AttributeError from its internal tape being None; tapegrad raises "
        "RuntimeError saying to call watch inside the `with` block."),
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
