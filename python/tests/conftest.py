"""Fixtures shared by the tests (helpers.py holds the oracle)."""

import numpy as np
import pytest


@pytest.fixture(scope="session")
def rng():
    return np.random.default_rng(20261203)
