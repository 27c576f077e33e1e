"""XceptionNet trained on random ImageNet-shaped data with the autograd API.

The model code is the one in SINGA's autograd documentation (SINGA 2.x style:
`autograd.Layer`, `autograd.Conv2d`, ...), which runs unchanged; it runs on the CPU,
grouped (depthwise) convolutions included, or on a CUDA GPU with ``--device cuda``
(model, data and optimizer state on ``device.create_cuda_gpu()``; each iteration's time
is taken after ``dev.Sync()``, so it covers the GPU's work).

    python examples/autograd/xceptionnet.py --batch-size 2 --iters 5
    python examples/autograd/xceptionnet.py --device cuda --batch-size 16 --iters 10
"""

import argparse
import time

from singa import autograd
from singa import tensor
from singa import device
from singa import opt

import numpy as np
from tqdm import trange


class Block(autograd.Layer):

    def __init__(self, in_filters, out_filters, reps, strides=1, padding=0, start_with_relu=True, grow_first=True):
        super(Block, self).__init__()

        if out_filters != in_filters or strides != 1:
            self.skip = autograd.Conv2d(in_filters, out_filters,
                                        1, stride=strides, padding=padding, bias=False)
            self.skipbn = autograd.BatchNorm2d(out_filters)
        else:
            self.skip = None

        self.layers = []

        filters = in_filters
        if grow_first:
            self.layers.append(autograd.ReLU())
            self.layers.append(autograd.SeparableConv2d(in_filters, out_filters,
                                                        3, stride=1, padding=1, bias=False))
            self.layers.append(autograd.BatchNorm2d(out_filters))
            filters = out_filters

        for i in range(reps - 1):
            self.layers.append(autograd.ReLU())
            self.layers.append(autograd.SeparableConv2d(filters, filters,
                                                        3, stride=1, padding=1, bias=False))
            self.layers.append(autograd.BatchNorm2d(filters))

        if not grow_first:
            self.layers.append(autograd.ReLU())
            self.layers.append(autograd.SeparableConv2d(in_filters, out_filters,
                                                        3, stride=1, padding=1, bias=False))
            self.layers.append(autograd.BatchNorm2d(out_filters))

        if not start_with_relu:
            self.layers = self.layers[1:]
        else:
            self.layers[0] = autograd.ReLU()

        if strides != 1:
            self.layers.append(autograd.MaxPool2d(3, strides, padding + 1))

        # A BatchNorm2d directly followed by a ReLU runs fused with it, as one Operation.
        # The ReLU stays in the list, skipped, so every layer keeps its index (and its
        # checkpoint name) and the block computes the same function.
        self.absorbed = set()
        for i in range(len(self.layers) - 1):
            if isinstance(self.layers[i], autograd.BatchNorm2d) and \
                    isinstance(self.layers[i + 1], autograd.ReLU):
                self.layers[i].activation = "RELU"
                self.absorbed.add(i + 1)

    def __call__(self, x):
        y = self.layers[0](x)
        for i, layer in enumerate(self.layers[1:], 1):
            if i in self.absorbed:
                continue
            if isinstance(y, tuple):
                y = y[0]
            y = layer(y)

        if self.skip is not None:
            skip = self.skip(x)
            skip = self.skipbn(skip)
        else:
            skip = x
        y = autograd.add(y, skip)
        return y


