"""Exception classes shared by the package.

SINGA checks its arguments with ``assert``, so scripts written for it catch
``AssertionError``; code written for this package catches ``ValueError``. An argument
error raised here is both, so either kind of ``except`` clause sees it.
"""

import functools

from .singa_wrap import DeviceError

__all__ = ["ArgumentError", "ArgumentTypeError"]


class ArgumentError(ValueError, AssertionError):
    """An argument a function or Operation cannot accept (a shape, dtype, mode or value
    out of range); the message names the function and what was wrong."""


class ArgumentTypeError(TypeError, ValueError):
    """An argument of the wrong type where this package used to raise ValueError: a
    TypeError, as the rule for types wants (and SINGA raises there), still caught by the
    ``except ValueError`` clauses written for the earlier behaviour."""


# the kinds of error a wrong argument raises; the core's DeviceError (operands on
# different devices) is one of them
_ARGUMENT_ERRORS = (ValueError, TypeError, IndexError, DeviceError)


def named_entry(name):
    """Decorator for a public function that hands its arguments to the core or NumPy:
    those name their own kernel (``Mult``, ``__add__``) or nothing, so an argument error
    raised beneath it is raised again, of the same type, with ``name: `` in front."""
    def wrap(fn):
        @functools.wraps(fn)
        def entry(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except _ARGUMENT_ERRORS as e:
                msg = str(e)
                if msg.startswith(name + ":") or msg.startswith(name + " "):
                    raise
                try:
                    renamed = type(e)("{}: {}".format(name, msg))
                except Exception:
                    raise e from None
                raise renamed from e
        return entry
    return wrap
