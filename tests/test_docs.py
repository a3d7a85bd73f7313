"""The project's own documents stand on their own: docs/ holds the rules the code relies on, and
the numbered decisions (docs/decisions.md) are the ones code and tests cite (after datasette's
test_docs.py: a reference that points nowhere fails)."""
from __future__ import annotations

import re

import pytest
from conftest import ROOT

DOCS = ROOT / "docs"
DECISIONS = DOCS / "decisions.md"
SOURCES = sorted((ROOT / "toxdb").rglob("*.py")) + sorted((ROOT / "app").rglob("*.py")) + \
    sorted((ROOT / "tests").glob("*.py")) + sorted((ROOT / "bench").glob("*.py")) + \
    [ROOT / "dashboard.py", ROOT / "README.md", ROOT / "trial.toml"] + sorted(DOCS.glob("*.md"))
CITED = re.compile(r"\bD(\d{1,3})\b")
OUTSIDE = ("/work/" + "shared", "shared/" + "spec")      # written in two parts so this file passes itself


def _decision_ids() -> list[int]:
    return [int(m) for m in re.findall(r"^\*\*D(\d+)\.", DECISIONS.read_text(encoding="utf-8"), re.M)]


def _cited() -> dict[int, set[str]]:
    out: dict[int, set[str]] = {}
    for path in SOURCES:
        if path == DECISIONS:
            continue
        for m in CITED.finditer(path.read_text(encoding="utf-8")):
            out.setdefault(int(m.group(1)), set()).add(path.relative_to(ROOT).as_posix())
    return out


def test_decisions_are_numbered_in_order():
    # each issue has its own block of numbers: rising, never repeated, gaps allowed
    ids = _decision_ids()
    assert ids == sorted(set(ids)) and ids[:31] == list(range(1, 32)), ids


def test_every_cited_decision_exists():
    known = set(_decision_ids())
    unknown = {d: sorted(where) for d, where in _cited().items() if d not in known}
    assert not unknown, f"decisions cited but not in docs/decisions.md: {unknown}"


def test_every_decision_is_cited_by_code_or_tests():
    cited = {d for d, where in _cited().items() if any(not w.startswith("docs/") for w in where)}
    assert not set(_decision_ids()) - cited, "a decision nobody applies: cite it where it is applied, or drop it"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_reference_outside_the_repository(path):
    text = path.read_text(encoding="utf-8")
    assert not any(o in text for o in OUTSIDE), "write it in docs/ in the project's words"
    for doc in re.findall(r"\bdocs/([\w.-]+\.md)", text):
        assert (DOCS / doc).exists(), f"{path.name} cites docs/{doc}, which does not exist"
