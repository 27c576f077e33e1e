"""Activations that stay in oneDNN's channel-blocked layout (nChw8c / nChw16c) between
oneDNN kernels: results equal the reference kernels', every host view sees plain NCHW,
and a conv -> pool network reorders less.

The float32 oneDNN path (the 'auto' backend) is compared with the reference kernels
('reference' backend: im2col + GEMM and plain loops) on the same inputs and parameters.
"""
import json
import subprocess
import sys
import threading

import numpy as np
import pytest

from singa import autograd, device, layer, model, opt, singa_wrap as sw, tensor, testing

from _launcher import env_with_this_singa

pytestmark = pytest.mark.skipif(not getattr(sw, "USE_DNNL", False),
                                reason="singa built without oneDNN")

BLOCKED = ("nChw8c", "nChw16c")


@pytest.fixture
def backend():
    """Sets the nn backend for a test and restores 'auto' after it."""
    yield sw.set_conv_backend
    sw.set_conv_backend("auto")


def _t(a, requires_grad=True, stores_grad=False):
    return testing.tensor_from(np.ascontiguousarray(a, np.float32), requires_grad, stores_grad)


def _np(t):
    return tensor.to_numpy(t).copy()


class _Params:
    """Parameters of a small net drawn once, so both backends run the same numbers."""

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)
        self.arrays = {}

    def get(self, name, shape, scale=0.3, shift=0.0):
        if name not in self.arrays:
            self.arrays[name] = (self.rng.standard_normal(shape) * scale + shift).astype(
                np.float32)
        return _t(self.arrays[name], stores_grad=True)


def _conv(x, W, b, stride=1, pad=1):
    n, c, h, w = x.shape
    handle = sw.ConvHandle([n, c, h, w], list(W.shape[2:]), [stride, stride], [pad, pad], c,
                           W.shape[0], b is not None)
    return autograd.conv2d(handle, x, W, b)


def _pool(x, k=3, s=2, pad=1, is_max=True):
    handle = sw.PoolingHandle(list(x.shape), [k, k], [s, s], [pad, pad], is_max)
    return autograd.pooling_2d(handle, x)


def _bn(x, p, name):
    c = x.shape[1]
    handle = sw.BatchNormHandle(0.9, x.data)
    scale, bias = p.get(name + ".s", (c,), shift=1.0), p.get(name + ".b", (c,))
    rm = tensor.from_numpy(np.zeros(c, np.float32))
    rv = tensor.from_numpy(np.ones(c, np.float32))
    return autograd.batchnorm_2d(handle, x, scale, bias, rm, rv)


def _run(net, x_arr, seed=0):
    """(output, {name: gradient}) of sum(net(x) * r) for a fixed random r."""
    p = _Params(seed)
    autograd.training = True
    try:
        x = _t(x_arr)
        y = net(x, p)
        r = np.random.default_rng(seed + 1).standard_normal(y.shape).astype(np.float32)
        loss = autograd.reduce_sum(autograd.mul(y, _t(r, requires_grad=False)), None, 0)
        grads = {}
        for param, g in autograd.backward(loss):
            grads[id(param)] = _np(g)
        out = _np(y)
    finally:
        autograd.training = False
    return out, grads


def _compare(net, x_arr, backend, rtol=2e-4, atol=2e-4):
    backend("reference")
    ref_out, ref_grads = _run(net, x_arr)
    backend("auto")
    out, grads = _run(net, x_arr)
    np.testing.assert_allclose(out, ref_out, rtol=rtol, atol=atol)
    assert len(grads) == len(ref_grads)
    for a, b in zip(grads.values(), ref_grads.values()):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol * max(1.0, np.abs(b).max()))


def _x(n, c, h, w, seed=2):
    return np.random.default_rng(seed).standard_normal((n, c, h, w)).astype(np.float32)


