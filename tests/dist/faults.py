"""Launched by tests/test_dist_faults.py under ``mpiexec -n 2``: rank 1 fails at the
second training step while rank 0 goes on to the step's all-reduce.

Usage: python faults.py kill|hang|catch TIMEOUT [OUT]
Each rank also appends what it prints to OUT/rank<r>.txt when OUT is given (the
launcher may drop a killed job's last stdout lines).
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
    out = sys.argv[3] if len(sys.argv) > 3 else None
    # 0: no argument, so SINGA_DIST_TIMEOUT (or the default) applies
    d = opt.DistOpt(opt.SGD(lr=0.1), timeout=timeout or None)
    fc = layer.Linear(3)
    loss_fn = layer.SoftMaxCrossEntropy()
    autograd.training = True
    x = tensor.from_numpy(np.ones((4, 5), np.float32))
    y = tensor.from_numpy(np.zeros(4, np.int32))
    for step in range(4):
        loss = loss_fn(fc(x), y)
        def say(*words):
            print(*words, flush=True)
            if out is not None:
                with open(os.path.join(out, "rank{}.txt".format(d.global_rank)), "a") as f:
                    f.write(" ".join(str(w) for w in words) + "\n")
        if step == 1 and d.global_rank == 1:
            say("rank 1 fails at step", step, "at", time.time())
            if mode == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            time.sleep(600)
        try:
            d.backward_and_update(loss)
        except dist.DistTimeoutError as e:
            if mode != "catch":
                raise
            say("rank 0 caught:", e)
            return
        say("rank", d.global_rank, "finished step", step)


if __name__ == "__main__":
    main()
