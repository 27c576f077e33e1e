"""onnx's backend conformance suite for singa's SingaBackend and onnxruntime's backend,
in one run, over the CPU cases (node, simple, pytorch-converted, pytorch-operator and the
light models). Not collected by pytest; run it as a script:

    PYTHONPATH=python python tests/onnx_conformance.py [--failures FILE.json]

It prints each backend's pass count over the same cases (no exclusions), and with
--failures writes every case singa fails with the first line of its error.
"""

import argparse
import json
import os
import sys
import time
import unittest
import warnings


def run_suite(backend, patterns=None):
    """Runs the suite for ``backend`` and returns {case: None (pass) or error line};
    skipped cases (CUDA variants on a CPU-only backend) are left out."""
    import onnx.backend.test
    runner = onnx.backend.test.BackendTest(backend, __name__)
    for p in patterns or ():
        runner.include(p)
    suite = unittest.TestSuite()
    for case in runner.test_cases.values():
        suite.addTests(unittest.defaultTestLoader.loadTestsFromTestCase(case))
    # Collected first: running a suite drops its tests as they finish.
    outcome = {test.id().rsplit(".", 1)[-1]: None for test in _flatten(suite)}
    result = unittest.TestResult()
    suite.run(result)
    for test, _ in result.skipped:
        outcome.pop(test.id().rsplit(".", 1)[-1], None)
    for test, trace in result.failures + result.errors:
        lines = [ln for ln in trace.strip().splitlines() if ln.strip()]
        outcome[test.id().rsplit(".", 1)[-1]] = lines[-1][:300] if lines else "?"
    return outcome


_REASONS = [
    # (pattern in the error line, reason template; {0} is the pattern's first group)
    (r"^\s+(\S+) \(opset \S+\) at node", "no importer for ONNX operator {0}"),
    (r"dtype (\S+) has no singa dtype", "{0} tensors: the core has no {0} dtype yet"),
    (r"element type \d+ \((\S+)\) has no singa dtype",
     "{0} tensors: the core has no {0} dtype yet"),
    (r"DESIRED: dtype\('(\w+)'\)", "{0} output expected; singa's has another dtype"),
    (r"must be a constant", "a shape-like input computed as a float tensor of more than "
     "one value (only integer tensors and scalars are read back)"),
    (r"int64 values outside the int32 range", "int64 values beyond int32 (no core int64 yet)"),
    (r"sequence, map or optional", "ONNX sequence/optional inputs are not supported"),
]


def failure_reason(error):
    """A short reason for a failing case, from its error line."""
    import re
    for pattern, template in _REASONS:
        m = re.search(pattern, error)
        if m:
            return template.format(*(m.groups() or ("",)))
    if not re.search(r"\w(Error|Exception)\b", error):
        # The last line of an assert_allclose report: the outputs came out, but wrong.
        return "output values differ from onnx's expected ones (last report line: {})".format(
            error.strip()[:100])
    # "package.module.SomeError: message" -> "SomeError: message"
    return re.sub(r"^[\w.]*\.(\w+Error)", r"\1", error.strip())[:160]


def _flatten(suite):
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            yield from _flatten(item)
        else:
            yield item


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--failures", help="write singa's failing cases to this JSON file")
    parser.add_argument("--only", action="append", help="regex of cases to run (repeatable)")
    parser.add_argument("--skip-onnxruntime", action="store_true")
    parser.add_argument("--write-exclusions", metavar="FILE",
                        help="write {case: reason} for every case singa fails (the list "
                             "tests/test_onnx_backend.py excludes)")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    os.environ.setdefault("ORT_LOGGING_LEVEL", "3")
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))
    from singa import sonnx

    counts = {}
    start = time.time()
    singa_outcome = run_suite(sonnx.SingaBackend, args.only)
    counts["singa"] = (sum(v is None for v in singa_outcome.values()), len(singa_outcome),
                       time.time() - start)
    if not args.skip_onnxruntime:
        import onnxruntime
        import onnxruntime.backend
        onnxruntime.set_default_logger_severity(3)
        start = time.time()
        ort_outcome = run_suite(onnxruntime.backend, args.only)
        counts["onnxruntime"] = (sum(v is None for v in ort_outcome.values()),
                                 len(ort_outcome), time.time() - start)
    for name, (passed, total, secs) in counts.items():
        print("{:12s} passed {:5d} of {:5d} CPU cases ({:.0f} s)".format(name, passed, total,
                                                                      secs))
    if "onnxruntime" in counts:
        print("singa / onnxruntime: {:.1%}".format(counts["singa"][0] / counts["onnxruntime"][0]))
    if args.write_exclusions:
        with open(args.write_exclusions, "w") as f:
            json.dump({k: failure_reason(v) for k, v in sorted(singa_outcome.items())
                       if v is not None}, f, indent=0, sort_keys=True)
            f.write("\n")
    if args.failures:
        with open(args.failures, "w") as f:
            json.dump({k: v for k, v in sorted(singa_outcome.items()) if v is not None}, f,
                      indent=1)


if __name__ == "__main__":
    main()
