"""Kernel dispatch by device: every op family runs on a test device (its own memory, the
CPU kernels behind a counting kernel table) and gives the CPU's result; the test
device's counter for that family moves while the CPU's memory is not touched; tensors
of two devices in one call raise DeviceError naming both; data moves between devices.

Each test runs on a fresh test device of each kind: one whose memory the host shares
(NumPy arrays are viewed), and one the core must treat as a GPU's (host_memory=False:
arrays are copied in and out, cross-device copies go through CopyToHost/CopyFromHost).
"""
import re

import numpy as np
import pytest

from singa import device, singa_wrap as sw

cpu = sw.GetDefaultDevice()
FAMILIES = ["elementwise", "reduce", "blas", "random", "shape", "nn", "fused"]
INITIAL_SEED = 0x5EED  # the seed a device starts with


@pytest.fixture(params=[True, False], ids=["host-memory", "device-memory"])
def dev(request):
    return sw.Platform.CreateTestDevice(request.param)


def on(d, a):
    """A tensor on d holding a copy of `a` (ops that write their inputs leave `a` alone)."""
    return sw.from_numpy(np.array(a, copy=True, order="C"), d)


def N(t):
    return np.array(sw.to_numpy(t))


def results(out):
    """The tensors of an op's result (a tensor, a list or pair of them, or None)."""
    if out is None:
        return []
    if isinstance(out, sw.Tensor):
        return [out]
    return [t for t in out if isinstance(t, sw.Tensor)]


def run_both(d, fn, *arrays, families, exact=False):
    """fn(*tensors) on the CPU and on test device d: same values, outputs on d, and only
    the test device's kernels of `families` (and, for conversions, elementwise) used."""
    want = [N(t) for t in results(fn(*[on(cpu, a) for a in arrays]))]
    inputs = [on(d, a) for a in arrays]
    other = sw.Platform.CreateTestDevice()
    d.reset_kernel_calls()
    cpu.ResetPeak()
    before = cpu.bytes_in_use()
    out = results(fn(*inputs))
    calls = d.kernel_calls()
    if d.host_memory():
        assert cpu.peak_bytes() == before, "the op allocated CPU memory"
    assert set(calls) == set(FAMILIES)
    for family in families:
        assert calls[family] > 0, (family, calls)
    assert not any(v for v in other.kernel_calls().values()), "another device ran kernels"
    for t in out:
        assert t.device() == d
    got = [N(t) for t in out]
    assert len(got) == len(want)
    for g, w in zip(got, want):
        if exact:
            np.testing.assert_array_equal(g, w)
        else:
            np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-6)
    return calls


def test_test_devices_are_distinct_devices():
    a, b = device.create_test_device(), sw.Platform.CreateTestDevice(False)
    assert a.name() == b.name() == "test-cpu"
    assert a.id() <= -2 and b.id() <= -2 and a.id() != b.id() and a != b and a != cpu
    assert a.lang() == sw.kCpp and a.host_memory() and not b.host_memory()
    assert a.kernel_calls() == {f: 0 for f in FAMILIES}
    assert cpu.kernel_calls() == {}  # the CPU does not count
    assert "test-cpu" in repr(a) and str(a.id()) in repr(a)


def test_kernel_calls_count_and_reset(dev):
    x = on(dev, np.ones((3, 4), np.float32))
    dev.reset_kernel_calls()
    sw.Add(x, x)
    sw.Exp(x)
    assert dev.kernel_calls()["elementwise"] == 2
    dev.reset_kernel_calls()
    assert set(dev.kernel_calls().values()) == {0}


def test_memory_is_the_test_devices(dev):
    used = dev.bytes_in_use()
    t = sw.Tensor([256, 256], dev)
    assert dev.bytes_in_use() == used + 256 * 256 * 4 and t.device() == dev
    del t
    assert dev.bytes_in_use() == used


# ---- one entry per op family: (family, fn, input arrays) ----

def _rand(*shape, lo=-2.0, hi=2.0, dtype=np.float32, seed=0):
    return np.random.default_rng(seed + len(shape)).uniform(lo, hi, shape).astype(dtype)


def _axpy(x, y):
    sw.Axpy(0.5, x, y)
    return y


def _inplace(a, b):
    a += b
    a *= 2.0
    return a


def _setvalue(x):
    x.SetValue(3.5)
    return x


