"""toxdb.clinical.events_sql against toxdb.clinical.events: the DuckDB answers must equal the pandas ones, row for row.

The pandas derivation has its own hand-worked tests (test_derive.py); here it is the independent
method. A small trial with the awkward cases written out below is also checked against counts worked
by hand from the spec, so that the two cannot agree on a wrong answer there.
"""
from __future__ import annotations

import datetime as dt
import time

import pandas as pd
import pytest
from conftest import PATIENTS_CSV, write

from toxdb.clinical.events import derive_snapshot_events
from toxdb.clinical.events_sql import compute_incidence_sql, read_first_qualifying_rows
from toxdb.clinical.incidence import compute_incidence
from toxdb.ingest.upload import import_paths
from toxdb.monitoring.cohorts import derive_monitoring_cohorts
from toxdb.monitoring.status import compute_boundary_alerts
from toxdb.store.cuts import DataCut, load_snapshot
from toxdb.trial import load_trial

WINDOW = 30

# P-001: RT + capecitabine (concurrent to 2025-07-20), capecitabine maintenance 2025-08-11 .. 09-14
# P-002: no treatment at all.  P-003: RT + capecitabine, then S-1 maintenance 2025-09-01 .. 09-28
TREATMENT = """subject_id,treatment,phase,cycle,start_date,end_date,dose,dose_unit,fractions
P-001,RT,concurrent,,2025-06-16,2025-07-18,56,Gy,25
P-001,capecitabine,concurrent,1,2025-06-16,2025-06-29,1600,mg/m2/day,
P-001,capecitabine,concurrent,2,2025-07-07,2025-07-20,1600,mg/m2/day,
P-001,capecitabine,maintenance,3,2025-08-11,2025-08-24,2000,mg/m2/day,
P-001,capecitabine,maintenance,4,2025-09-01,2025-09-14,2000,mg/m2/day,
P-003,RT,concurrent,,2025-07-01,2025-08-04,56,Gy,25
P-003,capecitabine,concurrent,1,2025-07-01,2025-07-14,1600,mg/m2/day,
P-003,S-1,maintenance,2,2025-09-01,2025-09-28,80,mg,
"""

AE = """subject_id,ae_ref,term,grade,onset_date,end_date,serious,attribution
P-001,,Nausea,1,2025-06-20,2025-06-25,N,possible
P-001,,Nausea,2,2025-06-26,2025-07-01,N,probable
P-001,,Nausea,3,2025-07-10,,Y,possible
P-001,,Nausea,1,2025-08-20,2025-08-25,N,unlikely
P-001,,Diarrhea,2,2025-06,2025-06-30,N,possible
P-001,AE-9,Fatigue,1,2025-06-01,2025-06-10,N,unrelated
P-001,AE-9,Fatigue,2,2025-07-01,2025-07-05,N,possible
P-001,,Anemia,2,2025-06-05,2025-06-12,N,
P-001,,Dermatitis radiation,1,2025-12-20,2025-12-25,N,possible
P-001,,Palmar-plantar erythrodysesthesia syndrome,3,2025-08-30,2025-09-10,N,definite
P-002,,Nausea,2,2025-07-01,2025-07-03,N,possible
P-003,,Palmar-plantar erythrodysesthesia syndrome,2,2025-09-10,2025-09-20,N,probable
P-003,,Neutrophil count decreased,4,2025-07-20,2025-07-25,Y,possible
P-003,AE-1,Diarrhea,1,2025,2025-07-02,N,
"""


def _load(store, tmp_path, ae_text: str = AE):
    files = [write(tmp_path / "patients.csv", PATIENTS_CSV), write(tmp_path / "treatment.csv", TREATMENT),
             write(tmp_path / "ae.csv", ae_text)]
    outcomes = import_paths(store, files, "tester")
    assert all(o.counts is not None and o.counts.rejected == 0 for o in outcomes), [o.message for o in outcomes]
    return store


def _pandas_incidence(store, cut, derived=None, **filters):
    d = derived or derive_snapshot_events(load_snapshot(store, cut, with_labs=False), WINDOW)
    return compute_incidence(d.events, d.milestones, patients=d.patients, window_days=WINDOW, **filters)


def _assert_same_incidence(store, cut, derived=None, **filters):
    """``derived``: the pandas derivation of this store at this cut when already made (read-only stores)."""
    got = compute_incidence_sql(store, cut, WINDOW, **filters)
    want = _pandas_incidence(store, cut, derived, **filters)
    pd.testing.assert_frame_equal(got.table, want.table)
    assert got.summary == want.summary
    return got


