"""The CPU device's caching allocator: freed blocks are reused, accounting stays exact.

Blocks of 64 KiB and more are carved out of arenas. ``cached_bytes`` counts their free
space, including the untouched rest of a new arena, and free space in arenas that other
tests' live tensors pin stays counted after ``EmptyCache``: tests compare differences.
"""

import numpy as np

from singa import device, singa_wrap as sw

MB = 1 << 20


def test_freed_blocks_are_cached_and_reused():
    dev = device.get_default_device()
    t = sw.Tensor([1 << 18], dev, sw.kFloat32)  # 1 MiB
    ptr = t.data_ptr()
    in_use, free = dev.bytes_in_use(), dev.cached_bytes()
    del t
    assert dev.cached_bytes() - free == MB
    assert dev.bytes_in_use() == in_use - MB
    u = sw.Tensor([1 << 18], dev, sw.kFloat32)
    assert u.data_ptr() == ptr  # the same memory, no fresh allocation


def test_small_blocks_are_not_cached():
    dev = device.get_default_device()
    dev.EmptyCache()
    base = dev.cached_bytes()
    t = sw.Tensor([100], dev, sw.kFloat32)
    del t
    assert dev.cached_bytes() == base


def test_large_blocks_are_split_from_freed_memory_and_merged_back():
    dev = device.get_default_device()
    big = sw.Tensor([200 * MB // 4], dev, sw.kFloat32)  # a new 200 MiB arena
    base_ptr, in_use = big.data_ptr(), dev.bytes_in_use()
    del big
    assert dev.bytes_in_use() == in_use - 200 * MB
    # Smaller requests are carved out of the freed span instead of new memory (the rest,
    # 50 MiB, is then the best fit for a 50 MiB request).
    a = sw.Tensor([150 * MB // 4], dev, sw.kFloat32)
    b = sw.Tensor([50 * MB // 4], dev, sw.kFloat32)
    assert a.data_ptr() == base_ptr
    assert b.data_ptr() == base_ptr + 150 * MB
    a.SetValue(1.0)
    b.SetValue(2.0)
    assert float(sw.to_numpy(a)[-1]) == 1.0 and float(sw.to_numpy(b)[0]) == 2.0
    del a, b
    # Freed neighbours merge: the whole arena serves a request of its full size again.
    c = sw.Tensor([200 * MB // 4], dev, sw.kFloat32)
    assert c.data_ptr() == base_ptr
    del c
    cached = dev.cached_bytes()
    dev.EmptyCache()  # a wholly free arena goes back to the system
    assert dev.cached_bytes() <= cached - 200 * MB


def test_reused_memory_holds_correct_results():
    dev = device.get_default_device()
    a = np.random.RandomState(0).rand(300, 300).astype(np.float32)
    for _ in range(3):
        x = sw.from_numpy(a)
        y = sw.Mult(x, x)
        z = sw.Exp(sw.MultFloat(y, 0.001))
        np.testing.assert_allclose(sw.to_numpy(z), np.exp((a @ a) * 0.001), rtol=1e-4)
    b = np.random.RandomState(1).rand(1200, 1100).astype(np.float32)  # 5 MiB: arenas
    for _ in range(3):
        x = sw.from_numpy(b)
        z = sw.Exp(sw.MultFloat(sw.Mult(x, sw.Transpose(x)), 1e-4))
        np.testing.assert_allclose(sw.to_numpy(z), np.exp((b @ b.T) * 1e-4), rtol=1e-4)
    assert dev.cached_bytes() > 0


def test_cache_limit_and_empty():
    dev = device.get_default_device()
    dev.SetCacheLimit(0)
    try:
        base = dev.cached_bytes()  # only free space inside arenas that live tensors pin
        t = sw.Tensor([1 << 18], dev, sw.kFloat32)
        del t
        assert dev.cached_bytes() == base
    finally:
        dev.SetCacheLimit(2 << 30)
    dev.EmptyCache()
    base = dev.cached_bytes()
    t = sw.Tensor([1 << 18], dev, sw.kFloat32)
    free = dev.cached_bytes()
    del t
    assert dev.cached_bytes() - free == MB
    dev.EmptyCache()
    assert dev.cached_bytes() == base
