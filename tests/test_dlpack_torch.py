"""DLPack exchange with PyTorch on the CPU: torch.from_dlpack(singa tensor) and
tensor.from_dlpack(torch tensor) share memory, for every dtype both have (bfloat16
included, which NumPy lacks), strided and expanded views, and either side may die first.
(The NumPy half and the capsule checks are test_dlpack.py.)
"""
import gc

import numpy as np
import pytest

from singa import tensor

torch = pytest.importorskip("torch")

DTYPES = [(tensor.float32, torch.float32), (tensor.float64, torch.float64),
          (tensor.float16, torch.float16), (tensor.bfloat16, torch.bfloat16),
          (tensor.int32, torch.int32), (tensor.int64, torch.int64),
          (tensor.uint8, torch.uint8), (tensor.bool_, torch.bool)]


def _torch_values(torch_dtype, shape=(3, 4)):
    return ((torch.arange(12).reshape(shape) % 5) - 1).to(torch_dtype)


@pytest.mark.parametrize("dtype,torch_dtype", DTYPES)
def test_torch_from_singa_shares_memory(dtype, torch_dtype):
    ref = _torch_values(torch_dtype)
    t = tensor.from_dlpack(ref.clone())  # a singa tensor holding these values
    x = torch.from_dlpack(t)
    assert x.dtype == torch_dtype and tuple(x.shape) == (3, 4)
    assert torch.equal(x, ref)
    assert x.data_ptr() == t.data.data_ptr()
    x[1, 1] = 1
    assert torch.equal(torch.from_dlpack(t.clone()), x)
    t.set_value(0)
    assert not x.any()


@pytest.mark.parametrize("dtype,torch_dtype", DTYPES)
def test_singa_from_torch_shares_memory(dtype, torch_dtype):
    x = _torch_values(torch_dtype)
    t = tensor.from_dlpack(x)
    assert t.dtype == dtype and t.shape == (3, 4)
    assert t.data.data_ptr() == x.data_ptr()
    if dtype != tensor.bfloat16:
        np.testing.assert_array_equal(tensor.to_numpy(t), x.numpy())
    else:  # singa's to_numpy widens bfloat16 to float32, exactly
        np.testing.assert_array_equal(tensor.to_numpy(t), x.float().numpy())
    t.set_value(1)
    assert bool((x == 1).all())


def test_bfloat16_values_both_ways():
    x = torch.tensor([1.5, -2.0, 0.1, 3e38, float("inf")], dtype=torch.bfloat16)
    t = tensor.from_dlpack(x)
    np.testing.assert_array_equal(tensor.to_numpy(t), x.float().numpy())
    y = torch.from_dlpack(t * 2)  # a singa result, exported
    assert y.dtype == torch.bfloat16
    assert torch.equal(y, x * 2)


@pytest.mark.parametrize("view", ["t", "step", "expand", "offset"])
def test_torch_views_import_with_their_strides(view):
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    x = {"t": base.t(), "step": base[::2, 1::2], "expand": base[:1].expand(3, 6),
         "offset": base[2:, 3]}[view]
    t = tensor.from_dlpack(x)
    np.testing.assert_array_equal(tensor.to_numpy(t), x.numpy())
    assert t.data.data_ptr() == x.data_ptr()
    if view != "expand":
        t.set_value(-1)
        assert bool((x == -1).all()) and int((base == -1).sum()) == x.numel()


def test_singa_views_export_to_torch():
    a = np.arange(24, dtype=np.float32).reshape(4, 6)
    t = tensor.from_dlpack(a.copy())
    for v, ref in [(t.T(), a.T), (t[1::2, ::3], a[1::2, ::3]), (t[:, 5], a[:, 5])]:
        x = torch.from_dlpack(v)
        np.testing.assert_array_equal(x.numpy(), ref)
        assert tuple(x.stride()) == tuple(s // 4 for s in ref.strides)


def test_zero_d_and_empty():
    x = torch.tensor(2.5)
    t = tensor.from_dlpack(x)
    assert t.shape == () and float(t) == 2.5
    assert torch.from_dlpack(t).item() == 2.5
    e = tensor.from_dlpack(torch.zeros(0, 3, dtype=torch.int64))
    assert e.shape == (0, 3) and e.dtype == tensor.int64
    assert tuple(torch.from_dlpack(tensor.Tensor((4, 0))).shape) == (4, 0)


def test_lifetimes():
    x = torch.arange(50000, dtype=torch.float32)
    t = tensor.from_dlpack(x)
    del x
    gc.collect()
    junk = [torch.full((50000,), 7.0) for _ in range(4)]
    assert float(tensor.to_numpy(t)[-1]) == 49999 and junk

    s = tensor.from_dlpack(np.arange(1000, dtype=np.float32))
    y = torch.from_dlpack(s)
    del s
    gc.collect()
    assert float(y[999]) == 999


def test_legacy_capsules_both_ways():
    from torch.utils import dlpack as tdl

    x = torch.arange(4, dtype=torch.float32)
    t = tensor.from_dlpack(tdl.to_dlpack(x))  # a legacy capsule from torch
    assert t.data.data_ptr() == x.data_ptr()
    y = tdl.from_dlpack(t.__dlpack__())  # a legacy capsule to torch
    assert y.data_ptr() == x.data_ptr()


def test_torch_refuses_what_it_cannot_share():
    x = torch.ones(3, requires_grad=True)
    with pytest.raises(BufferError, match="require gradient"):
        tensor.from_dlpack(x)
    assert tensor.from_dlpack(x.detach()).data.data_ptr() == x.data_ptr()
