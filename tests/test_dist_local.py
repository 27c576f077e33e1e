"""The single-process parts of singa.dist: the buffer protocol of core tensors, the
timeout setting, threads per rank, and that importing singa does not import MPI."""

import subprocess
import sys

import numpy as np
import pytest

from singa import config, singa_wrap, tensor
from singa.dist import threads


def test_a_core_tensor_exports_its_own_memory():
    t = tensor.from_numpy(np.arange(6, dtype=np.float32).reshape(2, 3))
    view = memoryview(t.data)
    assert (view.format, view.shape, view.readonly) == ("f", (2, 3), False)
    np.asarray(t.data)[1, 2] = 42.0  # a write through the buffer lands in the tensor
    assert tensor.to_numpy(t)[1, 2] == 42.0


@pytest.mark.parametrize("dtype, fmt", [(tensor.float32, "f"), (tensor.float16, "e"),
                                        (tensor.int32, "i")])
def test_the_buffer_format_is_the_dtype(dtype, fmt):
    t = tensor.Tensor((4,), dtype=dtype)
    t.set_value(3)
    view = memoryview(t.data)
    assert view.format == fmt and view.itemsize == np.dtype(fmt).itemsize
    assert np.asarray(t.data).tolist() == [3, 3, 3, 3]


def test_a_view_that_is_not_contiguous_is_refused_not_misread():
    t = tensor.from_numpy(np.arange(6, dtype=np.float32).reshape(2, 3))
    with pytest.raises(BufferError) as info:
        memoryview(t.data.T())
    assert "not contiguous" in str(info.value.__cause__)


def test_bfloat16_is_refused():
    t = tensor.Tensor((2,), dtype=tensor.bfloat16)
    with pytest.raises(BufferError) as info:
        memoryview(t.data)
    assert "bfloat16" in str(info.value.__cause__)


def test_the_exported_memory_outlives_a_rebinding_of_the_tensor():
    t = tensor.from_numpy(np.ones(5, np.float32))
    view = memoryview(t.data)
    t.data.ResetLike(tensor.Tensor((7,)).data)  # the tensor moves to new storage
    assert np.frombuffer(view, np.float32).tolist() == [1.0] * 5
    view.release()


def test_use_dist_is_true():
    assert singa_wrap.USE_DIST is True


def test_importing_singa_and_opt_does_not_import_mpi():
    code = ("import sys, singa, singa.opt, singa.dist; singa.opt.DistOpt; "
            "assert 'mpi4py' not in sys.modules, 'mpi4py was imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_dist_timeout_reads_the_environment(monkeypatch):
    monkeypatch.delenv(config.DIST_TIMEOUT, raising=False)
    assert config.dist_timeout() == 300.0
    monkeypatch.setenv(config.DIST_TIMEOUT, "12.5")
    assert config.dist_timeout() == 12.5
    for bad in ("0", "-3", "soon", "inf", "nan"):
        monkeypatch.setenv(config.DIST_TIMEOUT, bad)
        with pytest.raises(ValueError, match="SINGA_DIST_TIMEOUT"):
            config.dist_timeout()


def test_ranks_share_the_cores_unless_the_count_was_chosen(monkeypatch):
    chosen = []
    monkeypatch.setattr(threads.singa, "set_num_threads", chosen.append)
    monkeypatch.setattr(threads.singa, "get_num_threads", lambda: 8)
    threads.default_threads_per_rank(2, cores=8)
    threads.default_threads_per_rank(3, cores=8)
    threads.default_threads_per_rank(16, cores=8)
    assert chosen == [4, 2, 1]
    threads.default_threads_per_rank(2, cores=16)  # 8 of 16: chosen by the user, kept
    threads.default_threads_per_rank(1, cores=8)   # one rank: nothing to share
    assert chosen == [4, 2, 1]
