"""Launched by tests/test_dist_collectives.py under ``mpiexec -n 2``: checks DistOpt's
public collectives against NumPy, knowing every rank's input. Each rank appends
``NAME`` to OUT/rank<r>.txt per passed check (files: the ranks' stdout lines may
interleave); a failed check raises, which aborts the job (non-zero exit).

Usage: python collectives.py OUT
"""

import os
import sys

import numpy as np

from singa import autograd, device, dist, layer, opt, singa_wrap, tensor


def rank_values(rank, shape, seed):
    """The input rank ``rank`` contributes (any rank can compute any other's)."""
    return np.random.RandomState(seed + rank).randn(*shape).astype(np.float32)


def main():
    d = opt.DistOpt(opt.SGD(lr=0.1), timeout=60)
    rank, world = d.global_rank, d.world_size
    log = os.path.join(sys.argv[1], "rank{}.txt".format(rank))

    def ok(name):
        with open(log, "a") as f:
            f.write(name + "\n")
    everyone = range(world)
    assert hasattr(d, "communicator") and d.local_rank == rank and world == 2
    assert singa_wrap.USE_DIST
    ok("attributes")

    assert d.backend is None  # chosen by the first tensor sent
    t = tensor.from_numpy(rank_values(rank, (3, 5), 1))
    d.all_reduce(t)
    assert d.backend == "mpi"
    ok("host_tensors_go_by_mpi")
    np.testing.assert_allclose(tensor.to_numpy(t), sum(rank_values(r, (3, 5), 1) for r in everyone),
                               rtol=1e-6)
    counter = tensor.Tensor((1,))
    counter.set_value(float(rank + 1))
    d.all_reduce(counter.data)  # SINGA's scripts total their counters this way
    d.wait()
    assert tensor.to_numpy(counter)[0] == sum(r + 1 for r in everyone)
    ok("all_reduce_sums_in_place")

    base = tensor.from_numpy(rank_values(rank, (4, 3), 2))
    view = tensor.from_raw_tensor(base.data.T())  # not contiguous: summed through a copy
    d.all_reduce(view)
    np.testing.assert_allclose(tensor.to_numpy(view),
                               sum(rank_values(r, (4, 3), 2) for r in everyone).T, rtol=1e-6)
    ok("all_reduce_of_a_strided_view")

    # over 4 MB: summed as consecutive pieces, one in flight at a time; on_done runs once
    # every piece is summed, and a later all-reduce queues behind them
    from singa.dist import comm as comm_mod
    wire = d.communicator
    big = rank_values(rank, (2_500_001,), 3)   # 10 MB: pieces of 4, 4 and 2 MB
    small = rank_values(rank, (7,), 5)
    seen = []
    wire.start_all_reduce(big, on_done=lambda: seen.append(big[-1].copy()))
    wire.start_all_reduce(small)
    assert [e.request is not None for e in wire._pending] == [True, False, False, False]
    assert [e.piece.size for e in wire._pending] == [1 << 20, 1 << 20, 2_500_001 - (2 << 20), 7]
    wire.wait()
    expected = sum(rank_values(r, (2_500_001,), 3) for r in everyone)
    np.testing.assert_array_equal(big, expected)  # two ranks: one addition, exact
    np.testing.assert_array_equal(small, sum(rank_values(r, (7,), 5) for r in everyone))
    assert seen == [expected[-1]] and comm_mod._IN_FLIGHT_BYTES == 4 << 20
    ok("large_all_reduce_in_pieces")

    # memory the host cannot read (a GPU's, here a test device's) goes through copies
    far = device.create_test_device(host_memory=False)
    g = tensor.from_numpy(rank_values(rank, (6, 2), 4))
    g.to_device(far)
    d.all_reduce(g)
    fused = [tensor.from_numpy(rank_values(rank, (n,), 30 + n)) for n in (5, 3)]
    for f in fused:
        f.to_device(far)
    d.fused_all_reduce(fused)
    d.wait()
    np.testing.assert_allclose(tensor.to_numpy(g), sum(rank_values(r, (6, 2), 4) for r in everyone),
                               rtol=1e-6)
    for n, f in zip((5, 3), fused):
        np.testing.assert_allclose(tensor.to_numpy(f),
                                   sum(rank_values(r, (n,), 30 + n) for r in everyone), rtol=1e-6)
    ok("mpi_sums_memory_the_host_cannot_read")

    parts = [tensor.from_numpy(rank_values(rank, (n,), 10 + n)) for n in (3, 7, 2)]
    d.fused_all_reduce([parts[0]], send=False)  # staged only
    d.fused_all_reduce(parts[1:])
    d.wait()
    for n, p in zip((3, 7, 2), parts):
        np.testing.assert_allclose(tensor.to_numpy(p),
                                   sum(rank_values(r, (n,), 10 + n) for r in everyone), rtol=1e-6)
    ok("fused_all_reduce_with_staging")

    h = tensor.from_numpy(rank_values(rank, (50,), 3))
    sent = d.communicator.bytes_sent
    d.all_reduce_half(h)
    assert d.communicator.bytes_sent - sent == 50 * 2  # float16 on the wire
    exact = sum(rank_values(r, (50,), 3) for r in everyone)
    halves = sum(rank_values(r, (50,), 3).astype(np.float16) for r in everyone)
    np.testing.assert_array_equal(tensor.to_numpy(h), halves.astype(np.float32))
    np.testing.assert_allclose(tensor.to_numpy(h), exact, atol=1e-2)
    hs = [tensor.from_numpy(rank_values(rank, (n,), 20 + n)) for n in (4, 6)]
    d.fused_all_reduce_half(hs)
    d.wait()
    for n, x in zip((4, 6), hs):
        np.testing.assert_allclose(tensor.to_numpy(x),
                                   sum(rank_values(r, (n,), 20 + n) for r in everyone), atol=1e-2)
    ok("all_reduce_half_sends_float16")

    def top(v, k):
        keep = np.zeros_like(v)
        idx = np.argsort(-np.abs(v), kind="stable")[:k]
        keep[idx] = v[idx]
        return keep

    g = tensor.from_numpy(rank_values(rank, (40,), 4))
    d.sparsification(g, None, 0.1, True)  # 4 of 40 entries from each rank
    np.testing.assert_allclose(tensor.to_numpy(g),
                               sum(top(rank_values(r, (40,), 4), 4) for r in everyone), rtol=1e-6)
    ok("sparsification_top_k")

    g = tensor.from_numpy(rank_values(rank, (40,), 5))
    d.sparsification(g, None, 1.0, False)  # |x| >= 1 only

    def over(v):
        return np.where(np.abs(v) >= 1.0, v, 0)
    np.testing.assert_allclose(tensor.to_numpy(g),
                               sum(over(rank_values(r, (40,), 5)) for r in everyone), rtol=1e-6)
    ok("sparsification_threshold")

    acc = tensor.Tensor((40,))
    acc.set_value(0.0)
    first = rank_values(rank, (40,), 6)
    g = tensor.from_numpy(first.copy())  # from_numpy shares the array's memory
    d.sparsification(g, acc, 0.1, True)
    # the residual keeps exactly what this rank did not send
    np.testing.assert_allclose(tensor.to_numpy(acc), first - top(first, 4), rtol=1e-6)
    second = rank_values(rank, (40,), 7)
    g = tensor.from_numpy(second.copy())
    d.sparsification(g, acc, 0.1, True)
    expected = sum(top(rank_values(r, (40,), 6) - top(rank_values(r, (40,), 6), 4)
                       + rank_values(r, (40,), 7), 4) for r in everyone)
    np.testing.assert_allclose(tensor.to_numpy(g), expected, rtol=1e-5)
    fused = [tensor.from_numpy(rank_values(rank, (n,), 30 + n)) for n in (10, 30)]
    d.fused_sparsification(fused, None, 0.1, True)
    joined = {r: np.concatenate([rank_values(r, (n,), 30 + n) for n in (10, 30)])
              for r in everyone}
    total = sum(top(joined[r], 4) for r in everyone)
    np.testing.assert_allclose(np.concatenate([tensor.to_numpy(x) for x in fused]), total,
                               rtol=1e-6)
    ok("sparsification_residual_and_fused")

    b = tensor.from_numpy(rank_values(rank, (6,), 8))
    dist.broadcast(b, root=1)
    np.testing.assert_array_equal(tensor.to_numpy(b), rank_values(1, (6,), 8))
    arr = rank_values(rank, (2, 2), 9)
    dist.broadcast(arr, root=0)
    np.testing.assert_array_equal(arr, rank_values(0, (2, 2), 9))
    dist.barrier()
    ok("broadcast_and_barrier")

    # each gradient is sent the moment backward yields it (threshold 0: no fusing)
    yielded, started_at = [0], []
    real_backward, real_start = autograd.backward, d.communicator.start_all_reduce

    def counting_backward(loss, dy=None):
        for pair in real_backward(loss, dy):
            yielded[0] += 1
            yield pair

    def recording_start(*args, **kwargs):
        started_at.append(yielded[0])
        return real_start(*args, **kwargs)
    autograd.backward, d.communicator.start_all_reduce = counting_backward, recording_start
    autograd.training = True
    l1, l2 = layer.Linear(5), layer.Linear(3)
    x = tensor.from_numpy(rank_values(0, (4, 6), 40))
    y = tensor.from_numpy(np.eye(3, dtype=np.float32)[[0, 1, 2, 0]])
    d.backward_and_update(autograd.softmax_cross_entropy(l2(autograd.relu(l1(x))), y),
                          threshold=0)
    autograd.backward, d.communicator.start_all_reduce = real_backward, real_start
    assert started_at == [1, 2, 3, 4], started_at  # not all after the last gradient
    ok("gradients_are_sent_during_backward")

    for kwargs, word in (({"nccl_id": object()}, "nccl_id"), ({"world_size": 3}, "world_size"),
                         ({"local_rank": 5}, "local_rank"), ({"buffSize": 0}, "buffSize")):
        try:
            opt.DistOpt(opt.SGD(), **kwargs)
        except ValueError as e:
            assert word in str(e), e
        else:
            raise AssertionError("DistOpt({}) did not raise".format(kwargs))
    try:
        d.sparsification(tensor.Tensor((4,)), None, 2.0, True)
    except ValueError as e:
        assert "spars" in str(e)
    else:
        raise AssertionError("topK with spars 2.0 did not raise")
    ok("bad_arguments_raise")


if __name__ == "__main__":
    main()