@pytest.mark.parametrize("c,f", [(3, 5), (5, 13), (13, 24), (24, 16)])
def test_conv_relu_pool_forward_backward(backend, c, f):
    def net(x, p):
        y = _conv(x, p.get("W", (f, c, 3, 3)), p.get("b", (f,)))
        return _pool(autograd.relu(y))

    _compare(net, _x(2, c, 9, 9), backend)


@pytest.mark.parametrize("c", [5, 16])
def test_conv_bn_relu_conv(backend, c):
    layouts = []

    def net(x, p):
        z = _bn(_conv(x, p.get("W1", (c, 3, 3, 3)), None), p, "bn")
        y = autograd.relu(z)
        layouts.append((z.data.layout_name(), y.data.layout_name()))
        return _conv(y, p.get("W2", (13, c, 3, 3)), p.get("b2", (13,)))

    _compare(net, _x(3, 3, 8, 8), backend, rtol=1e-3, atol=1e-3)
    assert layouts[0] == ("plain", "plain")  # the reference kernels
    assert layouts[1][0] in BLOCKED and layouts[1][1] == layouts[1][0]


def test_residual_add(backend):
    def net(x, p):
        a = autograd.relu(_conv(x, p.get("W1", (24, 24, 3, 3)), None))
        b = _conv(a, p.get("W2", (24, 24, 3, 3)), None)
        return _pool(autograd.relu(autograd.add(a, b)), is_max=False)

    _compare(net, _x(2, 24, 7, 7), backend)


def test_conv_flatten_dense(backend):
    def net(x, p):
        y = _pool(autograd.relu(_conv(x, p.get("W", (13, 5, 3, 3)), p.get("b", (13,)))))
        flat = autograd.flatten(y)
        return autograd.matmul(flat, p.get("D", (flat.shape[1], 4)))

    _compare(net, _x(2, 5, 8, 8), backend)


def _blocked_conv_output(c=13, f=21):
    x = _t(_x(2, c, 6, 5), requires_grad=False)
    W = _t(np.random.default_rng(4).standard_normal((f, c, 3, 3)), requires_grad=False)
    y = _conv(x, W, None)
    x_np, W_np = _np(x), _np(W)
    # the reference: a direct NCHW convolution in NumPy (stride 1, padding 1)
    xp = np.pad(x_np, ((0, 0), (0, 0), (1, 1), (1, 1)))
    ref = np.zeros(y.shape, np.float64)
    for i in range(3):
        for j in range(3):
            ref += np.einsum("nchw,fc->nfhw", xp[:, :, i:i + 6, j:j + 5], W_np[:, :, i, j])
    return y, ref.astype(np.float32)


def test_layout_name_says_blocked_after_conv_and_plain_after_reading():
    y, ref = _blocked_conv_output()
    assert y.data.layout_name() in BLOCKED
    np.testing.assert_allclose(_np(y), ref, rtol=1e-4, atol=1e-4)
    assert y.data.layout_name() == "plain"


# DLPack exports the memory itself: __dlpack__ converts it to plain first (Tensor::raw())
@pytest.mark.parametrize("view", ["to_numpy", "buffer", "print", "dlpack"])
def test_host_views_see_plain_nchw(view):
    y, ref = _blocked_conv_output()
    assert y.data.layout_name() in BLOCKED
    if view == "to_numpy":
        got = tensor.to_numpy(y)
    elif view == "buffer":
        got = np.asarray(memoryview(y.data))
    elif view == "dlpack":
        got = np.from_dlpack(y)
        assert y.data.layout_name() == "plain" and got.ctypes.data == y.data.data_ptr()
    else:
        text = str(y)
        assert "{:.4f}".format(float(ref[0, 0, 0, 0]))[:5] in text
        got = _np(y)
    np.testing.assert_allclose(np.asarray(got).reshape(ref.shape), ref, rtol=1e-4, atol=1e-4)


