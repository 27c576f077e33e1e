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
MEMBER_KINDS = {"method", "classmethod", "staticmethod", "property", "attribute"}
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


def _classes(facts):
    return [(module, row) for module, entry in facts["modules"].items()
            for row in entry["names"] if row["kind"] == "class"]


def test_facts_list_each_class_members_bases_and_inherited_members(facts):
    classes = {"{}.{}".format(m, r["name"]): r for m, r in _classes(facts)}
    for qualified, row in classes.items():
        names = [m["name"] for m in row["members"]]
        assert len(names) == len(set(names)), "duplicate members in " + qualified
        for member in row["members"]:
            assert member["kind"] in MEMBER_KINDS, (qualified, member)
            assert member["name"].isidentifier() and not member["name"].startswith("_"), member
        for base in row["bases"]:
            assert base in classes, (qualified, base)  # bases are resolved within SINGA
        inherited = [m["name"] for m in row["inherited_members"]]
        assert not set(inherited) & set(names), qualified  # an override is the class's own
        assert len(inherited) == len(set(inherited)), qualified
        for m in row["inherited_members"]:
            assert m["from"] in row["bases"], (qualified, m)
            assert m["name"] in {x["name"] for x in classes[m["from"]]["members"]}, (qualified, m)


def _callables(facts):
    """(where, fact) for every SINGA name or member that has a parameter list."""
    for module, entry in facts["modules"].items():
        for row in entry["names"]:
            if row["kind"] != "constant":
                yield "{}.{}".format(module, row["name"]), row
            for member in row.get("members", ()):
                if member["kind"] in ("method", "classmethod", "staticmethod"):
                    yield "{}.{}.{}".format(module, row["name"], member["name"]), member


def test_facts_parameters_are_well_formed_and_match_their_signature_text(facts):
    for module, entry in facts["modules"].items():
        for row in entry["names"]:
            if row["kind"] == "constant":
                assert "expression" in row, row
            for member in row.get("members", ()):
                if member["kind"] == "attribute":
                    assert "expression" in member, member
    for where, row in _callables(facts):
        params = row["params"]
        if params is None:
            assert row["signature"] is None
            continue
        kinds = [PARAM_KINDS.index(p["kind"]) for p in params]
        assert kinds == sorted(kinds), where
        assert len({p["name"] for p in params}) == len(params), where
        positional = [p for p in params if p["kind"] == "positional_or_keyword"]
        defaulted = [p["default"] is not None for p in positional]
        assert defaulted == sorted(defaulted), \
            "a required parameter after a defaulted one: " + where
        for p in params:
            if p["kind"].startswith("var_"):
                assert p["default"] is None
        # the readable text is the parameters, written the way Python writes a signature
        assert row["signature"] == _signature_text(params), where


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


def test_facts_hold_known_singa_members(facts):
    """Members checked by hand against SINGA's source (self and cls are not listed)."""
    member = {(m, r["name"], x["name"]): x for m, r in _classes(facts) for x in r["members"]}
    by = {(m, r["name"]): r for m, r in _classes(facts)}
    assert member[("tensor", "Tensor", "as_type")]["signature"] == "(dtype)"
    assert member[("tensor", "Tensor", "set_value")]["signature"] == "(x, inplace=True)"
    assert member[("tensor", "Tensor", "add_row")].get("deprecated") is True
    assert member[("model", "Model", "save_states")]["signature"] == "(fpath, aux_states={})"
    assert member[("model", "Model", "TENSOR_DICT_FILENAME")]["value"] == "/tensor_dict.npz"
    assert member[("layer", "Layer", "get_params")]["signature"] == "()"
    assert member[("layer", "Layer", "register_layers")]["signature"] == "(*args)"
    assert member[("layer", "Embedding", "from_pretrained")]["signature"] == "(W, freeze=True)"
    assert member[("opt", "Optimizer", "apply")]["signature"] == (
        "(param_name, param_value, param_grad)")
    assert member[("autograd", "CosSim", "dot")]["kind"] == "classmethod"
    assert member[("autograd", "CosSim", "dot")]["signature"] == "(a, b)"
    assert member[("autograd", "BinaryCrossEntropy", "backward")]["signature"] == "(dy=1.0)"
    # Conv2d overrides forward and get_params and inherits the rest of Layer's members
    conv = by[("layer", "Conv2d")]
    assert conv["bases"] == ["layer.Layer"]
    inherited = {m["name"]: m["from"] for m in conv["inherited_members"]}
    assert inherited["register_layers"] == "layer.Layer" and "get_params" not in inherited
    # a base in another module resolves there: Model -> layer.Layer
    assert by[("model", "Model")]["bases"] == ["layer.Layer"]
    assert by[("layer", "MaxPool2d")]["bases"] == ["layer.Pooling2d", "layer.Layer"]


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


