"""Builds the Apache SINGA checkpoint fixtures (tests/data/singa_ckpt_*.zip).

The files follow the layout SINGA 5.x's ``Model.save_states`` writes, built here with
NumPy, json and zipfile only (nothing from singa), so that they stand for files made
by SINGA itself:

- a zip (deflated) with exactly two members, ``tensor_dict.npz`` and
  ``states_attr.json``, both written to a directory first and added under their base
  names;
- ``tensor_dict.npz``: ``np.savez`` of {state name: array};
- ``states_attr.json``: {state name: {"state_type": 0 (model state) or 1 (aux state),
  "shape": list of ints, "dtype": SINGA's DataType code (0 float32, 1 float16, 2 int,
  4 float64)}};
- state names are SINGA's: the dotted attribute path of the layer plus the tensor's
  name (``fc1.W``, ``bn.running_mean``; an LSTM's ``lstm.Wx_i`` ... ``lstm.Bh_g``).

Run ``python tests/data/make_singa_checkpoints.py`` to rebuild them; the values come
from fixed formulas, so the files are reproducible and the tests can recompute them.
"""

import json
import os
import tempfile
import zipfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DTYPE_CODE = {np.dtype(np.float32): 0, np.dtype(np.float16): 1, np.dtype(np.int32): 2,
              np.dtype(np.float64): 4}


def values(shape, seed):
    """Deterministic, distinct values for a state: a ramp scaled by the seed."""
    n = int(np.prod(shape))
    return ((np.arange(n, dtype=np.float64) - n / 2) * 0.01 * seed).reshape(shape) \
        .astype(np.float32)


def mlp_states():
    """Linear(4, 3) 'fc1', BatchNorm2d(3) 'bn', Linear(3, 2) 'fc2'."""
    return {"fc1.W": values((4, 3), 1), "fc1.b": values((3,), 2),
            "bn.scale": values((3,), 3) + 1, "bn.bias": values((3,), 4),
            "bn.running_mean": values((3,), 5), "bn.running_var": values((3,), 6) + 1,
            "fc2.W": values((3, 2), 7), "fc2.b": values((2,), 8)}


def lstm_states():
    """LSTM(3, 2) 'lstm', Linear(2, 3) 'fc', with SINGA's gate names."""
    states, seed = {}, 10
    for group, shape in (("Wx", (3, 2)), ("Wh", (2, 2)), ("Bx", (2,)), ("Bh", (2,))):
        for gate in "ifog":  # SINGA's declaration order; the order carries no meaning
            states["lstm.{}_{}".format(group, gate)] = values(shape, seed)
            seed += 1
    states["fc.W"] = values((2, 3), seed)
    states["fc.b"] = values((3,), seed + 1)
    return states


def aux_states():
    return {"epoch": np.array([5.0], np.float32)}


def write(fpath, model_states, aux):
    tensor_dict, attrs = {}, {}
    for kind, group in ((0, model_states), (1, aux)):
        for name, arr in group.items():
            tensor_dict[name] = arr
            attrs[name] = {"state_type": kind, "shape": list(arr.shape),
                           "dtype": DTYPE_CODE[arr.dtype]}
    with tempfile.TemporaryDirectory() as tmp:
        npz = os.path.join(tmp, "tensor_dict.npz")
        js = os.path.join(tmp, "states_attr.json")
        np.savez(npz, **tensor_dict)
        with open(js, "w") as f:
            json.dump(attrs, f)
        with zipfile.ZipFile(fpath, mode="w") as zf:
            for member in (npz, js):
                zf.write(member, os.path.basename(member), compress_type=zipfile.ZIP_DEFLATED)


def main():
    write(os.path.join(HERE, "singa_ckpt_mlp.zip"), mlp_states(), aux_states())
    write(os.path.join(HERE, "singa_ckpt_lstm.zip"), lstm_states(), {})


if __name__ == "__main__":
    main()
