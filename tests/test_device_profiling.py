"""Device time profiling (SINGA's SetVerbosity / SetSkipIteration / PrintTimeProfiling):
the kernels of replayed graphs are timed, reported by kernel type or by node."""

import collections
import gc
import re
import time

import numpy as np
import pytest

from singa import device, opt, tensor

from _models import MLP

ROW = re.compile(r"^\s+(\d+\.\d+)\s+(\d+\.\d)%\s+(\d+)\s+(\S.*)$")
TIMED = re.compile(r"(\d+) nodes, (\d+) of (\d+) iterations timed")
SPLIT = re.compile(r"forward propagation (\d+\.\d+) ms/iter \(the first (\d+) nodes\), "
                   r"backward propagation and updates (\d+\.\d+) ms/iter")


def train(dev, steps, verbosity=1, skip=0):
    """Trains a small MLP in graph mode on `dev` for `steps` steps (the recording step
    included); returns the model and the wall seconds of every step."""
    dev.SetVerbosity(verbosity)
    dev.SetSkipIteration(skip)
    net = MLP(hidden=16, classes=4)
    net.set_optimizer(opt.SGD(lr=0.05, momentum=0.9))
    tx = tensor.Tensor((8, 10), dev, requires_grad=False)
    ty = tensor.Tensor((8,), dev, tensor.int32, requires_grad=False)
    net.compile([tx], is_train=True, use_graph=True, sequential=False)
    rng = np.random.RandomState(0)
    seconds = []
    for _ in range(steps):
        tx.copy_from_numpy(rng.randn(8, 10).astype(np.float32))
        ty.copy_from_numpy(rng.randint(0, 4, 8).astype(np.int32))
        start = time.perf_counter()
        net(tx, ty)
        seconds.append(time.perf_counter() - start)
    return net, seconds


def rows(text):
    """(mean ms/iter, share %, count, label) of every table row."""
    out = []
    for line in text.splitlines():
        m = ROW.match(line)
        if m:
            out.append((float(m.group(1)), float(m.group(2)), int(m.group(3)), m.group(4)))
    return out


@pytest.fixture
def dev():
    """A device of its own, so no other test's graphs or settings show up."""
    return device.create_test_device()


def test_defaults_are_singas(dev):
    assert dev.verbosity() == 0 and dev.skip_iteration() == 5


def test_verbosity_0_times_nothing_and_prints_nothing(dev, capsys):
    net, _ = train(dev, 4, verbosity=0)
    graph = net._graph_step.graph
    assert graph.iterations() == 4 and graph.timed_iterations() == 0
    assert dev.TimeProfile() == ""
    dev.PrintTimeProfiling()
    assert capsys.readouterr().out == ""


def test_verbosity_1_reports_each_kernel_type_with_its_calls(dev):
    net, _ = train(dev, 5, verbosity=1, skip=0)
    graph = net._graph_step.graph
    text = dev.TimeProfile()
    assert "verbosity 1, by kernel" in text
    nodes, timed, iterations = map(int, TIMED.search(text).groups())
    assert (nodes, timed, iterations) == (len(graph), 4, 5)  # the recording is not timed
    table = rows(text)
    total = table[-1]
    assert total[3] == "total" and total[2] == len(graph) and total[1] == 100.0
    calls = {label: count for _, _, count, label in table[:-1]}
    assert calls == dict(collections.Counter(graph.node_names()))
    # each parameter's update is a node of its own, named after the optimizer
    assert calls["SGD.update"] == len(net.get_params())
    assert "Mult" in calls and "ReLU" in calls and "SoftmaxCrossEntropyBwd" in calls
    means = [ms for ms, _, _, _ in table[:-1]]
    assert means == sorted(means, reverse=True)  # the slowest first
    assert sum(means) == pytest.approx(total[0], abs=1e-3 * len(means))


def test_verbosity_1_splits_forward_from_backward(dev):
    net, _ = train(dev, 3, verbosity=1, skip=0)
    names = net._graph_step.graph.node_names()
    forward_ms, first_backward, backward_ms = SPLIT.search(dev.TimeProfile()).groups()
    k = int(first_backward)
    assert "CrossEntropyFwd" in names[:k] and "ReLU" in names[:k]
    assert "SoftmaxCrossEntropyBwd" in names[k:] and "ReLUBackward" in names[k:]
    assert "SGD.update" not in names[:k]
    assert float(forward_ms) > 0 and float(backward_ms) > 0


