"""NCCL, DistOpt's transport for GPU tensors (src/cuda/nccl_comm.cc, singa/dist/nccl_comm.py),
on one GPU: a one-rank communicator (NCCL needs a GPU per rank, so the sums of several ranks
are not checked here; that path is untested until it has run on several GPUs).

On a real GPU the native singa_wrap.NcclCommunicator runs; with SINGA_GPU_TEST_DEVICE=test
the one-rank stand-in of _nccl_standin.py replaces it, which checks these tests and the
Python transport, not NCCL.
"""

import os
import subprocess
import sys
import time

import numpy as np
import pytest

import _nccl_standin
from _launcher import env_with_this_singa
from singa import singa_wrap as sw
from singa import tensor
from singa.dist import nccl_comm

HERE = os.path.dirname(os.path.abspath(__file__))
DTYPES = [(tensor.float32, np.float32), (tensor.float16, np.float16),
          (tensor.bfloat16, np.float32)]
PARAMS = ["l1.W", "l1.b", "l2.W", "l2.b"]
PARAM_ELEMENTS = 12 * 16 + 16 + 16 * 4 + 4  # tests/dist/train_variants.py's MLP


def _real(gpu):
    return gpu.lang() == sw.kCuda


@pytest.fixture(scope="module")
def native(gpu):
    """The communicator class: NCCL's on a GPU, the stand-in on the test device."""
    if not _real(gpu):
        return _nccl_standin.OneRankNccl
    ok, why = nccl_comm.nccl_available()
    assert ok, why  # every CUDA build binds it
    try:
        sw.NcclCommunicator.Version()
    except RuntimeError as e:
        pytest.skip("libnccl.so.2 does not load (install nvidia-nccl-cu13): {}".format(e))
    return sw.NcclCommunicator


@pytest.fixture(scope="module")
def comm(native, gpu):
    return native(native.NewUniqueId(), 1, 0, gpu)


def _on(gpu, values, dtype):
    t = tensor.from_numpy(np.asarray(values, np.float32))
    t.to_device(gpu)
    return t.as_type(dtype) if dtype != tensor.float32 else t


def _finish(comm):
    """Polls Done() as DistOpt's wait does (a deadline, not a timing assertion)."""
    deadline = time.monotonic() + 60
    while not comm.Done():
        assert time.monotonic() < deadline, "the queued collectives did not finish in 60 s"
        time.sleep(1e-4)


def _values(t, np_dtype):
    return tensor.to_numpy(t).astype(np_dtype)


def test_the_unique_id_is_128_fresh_bytes(native):
    a, b = native.NewUniqueId(), native.NewUniqueId()
    assert isinstance(a, bytes) and len(a) == 128 and a != b


def test_the_communicator_is_rank_0_of_1_on_the_gpu(comm, gpu):
    assert (comm.rank(), comm.world_size(), comm.aborted()) == (0, 1, False)
    assert comm.device() == gpu


@pytest.mark.parametrize("dtype, np_dtype", DTYPES, ids=["float32", "float16", "bfloat16"])
def test_all_reduce_of_one_rank_sums_in_place(comm, gpu, dtype, np_dtype):
    x = np.random.default_rng(1).standard_normal((3, 70)).astype(np.float32)
    t = _on(gpu, x, dtype)
    before = _values(t, np_dtype)
    comm.AllReduce(t.data)
    _finish(comm)
    np.testing.assert_array_equal(_values(t, np_dtype), before)  # the sum over one rank


@pytest.mark.parametrize("dtype, np_dtype", DTYPES, ids=["float32", "float16", "bfloat16"])
def test_broadcast_from_rank_0_keeps_its_values(comm, gpu, dtype, np_dtype):
    t = _on(gpu, np.arange(33, dtype=np.float32) - 7.5, dtype)
    before = _values(t, np_dtype)
    comm.Broadcast(t.data, 0)
    _finish(comm)
    np.testing.assert_array_equal(_values(t, np_dtype), before)


