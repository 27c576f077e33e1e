"""Tests of singa.classic: parameters, layers, updaters, topology/data, models and the
interactive API (the examples run in tests/test_classic_examples.py)."""

import math
import os

import numpy as np
import pytest

from singa import autograd, singa_wrap, tensor
from singa.classic import *  # noqa: F401,F403
from singa.classic import (Activation, AdaGrad, Autoencoder, AvgPooling2D, Cluster, Convolution,
                           Convolution2D, Data, Dense, Dropout, Dummy, Energy, ImageInput,
                           LabelInput, LearningRate, Loss, LRN2D, MaxPooling2D, Parameter, RBM,
                           SGD, Sequential, Store, latest_checkpoint, load_model_parameter,
                           pool_size, save_model_parameter)
from singa.classic.datasets import cifar10, mnist


@pytest.fixture(autouse=True)
def _workspace(tmp_path, monkeypatch):
    monkeypatch.setenv("SINGA_CLASSIC_WORKSPACE", str(tmp_path / "ws"))
    yield
    autograd.training = False


def _np(t):
    return tensor.to_numpy(t)


def _blobs(n=400, d=8, k=3, seed=0):
    """Linearly separable clusters: (x float32 (n, d), y int (n,))."""
    rng = np.random.RandomState(seed)
    centers = rng.randn(k, d) * 3
    y = rng.randint(0, k, n)
    x = centers[y] + rng.randn(n, d) * 0.5
    return x.astype(np.float32), y.astype(np.int32)


# ------------------------------------------------------------------ Parameter

def test_parameter_fields_and_init():
    t = Parameter(init="uniform", scale=0.05).create((200, 50))
    a = _np(t)
    assert a.min() >= -0.05 and a.max() <= 0.05 and a.std() > 0.02
    t = Parameter(init="uniform", low=1, high=2).create((100,))
    assert _np(t).min() >= 1 and _np(t).max() <= 2
    t = Parameter(init="const", value=0.5, lr=2, wd=0).create((3,))
    np.testing.assert_allclose(_np(t), 0.5)
    assert t.lr_mult == 2 and t.wd_mult == 0
    t = Parameter(init="gauss", mean=1.0, std=0.1).create((4000,))
    assert abs(_np(t).mean() - 1) < 0.02 and abs(_np(t).std() - 0.1) < 0.02
    t = Parameter(init="gaussian").create((4000,))  # default std 0.01
    assert abs(_np(t).std() - 0.01) < 0.002
    t = Parameter(init="constant", mean=0).create((2,))
    np.testing.assert_allclose(_np(t), 0)


def test_parameter_update_and_errors():
    p = Parameter(init="gauss", std=0.0001)
    assert p.update(std=0.01) is p and p.std == 0.01
    with pytest.raises(TypeError):
        Parameter(foo=1)
    with pytest.raises(ValueError):
        Parameter(init="magic")
    with pytest.raises(ValueError):
        Parameter(lr=-1)


def test_w_b_keywords_set_multipliers():
    d = Dense(4, w_mean=1, w_std=0.1, w_lr=2, w_wd=10, b_value=1, b_lr=3, b_wd=0)
    d.build((5,))
    W, b = d.params()
    assert (W.lr_mult, W.wd_mult, b.lr_mult, b.wd_mult) == (2, 10, 3, 0)
    assert abs(_np(W).mean() - 1) < 0.2
    np.testing.assert_allclose(_np(b), 1)
    with pytest.raises(TypeError):
        Dense(4, w_bogus=1)


def test_w_param_is_copied_at_construction():
    parw = Parameter(init="gauss", std=0.0001)
    parb = Parameter(init="const", value=0)
    c1 = Convolution(8, 3, 1, 1, w_param=parw, b_param=parb, b_lr=2)
    parw.update(std=0.1)
    c2 = Convolution(8, 3, 1, 1, w_param=parw, b_param=parb, b_lr=1)
    c1.build((3, 8, 8))
    c2.build((3, 8, 8))
    assert _np(c1.params()[0]).std() < 0.001 < _np(c2.params()[0]).std()
    assert c1.params()[1].lr_mult == 2 and c2.params()[1].lr_mult == 1
    assert parb.lr == 1  # the keyword did not change the shared spec


