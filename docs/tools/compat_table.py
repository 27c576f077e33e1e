"""Compare Apache SINGA 5.1's public Python names with this package's.

The facts about SINGA live in tests/data/singa_5_1_names.json (names and call signatures per
module, and the public members of each class). For every name this imports ``singa.<module>``,
looks the name up (a member as ``Class.member`` on our class, inherited members included) and,
where SINGA's signature is known, checks with ``inspect.signature`` that ours accepts every call
SINGA's accepts:

- ``same``: present, and takes exactly SINGA's parameters;
- ``extended``: present, takes SINGA's parameters and optional ones of its own;
- ``differs``: present, but some call that works in SINGA does not work here (the note says which);
- ``missing``: not there.

Usage::

    python docs/tools/compat_table.py            # rewrite the table in docs/compat.md
    python docs/tools/compat_table.py --check    # exit 1 when docs/compat.md is out of date
    python docs/tools/compat_table.py --summary  # per module: SINGA names, present, missing
                                                 # (module-level names + class members)

Run it from the tree root with the package importable (``PYTHONPATH=python``).
"""

import argparse
import ast
import importlib
import inspect
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
FACTS = ROOT / "tests" / "data" / "singa_5_1_names.json"
DOC = ROOT / "docs" / "compat.md"
BEGIN = "<!-- BEGIN GENERATED: compat_table.py -->"
END = "<!-- END GENERATED: compat_table.py -->"

# Names whose absence is another issue's work, not this one's.
WAITS_FOR_MODULE = {"sonnx": "the ONNX issue"}
WAITS_FOR_NAME = {
    ("opt", "DistOpt"): "the distributed issue",
    ("layer", "CudnnRNN"): "the CUDA issue (cuDNN only)",
    ("device", "get_gpu_ids"): "the CUDA issue",
    ("device", "get_gpu_mem_size"): "the CUDA issue",
    ("device", "device_query"): "the CUDA issue",
    ("device", "get_num_opencl_platforms"): "no issue (SINGA's OpenCL backend)",
    ("device", "get_num_opencl_devices"): "no issue (SINGA's OpenCL backend)",
    ("device", "create_opencl_device"): "no issue (SINGA's OpenCL backend)",
}

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def load_facts(path=FACTS):
    with open(path) as f:
        return json.load(f)


def waits_for(module, name):
    return WAITS_FOR_NAME.get((module, name)) or WAITS_FOR_MODULE.get(module, "")


