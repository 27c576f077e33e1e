"""MLP 16-16-1 at batch 1 in graph mode: forward + backward + SGD step.

    PYTHONPATH=python python benchmarks/mlp_tiny_graph.py [--runs 3] [--warmup 1] [--reps 7] [--quick]

singa: a Model (Linear 16, ReLU, Linear 1, mean-square error, SGD) compiled with
use_graph=True, so after the first step each step replays the recorded kernels in C++.
PyTorch: the eager step of mlp_tiny.py. The issue's target is <= 0.5x PyTorch eager.
"""

import _harness
from mlp_tiny import ITERS, QUICK_ITERS, LR, torch_setup


def singa_setup(quick):
    import numpy as np
    from singa import autograd, layer, model, opt, tensor

    class Tiny(model.Model):
        def __init__(self):
            super().__init__()
            self.fc1 = layer.Linear(16)
            self.fc2 = layer.Linear(1)
            self.loss_fn = layer.MeanSquareError()

        def forward(self, x):
            return self.fc2(autograd.relu(self.fc1(x)))

        def train_one_batch(self, x, y):
            out = self.forward(x)
            loss = self.loss_fn(out, y)
            self.optimizer(loss)
            return out, loss

    n = QUICK_ITERS if quick else ITERS
    rng = np.random.default_rng(0)
    tx = tensor.from_numpy(rng.standard_normal((1, 16)).astype(np.float32))
    ty = tensor.from_numpy(np.ones((1, 1), np.float32))
    tx.requires_grad = ty.requires_grad = False
    net = Tiny()
    net.set_optimizer(opt.SGD(lr=LR))
    net.compile([tx], is_train=True, use_graph=True, sequential=False)

    def step():
        for _ in range(n):
            net(tx, ty)
    return step, n


if __name__ == "__main__":
    _harness.main("mlp_tiny_graph", "MLP 16-16-1 batch 1, graph mode: fwd+bwd+SGD step",
                  singa_setup, torch_setup, unit="us", target=0.5,
                  runs=3, warmup=1, reps=7, quick_runs=1, quick_warmup=1, quick_reps=3)
