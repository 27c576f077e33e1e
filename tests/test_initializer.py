"""Weight initialisers: in-place fills with the documented scale; the layers' initial
values come from them, unchanged bit for bit."""
import hashlib
import math

import numpy as np
import pytest

from singa import device, initializer, layer, tensor

# (in, out) dense weight and (out, in, kh, kw) conv weight
DENSE = (200, 300)
CONV = (64, 32, 3, 3)


def _fans(shape):
    if len(shape) == 2:
        return shape[0], shape[1]
    rf = shape[2] * shape[3]
    return shape[1] * rf, shape[0] * rf


# name -> (kind, variance from (fan_in, fan_out))
RULES = {
    "lecun_uniform": ("uniform", lambda i, o: 1.0 / i),
    "lecun_normal": ("normal", lambda i, o: 1.0 / i),
    "glorot_uniform": ("uniform", lambda i, o: 2.0 / (i + o)),
    "glorot_normal": ("normal", lambda i, o: 2.0 / (i + o)),
    "he_uniform": ("uniform", lambda i, o: 2.0 / i),
    "he_normal": ("normal", lambda i, o: 2.0 / i),
    "xavier": ("uniform", lambda i, o: 2.0 / (i + o)),
    "glorot": ("normal", lambda i, o: 2.0 / (i + o)),
    "msra": ("normal", lambda i, o: 2.0 / i),
    "gaussian": ("normal", lambda i, o: 4.0 / (i + o)),   # SINGA: std = sqrt(2 * 2 / (i + o))
}


@pytest.mark.parametrize("shape", [DENSE, CONV], ids=["dense", "conv"])
@pytest.mark.parametrize("name", sorted(RULES))
def test_variance_and_support(name, shape):
    device.get_default_device().SetRandSeed(7)
    t = tensor.Tensor(shape)
    t.set_value(123.0)
    out = getattr(initializer, name)(t)
    assert out is t
    a = tensor.to_numpy(t)
    kind, var = RULES[name]
    v = var(*_fans(shape))
    assert not np.any(a == 123.0)
    assert abs(a.mean()) < 4 * math.sqrt(v / a.size) + 1e-6
    assert a.var() == pytest.approx(v, rel=0.05)
    if kind == "uniform":
        limit = math.sqrt(3 * v)
        assert a.max() <= limit + 1e-6 and a.min() >= -limit - 1e-6
        assert a.max() > 0.95 * limit


def test_gaussian_and_uniform_with_explicit_fans():
    t = tensor.Tensor((100, 100))
    initializer.gaussian(t, fan_in=50)         # one fan given: avg = 1, std = sqrt(2 / 50)
    assert tensor.to_numpy(t).std() == pytest.approx(math.sqrt(2.0 / 50), rel=0.05)
    initializer.uniform(t, fan_in=30, fan_out=70)
    assert np.abs(tensor.to_numpy(t)).max() <= math.sqrt(6.0 / 100) + 1e-6
    with pytest.raises(ValueError):
        initializer.gaussian(t, fan_in=-1)


@pytest.mark.parametrize("shape", [(4, 4), (3, 5), (5, 3)])
def test_eye(shape):
    t = tensor.Tensor(shape)
    initializer.eye(t)
    np.testing.assert_array_equal(tensor.to_numpy(t), np.eye(*shape))


@pytest.mark.parametrize("shape", [(6, 6), (8, 3), (3, 8)])
def test_orthogonal(shape):
    t = tensor.Tensor(shape)
    initializer.orthogonal(t, gain=2.0)
    q = tensor.to_numpy(t).astype(np.float64) / 2.0
    small = min(shape)
    gram = q.T @ q if shape[0] >= shape[1] else q @ q.T
    np.testing.assert_allclose(gram, np.eye(small), atol=1e-5)


@pytest.mark.parametrize("fn", [initializer.eye, initializer.orthogonal])
def test_eye_orthogonal_need_2d(fn):
    with pytest.raises(ValueError, match="2-D"):
        fn(tensor.Tensor((2, 2, 2)))


def test_seed_makes_fills_reproducible():
    dev = device.get_default_device()
    vals = []
    for _ in range(2):
        dev.SetRandSeed(42)
        t = tensor.Tensor((10, 10))
        initializer.orthogonal(t)
        initializer.he_uniform(tensor.Tensor((3, 3)))
        vals.append(tensor.to_numpy(t).copy())
    np.testing.assert_array_equal(vals[0], vals[1])


# ---- the layers draw their initial values through this module --------------------
#
# Each case: a layer factory, an input to initialize it with (None: the constructor
# creates the parameters), and the fills of the code before the layers used
# singa.initializer, as (name, shape, kind, arguments) in drawing order. The layer's
# values must equal those fills bit for bit, and the digests recorded from that
# code with SetRandSeed(0) (on the CPU device) pin the drawn numbers themselves.

X2 = np.ones((2, 5), np.float32)
X4 = np.ones((2, 4, 6, 6), np.float32)
K3 = 1.0 / math.sqrt(3)


def _glorot(n_in, n_out):
    return ("gaussian", (0.0, math.sqrt(2.0 / (n_in + n_out))))


def _zeros():
    return ("value", (0.0,))


def _ones():
    return ("value", (1.0,))


def _recurrent():
    return ("uniform", (-K3, K3))


