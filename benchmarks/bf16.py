"""bfloat16 autocast against float32: training-step time and accuracy after short real-data
training, for the CIFAR-10 CNN (batch 100) and the MNIST MLP (784-500-300-10, batch 500).

    PYTHONPATH=python python benchmarks/bf16.py [--runs 3] [--reps 10] [--quick]
        [--mlp-epochs 3] [--cnn-epochs 5] [--no-accuracy] [--json benchmarks/bf16.json]

Step time: each run starts one child process per precision, alternating float32 and
bfloat16, so neither gets a warmer machine; a child compiles the model (graph mode, as
the other benchmarks) with ``precision=``, runs ``--warmup`` untimed steps, then ``--reps``
timed steps on random data, and reports wall and CPU time per step. The table shows
medians over runs. One more child per model and precision runs two steps with
ONEDNN_VERBOSE=1 and lists the oneDNN implementations the convolutions and matrix
products ran: these names say which instructions ran (e.g. ``avx512_core_amx``) whatever
the load of the machine.

Accuracy: the models train in both precisions from the same initial parameters and data
order: the MLP on MNIST (50,000 train images, examples/autograd/mlp.py's recipe: RMSprop
lr 0.001, dropout 0.4) for ``--mlp-epochs`` epochs, evaluated on the 10,000 test images;
the CNN on the vendored CIFAR-10 subset (4,000 train / 1,000 test, examples/autograd/cnn.py's
recipe: SGD lr 0.005, momentum 0.9, weight decay 0.004) for ``--cnn-epochs`` epochs.

On a CPU without avx512_bf16/amx_bf16 the bfloat16 runs stop with the RuntimeError of
singa.autocast unless ``--emulate`` (SINGA_BF16_EMULATE=1) asks for software rounding.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time

import _harness

_MARK = "@@BF16@@ "
_STEPS_MARK = "@@BF16 STEPS@@"
PRECISIONS = ("float32", "bfloat16")
MLP_BATCH, MLP_IN, MLP_HIDDEN, MLP_CLASSES, MLP_DROPOUT = 500, 784, (500, 300), 10, 0.4
CNN_BATCH, CNN_CLASSES = 100, 10


# ----------------------------------------------------------------- models and steps

def _mlp(precision, seed=0):
    from singa import device, opt, tensor
    ex = _harness.import_example("mlp")
    dev = device.get_default_device()
    dev.SetRandSeed(seed)
    net = ex.MLP(MLP_HIDDEN, MLP_CLASSES, MLP_DROPOUT)
    net.set_optimizer(opt.RMSProp(lr=0.001, rho=0.9, epsilon=1e-6))
    tx = tensor.Tensor((MLP_BATCH, MLP_IN), dev, requires_grad=False)
    net.compile([tx], is_train=True, use_graph=True, precision=precision)
    ex.glorot_init(net)
    net.train()
    return net, (MLP_BATCH, MLP_IN), MLP_CLASSES


def _cnn(precision, seed=0):
    from singa import device, opt, tensor
    ex = _harness.import_example("cnn")
    dev = device.get_default_device()
    dev.SetRandSeed(seed)
    net = ex.CifarCNN(CNN_CLASSES)
    net.set_optimizer(opt.SGD(lr=0.005, momentum=0.9, weight_decay=0.004))
    tx = tensor.Tensor((CNN_BATCH, 3, 32, 32), dev, requires_grad=False)
    net.compile([tx], is_train=True, use_graph=True, precision=precision)
    net.train()
    return net, (CNN_BATCH, 3, 32, 32), CNN_CLASSES


MODELS = {"mlp": _mlp, "cnn": _cnn}
TITLES = {"mlp": "MLP 784-500-300-10, batch 500", "cnn": "CIFAR-10 CNN, batch 100"}


def _random_step(model, precision):
    import numpy as np
    from singa import device, tensor
    net, shape, classes = MODELS[model](precision)
    dev = device.get_default_device()
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal(shape, dtype=np.float32) for _ in range(4)]
    ys = [rng.integers(0, classes, shape[0]).astype(np.int32) for _ in range(4)]
    tx = tensor.Tensor(shape, dev, requires_grad=False)
    ty = tensor.Tensor((shape[0],), dev, tensor.int32, requires_grad=False)
    pos = [0]

    def step():
        i = pos[0] % len(xs)
        pos[0] += 1
        tx.copy_from_numpy(xs[i])
        ty.copy_from_numpy(ys[i])
        net(tx, ty)
    return step


def _child_time(model, precision, warmup, reps, threads):
    from singa import singa_wrap
    singa_wrap.set_num_threads(threads)
    step = _random_step(model, precision)
    for _ in range(warmup):
        step()
    wall, cpu = [], []
    for _ in range(reps):
        c0, t0 = time.process_time(), time.perf_counter()
        step()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return {"wall_ms": [1e3 * t for t in wall], "cpu_ms": [1e3 * t for t in cpu]}


def _child_kernels(model, precision, threads):
    from singa import singa_wrap
    singa_wrap.set_num_threads(threads)
    step = _random_step(model, precision)
    # compile's parameter-creating forward runs outside autocast: log only the steps
    print(_STEPS_MARK, flush=True)
    step()
    step()  # the second step replays the recorded graph
    return {}


# oneDNN 3.x verbose lines: onednn_verbose,[timestamp,]exec,cpu,<primitive>,<impl>,<prop>,...
_VERBOSE = re.compile(r"^(?:onednn|dnnl)_verbose,(?:[^,]*,)?exec,cpu,([a-z_]+),([^,]+),")


def _kernels(stdout):
    """{"primitive impl": count} of the convolutions and matmuls in oneDNN's verbose log
    of the training steps."""
    counts = {}
    lines = stdout.splitlines()
    for line in lines[lines.index(_STEPS_MARK) + 1:]:
        m = _VERBOSE.match(line)
        if m and m.group(1) in ("convolution", "matmul", "inner_product"):
            key = "{} {}".format(m.group(1), m.group(2))
            counts[key] = counts.get(key, 0) + 1
    return counts


# ---------------------------------------------------------------------- accuracy

def _mlp_accuracy(precision, epochs, seed):
    import numpy as np
    from singa import tensor
    from singa.data import DataLoader, mnist_split
    (xtr, ytr), _, (xte, yte) = mnist_split(None, flatten=True)
    net, _, _ = _mlp(precision, seed)
    np.random.seed(seed)
    train = DataLoader(xtr, ytr, MLP_BATCH, shuffle=True, seed=seed, drop_last=True)
    return _train_and_test(net, train, xte, yte, epochs, MLP_BATCH, tensor)


def _cnn_accuracy(precision, epochs, seed):
    import numpy as np
    from singa import tensor
    from singa.data import DataLoader
    ex = _harness.import_example("cnn")
    xtr, ytr, xte, yte = ex.load(argparse.Namespace(mnist=False, data_dir=None))
    net, _, _ = _cnn(precision, seed)
    np.random.seed(seed)
    train = DataLoader(xtr, ytr, CNN_BATCH, shuffle=True, seed=seed, drop_last=True)
    return _train_and_test(net, train, xte, yte, epochs, CNN_BATCH, tensor)


def _train_and_test(net, train, xte, yte, epochs, batch, tensor):
    import numpy as np
    from singa import autograd, device
    dev = device.get_default_device()
    tx = tensor.Tensor((batch,) + tuple(xte.shape[1:]), dev, requires_grad=False)
    ty = tensor.Tensor((batch,), dev, tensor.int32, requires_grad=False)
    losses, t0 = [], time.perf_counter()
    for epoch in range(epochs):
        train.set_epoch(epoch)
        for xb, yb in train:
            tx.copy_from_numpy(xb)
            ty.copy_from_numpy(yb)
            _, loss = net(tx, ty)
            losses.append(float(tensor.to_numpy(loss)[0]))
    train_s = time.perf_counter() - t0
    net.eval()
    correct = 0
    with autograd.no_grad():
        for i in range(0, len(xte), batch):
            out = net(tensor.from_numpy(np.ascontiguousarray(xte[i:i + batch]), dev))
            correct += int((tensor.to_numpy(out).argmax(1) == yte[i:i + batch]).sum())
    return {"test_accuracy": correct / len(xte), "final_loss": float(np.mean(losses[-10:])),
            "train_s": train_s, "epochs": epochs}


ACCURACY = {"mlp": _mlp_accuracy, "cnn": _cnn_accuracy}


# -------------------------------------------------------------------------- parent side

def _run_child(args, task, model, precision, extra_env=None):
    cmd = [sys.executable, os.path.abspath(__file__), "--child", task, model, precision,
           "--warmup", str(args.warmup), "--reps", str(args.reps), "--threads",
           str(args.threads), "--mlp-epochs", str(args.mlp_epochs), "--cnn-epochs",
           str(args.cnn_epochs)]
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    if args.emulate:
        env["SINGA_BF16_EMULATE"] = "1"
    env.update(extra_env or {})
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    for line in proc.stdout.splitlines():
        if line.startswith(_MARK):
            out = json.loads(line[len(_MARK):])
            if task == "kernels":
                out["kernels"] = _kernels(proc.stdout)
            return out
    raise RuntimeError("{} {} {} child failed (rc {}):\n{}".format(
        task, model, precision, proc.returncode, proc.stderr[-3000:]))


def _median(xs):
    return statistics.median(xs) if xs else float("nan")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=3, help="child processes per precision")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--reps", type=int, default=10, help="timed steps per child")
    p.add_argument("--threads", type=int, default=_harness.THREADS)
    p.add_argument("--mlp-epochs", type=int, default=3)
    p.add_argument("--cnn-epochs", type=int, default=5)
    p.add_argument("--models", default="mlp,cnn", help="comma-separated: mlp, cnn")
    p.add_argument("--no-accuracy", action="store_true", help="step times only")
    p.add_argument("--quick", action="store_true",
                   help="1 run of 3 steps, 1 epoch each (checks the script, measures little)")
    p.add_argument("--emulate", action="store_true",
                   help="allow a CPU without bfloat16 instructions (SINGA_BF16_EMULATE=1)")
    p.add_argument("--json", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                  "bf16.json"))
    p.add_argument("--child", nargs=3, metavar=("TASK", "MODEL", "PRECISION"),
                   help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        task, model, precision = args.child
        if task == "time":
            out = _child_time(model, precision, args.warmup, args.reps, args.threads)
        elif task == "kernels":
            out = _child_kernels(model, precision, args.threads)
        else:
            from singa import singa_wrap
            singa_wrap.set_num_threads(args.threads)
            epochs = args.mlp_epochs if model == "mlp" else args.cnn_epochs
            out = ACCURACY[model](precision, epochs, seed=0)
        print(_MARK + json.dumps(out), flush=True)
        return None
    if args.quick:
        args.runs, args.warmup, args.reps, args.mlp_epochs, args.cnn_epochs = 1, 1, 3, 1, 1
    models = [m for m in args.models.split(",") if m]
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        p.error("unknown models {} (known: {})".format(unknown, ", ".join(MODELS)))

    from singa import autocast, singa_wrap
    results = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
               "cpu_bf16_native": autocast.native_bf16(),
               "missing_cpu_flags": autocast.missing_cpu_flags(),
               "conv_backend": singa_wrap.get_conv_backend(), "threads": args.threads,
               "runs": args.runs, "reps": args.reps, "models": {}}
    for model in models:
        entry = {}
        samples = {pr: {"wall_ms": [], "cpu_ms": []} for pr in PRECISIONS}
        for _ in range(args.runs):
            for pr in PRECISIONS:  # alternating
                out = _run_child(args, "time", model, pr)
                samples[pr]["wall_ms"].append(_median(out["wall_ms"]))
                samples[pr]["cpu_ms"].append(_median(out["cpu_ms"]))
        for pr in PRECISIONS:
            entry[pr] = {"step_wall_ms": _median(samples[pr]["wall_ms"]),
                         "step_cpu_ms": _median(samples[pr]["cpu_ms"]),
                         "runs_wall_ms": samples[pr]["wall_ms"]}
            entry[pr]["kernels"] = _run_child(args, "kernels", model, pr,
                                              {"ONEDNN_VERBOSE": "1"})["kernels"]
            if not args.no_accuracy:
                entry[pr].update(_run_child(args, "accuracy", model, pr))
        entry["speedup_wall"] = entry["float32"]["step_wall_ms"] / entry["bfloat16"]["step_wall_ms"]
        entry["speedup_cpu"] = entry["float32"]["step_cpu_ms"] / entry["bfloat16"]["step_cpu_ms"]
        results["models"][model] = entry
    _print_table(results)
    with open(args.json, "w") as f:
        json.dump(results, f, indent=1, sort_keys=True)
    print("wrote", args.json)
    return results


def _print_table(results):
    print("bfloat16 autocast vs float32 ({} threads, {} runs x {} steps; bf16 native: {})"
          .format(results["threads"], results["runs"], results["reps"],
                  results["cpu_bf16_native"]))
    head = "{:<32} {:>9} {:>12} {:>11} {:>10} {:>9}".format(
        "workload", "precision", "step wall ms", "step cpu ms", "test acc", "epochs")
    print(head)
    print("-" * len(head))
    for model, entry in results["models"].items():
        for pr in PRECISIONS:
            e = entry[pr]
            acc = "{:.2f}%".format(100 * e["test_accuracy"]) if "test_accuracy" in e else "-"
            print("{:<32} {:>9} {:>12.1f} {:>11.1f} {:>10} {:>9}".format(
                TITLES[model], pr, e["step_wall_ms"], e["step_cpu_ms"], acc,
                e.get("epochs", "-")))
        print("{:<32} {:>9} {:>11.2f}x {:>10.2f}x".format("", "speed-up", entry["speedup_wall"],
                                                        entry["speedup_cpu"]))
        for pr in PRECISIONS:
            names = ", ".join("{} x{}".format(k, v) for k, v in
                              sorted(entry[pr]["kernels"].items()))
            print("  oneDNN {} kernels: {}".format(pr, names or "(none logged)"))


if __name__ == "__main__":
    main()
