"""Graph mode's CUDA-graph path (core/graph.h, core/capture.h), run without a GPU: the
test device with device memory captures queued work as a GPU's stream does (each kernel
call kept with its operands' addresses, not their buffers; memory allocated meanwhile
from the capture's pool; cpu/test_device.h). So a replay that launched captured work
only computes the right numbers when every address the capture baked in still holds
what it should: the results are compared with node-by-node replays and eager steps."""

import warnings

import numpy as np
import pytest

from singa import device, opt, tensor
from singa import singa_wrap as sw

from _models import MLP, SmallCNN


def _batches(n, batch=8, features=6, classes=3, seed=0, image=False):
    rng = np.random.RandomState(seed)
    shape = (batch, 1, 6, 6) if image else (batch, features)
    return [(rng.randn(*shape).astype(np.float32),
             rng.randint(0, classes, batch).astype(np.int32)) for _ in range(n)]


def _train(dev, batches, use_graph=True, cls=MLP, make_opt=None, **kw):
    """Losses and final states of a model trained on `dev`, and its GraphStep."""
    dev.SetRandSeed(7)
    net = cls(**kw)
    net.set_optimizer(make_opt() if make_opt else opt.SGD(lr=0.1, momentum=0.9))
    x0 = batches[0][0]
    net.compile([tensor.Tensor(x0.shape, dev, requires_grad=False)], is_train=True,
                use_graph=use_graph)
    rng = np.random.RandomState(1)
    for p in net.get_params().values():
        p.copy_from_numpy(rng.uniform(-0.3, 0.3, p.shape).astype(np.float32))
    losses = []
    for x, y in batches:
        _, loss = net(tensor.from_numpy(x, dev), tensor.from_numpy(y, dev))
        losses.append(float(tensor.to_numpy(loss)[0]))
    states = {k: tensor.to_numpy(v).copy() for k, v in net.get_states().items()}
    return losses, states, net._graph_step


def _same(a, b):
    assert a[0] == b[0]
    assert a[1].keys() == b[1].keys()
    for k in a[1]:
        np.testing.assert_array_equal(a[1][k], b[1][k], err_msg=k)


@pytest.fixture
def gpu_like():
    return device.create_test_device(host_memory=False)


def test_capturing_replays_match_node_replays_and_eager_steps(gpu_like, monkeypatch):
    batches = _batches(6)
    captured = _train(gpu_like, batches, dropout=0.3)
    monkeypatch.setenv("SINGA_CUDA_GRAPHS", "0")
    node_by_node = _train(device.create_test_device(host_memory=False), batches, dropout=0.3)
    eager = _train(device.create_test_device(host_memory=False), batches, use_graph=False,
                   dropout=0.3)
    _same(captured, node_by_node)
    _same(captured, eager)
    g = captured[2].graph
    assert g.captured() and g.capture_failure() == ""
    assert not node_by_node[2].graph.captured()
    assert node_by_node[2].graph.direct_nodes() == len(node_by_node[2].graph)


def test_hazard_nodes_run_between_captured_pieces(gpu_like):
    _, _, step = _train(gpu_like, _batches(3), dropout=0.3)
    g = step.graph
    hazards = [h for h in g.capture_hazards() if h]
    names = g.node_names()
    # the dropout mask draws from the random stream; the four updates call Python; the
    # cross-entropy forward and backward check the labels on the host
    assert sum("random stream" in h for h in hazards) == 1
    assert sum("Python" in h for h in hazards) == 4
    assert sum("host and device" in h for h in hazards) == 2
    assert g.direct_nodes() == len(hazards)
    assert 1 <= g.captured_pieces() <= len(hazards) + 1
    for name, h in zip(names, g.capture_hazards()):
        if "Python" in h:
            assert name.endswith(".update")


def test_dropout_draws_new_masks_on_every_launch(gpu_like):
    # with the mask's draw captured, every step would reuse the first step's mask
    batches = [_batches(1)[0]] * 4
    _, _, step = _train(gpu_like, batches, dropout=0.5, make_opt=lambda: opt.SGD(lr=0.0))
    net_losses = _train(device.create_test_device(host_memory=False), batches, dropout=0.5,
                        make_opt=lambda: opt.SGD(lr=0.0))[0]
    assert len(set(net_losses)) > 1  # lr 0: only the masks change the loss
    assert step.graph.captured()


def test_learning_rate_schedule_reaches_captured_replays(gpu_like, monkeypatch):
    def sched():
        return opt.SGD(lr=opt.ExponentialDecay(0.2, 2, 0.5, staircase=True), momentum=0.5)
    batches = _batches(6)
    captured = _train(gpu_like, batches, make_opt=sched)
    eager = _train(device.create_test_device(host_memory=False), batches, use_graph=False,
                   make_opt=sched)
    _same(captured, eager)


def test_adam_and_a_conv_net_capture(gpu_like):
    batches = _batches(4, classes=2, image=True)
    make = lambda: opt.Adam(lr=0.01)  # noqa: E731
    captured = _train(gpu_like, batches, cls=SmallCNN, make_opt=make)
    eager = _train(device.create_test_device(host_memory=False), batches, cls=SmallCNN,
                   use_graph=False, make_opt=make)
    for a, b in zip(captured[0], eager[0]):
        assert a == pytest.approx(b, rel=1e-6)
    for k in eager[1]:
        np.testing.assert_allclose(captured[1][k], eager[1][k], rtol=1e-5, atol=1e-6,
                                   err_msg=k)
    assert captured[2].graph.captured()