def _literal(text):
    """The value of a default written in SINGA's source, or a marker when it is not a literal
    (``get_default_device()``, ``SGD()``): such defaults are not compared."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return _NOT_LITERAL


_NOT_LITERAL = object()


def _same_default(singa_text, ours):
    value = _literal(singa_text)
    if value is _NOT_LITERAL:
        return True
    # An empty list or tuple and None both mean "nothing given" (e.g. squeeze's axes).
    if value in ([], ()) and ours is None:
        return True
    if isinstance(value, bool) or isinstance(ours, bool):
        return value is ours
    try:
        return bool(value == ours)
    except (TypeError, ValueError):  # an array-like default whose == gives no single bool
        return False


def our_signature(obj):
    """inspect.signature of a function or of a class's constructor; None when the object has
    none to inspect (a C++ binding, a constant)."""
    if not callable(obj):
        return None
    try:
        return inspect.signature(obj)
    except (TypeError, ValueError):
        return None


def compare(singa_params, sig):
    """(status, note) for a present callable: does ``sig`` accept every call SINGA's
    ``singa_params`` accept, with each argument landing on the parameter of the same name?"""
    ours = list(sig.parameters.values())
    positional = [p for p in ours if p.kind in _POSITIONAL]
    var_pos = any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in ours)
    var_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in ours)
    by_name = {p.name: p for p in ours}
    problems, matched = [], set()

    singa_positional = [p for p in singa_params if p["kind"] == "positional_or_keyword"]
    for i, sp in enumerate(singa_positional):
        name = sp["name"]
        if i < len(positional):
            op = positional[i]
            if op.name != name:
                if name in by_name or not var_kw:
                    problems.append("argument {} is '{}' here, '{}' in SINGA".format(
                        i + 1, op.name, name))
                    matched.add(op.name)
                    continue
            if op.kind is inspect.Parameter.POSITIONAL_ONLY:
                problems.append("'{}' cannot be passed by keyword here".format(name))
            matched.add(op.name)
            _check_default(sp, op, problems)
        elif var_pos:
            op = by_name.get(name)
            if op is None and not var_kw:
                problems.append("'{}' is taken only positionally here (by *args)".format(name))
            elif op is not None:
                matched.add(op.name)
        else:
            op = by_name.get(name)
            problems.append("'{}' (argument {}) is {}".format(
                name, i + 1, "keyword-only here" if op is not None else "not accepted"))
            if op is not None:
                matched.add(op.name)

    for sp in singa_params:
        if sp["kind"] == "var_positional" and not var_pos:
            problems.append("SINGA takes *{}, this does not".format(sp["name"]))
        elif sp["kind"] == "var_keyword" and not var_kw:
            problems.append("SINGA takes **{}, this does not".format(sp["name"]))
        elif sp["kind"] == "keyword_only":
            op = by_name.get(sp["name"])
            if op is None or op.kind is inspect.Parameter.POSITIONAL_ONLY:
                if not var_kw:
                    problems.append("keyword '{}' is not accepted".format(sp["name"]))
            else:
                matched.add(op.name)
                _check_default(sp, op, problems)

    extra = [p for p in ours if p.name not in matched
             and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)]
    required_extra = [p.name for p in extra if p.default is inspect.Parameter.empty
                      and p.kind is not inspect.Parameter.VAR_POSITIONAL]
    if required_extra:
        problems.append("requires {} which SINGA does not take".format(
            ", ".join("'{}'".format(n) for n in required_extra)))
    if problems:
        return "differs", "; ".join(problems)
    singa_star = {p["kind"] for p in singa_params} & {"var_positional", "var_keyword"}
    our_star = ({"var_positional"} if var_pos else set()) | ({"var_keyword"} if var_kw else set())
    if extra or our_star - singa_star:
        more = [p.name for p in extra] + [
            text for kind, text in (("var_positional", "*args"), ("var_keyword", "**kwargs"))
            if kind in our_star - singa_star]
        return "extended", "also takes " + ", ".join(more)
    return "same", ""


def _check_default(sp, op, problems):
    if sp["default"] is None:
        return
    if op.default is inspect.Parameter.empty:
        problems.append("'{}' is required here, SINGA defaults it to {}".format(
            sp["name"], sp["default"]))
    elif not _same_default(sp["default"], op.default):
        problems.append("'{}' defaults to {!r} here, {} in SINGA".format(
            sp["name"], op.default, sp["default"]))


def status_of(module, row):
    """(status, note) of one SINGA name in our package."""
    try:
        mod = importlib.import_module("singa." + module)
    except ImportError:
        return "missing", "no module singa.{}".format(module)
    if not hasattr(mod, row["name"]):
        return "missing", ""
    obj = getattr(mod, row["name"])
    if row["kind"] == "constant":
        value = row.get("value")
        if value is not None and not _equal_constant(value, obj):
            return "differs", "value {!r} here, {!r} in SINGA".format(obj, value)
        return "same", ""
    params = row.get("params")
    if params is None:
        return "same", "present; SINGA's signature is not in its source (not compared)"
    sig = our_signature(obj)
    if sig is None:
        return "same", "present; no Python signature to compare here"
    return compare(params, sig)


def _equal_constant(value, obj):
    try:
        return bool(obj == value) or int(obj) == value
    except (TypeError, ValueError):
        return False


def rows(facts):
    """Yield (module, row, status, note) for every SINGA name, modules in the facts' order; a
    class's own members follow it as rows named ``Class.member`` (their ``member_of`` is set)."""
    members = member_facts(facts)
    for module, entry in facts["modules"].items():
        for row in entry["names"]:
            status, note = status_of(module, row)
            if row["kind"] == "class" and status != "missing":
                note = "; ".join(filter(None, [note, inherited_note(module, row, members)]))
            yield module, row, status, note
            for member in row.get("members", ()):
                status, note = member_status(module, row["name"], member)
                yield module, dict(member, name=row["name"] + "." + member["name"],
                                   member_of=row["name"]), status, note