def _row(result, phase, level="any", term=None):
    t = result.table
    sel = (t["phase"] == phase) & (t["level"] == level)
    if term is not None:
        sel &= t["term"] == term
    assert sel.sum() == 1, t[sel]
    return t[sel].iloc[0]


FILTERS = [{}, {"serious_only": True}, {"attribution": ["definite"]}, {"attribution": ["possible", "probable"]},
           {"sites": ["SITE-A"]}, {"sites": ["SITE-B"], "serious_only": True}]


@pytest.mark.parametrize("filters", FILTERS)
def test_edge_trial_sql_equals_pandas(store, tmp_path, filters):
    _load(store, tmp_path)
    _assert_same_incidence(store, DataCut(dt.date(2026, 11, 16)), **filters)


def test_edge_trial_counts_worked_by_hand(store, tmp_path):
    _load(store, tmp_path)
    res = _assert_same_incidence(store, DataCut(dt.date(2026, 11, 16)))
    # treatment-emergent events: P-001 Nausea (rows 1-2, contiguous: worst 2), Nausea (rows 3-4: the
    # August row starts while the July row is still ongoing: worst 3, serious), Diarrhea (onset "2025-06"
    # imputed to the first treatment), Fatigue AE-9 (began before treatment, worsened to 2 on treatment),
    # hand-foot syndrome 3 (maintenance); P-003 hand-foot 2 (maintenance), neutrophils 4 (concurrent),
    # Diarrhea AE-1 (onset "2025" imputed to the first treatment). Not counted: Anemia (before
    # treatment), radiation dermatitis (more than 30 days after the last dose), P-002 (never treated).
    assert res.summary["events"] == 8
    assert res.summary["at_risk"] == {"concurrent": 2, "maintenance": 2, "all": 2}
    conc = _row(res, "concurrent")
    assert (conc["n_g1"], conc["n_g2"], conc["n_g3"], conc["n_g4"], conc["n_ge3"], conc["n_any"]) == (0, 0, 1, 1, 2, 2)
    maint = _row(res, "maintenance")
    assert (maint["n_g2"], maint["n_g3"], maint["n_any"]) == (1, 1, 2)
    nausea = _row(res, "concurrent", "term", "Nausea")
    assert (nausea["n_g3"], nausea["n_any"]) == (1, 1)          # P-001 once, at the worst of two events
    fatigue = _row(res, "concurrent", "term", "Fatigue")
    assert (fatigue["n_g2"], fatigue["n_any"]) == (1, 1)        # a worsening counts in its phase
    diarrhea = _row(res, "concurrent", "term", "Diarrhea")
    assert (diarrhea["n_g1"], diarrhea["n_g2"], diarrhea["n_any"]) == (1, 1, 2)
    assert not ((res.table["term"] == "Anemia") | (res.table["term"] == "Dermatitis radiation")).any()

    serious = _assert_same_incidence(store, DataCut(dt.date(2026, 11, 16)), serious_only=True)
    conc = _row(serious, "concurrent")
    assert (conc["n_g3"], conc["n_g4"], conc["n_any"]) == (1, 1, 2)
    assert _row(serious, "maintenance")["n_any"] == 0

    definite = _assert_same_incidence(store, DataCut(dt.date(2026, 11, 16)), attribution=["definite"])
    assert _row(definite, "concurrent")["n_any"] == 0
    assert (_row(definite, "maintenance")["n_g3"], _row(definite, "maintenance")["n_any"]) == (1, 1)


@pytest.mark.parametrize("cut_date", [dt.date(2025, 7, 12), dt.date(2025, 8, 21), dt.date(2026, 11, 16)])
def test_edge_trial_earlier_cuts(store, tmp_path, cut_date):
    # mid-chemoradiotherapy, early maintenance, and later: ongoing treatment ends at the cut
    _load(store, tmp_path)
    _assert_same_incidence(store, DataCut(cut_date))


def test_a_saved_cut_does_not_see_a_later_correction(store, tmp_path):
    _load(store, tmp_path)
    time.sleep(1.1)                                    # stored times have whole seconds
    frozen = dt.datetime.now().replace(microsecond=0)
    time.sleep(1.1)
    corrected = AE.replace("P-003,,Neutrophil count decreased,4,", "P-003,,Neutrophil count decreased,3,")
    out = import_paths(store, [write(tmp_path / "ae_fix.csv", corrected)], "tester", kind="ae")
    assert out[0].counts.corrections == 1
    saved = _assert_same_incidence(store, DataCut(dt.date(2026, 11, 16), frozen, "before the fix"))
    live = _assert_same_incidence(store, DataCut(dt.date(2026, 11, 16)))
    assert _row(saved, "concurrent")["n_g4"] == 1
    assert (_row(live, "concurrent")["n_g4"], _row(live, "concurrent")["n_g3"]) == (0, 2)


