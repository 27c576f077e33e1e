"""The launcher's rank variables, cleared or set per test (test_dist_data.py, test_dist_state.py)."""
import pytest

LAUNCHER_VARS = ("PMI_RANK", "PMI_SIZE", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE",
                 "PMIX_RANK", "PMIX_SIZE", "RANK", "WORLD_SIZE")


@pytest.fixture(autouse=True)
def no_launcher(monkeypatch):
    """Every test starts as a plain process (rank 0 of 1), whatever launched pytest."""
    for name in LAUNCHER_VARS:
        monkeypatch.delenv(name, raising=False)


def launched(monkeypatch, rank, size):
    """Makes this test look like rank ``rank`` of an MPICH job of ``size``."""
    monkeypatch.setenv("PMI_RANK", str(rank))
    monkeypatch.setenv("PMI_SIZE", str(size))


def env_with_this_singa(**extra):
    """os.environ for a child process that must import the singa this test imported: the
    source tree's python/ in a checkout, site-packages when the tests run against an
    installed copy (CI), never the other one. Without the launcher's rank variables, so
    the child (or the mpiexec it is) starts as a job of its own."""
    import os

    import singa
    here = os.path.dirname(os.path.dirname(os.path.abspath(singa.__file__)))
    env = {k: v for k, v in os.environ.items() if k not in LAUNCHER_VARS}
    env.update(extra)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (here, env.get("PYTHONPATH")) if p)
    return env