# ------------------------------------------------------------------ layers

def _run(layer, x):
    return _np(layer(tensor.from_numpy(x)))


def test_dense_and_activations():
    x = np.random.randn(4, 2, 3).astype(np.float32)
    d = Dense(5, init="uniform", activation="stanh")
    y = _run(d, x)
    W, b = d.GetParams()
    assert W.shape == (6, 5) and b.shape == (1, 5)
    np.testing.assert_allclose(y, 1.7159 * np.tanh(2.0 / 3 * (x.reshape(4, 6) @ W + b)),
                               rtol=1e-5, atol=1e-6)
    z = np.random.randn(3, 4).astype(np.float32)
    refs = {"tanh": np.tanh(z), "relu": np.maximum(z, 0), "sigmoid": 1 / (1 + np.exp(-z)),
            "softmax": np.exp(z) / np.exp(z).sum(1, keepdims=True),
            "stanh": 1.7159 * np.tanh(2 * z / 3), "linear": z}
    for k, ref in refs.items():
        np.testing.assert_allclose(_run(Activation(k), z), ref, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError):
        Activation("swish")


def test_stanh_gradient():
    from singa.classic.layers import STanh
    autograd.training = True
    xt = tensor.Tensor(data=np.random.randn(3, 4).astype(np.float32), stores_grad=True)
    y = autograd.reduce_sum(STanh()(xt)[0])
    (p, g), = list(autograd.backward(y))
    xv = _np(xt)
    np.testing.assert_allclose(_np(g), 1.7159 * 2 / 3 * (1 - np.tanh(2 * xv / 3) ** 2),
                               rtol=1e-4, atol=1e-6)


def test_conv_pool_lrn_dropout_shapes():
    x = np.random.randn(2, 3, 32, 32).astype(np.float32)
    c = Convolution2D(8, 5, 1, 2, w_std=0.01, b_lr=2, activation="relu")
    y = _run(c, x)
    assert y.shape == (2, 8, 32, 32) and y.min() >= 0
    W, b = c.GetParams()
    assert W.shape == (8, 75) and b.shape == (1, 8)
    assert _run(MaxPooling2D(pool_size=(3, 3), stride=2), y).shape == (2, 8, 15, 15)
    assert _run(AvgPooling2D(pool_size(3, 3), stride=2), y).shape == (2, 8, 15, 15)
    np.testing.assert_allclose(_run(MaxPooling2D((2, 2)), x).reshape(-1)[0],
                               x[0, 0, :2, :2].max(), rtol=1e-6)
    assert _run(LRN2D(3, alpha=0.00005, beta=0.75), y).shape == y.shape
    autograd.training = False
    np.testing.assert_allclose(_run(Dropout(0.5), x), x)
    autograd.training = True
    d = _run(Dropout(0.5), np.ones((100, 100), np.float32))
    assert set(np.unique(d)) <= {0.0, 2.0} and 0.4 < (d == 0).mean() < 0.6
    assert Convolution is Convolution2D


def test_get_set_params_roundtrip():
    d = Dense(3)
    assert d.GetParams() == []
    with pytest.raises(RuntimeError):
        Activation("relu").SetParams(np.zeros((2, 3)))
    d.SetParams(np.ones((4, 3)), np.full((1, 3), 2.0))  # builds from the weight shape
    assert d.in_shape == (4,)
    y = _run(d, np.ones((1, 4), np.float32))
    np.testing.assert_allclose(y, [[6, 6, 6]])
    with pytest.raises(ValueError):
        d.SetParams(np.ones((5, 3)), np.ones((1, 3)))
    with pytest.raises(ValueError):
        d.SetParams(np.ones((4, 3)))