class Xception(autograd.Layer):
    """
    Xception optimized for the ImageNet dataset, as specified in
    https://arxiv.org/pdf/1610.02357.pdf
    """

    def __init__(self, num_classes=1000):
        """ Constructor
        Args:
            num_classes: number of classes
        """
        super(Xception, self).__init__()
        self.num_classes = num_classes

        self.conv1 = autograd.Conv2d(3, 32, 3, 2, 0, bias=False)
        self.bn1 = autograd.BatchNorm2d(32, activation="RELU")

        self.conv2 = autograd.Conv2d(32, 64, 3, 1, 1, bias=False)
        self.bn2 = autograd.BatchNorm2d(64, activation="RELU")

        self.block1 = Block(
            64, 128, 2, 2, padding=0, start_with_relu=False, grow_first=True)
        self.block2 = Block(
            128, 256, 2, 2, padding=0, start_with_relu=True, grow_first=True)
        self.block3 = Block(
            256, 728, 2, 2, padding=0, start_with_relu=True, grow_first=True)

        self.block4 = Block(
            728, 728, 3, 1, start_with_relu=True, grow_first=True)
        self.block5 = Block(
            728, 728, 3, 1, start_with_relu=True, grow_first=True)
        self.block6 = Block(
            728, 728, 3, 1, start_with_relu=True, grow_first=True)
        self.block7 = Block(
            728, 728, 3, 1, start_with_relu=True, grow_first=True)

        self.block8 = Block(
            728, 728, 3, 1, start_with_relu=True, grow_first=True)
        self.block9 = Block(
            728, 728, 3, 1, start_with_relu=True, grow_first=True)
        self.block10 = Block(
            728, 728, 3, 1, start_with_relu=True, grow_first=True)
        self.block11 = Block(
            728, 728, 3, 1, start_with_relu=True, grow_first=True)

        self.block12 = Block(
            728, 1024, 2, 2, start_with_relu=True, grow_first=False)

        self.conv3 = autograd.SeparableConv2d(1024, 1536, 3, 1, 1)
        self.bn3 = autograd.BatchNorm2d(1536, activation="RELU")

        # the ReLU after bn3 runs fused with it (activation="RELU")
        self.conv4 = autograd.SeparableConv2d(1536, 2048, 3, 1, 1)
        self.bn4 = autograd.BatchNorm2d(2048)

        self.globalpooling = autograd.MaxPool2d(10, 1)
        self.fc = autograd.Linear(2048, num_classes)

    def features(self, input):
        x = self.conv1(input)
        x = self.bn1(x)  # fused with its ReLU

        x = self.conv2(x)
        x = self.bn2(x)  # fused with its ReLU

        x = self.block1(x)
        x = self.block2(x)
        x = self.block3(x)
        x = self.block4(x)
        x = self.block5(x)
        x = self.block6(x)
        x = self.block7(x)
        x = self.block8(x)
        x = self.block9(x)
        x = self.block10(x)
        x = self.block11(x)
        x = self.block12(x)

        x = self.conv3(x)
        x = self.bn3(x)  # fused with its ReLU

        x = self.conv4(x)
        x = self.bn4(x)
        return x

    def logits(self, features):
        x = autograd.relu(features)
        x = self.globalpooling(x)
        x = autograd.flatten(x)
        x = self.fc(x)
        return x

    def __call__(self, input):
        x = self.features(input)
        x = self.logits(x)
        return x


def create_device(name):
    """The CPU device, or the CUDA GPU 0 for ``cuda``; where no GPU is usable, exits at
    once with the reason (SINGA_CUDA_FALLBACK=cpu runs on the CPU instead, with a
    warning)."""
    if name == "cpu":
        return device.get_default_device()
    try:
        return device.create_cuda_gpu()
    except RuntimeError as e:
        raise SystemExit("xceptionnet.py --device cuda: {}".format(e)) from None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--iters", type=int, default=20)
    parser.add_argument("--image-size", type=int, default=299)
    parser.add_argument("--num-classes", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                        help="where the model, the data and the optimizer state live")
    args = parser.parse_args()

    dev = create_device(args.device)
    on_gpu = dev.lang() != device.create_cpu_device().lang()
    if on_gpu:
        print("device: {} (id {})".format(dev.name(), dev.id()))
    dev.SetRandSeed(args.seed)
    np.random.seed(args.seed)
    model = Xception(num_classes=args.num_classes)

    IMG_SIZE = args.image_size
    batch_size = args.batch_size
    tx = tensor.Tensor((batch_size, 3, IMG_SIZE, IMG_SIZE), dev)
    ty = tensor.Tensor((batch_size,), dev, tensor.int32)
    x = np.random.randn(batch_size, 3, IMG_SIZE, IMG_SIZE).astype(np.float32)
    y = np.random.randint(0, args.num_classes, batch_size, dtype=np.int32)
    tx.copy_from_numpy(x)
    ty.copy_from_numpy(y)

    niters = args.iters
    sgd = opt.SGD(lr=0.1, momentum=0.9, weight_decay=1e-5)

    autograd.training = True
    times = []
    with trange(niters) as t:
        for b in t:
            start = time.perf_counter()
            x = model(tx)
            loss = autograd.softmax_cross_entropy(x, ty)
            for p, g in autograd.backward(loss):
                sgd.update(p, g)
            if on_gpu:
                dev.Sync()  # kernels run asynchronously: time the GPU's work too
            times.append(time.perf_counter() - start)
            t.set_postfix(loss="{:.4f}".format(float(tensor.to_numpy(loss)[0])))
    print("loss: {:.4f}".format(float(tensor.to_numpy(loss)[0])))
    steady = times[1:] if len(times) > 1 else times
    print("seconds per iteration: {:.3f} (median of {} after the first; first {:.3f})".format(
        float(np.median(steady)), len(steady), times[0]))


if __name__ == "__main__":
    main()
