"""Lab-vs-AE queries (toxdb/lab_queries.py), the Lab queries page and ``export queries``.

Every expected grade and query below was worked out by hand from clinical-rules.md section 4. All
patients start treatment on 2026-03-01 (RT and capecitabine); the cut is 2026-06-30.
"""
import datetime as dt
import io

import pandas as pd
import pytest
from conftest import ROOT, run_app
from streamlit.testing.v1 import AppTest

from toxdb.clinical.lab_queries import (
    GRADE_LOWER,
    NO_AE,
    QUERY_COLUMNS,
    compute_lab_queries,
    filter_lab_queries,
    lab_queries_for_export,
)
from toxdb.store.cuts import DataCut, Snapshot
from toxdb.trial import load_trial

CUT = dt.date(2026, 6, 30)
START = "2026-03-01"


def _snapshot(labs: list[tuple], aes: list[tuple], subjects=None, cut=CUT) -> Snapshot:
    """labs: (subject, date, test, value, unit, lln, uln); aes: (subject, term, grade, onset, end)."""
    subjects = subjects or sorted({r[0] for r in labs} | {r[0] for r in aes})
    patients = pd.DataFrame({"subject_id": subjects, "site": ["SITE-A" if i % 2 == 0 else "SITE-B"
                                                              for i in range(len(subjects))],
                             "enrolled_on": pd.Timestamp("2026-02-15")})
    treatment = pd.DataFrame([(s, t, "concurrent", 1, pd.Timestamp(START), pd.Timestamp("2026-04-10"))
                              for s in subjects for t in ("RT", "capecitabine")],
                             columns=["subject_id", "treatment", "phase", "cycle", "start_date", "end_date"])
    ae = pd.DataFrame([(s, f"AE-{i}", term, grade, pd.Timestamp(on), pd.Timestamp(end) if end else pd.NaT, False,
                        "possible") for i, (s, term, grade, on, end) in enumerate(aes)],
                      columns=["subject_id", "ae_ref", "term", "grade", "onset_date", "end_date", "serious",
                               "attribution"])
    lab = pd.DataFrame([(s, pd.Timestamp(d), t, v, u, lo, hi) for s, d, t, v, u, lo, hi in labs],
                       columns=["subject_id", "collected_on", "test", "value", "unit", "lln", "uln"])
    return Snapshot(DataCut(cut), patients, treatment, ae, lab)


NAN = float("nan")
LABS = [
    # P1: ANC 0.8 (LLN 1.8) is grade 3; the AE says grade 1 -> query
    ("P1", "2026-02-20", "ANC", 3.1, "10^9/L", 1.8, 6.3),
    ("P1", "2026-03-04", "ANC", 0.8, "10^9/L", 1.8, 6.3),
    # P2: platelets 60 (LLN 150) is grade 2; an AE of grade 2 four days earlier, still going on -> no query
    ("P2", "2026-03-10", "PLT", 60, "10^9/L", 150, 350),
    # P3: Hb 115 g/L (LLN 130) is grade 1; no Anemia AE -> query
    ("P3", "2026-03-12", "HGB", 115, "g/L", 130, 175),
    # P4: bilirubin 20 without a unit fits umol/L and mg/dL -> flagged, not graded, never queried
    ("P4", "2026-03-12", "BILI", 20, None, 0.2, 17),
    # P5: ALT baseline 80 (ULN 40, abnormal): 100 is 1.25 x baseline = grade 0; 130 is 1.625 x = grade 1
    ("P5", "2026-02-20", "ALT", 80, "U/L", 0, 40),
    ("P5", "2026-03-15", "ALT", 100, "U/L", 0, 40),
    ("P5", "2026-03-29", "ALT", 130, "U/L", 0, 40),
]
AES = [
    ("P1", "Neutrophil count decreased", 1, "2026-03-04", "2026-03-20"),
    ("P2", "Platelet count decreased", 2, "2026-03-06", None),
]


@pytest.fixture(scope="module")
def result():
    return compute_lab_queries(_snapshot(LABS, AES), load_trial())


def _row(result, subject):
    rows = result.table[result.table["subject_id"] == subject]
    assert len(rows) == 1, rows
    return rows.iloc[0]


