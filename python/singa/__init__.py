"""singa: a define-by-run deep-learning framework with a C++ core.

The public modules follow Apache SINGA's Python API: ``singa.device``,
``singa.tensor``, ``singa.autograd``, ``singa.layer``, ``singa.model``,
``singa.opt`` and ``singa.initializer``.
"""

# Preloads the OpenBLAS shared library the extension links against.
import scipy_openblas32  # noqa: F401

from . import singa_wrap  # noqa: E402

__version__ = "0.1.0"

__all__ = ["singa_wrap", "__version__"]
