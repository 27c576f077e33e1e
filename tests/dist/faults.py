"""Launched by tests/test_dist_faults.py under ``mpiexec -n 2``: rank 1 fails at the
second training step while rank 0 goes on to the step's all-reduce.

Usage: python faults.py kill|hang|catch TIMEOUT
  kill: rank 1 dies (SIGKILL); the launcher must end the job with a non-zero exit.
  hang: rank 1 stops taking part (sleeps); rank 0 must raise DistTimeoutError within
        TIMEOUT seconds and the job must end.
  catch: as hang, but rank 0 catches the error and returns normally: the job must
        still end (rank 1 is still asleep).
"""

import os
import signal
import sys
import time

import numpy as np

from singa import autograd, dist, layer, opt, tensor


def main():
    mode, timeout = sys.argv[1], float(sys.argv[2])
    # 0: no argument, so SINGA_DIST_TIMEOUT (or the default) applies
    d = opt.DistOpt(opt.SGD(lr=0.1), timeout=timeout or None)
    fc = layer.Linear(3)
    loss_fn = layer.SoftMaxCrossEntropy()
    autograd.training = True
    x = tensor.from_numpy(np.ones((4, 5), np.float32))
    y = tensor.from_numpy(np.zeros(4, np.int32))
    for step in range(4):
        loss = loss_fn(fc(x), y)
        if step == 1 and d.global_rank == 1:
            print("rank 1 fails at step", step, "at", time.time(), flush=True)
            if mode == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            time.sleep(600)
        try:
            d.backward_and_update(loss)
        except dist.DistTimeoutError as e:
            if mode != "catch":
                raise
            print("rank 0 caught:", e, flush=True)
            return
        print("rank", d.global_rank, "finished step", step, flush=True)


if __name__ == "__main__":
    main()