def test_lab_grade_3_with_ae_grade_1_is_a_query(result):
    r = _row(result, "P1")
    assert (r["test"], r["value"], r["lab_grade"], r["ctcae_term"], r["reported_grade"], r["issue"]) == \
        ("ANC", 0.8, 3, "Neutrophil count decreased", 1, GRADE_LOWER)
    assert r["collected_on"] == pd.Timestamp("2026-03-04") and r["site"] == "SITE-A"
    assert r["query"] == ("ANC 0.8 ×10⁹/L on 2026-03-04 is grade 3 Neutrophil count decreased; "
                          "the AE reported is grade 1 (onset 2026-03-04)")


def test_lab_grade_2_with_ae_grade_2_is_not_a_query(result):
    assert "P2" not in set(result.table["subject_id"])


def test_lab_grade_1_without_ae_is_a_query(result):
    r = _row(result, "P3")
    assert (r["test"], r["lab_grade"], r["ctcae_term"], r["issue"]) == ("HGB", 1, "Anemia", NO_AE)
    assert pd.isna(r["reported_grade"])
    assert r["query"] == "HGB 115 g/L on 2026-03-12 is grade 1 Anemia; no Anemia AE is reported within 7 days of it"


def test_unitless_ambiguous_value_is_flagged_not_graded(result):
    assert "P4" not in set(result.table["subject_id"])
    f = result.flagged
    assert f[["subject_id", "test", "value"]].values.tolist() == [["P4", "BILI", 20.0]]
    assert "could be in umol/L and mg/dL" in f["reason"].iloc[0]
    assert result.summary["flagged"] == 1


def test_abnormal_baseline_alt_is_graded_against_the_baseline(result):
    r = _row(result, "P5")                                   # only 130 (grade 1), not 100 (grade 0)
    assert (r["value"], r["lab_grade"], r["issue"]) == (130.0, 1, NO_AE)
    assert r["collected_on"] == pd.Timestamp("2026-03-29")
    assert "baseline above ULN" in r["grade_note"]


def test_summary_counts(result):
    s = result.summary
    # abnormal on treatment: P1 ANC, P2 PLT, P3 HGB, P5 ALT 130
    assert (s["abnormal_on_treatment"], s["covered_by_ae"], s["queries"], s["queries_no_ae"],
            s["queries_grade_lower"], s["patients_with_queries"]) == (4, 1, 3, 2, 1, 3)
    assert s["window_days"] == 7
    assert list(result.table.columns) == QUERY_COLUMNS


def test_window_is_a_parameter():
    # AE onset 8 days after the lab: outside the default 7-day window, inside a 10-day one
    labs = [("P1", "2026-03-10", "PLT", 60, "10^9/L", 150, 350)]
    aes = [("P1", "Platelet count decreased", 2, "2026-03-18", "2026-03-25")]
    default = compute_lab_queries(_snapshot(labs, aes), load_trial())
    assert default.table["issue"].tolist() == [NO_AE]
    assert compute_lab_queries(_snapshot(labs, aes), load_trial(), window_days=8).table.empty
    seven = [("P1", "Platelet count decreased", 2, "2026-03-17", "2026-03-25")]
    assert compute_lab_queries(_snapshot(labs, seven), load_trial()).table.empty
    # a lab 7 days after the AE ended is covered, 8 days after is not
    ended = [("P1", "Platelet count decreased", 2, "2026-02-25", "2026-03-03")]
    assert compute_lab_queries(_snapshot(labs, ended), load_trial()).table.empty
    ended8 = [("P1", "Platelet count decreased", 2, "2026-02-25", "2026-03-02")]
    assert len(compute_lab_queries(_snapshot(labs, ended8), load_trial()).table) == 1



def test_default_window_is_the_trial_files():
    """The window a page or export uses by default is [lab_queries] window_days of the trial file: an
    AE 8 days after the lab is outside the shipped 7 days and inside a trial file that says 8."""
    labs = [("P1", "2026-03-10", "PLT", 60, "10^9/L", 150, 350)]
    aes = [("P1", "Platelet count decreased", 2, "2026-03-18", "2026-03-25")]
    trial = load_trial()
    assert trial.lab_queries.window_days == 7
    assert len(compute_lab_queries(_snapshot(labs, aes), trial).table) == 1
    wider = trial.model_copy(update={"lab_queries": trial.lab_queries.model_copy(update={"window_days": 8})})
    result = compute_lab_queries(_snapshot(labs, aes), wider)
    assert result.table.empty and result.summary["window_days"] == 8

