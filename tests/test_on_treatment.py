"""One rule, one place (D10): the Overview, the Patient page (course summary and swimmer plot) and the
dose advice agree on who is on treatment at a cut, on the sample trial and on hand-built edge cases.

Every expected status below is worked by hand from the rule (docs/decisions.md D10) with the sample
trial file's numbers: cycles of 21 days, 30 days of window after a cycle, 2 + 6 planned cycles.
"""
from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from toxdb.clinical.course import compute_patient_course, compute_swimmer_lanes
from toxdb.clinical.treatment import derive_treatment_status
from toxdb.dosing.advice import compute_snapshot_advice
from toxdb.reports.overview import compute_overview, derive_patient_status
from toxdb.store.cuts import DataCut, Snapshot, load_snapshot
from toxdb.trial import load_trial

TRIAL = load_trial()


def _who_is_on(snapshot: Snapshot, course_for=None) -> dict[str, set[str]]:
    """The patients each view shows as on treatment. The Patient page's course is built one patient
    at a time: ``course_for`` limits it (default: every patient) and "patient" then covers only them."""
    overview = derive_patient_status(snapshot, TRIAL.phases)
    lanes = compute_swimmer_lanes(snapshot, TRIAL).table
    advice = compute_snapshot_advice(snapshot, TRIAL).table
    views = {
        "overview": set(overview.loc[overview["on_treatment"], "subject_id"]),
        "swimmer": set(lanes.loc[lanes["on_treatment_at_cut"].astype(bool), "subject_id"]),
        "dose advice": set(advice["subject_id"]),
    }
    # the Overview's count is the same set, counted
    assert compute_overview(snapshot, TRIAL.phases).summary["on_treatment"] == len(views["overview"])
    subjects = list(snapshot.patients["subject_id"]) if course_for is None else sorted(course_for)
    views["patient"] = {sid for sid in subjects if compute_patient_course(snapshot, sid, TRIAL).summary["on_treatment"]}
    return views


def _assert_agree(views: dict[str, set[str]], expected: set[str]) -> None:
    for name, got in views.items():
        assert got == expected, f"{name}: {sorted(got)} (expected {sorted(expected)})"


# ------------------------------------------------------------------------------------------------
# the sample trial
# ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sample_store(tmp_path_factory, store_files):
    from toxdb.store.db import Store

    store = Store(store_files.copy("sample", tmp_path_factory.mktemp("sample") / "sample.duckdb"))
    yield store
    store.close()


@pytest.mark.parametrize("cut, on, off", [
    # ICC-01-010: concurrent cycle 2 from 23 Feb to 8 Mar 2026 (nominal end 15 Mar), maintenance
    # from 6 Apr: waiting for maintenance on 31 Mar is still on treatment (15 Mar + 30 days = 14 Apr)
    (dt.date(2026, 3, 31), {"ICC-01-010", "ICC-01-012"}, set()),
    # ICC-04-007: last cycle 17 to 30 Oct 2026 (nominal end 6 Nov), no next one: on until 6 Nov +
    # 30 days = 6 Dec, off on 7 Dec. ICC-04-005: last cycle 25 Oct to 7 Nov (nominal end 14 Nov):
    # on until 14 Dec
    (dt.date(2026, 12, 2), {"ICC-04-007", "ICC-04-005"}, set()),
    (dt.date(2026, 12, 7), {"ICC-04-005"}, {"ICC-04-007"}),
    # ICC-02-007 completed its 8th cycle on 7 May 2026 and went off treatment ("completed") that day
    (dt.date(2026, 5, 8), set(), {"ICC-02-007"}),
])
def test_sample_trial_views_agree(sample_store, cut, on, off):
    snapshot = load_snapshot(sample_store, DataCut(cut))
    views = _who_is_on(snapshot, course_for=on | off)
    patient = views.pop("patient")
    reference = views["dose advice"]
    _assert_agree(views, reference)
    assert on <= reference and not (off & reference)
    assert patient == on                                     # the Patient page, for the patients named


# ------------------------------------------------------------------------------------------------
# edge cases built by hand (cut 21 Oct 2025)
# ------------------------------------------------------------------------------------------------
CUT = dt.date(2025, 10, 21)
PATIENT_COLUMNS = ["subject_id", "site", "enrolled_on", "sex", "age", "height_cm", "weight_kg", "serum_creatinine",
                   "serum_creatinine_unit", "agent", "off_treatment_on", "off_treatment_reason", "death_on"]


def _cycles(sid: str, first: str, n: int, length: int = 14, every: int = 21, agent: str = "capecitabine"):
    start = pd.Timestamp(first)
    return [(sid, agent, "concurrent" if i < 2 else "maintenance", i + 1, start + pd.Timedelta(days=every * i),
             start + pd.Timedelta(days=every * i + length - 1)) for i in range(n)]