def test_rbm_cd_lowers_reconstruction_error():
    rng = np.random.RandomState(0)
    protos = (rng.rand(4, 30) > 0.5).astype(np.float32)
    x = protos[rng.randint(0, 4, 200)]
    rbm = RBM([20, 10], w_std=0.1, b_wd=0)
    rbm.build((30,))
    assert [tuple(w.shape) for w in rbm.W] == [(30, 20), (20, 10)]
    assert rbm.vb[0].wd_mult == 0 and rbm.W[0].wd_mult == 1
    upd = SGD(lr=0.1, decay=0.0002, momentum=0.8)
    errs = []
    for s in range(150):
        v = tensor.from_numpy(x[(s * 20) % 200:(s * 20) % 200 + 20])
        grads, se = rbm.cd_gradients(v, 0)
        for p, g in grads:
            upd.apply(s, p, g)
        errs.append(se)
    assert np.mean(errs[-10:]) < 0.5 * np.mean(errs[:10])
    assert _np(rbm(tensor.from_numpy(x[:5]))).shape == (5, 10)
    with pytest.raises(ValueError):
        RBM([])


def test_autoencoder_tied_weights_and_shapes():
    ae = Autoencoder([6, 3], out_dim=10, activation="sigmoid", param_share=True)
    x = np.random.rand(4, 10).astype(np.float32)
    y = _run(ae, x)
    assert y.shape == (4, 10) and ((y > 0) & (y < 1)).all()
    names = ae.param_names()
    assert names == ["W0", "W1", "b0", "b1", "vb0", "vb1"]
    # a tied decoder: the gradient of W0 gathers encoder and decoder contributions
    autograd.training = True
    loss = autograd.mse_loss(ae(tensor.from_numpy(x)), tensor.from_numpy(x))
    grads = {id(p): g for p, g in autograd.backward(loss)}
    assert id(ae.W[0]) in grads and len(grads) == 6
    untied = Autoencoder([6, 3], out_dim=10, param_share=False)
    untied.build((10,))
    assert len(untied.params()) == 8
    with pytest.raises(ValueError):
        Autoencoder([6], out_dim=7).build((10,))


# ------------------------------------------------------------------ updaters

def test_learning_rate_types():
    step = LearningRate(0.001, "step")
    assert step(0) == step(59) == 0.001
    assert math.isclose(step(60), 0.001 * 0.997) and math.isclose(step(125), 0.001 * 0.997 ** 2)
    man = LearningRate(None, "manual", step=(0, 60000, 65000), step_lr=(0.001, 0.0001, 0.00001))
    assert (man(0), man(59999), man(60000), man(70000)) == (0.001, 0.001, 0.0001, 0.00001)
    assert LearningRate(0.5, "fixed")(1000) == 0.5
    assert LearningRate(0.5, "exponential", change_freq=2)(2) == 0.25
    assert math.isclose(LearningRate(0.5, "linear", change_freq=10, final_lr=0.1)(5), 0.3)
    assert math.isclose(LearningRate(1.0, "inverse_t", final_lr=0.5)(1), 1 / 3)
    assert math.isclose(LearningRate(1.0, "inverse", gamma=1, pow=1)(1), 0.5)
    with pytest.raises(ValueError):
        LearningRate(0.1, "cosine")
    with pytest.raises(ValueError):
        LearningRate(None, "manual", step=(0, 10), step_lr=(0.1,))


def test_sgd_applies_multipliers_decay_and_momentum():
    p = Parameter(init="const", value=1.0, lr=2, wd=0.5).create((2,))
    g = tensor.from_numpy(np.array([1.0, -1.0], np.float32))
    upd = SGD(lr=0.1, decay=0.2, momentum=0.5)
    upd.apply(0, p, g)
    # g' = g + 0.2*0.5*p; buf = g'; p -= 0.1*2*buf
    gp = np.array([1.0, -1.0]) + 0.1
    np.testing.assert_allclose(_np(p), 1 - 0.2 * gp, rtol=1e-6)
    p2 = _np(p).copy()
    upd.apply(1, p, g)
    gp2 = np.array([1.0, -1.0]) + 0.1 * p2
    np.testing.assert_allclose(_np(p), p2 - 0.2 * (0.5 * gp + gp2), rtol=1e-5)
    with pytest.raises(ValueError):
        SGD(lr=0.1, decay=-1)
    with pytest.raises(TypeError):
        SGD(lr=0.1, bogus=1)