class _Ours:
    """A class of ours for the member checks (stands in for a package class)."""
    scale = 2

    def plain(self, x, axis=0):
        pass

    @property
    def T(self):
        return None

    @classmethod
    def build(cls, a, b):
        pass

    @staticmethod
    def helper(func):
        pass


def _method(name, params, kind="method"):
    return {"name": name, "kind": kind, "params": params}


def test_member_kinds_and_signatures_of_ours_drop_self_and_cls():
    assert tool._our_member(_Ours, "plain")[0] == "method"
    assert list(tool._our_member(_Ours, "plain")[1].parameters) == ["x", "axis"]
    assert list(tool._our_member(_Ours, "build")[1].parameters) == ["a", "b"]
    assert list(tool._our_member(_Ours, "helper")[1].parameters) == ["func"]
    assert tool._our_member(_Ours, "T") == ("property", None)
    assert tool._our_member(_Ours, "scale") == ("attribute", None)
    assert tool._our_member(_Ours, "absent") is None


def test_member_status_compares_a_method_with_ours(monkeypatch):
    monkeypatch.setattr(tool, "_our_class", lambda module, name: _Ours)
    x = {"name": "x", "kind": "positional_or_keyword", "default": None}
    assert tool.member_status("m", "C", _method("plain", [x])) == (
        "extended", "also takes axis")
    renamed = [{"name": "y", "kind": "positional_or_keyword", "default": None}]
    assert tool.member_status("m", "C", _method("plain", renamed))[0] == "differs"
    assert tool.member_status("m", "C", _method("missing_one", []))[0] == "missing"


def test_member_status_differs_where_singa_calls_a_method_that_is_a_property_here(monkeypatch):
    monkeypatch.setattr(tool, "_our_class", lambda module, name: _Ours)
    status, note = tool.member_status("m", "C", _method("T", []))
    assert status == "differs" and "a property here" in note
    assert tool.member_status("m", "C", {"name": "T", "kind": "property"}) == ("same", "")


def test_member_status_compares_class_attribute_values(monkeypatch):
    monkeypatch.setattr(tool, "_our_class", lambda module, name: _Ours)
    same = {"name": "scale", "kind": "attribute", "expression": "2", "value": 2}
    other = dict(same, expression="3", value=3)
    assert tool.member_status("m", "C", same) == ("same", "")
    assert tool.member_status("m", "C", other) == ("differs", "value 2 here, 3 in SINGA")


def test_members_of_a_missing_class_are_missing(monkeypatch):
    monkeypatch.setattr(tool, "_our_class", lambda module, name: None)
    assert tool.member_status("m", "Gone", _method("plain", [])) == (
        "missing", "class Gone not here")


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


def test_table_lists_every_singa_name_and_member_under_its_class_with_a_status(facts,
                                                                             doc_rows):
    listed = [(m, n) for m, n, _s, _note in doc_rows]
    expected = []
    for module, entry in facts["modules"].items():
        for row in entry["names"]:
            expected.append((module, row["name"]))
            expected.extend((module, row["name"] + "." + member["name"])
                            for member in row.get("members", ()))
    assert listed == expected
    assert {s for _m, _n, s, _note in doc_rows} <= STATUSES


def _exists(module, dotted):
    """Whether singa.<module>.<dotted> is there. A module-level name is looked up as an import
    would (the module may provide it lazily); a member statically on the class, so inherited
    members count and instance-only attributes do not."""
    try:
        mod = importlib.import_module("singa." + module)
    except ImportError:
        return False
    name, *members = dotted.split(".")
    if not hasattr(mod, name):
        return False
    obj = getattr(mod, name)
    for part in members:
        try:
            obj = inspect.getattr_static(obj, part)
        except AttributeError:
            return False
    return True


def test_every_name_marked_present_is_importable(doc_rows):
    for module, name, status, _note in doc_rows:
        if status == "missing":
            continue
        assert _exists(module, name), "singa.{}.{} is marked {}".format(module, name, status)


def test_every_name_marked_missing_is_absent(doc_rows):
    for module, name, status, _note in doc_rows:
        if status != "missing":
            continue
        assert not _exists(module, name), "singa.{}.{} is marked missing".format(module, name)


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


def test_summary_counts_module_level_names_and_members_and_adds_up(facts):
    lines = tool.summary(facts).splitlines()
    assert lines[0].split() == ["module", "SINGA", "present", "missing", "names", "present",
                                "members", "present"]
    body = [line.split() for line in lines[1:-1]]
    assert [b[0] for b in body] == list(facts["modules"])
    for module, *cells in body:
        singa, present, missing, names, names_here, members, members_here = map(int, cells)
        entry = facts["modules"][module]["names"]
        assert names == len(entry)
        assert members == sum(len(r.get("members", ())) for r in entry)
        assert singa == names + members
        assert present + missing == singa
        assert present == names_here + members_here
    total = lines[-1].split()
    assert total[0] == "total"
    assert [int(c) for c in total[1:]] == [sum(int(b[i]) for b in body) for i in range(1, 8)]
