"""Deterministic runs: the same training, run twice in fresh processes at the same thread
count with the same seed, gives the same parameters and losses bit for bit; and a model
trained in a Python thread gives the bits of the same training in the main thread."""
import json
import os
import subprocess
import sys

import pytest

import singa

# Trains the CIFAR-10 CNN of examples/autograd/cnn.py (conv, max/avg pool, LRN, linear;
# SGD with momentum and weight decay) on a small subset of the vendored CIFAR-10 images
# for a few steps, then prints the losses and the parameters' bytes as hex. A dropout
# layer between the features and the classifier makes the seeded generator take part.
TRAIN = r"""
import json, sys, threading
import numpy as np
import singa
from singa import autograd, device, layer, opt, tensor
from singa.data import load_cifar10
sys.path.insert(0, sys.argv[1])
from cnn import CifarCNN

mode, steps, batch = sys.argv[2], int(sys.argv[3]), 16
if mode != "default":
    singa.set_deterministic(mode == "on")


class Net(CifarCNN):
    def __init__(self):
        super().__init__()
        self.drop = layer.Dropout(ratio=0.25)

    def forward(self, x):
        x = self.lrn1(autograd.relu(self.pool1(self.conv1(x))))
        x = self.lrn2(self.pool2(autograd.relu(self.conv2(x))))
        x = self.pool3(autograd.relu(self.conv3(x)))
        return self.fc(self.drop(self.flatten(x)))


(xtr, ytr), _ = load_cifar10()
xtr = (xtr[:batch * steps].astype(np.float32) - 128.0) / 64.0
ytr = ytr[:batch * steps].astype(np.int32)


def train():
    dev = device.get_default_device()
    dev.SetRandSeed(7)
    net = Net()
    net.set_optimizer(opt.SGD(lr=0.01, momentum=0.9, weight_decay=0.004))
    net.compile([tensor.Tensor((batch, 3, 32, 32), dev)], is_train=True, use_graph=False)
    net.train()
    losses = []
    for i in range(steps):
        x = tensor.from_numpy(xtr[i * batch:(i + 1) * batch], dev)
        y = tensor.from_numpy(ytr[i * batch:(i + 1) * batch], dev)
        _, loss = net(x, y)
        losses.append(tensor.to_numpy(loss).astype(np.float32).tobytes().hex())
    params = {k: tensor.to_numpy(v).tobytes().hex() for k, v in net.get_params().items()}
    return {"losses": losses, "params": params, "deterministic": singa.is_deterministic()}


runs = [train()]
if len(sys.argv) > 4:  # the same training once more, in a new Python thread
    box = []
    t = threading.Thread(target=lambda: box.append(train()))
    t.start()
    t.join()
    runs.append(box[0])
print(json.dumps(runs))
"""

EXAMPLES = os.path.join(os.path.dirname(__file__), os.pardir, "examples", "autograd")


def train_in_subprocess(mode, steps=3, threads=2, also_in_thread=False):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    args = [sys.executable, "-c", TRAIN, EXAMPLES, mode, str(steps)]
    if also_in_thread:
        args.append("thread")
    out = subprocess.run(args, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("mode", ["on", "default"])
def test_two_runs_are_bit_identical(mode):
    first, second = train_in_subprocess(mode)[0], train_in_subprocess(mode)[0]
    assert first["deterministic"] is (mode == "on")
    assert len(first["losses"]) == 3 and len(first["params"]) == 8
    assert first["losses"] == second["losses"]
    different = [k for k in first["params"] if first["params"][k] != second["params"][k]]
    assert different == [], "parameters differ between runs: {}".format(different)


def test_training_changes_the_parameters():
    # The comparison above means something only if training moved the parameters.
    short, longer = train_in_subprocess("on", steps=1)[0], train_in_subprocess("on", steps=2)[0]
    assert short["losses"][0] == longer["losses"][0]
    assert all(short["params"][k] != longer["params"][k] for k in short["params"])


def test_training_in_a_python_thread_matches_the_main_thread():
    # oneDNN's own scratchpad belonged to the thread that built a primitive: the cached
    # convolutions crashed when a second thread ran them.
    main, threaded = train_in_subprocess("on", steps=2, also_in_thread=True)
    assert main["losses"] == threaded["losses"]
    assert main["params"] == threaded["params"]


def test_switch_round_trips_and_checks_its_argument():
    old = singa.is_deterministic()
    try:
        singa.set_deterministic(True)
        assert singa.is_deterministic() is True
        singa.set_deterministic(False)
        assert singa.is_deterministic() is False
        singa.set_deterministic()
        assert singa.is_deterministic() is True
        with pytest.raises(TypeError, match="set_deterministic: on must be True or False"):
            singa.set_deterministic(1)
    finally:
        singa.set_deterministic(old)

