"""One rank's work for benchmarks/dist.py: timed training steps, the all-reduce cost of a
model's gradients, and a short MNIST training run for the accuracy of each wire format.

Started by dist.py, as ``python _dist_work.py TASK.json`` (one process) or under
``mpiexec -n 2`` (two); every rank runs the same steps and rank 0 prints one JSON line
after the marker. The models are those of the single-process benchmarks (mlp_batch500.py,
cifar_cnn.py, alexnet.py), with the same batch per rank, so 2 ranks x batch B against
1 x B is weak scaling.
"""

import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import _harness  # noqa: E402  (puts a dev build of python/ on sys.path)

MARK = "@@DIST@@ "
TOPK_SPARS = 0.01          # top-K keeps 1% of each bucket's entries
MODELS = {                 # name: (per-rank input shape, classes)
    "mlp": ((500, 784), 10),
    "cifar_cnn": ((100, 3, 32, 32), 10),
    "alexnet": ((16, 3, 224, 224), 1000),
}
MODES = ("local", "plain", "half", "topk")


def rank_and_size():
    from singa.dist.env import launch_info
    info = launch_info()
    return info.rank, info.world_size


# ------------------------------------------------------------------------- singa side

def singa_optimizer(model):
    """The optimizer the single-process benchmark uses for ``model``."""
    from singa import opt
    if model == "mlp":
        from mlp_batch500 import EPS, LR, RHO
        return opt.RMSProp(lr=LR, rho=RHO, epsilon=EPS)
    if model == "cifar_cnn":
        from cifar_cnn import LR, MOMENTUM, WD
        return opt.SGD(lr=LR, momentum=MOMENTUM, weight_decay=WD)
    return _harness.import_example("alexnet").neon_optimizer()


def singa_net(model):
    if model == "mlp":
        from mlp_batch500 import CLASSES, DROPOUT, HIDDEN
        return _harness.import_example("mlp").MLP(HIDDEN, CLASSES, DROPOUT)
    if model == "cifar_cnn":
        return _harness.import_example("cnn").CifarCNN(MODELS[model][1])
    return _harness.import_example("alexnet").AlexNet(MODELS[model][1])


def dist_optimizer(base, mode, threshold):
    """A DistOpt whose ``__call__`` (what the examples' train_one_batch calls) takes the
    update path of ``mode`` with buckets of ``threshold`` elements."""
    from singa import opt

    class BenchDistOpt(opt.DistOpt):
        def __call__(self, loss):
            if mode == "plain":
                self.backward_and_update(loss, threshold=threshold)
            elif mode == "half":
                self.backward_and_update_half(loss, threshold=threshold)
            else:
                self.backward_and_sparse_update(loss, threshold=threshold, spars=TOPK_SPARS,
                                                topK=True, corr=True)

    return BenchDistOpt(base, buffSize=max(threshold, 1))


def singa_steps(task):
    """Times ``task['reps']`` training steps; returns times and bytes sent per step."""
    from singa import singa_wrap as sw
    from cifar_cnn import singa_model_step
    model, mode = task["model"], task["mode"]
    shape, classes = MODELS[model]
    base = singa_optimizer(model)
    optimizer = base if mode == "local" else dist_optimizer(base, mode, task["threshold"])
    sw.set_num_threads(task["threads"])     # DistOpt may have chosen a share of the cores
    step, net = singa_model_step(singa_net(model), optimizer, shape, classes, nbatches=2)
    if model == "mlp":
        _harness.import_example("mlp").glorot_init(net)
    elif model == "alexnet":
        _harness.import_example("alexnet").neon_init(net)
    comm = getattr(optimizer, "communicator", None)
    for _ in range(task["warmup"]):
        step()
    times, sent = [], []
    for _ in range(task["reps"]):
        before = getattr(comm, "bytes_sent", 0)
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
        sent.append(getattr(comm, "bytes_sent", 0) - before)
    grad_elements = sum(int(p.size()) for p in net.get_params().values())
    out = {"times": times, "grad_elements": grad_elements,
           "bytes_sent": sent if comm is not None and hasattr(comm, "bytes_sent") else None,
           "threads": sw.get_num_threads()}
    if comm is not None:
        out["comm_only"] = all_reduce_times(comm, grad_elements, task["threshold"],
                                            task["reps"])
    return out