ELEMENTWISE = [
    ("Add", lambda a, b: sw.Add(a, b), [_rand(3, 4), _rand(3, 4, seed=1)]),
    ("broadcast", lambda a, b: sw.EltwiseMult(a, b), [_rand(3, 1, 5), _rand(4, 1)]),
    ("scalar", lambda a: sw.PowFloat(sw.Abs(a), 1.5), [_rand(6)]),
    ("operators", lambda a, b: (a - b) / (a * a + 1.0), [_rand(5), _rand(5, seed=2)]),
    ("Exp", lambda a: sw.Exp(a), [_rand(40000)]),
    ("Mish", lambda a: sw.Mish(a), [_rand(7, 3)]),
    ("int32", lambda a: sw.Abs(a), [np.arange(-5, 5, dtype=np.int32)]),
    ("float16", lambda a: sw.Sigmoid(a.AsType(sw.kFloat16)), [_rand(9)]),
    ("strided", lambda a: sw.Tanh(sw.Transpose(a)), [_rand(4, 6)]),
    ("Axpy", _axpy, [_rand(2, 3), _rand(2, 3, seed=3)]),
    ("Where", lambda c, a, b: sw.Where(c, a, b),
     [np.array([1, 0, 1], np.float32), _rand(2, 3), _rand(3, seed=4)]),
    ("Clip", lambda a: sw.Clip(a, -0.5, 0.5), [_rand(10)]),
    ("in-place", _inplace, [_rand(4), _rand(4, seed=5)]),
    ("AsType", lambda a: a.AsType(sw.kDouble), [_rand(3, 3)]),
    ("SetValue", _setvalue, [_rand(2, 2)]),
    ("ReLUBackward", lambda dy, x: sw.ReLUBackward(dy, x), [_rand(8), _rand(8, seed=6)]),
]


@pytest.mark.parametrize("name,fn,arrays", ELEMENTWISE, ids=[e[0] for e in ELEMENTWISE])
def test_elementwise_family(dev, name, fn, arrays):
    run_both(dev, fn, *arrays, families=["elementwise"], exact=True)


def _labels(n, c):
    return (np.arange(n) % c).astype(np.int32)


REDUCE = [
    ("ReduceSum", lambda a: sw.ReduceSum(a, [0, 2], True), [_rand(3, 4, 5)]),
    ("ReduceMean", lambda a: sw.ReduceMean(a, None, False), [_rand(6, 7)]),
    ("ReduceMax", lambda a: sw.ReduceMax(a, 1, False), [_rand(4, 9)]),
    ("ReduceMin", lambda a: sw.ReduceMin(a, [-1], False), [_rand(4, 9)]),
    ("ArgMax", lambda a: sw.ArgMax(a, 1), [_rand(5, 6)]),
    ("SoftMax", lambda a: sw.SoftMax(a, 1), [_rand(4, 10)]),
    ("LogSoftMax", lambda a: sw.LogSoftMax(a, 0), [_rand(4, 10)]),
    ("SoftMaxBackward", lambda dy, y: sw.SoftMaxBackward(dy, 1, y), [_rand(3, 5), _rand(3, 5, seed=7)]),
    ("CrossEntropyFwd", lambda p, t: sw.CrossEntropyFwd(p, t),
     [_rand(6, 4, lo=0.1, hi=1.0), _labels(6, 4)]),
    ("CrossEntropy dense", lambda p, t: sw.CrossEntropyFwd(p, t),
     [_rand(6, 4, lo=0.1, hi=1.0), _rand(6, 4, lo=0, hi=1, seed=8)]),
    ("SoftmaxCrossEntropyBwd", lambda p, t: sw.SoftmaxCrossEntropyBwd(p, t),
     [_rand(6, 4, lo=0.1, hi=1.0), _labels(6, 4)]),
    ("SumRows", lambda m: sw.SumRows(m), [_rand(5, 3)]),
]


@pytest.mark.parametrize("name,fn,arrays", REDUCE, ids=[e[0] for e in REDUCE])
def test_reduce_family(dev, name, fn, arrays):
    run_both(dev, fn, *arrays, families=["reduce"], exact=True)


def test_values_read_back_reduce_on_the_device(dev):
    a = _rand(7, 9)
    t = on(dev, a)
    dev.reset_kernel_calls()
    assert t.L1() == pytest.approx(np.abs(a.astype(np.float64)).mean())
    assert t.L2() == pytest.approx(np.sqrt((a.astype(np.float64) ** 2).sum()) / a.size)
    assert sw.SumAll(t) == pytest.approx(a.astype(np.float64).sum())
    assert dev.kernel_calls()["reduce"] >= 3