def test_no_adverse_events_gives_the_any_rows_with_zero(store, tmp_path):
    files = [write(tmp_path / "patients.csv", PATIENTS_CSV), write(tmp_path / "treatment.csv", TREATMENT)]
    import_paths(store, files, "tester")
    res = _assert_same_incidence(store, DataCut(dt.date(2026, 11, 16)))
    assert res.table["level"].tolist() == ["any", "any", "any"]
    assert res.table["n_any"].tolist() == [0, 0, 0]


def _assert_same_cohorts(store, cut, trial):
    """The cohorts and banner sentences from DuckDB's first qualifying rows equal those from every
    AE row through pandas; returns the cohorts."""
    light = load_snapshot(store, cut, with_labs=False, with_ae=False)
    firsts = read_first_qualifying_rows(store, cut, int(trial.phases.post_treatment_window_days), trial.monitoring)
    got = derive_monitoring_cohorts(light, trial, events=firsts)      # the snapshot has no AE at all
    want = derive_monitoring_cohorts(load_snapshot(store, cut, with_labs=False), trial)
    for phase in want:
        pd.testing.assert_frame_equal(got[phase].reset_index(drop=True), want[phase].reset_index(drop=True))
    assert compute_boundary_alerts(light, trial, events=firsts) == compute_boundary_alerts(
        load_snapshot(store, cut, with_labs=False), trial)
    return got


def _trial(**monitoring):
    trial = load_trial()
    return trial.model_copy(update={"monitoring": trial.monitoring.model_copy(update=monitoring)})


@pytest.mark.parametrize("monitoring", [{}, {"grade_min": 2}, {"attributions": ["Probable", "definite "]},
                                        {"exclude_terms": [" nausea"], "grade_min": 1}])
def test_edge_trial_monitoring_cohorts_from_sql_rows(store, tmp_path, monitoring):
    _load(store, tmp_path)
    cohorts = _assert_same_cohorts(store, DataCut(dt.date(2026, 11, 16)), _trial(**monitoring))
    if not monitoring:
        # grade >= 3, any attribution: P-001 first at Nausea 2025-07-10, P-003 at neutrophils 2025-07-20
        first = cohorts["all"].set_index("subject_id")["first_event_date"]
        assert first["P-001"] == pd.Timestamp("2025-07-10") and first["P-003"] == pd.Timestamp("2025-07-20")
        assert pd.isna(cohorts["maintenance"].set_index("subject_id").loc["P-003", "first_event_date"])


@pytest.fixture(scope="module")
def generated_stores(tmp_path_factory):
    """Three generated trials (the sample generator with other seeds), loaded through the importer."""
    from sample_data.generate import generate
    from toxdb.store.db import Store

    stores = []
    for seed in (3, 11, 29):
        d = tmp_path_factory.mktemp(f"seed{seed}")
        paths = generate(d, seed=seed, as_of=dt.date(2026, 11, 16), n_patients=44)
        s = Store(d / "t.duckdb")
        import_paths(s, [paths["patients"], paths["treatment"], paths["adverse_events"]], "tester")
        stores.append(s)
    yield stores
    for s in stores:
        s.close()


@pytest.fixture(scope="module")
def generated_derived():
    """(store, cut date) -> the pandas derivation of that generated store at that cut, made once for
    every filter below (the stores are only read; the filters apply after the derivation)."""
    return {}


@pytest.mark.parametrize("filters", FILTERS[:4] + [{"sites": ["CAMS"]}])
def test_generated_trials_sql_equals_pandas(generated_stores, generated_derived, filters):
    for s in generated_stores:
        for cut_date in (dt.date(2026, 1, 15), dt.date(2026, 11, 16)):
            key = (str(s.path), cut_date)
            if key not in generated_derived:
                generated_derived[key] = derive_snapshot_events(load_snapshot(s, DataCut(cut_date), with_labs=False),
                                                                WINDOW)
            _assert_same_incidence(s, DataCut(cut_date), generated_derived[key], **filters)


def test_generated_trials_monitoring_cohorts(generated_stores):
    for s in generated_stores:
        for cut_date in (dt.date(2026, 1, 15), dt.date(2026, 11, 16)):
            cohorts = _assert_same_cohorts(s, DataCut(cut_date), load_trial())
            assert len(cohorts["all"]) > 0 and cohorts["all"]["first_event_date"].notna().any()
