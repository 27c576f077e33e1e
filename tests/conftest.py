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
def _restore_training():
    """Tests may switch ``autograd.training``; each starts from and leaves the default."""
    old = autograd.training
    yield
    autograd.training = old
