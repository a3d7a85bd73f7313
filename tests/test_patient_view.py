"""One patient's course and the swimmer lanes, on a small snapshot written by hand."""
import datetime as dt

import pandas as pd
import pytest

from toxdb.clinical.course import (
    compute_patient_course,
    compute_swimmer_lanes,
    lab_grade_bands,
    subject_choices,
)
from toxdb.plots.overview import GRADE_COLOURS
from toxdb.plots.patient import plot_patient_course, plot_swimmer
from toxdb.store.cuts import DataCut, Snapshot
from toxdb.trial import load_trial

D = pd.Timestamp
CUT = dt.date(2025, 10, 1)


def _frame(rows, cols, dates=()):
    f = pd.DataFrame(rows, columns=cols)
    for c in dates:
        f[c] = pd.to_datetime(f[c])
    return f


@pytest.fixture
def snapshot():
    patients = _frame([
        ("P1", "SITE-A", "2025-06-01", "M", 60, 170, 70, 0.9, "mg/dL", "capecitabine", None, None, None, None),
        ("P2", "SITE-B", "2025-04-20", "F", 55, 160, 55, 70, "umol/L", "capecitabine", "2025-07-01", "toxicity",
         "2025-08-15", "2025-09-20"),
        ("P3", "SITE-A", "2025-09-25", "F", 50, 160, 60, 0.8, "mg/dL", "capecitabine", None, None, None, None),
    ], ["subject_id", "site", "enrolled_on", "sex", "age", "height_cm", "weight_kg", "serum_creatinine",
        "serum_creatinine_unit", "agent", "off_treatment_on", "off_treatment_reason", "recurrence_on", "death_on"],
        dates=["enrolled_on", "off_treatment_on", "recurrence_on", "death_on"])
    treatment = _frame([
        ("P1", "RT", "concurrent", None, "2025-06-16", "2025-07-18", 55, "Gy", 25),
        ("P1", "capecitabine", "concurrent", 1, "2025-06-16", "2025-06-29", 1600, "mg/m2/day", None),
        ("P1", "capecitabine", "concurrent", 2, "2025-07-07", "2025-07-20", 1600, "mg/m2/day", None),
        ("P1", "capecitabine", "maintenance", 3, "2025-08-18", "2025-08-31", 2000, "mg/m2/day", None),
        ("P1", "S-1", "maintenance", 4, "2025-09-08", "2025-09-21", 50, "mg", None),
        ("P2", "RT", "concurrent", None, "2025-05-05", "2025-06-06", 55, "Gy", 25),
        ("P2", "capecitabine", "concurrent", 1, "2025-05-05", "2025-05-18", 1600, "mg/m2/day", None),
    ], ["subject_id", "treatment", "phase", "cycle", "start_date", "end_date", "dose", "dose_unit", "fractions"],
        dates=["start_date", "end_date"])
    ae = _frame([
        ("P1", "AE-1", "Diarrhea", 2, "2025-06-25", "2025-06-30", False, "probable"),
        ("P1", "AE-2", "Nausea", 1, "2025-06-20", None, False, "possible"),
        ("P1", "AE-3", "Palmar-plantar erythrodysesthesia syndrome", 3, "2025-08-25", "2025-09-05", False, "definite"),
        ("P2", "AE-1", "Fatigue", 3, "2025-05-20", "2025-05-30", False, "possible"),
        ("P2", "AE-2", "Neutrophil count decreased", 4, "2025-05-25", "2025-06-01", True, "probable"),
    ], ["subject_id", "ae_ref", "term", "grade", "onset_date", "end_date", "serious", "attribution"],
        dates=["onset_date", "end_date"])
    labs = _frame([
        ("P1", "2025-06-10", "ANC", 3.0, "10^9/L", 1.8, 6.3),
        ("P1", "2025-06-24", "ANC", 0.8, "10^9/L", 1.8, 6.3),
        ("P1", "2025-06-10", "PLT", 200, "10^9/L", 125, 350),
        ("P1", "2025-06-10", "BILI", 10, "umol/L", 3.4, 20.5),
        ("P1", "2025-06-10", "ALT", 20, "U/L", 7, 40),
    ], ["subject_id", "collected_on", "test", "value", "unit", "lln", "uln"], dates=["collected_on"])
    return Snapshot(DataCut(CUT), patients, treatment, ae, labs)


@pytest.fixture
def trial():
    return load_trial()


