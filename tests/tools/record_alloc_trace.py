"""Records the allocation trace that tests/test_gpu_allocator.py replays on the GPU caching
allocator: every block the CPU device allocates and releases over 20 training steps of the
CIFAR-10 CNN of examples/autograd/cnn.py (batch 100, random data: the sizes and their order
do not depend on the values), with a mark after each step.

    PYTHONPATH=python python tests/tools/record_alloc_trace.py

writes tests/data/cifar_cnn_alloc_trace.json.gz: {"events": [...], ...} where an event is
[0, id, bytes] (allocation number id), [1, id] (its release) or [2, step] (step `step`
ended). Each batch is copied into a tensor of the device's own memory, as a GPU's input
would be (NumPy memory shared with a CPU tensor is not the device's and is not traced).
"""

import argparse
import gzip
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
sys.path.insert(0, TESTS)

from _examples import load_example  # noqa: E402

from singa import device, opt, tensor  # noqa: E402

OUT = os.path.join(TESTS, "data", "cifar_cnn_alloc_trace.json.gz")


def record(steps=20, batch=100, seed=0):
    cnn = load_example("autograd", "cnn")
    dev = device.get_default_device()
    dev.SetRandSeed(seed)
    rng = np.random.default_rng(seed)
    dev.StartAllocTrace()
    try:
        net = cnn.CifarCNN()
        net.set_optimizer(opt.SGD(lr=0.005, momentum=0.9, weight_decay=0.004))
        tx = tensor.Tensor((batch, 3, 32, 32), dev, requires_grad=False)
        net.compile([tx], is_train=True, use_graph=False, sequential=False)
        net.train()
        for step in range(steps):
            x = tensor.Tensor((batch, 3, 32, 32), dev)
            x.copy_from_numpy(rng.standard_normal((batch, 3, 32, 32)).astype(np.float32))
            y = tensor.Tensor((batch,), dev, dtype=tensor.int32)
            y.copy_from_numpy(rng.integers(0, 10, batch).astype(np.int32))
            out, loss = net(x, y)
            float(tensor.to_numpy(loss)[0])
            del x, y, out, loss
            dev.MarkAllocTrace()
    finally:
        trace = dev.StopAllocTrace()
    events = []
    for kind, ident, size in trace:
        if kind == "a":
            events.append([0, ident, size])
        elif kind == "f":
            events.append([1, ident])
        else:
            events.append([2, ident])
    return {
        "what": "CPU device block allocations and releases, CIFAR-10 CNN "
                "(examples/autograd/cnn.py CifarCNN), SGD momentum, random data",
        "recorded_by": "tests/tools/record_alloc_trace.py",
        "batch": batch,
        "steps": steps,
        "format": "[0, id, bytes]: allocate; [1, id]: release; [2, step]: step ended",
        "events": events,
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--out", default=OUT)
    args = p.parse_args(argv)
    data = record(args.steps, args.batch)
    text = json.dumps(data, separators=(",", ":")).encode()
    with open(args.out, "wb") as f:
        # mtime 0: the same trace makes the same bytes
        with gzip.GzipFile(fileobj=f, mode="wb", mtime=0, filename="") as gz:
            gz.write(text)
    allocs = sum(1 for e in data["events"] if e[0] == 0)
    print("{}: {} events, {} allocations, {} bytes".format(
        args.out, len(data["events"]), allocs, os.path.getsize(args.out)))


if __name__ == "__main__":
    main()
