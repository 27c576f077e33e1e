"""The inventory of Apache SINGA 5.1's public names (tests/data/singa_5_1_names.json), the tool
that compares it with this package (docs/tools/compat_table.py) and the table it writes into
docs/compat.md."""

import importlib
import importlib.util
import inspect
import json
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
FACTS_PATH = ROOT / "tests" / "data" / "singa_5_1_names.json"
DOC_PATH = ROOT / "docs" / "compat.md"

KINDS = {"function", "class", "alias", "constant"}
PARAM_KINDS = ["positional_or_keyword", "var_positional", "keyword_only", "var_keyword"]
STATUSES = {"same", "extended", "differs", "missing"}


def _load_tool():
    spec = importlib.util.spec_from_file_location(
        "compat_table", ROOT / "docs" / "tools" / "compat_table.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


tool = _load_tool()


@pytest.fixture(scope="module")
def facts():
    with open(FACTS_PATH) as f:
        return json.load(f)


@pytest.fixture(scope="module")
def doc_rows():
    """(module, name, status, note) for every row of the generated tables in docs/compat.md."""
    text = DOC_PATH.read_text()
    section = text[text.index(tool.BEGIN):text.index(tool.END)]
    out, module = [], None
    for line in section.splitlines():
        heading = re.match(r"### singa\.(\w+)$", line)
        if heading:
            module = heading.group(1)
            continue
        cells = re.match(r"\| `([^`]+)` \| (\w+) \| .* \| (\w+) \| (.*) \|$", line)
        if cells:
            out.append((module, cells.group(1), cells.group(3), cells.group(4)))
    return out


def test_facts_name_each_module_with_its_source_and_names(facts):
    assert set(facts["about"]) >= {"what", "reference", "modules_shipped", "how"}
    assert list(facts["modules"]) == ["device", "tensor", "autograd", "layer", "model", "opt",
                                      "initializer", "data", "utils", "image_tool", "snapshot",
                                      "sonnx"]
    for module, entry in facts["modules"].items():
        assert entry["stored_version"].startswith("apache/singa python/singa/" + module + ".py")
        names = [row["name"] for row in entry["names"]]
        assert names, module
        assert len(names) == len(set(names)), "duplicate names in " + module
        for row in entry["names"]:
            assert row["kind"] in KINDS, row
            assert not row["name"].startswith("_"), row
            assert row["name"].isidentifier(), row


def test_facts_parameters_are_well_formed_and_match_their_signature_text(facts):
    for module, entry in facts["modules"].items():
        for row in entry["names"]:
            if row["kind"] == "constant":
                assert "expression" in row, row
                continue
            params = row["params"]
            if params is None:
                assert row["signature"] is None
                continue
            kinds = [PARAM_KINDS.index(p["kind"]) for p in params]
            assert kinds == sorted(kinds), (module, row["name"])
            assert len({p["name"] for p in params}) == len(params), (module, row["name"])
            positional = [p for p in params if p["kind"] == "positional_or_keyword"]
            defaulted = [p["default"] is not None for p in positional]
            assert defaulted == sorted(defaulted), \
                "a required parameter after a defaulted one: {}.{}".format(module, row["name"])
            for p in params:
                if p["kind"].startswith("var_"):
                    assert p["default"] is None
            # the readable text is the parameters, written the way Python writes a signature
            assert row["signature"] == _signature_text(params), (module, row["name"])


def _signature_text(params):
    parts, star = [], False
    for p in params:
        if p["kind"] == "var_positional":
            parts.append("*" + p["name"])
            star = True
        elif p["kind"] == "var_keyword":
            parts.append("**" + p["name"])
        else:
            if p["kind"] == "keyword_only" and not star:
                parts.append("*")
                star = True
            parts.append(p["name"] + ("" if p["default"] is None else "=" + p["default"]))
    return "(" + ", ".join(parts) + ")"


def test_facts_hold_known_singa_signatures(facts):
    """A few signatures checked by hand against SINGA's source, so a mangled transcription
    shows up here rather than as a wrong table."""
    by = {(m, r["name"]): r for m, e in facts["modules"].items() for r in e["names"]}
    assert by[("tensor", "Tensor")]["signature"] == (
        "(shape=(), device=None, dtype=float32, data=None, requires_grad=True, "
        "stores_grad=False, creator=None, name=None)")
    assert by[("autograd", "dropout")]["signature"] == "(x, seed=0, ratio=0.5)"
    assert by[("autograd", "Linear")]["alias_of"] == "layer.Linear"
    assert by[("autograd", "Linear")]["signature"] == by[("layer", "Linear")]["signature"]
    assert by[("opt", "ExponentialDecay")]["signature"] == (
        "(init_value, decay_steps, decay_rate, staircase=False)")
    assert by[("opt", "Constant")]["signature"] == "(init_value)"  # inherited
    assert by[("layer", "MaxPool2d")]["signature"] == (
        "(kernel_size, stride=None, padding=0, pad_mode='NOTSET')")


def test_compare_same_when_parameters_match():
    def ours(x, axis=1):
        pass
    singa = [{"name": "x", "kind": "positional_or_keyword", "default": None},
             {"name": "axis", "kind": "positional_or_keyword", "default": "1"}]
    assert tool.compare(singa, inspect.signature(ours)) == ("same", "")


def test_compare_extended_when_ours_adds_optional_parameters():
    def ours(x, axis=1, *, out=None):
        pass
    singa = [{"name": "x", "kind": "positional_or_keyword", "default": None}]
    status, note = tool.compare(singa, inspect.signature(ours))
    assert status == "extended"
    assert "axis" in note and "out" in note


def test_compare_differs_on_a_renamed_parameter():
    def ours(t, shape):
        pass
    singa = [{"name": "tensor", "kind": "positional_or_keyword", "default": None},
             {"name": "shape", "kind": "positional_or_keyword", "default": None}]
    status, note = tool.compare(singa, inspect.signature(ours))
    assert status == "differs"
    assert "'t' here, 'tensor' in SINGA" in note


def test_compare_differs_on_a_moved_or_keyword_only_parameter():
    def ours(x, ratio=0.5, *, seed=0):
        pass
    singa = [{"name": "x", "kind": "positional_or_keyword", "default": None},
             {"name": "seed", "kind": "positional_or_keyword", "default": "0"},
             {"name": "ratio", "kind": "positional_or_keyword", "default": "0.5"}]
    status, note = tool.compare(singa, inspect.signature(ours))
    assert status == "differs"
    assert "argument 2 is 'ratio' here, 'seed' in SINGA" in note


def test_compare_differs_on_a_new_required_parameter_or_a_lost_default():
    def needs_more(x, y):
        pass

    def no_default(x):
        pass
    singa = [{"name": "x", "kind": "positional_or_keyword", "default": "1"}]
    assert tool.compare(singa, inspect.signature(needs_more))[0] == "differs"
    status, note = tool.compare(singa, inspect.signature(no_default))
    assert status == "differs" and "required here" in note


def test_compare_differs_on_another_default_value():
    def ours(lr=0.001):
        pass
    singa = [{"name": "lr", "kind": "positional_or_keyword", "default": "0.1"}]
    status, note = tool.compare(singa, inspect.signature(ours))
    assert status == "differs" and "'lr' defaults to 0.001 here, 0.1 in SINGA" in note


def test_compare_accepts_varargs_where_singa_takes_varargs_and_ignores_non_literal_defaults():
    def ours(*xs, device=None):
        pass
    singa = [{"name": "l", "kind": "var_positional", "default": None},
             {"name": "device", "kind": "keyword_only", "default": "get_default_device()"}]
    assert tool.compare(singa, inspect.signature(ours)) == ("same", "")


def test_table_in_docs_is_what_the_tool_writes_now(facts):
    current = DOC_PATH.read_text()
    assert tool.render(current, facts) == current, \
        "docs/compat.md is out of date: run PYTHONPATH=python python docs/tools/compat_table.py"


def test_table_lists_every_singa_name_with_a_status(facts, doc_rows):
    listed = [(m, n) for m, n, _s, _note in doc_rows]
    expected = [(m, r["name"]) for m, e in facts["modules"].items() for r in e["names"]]
    assert listed == expected
    assert {s for _m, _n, s, _note in doc_rows} <= STATUSES


def test_every_name_marked_present_is_importable(doc_rows):
    for module, name, status, _note in doc_rows:
        if status == "missing":
            continue
        mod = importlib.import_module("singa." + module)
        assert hasattr(mod, name), "singa.{}.{} is marked {}".format(module, name, status)


def test_every_name_marked_missing_is_absent(doc_rows):
    for module, name, status, _note in doc_rows:
        if status != "missing":
            continue
        try:
            mod = importlib.import_module("singa." + module)
        except ImportError:
            continue
        assert not hasattr(mod, name), "singa.{}.{} is marked missing".format(module, name)


def test_names_of_later_issues_say_which_issue_they_wait_for(doc_rows):
    for module, name, status, note in doc_rows:
        if status != "missing":
            continue
        if module == "sonnx":
            assert "waits for the ONNX issue" in note, name
        if (module, name) == ("opt", "DistOpt"):
            assert "waits for the distributed issue" in note
        if (module, name) == ("layer", "CudnnRNN"):
            assert "waits for the CUDA issue" in note


def test_summary_counts_add_up(facts):
    lines = tool.summary(facts).splitlines()
    assert lines[0].split() == ["module", "SINGA", "present", "missing"]
    body = [line.split() for line in lines[1:-1]]
    assert [b[0] for b in body] == list(facts["modules"])
    for module, singa, present, missing in body:
        assert int(singa) == len(facts["modules"][module]["names"])
        assert int(present) + int(missing) == int(singa)
    total = lines[-1].split()
    assert total[0] == "total"
    assert int(total[1]) == sum(len(e["names"]) for e in facts["modules"].values())