def test_course_tables_and_summary(snapshot, trial):
    course = compute_patient_course(snapshot, "P1", trial)
    t, s = course.table, course.summary
    assert t.treatment["label"].tolist() == ["RT 55 Gy / 25 fx", "C1 1600 mg/m²/d", "C2 1600 mg/m²/d",
                                             "C3 2000 mg/m²/d", "C4 S-1 50 mg"]
    assert t.events["term"].tolist() == ["Nausea", "Diarrhea", "Palmar-plantar erythrodysesthesia syndrome"]
    assert t.events["ongoing"].tolist() == [True, False, False]
    assert t.events.loc[0, "end_shown"] == D("2025-10-01")                     # ongoing: drawn to the cut
    assert t.milestones["name"].tolist() == ["first_treatment", "maintenance_start", "window_end", "cut"]
    assert t.milestones["date"].tolist() == [D("2025-06-16"), D("2025-08-18"), D("2025-10-21"), D("2025-10-01")]
    anc = t.labs[t.labs["test_code"] == "ANC"]
    assert anc["grade"].tolist() == [0, 3]
    assert (s["site"], s["agent"], s["worst_grade"], s["n_concurrent_cycles"], s["n_maintenance_cycles"]) == (
        "SITE-A", "capecitabine → S-1", 3, 2, 2)
    assert s["bsa"] == pytest.approx((170 * 70 / 3600) ** 0.5)
    assert s["crcl"] == pytest.approx((140 - 60) * 70 / (72 * 0.9))
    assert s["phase_now"].startswith("on treatment: maintenance")                # last cycle 21 Sep, cut 1 Oct
    assert s["advice_lines"] and s["advice_lines"][0].startswith("S-1: ")


def test_lab_grade_bands_from_the_criteria():
    anc = lab_grade_bands("ANC", lln=1.8, uln=6.3)
    assert anc[["grade", "low", "high"]].values.tolist() == [[1, 1.5, 1.8], [2, 1.0, 1.5], [3, 0.5, 1.0], [4, 0.0, 0.5]]
    alt = lab_grade_bands("ALT", uln=40)
    assert alt[["grade", "low", "high"]].values.tolist()[:3] == [[1, 40, 120], [2, 120, 200], [3, 200, 800]]
    assert alt["basis"].unique().tolist() == ["ULN"]
    abnormal = lab_grade_bands("ALT", uln=40, baseline=100)                    # baseline above ULN
    assert abnormal[["grade", "low", "high"]].values.tolist()[:3] == [[1, 150, 300], [2, 300, 500], [3, 500, 2000]]
    assert lab_grade_bands("ANC", lln=None)["grade"].tolist() == [2, 3, 4]      # no LLN: no grade 1 band


def test_course_figure_bars_markers_and_bands(snapshot, trial):
    fig = plot_patient_course(compute_patient_course(snapshot, "P1", trial))
    bars = [tr for tr in fig.data if tr.type == "bar"]
    assert {tr.name: len(tr.x) for tr in bars} == {"Radiotherapy": 1, "Capecitabine": 3, "S-1": 1}
    assert sum(len(tr.x) for tr in bars) == 4 + 1                              # 4 cycles + the RT course
    assert list(next(tr for tr in bars if tr.name == "S-1").text) == ["C4"]
    markers = {tr.name: tr for tr in fig.data if tr.type == "scatter" and (tr.name or "").startswith("Grade")}
    assert {n: (m.marker.color, list(m.y)) for n, m in markers.items()} == {
        "Grade 1": (GRADE_COLOURS[1], ["Nausea"]), "Grade 2": (GRADE_COLOURS[2], ["Diarrhea"]),
        "Grade 3": (GRADE_COLOURS[3], ["Palmar-plantar erythrodysesthesia syndrome"])}
    ongoing = next(tr for tr in fig.data if tr.name == "Ongoing at the cut")
    assert list(ongoing.y) == ["Nausea"] and list(ongoing.x) == ["2025-10-01"]
    bands = sorted((s.yref, s.y0, s.y1, s.fillcolor) for s in fig.layout.shapes if s.type == "rect")
    # panels: y2 ANC, y3 PLT, y4 BILI, y5 ALT; bands above the panel's top (auto range) are cut or left out
    assert bands == sorted([
        ("y2", 1.5, 1.8, GRADE_COLOURS[1]), ("y2", 1.0, 1.5, GRADE_COLOURS[2]), ("y2", 0.5, 1.0, GRADE_COLOURS[3]),
        ("y2", 0.0, 0.5, GRADE_COLOURS[4]),
        ("y3", 75.0, 125.0, GRADE_COLOURS[1]), ("y3", 50.0, 75.0, GRADE_COLOURS[2]),
        ("y3", 25.0, 50.0, GRADE_COLOURS[3]), ("y3", 0.0, 25.0, GRADE_COLOURS[4]),
        ("y4", 20.5, 30.75, GRADE_COLOURS[1]), ("y4", 30.75, 30.75 * 1.25, GRADE_COLOURS[2]),
        ("y5", 40.0, 120.0, GRADE_COLOURS[1]), ("y5", 120.0, 150.0, GRADE_COLOURS[2]),
    ])
    vlines = {s.x0 for s in fig.layout.shapes if s.type == "line"}
    assert vlines == {"2025-06-16", "2025-08-18", "2025-10-21", "2025-10-01"}


