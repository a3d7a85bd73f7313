"""This week: what is new since the reference and what needs doing. Expected items written out by
hand from the uploads below (the conftest trial stored on 1 August, then a week of changes)."""
import datetime as dt

import pandas as pd
import pytest
from diff_support import T1, load_at, load_base

from toxdb.reports.week import compute_due, compute_week, reference_from_review
from toxdb.store.cuts import DataCut
from toxdb.store.db import Store
from toxdb.trial import load_trial

T2 = dt.datetime(2025, 8, 5, 10, 0)
REF = DataCut(dt.date(2025, 8, 1), dt.datetime(2025, 8, 1, 12, 0))
NOW = DataCut(dt.date(2025, 8, 6), dt.datetime(2025, 8, 6, 12, 0))

AE_WEEK = """subject_id,ae_ref,term,grade,onset_date,end_date,serious,attribution
P-001,AE-1,Diarrhea,3,2025-06-25,2025-06-30,Y,probable
P-001,AE-2,Nausea,2,2025-07-02,,N,possible
P-002,AE-2,Vomiting,1,2025-08-03,,N,possible
P-003,AE-1,Fatigue,1,2025-08-02,,N,unlikely
"""
# P-001's nausea (AE-2, grade 1 from 20 June) is recorded again at grade 2 from 2 July: a new row of a
# known event. P-001's diarrhoea is corrected from grade 2 to 3 and now serious. P-003 died on 4 August.
DEATH = """subject_id,site,enrolled_on,sex,age,height_cm,weight_kg,serum_creatinine,serum_creatinine_unit,agent,death_on
P-003,SITE-B,2025-07-15,F,68,160,58,1.1,mg/dL,S-1,2025-08-04
"""


@pytest.fixture(scope="module")
def week(tmp_path_factory, store_files):
    """Computed once for the tests that only read it."""
    with Store(store_files.copy("empty", tmp_path_factory.mktemp("week") / "t.duckdb")) as store:
        load_base(store, T1)
        load_at(store, AE_WEEK, "ae_week.csv", "ae", T2)
        load_at(store, DEATH, "death.csv", "patients", T2)
        return compute_week(store, REF, NOW, load_trial())


def test_grade_changes_of_known_events_upgrades_first(week):
    g = week.sections["grade_changes"]
    assert list(zip(g["subject_id"], g["term"], g["old_grade"], g["grade"], g["change"])) == [
        ("P-001", "Diarrhea", 2, 3, "upgrade"), ("P-001", "Nausea", 1, 2, "upgrade")]
    assert set(g["site"]) == {"SITE-A"}


def test_new_events_are_those_of_no_known_event(week):
    n = week.sections["new_aes"]
    assert sorted(zip(n["subject_id"], n["term"], n["grade"])) == [("P-002", "Vomiting", 1), ("P-003", "Fatigue", 1)]


def test_new_serious_events_deaths_and_grade_3(week):
    s = week.sections["serious"]
    assert sorted(zip(s["subject_id"], s["what"])) == [("P-001", "now serious"), ("P-003", "death recorded")]
    g3 = week.sections["grade3"]
    assert list(zip(g3["subject_id"], g3["term"], g3["grade"])) == [("P-001", "Diarrhea", 3)]


def test_new_data_by_site(week):
    by = week.by_site.set_index("site")
    # SITE-A: P-001 nausea row and P-002 vomiting added, P-001 diarrhoea corrected; SITE-B: P-003
    assert by.loc["SITE-A", "ae added"] == 2 and by.loc["SITE-A", "ae corrected"] == 1
    assert by.loc["SITE-B", "ae added"] == 1 and by.loc["SITE-B", "patients corrected"] == 1
    assert by["uploads"].sum() == 2             # the two uploads of 5 August, none of 1 August


def test_a_cycle_due_within_seven_days(week):
    status = pd.DataFrame({"subject_id": ["A", "B", "C", "D"], "on_chemo": [True, True, True, False],
                           "agent": ["capecitabine"] * 4,
                           "cycle_start": pd.to_datetime(["2025-07-20", "2025-07-10", "2025-07-28", "2025-07-20"])})
    treatment = pd.DataFrame({"subject_id": ["A", "B", "C", "D"], "treatment": ["capecitabine"] * 4,
                              "start_date": status["cycle_start"]})
    # cut 8 August, cycles of 21 days: A due 10 Aug (in), B due 31 Jul (past), C due 18 Aug (after 15 Aug),
    # D not on chemotherapy
    due = compute_due(status, treatment, dt.date(2025, 8, 8), load_trial().phases, 7)
    assert due["subject_id"].tolist() == ["A"] and due["next_cycle"].tolist() == [pd.Timestamp("2025-08-10")]


def test_the_default_reference_is_the_last_review_else_a_week_ago():
    at = dt.datetime(2025, 8, 4, 9, 30, 12, 5)
    assert reference_from_review(at, dt.date(2025, 8, 6)) == DataCut(dt.date(2025, 8, 4),
                                                                       dt.datetime(2025, 8, 4, 9, 30, 12))
    assert reference_from_review(None, dt.date(2025, 8, 6)) == DataCut(dt.date(2025, 7, 30),
                                                                         dt.datetime(2025, 7, 30, 23, 59, 59))
