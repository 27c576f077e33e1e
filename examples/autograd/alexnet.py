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
Training runs through ``Model.fit``: top-1 and top-5 accuracy (TopKAccuracy) are
reported per epoch, for training and (``--eval-data``) held-out data; the neon
schedules follow ``opt.epoch``, which fit sets each epoch. ``--checkpoint-dir`` keeps
the last checkpoints (every epoch, or every ``--checkpoint-every`` steps) with the
loader's position; ``--resume`` continues from the newest one, mid-epoch included;
Ctrl-C saves one and stops. ``--summary`` prints each layer's output shape for the
crop size (the smallest crop the network takes is 61: conv1 -> 15, pools -> 7, 3, 1).

    python examples/autograd/alexnet.py --data shards --eval-data val_shards \
        --checkpoint-dir ckpt --plot curves.png
"""

import argparse
import os
import time

import numpy as np

from singa import autograd, callbacks, device, layer, metrics, model, opt, tensor


class AlexNet(model.Model):
    """neon's AlexNet (one tower, 1000 classes by default)."""

    def __init__(self, num_classes=1000):
        super().__init__()
        self.conv1 = layer.Conv2d(64, 11, stride=4, padding=3, activation="RELU")
        self.pool1 = layer.MaxPool2d(3, 2)
        self.conv2 = layer.Conv2d(192, 5, padding=2, activation="RELU")
        self.pool2 = layer.MaxPool2d(3, 2)
        self.conv3 = layer.Conv2d(384, 3, padding=1, activation="RELU")
        self.conv4 = layer.Conv2d(256, 3, padding=1, activation="RELU")
        self.conv5 = layer.Conv2d(256, 3, padding=1, activation="RELU")
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
        x = self.pool1(self.conv1(x))
        x = self.pool2(self.conv2(x))
        x = self.conv3(x)
        x = self.conv4(x)
        x = self.pool5(self.conv5(x))
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


class SyntheticBatches:
    """Random (x, y) batches, the same for a given (seed, epoch)."""

    def __init__(self, batch_size, steps, num_classes, crop, seed):
        self.batch_size, self.steps, self.num_classes = batch_size, steps, num_classes
        self.crop, self.seed, self.epoch = crop, seed, 0

    def __len__(self):
        return self.steps

    def set_epoch(self, epoch):
        self.epoch = epoch

    def __iter__(self):
        rng = np.random.default_rng([self.seed, self.epoch])
        for _ in range(self.steps):
            x = rng.standard_normal((self.batch_size, 3, self.crop, self.crop), np.float32)
            y = rng.integers(0, self.num_classes, self.batch_size).astype(np.int32)
            yield x, y


class StepTimer(callbacks.Callback):
    """Adds the median seconds per step and images/s of the epoch to the logs."""

    def on_epoch_begin(self, epoch, logs=None):
        self.times, self.last = [], time.perf_counter()

    def on_batch_end(self, step, logs=None):
        now = time.perf_counter()
        self.times.append(now - self.last)
        self.last = now

    def on_epoch_end(self, epoch, logs=None):
        if self.times:
            t = float(np.median(self.times))
            logs["s_per_step"] = t
            logs["images_per_s"] = self.batch_size / t


def open_shards(path, args, train=True):
    """A streaming loader over a shard directory (writing shards first for an image tree)."""
    from singa.data.stream import ShardLoader
    from singa.data.shards import write_shards
    if not os.path.exists(os.path.join(path, "index.json")):
        out = path.rstrip("/") + "_shards"
        print("writing shards of {} into {}".format(path, out))
        write_shards(path, out, size=args.image_size, progress=not args.no_progress)
        path = out
    return ShardLoader(path, args.batch_size, shuffle=train, seed=args.seed, crop=args.crop,
                       flip=train, mean_subtract=True, drop_last=train, train=train,
                       workers=args.workers), path


def main(argv=None):
    p = argparse.ArgumentParser(description="Train neon's AlexNet with singa.")
    p.add_argument("--data", default=None, help="shard directory or class-per-folder images")
    p.add_argument("--eval-data", default=None, help="held-out shards/images for top-k accuracy")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--steps", type=int, default=None, help="steps per epoch (synthetic: 5)")
    p.add_argument("--eval-steps", type=int, default=None, help="evaluation batches per epoch")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--image-size", type=int, default=256, help="shard image size")
    p.add_argument("--crop", type=int, default=224)
    p.add_argument("--num-classes", type=int, default=None)
    p.add_argument("--workers", type=int, default=2, help="loader threads")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--checkpoint-dir", default=None, help="save checkpoints here")
    p.add_argument("--checkpoint-every", type=int, default=None,
                   help="also checkpoint every N steps (always at each epoch's end)")
    p.add_argument("--keep-last", type=int, default=3, help="checkpoints to keep")
    p.add_argument("--resume", action="store_true", help="continue from the newest checkpoint")
    p.add_argument("--summary", action="store_true", help="print the layer shapes first")
    p.add_argument("--plot", default=None, help="write the training curves to this PNG")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    if args.resume and not args.checkpoint_dir:
        p.error("--resume needs --checkpoint-dir")

    dev = device.get_default_device()
    dev.SetRandSeed(args.seed)
    np.random.seed(args.seed)

    eval_loader = None
    if args.data:
        train_data, shard_dir = open_shards(args.data, args, train=True)
        num_classes = args.num_classes or len(train_data.classes)
        if args.eval_data:
            eval_loader, _ = open_shards(args.eval_data, args, train=False)
        print("training on {} ({} images, {} classes)".format(
            shard_dir, train_data.num_samples, num_classes))
    else:
        num_classes = args.num_classes or 1000
        train_data = SyntheticBatches(args.batch_size, args.steps or 5, num_classes, args.crop,
                                      args.seed)
        print("training on synthetic data ({} classes)".format(num_classes))

    net = AlexNet(num_classes)
    net.set_optimizer(neon_optimizer())
    tx = tensor.Tensor((args.batch_size, 3, args.crop, args.crop), dev, requires_grad=False)
    if args.summary:
        net.summary(tx)
    net.compile([tx], is_train=True, use_graph=False, sequential=False)
    neon_init(net)

    timer = StepTimer()
    timer.batch_size = args.batch_size
    cbs = [timer]
    if eval_loader is not None:
        cbs.append(callbacks.EvaluateEvery(eval_loader, steps=args.eval_steps))
    if args.checkpoint_dir:
        cbs.append(callbacks.ModelCheckpoint(args.checkpoint_dir,
                                             every_n_steps=args.checkpoint_every,
                                             every_n_epochs=1,
                                             keep_last=args.keep_last, resume=args.resume))
    history = net.fit(train_data, epochs=args.epochs, steps_per_epoch=args.steps,
                      metrics=[metrics.TopKAccuracy(1, name="top1_accuracy"),
                               metrics.TopKAccuracy(5)],
                      callbacks=cbs, verbose=2 if args.no_progress else 1)
    if args.plot:
        history.plot(args.plot)
        print("wrote", args.plot)
    return history


if __name__ == "__main__":
    main()
