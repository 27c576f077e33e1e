"""Long local fuzz profile: many processes, each making a few hundred random binding calls
(tests/test_fuzz_bindings.py generates them) and then exiting. A process passes when it
exits with status 0; a crash after the last call (in static destruction) shows as a
signal here even though every call returned.

    PYTHONPATH=python python tests/fuzz_long.py --processes 400 --jobs 2

prints one line per failing process (its seed reruns it: ``--worker --seed N``) and a
summary with the processes run, the crashed ones and the calls made in all.
"""
import argparse
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))


def worker(seed):
    """Runs one process's share of calls in this process and prints how many were made."""
    os.environ["SINGA_FUZZ_PROFILE"] = "worker"
    sys.path.insert(0, HERE)
    from hypothesis import seed as hypothesis_seed

    import test_fuzz_bindings as fuzz

    hypothesis_seed(seed)(fuzz.test_call_sequences_return_or_raise)()
    print(f"seed={seed} calls={fuzz.calls_made}", flush=True)


def run_one(seed, timeout):
    start = time.monotonic()
    try:
        proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker",
                               "--seed", str(seed)], capture_output=True, text=True,
                              timeout=timeout)
        status, out, err = proc.returncode, proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as exc:
        status, out, err = "timeout", exc.stdout or "", exc.stderr or ""
        out, err = (s.decode(errors="replace") if isinstance(s, bytes) else s
                    for s in (out, err))
    found = re.search(r"calls=(\d+)", out)
    return seed, status, int(found.group(1)) if found else 0, err, time.monotonic() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", action="store_true", help="be one fuzzing process")
    parser.add_argument("--seed", type=int, default=0, help="first seed (or the worker's)")
    parser.add_argument("--processes", type=int, default=120)
    parser.add_argument("--jobs", type=int, default=2, help="processes at a time")
    parser.add_argument("--timeout", type=float, default=300, help="seconds per process")
    opts = parser.parse_args()
    if opts.worker:
        worker(opts.seed)
        return 0
    failed, total_calls = [], 0
    start = time.monotonic()
    with ThreadPoolExecutor(opts.jobs) as pool:
        for seed, status, made, err, secs in pool.map(
                lambda s: run_one(s, opts.timeout),
                range(opts.seed, opts.seed + opts.processes)):
            total_calls += made
            if status != 0:
                failed.append(seed)
                tail = " | ".join(err.strip().splitlines()[-3:])
                print(f"seed {seed}: exit status {status} after {made} calls ({secs:.1f}s): "
                      f"{tail}", flush=True)
    print(f"processes={opts.processes} failed={len(failed)} calls={total_calls} "
          f"seconds={time.monotonic() - start:.0f}" + (f" failing seeds={failed}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
