"""MNIST MLP: the Lasagne tutorial's network and recipe, trained with singa.

784-500-300-10 with ReLU, dropout 0.4 after each hidden layer, softmax cross-entropy,
RMSprop (lr 0.001, rho 0.9, eps 1e-6), batch 500, Glorot-uniform weights; MNIST split
into 50,000 train / 10,000 validation / 10,000 test images.

    python examples/autograd/mlp.py                 # the default run
    python examples/autograd/mlp.py --epochs 3      # shorter
    python examples/autograd/mlp.py --resume mlp.ckpt

Ctrl-C stops after the current step, saves a checkpoint and prints how to resume.
"""

import argparse
import signal
import sys
import time

import numpy as np
from tqdm import tqdm

from singa import autograd, device, initializer, layer, model, opt, tensor
from singa.data import DataLoader, mnist_split


class MLP(model.Model):
    """The Lasagne MLP: two ReLU hidden layers with dropout, a linear output."""

    def __init__(self, hidden=(500, 300), num_classes=10, dropout=0.4):
        super().__init__()
        self.fc1 = layer.Linear(hidden[0])
        self.drop1 = layer.Dropout(dropout)
        self.fc2 = layer.Linear(hidden[1])
        self.drop2 = layer.Dropout(dropout)
        self.fc3 = layer.Linear(num_classes)
        self.loss_fn = layer.SoftMaxCrossEntropy()

    def forward(self, x):
        x = self.drop1(autograd.relu(self.fc1(x)))
        x = self.drop2(autograd.relu(self.fc2(x)))
        return self.fc3(x)

    def train_one_batch(self, x, y):
        out = self.forward(x)
        loss = self.loss_fn(out, y)
        self.optimizer(loss)
        return out, loss


def glorot_init(net):
    """Lasagne's defaults: Glorot-uniform weights, zero biases."""
    for name, p in net.get_params().items():
        if p.ndim() == 2:
            initializer.glorot_uniform(p)
        else:
            p.set_value(0.0)


def evaluate(net, loader, tx, ty):
    """Mean loss and accuracy over a loader, with dropout off."""
    net.eval()
    total_loss, correct, count = 0.0, 0, 0
    for xb, yb in loader:
        n = xb.shape[0]
        tx.copy_from_numpy(xb)
        ty.copy_from_numpy(yb)
        with autograd.no_grad():
            out = net(tx)
            loss = autograd.softmax_cross_entropy(out, ty)
        logits = tensor.to_numpy(out)
        total_loss += float(tensor.to_numpy(loss)[0]) * n
        correct += int((logits.argmax(axis=1) == yb).sum())
        count += n
    net.train()
    return total_loss / count, correct / count


