"""autograd.autocast as a scoped switch (nesting, enabled=False, decorator, exceptions,
threads), the error on CPUs without bfloat16 instructions (faked here, so it is tested on
every machine) and emulation, which computes the same roundings as the native kernels."""

import threading

import numpy as np
import pytest

from singa import autocast, autograd, singa_wrap, tensor
from singa.testing import tensor_from

BF16 = tensor.bfloat16


def _randn(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


@pytest.fixture
def no_native_bf16(monkeypatch):
    """A CPU without avx512_bf16 and amx_bf16, as autocast sees it."""
    monkeypatch.setattr(autocast, "native_bf16", lambda: False)
    monkeypatch.setattr(autocast, "_cpu_flags", lambda: {"avx2", "fma", "avx512f"})
    monkeypatch.delenv("SINGA_BF16_EMULATE", raising=False)


# ---- the switch ----

def test_compute_dtype_inside_and_outside():
    assert autocast.compute_dtype() is None
    with autograd.autocast("bfloat16", emulate=True) as ctx:
        assert autocast.compute_dtype() == BF16
        assert ctx.dtype == BF16
    assert autocast.compute_dtype() is None


def test_dtype_may_be_given_as_the_tensor_constant():
    with autograd.autocast(tensor.bfloat16, emulate=True):
        assert autocast.compute_dtype() == BF16


def test_nesting_restores_the_outer_setting():
    with autograd.autocast("bfloat16", emulate=True):
        with autograd.autocast("bfloat16", enabled=False):
            assert autocast.compute_dtype() is None
            with autograd.autocast("bfloat16", emulate=True):
                assert autocast.compute_dtype() == BF16
            assert autocast.compute_dtype() is None
        assert autocast.compute_dtype() == BF16
    assert autocast.compute_dtype() is None


def test_disabled_block_computes_float32():
    x, w = _randn((3, 5), 0), _randn((5, 2), 1)
    with autograd.autocast("bfloat16", emulate=True):
        with autograd.autocast("bfloat16", enabled=False):
            y = tensor.to_numpy(autograd.matmul(tensor_from(x), tensor_from(w)))
    np.testing.assert_allclose(y, x.astype(np.float64) @ w, rtol=1e-5, atol=1e-6)


def test_exception_inside_restores_state():
    with pytest.raises(KeyError):
        with autograd.autocast("bfloat16", emulate=True):
            raise KeyError("boom")
    assert autocast.compute_dtype() is None
    with autograd.autocast("bfloat16", emulate=True):
        with pytest.raises(ValueError):
            with autograd.autocast("bfloat16", enabled=False):
                raise ValueError("inner")
        assert autocast.compute_dtype() == BF16


def test_one_object_reentered_nests():
    ctx = autograd.autocast("bfloat16", emulate=True)
    with ctx:
        with ctx:
            assert autocast.compute_dtype() == BF16
        assert autocast.compute_dtype() == BF16
    assert autocast.compute_dtype() is None


def test_decorator_applies_per_call_and_restores_on_raise():
    @autograd.autocast("bfloat16", emulate=True)
    def inside(fail=False):
        if fail:
            raise RuntimeError("x")
        return autocast.compute_dtype()

    assert autocast.compute_dtype() is None
    assert inside() == BF16
    assert autocast.compute_dtype() is None
    with pytest.raises(RuntimeError):
        inside(fail=True)
    assert autocast.compute_dtype() is None
    assert inside.__name__ == "inside"


def test_other_threads_are_not_affected():
    seen = []
    with autograd.autocast("bfloat16", emulate=True):
        t = threading.Thread(target=lambda: seen.append(autocast.compute_dtype()))
        t.start()
        t.join()
    assert seen == [None]


@pytest.mark.parametrize("dtype", ["float16", "float32", "bf16", tensor.float16, None])
def test_unsupported_dtype_is_a_value_error_naming_it(dtype):
    with pytest.raises(ValueError, match="bfloat16.*{!r}".format(dtype).replace("(", r"\(")
                       .replace(")", r"\)")):
        autograd.autocast(dtype)


@pytest.mark.parametrize("kw", [{"enabled": 1}, {"enabled": "yes"}, {"emulate": "no"},
                                {"emulate": 0}])
def test_flags_must_be_bools(kw):
    with pytest.raises(TypeError, match=next(iter(kw))):
        autograd.autocast("bfloat16", **kw)


# ---- CPUs without bfloat16 ----

def test_without_bf16_instructions_entering_raises_naming_the_cpu_flags(no_native_bf16):
    with pytest.raises(RuntimeError, match="avx512_bf16.*amx_bf16") as err:
        with autograd.autocast("bfloat16"):
            pytest.fail("the block must not run")
    assert "emulate=True" in str(err.value) and "SINGA_BF16_EMULATE" in str(err.value)
    assert autocast.compute_dtype() is None


def test_cpu_with_the_flags_but_no_native_kernels_says_why(monkeypatch):
    # e.g. ONEDNN_MAX_CPU_ISA=AVX2 on an AMX machine
    monkeypatch.setattr(autocast, "native_bf16", lambda: False)
    monkeypatch.setattr(autocast, "_cpu_flags", lambda: {"avx512_bf16", "amx_bf16"})
    monkeypatch.delenv("SINGA_BF16_EMULATE", raising=False)
    with pytest.raises(RuntimeError, match="ONEDNN_MAX_CPU_ISA"):
        autograd.autocast("bfloat16").__enter__()


def test_reference_backend_is_named_as_the_reason(monkeypatch):
    monkeypatch.setattr(autocast, "native_bf16", lambda: False)
    monkeypatch.setattr(autocast, "_cpu_flags", lambda: {"avx512_bf16"})
    monkeypatch.setattr(singa_wrap, "get_conv_backend", lambda: "reference")
    monkeypatch.delenv("SINGA_BF16_EMULATE", raising=False)
    with pytest.raises(RuntimeError, match="conv backend is 'reference'"):
        autograd.autocast("bfloat16").__enter__()


def test_disabled_block_needs_no_bf16_support(no_native_bf16):
    with autograd.autocast("bfloat16", enabled=False):
        assert autocast.compute_dtype() is None


def test_emulate_argument_allows_it(no_native_bf16):
    with autograd.autocast("bfloat16", emulate=True):
        y = autograd.matmul(tensor_from(_randn((2, 3), 2)), tensor_from(_randn((3, 2), 3)))
    assert y.dtype == tensor.float32


def test_emulate_false_refuses_even_with_the_variable(no_native_bf16, monkeypatch):
    monkeypatch.setenv("SINGA_BF16_EMULATE", "1")
    with pytest.raises(RuntimeError):
        autograd.autocast("bfloat16", emulate=False).__enter__()


def test_environment_variable_allows_it(no_native_bf16, monkeypatch):
    monkeypatch.setenv("SINGA_BF16_EMULATE", "1")
    with autograd.autocast("bfloat16"):
        assert autocast.compute_dtype() == BF16


def test_bad_environment_value_is_named(no_native_bf16, monkeypatch):
    monkeypatch.setenv("SINGA_BF16_EMULATE", "yes")
    with pytest.raises(ValueError, match="SINGA_BF16_EMULATE"):
        autograd.autocast("bfloat16").__enter__()


def test_missing_cpu_flags_lists_what_is_absent(monkeypatch):
    monkeypatch.setattr(autocast, "_cpu_flags", lambda: {"avx512_bf16"})
    assert autocast.missing_cpu_flags() == ["amx_bf16"]


def test_native_bf16_reports_the_core():
    assert autocast.native_bf16() == singa_wrap.half_native(int(BF16))


@pytest.fixture
def reference_backend():
    """The core's software path for bfloat16 (widen, float32 kernel, round): what a CPU
    without bfloat16 instructions runs."""
    old = singa_wrap.get_conv_backend()
    singa_wrap.set_conv_backend("reference")
    yield
    singa_wrap.set_conv_backend(old)


@pytest.mark.skipif(not autocast.native_bf16(), reason="this CPU has no native bfloat16")
def test_emulation_gives_the_native_kernels_numbers(reference_backend):
    x, w = _randn((16, 40), 4), _randn((40, 12), 5)
    xc, wc = _randn((2, 3, 8, 8), 6), _randn((5, 3, 3, 3), 7)

    def run():
        with autograd.autocast("bfloat16", emulate=True):
            mm = tensor.to_numpy(autograd.matmul(tensor_from(x), tensor_from(w)))
            h = singa_wrap.ConvHandle(tensor_from(xc).data, [3, 3], [1, 1], [1, 1], 3, 5,
                                      False, 1)
            conv = tensor.to_numpy(autograd.conv2d(h, tensor_from(xc), tensor_from(wc)))
        return mm, conv
    emulated = run()
    singa_wrap.set_conv_backend("dnnl")
    assert autocast.native_bf16()
    native = run()
    for e, n in zip(emulated, native):
        # the same roundings; float32 sums in another order may land one bfloat16 step off
        np.testing.assert_allclose(e, n, rtol=2 ** -7, atol=1e-6)
        assert np.mean(e == n) > 0.9
