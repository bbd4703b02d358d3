"""Sample inputs that an op declares for the generic gradient checker."""

from __future__ import annotations


class Sample:
    """One way to call an op: positional ``inputs`` and keyword ``attrs``.

    ``wrt`` lists the input positions to differentiate (default: every floating input).
    ``second_order`` is False where the rule's own derivative is not smooth at the sample.
    (A plain class: ``dataclasses`` would add a millisecond to ``import tapegrad``.)
    """

    __slots__ = ("inputs", "attrs", "wrt", "second_order", "note")

    def __init__(self, inputs: tuple, attrs: dict | None = None, wrt: tuple | None = None,
                 second_order: bool = True, note: str = ""):
        self.inputs = inputs
        self.attrs = {} if attrs is None else attrs
        self.wrt = wrt
        self.second_order = second_order
        self.note = note

    def __repr__(self) -> str:
        return (f"Sample(inputs={self.inputs!r}, attrs={self.attrs!r}, wrt={self.wrt!r}, "
                f"second_order={self.second_order!r}, note={self.note!r})")
