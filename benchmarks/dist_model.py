"""Alpha-beta model of data-parallel training over Ethernet, fed by benchmarks/dist.py.

    python benchmarks/dist_model.py [--json benchmarks/dist.json] [--doc docs/distributed.md]

Ring all-reduce of ``n`` bytes over ``p`` ranks sends ``2 (p - 1)`` messages per rank,
each of ``n / p`` bytes, one after the other, so with a per-message latency ``alpha``
and a per-byte time ``beta`` (1 / bandwidth) it takes::

    T_ring(n, p) = 2 (p - 1) alpha + 2 (p - 1) / p * n * beta

Gradients go out in buckets of ``b`` bytes (DistOpt's ``threshold``), each its own
all-reduce, so a model of ``N`` gradient bytes pays the latency once per bucket::

    T_comm(N, p, b) = ceil(N / b) * 2 (p - 1) alpha + 2 (p - 1) / p * N * beta

A step then costs its compute ``T_c`` (one rank per node, measured by dist.py as the
single-process step) plus the communication backward could not hide. dist.py measures
how much it hides on this machine (the 2-rank step against the 2-rank step without
communication and the all-reduce alone); that many seconds of overlap are assumed
available on every node (``W``), or, when all of the 2-rank communication was hidden
(so the limit was not reached), the backward pass, taken as 2/3 of the step::

    T_step(p) = T_c + max(0, T_comm(N, p, b) - W),   efficiency(p) = T_c / T_step(p)

The link figures and where each comes from are in ``LINKS``. The table this writes
into docs/distributed.md is generated: rerun this script after dist.py.
"""

import argparse
import json
import math
import os

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RESULTS_BEGIN = "<!-- dist.py: begin -->"    # dist.py's section of RESULTS.md
RESULTS_END = "<!-- dist.py: end -->"
DOC_BEGIN = "<!-- dist_model.py: begin -->"
DOC_END = "<!-- dist_model.py: end -->"
NODES = (8, 64, 512)
BACKWARD_SHARE = 2.0 / 3.0   # backward ~ twice forward: the window when none was limiting
FULLY_HIDDEN = 0.95

# TCP payload per Ethernet frame at MTU 1500: 1460 bytes of the 1538 a frame occupies on
# the wire (preamble, header, FCS and inter-frame gap included): 94.9% of the line rate.
TCP_EFFICIENCY = 1460.0 / 1538.0

LINKS = (
    {"name": "10 GbE", "gbit": 10.0, "alpha": 20e-6,
     "source": "line rate: IEEE 802.3ae (10GBASE-R, 2002); latency: 20 us end to end "
               "between applications over TCP, measured by Hurwitz and Feng, 'Initial "
               "end-to-end performance evaluation of 10-Gigabit Ethernet', Hot "
               "Interconnects 11 (2003)"},
    {"name": "25 GbE", "gbit": 25.0, "alpha": 10e-6,
     "source": "line rate: IEEE 802.3by (25GBASE-R, 2016); latency: 10 us, an assumed "
               "figure for the kernel TCP path MPICH uses by default (software dominates "
               "it at these speeds), between the 20 us above and OS-bypass figures"},
    {"name": "100 GbE", "gbit": 100.0, "alpha": 5e-6,
     "source": "line rate: IEEE 802.3ba (2010) / 802.3bj (100GBASE-KR4/CR4, 2014); "
               "latency: 5 us, an assumed figure for a tuned kernel TCP path; OS-bypass "
               "Ethernet reaches 1.93 us half round trip (Cisco usNIC, 40 GbE, NetPIPE "
               "with Open MPI, J. Squyres, 'MPI over 40Gb Ethernet', Cisco blog, 2014)"},
)


def link_beta(link):
    """Seconds per byte of TCP payload at the link's line rate."""
    return 8.0 / (link["gbit"] * 1e9 * TCP_EFFICIENCY)


def ring_time(nbytes, p, alpha, beta, bucket_bytes):
    if p < 2 or nbytes <= 0:
        return 0.0
    buckets = max(1, math.ceil(nbytes / bucket_bytes))
    return buckets * 2 * (p - 1) * alpha + 2.0 * (p - 1) / p * nbytes * beta


def fit_alpha_beta(points, p):
    """alpha and beta of the ring formula from measured ``{"elements", "seconds"}`` of
    float32 all-reduces over ``p`` ranks (least squares of a straight line)."""
    pts = [(4.0 * q["elements"], q["seconds"]) for q in points if q.get("seconds")]
    if len(pts) < 2 or p < 2:
        return None
    n = len(pts)
    mx = sum(x for x, _ in pts) / n
    my = sum(y for _, y in pts) / n
    sxx = sum((x - mx) ** 2 for x, _ in pts)
    slope = sum((x - mx) * (y - my) for x, y in pts) / sxx if sxx else 0.0
    intercept = my - slope * mx
    return {"alpha": max(0.0, intercept) / (2 * (p - 1)),
            "beta": max(0.0, slope) * p / (2 * (p - 1)), "points": n}