def test_memory_is_flat_across_captured_replays(gpu_like):
    dev = gpu_like
    batches = _batches(12)
    dev.SetRandSeed(7)
    net = MLP(dropout=0.3)
    net.set_optimizer(opt.SGD(lr=0.1, momentum=0.9))
    net.compile([tensor.Tensor((8, 6), dev, requires_grad=False)], is_train=True,
                use_graph=True)
    used = []
    for x, y in batches:
        net(tensor.from_numpy(x, dev), tensor.from_numpy(y, dev))
        used.append(dev.bytes_in_use())
    # the first replay captures; from the second on nothing allocates for good
    assert len(set(used[3:])) == 1, used


def test_the_cpu_device_replays_node_by_node():
    _, _, step = _train(device.get_default_device(), _batches(3), dropout=0.3)
    g = step.graph
    assert not g.captured() and g.captured_pieces() == 0 and g.direct_nodes() == len(g)
    # the hazards are known all the same (they are noted while recording)
    assert sum(bool(h) for h in g.capture_hazards()) == 5


def _tanh_of_product(dev, then=None):
    """x (ones), y = tanh(x @ 0.5) and the graph recording y (and `then()`, if given)."""
    x = sw.from_numpy(np.ones((4, 4), np.float32), dev)
    w = sw.from_numpy(np.full((4, 4), 0.5, np.float32), dev)
    sw.GraphBegin()
    try:
        y = sw.Tanh(sw.Mult(x, w))
        if then is not None:
            then()
    finally:
        g = sw.GraphEnd()
    return x, y, g


def test_set_capture_false_before_the_first_replay(gpu_like):
    x, y, g = _tanh_of_product(gpu_like)
    assert g.capture_enabled()
    g.SetCapture(False)
    g.Run()
    assert not g.captured() and g.direct_nodes() == 2
    np.testing.assert_allclose(sw.to_numpy(y), np.tanh(np.full((4, 4), 2.0)), rtol=1e-6)


def test_launches_run_on_the_addresses_the_capture_saw(gpu_like):
    # y is read by Python between replays: its block keeps one address and every launch
    # writes the new values there
    x, y, g = _tanh_of_product(gpu_like)
    for scale in (1.0, 2.0, -1.0):
        x.CopyData(sw.from_numpy(np.full((4, 4), scale, np.float32), gpu_like))
        g.Run()
        assert g.captured() and g.captured_pieces() == 1
        np.testing.assert_allclose(sw.to_numpy(y), np.tanh(np.full((4, 4), 2.0 * scale)),
                                   rtol=1e-6)


def test_a_node_on_another_device_runs_outside_the_capture(gpu_like):
    # capturing queues the graph device's work only: a CPU kernel would run at the
    # capture and never again
    cpu = device.get_default_device()
    c = sw.from_numpy(np.ones((3,), np.float32), cpu)
    out = []
    x, y, g = _tanh_of_product(gpu_like, then=lambda: out.append(sw.Tanh(c)))
    z = out[0]
    hazards = g.capture_hazards()
    assert hazards[:2] == ["", ""] and "other than the graph's" in hazards[2]
    for scale in (2.0, -3.0):
        x.CopyData(sw.from_numpy(np.full((4, 4), scale, np.float32), gpu_like))
        c.CopyData(sw.from_numpy(np.full((3,), scale, np.float32), cpu))
        g.Run()
        assert g.captured_pieces() == 1 and g.direct_nodes() == 1
        np.testing.assert_allclose(sw.to_numpy(y), np.tanh(np.full((4, 4), 2.0 * scale)),
                                   rtol=1e-6)
        np.testing.assert_allclose(sw.to_numpy(z), np.tanh(np.full((3,), scale)), rtol=1e-6)


class _FailedCapture:
    """A recorded graph whose capture failed, as GraphStep sees it."""

    def __init__(self, graph):
        self._graph = graph

    def Run(self):
        self._graph.Run()

    def capture_failure(self):
        return "cudaStreamEndCapture on cuda:0: operation not permitted when stream is capturing"


def test_a_failed_capture_warns_once_and_keeps_training(gpu_like):
    batches = _batches(4)
    dev = gpu_like
    dev.SetRandSeed(7)
    net = MLP()
    net.set_optimizer(opt.SGD(lr=0.1))
    net.compile([tensor.Tensor((8, 6), dev, requires_grad=False)], is_train=True,
                use_graph=True)
    x, y = batches[0]
    net(tensor.from_numpy(x, dev), tensor.from_numpy(y, dev))  # recorded
    step = net._graph_step
    step.graph = _FailedCapture(step.graph)
    with pytest.warns(RuntimeWarning, match="CUDA graphs failed .*operation not permitted"):
        net(tensor.from_numpy(x, dev), tensor.from_numpy(y, dev))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        for x, y in batches[1:]:
            net(tensor.from_numpy(x, dev), tensor.from_numpy(y, dev))


def test_a_graph_that_starts_with_a_hazard_still_captures(gpu_like):
    # the first node (a random fill) runs outside the capture, yet the graph belongs to
    # its device: the nodes after it are captured
    noise = sw.from_numpy(np.zeros((4, 4), np.float32), gpu_like)
    out = []
    sw.GraphBegin()
    try:
        sw.Uniform(0.0, 1.0, noise)
        out.append(sw.Tanh(noise))
    finally:
        g = sw.GraphEnd()
    assert "random stream" in g.capture_hazards()[0]
    seen = []
    for _ in range(3):
        g.Run()
        assert g.captured() and g.captured_pieces() == 1 and g.direct_nodes() == 1
        drawn = sw.to_numpy(noise)
        np.testing.assert_allclose(sw.to_numpy(out[0]), np.tanh(drawn), rtol=1e-6)
        seen.append(drawn.copy())
    assert not np.array_equal(seen[0], seen[1])
