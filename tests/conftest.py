"""Shared pytest configuration.

The core tests (test_core_*.py) compare every function bound in ``singa_wrap``
against NumPy. They import ``singa`` from wherever Python finds it: the installed
package in CI, or ``python/`` when run with ``PYTHONPATH=python`` during development.
"""
import numpy as np
import pytest

from singa import autograd


@pytest.fixture
def rng():
    """A NumPy generator with a fixed seed, so failures reproduce."""
    return np.random.default_rng(1234)


@pytest.fixture(autouse=True)
def _default_modes():
    """Every test starts from SINGA's defaults (grad and training mode off, no thread
    override) whatever an earlier test switched, and leaves them so."""
    def reset():
        autograd.training = False
        autograd.mode.reset_thread_overrides()
    reset()
    yield
    reset()