def _mult_scaled(a, b, c):
    sw.MultWithScale(2.0, a, b, 0.5, c)
    return c


def _add_row(v, m):
    sw.AddRowWithScale(1.5, 0.5, v, m)
    return m


BLAS = [
    ("Mult", lambda a, b: sw.Mult(a, b), [_rand(5, 7), _rand(7, 3)]),
    ("batched", lambda a, b: sw.Mult(a, b), [_rand(2, 5, 4), _rand(2, 4, 3)]),
    ("vector", lambda a, b: sw.Mult(a, b), [_rand(4), _rand(4, 6)]),
    ("transposed", lambda a, b: sw.Mult(sw.Transpose(a), b), [_rand(7, 5), _rand(7, 3)]),
    ("MultWithScale", _mult_scaled, [_rand(3, 4), _rand(4, 2), _rand(3, 2)]),
]


@pytest.mark.parametrize("name,fn,arrays", BLAS, ids=[e[0] for e in BLAS])
def test_blas_family(dev, name, fn, arrays):
    run_both(dev, fn, *arrays, families=["blas"])


def test_row_column_helpers(dev):
    run_both(dev, _add_row, _rand(3), _rand(4, 3), families=["elementwise"])


@pytest.mark.parametrize("kind", ["Uniform", "Gaussian", "Bernoulli"])
@pytest.mark.parametrize("dtype", [sw.kFloat32, sw.kDouble])
def test_random_family_draws_the_cpu_stream(dev, kind, dtype):
    args = {"Uniform": (-1.0, 2.0), "Gaussian": (0.5, 2.0), "Bernoulli": (0.3,)}[kind]
    want = sw.Tensor([50, 40], cpu, dtype)
    got = sw.Tensor([50, 40], dev, dtype)
    try:
        cpu.SetRandSeed(99)
        getattr(sw, kind)(*args, want)
    finally:
        cpu.SetRandSeed(INITIAL_SEED)
    dev.SetRandSeed(99)
    dev.reset_kernel_calls()
    getattr(sw, kind)(*args, got)
    assert dev.kernel_calls()["random"] == 1
    np.testing.assert_array_equal(N(got), N(want))


def _scatter(t, i, u):
    return sw.ScatterElements(t, i, u, 1, True)


SHAPE = [
    ("Take", lambda t, i: sw.Take(t, i, 1), [_rand(3, 5), np.array([[4, 0], [-1, 2]], np.int32)]),
    ("GatherElements", lambda t, i: sw.GatherElements(t, i, 0),
     [_rand(3, 4), np.array([[2, 0, 1, 1]], np.int32)]),
    ("ScatterElements", _scatter,
     [_rand(2, 4), np.array([[0, 3], [1, 1]], np.int32), _rand(2, 2, seed=9)]),
]


@pytest.mark.parametrize("name,fn,arrays", SHAPE, ids=[e[0] for e in SHAPE])
def test_shape_family(dev, name, fn, arrays):
    run_both(dev, fn, *arrays, families=["shape"], exact=True)


COPIES = [
    ("ConcatOn", lambda a, b: sw.ConcatOn([a, b], 1), [_rand(2, 3), _rand(2, 2, seed=10)]),
    ("Pad", lambda a: sw.Pad(a, [(1, 2), (2, 1)], 2, 0.0), [_rand(4, 5)]),
    ("Tile", lambda a: sw.Tile(a, [2, 3]), [_rand(2, 2)]),
    ("Repeat", lambda a: sw.Repeat(a, [2, 1, 3], 0), [_rand(3, 2)]),
    ("OneHot", lambda i: sw.OneHot(i, 5, 1.0, 0.0, sw.kFloat32), [np.array([3, 0, 4], np.int32)]),
    ("SliceOn", lambda a: sw.SliceOn(a, 1, 3, 1), [_rand(3, 4)]),
]


@pytest.mark.parametrize("name,fn,arrays", COPIES, ids=[e[0] for e in COPIES])
def test_shape_ops_built_from_copies(dev, name, fn, arrays):
    run_both(dev, fn, *arrays, families=["elementwise"], exact=True)


# ---- nn: conv, pooling, batch norm, LRN ----

