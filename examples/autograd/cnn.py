"""Convolutional networks trained with singa on real data.

By default, the CIFAR-10 CNN of SINGA's Python-binding document (Caffe's cifar10 net):
conv 5x5x32 pad 2, max pool 3/2, relu, LRN(3, 5e-5, 0.75), conv 5x5x32 pad 2, relu,
avg pool 3/2, LRN, conv 5x5x64 pad 2, relu, avg pool 3/2, dense 10; SGD with momentum
0.9 and weight decay 0.004; trained on the vendored CIFAR-10 subset (4,000 train,
1,000 test images). With --mnist, a LeNet-style CNN on the full MNIST set.

    python examples/autograd/cnn.py --epochs 5
    python examples/autograd/cnn.py --mnist --epochs 2
"""

import argparse
import sys
import time

import numpy as np
from tqdm import tqdm

from singa import autograd, device, layer, model, opt, tensor
from singa.data import DataLoader, load_cifar10, load_mnist


class CifarCNN(model.Model):
    """The Caffe/SINGA CIFAR-10 network of the seed document."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = layer.Conv2d(32, 5, stride=1, padding=2)
        self.pool1 = layer.MaxPool2d(3, 2)
        self.lrn1 = layer.LRN(3, alpha=5e-5, beta=0.75)
        self.conv2 = layer.Conv2d(32, 5, stride=1, padding=2, activation="RELU")
        self.pool2 = layer.AvgPool2d(3, 2)
        self.lrn2 = layer.LRN(3, alpha=5e-5, beta=0.75)
        self.conv3 = layer.Conv2d(64, 5, stride=1, padding=2, activation="RELU")
        self.pool3 = layer.AvgPool2d(3, 2)
        self.flatten = layer.Flatten()
        self.fc = layer.Linear(num_classes)
        self.loss_fn = layer.SoftMaxCrossEntropy()

    def forward(self, x):
        x = self.lrn1(autograd.relu(self.pool1(self.conv1(x))))
        x = self.lrn2(self.pool2(self.conv2(x)))
        x = self.pool3(self.conv3(x))
        return self.fc(self.flatten(x))

    def train_one_batch(self, x, y):
        out = self.forward(x)
        loss = self.loss_fn(out, y)
        self.optimizer(loss)
        return out, loss


class LeNet(model.Model):
    """LeNet-style: conv 5x5x20, relu, max pool 2, conv 5x5x50, relu, max pool 2,
    dense 500, relu, dense 10."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = layer.Conv2d(20, 5, activation="RELU")
        self.pool1 = layer.MaxPool2d(2, 2)
        self.conv2 = layer.Conv2d(50, 5, activation="RELU")
        self.pool2 = layer.MaxPool2d(2, 2)
        self.flatten = layer.Flatten()
        self.fc1 = layer.Linear(500)
        self.fc2 = layer.Linear(num_classes)
        self.loss_fn = layer.SoftMaxCrossEntropy()

    def forward(self, x):
        x = self.pool1(self.conv1(x))
        x = self.pool2(self.conv2(x))
        x = autograd.relu(self.fc1(self.flatten(x)))
        return self.fc2(x)

    def train_one_batch(self, x, y):
        out = self.forward(x)
        loss = self.loss_fn(out, y)
        self.optimizer(loss)
        return out, loss


def load(args):
    if args.mnist:
        (xtr, ytr), (xte, yte) = load_mnist(args.data_dir)
        # Standardised with the training set's mean and standard deviation.
        xtr = (xtr.astype(np.float32) / 255.0)[:, None]
        xte = (xte.astype(np.float32) / 255.0)[:, None]
        mean, std = xtr.mean(), xtr.std()
        return (xtr - mean) / std, ytr, (xte - mean) / std, yte
    (xtr, ytr), (xte, yte) = load_cifar10(args.data_dir)
    xtr, xte = xtr.astype(np.float32), xte.astype(np.float32)
    mean = xtr.mean(axis=(0, 2, 3), keepdims=True)
    std = xtr.std(axis=(0, 2, 3), keepdims=True)
    return (xtr - mean) / std, ytr, (xte - mean) / std, yte


def accuracy(net, loader, dev):
    net.eval()
    correct = count = 0
    for xb, yb in loader:
        tx = tensor.from_numpy(xb, dev)
        with autograd.no_grad():
            out = net(tx)
        correct += int((tensor.to_numpy(out).argmax(1) == yb).sum())
        count += len(yb)
    net.train()
    return correct / count


def main(argv=None):
    p = argparse.ArgumentParser(description="Train a CNN with singa.")
    p.add_argument("--mnist", action="store_true", help="LeNet on MNIST instead of CIFAR-10")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", default=None)
    p.add_argument("--max-steps", type=int, default=None, help="stop each epoch early")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    epochs = args.epochs or (4 if args.mnist else 10)
    batch = args.batch_size or (64 if args.mnist else 100)
    lr = args.lr or (0.01 if args.mnist else 0.005)

    start = time.perf_counter()
    xtr, ytr, xte, yte = load(args)
    dev = device.get_default_device()
    dev.SetRandSeed(args.seed)
    np.random.seed(args.seed)
    net = LeNet() if args.mnist else CifarCNN()
    # LeNet: the learning rate halves every epoch after the first (sgd.epoch is set below).
    schedule = opt.StepSchedule(lr, list(range(1, epochs)) if args.mnist else [], 0.5, by="epoch")
    sgd = opt.SGD(lr=schedule, momentum=0.9, weight_decay=5e-4 if args.mnist else 0.004)
    net.set_optimizer(sgd)
    tx = tensor.Tensor((batch,) + xtr.shape[1:], dev, requires_grad=False)
    net.compile([tx], is_train=True, use_graph=False, sequential=False)
    train = DataLoader(xtr, ytr, batch, shuffle=True, seed=args.seed, drop_last=True)
    test = DataLoader(xte, yte, 500, shuffle=False)
    print("{}: {} train / {} test images".format("MNIST LeNet" if args.mnist else "CIFAR-10 CNN",
                                                  len(xtr), len(xte)))
    net.train()
    acc = 0.0
    for epoch in range(epochs):
        sgd.epoch = epoch
        t0 = time.perf_counter()
        train.set_epoch(epoch)
        losses, correct, seen = [], 0, 0
        bar = tqdm(train, desc="epoch {}/{}".format(epoch + 1, epochs), leave=False,
                   disable=args.no_progress, file=sys.stdout)
        for i, (xb, yb) in enumerate(bar):
            tx = tensor.from_numpy(xb, dev)
            ty = tensor.from_numpy(yb, dev)
            out, loss = net(tx, ty)
            losses.append(float(tensor.to_numpy(loss)[0]))
            correct += int((tensor.to_numpy(out).argmax(1) == yb).sum())
            seen += len(yb)
            if args.max_steps and i + 1 >= args.max_steps:
                break
        bar.close()
        acc = accuracy(net, test, dev)
        print("epoch {:2d}/{}: train loss {:.4f}  train acc {:.2f}%  test acc {:.2f}%  ({:.1f} s)"
              .format(epoch + 1, epochs, float(np.mean(losses)), 100 * correct / max(seen, 1),
                      100 * acc, time.perf_counter() - t0))
    print("test accuracy: {:.2f}%".format(100 * acc))
    print("total wall time: {:.1f} s".format(time.perf_counter() - start))
    return acc, losses


if __name__ == "__main__":
    main()
