"""Train the CIFAR-10 CNN with singa, export it to ONNX, then fine-tune it elsewhere.

The network is examples/autograd/cnn.py's CifarCNN (three 5x5 convolutions, pools, LRN,
a dense layer), trained with SGD (momentum 0.9, weight decay 0.004) in graph mode on
the vendored CIFAR-10 subset (4,000 train / 1,000 test images). Its logits are
exported with ``sonnx.to_onnx``; then cifar_cnn_finetune.py starts in a FRESH Python
process, imports the file and fine-tunes the last layer only, so nothing but the .onnx
file carries the trained model across. Its first accuracy is the one printed here.

    python examples/onnx/cifar_cnn_export.py                     # 6 epochs, then 2 of fine-tuning
    python examples/onnx/cifar_cnn_export.py --quick             # a few steps (tests)
    python examples/onnx/cifar_cnn_export.py --output cnn.onnx --no-finetune
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from tqdm import tqdm

from singa import autograd, device, opt, sonnx, tensor
from singa.data import DataLoader, load_cifar10

import _autograd_examples  # noqa: E402 (beside this script)

HERE = os.path.dirname(os.path.abspath(__file__))


def cifar(data_dir=None, quick=False):
    """The CIFAR-10 subset, normalised per channel with the training set's statistics
    (the fine-tuning script recomputes the same from the same files)."""
    (xtr, ytr), (xte, yte) = load_cifar10(data_dir)
    xtr, xte = xtr.astype(np.float32), xte.astype(np.float32)
    mean = xtr.mean(axis=(0, 2, 3), keepdims=True)
    std = xtr.std(axis=(0, 2, 3), keepdims=True)
    xtr, xte = (xtr - mean) / std, (xte - mean) / std
    if quick:
        xte, yte = xte[:300], yte[:300]
    return np.ascontiguousarray(xtr), ytr, np.ascontiguousarray(xte), yte


def accuracy(forward, x, y, batch=250):
    """Share of x whose largest logit is the label; ``forward`` maps a Tensor to logits."""
    correct = 0
    for i in range(0, len(x), batch):
        with autograd.no_grad():
            logits = tensor.to_numpy(forward(tensor.from_numpy(x[i:i + batch])))
        correct += int((logits.argmax(1) == y[i:i + batch]).sum())
    return correct / len(x)


def train_epochs(net, optimizer, xtr, ytr, epochs, batch, max_steps=None, seed=0,
                 no_progress=False, what="train", evaluate=None):
    """SGD epochs of ``net(tx, ty)`` (train_one_batch) in graph mode; prints the mean
    loss, training accuracy and ``evaluate()`` (test accuracy) after each. Returns the
    last epoch's (mean loss, test accuracy)."""
    dev = device.get_default_device()
    tx = tensor.Tensor((batch,) + xtr.shape[1:], dev, requires_grad=False)
    ty = tensor.Tensor((batch,), dev, tensor.int32, requires_grad=False)
    loader = DataLoader(xtr, ytr, batch, shuffle=True, seed=seed, drop_last=True)
    loss_mean, test_acc = float("nan"), float("nan")
    for epoch in range(epochs):
        optimizer.epoch = epoch
        t0 = time.perf_counter()
        net.train()
        loader.set_epoch(epoch)
        losses, correct, seen = [], 0, 0
        bar = tqdm(loader, desc="{} epoch {}/{}".format(what, epoch + 1, epochs), leave=False,
                   disable=no_progress, file=sys.stdout)
        for i, (xb, yb) in enumerate(bar):
            tx.copy_from_numpy(xb)
            ty.copy_from_numpy(yb)
            out, loss = net(tx, ty)
            losses.append(float(tensor.to_numpy(loss)[0]))
            correct += int((tensor.to_numpy(out).argmax(1) == yb).sum())
            seen += len(yb)
            if max_steps and i + 1 >= max_steps:
                break
        bar.close()
        net.eval()
        loss_mean, test_acc = float(np.mean(losses)), evaluate()
        print("{} epoch {}/{}: train loss {:.4f}  train acc {:.2f}%  test acc {:.2f}%  "
              "({:.1f} s)".format(what, epoch + 1, epochs, loss_mean, 100 * correct / seen,
                                  100 * test_acc, time.perf_counter() - t0), flush=True)
    return loss_mean, test_acc


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--lr", type=float, default=0.005)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-steps", type=int, default=None, help="stop each epoch early")
    p.add_argument("--finetune-epochs", type=int, default=2)
    p.add_argument("--quick", action="store_true",
                   help="batch 50, 2 epochs of 10 steps, 300 test images, fine-tuning 1 "
                        "epoch of 6 steps (for tests)")
    p.add_argument("--output", default=None,
                   help="where to write the .onnx file (default: a temporary file)")
    p.add_argument("--no-finetune", action="store_true",
                   help="only train and export; do not start cifar_cnn_finetune.py")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    if args.quick:
        args.epochs, args.max_steps = 2, args.max_steps or 10
        args.batch_size, args.finetune_epochs = 50, 1
    return args


def main(argv=None):
    """Returns the test accuracy of the exported model (and, unless --no-finetune, the
    fine-tuning process's exit status second)."""
    args = parse_args(argv)
    cnn = _autograd_examples.load("cnn")
    xtr, ytr, xte, yte = cifar(args.data_dir, args.quick)
    print("CIFAR-10 CNN: {} train / {} test images".format(len(xtr), len(xte)))
    device.get_default_device().SetRandSeed(args.seed)
    np.random.seed(args.seed)
    net = cnn.CifarCNN()
    sgd = opt.SGD(lr=args.lr, momentum=0.9, weight_decay=0.004)
    net.set_optimizer(sgd)
    net.compile([tensor.Tensor((args.batch_size, 3, 32, 32), requires_grad=False)],
                is_train=True, use_graph=True)
    train_epochs(net, sgd, xtr, ytr, args.epochs, args.batch_size, args.max_steps, args.seed,
                 args.no_progress, "singa", lambda: accuracy(net.forward, xte, yte))
    net.eval()
    acc = accuracy(net.forward, xte, yte)
    print("singa model test accuracy before export: {:.2f}%".format(100 * acc))

    sample = tensor.from_numpy(xte[:args.batch_size])
    with autograd.set_grad_enabled(True), autograd.train(False):
        logits = net.forward(sample)
    model = sonnx.to_onnx([sample], [logits], model_name="cifar_cnn", input_names=["image"],
                          output_names=["logits"])
    with tempfile.TemporaryDirectory(prefix="singa_onnx_") as tmp:
        path = args.output or os.path.join(tmp, "cifar_cnn.onnx")
        sonnx.save(model, path)
        print("exported {} nodes at opset {} to {}".format(
            len(model.graph.node), model.opset_import[0].version, path), flush=True)
        if args.no_finetune:
            return acc, None
        # A fresh interpreter: only the file carries the trained model over.
        cmd = [sys.executable, os.path.join(HERE, "cifar_cnn_finetune.py"), path,
               "--epochs", str(args.finetune_epochs), "--batch-size", str(args.batch_size),
               "--seed", str(args.seed)]
        if args.quick:
            cmd += ["--quick"]
        if args.data_dir:
            cmd += ["--data-dir", args.data_dir]
        if args.no_progress:
            cmd += ["--no-progress"]
        print("starting a fresh process: {}".format(" ".join(cmd[1:])), flush=True)
        rc = subprocess.run(cmd).returncode
    if rc != 0:
        sys.exit(rc)
    return acc, rc


if __name__ == "__main__":
    main()
