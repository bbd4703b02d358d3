"""The runnable examples in tapegrad's docstrings run and print what they claim."""

import doctest
import importlib
import pkgutil

import pytest

import tapegrad

MODULES = sorted(name for _, name, _ in pkgutil.walk_packages(tapegrad.__path__, "tapegrad.")
                 if not name.endswith("__main__"))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    try:
        module = importlib.import_module(name)
    except ImportError as error:  # an optional extra (e.g. scikit-learn) is missing
        pytest.skip(str(error))
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    failures, _ = doctest.testmod(module, optionflags=flags, report=True, verbose=False)
    assert failures == 0, f"{failures} docstring example(s) failed in {name}"
