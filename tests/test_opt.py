"""Optimizers and schedules against NumPy references."""
import math

import numpy as np
import pytest

from singa import autograd, opt, singa_wrap, tensor

STEPS = 6


def _param(a, name="W"):
    return tensor.Tensor(data=np.array(a, np.float32), requires_grad=True, stores_grad=True,
                         name=name)


def _grads(rng, shape, n=STEPS):
    return [rng.standard_normal(shape).astype(np.float32) for _ in range(n)]


# ---- NumPy references (float64), one per rule, written from the update equations ----

def ref_sgd(p, gs, lr, momentum=0.0, dampening=0.0, wd=0.0, nesterov=False, lrs=None):
    p = p.astype(np.float64)
    buf = np.zeros_like(p)
    for t, g in enumerate(gs):
        lr_t = lrs(t) if lrs else lr
        g = g + wd * p
        if momentum:
            buf = momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        p = p - lr_t * g
    return p


def ref_rmsprop(p, gs, lr, rho, eps, wd):
    p = p.astype(np.float64)
    v = np.zeros_like(p)
    for g in gs:
        g = g + wd * p
        v = rho * v + (1 - rho) * g * g
        p = p - lr * g / np.sqrt(v + eps)
    return p


def ref_adagrad(p, gs, lr, eps, wd):
    p = p.astype(np.float64)
    h = np.zeros_like(p)
    for g in gs:
        g = g + wd * p
        h = h + g * g
        p = p - lr * g / np.sqrt(h + eps)
    return p


def ref_adam(p, gs, lr, b1, b2, eps, wd):
    p = p.astype(np.float64)
    m = np.zeros_like(p)
    v = np.zeros_like(p)
    for t, g in enumerate(gs, 1):
        g = g + wd * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        p = p - lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)
    return p


