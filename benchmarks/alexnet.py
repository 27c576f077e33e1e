"""neon AlexNet, batch 16, 224 x 224: one training step.

    PYTHONPATH=python python benchmarks/alexnet.py [--runs 3] [--warmup 2] [--reps 5] [--quick]

singa runs examples/autograd/alexnet.py's AlexNet with neon_init() and neon_optimizer()
(weights: SGD lr 0.01, momentum 0.9, weight decay 0.0005; biases: lr 0.02, momentum 0.9);
PyTorch runs the same layers, initialisation and two parameter groups written below.
Random 3 x 224 x 224 images, 1000 classes.
"""

import _harness
from cifar_cnn import singa_model_step, torch_model_step

BATCH, CROP, CLASSES = 16, 224, 1000


def singa_setup(quick):
    ex = _harness.import_example("alexnet")
    step, net = singa_model_step(ex.AlexNet(CLASSES), ex.neon_optimizer(),
                                 (BATCH, 3, CROP, CROP), CLASSES, nbatches=2)
    ex.neon_init(net)
    return step, 1


def torch_alexnet(**optim_kw):
    """(net, optimizer): the PyTorch twin of the example's AlexNet with neon's
    initialisation (seeded with 0) and its two SGD parameter groups; ``optim_kw`` go to
    torch.optim.SGD. benchmarks/gpu.py builds it too."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    class TorchAlexNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 64, 11, stride=4, padding=3)
            self.pool1 = nn.MaxPool2d(3, 2)
            self.conv2 = nn.Conv2d(64, 192, 5, padding=2)
            self.pool2 = nn.MaxPool2d(3, 2)
            self.conv3 = nn.Conv2d(192, 384, 3, padding=1)
            self.conv4 = nn.Conv2d(384, 256, 3, padding=1)
            self.conv5 = nn.Conv2d(256, 256, 3, padding=1)
            self.pool5 = nn.MaxPool2d(3, 2)
            self.fc6 = nn.Linear(256 * 6 * 6, 4096)
            self.drop6 = nn.Dropout(0.5)
            self.fc7 = nn.Linear(4096, 4096)
            self.drop7 = nn.Dropout(0.5)
            self.fc8 = nn.Linear(4096, CLASSES)

        def forward(self, x):
            x = self.pool1(F.relu(self.conv1(x)))
            x = self.pool2(F.relu(self.conv2(x)))
            x = F.relu(self.conv3(x))
            x = F.relu(self.conv4(x))
            x = self.pool5(F.relu(self.conv5(x)))
            x = self.drop6(F.relu(self.fc6(torch.flatten(x, 1))))
            x = self.drop7(F.relu(self.fc7(x)))
            return self.fc8(x)

    torch.manual_seed(0)
    net = TorchAlexNet()
    bias_init = {"conv1": 0.0, "conv2": 1.0, "conv3": 0.0, "conv4": 1.0, "conv5": 1.0,
                 "fc6": 1.0, "fc7": 1.0, "fc8": -7.0}  # neon's, as in the example
    weights, biases = [], []
    with torch.no_grad():
        for name, p in net.named_parameters():
            lname, kind = name.split(".")
            if kind == "bias":
                p.fill_(bias_init[lname])
                biases.append(p)
            else:
                p.normal_(0.0, 0.01)
                weights.append(p)
    sgd = torch.optim.SGD([{"params": weights, "lr": 0.01, "weight_decay": 0.0005},
                           {"params": biases, "lr": 0.02, "weight_decay": 0.0}],
                          lr=0.01, momentum=0.9, **optim_kw)
    return net, sgd


def torch_setup(quick, wrap=None):
    net, sgd = torch_alexnet()
    return torch_model_step(net, sgd, (BATCH, 3, CROP, CROP), CLASSES, nbatches=2,
                            wrap=wrap), 1


if __name__ == "__main__":
    _harness.main("alexnet", "neon AlexNet batch 16, 224x224, one training step",
                  singa_setup, torch_setup, unit="ms", target=0.7,
                  runs=3, warmup=2, reps=5, quick_runs=1, quick_warmup=1, quick_reps=2)
