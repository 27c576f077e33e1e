"""singa.config: the one reader of environment variables, its getters, and README's table."""

import ast
import os
import re

import pytest

import singa
from singa import config, singa_wrap

PACKAGE = os.path.dirname(os.path.abspath(singa.__file__))
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV_NAMES = {"environ", "environb", "getenv", "getenvb"}


def environment_uses(source, filename="<source>"):
    """(line, text) of every use of os.environ / os.getenv (and their bytes forms) in
    ``source``, through ``import os``, ``import os as x`` or ``from os import ...``."""
    tree = ast.parse(source, filename)
    os_names, direct = {"os"}, set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            os_names.update(a.asname or a.name for a in node.names if a.name == "os")
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            direct.update(a.asname or a.name for a in node.names if a.name in ENV_NAMES)
    uses = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and node.attr in ENV_NAMES
                and isinstance(node.value, ast.Name) and node.value.id in os_names):
            uses.append((node.lineno, "{}.{}".format(node.value.id, node.attr)))
        elif isinstance(node, ast.Name) and node.id in direct:
            uses.append((node.lineno, node.id))
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            uses.extend((node.lineno, "from os import " + a.name)
                        for a in node.names if a.name in ENV_NAMES)
    return sorted(uses)


@pytest.mark.parametrize("source", [
    "import os\nos.environ.get('X')", "import os\nos.getenv('X')", "import os\nos.environ['X']",
    "import os as o\no.environ", "from os import environ\nenviron.get('X')",
    "from os import getenv as g\ng('X')", "import os\n'X' in os.environ",
    "import os\nos.environ['X'] = '1'", "import os\ndict(os.environ)",
])
def test_the_scan_sees_every_form(source):
    assert environment_uses(source)


def test_the_scan_ignores_other_os_functions():
    assert environment_uses("import os\nos.path.join('a', 'environ')\nenviron = 1") == []


def test_only_config_reads_the_environment():
    # No module writes the environment either, so every use counts, reads and writes.
    found = {}
    for root, _, files in os.walk(PACKAGE):
        for name in files:
            path = os.path.join(root, name)
            if not name.endswith(".py") or path == os.path.join(PACKAGE, "config.py"):
                continue
            with open(path, encoding="utf-8") as f:
                uses = environment_uses(f.read(), path)
            if uses:
                found[os.path.relpath(path, PACKAGE)] = uses
    assert found == {}, "read environment variables through singa.config: {}".format(found)
    with open(os.path.join(PACKAGE, "config.py"), encoding="utf-8") as f:
        assert environment_uses(f.read())  # the scan does see config's own reads


def readme_table():
    """{name: (default, meaning, read_by)} from README's "Environment variables" table."""
    path = os.path.join(REPO, "README.md")
    if not os.path.exists(path):
        pytest.skip("no README.md next to tests/ (an installed copy of the tests)")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    match = re.search(r"^## Environment variables\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, "README.md has no '## Environment variables' section"
    rows = [line for line in match.group(1).splitlines() if line.startswith("|")]
    assert [c.strip() for c in rows[0].strip("|").split("|")] == \
        ["Variable", "Default", "Meaning", "Read by"]
    table = {}
    for row in rows[2:]:
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        assert len(cells) == 4, row
        name = cells[0].strip("`")
        assert name not in table, "{} is listed twice".format(name)
        assert cells[2], "{} has no meaning".format(name)
        table[name] = (cells[1], cells[2], cells[3])
    return table


def core_source_names():
    """Names of SINGA_* variables the C++ sources spell as string literals (getenv
    arguments, or the core's table of knobs), or None without the sources."""
    src = os.path.join(REPO, "src")
    if not os.path.isdir(src):
        return None
    names = set()
    for root, _, files in os.walk(src):
        for name in files:
            if name.endswith((".cc", ".h", ".cu", ".cuh")):
                with open(os.path.join(root, name), encoding="utf-8") as f:
                    names.update(re.findall(r'"(SINGA_[A-Z0-9_]+)"', f.read()))
    return names


def test_readme_lists_exactly_the_python_variables_with_their_defaults():
    table = readme_table()
    documented = {n: row for n, row in table.items() if row[2] == "Python"}
    assert set(documented) == {k.name for k in config.PYTHON_KNOBS}
    for k in config.PYTHON_KNOBS:
        shown = documented[k.name][0]
        assert shown == ("unset" if k.default is None else "`{}`".format(k.default)), k.name
        assert k.read_by == "Python" and k.meaning


def test_readme_lists_exactly_the_core_variables():
    table = readme_table()
    assert {row[2] for row in table.values()} <= {"Python", "core"}
    documented = {n for n, row in table.items() if row[2] == "core"}
    in_sources = core_source_names()
    if in_sources is not None:
        assert documented == in_sources
    python, core = config.knobs()
    if hasattr(singa_wrap, "config_knobs"):
        assert documented == {k.name for k in core}
    else:
        assert core == []
    assert [k.name for k in python] == [k.name for k in config.PYTHON_KNOBS]


def test_core_knobs_come_from_the_extension_when_it_lists_them(monkeypatch):
    listing = [("SINGA_X", "1", "an example"), ("SINGA_Y", "", "another")]
    monkeypatch.setattr(singa_wrap, "config_knobs", lambda: listing, raising=False)
    assert config.core_knobs() == [config.Knob("SINGA_X", "1", "an example", "core"),
                                   config.Knob("SINGA_Y", "", "another", "core")]
    assert config.knobs()[1] == config.core_knobs()
    monkeypatch.delattr(singa_wrap, "config_knobs")
    assert config.core_knobs() == []


@pytest.mark.parametrize("value,expected", [(None, True), ("1", True), ("0", False),
                                            ("", True), ("yes", True), ("00", True)])
def test_flush_denormals_is_off_only_for_0(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv(config.FLUSH_DENORMALS, raising=False)
    else:
        monkeypatch.setenv(config.FLUSH_DENORMALS, value)
    assert config.flush_denormals() is expected


@pytest.mark.parametrize("getter,name", [(config.data_dir, config.DATA_DIR),
                                         (config.classic_workspace, config.CLASSIC_WORKSPACE)])
def test_folder_getters(monkeypatch, tmp_path, getter, name):
    monkeypatch.delenv(name, raising=False)
    assert getter() is None
    monkeypatch.setenv(name, "")
    assert getter() is None  # empty means unset
    monkeypatch.setenv(name, str(tmp_path))
    assert getter() == str(tmp_path)  # read afresh at every call


def test_readers_use_the_getters(monkeypatch, tmp_path):
    from singa import data
    from singa.classic import datasets
    assert data.ENV_VAR == config.DATA_DIR
    assert datasets.ENV_WORKSPACE == config.CLASSIC_WORKSPACE
    monkeypatch.setenv(config.CLASSIC_WORKSPACE, str(tmp_path / "ws"))
    assert datasets.workspace_root() == str(tmp_path / "ws")
    (tmp_path / "mnist").mkdir()
    monkeypatch.setenv(config.DATA_DIR, str(tmp_path))
    assert data.find_data_dir("mnist") == str(tmp_path / "mnist")
