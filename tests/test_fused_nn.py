"""Fused conv + bias + ReLU and batch norm + ReLU (autograd.conv2d_relu,
autograd.batchnorm_2d_relu, Conv2d/BatchNorm2d with activation='RELU'): NumPy forward and
float64 gradient checks, equality with the unfused pairs on both conv backends, graph
mode, the layer arguments, and the fused oneDNN primitive in ONEDNN_VERBOSE. The ONNX
export is in test_fused_nn_onnx.py: a file that loads onnxruntime is left out of the
sanitized stage, and these kernels must run there."""

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

from singa import autograd, device, layer, model, opt, singa_wrap, tensor, testing
from singa.testing import tensor_from as _t

from _launcher import env_with_this_singa

EPS = 1e-5


def _randn(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape)


def _conv_ref(x, W, b, stride, pad, group):
    """Direct grouped cross-correlation in NumPy; pad = (ph, pw)."""
    n, c, h, w = x.shape
    f, cg, kh, kw = W.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    oh, ow = (h + 2 * pad[0] - kh) // stride[0] + 1, (w + 2 * pad[1] - kw) // stride[1] + 1
    y = np.zeros((n, f, oh, ow))
    fg = f // group
    for o in range(f):
        g = o // fg
        xs = xp[:, g * cg:(g + 1) * cg]
        for i in range(oh):
            for j in range(ow):
                patch = xs[:, :, i * stride[0]:i * stride[0] + kh, j * stride[1]:j * stride[1] + kw]
                y[:, o, i, j] = (patch * W[o]).sum(axis=(1, 2, 3))
    return y if b is None else y + b.reshape(1, f, 1, 1)


@pytest.fixture
def backend(request):
    """Runs the test with the conv backend request.param, then restores it."""
    old = singa_wrap.get_conv_backend()
    singa_wrap.set_conv_backend(request.param)
    yield request.param
    singa_wrap.set_conv_backend(old)


BACKENDS = ["reference"] + (["dnnl"] if singa_wrap.USE_DNNL else [])

# (x shape, out channels, kernel, stride, padding, group, bias)
CONV_CASES = [
    ((2, 3, 6, 5), 5, (3, 3), (1, 1), (1, 1), 1, True),     # odd channel counts
    ((1, 3, 7, 7), 7, (3, 2), (2, 1), (1, 0), 1, False),    # stride, padding, no bias
    ((2, 4, 5, 6), 6, (3, 3), (1, 2), (1, 1), 2, True),     # groups
    ((1, 5, 5, 5), 5, (3, 3), (2, 2), (1, 1), 5, True),     # depthwise, stride
    ((2, 17, 4, 4), 3, (1, 1), (1, 1), (0, 0), 1, True),    # 1x1 (plain-layout rule)
]


def _conv_handle(x, f, k, s, p, group, bias):
    return singa_wrap.ConvHandle(_t(x.astype(np.float32)).data, list(k), list(s), list(p),
                                 x.shape[1], f, bias, group)


