"""DistOpt's transport choice (singa/dist/nccl_comm.py): MPI for host tensors, NCCL for
CUDA tensors where the build has it, and a clear error when NCCL is asked for and absent.
No MPI job is started here (DistOpt checks its arguments first); the choice on a launched
job is checked by tests/dist/collectives.py."""

import pytest

from singa import device, opt, tensor
from singa import singa_wrap as sw
from singa.dist import nccl_comm

cpu_build = pytest.mark.skipif(sw.USE_CUDA, reason="checks a build without CUDA")


class _Lang(object):
    """A core tensor's device as choose_backend sees it (its language)."""

    def __init__(self, lang):
        self._lang = lang

    def device(self):
        return self

    def lang(self):
        return self._lang


def test_host_tensors_choose_mpi():
    for core in (tensor.Tensor((3,)).data,
                 tensor.Tensor((3,), device.create_test_device(host_memory=False)).data):
        assert nccl_comm.choose_backend(None, core) == "mpi"
        assert nccl_comm.choose_backend("mpi", core) == "mpi"


def test_cuda_tensors_choose_nccl_where_the_build_has_it(monkeypatch):
    gpu_like = _Lang(sw.kCuda)
    assert nccl_comm.choose_backend("mpi", gpu_like) == "mpi"  # the override wins
    monkeypatch.setattr(nccl_comm, "_native", lambda: object)
    assert nccl_comm.choose_backend(None, gpu_like) == "nccl"
    assert nccl_comm.choose_backend(None, _Lang(sw.kCpp)) == "mpi"


def test_without_nccl_cuda_tensors_fall_back_to_mpi(monkeypatch):
    def missing():
        raise RuntimeError("no NCCL here")
    monkeypatch.setattr(nccl_comm, "_native", missing)
    assert nccl_comm.nccl_available() == (False, "no NCCL here")
    assert nccl_comm.choose_backend(None, _Lang(sw.kCuda)) == "mpi"


@cpu_build
def test_a_cpu_build_says_nccl_is_missing_and_why():
    ok, why = nccl_comm.nccl_available()
    assert not ok and "built without CUDA" in why and "USE_CUDA is False" in why
    with pytest.raises(RuntimeError, match=r"backend='nccl'.*without CUDA.*SINGA_USE_CUDA=ON"
                                           r".*or use backend='mpi'"):
        nccl_comm.choose_backend("nccl", tensor.Tensor((2,)).data)


@cpu_build
def test_distopt_refuses_nccl_on_a_cpu_build_before_starting_mpi():
    with pytest.raises(RuntimeError, match=r"DistOpt\(backend='nccl'\): this singa was built "
                                           r"without CUDA.*or use backend='mpi'"):
        opt.DistOpt(opt.SGD(), backend="nccl")


def test_the_cuda_build_binds_the_nccl_communicator():
    if not sw.USE_CUDA:
        assert not hasattr(sw, "NcclCommunicator")
    else:
        assert nccl_comm.nccl_available() == (True, None)


def test_an_unknown_backend_is_refused():
    with pytest.raises(ValueError, match=r"backend must be None \(automatic\), 'mpi' or 'nccl', "
                                         r"got 'gloo'"):
        opt.DistOpt(opt.SGD(), backend="gloo")
