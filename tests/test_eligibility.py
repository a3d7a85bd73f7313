"""Registration checks (toxdb/eligibility.py) and the Registration checks page.

Limits from trial.toml [eligibility]: age > 18 and < 80, Child-Pugh A5, A6 or B7, ECOG <= 2, fewer than
122 days from surgery to the first treatment. Expected values worked out by hand. Every patient is
enrolled on 2026-02-15 and first treated on 2026-03-01 unless said otherwise; the cut is 2026-06-30.
"""
import datetime as dt

import pandas as pd
import pytest
from conftest import ROOT, run_app
from streamlit.testing.v1 import AppTest

from toxdb.clinical.eligibility import (
    CHECK_COLUMNS,
    OK,
    OUTSIDE,
    UNKNOWN,
    compute_registration_checks,
)
from toxdb.store.cuts import DataCut, Snapshot
from toxdb.trial import load_trial

CUT = dt.date(2026, 6, 30)
NORMAL_LABS = {"BILI": 12.0, "ALB": 42.0, "INR": 1.0}        # 1 + 1 + 1 points


def _patient(sid, **kw):
    row = {"subject_id": sid, "site": "SITE-A", "enrolled_on": pd.Timestamp("2026-02-15"), "age": 60.0,
           "birth_date": pd.NaT, "surgery_date": pd.Timestamp("2026-01-10"), "ecog": 1,
           "ascites": None, "encephalopathy": None}
    row.update({k: (pd.Timestamp(v) if k in ("birth_date", "surgery_date", "enrolled_on") and v else v)
                for k, v in kw.items()})
    return row


UNITS = {"BILI": "umol/L", "ALB": "g/L", "INR": None}


def _labs(sid, day="2026-02-20", **values):
    vals = {**NORMAL_LABS, **values}
    return [(sid, pd.Timestamp(day), t, v, UNITS[t], None, None) for t, v in vals.items() if v is not None]


def _snapshot(patients, labs=None, treated=None) -> Snapshot:
    p = pd.DataFrame(patients)
    p["ecog"] = p["ecog"].astype("Int64")
    treated = treated if treated is not None else {sid: "2026-03-01" for sid in p["subject_id"]}
    tr = pd.DataFrame([(s, "RT", "concurrent", 1, pd.Timestamp(d), pd.Timestamp(d) + pd.Timedelta(days=30))
                       for s, d in treated.items()],
                      columns=["subject_id", "treatment", "phase", "cycle", "start_date", "end_date"])
    if labs is None:
        labs = [r for sid in p["subject_id"] for r in _labs(sid)]
    lab = pd.DataFrame(labs, columns=["subject_id", "collected_on", "test", "value", "unit", "lln", "uln"])
    ae = pd.DataFrame(columns=["subject_id", "ae_ref", "term", "grade", "onset_date", "end_date"])
    return Snapshot(DataCut(CUT), p, tr, ae, lab)


def _check(result, sid, check):
    row = result.table[(result.table["subject_id"] == sid) & (result.table["check"] == check)]
    assert len(row) == 1
    return row.iloc[0]


@pytest.fixture(scope="module")
def trial():
    return load_trial()


def test_age_edges_from_the_recorded_age(trial):
    pats = [_patient(f"A{a}", age=float(a)) for a in (18, 19, 79, 80)] + [_patient("ANONE", age=None)]
    r = compute_registration_checks(_snapshot(pats), trial)
    got = {sid: (_check(r, sid, "age")["value"], _check(r, sid, "age")["status"]) for sid in
           ("A18", "A19", "A79", "A80", "ANONE")}
    assert got == {"A18": ("18", OUTSIDE), "A19": ("19", OK), "A79": ("79", OK), "A80": ("80", OUTSIDE),
                   "ANONE": (None, UNKNOWN)}
    assert _check(r, "A18", "age")["reason"] == "18 years (as recorded) is not above 18 and below 80"
    assert _check(r, "ANONE", "age")["reason"] == "no age and no birth date recorded"


def test_age_from_the_birth_date_at_enrolment(trial):
    # enrolled 2026-02-15
    pats = [
        _patient("B18", age=None, birth_date="2008-02-15"),      # 18th birthday on the day: 18, outside
        _patient("B18h", age=None, birth_date="2007-08-15"),     # 18 and a half: 18 completed years, outside
        _patient("B19", age=None, birth_date="2007-02-15"),      # 19: ok
        _patient("B79", age=None, birth_date="1946-02-16"),      # 79 (80 the next day): ok
        _patient("B80", age=None, birth_date="1946-02-15"),      # 80: outside
        _patient("BDIFF", age=50.0, birth_date="1966-02-16"),    # 59 from the birth date, 50 recorded
    ]
    r = compute_registration_checks(_snapshot(pats), trial)
    got = {p["subject_id"]: (_check(r, p["subject_id"], "age")["value"], _check(r, p["subject_id"], "age")["status"])
           for p in pats}
    assert got == {"B18": ("18", OUTSIDE), "B18h": ("18", OUTSIDE), "B19": ("19", OK), "B79": ("79", OK),
                   "B80": ("80", OUTSIDE), "BDIFF": ("59", OK)}
    assert "the recorded age is 50: check it" in _check(r, "BDIFF", "age")["reason"]
    assert "from the birth date at enrolment" in _check(r, "B19", "age")["reason"]


