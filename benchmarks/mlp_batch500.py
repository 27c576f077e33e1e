"""Lasagne MNIST MLP (784-500-300-10, ReLU, dropout 0.4, RMSprop): one epoch of 50,000 at batch 500.

    PYTHONPATH=python python benchmarks/mlp_batch500.py [--runs 3] [--warmup 1] [--reps 3] [--quick]

singa runs examples/autograd/mlp.py's MLP (Glorot-uniform weights, RMSProp lr 0.001,
rho 0.9, eps 1e-6); PyTorch runs the same network written below. One timed unit is one
epoch: 100 steps over random MNIST-shaped data (pixels in [0, 1), labels 0-9). The data
are 10 distinct batches cycled (15.7 MB) rather than a 157 MB array, so that peak RSS
measures the framework rather than the data set.
"""

import _harness

IN, HIDDEN, CLASSES, DROPOUT = 784, (500, 300), 10, 0.4
LR, RHO, EPS = 0.001, 0.9, 1e-6


def _data(batch, nbatches):
    import numpy as np
    rng = np.random.default_rng(0)
    xs = rng.random((nbatches, batch, IN), dtype=np.float32)
    ys = rng.integers(0, CLASSES, (nbatches, batch)).astype(np.int32)
    return xs, ys


def singa_mlp(batch, steps, nbatches):
    """A step() running `steps` training steps of the example's MLP with singa."""
    from singa import device, opt, tensor
    ex = _harness.import_example("mlp")
    dev = device.get_default_device()
    dev.SetRandSeed(0)
    net = ex.MLP(HIDDEN, CLASSES, DROPOUT)
    net.set_optimizer(opt.RMSProp(lr=LR, rho=RHO, epsilon=EPS))
    tx = tensor.Tensor((batch, IN), dev, requires_grad=False)
    ty = tensor.Tensor((batch,), dev, tensor.int32, requires_grad=False)
    net.compile([tx], is_train=True, use_graph=True, sequential=False)
    ex.glorot_init(net)
    net.train()
    xs, ys = _data(batch, nbatches)
    pos = [0]

    def step():
        for _ in range(steps):
            i = pos[0] % nbatches
            pos[0] += 1
            tx.copy_from_numpy(xs[i])
            ty.copy_from_numpy(ys[i])
            net(tx, ty)
    return step


def torch_mlp_net(**optim_kw):
    """(net, optimizer): the example's MLP, initialisation and RMSprop in PyTorch
    (seeded with 0); ``optim_kw`` go to torch.optim.RMSprop. benchmarks/gpu.py builds it
    too."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    class TorchMLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(IN, HIDDEN[0])
            self.drop1 = nn.Dropout(DROPOUT)
            self.fc2 = nn.Linear(HIDDEN[0], HIDDEN[1])
            self.drop2 = nn.Dropout(DROPOUT)
            self.fc3 = nn.Linear(HIDDEN[1], CLASSES)

        def forward(self, x):
            x = self.drop1(F.relu(self.fc1(x)))
            x = self.drop2(F.relu(self.fc2(x)))
            return self.fc3(x)

    torch.manual_seed(0)
    net = TorchMLP()
    for m in (net.fc1, net.fc2, net.fc3):
        nn.init.xavier_uniform_(m.weight)
        nn.init.zeros_(m.bias)
    net.train()
    # PyTorch's eps sits outside the square root, singa's inside: same order of magnitude.
    optim = torch.optim.RMSprop(net.parameters(), lr=LR, alpha=RHO, eps=EPS, **optim_kw)
    return net, optim


def torch_mlp(batch, steps, nbatches, wrap=None):
    """The same network, initialisation and optimizer in PyTorch; ``wrap(net)`` (e.g.
    DistributedDataParallel) gives the module the steps run through."""
    import torch
    import torch.nn.functional as F
    net, optim = torch_mlp_net()
    xs, ys = _data(batch, nbatches)
    xs, ys = torch.from_numpy(xs), torch.from_numpy(ys).long()
    run = net if wrap is None else wrap(net)
    pos = [0]

    def step():
        for _ in range(steps):
            i = pos[0] % nbatches
            pos[0] += 1
            optim.zero_grad()
            loss = F.cross_entropy(run(xs[i]), ys[i])
            loss.backward()
            optim.step()
    return step


# --quick times 10 steps and scales the time to an epoch of 100.
def singa_setup(quick):
    return (singa_mlp(500, 10, 10), 0.1) if quick else (singa_mlp(500, 100, 10), 1)


def torch_setup(quick):
    return (torch_mlp(500, 10, 10), 0.1) if quick else (torch_mlp(500, 100, 10), 1)


if __name__ == "__main__":
    _harness.main("mlp_batch500", "MLP 784-500-300-10 batch 500, one epoch (100 steps)",
                  singa_setup, torch_setup, unit="s", target=0.5,
                  runs=3, warmup=1, reps=3, quick_runs=1, quick_warmup=1, quick_reps=1)