def _conv(x, w, b):
    h = sw.ConvHandle(x, [3, 3], [1, 1], [1, 1], 3, 4, True)
    y = sw.CpuConvForward(x, w, b, h)
    return [y, sw.CpuConvBackwardx(y, w, x, h), sw.CpuConvBackwardW(y, x, w, h),
            sw.CpuConvBackwardb(y, b, h)]


def _conv_no_bias(x, w):
    h = sw.ConvHandle(x, [1, 1], [1, 1], [0, 0], 3, 4, False)
    return sw.CpuConvForward(x, w, None, h)


def _pool(x):
    out = []
    for is_max in (True, False):
        h = sw.PoolingHandle(x, [2, 2], [2, 2], [0, 0], is_max)
        y = sw.CpuPoolingForward(h, x)
        out += [y, sw.CpuPoolingBackward(h, y, x, y)]
    return out


def _batchnorm(x, scale, bias, rm, rv):
    h = sw.BatchNormHandle(0.9, x)
    y, mean, var = sw.CpuBatchNormForwardTraining(h, x, scale, bias, rm, rv)
    dx, ds, db = sw.CpuBatchNormBackwardx(h, y, y, x, scale, bias, mean, var)
    inf = sw.CpuBatchNormForwardInference(h, x, scale, bias, rm, rv)
    return [y, mean, var, rm, rv, dx, ds, db, inf]


def _lrn(x):
    y = sw.CpuLRNForward(x, 3, 1e-3, 0.75, 2.0)
    return [y, sw.CpuLRNBackward(y, x, y, 3, 1e-3, 0.75, 2.0)]


NN = [
    ("conv", _conv, [_rand(2, 3, 5, 5), _rand(4, 3, 3, 3, seed=11), _rand(4, seed=12)]),
    ("conv without bias", _conv_no_bias, [_rand(2, 3, 4, 4), _rand(4, 3, 1, 1, seed=13)]),
    ("pooling", _pool, [_rand(2, 3, 6, 6)]),
    ("batchnorm 4-D", _batchnorm, [_rand(4, 3, 2, 2), _rand(3, lo=0.5, hi=1.5), _rand(3, seed=14),
                                    np.zeros(3, np.float32), np.ones(3, np.float32)]),
    ("batchnorm 2-D", _batchnorm, [_rand(6, 3), _rand(3, lo=0.5, hi=1.5), _rand(3, seed=15),
                                    np.zeros(3, np.float32), np.ones(3, np.float32)]),
    ("lrn", _lrn, [_rand(2, 5, 3, 3)]),
    ("float64 conv", _conv, [_rand(1, 3, 4, 4, dtype=np.float64),
                             _rand(4, 3, 3, 3, dtype=np.float64), _rand(4, dtype=np.float64)]),
]


@pytest.mark.parametrize("name,fn,arrays", NN, ids=[e[0] for e in NN])
def test_nn_family(dev, name, fn, arrays):
    run_both(dev, fn, *arrays, families=["nn"])


# ---- fused optimizer updates and dropout ----

def _sgd(p, g, buf):
    sw.SGDUpdate(p, g, buf, 0.1, 0.9, 0.0, 1e-3, True)
    sw.SGDUpdate(p, g, None, 0.1)
    return [p, buf]


def _adam(p, g, m, v):
    sw.AdamUpdate(p, g, m, v, 0.01, 0.9, 0.999, 1e-8, 0.0, 3)
    return [p, m, v]


def _rmsprop(p, g, v):
    sw.RMSPropUpdate(p, g, v, 0.01, 0.9, 1e-6)
    return [p, v]


def _adagrad(p, g, h):
    sw.AdaGradUpdate(p, g, h, 0.01, 1e-6)
    return [p, h]


FUSED = [
    ("SGDUpdate", _sgd, [_rand(5, 4), _rand(5, 4, seed=16), np.zeros((5, 4), np.float32)]),
    ("AdamUpdate", _adam, [_rand(9), _rand(9, seed=17), np.zeros(9, np.float32),
                           np.zeros(9, np.float32)]),
    ("RMSPropUpdate", _rmsprop, [_rand(3, 3), _rand(3, 3, seed=18), np.ones((3, 3), np.float32)]),
    ("AdaGradUpdate", _adagrad, [_rand(6, dtype=np.float64), _rand(6, seed=19, dtype=np.float64),
                                 np.ones(6)]),
]


@pytest.mark.parametrize("name,fn,arrays", FUSED, ids=[e[0] for e in FUSED])
def test_fused_family(dev, name, fn, arrays):
    run_both(dev, fn, *arrays, families=["fused"], exact=True)