def test_view_of_blocked_tensor_reads_plain_order():
    y, ref = _blocked_conv_output()
    flat = sw.Reshape(y.data, [2, -1])
    np.testing.assert_allclose(np.array(sw.to_numpy(flat)), ref.reshape(2, -1), rtol=1e-4,
                               atol=1e-4)
    y2, ref2 = _blocked_conv_output()
    part = y2.data.Slice(1, 3, 9, 2)  # a strided view over the channels
    np.testing.assert_allclose(np.array(sw.to_numpy(part)), ref2[:, 3:9:2], rtol=1e-4,
                               atol=1e-4)


def test_blocked_tensor_read_from_another_thread():
    y, ref = _blocked_conv_output()
    assert y.data.layout_name() in BLOCKED
    results = []

    def read():
        results.append(tensor.to_numpy(y).copy())

    threads = [threading.Thread(target=read) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 3
    for r in results:
        np.testing.assert_allclose(r, ref, rtol=1e-4, atol=1e-4)


def test_elementwise_with_plain_operand_and_broadcast():
    y, ref = _blocked_conv_output()
    z, _ = _blocked_conv_output()
    bias = np.arange(21, dtype=np.float32).reshape(1, 21, 1, 1)
    out = sw.__add__(y.data, sw.from_numpy(bias))  # a broadcast: reads y as plain
    np.testing.assert_allclose(np.array(sw.to_numpy(out)), ref + bias, rtol=1e-4, atol=1e-4)
    r = sw.ReLU(z.data)  # stays blocked: relu maps the zero padding to zero
    assert r.layout_name() in BLOCKED
    np.testing.assert_allclose(np.array(sw.to_numpy(r)), np.maximum(ref, 0), rtol=1e-4,
                               atol=1e-4)


class _TinyCNN(model.Model):
    def __init__(self):
        super().__init__()
        self.conv1 = layer.Conv2d(13, 3, padding=1)
        self.bn = layer.BatchNorm2d()
        self.conv2 = layer.Conv2d(16, 3, padding=1)
        self.pool = layer.MaxPool2d(2, 2)
        self.fc = layer.Linear(3)
        self.loss = layer.SoftMaxCrossEntropy()

    def forward(self, x):
        y = autograd.relu(self.bn(self.conv1(x)))
        y = self.pool(autograd.relu(self.conv2(y)))
        return self.fc(autograd.flatten(y))

    def train_one_batch(self, x, y):
        out = self.forward(x)
        loss = self.loss(out, y)
        self.optimizer(loss)
        return out, loss


def _train(use_graph, steps=3):
    device.get_default_device().SetRandSeed(5)
    net = _TinyCNN()
    net.set_optimizer(opt.SGD(lr=0.05, momentum=0.9))
    net.compile([tensor.Tensor((4, 3, 8, 8), requires_grad=False)], is_train=True,
                use_graph=use_graph)
    rng = np.random.default_rng(6)
    for p in net.get_params().values():
        p.copy_from_numpy((rng.standard_normal(p.shape) * 0.2).astype(np.float32))
    net.train()
    losses = []
    for i in range(steps):
        x = rng.standard_normal((4, 3, 8, 8)).astype(np.float32)
        y = rng.integers(0, 3, 4).astype(np.int32)
        _, loss = net(tensor.from_numpy(x), tensor.from_numpy(y))
        losses.append(float(tensor.to_numpy(loss)[0]))
    return losses, {k: _np(v) for k, v in net.get_states().items()}


def test_graph_mode_training_equals_eager():
    eager_losses, eager_states = _train(False)
    graph_losses, graph_states = _train(True)
    assert graph_losses == eager_losses
    for k in eager_states:
        np.testing.assert_array_equal(graph_states[k], eager_states[k], err_msg=k)


_COUNT_CHILD = r"""
import sys
import numpy as np
from singa import autograd, singa_wrap as sw, tensor
sw.set_num_threads(1)
rng = np.random.default_rng(0)
from singa.testing import tensor_from
T = lambda a, g=True: tensor_from(a.astype(np.float32), g, g)
x = T(rng.standard_normal((8, 3, 16, 16)), False)
Ws = [T(rng.standard_normal(s) * 0.1) for s in [(32, 3, 5, 5), (32, 32, 5, 5), (64, 32, 5, 5)]]
def step():
    autograd.training = True
    y = x
    for i, W in enumerate(Ws):
        n, c, h, w = y.shape
        y = autograd.conv2d(sw.ConvHandle([n, c, h, w], [5, 5], [1, 1], [2, 2], c, W.shape[0],
                                          False), y, W, None)
        y = autograd.relu(y)
        y = autograd.pooling_2d(sw.PoolingHandle(list(y.shape), [3, 3], [2, 2], [1, 1],
                                                 i == 0), y)
    loss = autograd.reduce_sum(autograd.flatten(y), None, 0)
    list(autograd.backward(loss))
step()
sys.stdout.flush()
print("@@MARK@@", flush=True)
step()
sys.stdout.flush()
print("@@END@@", flush=True)
"""


def _reorders(extra_env):
    env = env_with_this_singa()
    env.update(ONEDNN_VERBOSE="1", OMP_NUM_THREADS="1", **extra_env)
    out = subprocess.run([sys.executable, "-c", _COUNT_CHILD], env=env, capture_output=True,
                         text=True, timeout=120, check=True).stdout
    window = out.split("@@MARK@@", 1)[1].split("@@END@@", 1)[0]
    execs = [line for line in window.splitlines()
             if line.startswith("onednn_verbose") and ",exec," in line]
    assert any(",convolution," in line for line in execs)
    return sum(",reorder," in line for line in execs)


@pytest.mark.parametrize("isa", ["native", "AVX2"])
def test_cifar_like_step_reorders_less(isa):
    base = {} if isa == "native" else {"ONEDNN_MAX_CPU_ISA": "AVX2"}
    kept = _reorders(base)
    reordered = _reorders(dict(base, SINGA_DNNL_LAYOUT="reorder"))
    # conv -> relu -> pool x3 and back: around each of the middle layers the plain path
    # reorders the activation out and in again, forward and backward
    assert kept + 8 <= reordered, json.dumps(dict(kept=kept, reordered=reordered))


def test_fused_conv_relu_and_bn_relu_keep_the_blocked_layout_and_match_unfused():
    # The fused layers (Conv2d / BatchNorm2d with activation='RELU') run oneDNN's post-op
    # and fuse_norm_relu on the same blocked layout as the unfused kernels, so a chain of
    # them makes no reorder to NCHW; their results and gradients equal the unfused chain's.
    rng = np.random.default_rng(3)
    x_np = rng.standard_normal((2, 13, 9, 9)).astype(np.float32)
    autograd.training = True
    results = []
    for fused in (True, False):
        act = "RELU" if fused else "NOTSET"
        dev = device.get_default_device()
        dev.SetRandSeed(0)
        conv = layer.Conv2d(24, 3, padding=1, activation=act)
        bn = layer.BatchNorm2d(24, activation=act)
        conv2 = layer.Conv2d(8, 3, padding=1)
        x = _t(x_np)
        y = conv(x) if fused else autograd.relu(conv(x))
        z = bn(y) if fused else autograd.relu(bn(y))
        layouts = (y.data.layout_name(), z.data.layout_name())
        w = conv2(z)
        loss = autograd.reduce_mean(autograd.mul(w, w))
        grads = [_np(g) for _, g in autograd.backward(loss)]  # in backward's order
        results.append((layouts, _np(w), grads))
    (fused_layouts, w_fused, g_fused), (_, w_plain, g_plain) = results
    assert all(name in BLOCKED for name in fused_layouts), fused_layouts
    np.testing.assert_allclose(w_fused, w_plain, rtol=1e-5, atol=1e-5)
    assert len(g_fused) == len(g_plain) == 6  # W, b of two convs; scale, bias
    for i, (a, b) in enumerate(zip(g_fused, g_plain)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5, err_msg="gradient {}".format(i))
