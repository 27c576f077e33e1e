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
    from singa import opt, tensor
    net.set_optimizer(opt.RMSProp(lr=0.001, rho=0.9, epsilon=1e-6))
    tx = tensor.Tensor((4, 784), requires_grad=False)
    net.compile([tx], is_train=True, use_graph=False, sequential=False)
    path = str(tmp_path / "mlp.ckpt")
    net.save_states(path, aux_states={"epoch": np.array(1)})
    acc = mlp.main(["--epochs", "2", "--max-steps", "20", "--no-progress", "--resume", path])
    out = capsys.readouterr().out
    assert "resumed from" in out and "epoch 2" in out
    assert acc > 0.5


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
