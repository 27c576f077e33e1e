"""Builds tests/data/ckpt_v1.zip: a checkpoint in our verified format, version 1.

The file was written by ``Model.save_states`` while ``singa.checkpoint.VERSION`` was 1
(branch dmg, issue 18): it stands for the files users saved with that release, which
every later reader must keep loading (tests/test_checkpoint_damage.py). The writer
now writes a newer version, so this script refuses to run unless the tree it imports
still writes version 1; the fixture is not meant to be rebuilt, only kept.

The model (``TinyNet``: Linear(3) - BatchNorm2d - ReLU - Linear(2) on 2 features),
its optimizer (SGD with momentum) and two aux states hold values from fixed formulas
(:func:`expected_states`), so the test can check every loaded number.
"""

import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "ckpt_v1.zip")


def ramp(shape, seed):
    """Distinct, exactly representable float32 values for one state."""
    n = int(np.prod(shape, dtype=np.int64))
    return ((np.arange(n, dtype=np.float64) - n / 2) * 0.125 * seed).reshape(shape) \
        .astype(np.float32)


SHAPES = {"l1.W": (2, 3), "l1.b": (3,), "bn.scale": (3,), "bn.bias": (3,),
          "bn.running_mean": (3,), "bn.running_var": (3,), "l2.W": (3, 2), "l2.b": (2,)}
PARAMS = ("l1.W", "l1.b", "bn.scale", "bn.bias", "l2.W", "l2.b")


def expected_states():
    """(model states, optimizer states, aux states) as stored in the fixture."""
    model = {k: ramp(s, i + 1) for i, (k, s) in enumerate(SHAPES.items())}
    model["bn.running_var"] = np.abs(model["bn.running_var"]) + 1
    optimizer = {"{}/momentum".format(k): ramp(SHAPES[k], 20 + i)
                 for i, k in enumerate(PARAMS)}
    optimizer.update({"step_counter": 5, "epoch": 2})
    aux = {"epoch": np.array(2, np.int64), "best": np.array([0.625], np.float32)}
    return model, optimizer, aux


def tiny_net():
    """A fresh TinyNet with an SGD optimizer, compiled on a batch of 4."""
    from singa import autograd, layer, model, opt, tensor

    class TinyNet(model.Model):
        def __init__(self):
            super().__init__()
            self.l1 = layer.Linear(3)
            self.bn = layer.BatchNorm2d()
            self.l2 = layer.Linear(2)
            self.loss = layer.SoftMaxCrossEntropy()

        def forward(self, x):
            return self.l2(autograd.relu(self.bn(self.l1(x))))

        def train_one_batch(self, x, y):
            out = self.forward(x)
            loss = self.loss(out, y)
            self.optimizer(loss)
            return out, loss

    m = TinyNet()
    m.set_optimizer(opt.SGD(0.1, momentum=0.9))
    m.compile([tensor.from_numpy(np.zeros((4, 2), np.float32))], is_train=True)
    return m


def main():
    sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))
    from singa import checkpoint, tensor
    if checkpoint.VERSION != 1:
        sys.exit("make_checkpoint_v1.py: this tree writes checkpoint version {}; the "
                 "version-1 fixture is kept as it was written, not rebuilt".format(
                     checkpoint.VERSION))
    m = tiny_net()
    model_states, opt_states, aux = expected_states()
    m.set_states(model_states)
    m.optimizer.set_states(opt_states, params=m.get_params())
    m.save_states(FIXTURE, aux_states={"epoch": aux["epoch"],
                                       "best": tensor.from_numpy(aux["best"])})
    print("wrote", FIXTURE, os.path.getsize(FIXTURE), "bytes")


if __name__ == "__main__":
    main()
