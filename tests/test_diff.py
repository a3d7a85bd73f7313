"""Comparing two data cuts: added, corrected (old -> new per column), withdrawn, and a correction
that was reverted. Expected changes are written out by hand from the uploads in each test."""
import datetime as dt

import pandas as pd
import pytest
from diff_support import T1, load_at, load_base

from toxdb.reports.diff import compute_cut_diff, diff_cuts, format_value
from toxdb.store.cuts import DataCut, UnknownCut, resolve_cut
from toxdb.store.db import Store

T2 = dt.datetime(2025, 8, 5, 10, 0)
T3 = dt.datetime(2025, 8, 10, 10, 0)
CUT_A = DataCut(dt.date(2025, 8, 1), dt.datetime(2025, 8, 1, 12, 0))
CUT_B = DataCut(dt.date(2025, 8, 6), dt.datetime(2025, 8, 6, 12, 0))
CUT_C = DataCut(dt.date(2025, 8, 12), dt.datetime(2025, 8, 12, 12, 0))

AE_WEEK2 = """subject_id,ae_ref,term,grade,onset_date,end_date,serious,attribution
P-001,AE-1,Diarrhea,3,2025-06-25,2025-07-04,N,probable
P-002,AE-2,Vomiting,1,2025-08-03,,N,possible
"""
AE_WEEK3_REVERT = """subject_id,ae_ref,term,grade,onset_date,end_date,serious,attribution
P-001,AE-1,Diarrhea,2,2025-06-25,2025-06-30,N,probable
"""
PATIENT_NEW = """subject_id,site,enrolled_on,sex,age,height_cm,weight_kg,serum_creatinine,serum_creatinine_unit,agent
P-004,SITE-B,2025-08-04,M,49,175,80,1.0,mg/dL,capecitabine
"""
# cycle 2's start was keyed in as 17 August instead of 7 July: after cut B's date, so out of that cut
TREATMENT_TYPO = """subject_id,treatment,phase,cycle,start_date,end_date,dose,dose_unit,fractions
P-001,capecitabine,concurrent,2,2025-08-17,2025-08-30,1600,mg/m2/day,
"""


def _three_weeks(store):
    load_base(store, T1)
    load_at(store, AE_WEEK2, "ae_week2.csv", "ae", T2)
    load_at(store, PATIENT_NEW, "p_week2.csv", "patients", T2)
    load_at(store, TREATMENT_TYPO, "tr_week2.csv", "treatment", T2)
    load_at(store, AE_WEEK3_REVERT, "ae_week3.csv", "ae", T3)


@pytest.fixture
def weeks(store_files, tmp_path):
    """The three weeks of uploads above, in a store of the test's own (loaded once per process)."""
    s = Store(store_files.copy_built("diff-three-weeks", _three_weeks, tmp_path / "t.duckdb"))
    yield s
    s.close()


def changes(diff, **where):
    t = diff.table
    for k, v in where.items():
        t = t[t[k] == v]
    return sorted(map(tuple, t[["table", "subject_id", "record", "change", "column", "old", "new"]].to_numpy()))


def test_additions_corrections_and_withdrawals_between_two_cuts(weeks):
    d = diff_cuts(weeks, CUT_A, CUT_B)
    assert changes(d) == sorted([
        ("ae", "P-002", "P-002|ref:AE-2|2025-08-03", "added", "", "", ""),
        ("ae", "P-001", "P-001|ref:AE-1|2025-06-25", "corrected", "grade", "2", "3"),
        ("ae", "P-001", "P-001|ref:AE-1|2025-06-25", "corrected", "end_date", "2025-06-30", "2025-07-04"),
        ("patients", "P-004", "P-004", "added", "", "", ""),
        ("treatment", "P-001", "P-001|capecitabine|c2", "withdrawn", "", "", ""),
    ])
    s = d.summary.set_index("table")
    assert s.loc["ae"].tolist() == [1, 1, 0]
    assert s.loc["patients"].tolist() == [1, 0, 0]
    assert s.loc["treatment"].tolist() == [0, 0, 1]
    assert s.loc["labs"].tolist() == [0, 0, 0]


def test_the_rows_of_a_correction_carry_new_and_old_values(weeks):
    rows = diff_cuts(weeks, CUT_A, CUT_B).rows["ae"]
    fixed = rows[rows["change"] == "corrected"].iloc[0]
    assert fixed["grade"] == 3 and fixed["old_grade"] == 2
    assert fixed["changed_columns"] == "grade, end_date"
    assert rows["change"].tolist() == ["added", "corrected"]      # added first, then corrected


def test_a_reverted_correction_is_no_change_across_it_but_a_change_after_it(weeks):
    across = diff_cuts(weeks, CUT_A, CUT_C)
    assert changes(across, table="ae") == [("ae", "P-002", "P-002|ref:AE-2|2025-08-03", "added", "", "", "")]
    after = diff_cuts(weeks, CUT_B, CUT_C)
    assert changes(after, table="ae") == sorted([
        ("ae", "P-001", "P-001|ref:AE-1|2025-06-25", "corrected", "grade", "3", "2"),
        ("ae", "P-001", "P-001|ref:AE-1|2025-06-25", "corrected", "end_date", "2025-07-04", "2025-06-30"),
    ])


