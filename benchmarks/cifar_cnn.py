"""Seed CIFAR-10 CNN (conv5x5 32/32/64, pools, LRN), batch 100: one training step.

    PYTHONPATH=python python benchmarks/cifar_cnn.py [--runs 3] [--warmup 3] [--reps 10] [--quick]

singa runs examples/autograd/cnn.py's CifarCNN (SGD lr 0.005, momentum 0.9, weight decay
0.004); PyTorch runs the same layers written below (floor-mode pooling as in singa, so
the dense layer sees 64 x 3 x 3). Random normalised 3 x 32 x 32 images, labels 0-9.
"""

import _harness

BATCH, CLASSES, NBATCHES = 100, 10, 4
LR, MOMENTUM, WD = 0.005, 0.9, 0.004


def _data(shape, nbatches, classes):
    import numpy as np
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((nbatches,) + shape, dtype=np.float32)
    ys = rng.integers(0, classes, (nbatches, shape[0])).astype(np.int32)
    return xs, ys


def singa_model_step(net, optimizer, shape, classes, nbatches=NBATCHES):
    """step() for a singa model.Model whose train_one_batch runs its optimizer."""
    from singa import device, tensor
    dev = device.get_default_device()
    dev.SetRandSeed(0)
    net.set_optimizer(optimizer)
    tx = tensor.Tensor(shape, dev, requires_grad=False)
    ty = tensor.Tensor((shape[0],), dev, tensor.int32, requires_grad=False)
    net.compile([tx], is_train=True, use_graph=True, sequential=False)
    net.train()
    xs, ys = _data(shape, nbatches, classes)
    pos = [0]

    def step():
        i = pos[0] % nbatches
        pos[0] += 1
        tx.copy_from_numpy(xs[i])
        ty.copy_from_numpy(ys[i])
        net(tx, ty)
    return step, net


def torch_model_step(net, optimizer, shape, classes, nbatches=NBATCHES, wrap=None):
    """step() for a PyTorch module: forward, cross-entropy, backward, optimizer step;
    ``wrap(net)`` (e.g. DistributedDataParallel) gives the module the steps run through."""
    import torch
    import torch.nn.functional as F
    xs, ys = _data(shape, nbatches, classes)
    xs, ys = torch.from_numpy(xs), torch.from_numpy(ys).long()
    net.train()
    net = net if wrap is None else wrap(net)
    pos = [0]

    def step():
        i = pos[0] % nbatches
        pos[0] += 1
        optimizer.zero_grad()
        loss = F.cross_entropy(net(xs[i]), ys[i])
        loss.backward()
        optimizer.step()
    return step


def singa_setup(quick):
    from singa import opt
    ex = _harness.import_example("cnn")
    sgd = opt.SGD(lr=LR, momentum=MOMENTUM, weight_decay=WD)
    return singa_model_step(ex.CifarCNN(CLASSES), sgd, (BATCH, 3, 32, 32), CLASSES)[0], 1


def torch_setup(quick, wrap=None):
    import torch
    import torch.nn.functional as F
    from torch import nn

    class TorchCifarCNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 32, 5, stride=1, padding=2)
            self.pool1 = nn.MaxPool2d(3, 2)
            self.lrn1 = nn.LocalResponseNorm(3, alpha=5e-5, beta=0.75, k=1.0)
            self.conv2 = nn.Conv2d(32, 32, 5, stride=1, padding=2)
            self.pool2 = nn.AvgPool2d(3, 2)
            self.lrn2 = nn.LocalResponseNorm(3, alpha=5e-5, beta=0.75, k=1.0)
            self.conv3 = nn.Conv2d(32, 64, 5, stride=1, padding=2)
            self.pool3 = nn.AvgPool2d(3, 2)
            self.fc = nn.Linear(64 * 3 * 3, CLASSES)

        def forward(self, x):
            x = self.lrn1(F.relu(self.pool1(self.conv1(x))))
            x = self.lrn2(self.pool2(F.relu(self.conv2(x))))
            x = self.pool3(F.relu(self.conv3(x)))
            return self.fc(torch.flatten(x, 1))

    torch.manual_seed(0)
    net = TorchCifarCNN()
    sgd = torch.optim.SGD(net.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WD)
    return torch_model_step(net, sgd, (BATCH, 3, 32, 32), CLASSES, wrap=wrap), 1


if __name__ == "__main__":
    _harness.main("cifar_cnn", "CIFAR-10 CNN batch 100, one training step",
                  singa_setup, torch_setup, unit="ms", target=0.7,
                  runs=3, warmup=3, reps=10, quick_runs=1, quick_warmup=1, quick_reps=2)