def summary(facts):
    """Per module: SINGA names (module-level + class members), present, missing, and the same
    split into module-level names and members."""
    head = ("module", "SINGA", "present", "missing", "names", "present", "members", "present")
    fmt = "{:<12} {:>6} {:>8} {:>8} {:>6} {:>8} {:>8} {:>8}"
    lines = [fmt.format(*head)]
    per = {}
    for module, row, status, _note in rows(facts):
        counts = per.setdefault(module, [0] * 7)
        present = status != "missing"
        counts[0] += 1
        counts[1 if present else 2] += 1
        part = 5 if row.get("member_of") else 3
        counts[part] += 1
        counts[part + 1] += present
    totals = [0] * 7
    for module, counts in per.items():
        lines.append(fmt.format(module, *counts))
        totals = [a + b for a, b in zip(totals, counts)]
    lines.append(fmt.format("total", *totals))
    return "\n".join(lines)


def member_facts(facts):
    """{"module.Class": {member name: member fact}} for every SINGA class."""
    return {"{}.{}".format(module, row["name"]): {m["name"]: m for m in row["members"]}
            for module, entry in facts["modules"].items() for row in entry["names"]
            if row["kind"] == "class"}


def _our_class(module, class_name):
    try:
        mod = importlib.import_module("singa." + module)
    except ImportError:
        return None
    cls = getattr(mod, class_name, None)
    return cls if inspect.isclass(cls) else None


def _our_member(cls, name):
    """(kind, signature or None) of cls.name here, kind one of method, classmethod,
    staticmethod, property, attribute; None when there is no such member."""
    try:
        raw = inspect.getattr_static(cls, name)
    except AttributeError:
        return None
    # A property of the metaclass reads as a plain value on the class (SINGA's scripts
    # see a class attribute); only one that gives the property object itself is one.
    if isinstance(raw, property) and isinstance(getattr(cls, name, None), property):
        return "property", None
    if isinstance(raw, staticmethod):
        return "staticmethod", our_signature(raw.__func__)
    if isinstance(raw, classmethod):
        return "classmethod", our_signature(getattr(cls, name))
    if inspect.isfunction(raw):
        sig = our_signature(raw)
        if sig is not None:
            params = list(sig.parameters.values())
            # the instance fills the first positional parameter; a bare *args takes it instead
            if params and params[0].kind in _POSITIONAL:
                sig = sig.replace(parameters=params[1:])
        return "method", sig
    if callable(raw) or inspect.ismethoddescriptor(raw):
        # a C++ binding, or a callable object stored on the class
        return "method", None
    return "attribute", None


_CALLABLE_KINDS = {"method", "classmethod", "staticmethod"}
# Class attributes that SINGA increments as objects are made (module, member; subclasses
# inherit them).
_COUNTERS = {("tensor", "tensor_count"), ("autograd", "op_count")}


def member_status(module, class_name, member):
    """(status, note) of SINGA's ``class_name.member`` on our class of that name."""
    cls = _our_class(module, class_name)
    if cls is None:
        return "missing", "class {} not here".format(class_name)
    ours = _our_member(cls, member["name"])
    if ours is None:
        return "missing", ""
    kind, sig = ours
    singa_kind = member["kind"]
    if singa_kind in _CALLABLE_KINDS:
        if kind not in _CALLABLE_KINDS:
            return "differs", "a {} here, a method in SINGA (SINGA's call {}.{}() fails)".format(
                kind, class_name, member["name"])
        if sig is None:
            return "same", "present; no Python signature to compare here"
        return compare(member["params"], sig)
    if singa_kind == "property":
        if kind in _CALLABLE_KINDS:
            return "differs", "a method here, a property in SINGA"
        return "same", ""
    # a class attribute: its value is what SINGA's scripts read
    if kind in _CALLABLE_KINDS or kind == "property":
        return "differs", "a {} here, a class attribute in SINGA".format(kind)
    value = member.get("value")
    ours_value = getattr(cls, member["name"])
    if (module, member["name"]) in _COUNTERS:
        # SINGA's value is where the counter starts; ours has counted whatever ran before
        if isinstance(ours_value, int) and ours_value >= 0:
            return "same", ""
        return "differs", "{!r} here, a count in SINGA".format(ours_value)
    if value is not None and not _equal_constant(value, ours_value):
        return "differs", "value {!r} here, {!r} in SINGA".format(ours_value, value)
    return "same", ""


