"""CTCAE v5.0 against v6.0 for lab values (toxdb.clinical.lab_versions) and the grade >= 3 path with
lab grades added as a sensitivity analysis (toxdb.monitoring.sensitivity).

Grades worked by hand from the NCI workbooks' text for "Neutrophil count decreased":
v5.0: G1 < LLN - 1.5; G2 < 1.5 - 1.0; G3 < 1.0 - 0.5; G4 < 0.5 (x10^9/L).
v6.0: G1 < 1.5 - 1.0; G2 < 1.0 - 0.5; G3 < 0.5 - 0.1; G4 < 0.1 (no LLN grade).
Every patient starts chemoradiotherapy on 2026-03-01 (RT and capecitabine to 2026-04-10); cut 2026-06-30.
"""
import datetime as dt

import pandas as pd
import pytest
from conftest import ROOT, run_app
from streamlit.testing.v1 import AppTest

from toxdb.clinical.lab_queries import compute_lab_queries
from toxdb.clinical.lab_versions import compute_lab_version_changes
from toxdb.monitoring.sensitivity import compute_monitoring_sensitivity, derive_lab_qualifying_rows
from toxdb.store.cuts import DataCut, Snapshot
from toxdb.trial import load_trial

TRIAL = load_trial()
LLN, ULN = 2.0, 7.5


def trial_snapshot(anc: dict[str, list[tuple[str, float]]], aes=()) -> Snapshot:
    """anc: subject -> [(date, ANC x10^9/L)]; aes: (subject, term, grade, onset)."""
    subjects = sorted(anc)
    patients = pd.DataFrame({"subject_id": subjects, "site": "SITE-A", "enrolled_on": pd.Timestamp("2026-02-10"),
                             "death_on": pd.NaT, "recurrence_on": pd.NaT, "off_treatment_on": pd.NaT,
                             "off_treatment_reason": None, "last_contact_on": pd.NaT})
    treatment = pd.DataFrame(
        [{"subject_id": s, "treatment": agent, "phase": "concurrent", "cycle": 1,
          "start_date": pd.Timestamp("2026-03-01"), "end_date": pd.Timestamp("2026-04-10")}
         for s in subjects for agent in ("RT", "capecitabine")])
    labs = pd.DataFrame(
        [{"subject_id": s, "collected_on": pd.Timestamp(d), "test": "ANC", "value": v, "unit": "10^9/L",
          "lln": LLN, "uln": ULN} for s, rows in anc.items() for d, v in rows])
    ae = pd.DataFrame(
        [{"subject_id": s, "ae_ref": f"E{i}", "term": term, "grade": g, "onset_date": pd.Timestamp(on),
          "end_date": pd.NaT, "serious": False, "attribution": "possible"} for i, (s, term, g, on) in enumerate(aes)],
        columns=["subject_id", "ae_ref", "term", "grade", "onset_date", "end_date", "serious", "attribution"])
    return Snapshot(DataCut(dt.date(2026, 6, 30)), patients, treatment, ae, labs)


SNAP = trial_snapshot({
    "A": [("2026-03-20", 0.4)],                          # v5 G4, v6 G3: both grade >= 3
    "B": [("2026-03-20", 0.8)],                          # v5 G3, v6 G2: only v5 reaches 3
    "C": [("2026-03-20", 1.6)],                          # v5 G1 (below LLN 2.0), v6 G0
    "D": [("2026-02-20", 0.8), ("2026-03-20", 0.8)],     # v5 G3 before treatment and after: not new
    "E": [("2026-03-20", 3.0)],                          # normal under both
})


def test_values_and_patients_whose_grade_changes():
    res = compute_lab_version_changes(SNAP, TRIAL)
    got = {(r.subject_id, str(r.collected_on.date())): (int(r.grade_v5), int(r.grade_v6))
           for r in res.table.itertuples()}
    assert got == {("A", "2026-03-20"): (4, 3), ("B", "2026-03-20"): (3, 2), ("C", "2026-03-20"): (1, 0),
                   ("D", "2026-02-20"): (3, 2), ("D", "2026-03-20"): (3, 2)}
    assert set(res.table["change"]) == {"lower under v6"}
    # per patient: worst on-treatment grade (D's pre-treatment value is not on treatment, its later one is)
    worst = {r.subject_id: (int(r.worst_v5), int(r.worst_v6)) for r in res.patients.itertuples()}
    assert worst == {"A": (4, 3), "B": (3, 2), "C": (1, 0), "D": (3, 2)}
    s = res.summary
    assert (s["values_graded"], s["values_changed"], s["patients_changed"]) == (6, 5, 4)
    assert (s["patients_ge3_v5"], s["patients_ge3_v6"]) == (3, 1)      # A, B, D under v5; A under v6


