"""Example programs: ``python -m tapegrad.examples.digits`` trains a conv net on the digits."""
