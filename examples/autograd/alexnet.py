"""The neon AlexNet tutorial's network and learning schedules, trained with singa.

Layers (neon's): conv 11x11x64 stride 4 pad 3, max pool 3/2, conv 5x5x192 pad 2,
max pool 3/2, conv 3x3x384, 3x3x256, 3x3x256 (pad 1), max pool 3/2, dense 4096, dropout,
dense 4096, dropout, dense 1000; ReLU after every conv/dense but the last; weights
Gaussian(0, 0.01), biases constant (0, 1, 0, 1, 1, 1, 1, -7).
Schedules: weights SGD momentum 0.9, lr 0.01, weight decay 0.0005, lr x0.15 at epochs
22, 44 and 65; biases lr 0.02, momentum 0.9, lr x0.1 at epoch 44.

    python examples/autograd/alexnet.py --steps 3 --batch-size 8       # synthetic data
    python examples/autograd/alexnet.py --data SHARD_OR_IMAGE_DIR --epochs 2

With --data, a directory written by `python -m singa.data.write_shards` is streamed
from disk; a class-per-folder image tree is first written into shards next to it.
Top-1 and top-5 accuracy are reported per epoch.
"""

import argparse
import os
import sys
import time

import numpy as np
from tqdm import tqdm

from singa import autograd, device, layer, model, opt, tensor


class AlexNet(model.Model):
    """neon's AlexNet (one tower, 1000 classes by default)."""

    def __init__(self, num_classes=1000):
        super().__init__()
        self.conv1 = layer.Conv2d(64, 11, stride=4, padding=3)
        self.pool1 = layer.MaxPool2d(3, 2)
        self.conv2 = layer.Conv2d(192, 5, padding=2)
        self.pool2 = layer.MaxPool2d(3, 2)
        self.conv3 = layer.Conv2d(384, 3, padding=1)
        self.conv4 = layer.Conv2d(256, 3, padding=1)
        self.conv5 = layer.Conv2d(256, 3, padding=1)
        self.pool5 = layer.MaxPool2d(3, 2)
        self.flatten = layer.Flatten()
        self.fc6 = layer.Linear(4096)
        self.drop6 = layer.Dropout(0.5)
        self.fc7 = layer.Linear(4096)
        self.drop7 = layer.Dropout(0.5)
        self.fc8 = layer.Linear(num_classes)
        self.loss_fn = layer.SoftMaxCrossEntropy()

    def forward(self, x):
        relu = autograd.relu
        x = self.pool1(relu(self.conv1(x)))
        x = self.pool2(relu(self.conv2(x)))
        x = relu(self.conv3(x))
        x = relu(self.conv4(x))
        x = self.pool5(relu(self.conv5(x)))
        x = self.drop6(relu(self.fc6(self.flatten(x))))
        x = self.drop7(relu(self.fc7(x)))
        return self.fc8(x)

    def train_one_batch(self, x, y):
        out = self.forward(x)
        loss = self.loss_fn(out, y)
        self.optimizer(loss)
        return out, loss


# neon's bias constants, layer by layer.
BIAS_INIT = {"conv1": 0.0, "conv2": 1.0, "conv3": 0.0, "conv4": 1.0, "conv5": 1.0,
             "fc6": 1.0, "fc7": 1.0, "fc8": -7.0}


def neon_init(net):
    """Gaussian(0, 0.01) weights and neon's constant biases."""
    for name, p in net.get_params().items():
        lname = name.split(".")[0]
        if p.ndim() == 1:
            p.set_value(BIAS_INIT.get(lname, 0.0))
        else:
            p.gaussian(0.0, 0.01)


def neon_optimizer():
    """MultiOptimizer: the default for weights, another for biases (neon's schedules)."""
    weights = opt.SGD(lr=opt.Schedule([22, 44, 65], 0.15, init_value=0.01), momentum=0.9,
                      weight_decay=0.0005)
    biases = opt.SGD(lr=opt.Schedule([44], 0.1, init_value=0.02), momentum=0.9)
    return opt.MultiOptimizer({"default": weights, "bias": biases})


def topk_correct(logits, labels, ks=(1, 5)):
    """Number of samples whose label is among the top-k scores, for each k."""
    order = np.argsort(-logits, axis=1)
    return [int((order[:, :k] == labels[:, None]).any(axis=1).sum()) for k in ks]


def synthetic_batches(batch_size, steps, num_classes, crop, seed):
    rng = np.random.RandomState(seed)
    for _ in range(steps):
        x = rng.randn(batch_size, 3, crop, crop).astype(np.float32)
        y = rng.randint(0, num_classes, batch_size).astype(np.int32)
        yield x, y


