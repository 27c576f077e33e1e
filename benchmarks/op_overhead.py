"""Eager overhead per op: a 1-element add with requires_grad, forward + backward.

    PYTHONPATH=python python benchmarks/op_overhead.py [--runs 3] [--warmup 1] [--reps 7] [--quick]

singa runs autograd_overhead.py's loop (autograd.add, then autograd.backward); PyTorch
runs x + c, y.backward() and clears x.grad. One timed unit is 2,000 ops (500 with
--quick); the time per op is reported. Target (issue, section 3): <= 2x PyTorch.
"""

import _harness

ITERS, QUICK_ITERS = 2000, 500


def singa_setup(quick):
    from autograd_overhead import singa_add_fwd_bwd
    n = QUICK_ITERS if quick else ITERS
    return (lambda: singa_add_fwd_bwd(n)), n


def torch_setup(quick):
    import torch
    n = QUICK_ITERS if quick else ITERS
    x = torch.ones(1, requires_grad=True)
    c = torch.ones(1)

    def step():
        for _ in range(n):
            y = x + c
            y.backward()
            x.grad = None
    return step, n


if __name__ == "__main__":
    _harness.main("op_overhead", "1-element add, requires_grad: fwd+bwd per op",
                  singa_setup, torch_setup, unit="us", target=2.0,
                  runs=3, warmup=1, reps=7, quick_runs=1, quick_warmup=1, quick_reps=3)