def overlap_window(singa, bucket):
    """Seconds of communication a step can hide, from the 2-rank measurement, and how
    it was found (for the table's notes)."""
    entry = singa.get("buckets", {}).get(str(bucket), {})
    share, comm, t1 = entry.get("overlap"), entry.get("comm_only"), singa.get("t1")
    if share is None or not comm:
        return 0.0, "none assumed (no 2-rank measurement)"
    if share >= FULLY_HIDDEN and t1:
        return max(share * comm, BACKWARD_SHARE * t1), "backward (all hidden at 2 ranks)"
    return share * comm, "measured ({:.0%} of {:.1f} ms hidden)".format(share, 1e3 * comm)


def predict(singa, link, p, bucket, bytes_per_element=4):
    """Predicted weak-scaling efficiency at ``p`` nodes, or None without the figures."""
    t1, elements = singa.get("t1"), singa.get("grad_elements")
    if not t1 or not elements:
        return None
    window, _ = overlap_window(singa, bucket)
    comm = ring_time(elements * bytes_per_element, p, link["alpha"], link_beta(link),
                     bucket * bytes_per_element)
    return t1 / (t1 + max(0.0, comm - window))


def _pct(v):
    return "{:.0f}%".format(100 * v) if v is not None else "-"


def table(res):
    """The markdown the document shows between its markers."""
    bucket = res.get("default_bucket", 1 << 20)
    models = [m for m in res.get("models", []) if m.get("singa", {}).get("t1")]
    head = ["Generated by `benchmarks/dist_model.py` from `{}` (dist.py run of {}{}); "
            "do not edit by hand.".format(res.get("_source", "benchmarks/dist.json"),
                                          res.get("date", "?"),
                                          ", --quick: provisional" if res.get("quick")
                                          else ""), ""]
    if not models:
        return "\n".join(head + ["No singa step times in that file: run dist.py first."]) \
            + "\n"
    lines = head + ["Predicted weak-scaling efficiency, float32 gradients in buckets of {} "
                    "elements:".format(bucket), "",
                    "| model | gradients | compute per step | overlap | link | " +
                    " | ".join("{} nodes".format(p) for p in NODES) + " |",
                    "|---|---|---|---|---|" + "---|" * len(NODES)]
    for m in models:
        s = m["singa"]
        _, how = overlap_window(s, bucket)
        for i, link in enumerate(LINKS):
            first = i == 0
            lines.append("| {} | {} | {} | {} | {} | {} |".format(
                m["model"] if first else "",
                "{:.1f} M".format(s["grad_elements"] / 1e6) if first else "",
                "{:.1f} ms".format(1e3 * s["t1"]) if first else "",
                how if first else "", link["name"],
                " | ".join(_pct(predict(s, link, p, bucket)) for p in NODES)))
    buckets = res.get("buckets", [])
    if buckets:
        link = LINKS[1]
        lines += ["", "Bucket size at 64 nodes on {} (more, smaller buckets pay the "
                  "latency more often; larger ones leave less to overlap):".format(
                      link["name"]), "",
                  "| model | " + " | ".join("{} elements".format(b) for b in buckets) + " |",
                  "|---|" + "---|" * len(buckets)]
        for m in models:
            lines.append("| {} | {} |".format(m["model"], " | ".join(
                _pct(predict(m["singa"], link, 64, b)) for b in buckets)))
    fit = (res.get("pingpong") or {}).get("fit")
    if fit:
        lines += ["", "For scale, this machine's shared-memory all-reduce: alpha {:.1f} us, "
                  "beta {:.3g} ns/byte.".format(1e6 * fit["alpha"], 1e9 * fit["beta"])]
    lines += ["", "Links (TCP payload {:.1%} of the line rate at MTU 1500):".format(
        TCP_EFFICIENCY), ""]
    lines += ["- {}: alpha {:.0f} us, {:.2f} GB/s; {}.".format(
        link["name"], 1e6 * link["alpha"], 1e-9 / link_beta(link), link["source"])
        for link in LINKS]
    return "\n".join(lines) + "\n"


def update_document(path, res, source=None):
    """Replaces the text between the document's markers with the table."""
    res = dict(res, _source=source or "benchmarks/dist.json")
    with open(path) as f:
        doc = f.read()
    if DOC_BEGIN not in doc or DOC_END not in doc:
        raise ValueError("{}: no {} ... {} markers to write the table between".format(
            path, DOC_BEGIN, DOC_END))
    head, rest = doc.split(DOC_BEGIN, 1)
    tail = rest.split(DOC_END, 1)[1]
    with open(path, "w") as f:
        f.write(head + DOC_BEGIN + "\n" + table(res) + DOC_END + tail)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", default=os.path.join(HERE, "dist.json"))
    ap.add_argument("--doc", default=os.path.join(ROOT, "docs", "distributed.md"))
    ap.add_argument("--print", action="store_true", help="print the table, write nothing")
    args = ap.parse_args()
    with open(args.json) as f:
        res = json.load(f)
    if args.print:
        print(table(dict(res, _source=os.path.relpath(args.json, ROOT))))
        return
    update_document(args.doc, res, os.path.relpath(args.json, ROOT))
    print("wrote the prediction table of", args.doc)


if __name__ == "__main__":
    main()
