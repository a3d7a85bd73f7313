import datetime as dt
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from toxdb.store.db import Store  # noqa: E402

SHARED = ROOT.parent / "shared"

PATIENTS_CSV = """subject_id,site,enrolled_on,sex,age,height_cm,weight_kg,serum_creatinine,serum_creatinine_unit,agent
P-001,SITE-A,2025-06-02,M,61,170,65,0.9,mg/dL,capecitabine
P-002,SITE-A,2025-06-20,F,55,158,52,70,umol/L,capecitabine
P-003,SITE-B,2025-07-15,F,68,160,58,1.1,mg/dL,S-1
"""

TREATMENT_CSV = """subject_id,treatment,phase,cycle,start_date,end_date,dose,dose_unit,fractions
P-001,RT,concurrent,,2025-06-16,2025-07-18,56,Gy,25
P-001,capecitabine,concurrent,1,2025-06-16,2025-06-29,1600,mg/m2/day,
P-001,capecitabine,concurrent,2,2025-07-07,2025-07-20,1600,mg/m2/day,
P-002,RT,concurrent,,2025-07-01,2025-08-04,56,Gy,25
"""

AE_CSV = """subject_id,ae_ref,term,grade,onset_date,end_date,serious,attribution
P-001,AE-1,Diarrhea,2,2025-06-25,2025-06-30,N,probable
P-001,AE-2,Nausea,1,2025-06-20,,N,possible
P-002,AE-1,Fatigue,3,2025-07-10,2025-07-20,Y,possible
"""


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "t.duckdb")
    yield s
    s.close()


@pytest.fixture
def loaded_store(store, tmp_path):
    """A store with three patients, a small treatment log and three adverse events."""
    from toxdb.ingest.upload import import_paths

    files = [write(tmp_path / "patients.csv", PATIENTS_CSV), write(tmp_path / "treatment.csv", TREATMENT_CSV),
             write(tmp_path / "ae.csv", AE_CSV)]
    outcomes = import_paths(store, files, "tester")
    assert all(o.error is None for o in outcomes), [o.message for o in outcomes]
    return store


@pytest.fixture
def app_env(tmp_path, monkeypatch):
    """The dashboard on its own fresh database file (seeded from sample_data/ on first start)."""
    monkeypatch.chdir(ROOT)
    db = tmp_path / "app.duckdb"
    monkeypatch.setenv("TOXDB_DB", str(db))
    monkeypatch.setenv("TOXDB_USER", "coordinator-test")
    return db


def run_app(at):
    """Run an AppTest script and fail with Streamlit's own messages if the page raised."""
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


@pytest.fixture
def today():
    return dt.date(2026, 11, 23)


TIERS = ("unit", "app", "cli", "e2e")


def pytest_collection_modifyitems(config, items):
    """Every test has exactly one tier (pytest.ini): a test not marked app, cli or e2e is a unit test.
    Browser tests need Debian's chromium; they are skipped with a reason where it is absent."""
    no_browser = not os.path.exists("/usr/bin/chromium")
    for item in items:
        tiers = [t for t in TIERS if t in item.keywords]
        assert len(tiers) <= 1, f"{item.nodeid} is marked {tiers}: one tier per test"
        if not tiers:
            item.add_marker(pytest.mark.unit)
        if no_browser and "e2e" in item.keywords:
            item.add_marker(pytest.mark.skip(reason="/usr/bin/chromium not installed (apt-get install chromium)"))
