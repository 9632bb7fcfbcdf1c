"""The docstrings' Examples run as doctests (the installed package's modules)."""

import doctest
import importlib

import pytest


@pytest.mark.parametrize("name", ["convkit._core", "convkit._grad", "convkit._matrix", "convkit._info", "convkit.signal",
                                  "convkit.ndimage", "convkit._streaming"])
def test_docstring_examples(name):
    if name in ("convkit._matrix", "convkit.signal", "convkit.ndimage"):
        pytest.importorskip("scipy")
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
