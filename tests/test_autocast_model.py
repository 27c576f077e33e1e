"""Model.compile(precision=...): 'bfloat16' runs every call of the model under autocast
(training steps, graph-mode replays, evaluation), parameters and optimizer state stay
float32, and short training runs reach what float32 reaches."""

import warnings

import numpy as np
import pytest

from singa import autocast, autograd, device, opt, tensor

from _models import MLP, SmallCNN


@pytest.fixture(autouse=True)
def _emulation_where_needed(monkeypatch):
    # CI machines without bfloat16 instructions emulate it; where the CPU has them this
    # changes nothing (native kernels are used whenever they exist)
    monkeypatch.setenv("SINGA_BF16_EMULATE", "1")
    old = autograd.training
    yield
    autograd.training = old


def _task(n, features=12, classes=3, seed=0):
    """Labels given by the nearest of fixed random directions (the same for every seed):
    learnable, not trivial. ``seed`` draws the inputs."""
    dirs = np.random.default_rng(100).standard_normal((features, classes)).astype(np.float32)
    x = np.random.default_rng(seed).standard_normal((n, features)).astype(np.float32)
    return x, (x @ dirs).argmax(1).astype(np.int32)


def _mlp(precision, use_graph=False, features=12, batch=32, hidden=32):
    device.get_default_device().SetRandSeed(5)
    net = MLP(hidden=hidden)
    net.set_optimizer(opt.SGD(lr=0.1, momentum=0.9))
    net.compile([tensor.Tensor((batch, features), requires_grad=False)], is_train=True,
                use_graph=use_graph, precision=precision)
    rng = np.random.default_rng(1)
    for p in net.get_params().values():
        p.copy_from_numpy(rng.uniform(-0.3, 0.3, p.shape).astype(np.float32))
    return net


def _train(net, x, y, epochs, batch=32):
    losses = []
    for _ in range(epochs):
        for i in range(0, len(x), batch):
            _, loss = net(tensor.from_numpy(x[i:i + batch]), tensor.from_numpy(y[i:i + batch]))
            losses.append(float(tensor.to_numpy(loss)[0]))
    return losses


def _accuracy(net, x, y):
    net.eval()
    out = tensor.to_numpy(net(tensor.from_numpy(x)))
    net.train()
    return float((out.argmax(1) == y).mean())


def test_default_precision_is_float32():
    net = _mlp("float32")
    assert net.precision == "float32"
    assert MLP().precision == "float32"


@pytest.mark.parametrize("bad", ["float16", "bf16", "BFloat16", None, 6])
def test_unknown_precision_is_a_value_error_naming_the_allowed_ones(bad):
    with pytest.raises(ValueError, match=r"'float32', 'bfloat16'.*{}".format(
            repr(bad).replace("(", r"\("))):
        _mlp(bad)


def test_without_bf16_support_compile_raises_naming_the_cpu_flags(monkeypatch):
    monkeypatch.delenv("SINGA_BF16_EMULATE")
    monkeypatch.setattr(autocast, "native_bf16", lambda: False)
    monkeypatch.setattr(autocast, "_cpu_flags", lambda: {"avx2"})
    with pytest.raises(RuntimeError, match=r"Model.compile\(precision='bfloat16'\).*"
                                           r"avx512_bf16.*amx_bf16"):
        _mlp("bfloat16")


def test_bfloat16_model_computes_as_its_forward_under_autocast():
    x, y = _task(32)
    bf = _mlp("bfloat16")
    ref = _mlp("float32")
    bf.eval()
    ref.eval()
    got = tensor.to_numpy(bf(tensor.from_numpy(x)))
    with autograd.autocast("bfloat16"):
        want = tensor.to_numpy(ref(tensor.from_numpy(x)))
    np.testing.assert_array_equal(got, want)
    plain = tensor.to_numpy(ref(tensor.from_numpy(x)))
    assert not np.array_equal(got, plain)
    np.testing.assert_allclose(got, plain, rtol=3e-2, atol=3e-2)
    assert autocast.compute_dtype() is None


