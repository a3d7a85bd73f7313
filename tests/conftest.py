import datetime as dt
import os
import shutil
import sys
from pathlib import Path

import pytest
from hypothesis import settings

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from toxdb.store.db import Store  # noqa: E402

# Compiled bytecode is kept (__pycache__, ignored by git) even where the environment asks Python not
# to write it (PYTHONDONTWRITEBYTECODE, set on our CI machines): the suite starts the command line, the
# dashboard and pytest's workers as new interpreters well over a hundred times, and each would compile
# every toxdb module and rewrite every test module again (1.2 CPU seconds for `python -m toxdb`, 5 for a
# worker's collection).
sys.dont_write_bytecode = False
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

SHARED = ROOT.parent / "shared"

# Hypothesis: the properties whose examples each run a whole derivation or the dose engine (0.2 to 1
# CPU second an example) take max_examples from the profile instead of naming their own. "ci", the
# default, runs 12 of them: Hypothesis draws the boundary cases (empty lists, the smallest and largest
# integers, one patient) among its first examples, and an example that ever failed is kept in
# .hypothesis/ and replayed first on the next run, so the quick tier still meets the edges.
# HYPOTHESIS_PROFILE=thorough runs 200 examples each (before a release, or after changing a rule).
settings.register_profile("ci", max_examples=12)
settings.register_profile("thorough", max_examples=200)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

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


class StoreFiles:
    """Database files built once per test process (each xdist worker has its own) and copied for every
    test that asks for one. Migrating a new DuckDB file, importing the three small CSVs below or the
    sample trial cost 0.1, 0.5 and 0.8 CPU seconds each time, paid again by hundreds of tests; a copy
    costs a few milliseconds and holds the same rows, upload numbers and raw files. Each test still
    gets its own file, so what it writes stays its own."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.built: dict[str, Path] = {}

    def _build(self, name: str) -> Path:
        from toxdb.ingest.upload import import_paths, seed_sample

        path = self.folder / f"{name}.duckdb"
        with Store(path) as s:
            if name == "loaded":
                files = [write(self.folder / "patients.csv", PATIENTS_CSV),
                         write(self.folder / "treatment.csv", TREATMENT_CSV), write(self.folder / "ae.csv", AE_CSV)]
                outcomes = import_paths(s, files, "tester")
            elif name == "sample":
                outcomes = seed_sample(s, ROOT / "sample_data")   # what the dashboard loads on first start
            else:
                outcomes = []
            assert all(o.error is None for o in outcomes), [o.message for o in outcomes]
        assert not path.with_name(path.name + ".wal").exists()    # closed: everything is in the one file
        return path

    def copy(self, name: str, dest: Path) -> Path:
        """``dest``: a copy of the store ``name`` ("empty": migrated, no data; "loaded": the three CSVs
        below; "sample": sample_data/ as seeded on the dashboard's first start)."""
        if name not in self.built:
            self.built[name] = self._build(name)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.built[name], dest)
        return dest

    def copy_built(self, name: str, build, dest: Path) -> Path:
        """``dest``: a copy of a store that ``build(store)`` fills, from the empty one, once per process
        (for a module whose tests each start from the same uploads and may add their own)."""
        if name not in self.built:
            path = self.copy("empty", self.folder / f"{name}.duckdb")
            with Store(path) as s:
                build(s)
            self.built[name] = path
        return self.copy(name, dest)


@pytest.fixture(scope="session")
def store_files(tmp_path_factory) -> StoreFiles:
    return StoreFiles(tmp_path_factory.mktemp("store-files"))


@pytest.fixture
def store(tmp_path, request, store_files):
    """A new store of its own; with ``loaded_store`` in the same test it is that store."""
    name = "loaded" if "loaded_store" in request.fixturenames else "empty"
    s = Store(store_files.copy(name, tmp_path / "t.duckdb"))
    yield s
    s.close()


@pytest.fixture
def loaded_store(store, tmp_path):
    """A store with three patients, a small treatment log and three adverse events, imported through
    import_paths by "tester" from the three CSVs above (also written into tmp_path)."""
    for name, text in (("patients.csv", PATIENTS_CSV), ("treatment.csv", TREATMENT_CSV), ("ae.csv", AE_CSV)):
        write(tmp_path / name, text)
    return store


@pytest.fixture
def app_env(tmp_path, monkeypatch, store_files):
    """The dashboard on its own database file, holding the sample trial as seeded on first start (a
    copy: test_app.py's first-start test uses ``fresh_app_env`` to see the seeding itself)."""
    db = _app_env(tmp_path, monkeypatch)
    store_files.copy("sample", db)
    yield db
    assert os.environ.get("TOXDB_NO_SEED") != "1", "app_env holds the sample trial: use fresh_app_env for an empty store"


@pytest.fixture
def fresh_app_env(tmp_path, monkeypatch):
    """The dashboard on a database file that does not exist yet (seeded from sample_data/ on first start)."""
    return _app_env(tmp_path, monkeypatch)


def _app_env(tmp_path, monkeypatch) -> Path:
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
    # The slowest tiers first: a browser journey takes one to two minutes and cannot be split, so it
    # starts at once on one worker while the others take the short tests; begun last, it would run
    # alone at the end with the other cores idle. The order within a tier is kept.
    first = {"e2e": 0, "cli": 1, "app": 2, "unit": 3}
    items.sort(key=lambda item: next((first[t] for t in first if t in item.keywords), 3))
