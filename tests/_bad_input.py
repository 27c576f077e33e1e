"""Table-driven bad-input checks shared by the tests/test_bad_input_*.py files.

Each test file builds a table of :class:`Bad` cases for one module, one or more per name
in the module's ``__all__``, and an exemption table (name -> why no bad input applies).
``check`` runs a case; ``check_coverage`` fails when a public name has neither cases nor
an exemption, so a new public name cannot arrive without bad-input tests.
"""

import functools
import re
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
import pytest

from singa import device, tensor


@dataclass(frozen=True)
class Bad:
    """One bad call of a public name.

    name: the ``__all__`` name covered. what: a few words saying what is bad (the test
    id). call: runs the bad call. exc: the exception type it must raise. values: a regex
    the message must match, naming the offending value(s). who: a regex the message must
    match, naming the function, op or layer (by default ``name`` itself).
    """
    name: str
    what: str
    call: Callable[[], object]
    exc: type
    values: str
    who: Optional[str] = None

    @property
    def id(self):
        return "{}-{}".format(self.name, self.what.replace(" ", "_"))


def params(cases):
    """pytest parameters of ``cases``, each with its id."""
    return [pytest.param(c, id=c.id) for c in cases]


def check(case):
    """Runs ``case.call`` and checks the exception's type and message."""
    with pytest.raises(Exception) as info:
        case.call()
    err = info.value
    msg = str(err)
    assert isinstance(err, case.exc), "{}: raised {}({!r}), expected {}".format(
        case.id, type(err).__name__, msg, case.exc.__name__)
    who = case.who if case.who is not None else r"\b{}\b".format(re.escape(case.name))
    assert re.search(who, msg), "{}: the message does not name {!r}: {!r}".format(
        case.id, who, msg)
    assert re.search(case.values, msg), "{}: the message does not name {!r}: {!r}".format(
        case.id, case.values, msg)


def check_coverage(module, cases, exempt):
    """Every name of ``module.__all__`` has a case or an exemption with its reason, and
    the tables name nothing else."""
    public = set(module.__all__)
    covered = {c.name for c in cases}
    missing = sorted(public - covered - set(exempt))
    assert not missing, "{}: public names without bad-input cases or an exemption: {}".format(
        module.__name__, missing)
    stray = sorted((covered | set(exempt)) - public)
    assert not stray, "{}: tables name what is not in __all__: {}".format(
        module.__name__, stray)
    both = sorted(covered & set(exempt))
    assert not both, "{}: names both covered and exempt: {}".format(module.__name__, both)
    for name, reason in exempt.items():
        assert isinstance(reason, str) and len(reason.split()) >= 3, (
            "{}: exemption of {} needs a reason".format(module.__name__, name))
    ids = [c.id for c in cases]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    assert not dupes, "{}: duplicate case ids {}".format(module.__name__, dupes)


# ---- inputs the tables share

@functools.lru_cache(maxsize=None)
def other_device():
    """The second device of the foundation issue (host memory, CPU kernels, its own id
    below -1), made on first use so that importing the tables creates no device."""
    return device.create_test_device()


def arr(*shape, dtype=np.float32):
    """A Tensor of ``shape`` holding 0, 1, 2, ... (as ``dtype``)."""
    n = int(np.prod(shape)) if shape else 1
    return tensor.from_numpy(np.arange(n, dtype=dtype).reshape(shape))


def on_other(*shape):
    """A float32 Tensor of ``shape`` (ones) on the second device."""
    t = tensor.Tensor(shape, other_device())
    t.set_value(1.0)
    return t


# the message of a wrong-device error names both devices' ids
DEVICES = r"-1.*-\d|-\d.*-1|different devices"