def test_training_keeps_parameters_gradients_and_optimizer_state_float32():
    x, y = _task(64)
    net = _mlp("bfloat16")
    _train(net, x, y, epochs=1)
    for name, p in net.get_params().items():
        assert p.dtype == tensor.float32, name
    states = [(k, s) for k, s in net.optimizer.get_states().items() if k.endswith("momentum")]
    assert states
    for name, s in states:
        assert s.dtype == np.float32, name
    xt = tensor.from_numpy(x[:32])
    with autograd.autocast("bfloat16"):
        autograd.training = True
        loss = net.loss(net.forward(xt), tensor.from_numpy(y[:32]))
        for p, g in autograd.backward(loss):
            assert g.dtype == tensor.float32 and p.dtype == tensor.float32


def test_short_mlp_training_converges_like_float32():
    x, y = _task(512)
    xt, yt = _task(256, seed=9)
    accs = {}
    for precision in ("float32", "bfloat16"):
        net = _mlp(precision)
        losses = _train(net, x, y, epochs=6)
        accs[precision] = _accuracy(net, xt, yt)
        assert np.mean(losses[-4:]) < 0.4 * np.mean(losses[:4]), losses
    assert accs["bfloat16"] > 0.85, accs
    assert abs(accs["bfloat16"] - accs["float32"]) < 0.05, accs


def test_short_cnn_training_with_batchnorm_converges():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((64, 1, 8, 8)).astype(np.float32)
    y = (x[:, 0, :4].sum((1, 2)) > x[:, 0, 4:].sum((1, 2))).astype(np.int32)
    device.get_default_device().SetRandSeed(2)
    net = SmallCNN()
    net.set_optimizer(opt.SGD(lr=0.05, momentum=0.9))
    net.compile([tensor.Tensor((16, 1, 8, 8), requires_grad=False)], precision="bfloat16")
    losses = _train(net, x, y, epochs=8, batch=16)
    assert np.mean(losses[-4:]) < 0.5 * np.mean(losses[:4]), losses
    for name, s in net.get_states().items():
        assert s.dtype == tensor.float32, name


def test_graph_mode_replays_the_bfloat16_step():
    x, y = _task(96)
    eager = _train(_mlp("bfloat16"), x, y, epochs=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # every step must replay
        replayed = _train(_mlp("bfloat16", use_graph=True), x, y, epochs=1)
    assert eager == replayed
    assert eager != _train(_mlp("float32"), x, y, epochs=1)


def test_evaluate_runs_in_bfloat16():
    x, y = _task(64)
    bf, ref = _mlp("bfloat16"), _mlp("float32")
    with autograd.autocast("bfloat16"):
        ref.eval()
        want = tensor.to_numpy(ref(tensor.from_numpy(x)))
    got = bf.evaluate((x, y), batch_size=64)
    assert got["accuracy"] == pytest.approx(float((want.argmax(1) == y).mean()))


def test_graph_recorded_under_autocast_is_not_replayed_outside_it():
    x, y = _task(64)

    def losses(net, precisions):
        out = []
        for i, pr in enumerate(precisions):
            # fresh tensors: a replay copies its inputs into the recorded step's tensors
            j = 32 * (i % 2)
            tx, ty = tensor.from_numpy(x[j:j + 32].copy()), tensor.from_numpy(y[j:j + 32].copy())
            with autograd.autocast("bfloat16", enabled=pr == "bfloat16"):
                out.append(float(tensor.to_numpy(net(tx, ty)[1])[0]))
        return out
    mixed = ["bfloat16", "float32", "float32", "bfloat16"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        graphed = losses(_mlp("float32", use_graph=True), mixed)
    eager = losses(_mlp("float32"), mixed)
    assert graphed == eager
