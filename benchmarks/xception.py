"""XceptionNet, batch 2, 299 x 299: one training step.

    PYTHONPATH=python python benchmarks/xception.py [--runs 3] [--warmup 2] [--reps 4] [--quick]

singa runs examples/autograd/xceptionnet.py's Xception the way that example trains it
(autograd.backward + SGD lr 0.1, momentum 0.9, weight decay 1e-5, softmax cross-entropy);
PyTorch runs the same network written below block by block (separable convolutions =
depthwise 3x3 + pointwise 1x1 without bias, batch norm with singa's momentum 0.9, i.e.
PyTorch momentum 0.1). Random 3 x 299 x 299 images, 1000 classes.
"""

import _harness
from cifar_cnn import _data, torch_model_step

BATCH, SIZE, CLASSES, NBATCHES = 2, 299, 1000, 2
LR, MOMENTUM, WD = 0.1, 0.9, 1e-5


def singa_setup(quick):
    from singa import autograd, device, opt, tensor
    ex = _harness.import_example("xceptionnet")
    dev = device.get_default_device()
    dev.SetRandSeed(0)
    model = ex.Xception(num_classes=CLASSES)
    sgd = opt.SGD(lr=LR, momentum=MOMENTUM, weight_decay=WD)
    tx = tensor.Tensor((BATCH, 3, SIZE, SIZE), dev, requires_grad=False)
    ty = tensor.Tensor((BATCH,), dev, tensor.int32, requires_grad=False)
    xs, ys = _data((BATCH, 3, SIZE, SIZE), NBATCHES, CLASSES)
    autograd.training = True
    pos = [0]

    def step():
        i = pos[0] % NBATCHES
        pos[0] += 1
        tx.copy_from_numpy(xs[i])
        ty.copy_from_numpy(ys[i])
        loss = autograd.softmax_cross_entropy(model(tx), ty)
        for p, g in autograd.backward(loss):
            sgd.update(p, g)
    return step, 1


def torch_xception(num_classes=CLASSES):
    """The PyTorch twin of the example's Xception (seeded with 0); benchmarks/gpu.py
    builds it too."""
    import torch
    from torch import nn

    def bn(c):
        return nn.BatchNorm2d(c, momentum=0.1)

    class SeparableConv2d(nn.Module):
        def __init__(self, cin, cout, k, stride=1, padding=0):
            super().__init__()
            self.depthwise = nn.Conv2d(cin, cin, k, stride, padding, groups=cin, bias=False)
            self.pointwise = nn.Conv2d(cin, cout, 1, bias=False)

        def forward(self, x):
            return self.pointwise(self.depthwise(x))

    class Block(nn.Module):
        def __init__(self, cin, cout, reps, strides=1, padding=0, start_with_relu=True,
                     grow_first=True):
            super().__init__()
            if cout != cin or strides != 1:
                self.skip = nn.Conv2d(cin, cout, 1, stride=strides, padding=padding, bias=False)
                self.skipbn = bn(cout)
            else:
                self.skip = None
            layers, filters = [], cin
            if grow_first:
                layers += [nn.ReLU(), SeparableConv2d(cin, cout, 3, 1, 1), bn(cout)]
                filters = cout
            for _ in range(reps - 1):
                layers += [nn.ReLU(), SeparableConv2d(filters, filters, 3, 1, 1), bn(filters)]
            if not grow_first:
                layers += [nn.ReLU(), SeparableConv2d(cin, cout, 3, 1, 1), bn(cout)]
            if not start_with_relu:
                layers = layers[1:]
            if strides != 1:
                layers.append(nn.MaxPool2d(3, strides, padding + 1))
            self.rep = nn.Sequential(*layers)

        def forward(self, x):
            skip = self.skipbn(self.skip(x)) if self.skip is not None else x
            return self.rep(x) + skip

    class Xception(nn.Module):
        def __init__(self, num_classes):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 32, 3, 2, 0, bias=False)
            self.bn1 = bn(32)
            self.conv2 = nn.Conv2d(32, 64, 3, 1, 1, bias=False)
            self.bn2 = bn(64)
            blocks = [Block(64, 128, 2, 2, start_with_relu=False),
                      Block(128, 256, 2, 2), Block(256, 728, 2, 2)]
            blocks += [Block(728, 728, 3, 1) for _ in range(8)]
            blocks += [Block(728, 1024, 2, 2, grow_first=False)]
            self.blocks = nn.Sequential(*blocks)
            self.conv3 = SeparableConv2d(1024, 1536, 3, 1, 1)
            self.bn3 = bn(1536)
            self.conv4 = SeparableConv2d(1536, 2048, 3, 1, 1)
            self.bn4 = bn(2048)
            self.pool = nn.MaxPool2d(10, 1)
            self.fc = nn.Linear(2048, num_classes)

        def forward(self, x):
            x = torch.relu(self.bn1(self.conv1(x)))
            x = torch.relu(self.bn2(self.conv2(x)))
            x = self.blocks(x)
            x = torch.relu(self.bn3(self.conv3(x)))
            x = self.bn4(self.conv4(x))
            x = self.pool(torch.relu(x))
            return self.fc(torch.flatten(x, 1))

    torch.manual_seed(0)
    return Xception(num_classes)


def torch_optimizer(net):
    import torch
    return torch.optim.SGD(net.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WD)


def torch_setup(quick):
    net = torch_xception(CLASSES)
    sgd = torch_optimizer(net)
    return torch_model_step(net, sgd, (BATCH, 3, SIZE, SIZE), CLASSES, nbatches=NBATCHES), 1


if __name__ == "__main__":
    _harness.main("xception", "XceptionNet batch 2, 299x299, one training step",
                  singa_setup, torch_setup, unit="ms", target=0.7,
                  runs=3, warmup=2, reps=4, quick_runs=1, quick_warmup=1, quick_reps=1)