# subject: (treatment rows, off_treatment_on, death_on, on treatment at 21 Oct 2025?)
CASES = {
    # one cycle 1-14 Sep: nominal end 21 Sep, window to 21 Oct = the cut: still on
    "WINDOW-LAST-DAY": ([("WINDOW-LAST-DAY", "capecitabine", "concurrent", 1, "2025-09-01", "2025-09-14")],
                        None, None, True),
    # one day earlier: window to 20 Oct, the cut is past it
    "WINDOW-PASSED": ([("WINDOW-PASSED", "capecitabine", "concurrent", 1, "2025-08-31", "2025-09-13")],
                      None, None, False),
    # a cycle recorded to 25 Sep (later than its nominal end 9 Sep): the window runs from 25 Sep
    "LONG-CYCLE": ([("LONG-CYCLE", "capecitabine", "concurrent", 1, "2025-08-20", "2025-09-25")], None, None, True),
    # no end date: open to the cut
    "OPEN-CYCLE": ([("OPEN-CYCLE", "capecitabine", "maintenance", 3, "2025-06-01", None)], None, None, True),
    "OFF-ON-CUT": ([("OFF-ON-CUT", "capecitabine", "maintenance", 3, "2025-10-01", None)], "2025-10-21", None, False),
    "OFF-AFTER-CUT": ([("OFF-AFTER-CUT", "capecitabine", "maintenance", 3, "2025-10-01", None)], "2025-10-22", None,
                      True),
    "DIED-ON-CUT": ([("DIED-ON-CUT", "S-1", "maintenance", 3, "2025-10-01", None)], None, "2025-10-21", False),
    # 8 cycles from 21 Apr, 21 days apart: the 8th from 15 Sep to 28 Sep, nominal end 5 Oct: all given and
    # over, so off (though still inside the 30-day window)
    "COMPLETED": (_cycles("COMPLETED", "2025-04-21", 8), None, None, False),
    # 8 cycles from 16 May: the 8th from 10 Oct to 23 Oct is running at the cut
    "EIGHTH-RUNNING": (_cycles("EIGHTH-RUNNING", "2025-05-16", 8), None, None, True),
    "RT-ENDS-ON-CUT": ([("RT-ENDS-ON-CUT", "RT", "concurrent", None, "2025-09-15", "2025-10-21")], None, None, True),
    "RT-ENDED": ([("RT-ENDED", "RT", "concurrent", None, "2025-09-15", "2025-10-20")], None, None, False),
    # the patient table names an agent but the log has no row for the patient: not on treatment
    "AGENT-ONLY": ([], None, None, False),
    # a cycle that starts after the cut does not exist at the cut
    "STARTS-LATER": ([("STARTS-LATER", "capecitabine", "concurrent", 1, "2025-10-22", "2025-11-04")], None, None,
                     False),
}


def _edge_snapshot() -> Snapshot:
    patients = pd.DataFrame([(sid, "SITE-A", "2025-05-01", "M", 60, 170, 70, 0.9, "mg/dL", "capecitabine", off,
                              "toxicity" if off else None, died) for sid, (_, off, died, _) in CASES.items()],
                            columns=PATIENT_COLUMNS)
    for c in ("enrolled_on", "off_treatment_on", "death_on"):
        patients[c] = pd.to_datetime(patients[c])
    rows = [r for rows, *_ in CASES.values() for r in rows]
    treatment = pd.DataFrame(rows, columns=["subject_id", "treatment", "phase", "cycle", "start_date", "end_date"])
    for c in ("start_date", "end_date"):
        treatment[c] = pd.to_datetime(treatment[c])
    treatment = treatment[treatment["start_date"] <= pd.Timestamp(CUT)].reset_index(drop=True)   # as a cut reads it
    treatment = treatment.assign(dose=None, dose_unit=None, fractions=None)
    ae = pd.DataFrame({"subject_id": pd.Series(dtype=str), "ae_ref": pd.Series(dtype=str),
                       "term": pd.Series(dtype=str), "soc": pd.Series(dtype=str), "grade": pd.Series(dtype="int64"),
                       "onset_date": pd.Series(dtype="datetime64[ns]"), "end_date": pd.Series(dtype="datetime64[ns]"),
                       "serious": pd.Series(dtype=bool), "attribution": pd.Series(dtype=str)})
    return Snapshot(DataCut(CUT), patients, treatment, ae, None)


def test_edge_cases_worked_by_hand():
    expected = {sid for sid, (*_, on) in CASES.items() if on}
    snapshot = _edge_snapshot()
    _assert_agree(_who_is_on(snapshot), expected)


def test_the_status_explains_a_stale_cycle():
    snapshot = _edge_snapshot()
    status = derive_treatment_status(snapshot.patients, snapshot.treatment, CUT, TRIAL.phases).set_index("subject_id")
    assert any("no chemotherapy cycle since 2025-08-31" in n for n in status.loc["WINDOW-PASSED", "notes"])
    assert status.loc["COMPLETED", "notes"] == []            # completed: nothing to record
    assert not status.loc["AGENT-ONLY", "started"] and status.loc["COMPLETED", "started"]


def test_a_patient_status_does_not_depend_on_other_patients():
    snapshot = _edge_snapshot()
    alone = derive_treatment_status(snapshot.patients[snapshot.patients["subject_id"] == "AGENT-ONLY"],
                                    snapshot.treatment.iloc[0:0], CUT, TRIAL.phases)
    assert not alone["on_treatment"].iloc[0]               # no log at all: still not on treatment
