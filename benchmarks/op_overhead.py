"""Eager overhead per op: a 1-element add with requires_grad, forward + backward.

    PYTHONPATH=python python benchmarks/op_overhead.py [--runs 3] [--warmup 1] [--reps 7] [--quick]

Each framework builds a chain of 100 adds y = y + c on a 1-element x that requires
grad, then runs one backward pass over the chain; the reported time is the total divided
by the number of adds, i.e. what one recorded op costs forward and backward, with the
one-off cost of starting a backward pass spread over the chain (mlp_tiny.py measures
a backward per step). One timed unit is 20 chains (5 with --quick). Target (issue 17,
point 3): eager per-op overhead <= 1.2x PyTorch's.
"""

import _harness

CHAIN, CHAINS, QUICK_CHAINS = 100, 20, 5


def singa_setup(quick):
    import numpy as np
    from singa import autograd, tensor
    autograd.training = True
    n = QUICK_CHAINS if quick else CHAINS
    x = tensor.Tensor(data=np.ones(1, np.float32), requires_grad=True, stores_grad=True)
    c = tensor.Tensor(data=np.ones(1, np.float32), requires_grad=False)

    def step():
        for _ in range(n):
            y = x
            for _ in range(CHAIN):
                y = autograd.add(y, c)
            for _p, _g in autograd.backward(y):
                pass
    return step, n * CHAIN


def torch_setup(quick):
    import torch
    n = QUICK_CHAINS if quick else CHAINS
    x = torch.ones(1, requires_grad=True)
    c = torch.ones(1)

    def step():
        for _ in range(n):
            y = x
            for _ in range(CHAIN):
                y = y + c
            y.backward()
            x.grad = None
    return step, n * CHAIN


if __name__ == "__main__":
    _harness.main("op_overhead", "1-element add, requires_grad: fwd+bwd per op",
                  singa_setup, torch_setup, unit="us", target=1.2,
                  runs=3, warmup=1, reps=7, quick_runs=1, quick_warmup=1, quick_reps=3)