def test_child_pugh_a5_b7_b8(trial):
    pats = [_patient(s) for s in ("CPA5", "CPB7", "CPB8", "CPA6")]
    labs = (_labs("CPA5")                                           # 1+1+1+1+1 = 5
            + _labs("CPB7", BILI=40.0, ALB=30.0)                    # 2+2+1+1+1 = 7
            + _labs("CPB8", BILI=40.0, ALB=30.0, INR=1.8)           # 2+2+2+1+1 = 8
            + _labs("CPA6", BILI=34.0))                             # 34 is in the middle band: 6
    r = compute_registration_checks(_snapshot(pats, labs), trial)
    got = {s: (_check(r, s, "child_pugh")["value"], _check(r, s, "child_pugh")["status"])
           for s in ("CPA5", "CPB7", "CPB8", "CPA6")}
    assert got == {"CPA5": ("A5", OK), "CPB7": ("B7", OK), "CPB8": ("B8", OUTSIDE), "CPA6": ("A6", OK)}
    reason = _check(r, "CPB8", "child_pugh")["reason"]
    assert reason.startswith("B8 (8 points) from bilirubin 40 µmol/L, albumin 30 g/L, INR 1.8 (labs of 2026-02-20)")
    assert "ascites none (assumed: not recorded)" in reason and "not allowed (allowed: A5, A6, B7)" in reason


def test_child_pugh_uses_recorded_ascites_and_the_last_post_operative_pre_treatment_labs(trial):
    pats = [_patient("ASC", ascites="mild"), _patient("ENC", encephalopathy="grade 3"),
            _patient("LATE"), _patient("PREOP"), _patient("NOINR"), _patient("BAD", ascites="lots")]
    labs = (_labs("ASC")                                                  # 5 + 1 (mild ascites) = A6
            + _labs("ENC")                                                # 5 + 2 = B7
            + _labs("LATE", day="2026-02-01", ALB=25.0) + _labs("LATE", day="2026-02-25")   # last one: A5
            + _labs("LATE", day="2026-03-01", ALB=20.0)                   # day 1 is not before treatment
            + _labs("PREOP", day="2026-01-05", BILI=60.0)                 # before surgery (2026-01-10): ignored
            + _labs("PREOP", day="2026-02-20", BILI=None)                 # no post-operative bilirubin
            + _labs("NOINR", INR=None)
            + _labs("BAD"))
    r = compute_registration_checks(_snapshot(pats, labs), trial)
    assert (_check(r, "ASC", "child_pugh")["value"], _check(r, "ASC", "child_pugh")["status"]) == ("A6", OK)
    assert "ascites mild" in _check(r, "ASC", "child_pugh")["reason"]
    assert (_check(r, "ENC", "child_pugh")["value"], _check(r, "ENC", "child_pugh")["status"]) == ("B7", OK)
    assert _check(r, "LATE", "child_pugh")["value"] == "A5"
    assert "labs of 2026-02-25" in _check(r, "LATE", "child_pugh")["reason"]
    pre = _check(r, "PREOP", "child_pugh")
    assert (pre["status"], pre["reason"]) == (UNKNOWN, "no bilirubin before the first treatment (after surgery)")
    assert _check(r, "NOINR", "child_pugh")["status"] == UNKNOWN
    assert "INR" in _check(r, "NOINR", "child_pugh")["reason"]
    bad = _check(r, "BAD", "child_pugh")
    assert bad["status"] == UNKNOWN and "ascites 'lots' not understood" in bad["reason"]


def test_child_pugh_day_one_labs_count_when_asked(trial):
    labs = _labs("D1", day="2026-02-20") + _labs("D1", day="2026-03-01", ALB=30.0, BILI=40.0)
    snap = _snapshot([_patient("D1")], labs)
    assert _check(compute_registration_checks(snap, trial), "D1", "child_pugh")["value"] == "A5"
    assert _check(compute_registration_checks(snap, trial, same_day_counts=True), "D1", "child_pugh")["value"] == "B7"


def test_ecog(trial):
    pats = [_patient("E2", ecog=2), _patient("E3", ecog=3), _patient("ENA", ecog=None)]
    r = compute_registration_checks(_snapshot(pats), trial)
    assert [(_check(r, s, "ecog")["value"], _check(r, s, "ecog")["status"]) for s in ("E2", "E3", "ENA")] == \
        [("2", OK), ("3", OUTSIDE), (None, UNKNOWN)]
    assert _check(r, "E3", "ecog")["reason"] == "ECOG 3 is above 2"