@pytest.mark.parametrize("dtype, np_dtype", DTYPES, ids=["float32", "float16", "bfloat16"])
def test_all_gather_puts_each_rank_in_its_slot(comm, gpu, dtype, np_dtype):
    send = _on(gpu, np.linspace(-2, 2, 21), dtype)
    recv = tensor.Tensor((21,), gpu, dtype)
    recv.set_value(0)
    comm.AllGather(send.data, recv.data)
    _finish(comm)
    np.testing.assert_array_equal(_values(recv, np_dtype), _values(send, np_dtype))


def test_reduce_scatter_of_one_rank_is_the_whole_sum(comm, gpu):
    send = _on(gpu, np.arange(10, dtype=np.float32), tensor.float32)
    recv = tensor.Tensor((10,), gpu)
    comm.ReduceScatter(send.data, recv.data)
    _finish(comm)
    np.testing.assert_array_equal(tensor.to_numpy(recv), np.arange(10, dtype=np.float32))


def test_native_errors_name_the_collective_and_the_rank(native, gpu):
    if not _real(gpu):
        pytest.skip("the stand-in does not reproduce the native communicator's errors")
    c = native(native.NewUniqueId(), 1, 0, gpu)
    host = tensor.from_numpy(np.ones(4, np.float32))  # on the CPU
    with pytest.raises(RuntimeError, match=r"NCCL all_reduce: .* on cpu.*rank 0 on cuda"):
        c.AllReduce(host.data)
    with pytest.raises(TypeError, match=r"NCCL broadcast: dtype int64"):
        c.Broadcast(tensor.Tensor((4,), gpu, tensor.int64).data, 0)
    wide = tensor.Tensor((4, 3), gpu)
    with pytest.raises(ValueError, match=r"NCCL all_reduce: .*not contiguous"):
        c.AllReduce(wide.data.T())
    with pytest.raises(ValueError, match=r"root 1 is not a rank of this job of 1"):
        c.Broadcast(wide.data, 1)
    with pytest.raises(ValueError, match=r"all_gather: the receive tensor has 5 elements"):
        c.AllGather(tensor.Tensor((4,), gpu).data, tensor.Tensor((5,), gpu).data)
    c.Abort()
    assert c.aborted()
    with pytest.raises(RuntimeError, match=r"aborted"):
        c.AllReduce(wide.data)
    with pytest.raises(ValueError, match=r"unique id has 3 bytes"):
        native(b"abc", 1, 0, gpu)
    with pytest.raises(ValueError, match=r"rank 2 of 2"):
        native(native.NewUniqueId(), 2, 2, gpu)


def test_the_library_is_nccl_2(native, gpu):
    if not _real(gpu):
        pytest.skip("a version belongs to the native library")
    assert 20000 <= native.Version() < 30000


# ---- DistOpt over NCCL, one rank, against plain SGD (in a process of its own: MPI) ----
VARIANTS = ["plain", "graph", "half", "topk"]


@pytest.fixture(scope="module")
def trained(gpu, native, tmp_path_factory):
    pytest.importorskip("mpi4py")
    out = tmp_path_factory.mktemp("nccl_step")
    env = env_with_this_singa()
    res = subprocess.run([sys.executable, os.path.join(HERE, "nccl_step.py"), str(out)] +
                         VARIANTS + ["mixed"], env=env, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return {v: np.load(str(out / (v + ".npz"))) for v in VARIANTS + ["mixed"]}


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_one_rank_distopt_step_over_nccl_equals_plain_sgd(trained, variant):
    run = trained[variant]
    assert str(run["backend"]) == "nccl"
    tol = dict(rtol=1e-3, atol=1e-4) if variant == "half" else dict(rtol=1e-5, atol=1e-6)
    for name in PARAMS:
        np.testing.assert_allclose(run["dist." + name], run["plain." + name], err_msg=name,
                                   **tol)


def test_every_gradient_went_over_nccl(trained):
    steps = 3  # tests/dist/train_variants.py's STEPS
    assert int(trained["plain"]["bytes_sent"]) == steps * PARAM_ELEMENTS * 4
    assert int(trained["half"]["bytes_sent"]) == steps * PARAM_ELEMENTS * 2
    assert bool(trained["graph"]["replayed"]) and not bool(trained["plain"]["replayed"])


def test_a_host_tensor_after_the_gpu_chose_nccl_is_refused(trained):
    assert "every parameter of a rank must live on its one GPU" in str(trained["mixed"]["error"])
