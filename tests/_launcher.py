"""The launcher's rank variables, cleared or set per test, and what scripts run under mpiexec
report back (test_dist_data.py, test_dist_state.py)."""
import glob
import json
import os

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


# Prepended to a script run under mpiexec: each rank writes its report to a file of its own,
# because the launcher merges the ranks' stdout in chunks (a progress line of rank 0 can land
# on the line a report of rank 1 is on).
REPORT_FUNCTION = """
def report(obj):
    import json, os
    from singa.dist import launch_info
    path = os.path.join(os.environ["TEST_REPORT_DIR"], "rank{}.json".format(launch_info().rank))
    with open(path + ".tmp", "w") as f:
        json.dump(obj, f)
    os.replace(path + ".tmp", path)
"""


def rank_reports(report_dir):
    """The reports the ranks of a script given REPORT_FUNCTION wrote, in rank order."""
    paths = glob.glob(os.path.join(str(report_dir), "rank*.json"))
    paths.sort(key=lambda p: int(os.path.basename(p)[4:-5]))
    reports = []
    for path in paths:
        with open(path) as f:
            reports.append(json.load(f))
    return reports
