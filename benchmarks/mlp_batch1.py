"""Lasagne MNIST MLP (784-500-300-10, dropout 0.4, RMSprop) at batch 1: one training step.

    PYTHONPATH=python python benchmarks/mlp_batch1.py [--runs 3] [--warmup 5] [--reps 5] [--quick]

Same models and optimizer as mlp_batch500.py. One timed unit is 200 steps (100 with
--quick) and the time per step is reported. The warm-up (5 x 200 steps by default) lets
RMSprop's running averages decay towards denormal numbers, the regime in which PyTorch's
untuned step slows down (the issue's 3.8 ms; 1.04 ms with denormals flushed). singa
flushes denormals on its kernel threads by default; PyTorch runs with its defaults.
"""

import _harness
from mlp_batch500 import singa_mlp, torch_mlp

NBATCHES = 1000


def singa_setup(quick):
    n = 100 if quick else 200
    return singa_mlp(1, n, NBATCHES), n


def torch_setup(quick):
    n = 100 if quick else 200
    return torch_mlp(1, n, NBATCHES), n


if __name__ == "__main__":
    _harness.main("mlp_batch1", "MLP 784-500-300-10 batch 1, one training step",
                  singa_setup, torch_setup, unit="ms", target=0.1,
                  runs=3, warmup=5, reps=5, quick_runs=1, quick_warmup=1, quick_reps=2)