def test_adagrad_and_update_from_layer():
    d = Dense(2, w_param=Parameter(init="const", value=0.0))
    d.build((3,))
    upd = AdaGrad(lr=0.1)
    g = tensor.from_numpy(np.ones((3, 2), np.float32))
    d._param_grads = [(d.params()[0], g)]
    upd.Update(1, d)
    np.testing.assert_allclose(_np(d.params()[0]), -0.1, rtol=1e-4)
    assert d._param_grads == []


# ------------------------------------------------------------------ cluster, store, data

def test_cluster_paths_and_single_worker(tmp_path):
    c = Cluster(str(tmp_path / "job"))
    assert c.checkpoint_path(100).endswith(os.path.join("checkpoint", "step100-worker0"))
    c.log("m", "hello")
    assert open(os.path.join(c.log_dir, "m-worker0.log")).read() == "hello\n"
    with pytest.raises(ValueError):
        Cluster(str(tmp_path), nworkers_per_group=2)
    with pytest.raises(ValueError):
        Cluster()
    os.makedirs(c.checkpoint_dir)
    for s in (5, 20, 10):
        open(c.checkpoint_path(s), "w").close()
    assert latest_checkpoint(c.workspace).endswith("step20-worker0")
    assert latest_checkpoint(str(tmp_path / "none")) is None


