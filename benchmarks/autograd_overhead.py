"""Per-op overhead of the autograd engine on tiny tensors, where Python dominates.

Prints microseconds (median of several repeats) for
  * a 1-element add with requires_grad, forward + backward, per op;
  * the same add forward only with autograd.training False;
  * a 16-16-1 MLP step at batch 1: forward, backward and an SGD update.
PyTorch's figures for the same loops appear beside them when ``import torch`` works.

    python benchmarks/autograd_overhead.py [--repeats 7] [--iters 2000]
"""

import argparse
import statistics
import time

import numpy as np

import _harness  # noqa: F401  (puts a dev build of python/ on sys.path)
from singa import autograd, singa_wrap, tensor


def _median_us(fn, iters, repeats):
    fn(max(iters // 10, 1))  # warm up
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(iters)
        runs.append((time.perf_counter() - t0) / iters * 1e6)
    return statistics.median(runs)


# ------------------------------------------------------------------- singa

def singa_add_fwd_bwd(iters):
    autograd.training = True
    x = tensor.Tensor(data=np.ones(1, np.float32), requires_grad=True, stores_grad=True)
    c = tensor.Tensor(data=np.ones(1, np.float32), requires_grad=False)
    for _ in range(iters):
        y = autograd.add(x, c)
        for _p, _g in autograd.backward(y):
            pass


def singa_add_fwd(iters):
    autograd.training = False
    x = tensor.Tensor(data=np.ones(1, np.float32))
    c = tensor.Tensor(data=np.ones(1, np.float32))
    for _ in range(iters):
        autograd.add(x, c)


def _singa_mlp():
    rng = np.random.default_rng(0)

    def p(shape, std):
        return tensor.Tensor(data=rng.normal(0, std, shape).astype(np.float32),
                             requires_grad=True, stores_grad=True)
    params = (p((16, 16), 0.25), p((16,), 0.0), p((16, 1), 0.25), p((1,), 0.0))
    x = tensor.Tensor(data=rng.normal(size=(1, 16)).astype(np.float32), requires_grad=False)
    t = tensor.Tensor(data=np.ones((1, 1), np.float32), requires_grad=False)
    return params, x, t


def singa_mlp_step(iters, lr=0.01):
    autograd.training = True
    (w1, b1, w2, b2), x, t = _singa_mlp()
    for _ in range(iters):
        h = autograd.relu(autograd.add_bias(autograd.matmul(x, w1), b1))
        y = autograd.add_bias(autograd.matmul(h, w2), b2)
        loss = autograd.mse_loss(y, t)
        for p, g in autograd.backward(loss):
            singa_wrap.Axpy(-lr, g.data, p.data)


# ------------------------------------------------------------------- torch

def torch_benchmarks():
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)

    def add_fwd_bwd(iters):
        x = torch.ones(1, requires_grad=True)
        c = torch.ones(1)
        for _ in range(iters):
            y = x + c
            y.backward()
            x.grad = None

    def add_fwd(iters):
        x, c = torch.ones(1), torch.ones(1)
        with torch.no_grad():
            for _ in range(iters):
                x + c

    def mlp_step(iters, lr=0.01):
        g = torch.Generator().manual_seed(0)
        w1 = (torch.randn(16, 16, generator=g) * 0.25).requires_grad_()
        b1 = torch.zeros(16, requires_grad=True)
        w2 = (torch.randn(16, 1, generator=g) * 0.25).requires_grad_()
        b2 = torch.zeros(1, requires_grad=True)
        x, t = torch.randn(1, 16, generator=g), torch.ones(1, 1)
        params = (w1, b1, w2, b2)
        for _ in range(iters):
            y = torch.relu(x @ w1 + b1) @ w2 + b2
            loss = ((y - t) ** 2).mean()
            loss.backward()
            with torch.no_grad():
                for p in params:
                    p.add_(p.grad, alpha=-lr)
                    p.grad = None

    return {"add": add_fwd_bwd, "add_fwd": add_fwd, "mlp": mlp_step}, torch.__version__


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--iters", type=int, default=2000)
    args = parser.parse_args()

    rows = [("add (1 element), forward+backward, per op", "add", singa_add_fwd_bwd),
            ("add (1 element), forward only, training off", "add_fwd", singa_add_fwd),
            ("MLP 16-16-1, batch 1: fwd+bwd+SGD step", "mlp", singa_mlp_step)]
    torch_side = torch_benchmarks()
    old = autograd.training
    try:
        results = [(label, _median_us(fn, args.iters, args.repeats), key)
                   for label, key, fn in rows]
    finally:
        autograd.training = old
    header = "{:<48} {:>12}".format("microseconds (median of {})".format(args.repeats), "singa")
    if torch_side is not None:
        header += " {:>14}".format("torch " + torch_side[1])
    print(header)
    for label, us, key in results:
        line = "{:<48} {:>12.1f}".format(label, us)
        if torch_side is not None:
            line += " {:>14.1f}".format(_median_us(torch_side[0][key], args.iters, args.repeats))
        print(line)
    if torch_side is None:
        print("(PyTorch is not installed: no comparison column)")


if __name__ == "__main__":
    main()
