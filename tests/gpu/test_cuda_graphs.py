"""Graph mode on the GPU through CUDA graphs (core/graph.h): a recorded training step's
first replay captures the runs of kernels between the nodes that need the host (dropout's
random-stream position, the optimizer's Python updates), later replays launch them. The
numbers must be those of node-by-node replay and of eager steps, and the memory flat."""

import numpy as np
import pytest

from singa import autograd, layer, model, opt, tensor


class _Net(model.Model):
    def __init__(self, conv):
        super().__init__()
        self.conv = conv
        if conv:
            self.c1 = layer.Conv2d(8, 3, padding=1)
            self.bn = layer.BatchNorm2d()
            self.pool = layer.MaxPool2d(2)
            self.flat = layer.Flatten()
        self.l1 = layer.Linear(32)
        self.drop = layer.Dropout(0.3)
        self.l2 = layer.Linear(4)

    def forward(self, x):
        if self.conv:
            x = self.flat(self.pool(autograd.relu(self.bn(self.c1(x)))))
        return self.l2(self.drop(autograd.relu(self.l1(x))))

    def train_one_batch(self, x, y):
        out = self.forward(x)
        loss = autograd.softmax_cross_entropy(out, y)
        self.optimizer(loss)
        return out, loss


def _train(gpu, conv, use_graph, steps=5):
    rng = np.random.RandomState(0)
    shape = (16, 3, 8, 8) if conv else (16, 20)
    batches = [(rng.randn(*shape).astype(np.float32), rng.randint(0, 4, 16).astype(np.int32))
               for _ in range(steps)]
    gpu.SetRandSeed(11)
    net = _Net(conv)
    net.set_optimizer(opt.SGD(lr=0.05, momentum=0.9, weight_decay=1e-4))
    tx = tensor.Tensor(shape, gpu, requires_grad=False)
    ty = tensor.Tensor((16,), gpu, tensor.int32, requires_grad=False)
    net.compile([tx], is_train=True, use_graph=use_graph)
    init = np.random.RandomState(1)
    for p in net.get_params().values():
        p.copy_from_numpy(init.uniform(-0.2, 0.2, p.shape).astype(np.float32))
    losses, used = [], []
    for x, y in batches:
        tx.copy_from_numpy(x)
        ty.copy_from_numpy(y)
        _, loss = net(tx, ty)
        losses.append(float(tensor.to_numpy(loss)[0]))
        gpu.Sync()
        used.append(gpu.bytes_in_use())
    states = {k: tensor.to_numpy(v) for k, v in net.get_states().items()}
    step = getattr(net, "_graph_step", None)
    return losses, states, used, (step.graph if step is not None else None)


@pytest.mark.parametrize("conv", [False, True], ids=["mlp", "cnn"])
def test_cuda_graph_replays_match_node_replays_and_eager(gpu, conv, monkeypatch):
    captured = _train(gpu, conv, True)
    monkeypatch.setenv("SINGA_CUDA_GRAPHS", "0")
    by_node = _train(gpu, conv, True)
    eager = _train(gpu, conv, False)
    g = captured[3]
    assert g.captured(), g.capture_failure()
    assert g.captured_pieces() >= 1 and g.direct_nodes() < len(g)
    assert not by_node[3].captured()
    for other in (by_node, eager):
        np.testing.assert_allclose(captured[0], other[0], rtol=1e-5, atol=1e-6)
        for k in other[1]:
            np.testing.assert_allclose(captured[1][k], other[1][k], rtol=1e-4, atol=1e-6,
                                       err_msg=k)
    # the first replay (step 2) captures; later ones allocate nothing for good
    assert len(set(captured[2][2:])) == 1, captured[2]
