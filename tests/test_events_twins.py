"""The pandas derivations (toxdb.clinical.events) and their DuckDB twins (toxdb.clinical.events_sql)
give the same answers on random small trials: the incidence tables, and the first qualifying rows
the stopping-boundary cohorts start from.

Trials are drawn by Hypothesis: a few patients with RT courses and chemotherapy cycles (phase given
or missing, end dates open or not), adverse events with grade changes, site event numbers, partial
onset dates, ongoing ends and attributions, and a random cut. Rows go straight into one store
through Store.commit_upload (validation is tested elsewhere); each trial has its own site, so the
comparison looks at that trial alone. Neither side is the expected answer: they are independent
implementations of the same rules (hand-worked cases are in test_derive.py / test_derive_sql.py).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import itertools

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toxdb.clinical.events import derive_snapshot_events
from toxdb.clinical.events_sql import compute_incidence_sql, read_first_qualifying_rows
from toxdb.clinical.incidence import compute_incidence
from toxdb.monitoring.cohorts import derive_monitoring_cohorts
from toxdb.store.cuts import DataCut, Snapshot, load_snapshot
from toxdb.store.db import Store
from toxdb.trial import load_trial
from toxdb.vocab import ATTRIBUTION_ORDER, CAPECITABINE, RT, S1

BASE = dt.date(2025, 1, 6)
WINDOW = 30
TERMS = [("Diarrhea", "Gastrointestinal disorders"), ("Nausea", "Gastrointestinal disorders"),
         ("Neutrophil count decreased", "Investigations"), ("Fatigue", None)]
GRADES_OF = {"Diarrhea": 4, "Nausea": 3, "Neutrophil count decreased": 4, "Fatigue": 3}
_trials = itertools.count(1)


def _day(offset: int) -> dt.date:
    return BASE + dt.timedelta(days=offset)


treatment_row = st.tuples(st.sampled_from([RT, CAPECITABINE, CAPECITABINE, S1]),
                          st.sampled_from(["concurrent", "maintenance", None]),
                          st.integers(0, 200), st.one_of(st.none(), st.integers(0, 60)))
ae_row = st.tuples(st.sampled_from(TERMS), st.integers(1, 4), st.integers(-40, 260),
                   st.one_of(st.none(), st.integers(0, 40)), st.sampled_from(["day", "day", "month", "year"]),
                   st.sampled_from([None, "A1", "A2"]), st.sampled_from([None, *ATTRIBUTION_ORDER]), st.booleans())
patient = st.tuples(st.lists(treatment_row, max_size=5), st.lists(ae_row, max_size=6))
trial_st = st.tuples(st.lists(patient, min_size=1, max_size=4), st.integers(20, 300))


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    s = Store(tmp_path_factory.mktemp("twins") / "twins.duckdb")
    yield s
    s.close()


def _commit(store: Store, kind: str, rows: pd.DataFrame, site: str) -> None:
    raw = f"{kind} {site}".encode()
    rows = rows.assign(record_key=[f"{site}-{kind}-{i}" for i in range(len(rows))],
                       source_row=range(1, len(rows) + 1))
    problems = pd.DataFrame(columns=["source_row", "status", "reasons", "raw"])
    store.commit_upload(kind=kind, file_name=f"{kind}.csv", raw=raw, sha256=hashlib.sha256(raw).hexdigest(),
                        uploaded_by="hypothesis", site=site, reader="test", day_first=None, mapping={},
                        rows=rows, problems=problems, n_rows=len(rows))


def _load(store: Store, patients) -> tuple[str, list[str]]:
    """Store one drawn trial under a new site; returns (site, subject ids)."""
    site = f"T{next(_trials)}"
    subjects = [f"{site}-P{i}" for i in range(len(patients))]
    pts, tx, ae = [], [], []
    for sid, (treatments, events) in zip(subjects, patients):
        pts.append({"subject_id": sid, "site": site, "enrolled_on": BASE})
        for k, (what, phase, start, length) in enumerate(treatments):
            tx.append({"subject_id": sid, "treatment": what, "phase": phase if what != RT else "concurrent",
                       "cycle": k + 1 if what != RT else None, "start_date": _day(start),
                       "end_date": None if length is None else _day(start + length)})
        for (term, soc), grade, onset, length, precision, ref, attribution, serious in events:
            day = _day(onset)
            day = day.replace(day=1) if precision == "month" else day.replace(month=1, day=1) \
                if precision == "year" else day
            ae.append({"subject_id": sid, "ae_ref": ref, "term": term, "soc": soc,
                       "grade": min(grade, GRADES_OF[term]), "onset_date": day, "onset_precision": precision,
                       "end_date": None if length is None else _day(onset + length), "serious": serious,
                       "attribution": attribution})
    _commit(store, "patients", pd.DataFrame(pts), site)
    if tx:
        _commit(store, "treatment", pd.DataFrame(tx), site)
    if ae:
        _commit(store, "ae", pd.DataFrame(ae), site)
    return site, subjects


def _only(snapshot: Snapshot, subjects: list[str], with_ae: bool = True) -> Snapshot:
    def keep(frame):
        return None if frame is None else frame[frame["subject_id"].astype(str).isin(subjects)].reset_index(drop=True)
    return Snapshot(snapshot.cut, keep(snapshot.patients), keep(snapshot.treatment),
                    keep(snapshot.adverse_events) if with_ae else None, None)


SETTINGS = settings(deadline=None, derandomize=True,                # examples: conftest profile
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                           HealthCheck.data_too_large])
FILTERS = st.sampled_from([{}, {"serious_only": True}, {"attribution": ["possible", "probable"]}])
MONITORING = st.tuples(st.integers(1, 4), st.sampled_from([[], ["probable", "definite"], ["unrelated"]]))


def _trial(grade_min: int, attributions: list[str]):
    t = load_trial()
    return t.model_copy(update={"monitoring": t.monitoring.model_copy(
        update={"grade_min": grade_min, "attributions": attributions})})


def _assert_incidence_agrees(store: Store, cut: DataCut, site: str, full: Snapshot, filters: dict) -> None:
    got = compute_incidence_sql(store, cut, WINDOW, sites=[site], **filters)
    d = derive_snapshot_events(full, WINDOW)
    want = compute_incidence(d.events, d.milestones, patients=d.patients, window_days=WINDOW, sites=[site], **filters)
    pd.testing.assert_frame_equal(got.table, want.table)
    assert got.summary == want.summary


def _assert_cohorts_agree(store: Store, cut: DataCut, subjects: list[str], full: Snapshot, rules) -> None:
    """The cohorts built from DuckDB's first qualifying rows equal those built from every AE row in
    pandas (the monitor's two paths to the same cohorts)."""
    firsts = read_first_qualifying_rows(store, cut, WINDOW, rules.monitoring)
    firsts = firsts[firsts["subject_id"].isin(subjects)].reset_index(drop=True)
    got = derive_monitoring_cohorts(_only(full, subjects, with_ae=False), rules, events=firsts)
    want = derive_monitoring_cohorts(full, rules)
    for cohort in want:
        pd.testing.assert_frame_equal(got[cohort].reset_index(drop=True), want[cohort].reset_index(drop=True))


@SETTINGS
@given(trial=trial_st, filters=FILTERS, monitoring=MONITORING)
def test_pandas_and_duckdb_agree_on_random_trials(store, trial, filters, monitoring):
    patients, cut_offset = trial
    site, subjects = _load(store, patients)
    cut = DataCut(_day(cut_offset))
    full = _only(load_snapshot(store, cut, with_labs=False), subjects)
    _assert_incidence_agrees(store, cut, site, full, filters)
    _assert_cohorts_agree(store, cut, subjects, full, _trial(*monitoring))


def test_an_uncoded_soc_read_from_the_store_is_counted(store):
    # found by the comparison above: the store hands SOC back as a categorical, and an event without
    # one broke the pandas table (its "(SOC not coded)" row was not a category)
    site, subjects = _load(store, [([(CAPECITABINE, "concurrent", 0, 13)],
                                    [(("Fatigue", None), 2, 3, 4, "day", None, "possible", False)])])
    cut = DataCut(_day(30))
    full = _only(load_snapshot(store, cut, with_labs=False), subjects)
    _assert_incidence_agrees(store, cut, site, full, {})
    d = derive_snapshot_events(full, WINDOW)
    table = compute_incidence(d.events, d.milestones, patients=d.patients, window_days=WINDOW).table
    row = table[(table["phase"] == "concurrent") & (table["level"] == "soc")].iloc[0]
    assert (row["soc"], row["n_g2"], row["at_risk"]) == ("(SOC not coded)", 1, 1)
