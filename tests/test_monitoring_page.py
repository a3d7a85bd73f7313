"""AppTest of the Monitoring page and the safety banner, on small stores built from CSVs here."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from toxdb.ingest.upload import import_paths
from toxdb.store.db import Store

pytestmark = pytest.mark.app

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD = str(ROOT / "dashboard.py")


def build_trial_db(db: Path, n_patients: int, n_events: int) -> Path:
    """A store with ``n_patients`` starting chemoradiotherapy a week apart from 2 Jun 2025; the
    first ``n_events`` have a grade 3 diarrhoea (patient i on day 10 + 6i of treatment); the next
    patient, if any, has a recurrence on day 60 (a competing event)."""
    folder = db.parent / f"{db.stem}_csv"
    folder.mkdir(parents=True, exist_ok=True)
    pats = ["subject_id,site,enrolled_on,sex,age,height_cm,weight_kg,serum_creatinine,serum_creatinine_unit,agent,"
            "recurrence_on,last_contact_on"]
    trt = ["subject_id,treatment,phase,cycle,start_date,end_date,dose,dose_unit,fractions"]
    aes = ["subject_id,ae_ref,term,grade,onset_date,end_date,serious,attribution"]
    for i in range(n_patients):
        start = dt.date(2025, 6, 2) + dt.timedelta(days=7 * i)
        sid = f"ICC-01-{i + 1:03d}"
        recurrence = start + dt.timedelta(days=60) if i == n_events else ""
        pats.append(f"{sid},CAMS,{start - dt.timedelta(days=14)},M,60,170,65,80,umol/L,capecitabine,{recurrence},"
                    "2026-06-01")
        trt.append(f"{sid},RT,concurrent,,{start},{start + dt.timedelta(days=39)},56,Gy,25")
        trt.append(f"{sid},capecitabine,concurrent,1,{start},{start + dt.timedelta(days=13)},1600,mg/m2/day,")
        if i < n_events:
            onset = start + dt.timedelta(days=10 + 6 * i)
            aes.append(f"{sid},AE-1,Diarrhea,3,{onset},{onset + dt.timedelta(days=5)},N,probable")
    files = []
    for name, lines in (("patients.csv", pats), ("treatment.csv", trt), ("adverse_events.csv", aes)):
        path = folder / name
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        files.append(path)
    store = Store(db)
    try:
        outcomes = import_paths(store, files, "tester")
        assert all(o.error is None for o in outcomes), [o.message for o in outcomes]
    finally:
        store.close()
    return db


def _app(monkeypatch, db: Path) -> AppTest:
    monkeypatch.setenv("TOXDB_DB", str(db))
    monkeypatch.setenv("TOXDB_NO_SEED", "1")
    at = AppTest.from_file(DASHBOARD, default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _texts(at: AppTest) -> str:
    return "\n".join([m.value for m in at.markdown] + [m.value for m in at.success] + [m.value for m in at.error])


def test_monitoring_page_crossed_trial(tmp_path, monkeypatch):
    db = build_trial_db(tmp_path / "crossed.duckdb", n_patients=4, n_events=4)
    at = _app(monkeypatch, db)
    # the banner on the overview (default) page: boundary at n = 4 is 4 for the design of record
    banner = [e.value for e in at.error]
    assert any("Stopping boundary crossed (all treatment-emergent events): 4 of 4 patients" in b for b in banner)
    at.switch_page("app/pages/monitoring.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    text = _texts(at)
    assert "4 of 4 patients so far" in text
    assert "first crossed at patient 4" in text
    assert "Design of record" in text
    # the statistician's comparison: O'Brien-Fleming-type, then the Bayesian rule
    at.toggle(key="mon_compare").set_value(True).run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Operating characteristics, side by side" in _texts(at)
    at.radio(key="mon_kind").set_value("Bayesian beta-binomial").run()
    assert not at.exception, [e.value for e in at.exception]
    assert "With the alternative design" in _texts(at)


def test_monitoring_page_uncrossed_trial(tmp_path, monkeypatch):
    db = build_trial_db(tmp_path / "uncrossed.duckdb", n_patients=5, n_events=1)
    at = _app(monkeypatch, db)
    assert not [e.value for e in at.error if "Stopping boundary" in e.value]
    at.switch_page("app/pages/monitoring.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    text = _texts(at)
    # 1 of 5, far below the boundary at n = 5 (which is 5): the words name how many more would cross
    assert "1 of 5 patients so far" in text
    assert "more among the next" in text
    assert not [e.value for e in at.error]


def test_monitoring_page_empty_store(tmp_path, monkeypatch):
    monkeypatch.setenv("TOXDB_DB", str(tmp_path / "empty.duckdb"))
    monkeypatch.setenv("TOXDB_NO_SEED", "1")
    at = AppTest.from_file(DASHBOARD, default_timeout=60)
    at.run()
    at.switch_page("app/pages/monitoring.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert "No evaluable patients yet" in _texts(at)


@pytest.fixture(autouse=True)
def _fresh_caches():
    import streamlit as st

    st.cache_data.clear()
    yield