class _StopFlag(object):
    """Turns the first Ctrl-C into a request to stop after the current step."""

    def __init__(self):
        self.requested = False
        self._old = signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum, frame):
        if self.requested:  # a second Ctrl-C stops at once
            signal.signal(signal.SIGINT, self._old)
            raise KeyboardInterrupt
        self.requested = True

    def restore(self):
        signal.signal(signal.SIGINT, self._old)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Train the Lasagne MNIST MLP with singa.")
    p.add_argument("--epochs", type=int, default=22)
    p.add_argument("--batch-size", type=int, default=500)
    p.add_argument("--lr", type=float, default=0.001)
    p.add_argument("--epsilon", type=float, default=1e-6, help="RMSprop's epsilon")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", default=None, help="folder with the MNIST .gz files "
                   "(default: the vendored examples/data/mnist)")
    p.add_argument("--checkpoint", default="mlp.ckpt",
                   help="where Ctrl-C saves the training state")
    p.add_argument("--resume", default=None, metavar="PATH",
                   help="continue from a checkpoint written by Ctrl-C")
    p.add_argument("--max-steps", type=int, default=None,
                   help="stop after this many training steps (for quick checks)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("--eager", action="store_true",
                   help="run every step eagerly instead of replaying the recorded graph")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    start = time.perf_counter()
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = mnist_split(
        args.data_dir, flatten=True)
    print("data: {} train, {} validation, {} test images ({:.2f} s)".format(
        len(x_train), len(x_val), len(x_test), time.perf_counter() - start))

    dev = device.get_default_device()
    dev.SetRandSeed(args.seed)
    np.random.seed(args.seed)

    net = MLP()
    rmsprop = opt.RMSProp(lr=args.lr, rho=0.9, epsilon=args.epsilon)
    net.set_optimizer(rmsprop)
    tx = tensor.Tensor((args.batch_size, 784), dev, requires_grad=False)
    ty = tensor.Tensor((args.batch_size,), dev, tensor.int32, requires_grad=False)
    net.compile([tx], is_train=True, use_graph=not args.eager, sequential=False)
    glorot_init(net)

    first_epoch = 0
    if args.resume:
        aux = net.load_states(args.resume)
        epoch = aux.get("epoch", 0)
        first_epoch = int(np.asarray(tensor.to_numpy(epoch) if isinstance(epoch, tensor.Tensor) else epoch).reshape(-1)[0])
        print("resumed from {} at epoch {}".format(args.resume, first_epoch + 1))

    train = DataLoader(x_train, y_train, args.batch_size, shuffle=True, seed=args.seed)
    val = DataLoader(x_val, y_val, args.batch_size, shuffle=False)
    test = DataLoader(x_test, y_test, args.batch_size, shuffle=False)

    stop = _StopFlag()
    step = 0
    # Model selection on the validation set: the test set is evaluated with the
    # parameters of the epoch with the best validation accuracy.
    best_acc, best_epoch, best_states = -1.0, None, None
    net.train()
    try:
        for epoch in range(first_epoch, args.epochs):
            t0 = time.perf_counter()
            train.set_epoch(epoch)
            losses = []
            bar = tqdm(train, desc="epoch {}/{}".format(epoch + 1, args.epochs), leave=False,
                       disable=args.no_progress, file=sys.stdout)
            for xb, yb in bar:
                if xb.shape[0] != tx.shape[0]:
                    tx = tensor.Tensor(xb.shape, dev, requires_grad=False)
                    ty = tensor.Tensor((xb.shape[0],), dev, tensor.int32, requires_grad=False)
                tx.copy_from_numpy(xb)
                ty.copy_from_numpy(yb)
                _, loss = net(tx, ty)
                losses.append(float(tensor.to_numpy(loss)[0]))
                step += 1
                if stop.requested or (args.max_steps and step >= args.max_steps):
                    break
            bar.close()
            if stop.requested:
                net.save_states(args.checkpoint, aux_states={"epoch": np.array(epoch)})
                print("interrupted in epoch {}: saved {}; resume with\n  python {} --resume {}"
                      .format(epoch + 1, args.checkpoint, sys.argv[0], args.checkpoint))
                return None
            train_time = time.perf_counter() - t0
            val_loss, val_acc = evaluate(net, val, tx, ty)
            print("epoch {:2d}/{}: train loss {:.4f}  val loss {:.4f}  val acc {:.2f}%  "
                  "({:.2f} s)".format(epoch + 1, args.epochs, float(np.mean(losses)), val_loss,
                                      100 * val_acc, train_time))
            if val_acc > best_acc:
                best_acc, best_epoch = val_acc, epoch + 1
                best_states = {k: tensor.to_numpy(v).copy() for k, v in net.get_states().items()}
            if args.max_steps and step >= args.max_steps:
                break
    finally:
        stop.restore()

    if best_states is not None:
        net.set_states(best_states)
        print("using the parameters of epoch {} (best validation accuracy {:.2f}%)".format(
            best_epoch, 100 * best_acc))
    test_loss, test_acc = evaluate(net, test, tx, ty)
    print("test loss: {:.4f}".format(test_loss))
    print("test accuracy: {:.2f}%".format(100 * test_acc))
    print("total wall time: {:.1f} s".format(time.perf_counter() - start))
    return test_acc


if __name__ == "__main__":
    main()