def test_comparing_backwards_swaps_added_and_withdrawn(weeks):
    d = diff_cuts(weeks, CUT_B, CUT_A)
    assert set(changes(d, change="withdrawn")) == {
        ("ae", "P-002", "P-002|ref:AE-2|2025-08-03", "withdrawn", "", "", ""),
        ("patients", "P-004", "P-004", "withdrawn", "", "", "")}
    assert changes(d, change="added") == [("treatment", "P-001", "P-001|capecitabine|c2", "added", "", "", "")]


def test_the_same_cut_twice_has_no_changes(weeks):
    d = diff_cuts(weeks, CUT_B, CUT_B)
    assert d.table.empty and d.summary[["added", "corrected", "withdrawn"]].to_numpy().sum() == 0


def test_a_later_cut_date_with_the_same_data_adds_events_whose_onset_it_now_covers(weeks):
    # data frozen at the same moment; only the clinical date moves from 2 to 4 August
    early = DataCut(dt.date(2025, 8, 2), CUT_C.frozen_at)
    late = DataCut(dt.date(2025, 8, 4), CUT_C.frozen_at)
    d = diff_cuts(weeks, early, late)
    assert changes(d) == sorted([("ae", "P-002", "P-002|ref:AE-2|2025-08-03", "added", "", "", ""),
                                 ("patients", "P-004", "P-004", "added", "", "", "")])


def test_a_cut_is_a_saved_name_or_a_date_with_the_data_stored_by_the_end_of_that_day(weeks):
    weeks.save_data_cut("DSMB-1", dt.date(2025, 8, 1), "dm")
    saved = resolve_cut(weeks, "DSMB-1")
    assert saved.name == "DSMB-1" and saved.cut_date == dt.date(2025, 8, 1)
    day = resolve_cut(weeks, "2025-08-05", today=dt.date(2025, 9, 1))
    assert day == DataCut(dt.date(2025, 8, 5), dt.datetime(2025, 8, 5, 23, 59, 59))
    assert resolve_cut(weeks, "2025-09-01", today=dt.date(2025, 9, 1)).frozen_at is None   # today: live
    with pytest.raises(UnknownCut, match="DSMB-1"):
        resolve_cut(weeks, "DSMB-2")
    with pytest.raises(UnknownCut, match="future"):
        resolve_cut(weeks, "2025-09-02", today=dt.date(2025, 9, 1))


def test_dates_as_cuts_see_what_was_stored_by_then(weeks):
    d = diff_cuts(weeks, resolve_cut(weeks, "2025-08-01"), resolve_cut(weeks, "2025-08-06"))
    assert changes(d) == changes(diff_cuts(weeks, CUT_A, CUT_B))


def test_compute_cut_diff_from_hand_made_rows():
    frame = pd.DataFrame({
        "side": ["a", "b", "a", "b", "b"],
        "record_key": ["L1", "L1", "L2", "L2", "L3"],
        "version": [1, 2, 1, 2, 1], "upload_id": [1, 2, 1, 2, 2],
        "valid_from": pd.to_datetime(["2025-01-01"] * 5), "row_hash": [1, 2, 3, 3, 4],
        "subject_id": ["S1", "S1", "S2", "S2", "S3"],
        "value": [1.5, 2.0, 7.0, 7.0, None], "unit": ["g/L", "g/L", None, None, "x"],
    })
    d = compute_cut_diff({"labs": frame})
    assert changes(d) == sorted([("labs", "S1", "L1", "corrected", "value", "1.5", "2"),
                                 ("labs", "S3", "L3", "added", "", "", "")])


@pytest.mark.parametrize("value, text", [(None, ""), (float("nan"), ""), (3.0, "3"), (2.5, "2.5"),
                                         (pd.Timestamp("2025-06-30"), "2025-06-30"), (True, "true"), ("x", "x")])
def test_format_value(value, text):
    assert format_value(value) == text


def test_an_upload_in_the_same_second_as_a_saved_cut_is_a_change_after_it(weeks, tmp_path):
    """A saved cut holds an upload number (D41): an upload stored after it, even in the very second
    it was saved, is not in the cut, so comparing the cut with today shows it as added (before, the
    comparison read the cut by its save time and missed it). The cut's time is set an hour ahead so
    that the test does not depend on which second the import lands in."""
    from conftest import write

    from toxdb.ingest.upload import import_paths

    today = dt.date(2025, 8, 20)
    last = int(weeks.uploads()["upload_id"].max())
    saved = DataCut(today, dt.datetime.now().replace(microsecond=0) + dt.timedelta(hours=1), "Meeting", last)
    text = ("subject_id,ae_ref,term,grade,onset_date,end_date,serious,attribution\n"
            "P-002,AE-9,Fatigue,2,2025-08-15,,N,possible\n")
    (outcome,) = import_paths(weeks, [write(tmp_path / "same_second.csv", text)], "site", kind="ae")
    assert outcome.counts.accepted == 1
    diff = diff_cuts(weeks, saved, DataCut(today))
    assert changes(diff, change="added") == [("ae", "P-002", "P-002|ref:AE-9|2025-08-15", "added", "", "", "")]
    assert changes(diff_cuts(weeks, saved, saved)) == []
