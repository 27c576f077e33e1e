"""Exception classes shared by the package.

SINGA checks its arguments with ``assert``, so scripts written for it catch
``AssertionError``; code written for this package catches ``ValueError``. An argument
error raised here is both, so either kind of ``except`` clause sees it.
"""

__all__ = ["ArgumentError"]


class ArgumentError(ValueError, AssertionError):
    """An argument a function or Operation cannot accept (a shape, dtype, mode or value
    out of range); the message names the function and what was wrong."""