def test_lab_rows_that_would_qualify_follow_the_baseline_rule():
    # D is grade 3 under v5 before and after the first treatment: not new, so not a qualifying row
    v5 = derive_lab_qualifying_rows(SNAP, TRIAL, "5.0")
    assert sorted(v5["subject_id"]) == ["A", "B"]
    assert set(v5["term"]) == {"Neutrophil count decreased"} and set(v5["phase"]) == {"concurrent"}
    v6 = derive_lab_qualifying_rows(SNAP, TRIAL, "6.0")
    assert list(v6["subject_id"]) == ["A"] and list(v6["grade"]) == [3.0]


def test_sensitivity_path_counts_lab_grades_beside_the_reported_aes():
    snap = trial_snapshot({s: rows for s, rows in SNAP.labs.groupby("subject_id").apply(
        lambda g: list(zip(g["collected_on"].dt.strftime("%Y-%m-%d"), g["value"]))).items()},
        aes=[("E", "Diarrhea", 3, "2026-03-15")])
    res = compute_monitoring_sensitivity(snap, TRIAL)
    t = res.table.set_index(["phase", "analysis"])
    # five patients started treatment; E's grade 3 diarrhoea qualifies in every analysis
    assert t.loc[("all", "reported"), ["n", "x"]].tolist() == [5, 1]
    assert t.loc[("all", "labs_v5"), ["n", "x"]].tolist() == [5, 3]          # + A and B
    assert t.loc[("all", "labs_v6"), ["n", "x"]].tolist() == [5, 2]          # + A only
    assert t.loc[("concurrent", "labs_v6"), "x"] == 2
    assert t.loc[("maintenance", "reported"), "n"] == 0                      # nobody reached maintenance
    assert set(res.summary["labels"]) == {"reported", "labs_v5", "labs_v6"}


def test_no_labs_no_change():
    snap = trial_snapshot({"A": []})
    res = compute_lab_version_changes(Snapshot(snap.cut, snap.patients, snap.treatment, snap.adverse_events, None),
                                      TRIAL)
    assert res.table.empty and res.patients.empty and res.summary["values_graded"] == 0


def test_lab_queries_under_the_other_version():
    """ANC 0.8 with a neutrophil AE of grade 2: v5 grades the value 3, above the AE, so a query asks
    the site; v6 grades it 2, which the AE covers."""
    snap = trial_snapshot({"B": [("2026-03-20", 0.8)]},
                          aes=[("B", "Neutrophil count decreased", 2, "2026-03-19")])
    v5 = compute_lab_queries(snap, TRIAL)
    assert v5.table["lab_grade"].tolist() == [3] and v5.table["reported_grade"].tolist() == [2]
    assert compute_lab_queries(snap, TRIAL, grading_version="6.0").table.empty


@pytest.mark.app
def test_versions_page_on_the_sample_trial(app_env):
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=120)
    run_app(at)
    at.switch_page("app/pages/ctcae_versions.py")
    run_app(at)
    assert any("v6" in t.value for t in at.title)
    # values, patients and the sensitivity table
    assert len(at.dataframe) == 3
    sens = at.dataframe[2].value
    assert len(sens) == 9                       # three cohorts x three analyses


@pytest.mark.app
@pytest.mark.parametrize("page, key", [("labs.py", "labq_ctcae"), ("patient.py", "patient_ctcae")])
def test_pages_switch_the_lab_grading_version(app_env, page, key):
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=120)
    run_app(at)
    at.switch_page(f"app/pages/{page}")
    run_app(at)
    assert at.radio(key=key).value == "5.0"                # the version of record first
    at.radio(key=key).set_value("6.0")
    run_app(at)
    if page == "labs.py":
        assert any("CTCAE v6.0" in c.value for c in at.caption)
