"""The example scripts train for real, in short configurations."""


import numpy as np

import _examples


def load_example(name):
    return _examples.load_example("autograd", name)


def test_mlp_learns_mnist(tmp_path, capsys):
    mlp = load_example("mlp")
    acc = mlp.main(["--epochs", "1", "--max-steps", "60", "--no-progress",
                    "--checkpoint", str(tmp_path / "mlp.ckpt")])
    out = capsys.readouterr().out
    assert "test accuracy:" in out and "val acc" in out
    assert acc > 0.85, out


def test_mlp_resumes_from_checkpoint(tmp_path, capsys):
    mlp = load_example("mlp")
    net = mlp.MLP()
    from singa import tensor
    net.set_optimizer(mlp.make_optimizer(mlp.parse_args([]), steps_per_epoch=100))
    tx = tensor.Tensor((4, 784), requires_grad=False)
    net.compile([tx], is_train=True, use_graph=False, sequential=False)
    path = str(tmp_path / "mlp.ckpt")
    net.save_states(path, aux_states={"epoch": np.array(1)})
    acc = mlp.main(["--epochs", "2", "--max-steps", "20", "--no-progress", "--resume", path])
    out = capsys.readouterr().out
    assert "resumed from" in out and "epoch 2" in out
    assert acc > 0.5


def test_mlp_warmup_cosine_schedule():
    mlp = load_example("mlp")
    sched = mlp.WarmupCosine(0.1, total_steps=30, warmup_steps=10)
    assert np.isclose(sched(0), 0.01) and np.isclose(sched(4), 0.05)
    assert np.isclose(sched(9), 0.1) and np.isclose(sched(10), 0.1)  # peak after warm-up
    assert np.isclose(sched(20), 0.05)  # half way down the cosine
    assert np.isclose(sched(30), 0.0) and np.isclose(sched(45), 0.0)  # held at the end
    values = [sched(s) for s in range(10, 31)]
    assert all(a >= b for a, b in zip(values, values[1:]))
    floor = mlp.WarmupCosine(1.0, total_steps=10, final_fraction=0.2)
    assert np.isclose(floor(0), 1.0) and np.isclose(floor(10), 0.2)


def test_mlp_warmup_cosine_rejects_warmup_as_long_as_the_run():
    mlp = load_example("mlp")
    try:
        mlp.WarmupCosine(0.1, total_steps=10, warmup_steps=10)
    except ValueError as e:
        assert "total_steps" in str(e) and "warmup_steps" in str(e)
    else:
        raise AssertionError("no ValueError")


def test_mlp_optimizer_choices():
    mlp = load_example("mlp")
    from singa import opt
    for name, cls in (("rmsprop", opt.RMSProp), ("adam", opt.Adam), ("sgd", opt.SGD)):
        args = mlp.parse_args(["--optimizer", name, "--lr", "0.5", "--schedule", "constant"])
        o = mlp.make_optimizer(args, steps_per_epoch=100)
        assert isinstance(o, cls) and np.isclose(float(o.lr_value), 0.5)
    args = mlp.parse_args(["--optimizer", "adam", "--lr", "0.5", "--schedule", "cosine",
                           "--epochs", "2", "--warmup-epochs", "1"])
    o = mlp.make_optimizer(args, steps_per_epoch=10)
    assert np.isclose(o.value(o.lr), 0.05)  # step 0 of a 10-step warm-up
    o.step_counter = 20
    assert np.isclose(o.value(o.lr), 0.0)
    # a warm-up longer than the run is cut to half of it
    args = mlp.parse_args(["--schedule", "cosine", "--epochs", "1", "--warmup-epochs", "3"])
    assert mlp.make_optimizer(args, steps_per_epoch=10).lr.warmup_steps == 5


def test_mlp_random_shift_moves_each_image_within_the_limit():
    mlp = load_example("mlp")
    x = np.zeros((200, 784), np.float32)
    x[:, 14 * 28 + 14] = 1.0  # one lit pixel in the middle
    out = mlp.random_shift(2, seed=0)(x)
    assert out.shape == x.shape and out.dtype == np.float32
    assert np.allclose(out.sum(axis=1), 1.0)  # an interior pixel is moved, not lost
    rows, cols = np.divmod(out.argmax(axis=1), 28)
    assert np.abs(rows - 14).max() == 2 and np.abs(cols - 14).max() == 2
    assert len(set(zip(rows.tolist(), cols.tolist()))) == 25  # every offset is drawn
    edge = np.zeros((1, 784), np.float32)
    edge[0, 0] = 1.0
    moved = mlp.random_shift(1, seed=0)(np.repeat(edge, 50, axis=0))
    assert set(np.round(moved.sum(axis=1), 6).tolist()) <= {0.0, 1.0}  # shifted out or kept