def open_shards(path, args, train=True):
    """A streaming loader over a shard directory (writing shards first for an image tree)."""
    from singa.data import shards as shard_mod  # noqa: F401  (the format lives there)
    from singa.data.stream import ShardLoader
    from singa.data.write_shards import write_shards
    if not os.path.exists(os.path.join(path, "index.json")):
        out = path.rstrip("/") + "_shards"
        print("writing shards of {} into {}".format(path, out))
        write_shards(path, out, size=args.image_size)
        path = out
    return ShardLoader(path, args.batch_size, shuffle=train, seed=args.seed,
                       crop=args.crop, flip=train, mean_subtract=True,
                       drop_last=train), path


def main(argv=None):
    p = argparse.ArgumentParser(description="Train neon's AlexNet with singa.")
    p.add_argument("--data", default=None, help="shard directory or class-per-folder images")
    p.add_argument("--eval-data", default=None, help="held-out shards/images for top-k accuracy")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--steps", type=int, default=None, help="steps per epoch (synthetic: 5)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--image-size", type=int, default=256, help="shard image size")
    p.add_argument("--crop", type=int, default=224)
    p.add_argument("--num-classes", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)

    dev = device.get_default_device()
    dev.SetRandSeed(args.seed)
    np.random.seed(args.seed)

    train_loader = eval_loader = None
    if args.data:
        train_loader, shard_dir = open_shards(args.data, args, train=True)
        num_classes = args.num_classes or train_loader.num_classes
        if args.eval_data:
            eval_loader, _ = open_shards(args.eval_data, args, train=False)
        print("training on {} ({} images, {} classes)".format(
            shard_dir, train_loader.num_samples, num_classes))
    else:
        num_classes = args.num_classes or 1000
        print("training on synthetic data ({} classes)".format(num_classes))

    net = AlexNet(num_classes)
    optimizer = neon_optimizer()
    net.set_optimizer(optimizer)
    tx = tensor.Tensor((args.batch_size, 3, args.crop, args.crop), dev, requires_grad=False)
    net.compile([tx], is_train=True, use_graph=False, sequential=False)
    neon_init(net)
    net.train()

    history = []
    for epoch in range(args.epochs):
        optimizer.epoch = epoch
        if train_loader is not None:
            train_loader.set_epoch(epoch)
            batches = iter(train_loader)
            total = len(train_loader) if args.steps is None else min(args.steps, len(train_loader))
        else:
            total = args.steps or 5
            batches = synthetic_batches(args.batch_size, total, num_classes, args.crop,
                                        args.seed + epoch)
        t0 = time.perf_counter()
        losses, top1, top5, seen, step_times = [], 0, 0, 0, []
        bar = tqdm(total=total, desc="epoch {}/{}".format(epoch + 1, args.epochs), leave=False,
                   disable=args.no_progress, file=sys.stdout)
        for i, (xb, yb) in enumerate(batches):
            if i >= total:
                break
            s = time.perf_counter()
            out, loss = net(tensor.from_numpy(xb, dev), tensor.from_numpy(yb, dev))
            logits = tensor.to_numpy(out)
            step_times.append(time.perf_counter() - s)
            losses.append(float(tensor.to_numpy(loss)[0]))
            c1, c5 = topk_correct(logits, yb)
            top1, top5, seen = top1 + c1, top5 + c5, seen + len(yb)
            bar.update(1)
            bar.set_postfix(loss="{:.3f}".format(losses[-1]))
        bar.close()
        if hasattr(batches, "close"):
            batches.close()
        line = ("epoch {}/{}: loss {:.4f}  train top-1 {:.2f}%  top-5 {:.2f}%  "
                "({:.1f} s, {:.3f} s/step)").format(
            epoch + 1, args.epochs, float(np.mean(losses)), 100 * top1 / max(seen, 1),
            100 * top5 / max(seen, 1), time.perf_counter() - t0, float(np.median(step_times)))
        if eval_loader is not None:
            net.eval()
            e1 = e5 = n = 0
            for xb, yb in eval_loader:
                with autograd.no_grad():
                    logits = tensor.to_numpy(net(tensor.from_numpy(xb, dev)))
                c1, c5 = topk_correct(logits, yb)
                e1, e5, n = e1 + c1, e5 + c5, n + len(yb)
            net.train()
            line += "  eval top-1 {:.2f}%  top-5 {:.2f}%".format(100 * e1 / n, 100 * e5 / n)
        print(line)
        history.append((float(np.mean(losses)), top1 / max(seen, 1), top5 / max(seen, 1)))
    return history


if __name__ == "__main__":
    main()