def inherited_note(module, row, members):
    """What goes wrong with the members SINGA's class inherits, checked on our class (which may
    inherit or override them). A problem the defining base's own row already shows (the member
    is missing or differs there in the same way) is not repeated here."""
    problems = []
    for inherited in row.get("inherited_members", ()):
        fact = members[inherited["from"]][inherited["name"]]
        status, note = member_status(module, row["name"], fact)
        base_module, base_name = inherited["from"].split(".")
        if (status, note) == member_status(base_module, base_name, fact):
            continue
        if status == "missing":
            problems.append("{} missing".format(inherited["name"]))
        elif status == "differs":
            problems.append("{} differs ({})".format(inherited["name"], note))
    if not problems:
        return ""
    return "inherited in SINGA: " + "; ".join(problems)


def _cell(text):
    return (text or "").replace("|", "\\|").replace("\n", " ")


def table(facts):
    """The generated section of docs/compat.md: one table per module."""
    by_module = {}
    for module, row, status, note in rows(facts):
        by_module.setdefault(module, []).append((row, status, note))
    out = []
    for module, entries in by_module.items():
        counts = {s: sum(1 for _r, st, _n in entries if st == s)
                  for s in ("same", "extended", "differs", "missing")}
        n_members = sum(1 for r, _s, _n in entries if r.get("member_of"))
        out.append("### singa.{}".format(module))
        out.append("")
        out.append("SINGA: {} names, {} module-level and {} class members ({}). Here: {} same, "
                   "{} extended, {} differs, {} missing."
                   .format(len(entries), len(entries) - n_members, n_members,
                           facts["modules"][module]["stored_version"], counts["same"],
                           counts["extended"], counts["differs"], counts["missing"]))
        out.append("")
        out.append("| name | kind | SINGA signature | status | note |")
        out.append("| --- | --- | --- | --- | --- |")
        for row, status, note in entries:
            owner = row.get("member_of") or row["name"]
            if status == "missing" and waits_for(module, owner):
                note = "; ".join(filter(None, [note, "waits for " + waits_for(module, owner)]))
            if row.get("source"):
                note = "; ".join(filter(None, [note, "SINGA fact taken from " + row["source"]]))
            if row.get("members_unknown"):
                note = "; ".join(filter(None, [note, "its own members are not in SINGA's "
                                               "stored source (not listed)"]))
            if row.get("deprecated"):
                note = "; ".join(filter(None, [note, "deprecated in SINGA"]))
            sig = row.get("signature") or ""
            if row["kind"] == "alias":
                sig = "= {} {}".format(row["alias_of"], sig).strip()
            elif row["kind"] in ("constant", "attribute"):
                sig = "= " + row["expression"]
            out.append("| `{}` | {} | `{}` | {} | {} |".format(
                row["name"], row["kind"], _cell(sig), status, _cell(note)))
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def render(doc_text, facts):
    """doc_text with the text between the markers replaced by a fresh table."""
    start, end = doc_text.index(BEGIN), doc_text.index(END)
    return doc_text[:start + len(BEGIN)] + "\n" + table(facts) + doc_text[end:]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--summary", action="store_true",
                        help="print per module: SINGA names, present, missing")
    parser.add_argument("--check", action="store_true",
                        help="exit 1 when docs/compat.md differs from a fresh table")
    args = parser.parse_args(argv)
    facts = load_facts()
    if args.summary:
        print(summary(facts))
        return 0
    current = DOC.read_text()
    fresh = render(current, facts)
    if args.check:
        if fresh != current:
            print("docs/compat.md is out of date: run python docs/tools/compat_table.py",
                  file=sys.stderr)
            return 1
        return 0
    DOC.write_text(fresh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