def all_reduce_times(comm, elements, threshold, reps):
    """Seconds to sum ``elements`` float32 over the ranks in buckets of ``threshold``,
    with nothing else running: the communication a step would cost without overlap."""
    import numpy as np
    sizes = [threshold] * (elements // threshold)
    if elements % threshold:
        sizes.append(elements % threshold)
    buffers = [np.ones(n, np.float32) for n in sizes]
    for b in buffers:               # warm-up: MPI's first use of a size sets things up
        comm.all_reduce(b)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for b in buffers:
            comm.all_reduce(b)
        times.append(time.perf_counter() - t0)
    return times


def singa_pingpong(task):
    """All-reduce time against message size on this machine (alpha, beta of its link)."""
    import numpy as np
    from singa.dist import get_communicator
    comm = get_communicator()
    out = []
    for n in task["sizes"]:
        buf = np.ones(n, np.float32)
        comm.all_reduce(buf)
        t0 = time.perf_counter()
        for _ in range(task["reps"]):
            comm.all_reduce(buf)
        out.append({"elements": n, "seconds": (time.perf_counter() - t0) / task["reps"]})
    return {"all_reduce": out}


def singa_accuracy(task):
    """A short MNIST MLP run with one update path; the test accuracy it reaches."""
    from singa import device, tensor
    from singa.data import DataLoader, load_mnist_float
    (xtr, ytr), (xte, yte) = load_mnist_float(flatten=True)
    if task["train_samples"]:
        xtr, ytr = xtr[:task["train_samples"]], ytr[:task["train_samples"]]
    loader = DataLoader(xtr, ytr, batch_size=task["batch"], seed=0, drop_last=True)
    base = singa_optimizer("mlp")
    mode = task["mode"]
    optimizer = base if mode == "local" else dist_optimizer(base, mode, task["threshold"])
    ex = _harness.import_example("mlp")
    from mlp_batch500 import CLASSES, DROPOUT, HIDDEN
    dev = device.get_default_device()
    dev.SetRandSeed(0)
    net = ex.MLP(HIDDEN, CLASSES, DROPOUT)
    net.set_optimizer(optimizer)
    tx = tensor.Tensor((task["batch"], 784), dev, requires_grad=False)
    ty = tensor.Tensor((task["batch"],), dev, tensor.int32, requires_grad=False)
    net.compile([tx], is_train=True, use_graph=True, sequential=False)
    ex.glorot_init(net)
    comm = getattr(optimizer, "communicator", None)
    sent, by_epoch = 0, []
    for _ in range(task["epochs"]):
        net.train()
        for xb, yb in loader:
            tx.copy_from_numpy(xb)
            ty.copy_from_numpy(yb)
            before = getattr(comm, "bytes_sent", 0)
            net(tx, ty)
            sent += getattr(comm, "bytes_sent", 0) - before
        net.eval()
        correct = 0
        for i in range(0, len(xte), 1000):
            out = tensor.to_numpy(net.forward(tensor.from_numpy(xte[i:i + 1000])))
            correct += int((out.argmax(1) == yte[i:i + 1000]).sum())
        by_epoch.append(correct / len(xte))
    return {"accuracy": by_epoch[-1], "accuracy_by_epoch": by_epoch,
            "bytes_sent": sent if comm is not None else None,
            "steps": task["epochs"] * len(loader)}


# ------------------------------------------------------------------------- PyTorch side

def torch_init(task):
    import torch
    import torch.distributed as tdist
    rank, size = rank_and_size()
    torch.set_num_threads(task["threads"])
    if size > 1:
        tdist.init_process_group("gloo", init_method="tcp://127.0.0.1:{}".format(task["port"]),
                                 rank=rank, world_size=size)
    return size


def torch_steps(task):
    import torch
    size = torch_init(task)
    wrap = None
    if size > 1:
        from torch.nn.parallel import DistributedDataParallel

        def wrap(net):
            kw = {}
            if task.get("bucket_mb"):
                kw["bucket_cap_mb"] = task["bucket_mb"]
            return DistributedDataParallel(net, **kw)
    model = task["model"]
    if model == "mlp":
        import mlp_batch500
        step, per = mlp_batch500.torch_mlp(500, 1, 2, wrap=wrap), 1
    elif model == "cifar_cnn":
        import cifar_cnn
        step, per = cifar_cnn.torch_setup(task["quick"], wrap=wrap)
    else:
        import alexnet
        step, per = alexnet.torch_setup(task["quick"], wrap=wrap)
    for _ in range(task["warmup"]):
        step()
    times = []
    for _ in range(task["reps"]):
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) / per)
    if size > 1:
        import torch.distributed as tdist
        tdist.destroy_process_group()
    return {"times": times, "threads": torch.get_num_threads()}


TASKS = {"singa_steps": singa_steps, "singa_pingpong": singa_pingpong,
         "singa_accuracy": singa_accuracy, "torch_steps": torch_steps}


def main():
    with open(sys.argv[1]) as f:
        task = json.load(f)
    result = TASKS[task["task"]](task)
    rank, size = rank_and_size()
    if rank == 0:
        result.update(world_size=size)
        print(MARK + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
