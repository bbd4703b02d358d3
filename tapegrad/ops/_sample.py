"""Sample inputs that an op declares for the generic gradient checker."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Sample:
    """One way to call an op: positional ``inputs`` and keyword ``attrs``.

    ``wrt`` lists the input positions to differentiate (default: every floating input).
    ``second_order`` is False where the rule's own derivative is not smooth at the sample.
    """

    inputs: tuple
    attrs: dict = field(default_factory=dict)
    wrt: tuple | None = None
    second_order: bool = True
    note: str = ""