def test_store_recordinput_reads_shards(tmp_path):
    from singa.data import write_shards_from_arrays
    rng = np.random.RandomState(0)
    imgs = rng.randint(0, 256, (50, 6, 6)).astype(np.uint8)
    labels = rng.randint(0, 3, 50)
    write_shards_from_arrays(imgs, labels, str(tmp_path / "sh"), shard_size=16,
                             classes=["a", "b", "c"], progress=False)
    store = Store(path=str(tmp_path / "sh"), batch_size=10, std_value=255, shape=36)
    d = Data(load="recordinput", phase="test", conf=store)
    assert d.batch_size == 10 and d.num_samples() == 50
    x, y = next(d.batches())
    assert x.shape == (10, 36) and x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1
    np.testing.assert_allclose(x, imgs[:10].reshape(10, 36) / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(y, labels[:10])
    # a model takes its data from add(Data(...))
    m = Sequential("s", [])
    m.add(Data(load="recordinput", phase="train", conf=store))
    m.add(Data(load="recordinput", phase="test", conf=store))
    m.add(Dense(3, activation="softmax"))
    m.compile(optimizer=SGD(lr=0.1))
    res = m.fit(nb_epoch=6, disp_freq=1)
    assert sorted(res) == list(range(6))
    assert m.evaluate(test_steps=2)[6][0]["phase"] == "test"
    with pytest.raises(ValueError):
        Data(load="recordinput")
    with pytest.raises(ValueError):
        Data(load="memory", x=np.zeros((3, 2)), y=np.zeros(2), phase="train")
    with pytest.raises(ValueError):
        Data(load="memory", x=np.zeros((3, 2)), phase="nope")


def test_datasets_load_data():
    X_train, X_test, ws = mnist.load_data()
    assert os.path.isdir(ws) and ws.endswith("mnist")
    assert X_train.num_samples() == 60000 and X_test.num_samples() == 10000
    x, y = next(X_train.batches())
    assert x.shape == (64, 784) and 0 <= x.min() and x.max() <= 1 and y.dtype == np.int32
    X_train, _, ws = mnist.load_data(nb_rbm=3)
    assert ws.endswith("rbm3") and X_train.batch_size == 100
    assert [os.path.basename(c) for c in X_train.checkpoint] == ["rbm2", "rbm1"]
    X_train, X_test, ws = cifar10.load_data()
    x, y = next(X_test.batches())
    assert x.shape == (100, 3, 32, 32) and abs(float(x.mean())) < 20


# ------------------------------------------------------------------ models

def _mem(x, y, phase, bs=32):
    return Data(load="memory", phase=phase, x=x, y=y, batch_size=bs)


def test_sequential_fit_evaluate_checkpoint(tmp_path):
    x, y = _blobs()
    tr, te = _mem(x[:300], y[:300], "train"), _mem(x[300:], y[300:], "test", 50)
    m = Sequential("blobs", ["prog"])
    m.add(Dense(16, init="uniform", activation="tanh"))
    m.add(Dense(3, init="uniform", activation="softmax"))
    topo = Cluster(str(tmp_path / "ws"))
    m.compile(loss="categorical_crossentropy", optimizer=SGD(lr=0.1, momentum=0.9),
              cluster=topo)
    assert m.fit(tr, nb_epoch=40, with_test=True) == {}
    res = m.evaluate(te, batch_size=50, test_steps=2, test_freq=20)
    assert sorted(res) == [20, 40]
    r = res[40][0]
    assert r["phase"] == "test" and r["acc"] > 0.9 and math.isclose(r["ppl"], math.exp(r["loss"]))
    train = m.train_results
    assert train[0][0]["loss"] > train[39][0]["loss"]
    path = topo.checkpoint_path(40)
    assert os.path.isfile(path)
    assert open(os.path.join(topo.log_dir, "blobs-worker0.log")).read().count(": test ") == 2
    # test only, from the checkpoint, in a fresh model
    m2 = Sequential("blobs", [])
    m2.add(Dense(16, activation="tanh"))
    m2.add(Dense(3, activation="softmax"))
    m2.compile(optimizer=SGD(lr=0.1))
    r2 = m2.evaluate(te, batch_size=50, test_steps=2, checkpoint_path=path)
    assert math.isclose(r2[40][0]["acc"], r["acc"])
    # plain fit returns the training results; validation data get their own entries
    m.fit(tr, nb_epoch=10, validate_data=_mem(x[300:], y[300:], "val"), validate_freq=5,
          disp_freq=5)
    assert "validation" in [d["phase"] for d in m.train_results[45]]


def test_sequential_errors():
    m = Sequential("e", [])
    with pytest.raises(RuntimeError):
        m.fit(_mem(*_blobs(), phase="train"), nb_epoch=1)
    m.add(Dense(3))
    with pytest.raises(ValueError):
        Sequential("e2", []).fit(None, nb_epoch=1)
    with pytest.raises(ValueError):
        m.compile(loss="hinge")
    with pytest.raises(TypeError):
        m.add(object())
    with pytest.raises(ValueError):
        m.fit(_mem(*_blobs(), phase="train"), alg="cd", nb_epoch=1)


@pytest.mark.skipif(singa_wrap.USE_CUDA, reason="checks the CPU-only build")
def test_gpu_device_in_cpu_build_raises():
    m = Sequential("g", [])
    m.add(Dense(3))
    with pytest.raises(RuntimeError, match="CUDA"):
        m.fit(_mem(*_blobs(), phase="train"), nb_epoch=1, device=[0])
    with pytest.raises(RuntimeError, match="CUDA"):
        m.evaluate(_mem(*_blobs(), phase="test"), device=[0])


@pytest.mark.skipif(singa_wrap.USE_CUDA, reason="checks the CPU-only build")
def test_gpu_device_with_the_cuda_fallback_trains_on_the_cpu(monkeypatch):
    monkeypatch.setenv("SINGA_CUDA_FALLBACK", "cpu")
    m = Sequential("g", [])
    m.add(Dense(3))
    m.compile(loss="categorical_crossentropy")
    with pytest.warns(RuntimeWarning, match="CPU device is used instead"):
        m.fit(_mem(*_blobs(), phase="train"), nb_epoch=1, device=[0])


def test_cnn_sequential_learns():
    rng = np.random.RandomState(0)
    y = rng.randint(0, 2, 128)
    x = rng.randn(128, 1, 8, 8).astype(np.float32) * 0.3
    x[y == 1, :, :4] += 1.0  # class 1: bright top half
    m = Sequential("cnn", [])
    m.add(Convolution2D(4, 3, 1, 1, w_std=0.1))
    m.add(Activation("relu"))
    m.add(MaxPooling2D(pool_size=(2, 2), stride=2))
    m.add(LRN2D(3, alpha=0.00005, beta=0.75))
    m.add(Dropout(0.1))
    m.add(Dense(2, activation="softmax"))
    m.compile(updater=SGD(lr=0.05, momentum=0.9))
    m.fit(_mem(x, y, "train"), nb_epoch=40, with_test=True)
    res = m.evaluate(_mem(x, y, "test", 64), test_steps=2)
    assert res[40][0]["acc"] > 0.9


def test_autoencoder_sequential_se_falls():
    # Four repeated bit patterns: something an 8-unit code can learn (independent random
    # bits are not, and their error only drifted around 5.0 whichever way the seed fell).
    rng = np.random.RandomState(0)
    protos = (rng.rand(4, 20) > 0.5).astype(np.float32)
    x = protos[rng.randint(0, 4, 200)]
    m = Sequential("ae", [])
    m.add(Autoencoder([16, 8], out_dim=20, activation="sigmoid", param_share=True))
    m.compile(loss="mean_squared_error", optimizer=AdaGrad(lr=0.05))
    res = m.fit(_mem(x, None, "train", 20), nb_epoch=100, disp_freq=10)
    assert res[99][0]["se"] < 0.95 * res[0][0]["se"]
    assert math.isclose(res[0][0]["se"], res[0][0]["loss"] * 20)


def test_energy_trains_stacked_rbms_and_reuses_checkpoints(tmp_path):
    rng = np.random.RandomState(0)
    protos = (rng.rand(4, 30) > 0.5).astype(np.float32)
    x = protos[rng.randint(0, 4, 200)]
    base = tmp_path / "rbms"
    # job 1: a single RBM
    m1 = Energy("rbm1", [])
    m1.add(RBM([20], w_std=0.1, b_wd=0))
    m1.compile(optimizer=SGD(lr=0.1, decay=0.0002, momentum=0.8),
               cluster=Cluster(str(base / "rbm1")))
    r1 = m1.fit(Data(load="memory", x=x, batch_size=20), alg="cd", nb_epoch=60, disp_freq=10)
    assert r1[59][0]["se"] < r1[0][0]["se"]
    # job 2 stacks on job 1's checkpoint: only level 1 trains
    m2 = Energy("rbm2", [])
    m2.add(RBM([20, 10], w_std=0.1, b_wd=0))
    m2.compile(optimizer=SGD(lr=0.1, momentum=0.8), cluster=Cluster(str(base / "rbm2")))
    d2 = Data(load="memory", x=x, batch_size=20, checkpoint=[str(base / "rbm1")])
    r2 = m2.fit(d2, alg="cd", nb_epoch=30, disp_freq=10)
    assert {e["level"] for v in r2.values() for e in v} == {1}
    np.testing.assert_allclose(_np(m2.layers[0].W[0]), _np(m1.layers[0].W[0]))
    # without checkpoints every level trains, steps counting on
    m3 = Energy("rbm3", [])
    m3.add(RBM([20, 10]))
    m3.compile(optimizer=SGD(lr=0.1))
    r3 = m3.fit(Data(load="memory", x=x, batch_size=20), alg="cd", nb_epoch=10, disp_freq=5)
    assert {e["level"] for v in r3.values() for e in v} == {0, 1} and m3.step == 20
    t = m3.evaluate(Data(load="memory", x=x, phase="test", batch_size=50), test_steps=2)
    assert t[20][0]["level"] == 1 and t[20][0]["se"] > 0
    with pytest.raises(ValueError):
        m3.fit(Data(load="memory", x=x), alg="bp", nb_epoch=1)
    # an autoencoder starts from the RBM checkpoint of job 2
    m4 = Sequential("ae", [])
    ae = Autoencoder([20, 10], out_dim=30, param_share=True)
    m4.add(ae)
    m4.compile(loss="mean_squared_error", optimizer=AdaGrad(lr=0.01))
    d4 = Data(load="memory", x=x, batch_size=20, checkpoint=[str(base / "rbm2")])
    m4.fit(d4, nb_epoch=1)
    w_rbm = _np(m2.layers[0].W[1])
    assert np.abs(_np(ae.W[1]) - w_rbm).max() < 0.05  # one AdaGrad step away


# ------------------------------------------------------------------ interactive API

def _interactive_net():
    inp = ImageInput(2, 4)
    label = LabelInput()
    nn = [inp, Dense(16, init="uniform"), Activation("stanh"), Dropout(0.0), Dense(3)]
    return inp, label, nn, Loss("softmaxloss")


def test_interactive_training_loop_learns(tmp_path, capsys):
    x, y = _blobs(n=320)
    inp, label, nn, loss = _interactive_net()
    sgd = SGD(lr=0.1, momentum=0.9)
    accs, losses = [], []
    for i in range(40):
        s = (i % 10) * 32
        nn[0].Feed(x[s:s + 32])
        label.Feed(y[s:s + 32].reshape(-1, 1))
        assert tuple(nn[0].output.shape) == (32, 1, 2, 4)
        for h in range(1, len(nn)):
            nn[h].ComputeFeature(nn[h - 1])
        loss.ComputeFeature(nn[-1], label)
        losses.append(loss.loss)
        accs.append(loss.accuracy)
        loss.ComputeGradient()
        for h in range(len(nn) - 1, 0, -1):
            nn[h].ComputeGradient()
            sgd.Update(i + 1, nn[h])
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:5]) and accs[-1] > 0.9
    assert "accuracy" in loss.display() and "loss =" in capsys.readouterr().out
    W, b = nn[1].GetParams()
    assert W.shape == (8, 16) and b.shape == (1, 16)
    # save, then load into a fresh net (built via data_shape, or from stored shapes)
    f = str(tmp_path / "p.bin")
    save_model_parameter(40, f, nn)
    for kwargs in ({"batchsize": 2, "data_shape": (1, 2, 4)}, {}):
        _, _, nn2, _ = _interactive_net()
        assert load_model_parameter(f, nn2, **kwargs) == 40
        for a, b2 in zip(nn[1].GetParams() + nn[4].GetParams(),
                         nn2[1].GetParams() + nn2[4].GetParams()):
            np.testing.assert_array_equal(a, b2)
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]


