"""Run by tests/gpu/test_nccl.py in a process of its own (MPI starts there as a job of
one rank): trains the small MLP of tests/dist/train_variants.py on the GPU with plain SGD
and with DistOpt(backend="nccl") for each variant, and writes OUT/<variant>.npz with
both runs' parameters and the transport DistOpt used.

Usage: python nccl_step.py OUT variant...   (SINGA_GPU_TEST_DEVICE=test: on a host-memory
test device, with the one-rank NCCL stand-in of _nccl_standin.py.)
"""

import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "dist"))

from singa import device, opt, tensor  # noqa: E402
from singa.dist import nccl_comm  # noqa: E402

import train_variants  # noqa: E402
from train_variants import STEPS  # noqa: E402


class StepMLP(train_variants.MLP):
    """train_variants' MLP, plus "topk_all": top-K sparse updates sending every entry
    (spars=1), which on one rank must update as plain SGD does."""

    def train_one_batch(self, x, y):
        if self.option != "topk_all":
            return super().train_one_batch(x, y)
        out = self.forward(x)
        loss = self.loss(out, y)
        self.optimizer.backward_and_sparse_update(loss, topK=True, spars=1.0)
        return out, loss


def gpu_device():
    if os.environ.get("SINGA_GPU_TEST_DEVICE") == "test":
        import _nccl_standin
        nccl_comm._native = lambda: _nccl_standin.OneRankNccl
        return device.create_test_device(host_memory=False)
    return device.create_cuda_gpu()


def train(dev, option, optimizer, xs, ys, use_graph):
    dev.SetRandSeed(0)
    m = StepMLP()
    m.option = option
    tx = tensor.Tensor(xs.shape[1:], dev)
    ty = tensor.Tensor(ys.shape[1:], dev, tensor.int32)
    m.set_optimizer(optimizer)
    m.compile([tx], is_train=True, use_graph=use_graph, sequential=True, strict=True)
    for step in range(STEPS):
        tx.copy_from_numpy(xs[step])
        ty.copy_from_numpy(ys[step])
        m(tx, ty)
    return {k: tensor.to_numpy(v) for k, v in m.get_params().items()}, \
        m._graph_step.graph is not None


def main():
    out, variants = sys.argv[1], sys.argv[2:]
    dev = gpu_device()
    xs, ys = train_variants.data(1, slice(None))
    for variant in variants:
        if variant == "mixed":
            mixed(dev, out)
            continue
        option = variant.replace("_graph", "").replace("graph", "plain")
        graph = "graph" in variant
        plain, _ = train(dev, "plain", opt.SGD(lr=0.1, momentum=0.9), xs, ys, graph)
        dist = opt.DistOpt(opt.SGD(lr=0.1, momentum=0.9), timeout=60, backend="nccl")
        params, replayed = train(dev, "topk_all" if option == "topk" else option, dist, xs, ys, graph)
        np.savez(os.path.join(out, variant + ".npz"), backend=dist.backend,
                 bytes_sent=dist._wire.bytes_sent, replayed=replayed,
                 **{"plain." + k: v for k, v in plain.items()},
                 **{"dist." + k: v for k, v in params.items()})


def mixed(dev, out):
    """A GPU tensor chooses NCCL; a host tensor sent after it must be refused."""
    dist = opt.DistOpt(opt.SGD(lr=0.1), timeout=60, backend="nccl")
    on_gpu = tensor.from_numpy(np.ones(3, np.float32))
    on_gpu.to_device(dev)
    dist.all_reduce(on_gpu)
    try:
        dist.all_reduce(tensor.from_numpy(np.ones(3, np.float32)))
        error = ""
    except ValueError as e:
        error = str(e)
    np.savez(os.path.join(out, "mixed.npz"), backend=dist.backend, error=error)


if __name__ == "__main__":
    main()