def test_consecutive_unreported_values_are_one_query_naming_the_worst():
    labs = [
        ("P1", "2026-03-02", "ANC", 1.2, "10^9/L", 1.8, 6.3),   # grade 2
        ("P1", "2026-03-09", "ANC", 0.9, "10^9/L", 1.8, 6.3),   # grade 3 (worst)
        ("P1", "2026-03-16", "ANC", 1.6, "10^9/L", 1.8, 6.3),   # grade 1
        ("P1", "2026-03-23", "ANC", 2.5, "10^9/L", 1.8, 6.3),   # normal: ends the run
        ("P1", "2026-03-30", "ANC", 1.4, "10^9/L", 1.8, 6.3),   # grade 2: a new query
    ]
    t = compute_lab_queries(_snapshot(labs, []), load_trial()).table
    assert t[["collected_on", "lab_grade", "first_on", "last_on", "n_labs"]].values.tolist() == [
        [pd.Timestamp("2026-03-09"), 3, pd.Timestamp("2026-03-02"), pd.Timestamp("2026-03-16"), 3],
        [pd.Timestamp("2026-03-30"), 2, pd.Timestamp("2026-03-30"), pd.Timestamp("2026-03-30"), 1],
    ]
    assert t["query"].iloc[0].endswith("(worst of 3 values from 2026-03-02 to 2026-03-16)")


def test_one_query_per_ae_episode():
    labs = [("P1", "2026-03-05", "BILI", 60, "umol/L", 3, 20),     # 3 x ULN: grade 2
            ("P1", "2026-03-08", "BILI", 70, "umol/L", 3, 20),     # 3.5 x ULN: grade 3
            ("P1", "2026-03-12", "BILI", 65, "umol/L", 3, 20)]     # grade 3
    aes = [("P1", "Blood bilirubin increased", 1, "2026-03-05", "2026-03-20")]
    t = compute_lab_queries(_snapshot(labs, aes), load_trial()).table
    assert t[["collected_on", "lab_grade", "reported_grade", "n_labs"]].values.tolist() == \
        [[pd.Timestamp("2026-03-08"), 3, 1, 3]]


def test_the_higher_of_two_covering_aes_counts():
    labs = [("P1", "2026-03-10", "PLT", 45, "10^9/L", 150, 350)]          # grade 3
    aes = [("P1", "Platelet count decreased", 1, "2026-03-05", "2026-03-09"),
           ("P1", "Platelet count decreased", 3, "2026-03-10", "2026-03-20")]
    assert compute_lab_queries(_snapshot(labs, aes), load_trial()).table.empty


def test_only_values_from_the_first_treatment_to_the_cut():
    labs = [("P1", "2026-02-28", "HGB", 95, "g/L", 130, 175),      # before treatment: baseline, grade 2
            ("P1", "2026-07-01", "ANC", 0.4, "10^9/L", 1.8, 6.3),  # after the cut
            ("P1", START, "ANC", 1.0, "10^9/L", 1.8, 6.3)]         # day 1: on treatment, grade 2
    r = compute_lab_queries(_snapshot(labs, []), load_trial())
    assert r.table[["test", "collected_on"]].values.tolist() == [["ANC", pd.Timestamp(START)]]
    r2 = compute_lab_queries(_snapshot(labs, []), load_trial(), same_day_is_baseline=True)
    assert r2.table.empty


def test_unchanged_baseline_abnormality_is_not_queried_unless_asked():
    labs = [("P1", "2026-02-20", "HGB", 120, "g/L", 130, 175),     # baseline grade 1
            ("P1", "2026-03-10", "HGB", 118, "g/L", 130, 175),     # still grade 1
            ("P1", "2026-03-24", "HGB", 95, "g/L", 130, 175)]      # grade 2: worse than baseline
    r = compute_lab_queries(_snapshot(labs, []), load_trial())
    assert r.table[["collected_on", "lab_grade", "n_labs"]].values.tolist() == [[pd.Timestamp("2026-03-24"), 2, 1]]
    assert r.summary["not_queried_baseline"] == 1
    r2 = compute_lab_queries(_snapshot(labs, []), load_trial(), skip_unchanged_from_baseline=False)
    assert r2.table[["collected_on", "lab_grade", "first_on", "n_labs"]].values.tolist() == \
        [[pd.Timestamp("2026-03-24"), 2, pd.Timestamp("2026-03-10"), 2]]


def test_no_labs_gives_empty_tables():
    snap = _snapshot([], [("P1", "Nausea", 1, "2026-03-04", None)])
    r = compute_lab_queries(snap, load_trial())
    assert r.table.empty and r.flagged.empty and r.summary["queries"] == 0
    snap.labs = None
    assert compute_lab_queries(snap, load_trial()).table.empty