def test_swimmer_lanes_one_per_treated_patient_in_order(snapshot, trial):
    lanes = compute_swimmer_lanes(snapshot, trial)
    tab = lanes.table
    assert tab["subject_id"].tolist() == ["P2", "P1"]                         # P3 untreated; P2 treated first
    assert tab["lane"].tolist() == [0, 1]
    p2, p1 = tab.iloc[0], tab.iloc[1]
    assert (p2["rt_start"], p2["rt_end"], p2["concurrent_end"]) == (D("2025-05-05"), D("2025-06-06"), D("2025-05-18"))
    assert pd.isna(p2["maintenance_start"]) and not p2["on_treatment_at_cut"]
    assert (p2["off_treatment_on"], p2["recurrence_on"], p2["death_on"]) == (
        D("2025-07-01"), D("2025-08-15"), D("2025-09-20"))
    assert p2["ge3_grades"] == [3, 4] and p2["ge3_dates"] == [D("2025-05-20"), D("2025-05-25")]
    assert (p1["maintenance_start"], p1["maintenance_end"], p1["agent"]) == (
        D("2025-08-18"), D("2025-09-21"), "capecitabine → S-1")
    assert p1["on_treatment_at_cut"] and p1["ge3_grades"] == [3]
    assert lanes.events["day"].tolist() == [15, 20, 70]


def test_swimmer_figure_one_trace_per_category(snapshot, trial):
    fig = plot_swimmer(compute_swimmer_lanes(snapshot, trial))
    names = [tr.name for tr in fig.data]
    assert len(names) == len(set(names))
    bar = {tr.name: (list(tr.y), list(tr.base), list(tr.x)) for tr in fig.data if tr.type == "bar"}
    assert bar["Radiotherapy"] == (["P2", "P1"], [0, 0], [33, 33])
    assert bar["Maintenance capecitabine / S-1"] == (["P1"], [63], [35])
    g = {tr.name: (list(tr.y), list(tr.x), tr.marker.color) for tr in fig.data if tr.name.startswith("AE")}
    assert g == {"AE grade 3": (["P2", "P1"], [15, 70], GRADE_COLOURS[3]), "AE grade 4": (["P2"], [20], GRADE_COLOURS[4])}
    assert list(next(tr for tr in fig.data if tr.name == "Death").y) == ["P2"]
    assert list(next(tr for tr in fig.data if tr.name == "On treatment at the cut").x) == [107]
    assert list(fig.layout.yaxis.categoryarray) == ["P1", "P2"]               # first treated drawn at the top


def test_swimmer_scales_to_hundreds_of_patients(trial):
    n = 400
    ids = [f"S{i:04d}" for i in range(n)]
    start = pd.Timestamp("2025-01-01") + pd.to_timedelta(pd.RangeIndex(n) % 200, unit="D")
    tr = pd.DataFrame({"subject_id": ids * 2, "treatment": ["RT"] * n + ["capecitabine"] * n,
                       "phase": "concurrent", "cycle": [None] * n + [1] * n,
                       "start_date": list(start) * 2, "end_date": list(start + pd.Timedelta(days=30)) * 2})
    pts = pd.DataFrame({"subject_id": ids, "site": "A"})
    ae = pd.DataFrame({"subject_id": ids[:50], "term": "Fatigue", "grade": 3, "onset_date": list(start[:50]),
                       "end_date": pd.NaT})
    snap = Snapshot(DataCut(dt.date(2026, 1, 1)), pts, tr, ae, None)
    fig = plot_swimmer(compute_swimmer_lanes(snap, trial))
    assert len(fig.data) <= 12 and len(fig.data[0].y) == n


def test_subject_choices_label_with_site(snapshot):
    assert subject_choices(snapshot.patients)["label"].tolist() == ["P1 · SITE-A", "P2 · SITE-B", "P3 · SITE-A"]