def _lstm_fills():
    fills = [("Wx.%d" % i, (5, 3), _recurrent()) for i in range(4)]
    fills += [("Wh.%d" % i, (3, 3), _recurrent()) for i in range(4)]
    fills += [("Bx.%d" % i, (3,), _zeros()) for i in range(4)]
    return fills + [("Bh.%d" % i, (3,), _zeros()) for i in range(4)]


LAYER_INITS = [
    ("linear_eager", lambda: layer.Linear(5, 7), None,
     [("W", (5, 7), _glorot(5, 7)), ("b", (7,), _zeros())], "ee8f2c34790a3926"),
    ("linear_lazy", lambda: layer.Linear(7), X2,
     [("W", (5, 7), _glorot(5, 7)), ("b", (7,), _zeros())], "ee8f2c34790a3926"),
    ("linear_nobias", lambda: layer.Linear(5, 3, bias=False), None,
     [("W", (5, 3), _glorot(5, 3))], "e17b73e7f6f16064"),
    ("gemm", lambda: layer.Gemm(6), X2,
     [("W", (6, 5), _glorot(5, 6)), ("b", (1, 6), _zeros())], "18dcfe7effc8d91b"),
    ("gemm_nt", lambda: layer.Gemm(6, transB=False), X2,
     [("W", (5, 6), _glorot(5, 6)), ("b", (1, 6), _zeros())], "18dcfe7effc8d91b"),
    ("conv_eager", lambda: layer.Conv2d(4, 8, 3, 1, 1), None,
     [("W", (8, 4, 3, 3), _glorot(4 * 3 * 3, 8)), ("b", (8,), _zeros())], "ad9f5fdd8ceb74eb"),
    ("conv_lazy", lambda: layer.Conv2d(8, (3, 2), group=2), X4,   # fans count all 4 inputs
     [("W", (8, 2, 3, 2), _glorot(4 * 3 * 2, 8)), ("b", (8,), _zeros())], "814d7e2577d3f02d"),
    ("sepconv", lambda: layer.SeparableConv2d(6, 3, padding=1), X4,
     [("depthwise_conv.W", (4, 1, 3, 3), _glorot(4 * 3 * 3, 4)),
      ("point_conv.W", (6, 4, 1, 1), _glorot(4, 6))], "763b86cfa392558a"),
    ("sepconv_eager", lambda: layer.SeparableConv2d(4, 6, 3, 1, 1, True), None,
     [("depthwise_conv.W", (4, 1, 3, 3), _glorot(4 * 3 * 3, 4)),
      ("depthwise_conv.b", (4,), _zeros()),
      ("point_conv.W", (6, 4, 1, 1), _glorot(4, 6)), ("point_conv.b", (6,), _zeros())],
     "dff74d005e2ada16"),
    ("rnn", lambda: layer.RNN(5, 3), None,
     [("Wx", (5, 3), _recurrent()), ("Wh", (3, 3), _recurrent()), ("b", (3,), _zeros())],
     "2d7a92b417cb2384"),
    ("lstm", lambda: layer.LSTM(5, 3), None, _lstm_fills(), "0c5a66f65a0c08a9"),
    ("embedding", lambda: layer.Embedding(10, 4), None,
     [("W", (10, 4), ("gaussian", (0.0, 1.0)))], "f958df69153b1999"),
    ("embedding_uniform", lambda: layer.Embedding(10, 4, initializer="uniform"), None,
     [("W", (10, 4), ("uniform", (-1.0, 1.0)))], "1d0301578e3ae11c"),
    ("batchnorm", lambda: layer.BatchNorm2d(), X4,
     [("scale", (4,), _ones()), ("bias", (4,), _zeros()), ("running_mean", (4,), _zeros()),
      ("running_var", (4,), _ones())], "e641cd20bbfe8ca7"),
    ("batchnorm_eager", lambda: layer.BatchNorm2d(3), None,
     [("scale", (3,), _ones()), ("bias", (3,), _zeros()), ("running_mean", (3,), _zeros()),
      ("running_var", (3,), _ones())], "753ad209f60f16b8"),
]


def _layer_values(make, x):
    inp = None if x is None else tensor.from_numpy(x)
    device.get_default_device().SetRandSeed(0)
    lay = make()
    if inp is not None:
        lay.initialize(inp)
    return {k: tensor.to_numpy(v).copy() for k, v in lay.get_states().items()}


def _old_fills(fills):
    device.get_default_device().SetRandSeed(0)
    out = {}
    for name, shape, (kind, args) in fills:
        t = tensor.Tensor(shape)
        if kind == "gaussian":
            t.gaussian(*args)
        elif kind == "uniform":
            t.uniform(*args)
        else:
            t.set_value(*args)
        out[name] = tensor.to_numpy(t).copy()
    return out


def _digest(values):
    h = hashlib.sha256()
    for k, a in values.items():
        h.update(k.encode())
        h.update(np.ascontiguousarray(a, np.float32).tobytes())
    return h.hexdigest()[:16]


@pytest.mark.parametrize("name,make,x,fills,digest", LAYER_INITS,
                         ids=[c[0] for c in LAYER_INITS])
def test_layer_initial_values_are_unchanged(name, make, x, fills, digest):
    got = _layer_values(make, x)
    want = _old_fills(fills)
    assert list(got) == list(want)
    for k in want:
        assert got[k].shape == want[k].shape, k
        np.testing.assert_array_equal(got[k], want[k], err_msg=k)
    assert _digest(got) == digest
