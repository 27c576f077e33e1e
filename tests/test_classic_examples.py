"""Each examples/classic script, run through its main(argv) in a short configuration,
must learn (loss or error falls, accuracy above chance)."""

import os

import numpy as np
import pytest

from singa import device

from _examples import load_example



def _load(name):
    return load_example("classic", name)


@pytest.fixture(autouse=True)
def _workspace(tmp_path, monkeypatch):
    monkeypatch.setenv("SINGA_CLASSIC_WORKSPACE", str(tmp_path / "ws"))
    yield
    from singa import autograd
    autograd.training = False


def test_mnist_mlp_short(tmp_path):
    result, final = _load("mnist_mlp").main(
        ["--steps", "16", "--test-freq", "8", "--no-final-test", "--quiet",
         "--workspace", str(tmp_path / "mlp")])
    assert final is None and sorted(result) == [8, 16]
    assert result[16][0]["acc"] > 0.4 and result[16][0]["loss"] < 2.0  # chance: 0.1, 2.3
    assert os.path.isfile(str(tmp_path / "mlp" / "checkpoint" / "step16-worker0"))


def test_cifar10_cnn_short(tmp_path):
    # The CPU device's random stream starts where a fresh process's does (the parameters'
    # initial values), whatever tests ran before in this worker: 30 steps are few enough
    # that some starting points stay under the bounds below.
    device.get_default_device().SetRandSeed(0x5EED)
    result = _load("cifar10_cnn").main(
        ["--steps", "30", "--lr-scale", "10", "--test-freq", "15", "--test-steps", "3",
         "--quiet", "--workspace", str(tmp_path / "cnn")])
    assert sorted(result) == [15, 30]
    assert result[30][0]["loss"] < 2.29 and result[30][0]["acc"] > 0.15  # chance: 0.1


def test_mnist_rbm_short(tmp_path):
    ws = tmp_path / "rbm"
    result, test = _load("mnist_rbm").main(["--steps", "25", "--rbmid", "2", "--quiet",
                                             "--workspace", str(ws / "rbm2")])
    for level in (0, 1):
        se = [e["se"] for k in sorted(result) for e in result[k] if e["level"] == level]
        assert se[-1] < 0.8 * se[0]
    assert list(test.values())[0][0]["se"] > 0


def test_mnist_ae_short(tmp_path):
    result, test = _load("mnist_ae").main(["--steps", "30", "--quiet",
                                           "--workspace", str(tmp_path / "ae")])
    se = [result[k][0]["se"] for k in sorted(result)]
    assert se[-1] < 0.8 * se[0]
    assert list(test.values())[0][0]["se"] < se[0]


def test_train_mnist_interactive_short(tmp_path):
    ckpt = str(tmp_path / "mlp.bin")
    history, acc = _load("train_mnist").main(
        ["--steps", "16", "--lr", "0.02", "--momentum", "0.9", "--disp-freq", "8",
         "--test-size", "500", "--checkpoint", ckpt])
    losses = [h[0] for h in history]
    assert np.mean(losses[-4:]) < np.mean(losses[:4]) and acc > 0.3
    assert os.path.isfile(ckpt)


def test_train_cifar10_interactive_short(tmp_path):
    history = _load("train_cifar10").main(["--steps", "30", "--lr-scale", "10",
                                           "--disp-freq", "10"])
    losses = [h[0] for h in history]
    assert np.mean(losses[-5:]) < np.mean(losses[:5])
