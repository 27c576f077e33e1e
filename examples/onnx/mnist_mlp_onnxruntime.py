"""Train the MNIST MLP with singa, export it to ONNX and run it in onnxruntime.

The network is examples/autograd/mlp.py's (784-500-300-10, ReLU, dropout 0.4), trained
with that script's original Lasagne recipe (RMSprop, constant rate); a short training run on the vendored MNIST, then ``sonnx.to_onnx`` with
a dynamic batch axis, onnx's full checker, and onnxruntime on the whole test set. The
script checks that onnxruntime's logits agree with singa's (1e-4) and that both give
the same test accuracy, and exits with status 1 when they do not.

    python examples/onnx/mnist_mlp_onnxruntime.py                # 2 epochs
    python examples/onnx/mnist_mlp_onnxruntime.py --quick        # a few steps (tests)
    python examples/onnx/mnist_mlp_onnxruntime.py --output mlp.onnx

Needs ``pip install ".[onnx]"`` and onnxruntime.
"""

import argparse
import os
import sys
import tempfile
import time

import numpy as np
from tqdm import tqdm

from singa import autograd, device, opt, sonnx, tensor
from singa.data import DataLoader, mnist_split

import _autograd_examples  # noqa: E402 (beside this script)


def singa_logits(net, x, batch):
    """The trained net's logits on x, batch by batch, with dropout off."""
    net.eval()
    outs = []
    for i in range(0, len(x), batch):
        with autograd.no_grad():
            outs.append(tensor.to_numpy(net(tensor.from_numpy(x[i:i + batch]))))
    return np.concatenate(outs)


def onnxruntime_logits(path, x, batch):
    import onnxruntime as ort
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    return np.concatenate([sess.run(None, {name: x[i:i + batch]})[0]
                           for i in range(0, len(x), batch)])


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=500)
    p.add_argument("--lr", type=float, default=0.001)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-steps", type=int, default=None, help="stop each epoch early")
    p.add_argument("--quick", action="store_true",
                   help="1 epoch of 30 steps, 2,000 test images (for tests)")
    p.add_argument("--output", default=None, help="where to write the .onnx file "
                   "(default: a temporary file)")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    if args.quick:
        args.epochs, args.max_steps = 1, args.max_steps or 30
    return args


def train(net, args, x_train, y_train, x_val, y_val):
    dev = device.get_default_device()
    tx = tensor.Tensor((args.batch_size, 784), dev, requires_grad=False)
    ty = tensor.Tensor((args.batch_size,), dev, tensor.int32, requires_grad=False)
    loader = DataLoader(x_train, y_train, args.batch_size, shuffle=True, seed=args.seed,
                        drop_last=True)
    for epoch in range(args.epochs):
        t0 = time.perf_counter()
        net.train()
        loader.set_epoch(epoch)
        losses, correct, seen = [], 0, 0
        bar = tqdm(loader, desc="epoch {}/{}".format(epoch + 1, args.epochs), leave=False,
                   disable=args.no_progress, file=sys.stdout)
        for i, (xb, yb) in enumerate(bar):
            tx.copy_from_numpy(xb)
            ty.copy_from_numpy(yb)
            out, loss = net(tx, ty)
            losses.append(float(tensor.to_numpy(loss)[0]))
            correct += int((tensor.to_numpy(out).argmax(1) == yb).sum())
            seen += len(yb)
            if args.max_steps and i + 1 >= args.max_steps:
                break
        bar.close()
        val_acc = float((singa_logits(net, x_val, args.batch_size).argmax(1) == y_val).mean())
        print("epoch {}/{}: train loss {:.4f}  train acc {:.2f}%  val acc {:.2f}%  ({:.1f} s)"
              .format(epoch + 1, args.epochs, float(np.mean(losses)), 100 * correct / seen,
                      100 * val_acc, time.perf_counter() - t0))


def main(argv=None):
    """Returns (singa test accuracy, onnxruntime test accuracy, max abs logit difference)."""
    args = parse_args(argv)
    mlp = _autograd_examples.load("mlp")
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = mnist_split(args.data_dir,
                                                                       flatten=True)
    if args.quick:
        x_val, y_val, x_test, y_test = x_val[:2000], y_val[:2000], x_test[:2000], y_test[:2000]
    x_train, x_val, x_test = (np.ascontiguousarray(a, dtype=np.float32)
                              for a in (x_train, x_val, x_test))
    device.get_default_device().SetRandSeed(args.seed)
    np.random.seed(args.seed)

    net = mlp.MLP()
    net.set_optimizer(opt.RMSProp(lr=args.lr, rho=0.9, epsilon=1e-6))
    net.compile([tensor.Tensor((args.batch_size, 784), requires_grad=False)], is_train=True,
                use_graph=True)
    mlp.glorot_init(net)
    train(net, args, x_train, y_train, x_val, y_val)

    # Export: trace one forward in inference behaviour (dropout off) with the graph
    # recorded; axis 0 of the input and output becomes the symbolic batch size.
    net.eval()
    sample = tensor.from_numpy(x_test[:args.batch_size])
    with autograd.set_grad_enabled(True), autograd.train(False):
        logits = net.forward(sample)
    model = sonnx.to_onnx([sample], [logits], model_name="mnist_mlp", input_names=["image"],
                          output_names=["logits"])
    import onnx
    onnx.checker.check_model(model, full_check=True)
    with tempfile.TemporaryDirectory(prefix="singa_onnx_") as tmp:
        path = args.output or os.path.join(tmp, "mlp.onnx")
        sonnx.save(model, path)
        return compare(net, model, path, x_test, y_test)


def compare(net, model, path, x_test, y_test):
    """Runs the saved model in onnxruntime next to singa; exits with status 1 when
    their logits differ by more than 1e-4."""
    print("exported {} nodes ({}) at opset {} to {}".format(
        len(model.graph.node), " ".join(n.op_type for n in model.graph.node),
        model.opset_import[0].version, path))
    # A batch size the trace did not use shows the dynamic batch axis at work.
    batch = 250
    ours = singa_logits(net, x_test, batch)
    theirs = onnxruntime_logits(path, x_test, batch)
    diff = float(np.max(np.abs(ours - theirs)))
    acc_singa = float((ours.argmax(1) == y_test).mean())
    acc_ort = float((theirs.argmax(1) == y_test).mean())
    print("test accuracy: singa {:.2f}%  onnxruntime {:.2f}%  ({} images)".format(
        100 * acc_singa, 100 * acc_ort, len(y_test)))
    print("max abs logit difference singa vs onnxruntime: {:.3g}".format(diff))
    agree = np.allclose(theirs, ours, atol=1e-4, rtol=1e-4)
    print("outputs agree (1e-4): {}".format("yes" if agree else "NO"))
    if not agree:
        sys.exit(1)
    return acc_singa, acc_ort, diff


if __name__ == "__main__":
    main()