def test_surgery_to_treatment_121_vs_122_days(trial):
    # first treatment 2026-03-01: 2025-10-31 is 121 days before (Nov 30 + Dec 31 + Jan 31 + Feb 28 + 1)
    pats = [_patient("S121", surgery_date="2025-10-31"), _patient("S122", surgery_date="2025-10-30"),
            _patient("SNA", surgery_date=None),
            _patient("WAIT_LONG", surgery_date="2026-02-01"), _patient("WAIT", surgery_date="2026-06-01")]
    treated = {"S121": "2026-03-01", "S122": "2026-03-01", "SNA": "2026-03-01"}     # the others not yet
    labs = [r for s in ("S121", "S122", "SNA", "WAIT_LONG", "WAIT") for r in _labs(s, day="2026-06-10")]
    r = compute_registration_checks(_snapshot(pats, labs, treated=treated), trial)
    got = {s: (_check(r, s, "surgery_to_treatment")["value"], _check(r, s, "surgery_to_treatment")["status"])
           for s in ("S121", "S122", "SNA", "WAIT_LONG", "WAIT")}
    # cut 2026-06-30: 149 days since 2026-02-01 (already too late), 29 days since 2026-06-01
    assert got == {"S121": ("121", OK), "S122": ("122", OUTSIDE), "SNA": (None, UNKNOWN),
                   "WAIT_LONG": (None, OUTSIDE), "WAIT": (None, UNKNOWN)}
    assert _check(r, "S122", "surgery_to_treatment")["reason"] == \
        "surgery 2025-10-30 to first treatment 2026-03-01: 122 days, not less than 122"
    assert _check(r, "WAIT", "surgery_to_treatment")["reason"] == "not treated yet; 29 days since surgery so far"
    assert "149 days since surgery" in _check(r, "WAIT_LONG", "surgery_to_treatment")["reason"]
    # a patient not treated yet is checked on labs up to the cut
    assert _check(r, "WAIT", "child_pugh")["value"] == "A5"


def test_table_patients_and_summary(trial):
    pats = [_patient("OK1"), _patient("OUT", age=85.0), _patient("UNK", ecog=None)]
    r = compute_registration_checks(_snapshot(pats), trial)
    assert list(r.table.columns) == CHECK_COLUMNS and len(r.table) == 3 * 4
    assert r.table["check"].tolist()[:4] == ["age", "child_pugh", "ecog", "surgery_to_treatment"]
    assert r.patients["subject_id"].tolist() == ["OUT", "UNK", "OK1"]           # flags first
    assert r.patients["flag"].tolist() == [OUTSIDE, UNKNOWN, OK]
    s = r.summary
    assert (s["patients"], s["patients_outside"], s["patients_unknown_only"], s["patients_any_flag"],
            s["patients_ok"]) == (3, 1, 1, 2, 1)
    assert s["by_check"]["age"] == {OUTSIDE: 1, UNKNOWN: 0, OK: 2}


def test_without_labs_or_optional_columns(trial):
    snap = _snapshot([_patient("P1")])
    snap.labs = None
    snap.patients = snap.patients.drop(columns=["ascites", "encephalopathy", "ecog", "birth_date"])
    r = compute_registration_checks(snap, trial)
    assert _check(r, "P1", "child_pugh")["status"] == UNKNOWN
    assert _check(r, "P1", "ecog")["status"] == UNKNOWN
    assert _check(r, "P1", "age")["status"] == OK


def test_sample_trial_flags_the_two_late_starters(tmp_path, trial, store_files):
    from toxdb.store.cuts import load_snapshot
    from toxdb.store.db import Store

    s = Store(store_files.copy("sample", tmp_path / "sample.duckdb"))     # sample_data/ as seeded
    r = compute_registration_checks(load_snapshot(s, DataCut(dt.date(2026, 11, 16))), trial)
    s.close()
    late = r.table[(r.table["check"] == "surgery_to_treatment") & (r.table["status"] == OUTSIDE)]
    assert len(late) == 2                      # sample_data/README.md: two start more than 4 months after surgery
    assert r.summary["patients_outside"] == 2
    assert set(r.table.loc[r.table["check"] == "child_pugh", "status"]) == {OK}


@pytest.mark.app
def test_registration_checks_page(app_env):
    at = run_app(AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=90))
    at.switch_page("app/pages/eligibility.py")
    run_app(at)
    assert at.title[0].value == "Registration checks"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Outside protocol"] == "2"
    first = at.dataframe[0].value
    assert first["Overall"].iloc[0].endswith("outside protocol") and first["Overall"].iloc[1].endswith(
        "outside protocol")
    at.toggle(key="elig_only_flags").set_value(True)
    run_app(at)
    assert len(at.dataframe[0].value) == int(metrics["Outside protocol"]) + int(metrics["Something unknown"])
