"""Bad input to every public name of singa.model (issue 18, point 8): compile, calls,
checkpoints, graph mode and the training loop reached through Model."""

import numpy as np
import pytest

from singa import autograd, layer, model, opt, tensor
from singa import singa_wrap as sw

from _bad_input import Bad, check, check_coverage, on_other


class _Net(model.Model):
    def __init__(self):
        super(_Net, self).__init__()
        self.fc = layer.Linear(2)

    def forward(self, x):
        return self.fc(x)

    def train_one_batch(self, x, y):
        out = self.forward(x)
        loss = autograd.mse_loss(out, y)
        self.optimizer(loss)
        return out, loss


def x43():
    return tensor.from_numpy(np.ones((4, 3), np.float32))


def compiled(is_train=False):
    net = _Net()
    net.set_optimizer(opt.SGD(0.1))
    net.compile([x43()], is_train=is_train)
    return net


def saved_then_loaded_into(other, tmp_path):
    path = str(tmp_path / "net.ckpt")
    compiled().save_states(path)
    other.load_states(path)


class _Wide(_Net):
    def __init__(self):
        super(_Wide, self).__init__()
        self.fc = layer.Linear(5)


def wide_compiled():
    net = _Wide()
    net.compile([x43()], is_train=False)
    return net


def bad_load(tmp_path):
    saved_then_loaded_into(wide_compiled(), tmp_path)


def case_list(tmp_path):
    return [
        Bad("Model", "compile on None", lambda: _Net().compile(None), TypeError, r"None",
            who=r"Model\.compile"),
        Bad("Model", "compile on no inputs", lambda: _Net().compile([]), ValueError, r"\[\]",
            who=r"Model\.compile"),
        Bad("Model", "compile precision float16", lambda: _Net().compile([x43()],
            precision="float16"), ValueError, r"'float32', 'bfloat16'.*'float16'",
            who=r"Model\.compile"),
        Bad("Model", "input size changes", lambda: compiled()(tensor.from_numpy(
            np.ones((4, 5), np.float32))), ValueError, r"\(4, 5\).*3", who=r"Linear"),
        # A CUDA build moves a layer's inputs to its parameters' device instead (SINGA's
        # device_check).
        *([] if sw.USE_CUDA else [
            Bad("Model", "input on other device", lambda: compiled()(on_other(4, 3)),
                RuntimeError, r"-2|different devices", who=r"Linear")]),
        Bad("Model", "optimizer of a number", lambda: _Net().set_optimizer(5), TypeError, r"5",
            who=r"set_optimizer"),
        Bad("Model", "graph of text", lambda: _Net().graph("yes"), TypeError, r"'yes'",
            who=r"Model\.graph"),
        Bad("Model", "train of text", lambda: _Net().train("off"), TypeError, r"'off'",
            who=r"train"),
        Bad("Model", "save format", lambda: compiled().save_states(str(tmp_path / "a"),
                                                                   format="xml"),
            ValueError, r"'xml'", who=r"save_states"),
        Bad("Model", "save before compile", lambda: _Net().save_states(str(tmp_path / "b")),
            ValueError, r"no parameters", who=r"save_states"),
        Bad("Model", "aux name clash", lambda: compiled().save_states(
            str(tmp_path / "c"), aux_states={"fc.W": 1}), ValueError, r"'fc\.W'",
            who=r"save_states"),
        Bad("Model", "load missing file", lambda: compiled().load_states(
            str(tmp_path / "none.ckpt")), model.CheckpointError, r"none\.ckpt",
            who=r"checkpoint"),
        Bad("Model", "load other shapes", lambda: bad_load(tmp_path), model.CheckpointError,
            r"\(3, 2\).*\(3, 5\)|\(3, 5\).*\(3, 2\)", who=r"checkpoint"),
        Bad("Model", "fit on None", lambda: compiled(True).fit(None, verbose=0), TypeError,
            r"NoneType", who=r"Model\.fit"),
        Bad("Model", "fit negative epochs", lambda: compiled(True).fit(
            (np.ones((4, 3), np.float32), np.ones((4, 2), np.float32)), epochs=-1, verbose=0),
            ValueError, r"-1", who=r"fit"),
        Bad("Model", "evaluate on None", lambda: compiled().evaluate(None), TypeError,
            r"NoneType", who=r"Model\.evaluate"),
        Bad("Model", "summary of None", lambda: compiled().summary(None, print_fn=lambda s: 0),
            TypeError, r"NoneType", who=r"Model\.summary"),
    ]


EXEMPT = {
    "CheckpointError": "an exception class: load_states raises it (tabled under Model)",
    "GraphError": "an exception class: strict graph mode raises it; nothing takes input",
}

# the ids are fixed here; the cases are built per test, inside pytest's tmp_path
CASE_IDS = [c.id for c in case_list(None)]


@pytest.mark.parametrize("index", range(len(CASE_IDS)), ids=CASE_IDS)
def test_bad_input(index, tmp_path):
    check(case_list(tmp_path)[index])


def test_every_public_name_has_bad_input_cases():
    check_coverage(model, case_list(None), EXEMPT)