def test_dropout_draws_the_cpu_mask(dev):
    x = _rand(30, 20)
    try:
        cpu.SetRandSeed(5)
        want = [N(t) for t in sw.DropoutForward(on(cpu, x), 0.4)]
    finally:
        cpu.SetRandSeed(INITIAL_SEED)
    dev.SetRandSeed(5)
    dev.reset_kernel_calls()
    got = sw.DropoutForward(on(dev, x), 0.4)
    assert dev.kernel_calls()["fused"] == 1
    assert all(t.device() == dev for t in got)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(N(g), w)


# ---- tensors of two devices in one call ----

def _mixed_calls(a, b):
    """(name in the error, call) with `a` and `b` on different devices, for the
    multi-tensor entry points."""
    m = sw.Tensor([3, 3], b.device())
    h = sw.ConvHandle([1, 1, 3, 3], [1, 1], [1, 1], [0, 0], 1, 1, True)
    p = sw.PoolingHandle([1, 1, 3, 3], [1, 1], [1, 1], [0, 0])
    bn = sw.BatchNormHandle(0.9, [1, 1, 3, 3])
    x4 = sw.Reshape(a, [1, 1, 3, 3])
    y4 = sw.Reshape(b, [1, 1, 3, 3])
    one_a = sw.Reshape(sw.SliceOn(sw.Reshape(a, [9]), 0, 1, 0), [1])
    one_b = sw.Reshape(sw.SliceOn(sw.Reshape(b, [9]), 0, 1, 0), [1])
    return [
        ("Add", lambda: sw.Add(a, b)),
        ("__add__", lambda: a + b),
        ("Add", lambda: sw.AddWithRet(a, a, m)),
        ("Mult", lambda: sw.Mult(a, b)),
        ("MultWithScale", lambda: sw.MultWithScale(1.0, a, a, 0.0, m)),
        ("Axpy", lambda: sw.Axpy(1.0, a, b)),
        ("Where", lambda: sw.Where(a, a, b)),
        ("AddRow", lambda: sw.AddRow(sw.Reshape(sw.SliceOn(a, 0, 1, 0), [3]), m)),
        ("ConcatOn", lambda: sw.ConcatOn([a, b], 0)),
        ("Gather", lambda: sw.Take(a, b.AsType(sw.kInt), 0)),
        ("GatherElements", lambda: sw.GatherElements(a, b.AsType(sw.kInt), 0)),
        ("ScatterElements", lambda: sw.ScatterElements(a, a.AsType(sw.kInt), b, 0)),
        ("SoftMaxBackward", lambda: sw.SoftMaxBackward(a, 1, b)),
        ("CrossEntropyFwd", lambda: sw.CrossEntropyFwd(a, b)),
        ("CpuConvForward", lambda: sw.CpuConvForward(x4, y4, one_a, h)),
        ("CpuConvBackwardb", lambda: sw.CpuConvBackwardb(x4, one_b, h)),
        ("CpuPoolingBackward", lambda: sw.CpuPoolingBackward(p, x4, y4, x4)),
        ("CpuBatchNormForwardTraining",
         lambda: sw.CpuBatchNormForwardTraining(bn, x4, one_a, one_a, one_b, one_b)),
        ("CpuLRNBackward", lambda: sw.CpuLRNBackward(x4, y4, x4, 1)),
        ("SGDUpdate", lambda: sw.SGDUpdate(a, b, None, 0.1)),
        ("AdamUpdate", lambda: sw.AdamUpdate(a, a, b, a, 0.1, 0.9, 0.99, 1e-8, 0.0, 1)),
    ]


@pytest.mark.parametrize("first_on_cpu", [True, False])
def test_mixed_devices_raise_naming_both(dev, first_on_cpu):
    x = np.ones((3, 3), np.float32)
    a, b = (on(cpu, x), on(dev, x)) if first_on_cpu else (on(dev, x), on(cpu, x))
    for name, call in _mixed_calls(a, b):
        with pytest.raises(sw.DeviceError) as err:
            call()
        msg = str(err.value)
        assert isinstance(err.value, RuntimeError)
        assert msg.startswith(name), (name, msg)
        assert re.search(r"cpu id -1\b", msg) and re.search(r"test-cpu id %d\b" % dev.id(), msg), \
            (name, msg)