def test_filters_and_export(result):
    # subjects alternate SITE-A / SITE-B in sorted order: P1, P3, P5 are SITE-A
    assert filter_lab_queries(result.table, sites=["SITE-A"])["subject_id"].tolist() == ["P1", "P3", "P5"]
    assert filter_lab_queries(result.table, sites=["SITE-B"]).empty
    assert filter_lab_queries(result.table, tests=["HGB"])["subject_id"].tolist() == ["P3"]
    assert filter_lab_queries(result.table, sites=["nowhere"]).empty
    out = lab_queries_for_export(result.table)
    assert out.loc[out["subject_id"] == "P1", "collected_on"].tolist() == ["2026-03-04"]
    # queries with no AE have no AE grade at all: the spreadsheet is still written
    from toxdb.reports.export import frame_to_xlsx_bytes

    no_ae = result.table[result.table["issue"] == NO_AE]
    assert frame_to_xlsx_bytes(lab_queries_for_export(no_ae), "lab queries")[:2] == b"PK"
    assert frame_to_xlsx_bytes(lab_queries_for_export(result.flagged), "flagged")[:2] == b"PK"


def test_sample_trial_raises_the_two_deliberate_discrepancies(tmp_path, store_files):
    from toxdb.store.cuts import load_snapshot
    from toxdb.store.db import Store

    s = Store(store_files.copy("sample", tmp_path / "sample.duckdb"))     # sample_data/ as seeded
    r = compute_lab_queries(load_snapshot(s, DataCut(dt.date(2026, 11, 16))), load_trial())
    s.close()
    got = r.table[["test", "ctcae_term", "lab_grade", "reported_grade"]].values.tolist()
    assert ["BILI", "Blood bilirubin increased", 3, 2] in got
    assert ["ANC", "Neutrophil count decreased", 2, 1] in got
    assert len(got) == 2                        # the sample has no other lab without its AE


# ---- the page and the CLI

@pytest.mark.app
def test_lab_queries_page_shows_the_sample_discrepancies(app_env):
    at = run_app(AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=90))
    at.switch_page("app/pages/labs.py")
    run_app(at)
    assert at.title[0].value == "Lab queries"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Open queries"] == "2" and metrics["AE grade too low"] == "2"
    table = at.dataframe[0].value
    queries = " | ".join(table["Query"])
    assert "is grade 3 Blood bilirubin increased; the AE reported is grade 2" in queries
    assert "is grade 2 Neutrophil count decreased; the AE reported is grade 1" in queries
    assert {b.label for b in at.get("download_button")} >= {"Download queries (.xlsx)", "Download queries (.csv)"}
    at.multiselect(key="labq_tests").set_value(["ANC"])
    run_app(at)
    assert at.dataframe[0].value["Test"].tolist() == ["ANC"]


@pytest.mark.cli
def test_export_queries_cli(tmp_path, capsysbinary, store_files):
    from toxdb.cli import main

    db = store_files.copy("sample", tmp_path / "cli.duckdb")              # sample_data/ as seeded
    assert main(["export", "queries", "--db", str(db), "--cut", "2026-11-16", "--csv"]) == 0
    out = capsysbinary.readouterr().out
    assert out.startswith(b"\xef\xbb\xbf")
    q = pd.read_csv(io.BytesIO(out), encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert list(q.columns) == QUERY_COLUMNS
    assert sorted(zip(q["test"], q["lab_grade"], q["reported_grade"])) == [("ANC", "2", "1"), ("BILI", "3", "2")]
    assert main(["export", "queries", "--db", str(db), "--cut", "2026-11-16", "--test", "ANC", "--csv"]) == 0
    q = pd.read_csv(io.BytesIO(capsysbinary.readouterr().out), encoding="utf-8-sig", dtype=str)
    assert q["test"].tolist() == ["ANC"]
    # both discrepancies are later than this cut (bilirubin 2026-01-08, ANC 2026-02-16)
    assert main(["export", "queries", "--db", str(db), "--cut", "2025-12-31", "--csv"]) == 0
    q = pd.read_csv(io.BytesIO(capsysbinary.readouterr().out), encoding="utf-8-sig", dtype=str)
    assert q.empty
    assert main(["export", "queries", "--db", str(db), "--not-graded", "--csv"]) == 0
    q = pd.read_csv(io.BytesIO(capsysbinary.readouterr().out), encoding="utf-8-sig", dtype=str)
    assert list(q.columns) == ["subject_id", "site", "collected_on", "test", "value", "unit", "reason"]
