"""Ops the core needs but the op modules define (filled in when :mod:`tapegrad.ops` loads).

The backward engine sums gradients, makes seeds and zeros, and densifies sparse gradients with
ordinary registered ops, so nested tapes record that work too.
"""


def _not_loaded(*args, **kwargs):
    raise RuntimeError("tapegrad.ops has not been imported; import tapegrad instead of "
                       "tapegrad._core")


add = _not_loaded
zeros_like = _not_loaded
scatter_rows = _not_loaded
concat_rows = _not_loaded
stack = _not_loaded
#: ``sum_like(grad, operand, output)``: a gradient in ``output``'s shape summed over the axes
#: broadcasting added to ``operand`` (the rule vocabulary's word; arrays or tensors).
sum_like = _not_loaded
#: ``sum_to_shape(grad, shape, batch)``: the same for a known shape and number of batch axes.
sum_to_shape = _not_loaded
#: ``scattered_copy(array, indices, updates, convert, what)``: a variable's scatter_nd_update.
scattered_copy = _not_loaded

#: The provenance recorder while `tapegrad.debugging.enable_provenance()` is on, else None.
provenance = None
#: Recorders every new thread starts with (provenance, check_numerics).
global_recorders: list = []
#: Called after each reverse rule while check_numerics is on, else None.
backward_observer = None
#: True while tapegrad.debugging.strict_gradients() is on: gradient() raises instead of None.
strict_gradients = False
#: How many observed backward passes are running (check_numerics tells rules from forward ops).
in_backward = 0
