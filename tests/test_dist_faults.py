"""A rank that dies or hangs ends the job instead of hanging it (tests/dist/faults.py)."""

import os
import sys

import pytest

pytest.importorskip("mpi4py")

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "dist"))
from launch import run_ranks  # noqa: E402


def test_a_killed_rank_ends_the_job_with_a_non_zero_exit(tmp_path):
    # the hard timeout: the launcher must notice the death, not the collective's timeout
    # (300 s here would outlast it by far)
    code, out, err = run_ranks("faults.py", ["kill", "300", str(tmp_path)], timeout=30)
    assert code != 0
    said = {r: (tmp_path / "rank{}.txt".format(r)).read_text() for r in (0, 1)}
    assert "rank 1 fails at step 1" in said[1]
    assert "rank 0 finished step 0" in said[0] and "rank 0 finished step 1" not in said[0]


def test_a_hung_rank_makes_the_others_raise_naming_it_and_the_job_ends():
    code, out, err = run_ranks("faults.py", ["hang", "2"], timeout=60)
    assert code != 0
    assert "DistTimeoutError" in err
    message = [line for line in err.splitlines() if "timed out after 2 s" in line]
    assert message, err[-3000:]
    assert "all_reduce" in message[0] and "step 1" in message[0]
    assert "rank(s) 1 did not arrive" in message[0] and "rank 0 of 2" in message[0]


def test_the_timeout_comes_from_the_environment_when_not_given():
    code, out, err = run_ranks("faults.py", ["hang", "0"], timeout=60,
                               extra_env={"SINGA_DIST_TIMEOUT": "1.5"})
    assert code != 0
    assert "timed out after 1.5 s" in err, err[-3000:]


def test_a_caught_timeout_still_ends_the_job_at_exit(tmp_path):
    code, out, err = run_ranks("faults.py", ["catch", "1", str(tmp_path)], timeout=60)
    said = (tmp_path / "rank0.txt").read_text()
    assert "rank 0 caught:" in said and "rank(s) 1 did not arrive" in said
    assert code != 0