def test_mlp_smoothed_targets():
    mlp = load_example("mlp")
    t = mlp.smoothed_targets(np.array([1, 3], np.int32), 10, 0.1)
    assert t.dtype == np.float32 and np.allclose(t.sum(axis=1), 1.0)
    assert np.isclose(t[0, 1], 0.91) and np.isclose(t[0, 0], 0.01) and np.isclose(t[1, 3], 0.91)


def test_mlp_rejects_bad_options(capsys):
    mlp = load_example("mlp")
    for bad in (["--dropout", "1.0"], ["--shift", "-1"], ["--label-smoothing", "1"],
                ["--epochs", "0"], ["--lr", "0"], ["--warmup-epochs", "-1"]):
        try:
            mlp.parse_args(bad)
        except SystemExit:
            assert bad[0] in capsys.readouterr().err
        else:
            raise AssertionError("{} was accepted".format(bad))


def test_mlp_other_recipes_learn(tmp_path, capsys):
    mlp = load_example("mlp")
    acc = mlp.main(["--epochs", "1", "--max-steps", "40", "--no-progress", "--optimizer", "sgd",
                    "--lr", "0.05", "--schedule", "constant", "--shift", "0",
                    "--label-smoothing", "0.1", "--checkpoint", str(tmp_path / "mlp.ckpt")])
    assert acc > 0.8, capsys.readouterr().out


def test_cifar_cnn_loss_falls(capsys):
    cnn = load_example("cnn")
    acc, losses = cnn.main(["--epochs", "1", "--max-steps", "25", "--no-progress",
                            "--lr", "0.01"])
    assert np.mean(losses[-5:]) < np.mean(losses[:5])
    assert acc > 0.15  # chance is 0.10


def test_mnist_lenet_learns(capsys):
    cnn = load_example("cnn")
    acc, losses = cnn.main(["--mnist", "--epochs", "1", "--max-steps", "60", "--no-progress"])
    assert np.mean(losses[-5:]) < np.mean(losses[:5])
    assert acc > 0.6


def test_xceptionnet_runs_on_cpu(capsys):
    xc = load_example("xceptionnet")
    import sys
    old = sys.argv
    sys.argv = ["xceptionnet.py", "--batch-size", "1", "--iters", "2", "--num-classes", "10"]
    try:
        xc.main()
    finally:
        sys.argv = old
    out = capsys.readouterr().out
    assert "seconds per iteration" in out
    loss = float(out.split("loss:")[1].split()[0])
    assert np.isfinite(loss)


def _no_gpu():
    from singa import device
    return device.get_num_gpus() == 0


def test_examples_device_cuda_without_a_gpu_stop_at_once_with_the_reason(monkeypatch, capsys):
    import pytest
    if not _no_gpu():
        pytest.skip("a GPU is usable here")
    monkeypatch.delenv("SINGA_CUDA_FALLBACK", raising=False)
    mlp = load_example("mlp")
    with pytest.raises(SystemExit) as e:
        mlp.main(["--device", "cuda", "--no-progress"])
    assert "mlp.py --device cuda" in str(e.value) and "SINGA_CUDA_FALLBACK" in str(e.value)
    assert "data:" not in capsys.readouterr().out  # before loading MNIST
    xc = load_example("xceptionnet")
    monkeypatch.setattr("sys.argv", ["xceptionnet.py", "--device", "cuda", "--iters", "1"])
    with pytest.raises(SystemExit) as e:
        xc.main()
    assert "xceptionnet.py --device cuda" in str(e.value)


def test_mlp_device_cuda_puts_the_work_on_the_device(monkeypatch, tmp_path, capsys):
    """--device cuda trains on whatever device.create_cuda_gpu() returns: here a test
    device that the core treats as a GPU's memory, so every kernel must run there."""
    from singa import device
    dev = device.create_test_device(host_memory=False)
    monkeypatch.setattr(device, "create_cuda_gpu", lambda set_default=False: dev)
    mlp = load_example("mlp")
    acc = mlp.main(["--epochs", "1", "--max-steps", "20", "--no-progress", "--device", "cuda",
                    "--checkpoint", str(tmp_path / "mlp.ckpt")])
    out = capsys.readouterr().out
    assert "device: test-" in out and "test accuracy:" in out
    calls = dev.kernel_calls()
    assert calls["blas"] > 0 and calls["fused"] > 0, calls  # GEMMs and the Adam updates
    assert acc > 0.5, out
