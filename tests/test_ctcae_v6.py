"""The CTCAE v6.0 dictionary and NCI's v5.0 -> v6.0 mapping sheet (as tabulated into toxdb/data/)."""
import json
import subprocess
import sys

import pandas as pd
import pytest
from conftest import ROOT, SHARED

from toxdb.clinical.ctcae import load_ctcae
from toxdb.clinical.ctcae_v6 import (
    allowed_grades_in,
    derive_grade_allowed_v6,
    derive_terms_v6,
    load_ctcae_v6,
    load_v5_to_v6_mapping,
    map_term_v5_to_v6,
    v5_term_relations,
)
from toxdb.clinical.ctcae_versions import ctcae_version, other_version
from toxdb.trial import TrialFileError, read_trial

WORKBOOK = SHARED / "reference" / "ctcae_v6" / "CTCAE_v6.0.xlsx"


def _expand(text):
    if "-" in text:
        lo, hi = text.split("-")
        return list(range(int(lo), int(hi) + 1))
    return [int(g) for g in text.split(",")]


def test_mapping_covers_every_v5_term_and_grade():
    """Every v5 term has a row for the term and for each grade it has; each maps to a v6 term and a
    grade that exist in v6, or is marked removed (folded into an 'Other, specify' term with its name)."""
    v5, v6, m = load_ctcae(), load_ctcae_v6(), load_v5_to_v6_mapping()
    v6_grades = {t: set(_expand(g)) for t, g in zip(v6["term"], v6["grades"])}
    rows = {(r.v5_term, r.v5_grade): r for r in m.itertuples(index=False)}
    missing = []
    for term, grades in zip(v5["term"], v5["grades"]):
        for g in _expand(grades):
            r = rows.get((term, str(g)))
            if r is None:
                missing.append((term, g))
                continue
            assert r.v6_term in v6_grades, (term, g, r.v6_term)
            assert int(r.v6_grade) in v6_grades[r.v6_term], (term, g, r.v6_term, r.v6_grade)
    assert not missing, missing[:10]
    assert set(m["v5_term"]) == set(v5["term"])
    relations = v5_term_relations().set_index("v5_term")["relation"]
    assert set(relations.index) == set(v5["term"])
    for term in relations[relations == "removed"].index:
        target = map_term_v5_to_v6(term)
        assert target.v6_term.endswith(" - Other, specify")
        assert all(map_term_v5_to_v6(term, g).other_specify == term
                   for g in _expand(v5.set_index("term").at[term, "grades"]))


@pytest.mark.parametrize(("term", "grade", "v6_term", "v6_grade", "relation"), [
    ("Platelet count decreased", 3, "Thrombocytopenia", 3, "renamed"),
    ("Lymphocyte count decreased", 4, "Lymphopenia", 1, "renamed"),       # v6 Lymphopenia: grade 1 only
    ("Alkaline phosphatase increased", 2, "Alkaline phosphatase increased", 1, "same"),
    ("Rectal hemorrhage", 3, "Hematochezia", 3, "merged"),
    ("Asystole", 1, "Sinus bradycardia", 1, "split"),
    ("CPK increased", 2, "Investigations - Other, specify", 2, "removed"),
    ("Nausea", 3, "Nausea", 3, "same"),
])
def test_examples_from_the_mapping_sheet(term, grade, v6_term, v6_grade, relation):
    m = map_term_v5_to_v6(term, grade)
    assert (m.v6_term, m.v6_grade, m.relation) == (v6_term, v6_grade, relation)


def test_unknown_terms_and_grades_are_key_errors():
    with pytest.raises(KeyError):
        map_term_v5_to_v6("Not a term")
    with pytest.raises(KeyError):
        map_term_v5_to_v6("Nausea", 5)          # nausea has no grade 5 in v5
    with pytest.raises(KeyError):
        allowed_grades_in("Platelet count decreased", "6.0")


def test_grades_allowed_per_version():
    assert allowed_grades_in("Thrombocytopenia", 6) == (1, 2, 3, 4, 5)
    assert allowed_grades_in("Alkaline phosphatase increased", "6.0") == (1,)
    assert allowed_grades_in("Alkaline phosphatase increased", "5.0") == (1, 2, 3, 4)
    out = derive_grade_allowed_v6(pd.DataFrame({"term": ["Alkaline phosphatase increased", "thrombocytopenia",
                                                         "Platelet count decreased", "Nausea"],
                                                "grade": [2, 4, 2, None]}))
    assert out["grade_allowed_v6"].tolist() == [False, True, pd.NA, pd.NA]
    assert "does not exist in CTCAE v6.0" in out["grade_allowed_v6_note"].iloc[0]


def test_a_table_of_v5_terms_shown_in_v6():
    df = pd.DataFrame({"term": ["Platelet count decreased", "Nausea", "Platelet count decreased", "??"],
                       "grade": [4, 2, 1, 2]})
    out = derive_terms_v6(df)
    assert out["term_v6"].tolist()[:3] == ["Thrombocytopenia", "Nausea", "Thrombocytopenia"]
    assert out["grade_v6"].tolist()[:3] == [4, 2, 1]
    assert pd.isna(out["term_v6"].iloc[3])


def test_versions_and_the_trial_file(tmp_path):
    assert ctcae_version("6") == ctcae_version("v6.0") == ctcae_version(6.0) == "6.0"
    assert other_version("5.0") == "6.0"
    with pytest.raises(ValueError):
        ctcae_version("4.03")
    trial = read_trial(ROOT / "trial.toml")
    assert (trial.ctcae.version, trial.trial.language) == ("5.0", "en")
    text = (ROOT / "trial.toml").read_text(encoding="utf-8")
    (tmp_path / "t6.toml").write_text(text.replace('version = "5.0"', "version = 6"), encoding="utf-8")
    assert read_trial(tmp_path / "t6.toml").ctcae.version == "6.0"
    (tmp_path / "bad.toml").write_text(text.replace('language = "en"', 'language = "fr"'), encoding="utf-8")
    with pytest.raises(TrialFileError, match="trial.language"):
        read_trial(tmp_path / "bad.toml")


@pytest.mark.cli
@pytest.mark.skipif(not WORKBOOK.exists(), reason="the NCI workbooks are not in ../shared/reference")
def test_tabulation_scripts_reproduce_the_committed_data(tmp_path):
    """Rerun both scripts on the NCI workbooks into a copy of the data folder: the same bytes."""
    data = ROOT / "toxdb" / "data"
    names = ["ctcae_v6_terms.csv", "ctcae_v5_to_v6.csv", "lab_criteria_v5.json", "lab_criteria_v6.json"]
    runs = [["tabulate_ctcae_v6.py", str(WORKBOOK), str(tmp_path)], ["tabulate_lab_criteria.py", "--out", str(tmp_path)]]
    for script, *args in runs:
        out = subprocess.run([sys.executable, str(ROOT / "tools" / script), *args], capture_output=True, text=True, check=False)
        assert out.returncode == 0, out.stderr
    for name in names:
        assert (tmp_path / name).read_bytes() == (data / name).read_bytes(), f"{name} differs from the tabulation"
    assert json.loads((tmp_path / "lab_criteria_v6.json").read_text())["ctcae_version"] == "6.0"
