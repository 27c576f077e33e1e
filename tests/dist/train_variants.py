"""Launched by tests/test_dist_train.py under ``mpiexec -n 2``: trains one small MLP per
DistOpt variant and writes each rank's parameters and traffic to OUT/<variant>.rank<r>.npz.

Usage: python train_variants.py OUT [variant ...]
Variants: plain, graph (plain under Model.compile(use_graph=True)), half, half_graph,
partial, topk, threshold, topk_graph.
"""

import os
import sys

import numpy as np

from singa import device, layer, model, opt, singa_wrap, tensor

STEPS, BATCH, FEATURES, CLASSES = 3, 8, 12, 4


class MLP(model.Model):
    """Linear - ReLU - Linear, softmax cross-entropy: no dropout, no batch norm, so
    2 ranks x batch B compute exactly what 1 process does with batch 2B."""

    def __init__(self):
        super().__init__()
        self.l1 = layer.Linear(16)
        self.relu = layer.ReLU()
        self.l2 = layer.Linear(CLASSES)
        self.loss = layer.SoftMaxCrossEntropy()
        self.option = "plain"

    def forward(self, x):
        return self.l2(self.relu(self.l1(x)))

    def train_one_batch(self, x, y):
        out = self.forward(x)
        loss = self.loss(out, y)
        o = self.optimizer
        if self.option == "plain":
            o(loss)
        elif self.option == "half":
            # 20 elements: l1.W, l1.b, l2.W and l2.b in 4 buckets, some of which may
            # complete while backward still runs (and graph mode records)
            o.backward_and_update_half(loss, threshold=20)
        elif self.option == "partial":
            # 100 elements: l1.W (192) alone, then l1.b + l2.W + l2.b, two chunks
            o.backward_and_partial_update(loss, threshold=100)
        elif self.option == "topk":
            o.backward_and_sparse_update(loss, topK=True, spars=0.25)
        elif self.option == "threshold":
            o.backward_and_sparse_update(loss, topK=False, spars=0.01)
        return out, loss


def data(world, rows):
    """Every step's global batch of ``world * BATCH`` rows (seeded), cut to ``rows``."""
    rng = np.random.RandomState(7)
    xs = rng.randn(STEPS, world * BATCH, FEATURES).astype(np.float32)
    ys = rng.randint(0, CLASSES, size=(STEPS, world * BATCH)).astype(np.int32)
    return xs[:, rows], ys[:, rows]


def train(variant, optimizer, xs, ys):
    """Trains a fresh MLP for STEPS steps; returns its parameters and whether graph
    mode replayed the steps."""
    dev = device.get_default_device()
    dev.SetRandSeed(0)
    m = MLP()
    m.option = variant.replace("_graph", "").replace("graph", "plain")
    tx = tensor.Tensor(xs.shape[1:], dev)
    ty = tensor.Tensor(ys.shape[1:], dev, tensor.int32)
    m.set_optimizer(optimizer)
    # strict: a step graph mode cannot replay raises instead of running eagerly
    m.compile([tx], is_train=True, use_graph="graph" in variant, sequential=True,
              strict=True)
    for step in range(STEPS):
        tx.copy_from_numpy(xs[step])
        ty.copy_from_numpy(ys[step])
        m(tx, ty)
    params = {k: tensor.to_numpy(v) for k, v in m.get_params().items()}
    return params, m._graph_step.graph is not None


def one_process(world):
    """What one process computes with SGD on the whole batch of ``world`` ranks."""
    xs, ys = data(world, slice(None))
    return train("plain", opt.SGD(lr=0.1, momentum=0.9), xs, ys)[0]


def main():
    out = sys.argv[1]
    variants = sys.argv[2:] or ["plain", "graph", "half", "half_graph", "partial", "topk",
                                "threshold", "topk_graph"]
    for variant in variants:
        dist = opt.DistOpt(opt.SGD(lr=0.1, momentum=0.9), timeout=60)
        rank = dist.global_rank
        xs, ys = data(dist.world_size, slice(rank * BATCH, (rank + 1) * BATCH))
        sent0 = dist.communicator.bytes_sent
        params, replayed = train(variant, dist, xs, ys)
        # rank 1 sends no initial parameters (rank 0 broadcasts them): gradients only
        np.savez(os.path.join(out, "{}.rank{}.npz".format(variant, rank)),
                 bytes_sent=dist.communicator.bytes_sent - sent0, replayed=replayed,
                 threads=singa_wrap.get_num_threads(), **params)


if __name__ == "__main__":
    main()
