"""The import rules that keep the core UI-free and the database behind one module."""
import ast
import re
from pathlib import Path

import pytest
from conftest import ROOT

CORE = sorted((ROOT / "toxdb").rglob("*.py"))
PAGES = sorted((ROOT / "app").rglob("*.py"))


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", CORE, ids=lambda p: str(p.relative_to(ROOT)))
def test_core_never_imports_streamlit(path):
    assert "streamlit" not in _imports(path)


@pytest.mark.parametrize("path", CORE, ids=lambda p: str(p.relative_to(ROOT)))
def test_only_the_store_imports_duckdb(path):
    if path.name == "db.py" and path.parent.name == "store":
        assert "duckdb" in _imports(path)
    else:
        assert "duckdb" not in _imports(path)


SQL = re.compile(r"\b(SELECT\s+.+\s+FROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+TABLE)\b", re.I)


@pytest.mark.parametrize("path", PAGES + [ROOT / "dashboard.py"], ids=lambda p: p.name)
def test_pages_hold_no_sql_and_no_maths_libraries(path):
    text = path.read_text(encoding="utf-8")
    assert not SQL.search(text), "SQL belongs in toxdb/store/"
    assert not ({"duckdb", "scipy", "numpy"} & _imports(path))


def test_the_rules_guard_finds_a_violation(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import duckdb\nfrom streamlit import write\n")
    assert {"duckdb", "streamlit"} <= _imports(bad)