CASES = [
    ("sgd", lambda: opt.SGD(lr=0.1), lambda p, gs: ref_sgd(p, gs, 0.1)),
    ("sgd_wd", lambda: opt.SGD(lr=0.1, weight_decay=0.05),
     lambda p, gs: ref_sgd(p, gs, 0.1, wd=0.05)),
    ("sgd_momentum", lambda: opt.SGD(lr=0.05, momentum=0.9),
     lambda p, gs: ref_sgd(p, gs, 0.05, 0.9)),
    ("sgd_momentum_dampening_wd", lambda: opt.SGD(lr=0.05, momentum=0.8, dampening=0.3,
                                                  weight_decay=0.01),
     lambda p, gs: ref_sgd(p, gs, 0.05, 0.8, 0.3, 0.01)),
    ("sgd_nesterov_wd", lambda: opt.SGD(lr=0.05, momentum=0.9, weight_decay=0.02, nesterov=True),
     lambda p, gs: ref_sgd(p, gs, 0.05, 0.9, 0.0, 0.02, True)),
    ("rmsprop", lambda: opt.RMSProp(lr=0.01, rho=0.9, epsilon=1e-6, weight_decay=0.01),
     lambda p, gs: ref_rmsprop(p, gs, 0.01, 0.9, 1e-6, 0.01)),
    ("adagrad", lambda: opt.AdaGrad(lr=0.1, epsilon=1e-6, weight_decay=0.01),
     lambda p, gs: ref_adagrad(p, gs, 0.1, 1e-6, 0.01)),
    ("adam", lambda: opt.Adam(lr=0.01), lambda p, gs: ref_adam(p, gs, 0.01, 0.9, 0.999, 1e-8, 0)),
    ("adam_wd", lambda: opt.Adam(lr=0.01, beta_1=0.8, beta_2=0.99, epsilon=1e-6, weight_decay=0.1),
     lambda p, gs: ref_adam(p, gs, 0.01, 0.8, 0.99, 1e-6, 0.1)),
    ("sgd_exp_schedule", lambda: opt.SGD(lr=opt.ExponentialDecay(0.1, 2, 0.5), momentum=0.5),
     lambda p, gs: ref_sgd(p, gs, None, 0.5, lrs=lambda t: 0.1 * 0.5 ** (t / 2))),
    ("sgd_staircase", lambda: opt.SGD(lr=opt.ExponentialDecay(0.1, 2, 0.5, staircase=True)),
     lambda p, gs: ref_sgd(p, gs, None, lrs=lambda t: 0.1 * 0.5 ** (t // 2))),
    ("sgd_step_schedule", lambda: opt.SGD(lr=opt.StepSchedule(0.2, [2, 4], 0.1)),
     lambda p, gs: ref_sgd(p, gs, None, lrs=lambda t: 0.2 * 0.1 ** ((t >= 2) + (t >= 4)))),
]


@pytest.mark.parametrize("name,make,ref", CASES, ids=[c[0] for c in CASES])
def test_optimizer_matches_numpy(name, make, ref, rng):
    p0 = rng.standard_normal((4, 3)).astype(np.float32)
    gs = _grads(rng, (4, 3))
    o = make()
    p = _param(p0)
    for g in gs:
        o.update(p, tensor.from_numpy(g))
        o.step()
    np.testing.assert_allclose(tensor.to_numpy(p), ref(p0, gs), rtol=1e-5, atol=1e-6)
    assert o.step_counter == STEPS


def test_update_does_not_modify_grad(rng):
    g = rng.standard_normal((3,)).astype(np.float32)
    for o in (opt.SGD(0.1, momentum=0.9, weight_decay=0.1), opt.RMSProp(weight_decay=0.1),
              opt.AdaGrad(weight_decay=0.1), opt.Adam(weight_decay=0.1)):
        tg = tensor.from_numpy(g.copy())
        o.update(_param(np.ones(3)), tg)
        np.testing.assert_array_equal(tensor.to_numpy(tg), g)


def test_schedules():
    assert opt.Constant(0.3)(100) == 0.3
    e = opt.ExponentialDecay(1.0, 10, 0.5)
    assert e(0) == 1.0 and math.isclose(e(5), 0.5 ** 0.5) and math.isclose(e(20), 0.25)
    s = opt.ExponentialDecay(1.0, 10, 0.5, staircase=True)
    assert s(9) == 1.0 and s(10) == 0.5
    st = opt.StepSchedule(1.0, [22, 44, 65], 0.15, by="epoch")
    assert st(1000, 21) == 1.0
    assert math.isclose(st(0, 22), 0.15) and math.isclose(st(0, 65), 0.15 ** 3)
    neon = opt.Schedule([22, 44, 65], 0.15)
    assert math.isclose(neon(0, 50), 0.15 ** 2)
    multi = opt.StepSchedule(1.0, [1, 2], [0.5, 0.1])
    assert math.isclose(multi(2), 0.05)


def test_epoch_schedule_follows_opt_epoch():
    o = opt.SGD(lr=opt.StepSchedule(1.0, [2], 0.1, by="epoch"))
    p = _param([1.0])
    g = tensor.from_numpy(np.array([1.0], np.float32))
    o.update(p, g)
    o.step()
    o.epoch = 2
    o.update(p, g)
    np.testing.assert_allclose(tensor.to_numpy(p), [1.0 - 1.0 - 0.1], rtol=1e-6)


def test_every_hyperparameter_schedulable(rng):
    p0 = rng.standard_normal(5).astype(np.float32)
    gs = _grads(rng, (5,), 4)
    mom = opt.StepSchedule(0.5, [2], 1.8)          # 0.5 then 0.9
    wd = opt.ExponentialDecay(0.1, 1, 0.5)
    o = opt.SGD(lr=0.05, momentum=mom, weight_decay=wd)
    p = _param(p0)
    for g in gs:
        o.update(p, tensor.from_numpy(g))
        o.step()
    ref = p0.astype(np.float64)
    buf = np.zeros_like(ref)
    for t, g in enumerate(gs):
        m = 0.5 if t < 2 else 0.9
        g = g + 0.1 * 0.5 ** t * ref
        buf = m * buf + g
        ref = ref - 0.05 * buf
    np.testing.assert_allclose(tensor.to_numpy(p), ref, rtol=1e-5)


@pytest.mark.parametrize("make", [
    lambda: opt.SGD(lr=-1), lambda: opt.SGD(momentum=-0.1), lambda: opt.SGD(weight_decay=-1),
    lambda: opt.SGD(dampening=2), lambda: opt.SGD(nesterov=True),
    lambda: opt.SGD(momentum=0.9, dampening=0.1, nesterov=True), lambda: opt.SGD(lr=float("nan")),
    lambda: opt.SGD(lr="fast"), lambda: opt.RMSProp(rho=1.0), lambda: opt.RMSProp(epsilon=0),
    lambda: opt.AdaGrad(epsilon=-1), lambda: opt.Adam(beta_1=1.0), lambda: opt.Adam(beta_2=-0.1),
    lambda: opt.Adam(weight_decay=-1), lambda: opt.ExponentialDecay(0.1, 0, 0.5),
    lambda: opt.StepSchedule(0.1, [5, 3], 0.1), lambda: opt.StepSchedule(0.1, [1], 0.1, by="x"),
    lambda: opt.SGD(lr=opt.Constant(-0.1)),
    lambda: opt.MultiOptimizer({"bias": opt.SGD()}),
])
def test_invalid_hyperparameters_raise(make):
    with pytest.raises(ValueError):
        make()


def test_gradient_shape_mismatch_raises():
    with pytest.raises(ValueError, match="W"):
        opt.SGD().update(_param(np.ones((2, 3))), tensor.from_numpy(np.ones((3, 2), np.float32)))


def test_state_keyed_by_param_not_name(rng):
    # Two standalone layers both call their weight W; their momentum must not mix.
    a0 = rng.standard_normal((2, 3)).astype(np.float32)
    b0 = rng.standard_normal((4,)).astype(np.float32)
    ga, gb = _grads(rng, (2, 3), 3), _grads(rng, (4,), 3)
    o = opt.SGD(lr=0.1, momentum=0.9)
    a, b = _param(a0, "W"), _param(b0, "W")
    for x, y in zip(ga, gb):
        o.update(a, tensor.from_numpy(x))
        o.update(b, tensor.from_numpy(y))
        o.step()
    np.testing.assert_allclose(tensor.to_numpy(a), ref_sgd(a0, ga, 0.1, 0.9), rtol=1e-5)
    np.testing.assert_allclose(tensor.to_numpy(b), ref_sgd(b0, gb, 0.1, 0.9), rtol=1e-5)
    with pytest.raises(ValueError, match="both named"):
        o.get_states()
    st = o.get_states(names={a: "l1.W", b: "l2.W"})
    assert set(st) == {"step_counter", "epoch", "l1.W/momentum", "l2.W/momentum"}


def test_lr_and_wd_multipliers(rng):
    p0 = rng.standard_normal(3).astype(np.float32)
    gs = _grads(rng, (3,), 3)
    o = opt.SGD(lr=0.1, momentum=0.9, weight_decay=0.1)
    p1, p2 = _param(p0, "a"), _param(p0, "b")
    o.set_param_config(p1, lr_mult=2.0, wd_mult=0.0)
    p2.lr_mult, p2.wd_mult = 0.5, 3.0   # attributes on the tensor work too
    for g in gs:
        o.update(p1, tensor.from_numpy(g))
        o.update(p2, tensor.from_numpy(g))
        o.step()
    np.testing.assert_allclose(tensor.to_numpy(p1), ref_sgd(p0, gs, 0.2, 0.9, wd=0.0), rtol=1e-5)
    np.testing.assert_allclose(tensor.to_numpy(p2), ref_sgd(p0, gs, 0.05, 0.9, wd=0.3), rtol=1e-5)
    with pytest.raises(ValueError):
        o.set_param_config(p1, lr_mult=-1)


def test_multi_optimizer_routes_by_kind_prefix_and_rule(rng):
    names = ["conv1.W", "conv1.b", "fc.W", "fc.b", "head.W"]
    p0 = {n: rng.standard_normal(3).astype(np.float32) for n in names}
    ps = {n: _param(p0[n], n) for n in names}
    gs = {n: _grads(rng, (3,), 3) for n in names}
    o = opt.MultiOptimizer({
        "default": opt.SGD(lr=0.1),
        "bias": opt.SGD(lr=0.01, momentum=0.9),
        "fc": opt.Adam(lr=0.05),
        (lambda name, p: name.startswith("head")): opt.SGD(lr=0.3),
    })
    for t in range(3):
        for n in names:
            o.update(ps[n], tensor.from_numpy(gs[n][t]))
        o.step()
    refs = {"conv1.W": ref_sgd(p0["conv1.W"], gs["conv1.W"], 0.1),
            "conv1.b": ref_sgd(p0["conv1.b"], gs["conv1.b"], 0.01, 0.9),
            "fc.b": ref_sgd(p0["fc.b"], gs["fc.b"], 0.01, 0.9),  # 'bias' comes first
            "fc.W": ref_adam(p0["fc.W"], gs["fc.W"], 0.05, 0.9, 0.999, 1e-8, 0),
            "head.W": ref_sgd(p0["head.W"], gs["head.W"], 0.3)}
    for n in names:
        np.testing.assert_allclose(tensor.to_numpy(ps[n]), refs[n], rtol=1e-5, err_msg=n)
    assert o.step_counter == 3 and o.optimizers["fc"].step_counter == 3
    # states round-trip through the nested optimizers
    st = o.get_states()
    o2 = opt.MultiOptimizer({"default": opt.SGD(lr=0.1), "bias": opt.SGD(lr=0.01, momentum=0.9),
                             "fc": opt.Adam(lr=0.05),
                             (lambda name, p: name.startswith("head")): opt.SGD(lr=0.3)})
    o2.set_states(st, params=ps)
    assert o2.step_counter == 3
    for k, v in o2.get_states().items():
        np.testing.assert_array_equal(v, st[k])


@pytest.mark.parametrize("make", [lambda: opt.SGD(0.1, momentum=0.9, nesterov=True),
                                  lambda: opt.RMSProp(0.01), lambda: opt.AdaGrad(0.1),
                                  lambda: opt.Adam(0.01)])
def test_get_set_states_resumes_exactly(make, rng):
    p0 = rng.standard_normal((2, 2)).astype(np.float32)
    gs = _grads(rng, (2, 2), 6)
    o, p = make(), _param(p0)
    for g in gs[:3]:
        o.update(p, tensor.from_numpy(g))
        o.step()
    st = o.get_states()
    q = _param(tensor.to_numpy(p).copy())
    o2 = make()
    o2.set_states(st)            # bound lazily by name on the first update
    for g in gs[3:]:
        o.update(p, tensor.from_numpy(g))
        o.step()
        o2.update(q, tensor.from_numpy(g))
        o2.step()
    np.testing.assert_array_equal(tensor.to_numpy(p), tensor.to_numpy(q))
    assert o2.step_counter == 6


def test_set_states_rejects_foreign_slots_and_shapes():
    st = opt.Adam().get_states()
    st["W/m"] = np.zeros(3, np.float32)
    with pytest.raises(ValueError, match="slot"):
        opt.SGD(momentum=0.9).set_states(st)
    o = opt.Adam()
    o.set_states(st)
    with pytest.raises(ValueError, match="shape"):
        o.update(_param(np.ones(4)), tensor.from_numpy(np.ones(4, np.float32)))


def test_call_runs_backward_updates_and_steps():
    autograd.training = True
    try:
        w = _param(np.array([[1.0], [2.0]]), "W")
        x = tensor.from_numpy(np.array([[1.0, 1.0]], np.float32))
        x.requires_grad = False
        loss = autograd.matmul(x, w)   # d loss / d w = x^T
        o = opt.SGD(lr=0.5)
        o(loss)
    finally:
        autograd.training = False
    np.testing.assert_allclose(tensor.to_numpy(w), [[0.5], [1.5]])
    assert o.step_counter == 1


# ---- the functional core and bound updates (what graph replay calls) ----------------

@pytest.mark.parametrize("name,make,ref", CASES, ids=[c[0] for c in CASES])
def test_bind_update_matches_update(name, make, ref, rng):
    p0 = rng.standard_normal((4, 3)).astype(np.float32)
    gs = _grads(rng, (4, 3))
    by_update, by_bound = make(), make()
    p, q = _param(p0), _param(p0)
    for o, t in ((by_update, p), (by_bound, q)):
        o.set_param_config(t, lr_mult=0.5, wd_mult=2.0)
    bound = None
    for g in gs:
        by_update.update(p, tensor.from_numpy(g))
        by_update.step()
        bound = bound or by_bound.bind_update(q)   # bound once, called every step
        bound(tensor.from_numpy(g).data)
        by_bound.step()
    np.testing.assert_array_equal(tensor.to_numpy(q), tensor.to_numpy(p))
    for slot, t in by_update._states[p].items():
        np.testing.assert_array_equal(singa_wrap.to_numpy(by_bound._states[q][slot]),
                                      singa_wrap.to_numpy(t))


def test_bind_update_routes_and_respects_overrides(rng):
    w, b = _param(np.ones(3), "fc.W"), _param(np.ones(3), "fc.b")
    g = tensor.from_numpy(np.full(3, 2.0, np.float32))
    multi = opt.MultiOptimizer({"default": opt.SGD(lr=0.1), "bias": opt.SGD(lr=0.5)})
    multi.bind_update(w)(g.data)
    multi.bind_update(b)(g.data)
    np.testing.assert_allclose(tensor.to_numpy(w), 0.8)
    np.testing.assert_allclose(tensor.to_numpy(b), 0.0)

    class Halving(opt.Optimizer):  # a user's update(): the bound update goes through it
        seen = []

        def update(self, param, grad):
            Halving.seen.append(type(grad))
            param.copy_from_numpy(tensor.to_numpy(param) / 2)

    Halving(0.1).bind_update(w)(g.data)
    np.testing.assert_allclose(tensor.to_numpy(w), 0.4)
    assert Halving.seen == [tensor.Tensor]

    class RoutingByHand(opt.MultiOptimizer):  # a MultiOptimizer that overrides apply()
        def apply(self, param_name, param_value, param_grad):
            self.optimizers["default"].apply(param_name, param_value, param_grad * 0.0)

    RoutingByHand({"default": opt.SGD(lr=1.0)}).bind_update(b)(g.data)
    np.testing.assert_allclose(tensor.to_numpy(b), 0.0)


def test_pure_update_functions_match_the_references(rng):
    p0 = rng.standard_normal(5).astype(np.float32)
    gs = _grads(rng, (5,), 4)
    core = {k: singa_wrap.from_numpy(p0.copy()) for k in ("sgd", "rms", "ada", "adam")}
    zeros = {k: singa_wrap.from_numpy(np.zeros(5, np.float32))
             for k in ("buf", "v", "h", "m", "v2")}
    for t, g in enumerate(gs, 1):
        gc = singa_wrap.from_numpy(g)
        opt.sgd_update(core["sgd"], gc, zeros["buf"], 0.05, 0.9, 0.0, 0.01, True)
        opt.rmsprop_update(core["rms"], gc, zeros["v"], 0.01, 0.9, 1e-6, 0.01)
        opt.adagrad_update(core["ada"], gc, zeros["h"], 0.1, 1e-8, 0.01)
        opt.adam_update(core["adam"], gc, zeros["m"], zeros["v2"], 0.01, 0.9, 0.999, 1e-8,
                        0.01, t)
    refs = {"sgd": ref_sgd(p0, gs, 0.05, 0.9, 0.0, 0.01, True),
            "rms": ref_rmsprop(p0, gs, 0.01, 0.9, 1e-6, 0.01),
            "ada": ref_adagrad(p0, gs, 0.1, 1e-8, 0.01),
            "adam": ref_adam(p0, gs, 0.01, 0.9, 0.999, 1e-8, 0.01)}
    for k, want in refs.items():
        np.testing.assert_allclose(singa_wrap.to_numpy(core[k]), want, rtol=1e-5, atol=1e-6,
                                   err_msg=k)
    plain = singa_wrap.from_numpy(p0.copy())  # no momentum buffer: p -= lr * g
    opt.sgd_update(plain, singa_wrap.from_numpy(gs[0]), None, 0.1)
    np.testing.assert_allclose(singa_wrap.to_numpy(plain), p0 - 0.1 * gs[0], rtol=1e-6)
