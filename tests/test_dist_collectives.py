"""DistOpt's collectives on 2 MPI ranks against NumPy (tests/dist/collectives.py)."""

import pytest

pytest.importorskip("mpi4py")

import os  # noqa: E402
import sys  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "dist"))
from launch import run_ranks  # noqa: E402

CHECKS = ["attributes", "host_tensors_go_by_mpi", "all_reduce_sums_in_place", "all_reduce_of_a_strided_view",
          "large_all_reduce_in_pieces",
          "mpi_sums_memory_the_host_cannot_read", "fused_all_reduce_with_staging", "all_reduce_half_sends_float16",
          "sparsification_top_k", "sparsification_threshold",
          "sparsification_residual_and_fused", "broadcast_and_barrier",
          "gradients_are_sent_during_backward", "bad_arguments_raise"]


@pytest.fixture(scope="module")
def passed(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist_collectives")
    code, _, err = run_ranks("collectives.py", [str(out)], timeout=90)
    names = []
    for rank in (0, 1):
        path = out / "rank{}.txt".format(rank)
        names += path.read_text().split() if path.exists() else []
    return code, names, err


@pytest.mark.parametrize("check", CHECKS)
def test_check_passes_on_both_ranks(passed, check):
    code, names, err = passed
    assert names.count(check) == 2, "{} passed on {} rank(s); exit {}\n{}".format(
        check, names.count(check), code, err[-3000:])


def test_the_run_exits_cleanly(passed):
    code, names, err = passed
    assert code == 0, err[-3000:]
    assert sorted(set(names)) == sorted(CHECKS)