def test_interactive_gradient_matches_whole_graph():
    """Per-layer ComputeGradient equals one backward pass over the whole net."""
    x, y = _blobs(n=16)
    _, label, nn, loss = _interactive_net()
    nn[0].Feed(x)
    label.Feed(y)
    for h in range(1, len(nn)):
        nn[h].ComputeFeature(nn[h - 1])
    loss.ComputeFeature(nn[-1], label)
    loss.ComputeGradient()
    for h in range(len(nn) - 1, 0, -1):
        nn[h].ComputeGradient()
    got = {id(p): _np(g) for l in nn for p, g in l._param_grads}
    autograd.training = True
    h = tensor.from_numpy(x.reshape(16, 1, 2, 4))
    for l in nn[1:]:
        h = l(h)
    ref = {id(p): _np(g) for p, g in autograd.backward(
        autograd.softmax_cross_entropy(h, tensor.from_numpy(y)))}
    assert set(got) == set(ref) and len(got) == 4
    for k in ref:
        np.testing.assert_allclose(got[k], ref[k], rtol=1e-4, atol=1e-6)


def test_interactive_errors_and_dummy_feed():
    d = Dummy()
    out = d.Feed((2, 3), np.arange(12), aux_data=[1, 2])
    assert tuple(out.shape) == (2, 2, 3) and list(d.aux_data) == [1, 2]
    with pytest.raises(ValueError):
        d.Feed((5,), np.arange(12))
    dense = Dense(2)
    with pytest.raises(RuntimeError):
        dense.ComputeFeature(Dummy())  # no output yet
    with pytest.raises(RuntimeError):
        dense.ComputeGradient()
    dense.ComputeFeature(d)
    with pytest.raises(RuntimeError, match="no gradient"):
        dense.ComputeGradient()
    with pytest.raises(ValueError):
        Loss("hinge")
    mse = Loss("euclideanloss")
    t = Dummy()
    t.Feed(None, np.ones((2, 2)))
    mse.ComputeFeature(dense, t)
    assert mse.accuracy is None and mse.loss >= 0
    mse.ComputeGradient()
    dense.ComputeGradient()
    assert len(dense._param_grads) == 2


