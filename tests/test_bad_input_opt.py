"""Bad input to every public name of singa.opt (issue 18, point 8): hyper-parameters out
of range or of the wrong type, schedules, updates with mismatched tensors, and the pure
update functions on the core tensors."""

import numpy as np
import pytest

from singa import opt, tensor

from _bad_input import DEVICES, Bad, arr, check, check_coverage, on_other, params


def param(*shape):
    t = arr(*shape)
    t.requires_grad = t.stores_grad = True
    t.name = "w"
    return t


def param_of_ints():
    t = arr(2, 3, dtype=np.int32)
    t.requires_grad = t.stores_grad = True
    t.name = "w"
    return t


def core(*shape):
    return arr(*shape).data


def update_with(optimizer, p, g):
    optimizer.update(p, g)


CASES = [
    # DistOpt checks its arguments before it starts MPI, so these need no launched job.
    Bad("DistOpt", "not an optimizer", lambda: opt.DistOpt(5), TypeError, r"got 5"),
    Bad("DistOpt", "nccl id", lambda: opt.DistOpt(opt.SGD(), nccl_id=3), ValueError,
        r"nccl_id"),
    Bad("DistOpt", "zero buffSize", lambda: opt.DistOpt(opt.SGD(), buffSize=0), ValueError,
        r"buffSize.*got 0"),
    Bad("DecayScheduler", "text init", lambda: opt.DecayScheduler("a"), TypeError, r"'a'",
        who=r"init_value"),
    Bad("DecayScheduler", "nan init", lambda: opt.DecayScheduler(float("nan")), ValueError,
        r"nan", who=r"init_value"),
    Bad("DecayScheduler", "no value or call", lambda: opt.DecayScheduler(1.0)(3),
        NotImplementedError, r"call|value", who=r"DecayScheduler"),
    Bad("Constant", "None", lambda: opt.Constant(None), TypeError, r"None", who=r"init_value"),
    Bad("ExponentialDecay", "zero steps", lambda: opt.ExponentialDecay(0.1, 0, 0.9),
        ValueError, r"decay_steps.*0"),
    Bad("ExponentialDecay", "negative rate", lambda: opt.ExponentialDecay(0.1, 10, -0.5),
        ValueError, r"-0\.5"),
    Bad("StepSchedule", "boundaries decrease", lambda: opt.StepSchedule(1.0, [5, 2], 0.1),
        ValueError, r"\[5, 2\]"),
    Bad("StepSchedule", "factor count", lambda: opt.StepSchedule(1.0, [2, 5], [0.1]),
        ValueError, r"1 factors for 2"),
    Bad("StepSchedule", "unknown by", lambda: opt.StepSchedule(1.0, [2], 0.1, by="day"),
        ValueError, r"'day'"),
    Bad("Schedule", "boundaries decrease", lambda: opt.Schedule([5, 2], 0.1), ValueError,
        r"\[5, 2\]", who=r"StepSchedule"),
    Bad("Optimizer", "negative lr", lambda: opt.Optimizer(-1.0), ValueError, r"-1",
        who=r"\blr\b"),
    Bad("Optimizer", "int dtype", lambda: opt.Optimizer(0.1, dtype=tensor.int32), ValueError,
        r"2", who=r"Optimizer"),
    Bad("SGD", "negative lr", lambda: opt.SGD(-0.1), ValueError, r"-0\.1", who=r"\blr\b"),
    Bad("SGD", "text lr", lambda: opt.SGD("fast"), TypeError, r"'fast'", who=r"\blr\b"),
    Bad("SGD", "negative momentum", lambda: opt.SGD(0.1, momentum=-0.5), ValueError,
        r"-0\.5", who=r"momentum"),
    Bad("SGD", "nesterov without momentum", lambda: opt.SGD(0.1, nesterov=True), ValueError,
        r"momentum"),
    Bad("SGD", "gradient shape", lambda: update_with(opt.SGD(0.1), param(2, 3), arr(3, 2)),
        ValueError, r"\(3, 2\).*'w'.*\(2, 3\)"),
    Bad("SGD", "gradient on other device",
        lambda: update_with(opt.SGD(0.1), param(2, 3), on_other(2, 3)), RuntimeError, DEVICES,
        who=r"SGD"),
    Bad("SGD", "int32 parameter", lambda: update_with(opt.SGD(0.1), param_of_ints(),
                                                      arr(2, 3)), TypeError, r"int32",
        who=r"SGD"),
    Bad("SGD", "None gradient", lambda: update_with(opt.SGD(0.1), param(2, 3), None),
        TypeError, r"NoneType"),
    Bad("RMSProp", "rho 1", lambda: opt.RMSProp(0.1, rho=1.0), ValueError, r"1\.0",
        who=r"rho"),
    Bad("RMSProp", "negative epsilon", lambda: opt.RMSProp(0.1, epsilon=-1.0), ValueError,
        r"-1", who=r"epsilon"),
    Bad("AdaGrad", "negative epsilon", lambda: opt.AdaGrad(0.1, epsilon=-1.0), ValueError,
        r"-1", who=r"epsilon"),
    Bad("AdaGrad", "gradient shape", lambda: update_with(opt.AdaGrad(0.1), param(2, 3),
                                                         arr(6)), ValueError,
        r"\(6,\).*\(2, 3\)"),
    Bad("Adam", "beta_1 1", lambda: opt.Adam(0.1, beta_1=1.0), ValueError, r"1\.0",
        who=r"beta_1"),
    Bad("Adam", "negative weight decay", lambda: opt.Adam(0.1, weight_decay=-0.1), ValueError,
        r"-0\.1", who=r"weight_decay"),
    Bad("Adam", "gradient shape", lambda: update_with(opt.Adam(0.1), param(2, 3), arr(3, 2)),
        ValueError, r"\(3, 2\).*\(2, 3\)"),
    Bad("MultiOptimizer", "no default", lambda: opt.MultiOptimizer({"w": opt.SGD(0.1)}),
        ValueError, r"'default'"),
    Bad("MultiOptimizer", "not an optimizer",
        lambda: opt.MultiOptimizer({"default": opt.SGD(0.1), "b": 5}), ValueError, r"'b'.*5"),
    Bad("sgd_update", "shapes", lambda: opt.sgd_update(core(2, 3), core(3, 2), None, 0.1),
        ValueError, r"\(3, 2\).*\(2, 3\)", who=r"sgd_update|SGDUpdate"),
    Bad("sgd_update", "Tensor not core", lambda: opt.sgd_update(arr(2, 3), arr(2, 3), None, 0.1),
        TypeError, r"Tensor", who=r"sgd_update|SGDUpdate"),
    Bad("rmsprop_update", "state shape",
        lambda: opt.rmsprop_update(core(2, 3), core(2, 3), core(3), 0.1, 0.9, 1e-8),
        ValueError, r"\(3,\)", who=r"rmsprop_update|RMSPropUpdate"),
    Bad("adagrad_update", "other device",
        lambda: opt.adagrad_update(core(2, 3), on_other(2, 3).data, core(2, 3), 0.1, 1e-8),
        RuntimeError, DEVICES, who=r"adagrad_update|AdaGradUpdate"),
    Bad("adam_update", "step 0",
        lambda: opt.adam_update(core(2, 3), core(2, 3), core(2, 3), core(2, 3), 0.1, 0.9,
                                0.999, 1e-8, 0.0, 0), ValueError, r"step.*0",
        who=r"adam_update|AdamUpdate"),
]

EXEMPT = {}


@pytest.mark.parametrize("case", params(CASES))
def test_bad_input(case):
    check(case)


def test_every_public_name_has_bad_input_cases():
    check_coverage(opt, CASES, EXEMPT)