def test_two_test_devices_do_not_mix():
    d1, d2 = sw.Platform.CreateTestDevice(), sw.Platform.CreateTestDevice()
    a, b = on(d1, np.ones(3, np.float32)), on(d2, np.ones(3, np.float32))
    with pytest.raises(sw.DeviceError, match=r"test-cpu id %d and test-cpu id %d" % (d1.id(), d2.id())):
        sw.Sub(a, b)


# ---- moving data between devices ----

def test_numpy_round_trip(dev):
    for a in [_rand(3, 4), np.arange(6, dtype=np.int32), _rand(2, 2, dtype=np.float64),
              np.array(2.5, np.float32), np.zeros((0, 3), np.float32)]:
        t = sw.from_numpy(a, dev)
        assert t.device() == dev
        back = sw.to_numpy(t)
        np.testing.assert_array_equal(back, a)
        assert back.dtype == a.dtype and back.shape == a.shape
        np.testing.assert_array_equal(t.GetValue(), a)


def test_numpy_sharing_follows_host_memory(dev):
    a = np.arange(4, dtype=np.float32)
    t = sw.from_numpy(a, dev)
    a[0] = 42  # shared only when the host reads the device's memory
    assert (N(t)[0] == 42) == dev.host_memory()
    view = t.numpy()
    view[1] = -1
    assert (N(t)[1] == -1) == dev.host_memory()


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.float64])
def test_to_device_and_back(dev, dtype):
    a = (np.arange(12).reshape(3, 4) * 1.5).astype(dtype)
    t = sw.from_numpy(a.copy())
    t.ToDevice(dev)
    assert t.device() == dev
    np.testing.assert_array_equal(N(t), a)
    t.ToHost()
    assert t.device() == cpu
    np.testing.assert_array_equal(N(t), a)


def test_copy_data_across_devices_converts_and_strides(dev):
    a = _rand(4, 6)
    src = sw.Transpose(on(cpu, a))           # strided, float32, on the CPU
    dst = sw.Tensor([6, 4], dev, sw.kDouble)
    dst.CopyData(src)
    np.testing.assert_allclose(N(dst), a.T.astype(np.float64))
    back = sw.Tensor([4, 6], cpu, sw.kFloat32)
    back.CopyData(sw.Transpose(dst))          # strided source on the test device
    np.testing.assert_array_equal(N(back), a)
    other = sw.Platform.CreateTestDevice(False)
    far = sw.Tensor([6, 4], other, sw.kFloat32)
    far.CopyData(dst)                         # between two test devices
    np.testing.assert_array_equal(N(far), a.T)


def test_clone_and_copy_stay_on_the_device(dev):
    t = on(dev, _rand(3, 3))
    c = t.Clone()
    assert c.device() == dev and not c.shares_memory(t)
    np.testing.assert_array_equal(N(c), N(t))
    sw.CopyDataToFrom(c, on(cpu, np.zeros(9, np.float32)), 4, 2, 0)
    assert N(c).reshape(-1)[2:6].tolist() == [0, 0, 0, 0]


def test_host_data_copied_into_device_tensor(dev):
    t = sw.Tensor([2, 3], dev)
    t.CopyFloatDataFromHostPtr(np.arange(6, dtype=np.float32))
    np.testing.assert_array_equal(N(t), np.arange(6).reshape(2, 3))
    t.CopyDataFromHostPtr(np.array([7, 8], np.float32), 2, 3)
    assert N(t).reshape(-1).tolist() == [0, 1, 2, 7, 8, 5]
    np.testing.assert_array_equal(t.GetFloatValue(6), N(t).reshape(-1))
    assert t.GetIntValue(3).tolist() == [0, 1, 2]


def test_graph_replay_runs_on_the_test_device(dev):
    x = on(dev, _rand(4, 4))
    w = on(dev, _rand(4, 4, seed=20))
    sw.GraphBegin()
    try:
        y = sw.Tanh(sw.Mult(x, w))
    finally:
        graph = sw.GraphEnd()
    first = N(y)
    x.CopyData(on(cpu, np.ones((4, 4), np.float32)))
    dev.reset_kernel_calls()
    graph.Run()
    calls = dev.kernel_calls()
    assert calls["blas"] == 1 and calls["elementwise"] == 1
    np.testing.assert_allclose(N(y), np.tanh(np.ones((4, 4)) @ N(w)), rtol=1e-5)
    assert not np.allclose(N(y), first)