# ------------------------------------------------------------------ document blocks

def _small(data, n):
    return Data(load="memory", phase=data.phase, x=data.x[:n], y=data.y[:n],
                batch_size=data.batch_size, mean=data.mean, std=data.std)


def test_document_tips_blocks_run(capsys):
    """The TIPS and "Cases to run SINGA" blocks of the Python-binding document, with
    only data size and run length changed."""
    X_train, X_test, workspace = mnist.load_data()
    X_train, X_test = _small(X_train, 256), _small(X_test, 200)

    m = Sequential('mlp', [])
    for n in [2500, 2000, 1500, 1000, 500]:
        m.add(Dense(n, init='uniform', activation='tanh'))
    m.add(Dense(10, init='uniform', activation='softmax'))
    m.compile(loss='categorical_crossentropy', optimizer=SGD(lr=0.001, lr_type='step'),
              cluster=Cluster(workspace))
    m.fit(X_train, nb_epoch=2)                                   # case (1)
    result = m.evaluate(X_test, batch_size=100,
                        checkpoint_path=workspace + '/checkpoint/step2-worker0')  # case (4)
    assert result[2][0]["acc"] >= 0

    m = Sequential('mlp2', [])
    m.add(Dense(25, init='uniform'))
    m.add(Activation('tanh'))
    par = Parameter(init='uniform', scale=0.05)
    m.add(Dense(20, w_param=par, b_param=par, activation='tanh'))
    m.add(Dense(10, w_param=par, b_param=par, activation='softmax'))
    m.add(X_train)                                               # explicitly add Data
    m.add(X_test)
    m.compile(optimizer=SGD(lr=0.1))
    m.fit(nb_epoch=2, validate_data=X_test, validate_freq=1, validate_steps=1)  # case (2)
    m.fit(X_train, nb_epoch=2, with_test=True)                   # case (3)
    result = m.evaluate(X_test, batch_size=100, test_steps=1)
    assert sorted(result) == [4]

    X_train, X_test, workspace = cifar10.load_data()
    X_train = _small(X_train, 128)
    m = Sequential('cnn', [])
    parw = Parameter(init='gauss', std=0.0001)
    parb = Parameter(init='const', value=0)
    m.add(Convolution(32, 5, 1, 2, w_param=parw, b_param=parb, b_lr=2))
    m.add(MaxPooling2D(pool_size(3,3), stride=2))
    m.add(Activation('relu'))
    m.add(LRN2D(3, alpha=0.00005, beta=0.75))
    parw.update(std=0.01)
    m.add(Convolution(32, 5, 1, 2, w_param=parw, b_param=parb))
    m.add(Activation('relu'))
    m.add(AvgPooling2D(pool_size(3,3), stride=2))
    m.add(LRN2D(3, alpha=0.00005, beta=0.75))
    m.add(Convolution(64, 5, 1, 2, w_param=parw, b_param=parb, b_lr=1))
    m.add(Activation('relu'))
    m.add(AvgPooling2D(pool_size(3,3), stride=2))
    m.add(Dense(10, w_param=parw, w_wd=250, b_param=parb, b_lr=2, b_wd=0,
                activation='softmax'))
    sgd = SGD(decay=0.004, lr_type='manual', step=(0,60000,65000),
              step_lr=(0.001,0.0001,0.00001))
    m.compile(updater=sgd, cluster=Cluster(workspace))
    res = m.fit(X_train, nb_epoch=2)
    assert m.layers[-1].params()[0].wd_mult == 250 and m.layers[0].params()[1].lr_mult == 2
    assert abs(res[1][0]["loss"] - math.log(10)) < 0.1
    if not singa_wrap.USE_CUDA:                                  # "To run SINGA on GPU"
        gpu_id = [0]
        with pytest.raises(RuntimeError):
            m.fit(X_train, nb_epoch=100, with_test=True, device=gpu_id)
