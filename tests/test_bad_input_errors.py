"""The two pieces of singa.errors the bad-input tables rely on: named_entry, which puts
a public function's name in front of the argument errors raised beneath it, and
ArgumentTypeError, a TypeError that old ``except ValueError`` clauses still catch."""

import pytest

from singa import errors
from singa import singa_wrap as sw


@pytest.mark.parametrize("kind", [ValueError, TypeError, IndexError, errors.ArgumentError])
def test_named_entry_prefixes_argument_errors_keeping_their_type(kind):
    @errors.named_entry("frob")
    def frob():
        raise kind("width 3 is too small")

    with pytest.raises(kind) as info:
        frob()
    assert type(info.value) is kind
    assert str(info.value) == "frob: width 3 is too small"
    assert str(info.value.__cause__) == "width 3 is too small"


def test_named_entry_prefixes_the_core_device_error():
    @errors.named_entry("frob")
    def frob():
        raise sw.DeviceError("operands are on different devices")

    with pytest.raises(sw.DeviceError, match=r"^frob: operands"):
        frob()


def test_named_entry_leaves_a_message_that_names_the_function():
    @errors.named_entry("frob")
    def frob():
        raise ValueError("frob: width 3 is too small")

    with pytest.raises(ValueError) as info:
        frob()
    assert str(info.value) == "frob: width 3 is too small"
    assert info.value.__cause__ is None


@pytest.mark.parametrize("kind", [RuntimeError, KeyError, MemoryError, FloatingPointError])
def test_named_entry_passes_other_errors_through_untouched(kind):
    err = kind("x")

    @errors.named_entry("frob")
    def frob():
        raise err

    with pytest.raises(kind) as info:
        frob()
    assert info.value is err


def test_named_entry_returns_the_result_and_keeps_the_name():
    @errors.named_entry("frob")
    def frob(a, b=2):
        """Adds."""
        return a + b

    assert frob(1, b=5) == 6
    assert frob.__name__ == "frob" and frob.__doc__ == "Adds."


def test_named_entry_reraises_an_error_it_cannot_rebuild():
    class Picky(ValueError):
        def __init__(self, a, b):
            super().__init__("{} {}".format(a, b))

    @errors.named_entry("frob")
    def frob():
        raise Picky(1, 2)

    with pytest.raises(Picky, match=r"^1 2$"):
        frob()


def test_argument_type_error_is_a_type_error_and_a_value_error():
    assert issubclass(errors.ArgumentTypeError, TypeError)
    assert issubclass(errors.ArgumentTypeError, ValueError)
    for kind in (TypeError, ValueError):
        with pytest.raises(kind):
            raise errors.ArgumentTypeError("lr must be a number, got 'fast'")
