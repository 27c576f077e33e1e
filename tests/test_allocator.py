"""The CPU device's caching allocator: freed blocks are reused, accounting stays exact."""

import numpy as np

from singa import device, singa_wrap as sw


def test_freed_blocks_are_cached_and_reused():
    dev = device.get_default_device()
    dev.EmptyCache()
    t = sw.Tensor([1 << 18], dev, sw.kFloat32)  # 1 MiB
    ptr = t.data_ptr()
    in_use = dev.bytes_in_use()
    del t
    assert dev.cached_bytes() == 1 << 20
    assert dev.bytes_in_use() == in_use - (1 << 20)
    u = sw.Tensor([1 << 18], dev, sw.kFloat32)
    assert u.data_ptr() == ptr  # the same memory, no fresh allocation
    assert dev.cached_bytes() == 0


def test_small_blocks_are_not_cached():
    dev = device.get_default_device()
    dev.EmptyCache()
    t = sw.Tensor([100], dev, sw.kFloat32)
    del t
    assert dev.cached_bytes() == 0


def test_reused_memory_holds_correct_results():
    dev = device.get_default_device()
    a = np.random.RandomState(0).rand(300, 300).astype(np.float32)
    for _ in range(3):
        x = sw.from_numpy(a)
        y = sw.Mult(x, x)
        z = sw.Exp(sw.MultFloat(y, 0.001))
        np.testing.assert_allclose(sw.to_numpy(z), np.exp((a @ a) * 0.001), rtol=1e-4)
    assert dev.cached_bytes() > 0


def test_cache_limit_and_empty():
    dev = device.get_default_device()
    dev.SetCacheLimit(0)
    try:
        t = sw.Tensor([1 << 18], dev, sw.kFloat32)
        del t
        assert dev.cached_bytes() == 0
    finally:
        dev.SetCacheLimit(2 << 30)
    t = sw.Tensor([1 << 18], dev, sw.kFloat32)
    del t
    assert dev.cached_bytes() >= 1 << 20
    dev.EmptyCache()
    assert dev.cached_bytes() == 0