@pytest.mark.parametrize("xshape,f,k,s,p,group,bias", CONV_CASES, ids=str)
def test_conv2d_relu_forward_and_gradient(xshape, f, k, s, p, group, bias):
    x = _randn(xshape, 1)
    W = _randn((f, xshape[1] // group) + k, 2) * 0.5
    arrays = [x, W] + ([_randn((f,), 3)] if bias else [])
    handle = _conv_handle(x, f, k, s, p, group, bias)

    def fn(a, w, b=None):
        return autograd.conv2d_relu(handle, a, w, b)

    def ref(a, w, b=None):
        return np.maximum(_conv_ref(a, w, b, s, p, group), 0)
    # float32 (the fused oneDNN primitive where built) against NumPy
    got = fn(*[_t(a.astype(np.float32)) for a in arrays])
    np.testing.assert_allclose(tensor.to_numpy(got), ref(*arrays), rtol=1e-4, atol=1e-4)
    testing.check_forward(fn, ref, arrays)
    assert testing.gradcheck(fn, arrays)


def _grads(fn, arrays, seed=5):
    """fn's output and the gradients of sum(fn * dy) w.r.t. every array, float32."""
    ts = [_t(a.astype(np.float32), stores_grad=True) for a in arrays]
    with autograd.set_grad_enabled(True), autograd.train(True):
        y = fn(*ts)
        dy = np.random.default_rng(seed).uniform(-1, 1, y.shape).astype(np.float32)
        g = autograd.gradients(y, tensor.from_numpy(dy))
    return [tensor.to_numpy(y)] + [tensor.to_numpy(g[id(t)]) for t in ts]


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
@pytest.mark.parametrize("xshape,f,k,s,p,group,bias", CONV_CASES, ids=str)
def test_conv2d_relu_equals_the_unfused_pair(backend, xshape, f, k, s, p, group, bias):
    x = _randn(xshape, 4)
    W = _randn((f, xshape[1] // group) + k, 5) * 0.5
    arrays = [x, W] + ([_randn((f,), 6)] if bias else [])
    handle = _conv_handle(x, f, k, s, p, group, bias)
    fused = _grads(lambda *a: autograd.conv2d_relu(handle, *a), arrays)
    pair = _grads(lambda *a: autograd.relu(autograd.conv2d(handle, *a)), arrays)
    for got, want in zip(fused, pair):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_conv2d_relu_odd_padding_and_bad_weight():
    x = _randn((1, 3, 4, 5), 7)
    W = _randn((2, 3, 3, 3), 8)
    handle = singa_wrap.ConvHandle(_t(np.zeros((1, 3, 5, 6), np.float32)).data, [3, 3], [1, 1],
                                   [0, 0], 3, 2, False)
    y = autograd.conv2d_relu(handle, _t(x), _t(W), None, (0, 1, 0, 1))
    want = np.maximum(_conv_ref(np.pad(x, ((0, 0), (0, 0), (0, 1), (0, 1))), W, None, (1, 1),
                                (0, 0), 1), 0)
    np.testing.assert_allclose(tensor.to_numpy(y), want, atol=1e-10)
    with pytest.raises(ValueError, match=r"CpuConvReLUForward.*W must have shape"):
        autograd.conv2d_relu(handle, _t(np.zeros((1, 3, 5, 6), np.float32)),
                             _t(np.zeros((2, 3, 2, 2), np.float32)))


# ---------------------------------------------------------------- batch norm + ReLU


def _bn_ref(x, scale, bias, mean, var):
    shp = (1, -1) + (1,) * (x.ndim - 2)
    return np.maximum((x - mean.reshape(shp)) / np.sqrt(var.reshape(shp) + EPS)
                      * scale.reshape(shp) + bias.reshape(shp), 0)


BN_SHAPES = [(4, 3, 2, 3), (3, 5, 3, 1), (6, 7), (2, 1, 4, 4)]


@pytest.mark.parametrize("xshape", BN_SHAPES, ids=str)
def test_batchnorm_2d_relu_training(xshape):
    c = xshape[1]
    rng = np.random.default_rng(9)
    x = rng.normal(size=xshape) * 2 + 0.5
    scale, bias = rng.uniform(0.5, 1.5, c), rng.normal(size=c)
    rm0, rv0 = rng.normal(size=c), rng.uniform(0.5, 2, c)
    handle = singa_wrap.BatchNormHandle(0.9, list(xshape))
    axes = (0,) + tuple(range(2, len(xshape)))
    mean, var = x.mean(axis=axes), x.var(axis=axes)
    m = x.size // c
    for dt in (np.float32, np.float64):
        rm, rv = _t(rm0.astype(dt)), _t(rv0.astype(dt))
        with autograd.train(True):
            y = autograd.batchnorm_2d_relu(handle, _t(x.astype(dt)), _t(scale.astype(dt)),
                                           _t(bias.astype(dt)), rm, rv)
        tol = 1e-4 if dt == np.float32 else 1e-10
        np.testing.assert_allclose(tensor.to_numpy(y), _bn_ref(x, scale, bias, mean, var),
                                   rtol=tol, atol=tol)
        np.testing.assert_allclose(tensor.to_numpy(rm), 0.9 * rm0 + 0.1 * mean, rtol=tol,
                                   atol=tol)
        np.testing.assert_allclose(tensor.to_numpy(rv), 0.9 * rv0 + 0.1 * var * m / (m - 1),
                                   rtol=tol, atol=tol)
    rm64, rv64 = _t(rm0), _t(rv0)
    fn = lambda a, s, b: autograd.batchnorm_2d_relu(handle, a, s, b, rm64, rv64)  # noqa: E731
    assert testing.gradcheck(fn, [x, scale, bias], atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("xshape", [(3, 5, 2, 2), (4, 3)], ids=str)
def test_batchnorm_2d_relu_inference_forward_and_gradient(xshape):
    c = xshape[1]
    rng = np.random.default_rng(10)
    x = rng.normal(size=xshape)
    scale, bias = rng.uniform(0.5, 1.5, c), rng.normal(size=c) * 0.3
    rm0, rv0 = rng.normal(size=c) * 0.2, rng.uniform(0.5, 2, c)
    handle = singa_wrap.BatchNormHandle(0.9, list(xshape))
    rm, rv = _t(rm0), _t(rv0)
    fn = lambda a, s, b: autograd.batchnorm_2d_relu(handle, a, s, b, rm, rv)  # noqa: E731
    with autograd.train(False):
        for dt in (np.float32, np.float64):
            y = autograd.batchnorm_2d_relu(handle, _t(x.astype(dt)), _t(scale.astype(dt)),
                                           _t(bias.astype(dt)), _t(rm0.astype(dt)),
                                           _t(rv0.astype(dt)))
            np.testing.assert_allclose(tensor.to_numpy(y), _bn_ref(x, scale, bias, rm0, rv0),
                                       rtol=1e-4, atol=1e-5)
        assert testing.gradcheck(fn, [x, scale, bias], atol=1e-5, rtol=1e-4)
    # the running statistics stay as they were outside training
    np.testing.assert_array_equal(tensor.to_numpy(rm), rm0)


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
@pytest.mark.parametrize("xshape", BN_SHAPES, ids=str)
def test_batchnorm_2d_relu_equals_the_unfused_pair(backend, xshape):
    c = xshape[1]
    rng = np.random.default_rng(11)
    arrays = [rng.normal(size=xshape) + 0.3, rng.uniform(0.5, 1.5, c), rng.normal(size=c)]

    def run(fused):
        handle = singa_wrap.BatchNormHandle(0.8, list(xshape))
        rm, rv = _t(np.zeros(c, np.float32)), _t(np.ones(c, np.float32))
        if fused:
            fn = lambda *a: autograd.batchnorm_2d_relu(handle, *a, rm, rv)  # noqa: E731
        else:
            fn = lambda *a: autograd.relu(autograd.batchnorm_2d(handle, *a, rm, rv))  # noqa: E731
        return _grads(fn, arrays) + [tensor.to_numpy(rm), tensor.to_numpy(rv)]
    for got, want in zip(run(True), run(False)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_batchnorm_2d_relu_bad_input_names_the_op():
    handle = singa_wrap.BatchNormHandle(0.9, [2, 3, 2, 2])
    x = _t(np.zeros((2, 4, 2, 2), np.float32))
    with pytest.raises(ValueError, match="BatchNorm"):
        autograd.batchnorm_2d_relu(handle, x, _t(np.ones(3, np.float32)),
                                   _t(np.zeros(3, np.float32)), _t(np.zeros(3, np.float32)),
                                   _t(np.ones(3, np.float32)))


# ---------------------------------------------------------------- layers


def test_layer_activation_arguments():
    x = tensor.from_numpy(_randn((2, 3, 5, 5), 12).astype(np.float32))
    conv = layer.Conv2d(4, 3, padding=1, activation="relu")
    y = conv(x)
    assert isinstance(y.creator, autograd._Conv2dReLU)
    assert tensor.to_numpy(y).min() >= 0
    plain = layer.Conv2d(4, 3, padding=1)
    assert isinstance(plain(x).creator, autograd._Conv2d)
    bn = layer.BatchNorm2d(activation="RELU")
    z = bn(x)
    assert isinstance(z.creator, autograd._BatchNorm2dReLU)
    assert isinstance(layer.BatchNorm2d(3)(x).creator, autograd._BatchNorm2d)
    for bad in ("tanh", None, 1):
        with pytest.raises(ValueError, match="Conv2d: activation"):
            layer.Conv2d(4, 3, activation=bad)
        with pytest.raises(ValueError, match="BatchNorm2d: activation"):
            layer.BatchNorm2d(activation=bad)


class _FusedNet(model.Model):
    """conv+ReLU, conv, BN+ReLU, linear: the fused layers (or, fused=False, the pairs)."""

    def __init__(self, fused):
        super().__init__()
        act = "RELU" if fused else "NOTSET"
        self.fused = fused
        self.c1 = layer.Conv2d(5, 3, padding=1, activation=act)
        self.c2 = layer.Conv2d(3, 3, stride=2, padding=1, bias=False)
        self.bn = layer.BatchNorm2d(activation=act)
        self.flat = layer.Flatten()
        self.fc = layer.Linear(2)
        self.loss = layer.SoftMaxCrossEntropy()

    def forward(self, x):
        relu = (lambda t: t) if self.fused else autograd.relu
        return self.fc(self.flat(relu(self.bn(self.c2(relu(self.c1(x)))))))

    def train_one_batch(self, x, y):
        out = self.forward(x)
        loss = self.loss(out, y)
        self.optimizer(loss)
        return out, loss


def _train(fused, use_graph, steps=3):
    device.get_default_device().SetRandSeed(3)
    net = _FusedNet(fused)
    net.set_optimizer(opt.SGD(lr=0.1, momentum=0.9))
    net.compile([tensor.Tensor((4, 3, 6, 6), requires_grad=False)], is_train=True,
                use_graph=use_graph)
    rng = np.random.RandomState(1)
    for k, p in sorted(net.get_params().items()):
        p.copy_from_numpy(rng.uniform(-0.4, 0.4, p.shape).astype(np.float32))
    rng = np.random.RandomState(2)
    losses = []
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # every graph step must replay
        for _ in range(steps):
            x = rng.randn(4, 3, 6, 6).astype(np.float32)
            y = rng.randint(0, 2, 4).astype(np.int32)
            _, loss = net(tensor.from_numpy(x), tensor.from_numpy(y))
            losses.append(float(tensor.to_numpy(loss)[0]))
    return losses, {k: tensor.to_numpy(v).copy() for k, v in net.get_states().items()}


def test_graph_mode_replays_the_fused_ops_as_eager_runs_them():
    eager_losses, eager_states = _train(True, False)
    graph_losses, graph_states = _train(True, True)
    assert graph_losses == eager_losses
    assert eager_states.keys() == graph_states.keys()
    for k in eager_states:
        np.testing.assert_array_equal(graph_states[k], eager_states[k], err_msg=k)
    # and the fused model trains as the unfused one does: same parameters, same numbers
    pair_losses, pair_states = _train(False, False)
    assert pair_states.keys() == eager_states.keys()
    np.testing.assert_allclose(eager_losses, pair_losses, rtol=1e-5)
    for k in eager_states:
        np.testing.assert_allclose(eager_states[k], pair_states[k], rtol=1e-4, atol=1e-5,
                                   err_msg=k)


# ---------------------------------------------------------------- the oneDNN primitive

_VERBOSE_SCRIPT = """
import numpy as np
from singa import autograd, singa_wrap, tensor
x = tensor.from_numpy(np.random.rand(2, 16, 8, 8).astype(np.float32) - 0.5)
h = singa_wrap.ConvHandle(x.data, [3, 3], [1, 1], [1, 1], 16, 16, True)
W = tensor.from_numpy(np.random.rand(16, 16, 3, 3).astype(np.float32))
b = tensor.from_numpy(np.zeros(16, np.float32))
autograd.conv2d_relu(h, x, W, b)
z = tensor.from_numpy(np.random.rand(8, 6).astype(np.float32))
bh = singa_wrap.BatchNormHandle(0.9, z.data)
one, zero = tensor.from_numpy(np.ones(6, np.float32)), tensor.from_numpy(np.zeros(6, np.float32))
with autograd.train(True):
    autograd.batchnorm_2d_relu(bh, z, one, zero, zero.clone(), one.clone())
"""


@pytest.mark.skipif(not singa_wrap.USE_DNNL, reason="built without oneDNN")
@pytest.mark.parametrize("isa", [None, "AVX2"])
def test_the_fused_onednn_primitives_run(isa):
    extra = {"ONEDNN_VERBOSE": "1", "OMP_NUM_THREADS": "1"}
    if isa:
        extra["ONEDNN_MAX_CPU_ISA"] = isa
    env = env_with_this_singa(**extra)
    env.pop("SINGA_CONV_BACKEND", None)
    out = subprocess.run([sys.executable, "-c", _VERBOSE_SCRIPT], env=env, capture_output=True,
                         text=True, timeout=120, cwd=os.path.dirname(__file__))
    assert out.returncode == 0, out.stderr
    execs = [line for line in out.stdout.splitlines() if ",exec," in line]
    conv = [line for line in execs if "convolution" in line]
    assert conv and all("eltwise_relu" in line for line in conv), conv
    if isa:
        assert not any("avx512" in line for line in conv), conv
    bnorm = [line for line in execs if "batch_normalization" in line]
    assert bnorm and all("flags:" in line and "R" in line.split("flags:")[1].split(",")[0]
                         for line in bnorm), bnorm


def test_conv2d_relu_under_bfloat16_autocast_equals_the_pair():
    # native bf16 primitives where the CPU has them, float32 copies (emulate) elsewhere
    x = _randn((2, 16, 6, 6), 14)
    W = _randn((8, 16, 3, 3), 15) * 0.2
    b = _randn((8,), 16)
    handle = _conv_handle(x, 8, (3, 3), (1, 1), (1, 1), 1, True)
    results = []
    for fn in (lambda *a: autograd.conv2d_relu(handle, *a),
               lambda *a: autograd.relu(autograd.conv2d(handle, *a))):
        with autograd.autocast("bfloat16", emulate=True):
            results.append(_grads(fn, [x, W, b]))
    for got, want in zip(*results):
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=1e-2, atol=1e-2)
