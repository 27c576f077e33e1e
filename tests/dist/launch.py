"""Launches a script under ``mpiexec -n N`` for the 2-rank tests, with a hard timeout."""

import os
import shutil
import signal
import subprocess
import sys

import pytest

import singa

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(singa.__file__)))


def mpiexec():
    """The mpiexec installed next to this Python (the mpich wheel's), else the one on
    PATH, else None."""
    beside = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    if os.path.isfile(beside) and os.access(beside, os.X_OK):
        return beside
    return shutil.which("mpiexec")


def run_ranks(script, args=(), n=2, timeout=90, extra_env=None):
    """Runs tests/dist/<script> on ``n`` ranks; returns (returncode, stdout, stderr).
    Fails the test (after killing every process of the job) past ``timeout`` seconds."""
    pytest.importorskip("mpi4py")
    exe = mpiexec()
    if exe is None:
        pytest.skip("no mpiexec next to {} nor on PATH".format(sys.executable))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (PYTHON_DIR, env.get("PYTHONPATH")) if p)
    env.update(extra_env or {})
    cmd = [exe, "-n", str(n), sys.executable, os.path.join(HERE, script)] + list(args)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail("{} on {} ranks ran past {} s\nstdout:\n{}\nstderr:\n{}".format(
            script, n, timeout, out[-3000:], err[-3000:]))
    return proc.returncode, out, err