def test_verbosity_2_reports_every_node_in_replay_order(dev):
    net, _ = train(dev, 4, verbosity=2, skip=0)
    graph = net._graph_step.graph
    text = dev.TimeProfile()
    assert "verbosity 2, by node" in text
    table = rows(text)
    assert [(i, label) for _, _, i, label in table[:-1]] == list(enumerate(graph.node_names()))
    assert table[-1][2:] == (len(graph), "total")
    assert all(ms >= 0 for ms, _, _, _ in table)


def test_the_format_follows_the_verbosity_at_print_time(dev):
    net, _ = train(dev, 3, verbosity=2, skip=0)
    by_node = dev.TimeProfile()
    dev.SetVerbosity(1)
    by_kernel = dev.TimeProfile()
    assert "by node" in by_node and "by kernel" in by_kernel
    assert len(rows(by_node)) == len(net._graph_step.graph) + 1
    assert len(rows(by_kernel)) == len(set(net._graph_step.graph.node_names())) + 1


def test_times_are_means_over_the_timed_iterations(dev):
    steps, skip = 8, 3
    net, seconds = train(dev, steps, verbosity=1, skip=skip)
    assert net._graph_step.graph.timed_iterations() == steps - skip
    total_ms = rows(dev.TimeProfile())[-1][0]
    # a mean per iteration: no more than the slowest timed step took from Python
    assert 0 < total_ms <= 1e3 * max(seconds[skip:])


@pytest.mark.parametrize("skip,timed", [(0, 5), (1, 5), (2, 4), (5, 1), (6, 0), (9, 0)])
def test_skip_iteration_counts_the_recording_step(dev, skip, timed):
    net, _ = train(dev, 6, verbosity=1, skip=skip)
    assert net._graph_step.graph.timed_iterations() == timed
    text = dev.TimeProfile()
    if timed:
        assert TIMED.search(text).group(2) == str(timed)
    else:
        assert "nothing was timed" in text and "first {} iterations".format(skip) in text


def test_eager_mode_says_only_replayed_graphs_are_timed(dev):
    dev.SetVerbosity(1)
    net = MLP(hidden=8, classes=3)
    net.set_optimizer(opt.SGD(lr=0.1))
    x = tensor.Tensor((4, 5), dev, requires_grad=False)
    x.gaussian(0, 1)
    y = tensor.from_numpy(np.array([0, 1, 2, 0], np.int32), dev)
    net.compile([x], is_train=True, use_graph=False)
    for _ in range(3):
        net(x, y)
    text = dev.TimeProfile()
    assert "nothing was timed" in text and "Only replayed graphs are timed" in text
    assert "eager kernels are not" in text


def test_print_time_profiling_prints_the_table(dev, capsys):
    train(dev, 3, verbosity=1, skip=0)
    expected = dev.TimeProfile()
    dev.PrintTimeProfiling()
    assert capsys.readouterr().out == expected


def test_every_live_graph_of_the_device_is_reported(dev):
    first, _ = train(dev, 3, verbosity=1, skip=0)
    second, _ = train(dev, 4, verbosity=1, skip=0)
    text = dev.TimeProfile()
    assert "graph 1 of 2" in text and "graph 2 of 2" in text
    del first
    gc.collect()
    text = dev.TimeProfile()
    assert "graph 1 of 1" in text and TIMED.search(text).group(2) == "3"


def test_graphs_of_other_devices_are_not_reported(dev):
    train(dev, 3, verbosity=1, skip=0)
    other = device.create_test_device()
    other.SetVerbosity(1)
    assert "nothing was timed" in other.TimeProfile()


@pytest.mark.parametrize("bad", [-1, 3, 7])
def test_set_verbosity_rejects_levels_it_lacks(dev, bad):
    with pytest.raises(ValueError, match=r"SetVerbosity\({}\).*0 .*1 .*2".format(bad)):
        dev.SetVerbosity(bad)
    assert dev.verbosity() == 0


def test_set_skip_iteration_rejects_negative_counts(dev):
    with pytest.raises(ValueError, match=r"SetSkipIteration\(-1\).*negative"):
        dev.SetSkipIteration(-1)
    assert dev.skip_iteration() == 5


def test_the_cpu_device_profiles_too():
    cpu = device.get_default_device()
    try:
        net, _ = train(cpu, 3, verbosity=1, skip=0)
        assert net._graph_step.graph.timed_iterations() == 2
        assert "Time profile of cpu" in cpu.TimeProfile()
    finally:
        cpu.SetVerbosity(0)
        cpu.SetSkipIteration(5)
