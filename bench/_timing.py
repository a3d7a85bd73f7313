"""Helpers shared by the benchmarks: timing (one warm-up call, then the median of several runs; a
page's server run through AppTest) and the large generated store they time against."""
import os
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# generate_large_ae_csv's files -> the import kind each is loaded as
KINDS = {"patients": "patients", "treatment": "treatment", "adverse_events": "ae"}


def build_generated_store(db: Path, ae_csv: Path, n_patients: int, n_rows: int) -> dict[str, Path]:
    """A new store at ``db`` (any old file replaced) holding a generated trial of ``n_patients`` and
    ``n_rows`` AE rows (sample_data.generate.generate_large_ae_csv, written beside ``ae_csv``), loaded
    through the normal import path, patients first. Stops at the first file the import refuses.
    Returns the generated files by table (adverse_events, patients, treatment)."""
    from sample_data.generate import generate_large_ae_csv
    from toxdb.ingest.upload import import_paths
    from toxdb.store.db import Store

    db.unlink(missing_ok=True)
    paths = generate_large_ae_csv(ae_csv, n_patients=n_patients, n_rows=n_rows)
    with Store(db) as s:
        for key, kind in KINDS.items():
            for o in import_paths(s, [paths[key]], "bench", kind=kind):
                if o.error:
                    raise SystemExit(o.error)
    return paths


def sizes(large_rows: int) -> dict[str, tuple[int, int]]:
    """The two stores a benchmark compares, (patients, AE rows): a small trial of 100 / 1,000 and a
    large one of ``large_rows`` AE rows with 100 rows per patient (the default 1,000,000: 10,000)."""
    return {"small": (100, 1_000), "large": (max(100, large_rows // 100), large_rows)}


def median_seconds(fn, repeats: int = 5) -> float:
    fn()  # warm-up: imports, caches
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def page_seconds(db: Path, page: str, warm_runs: int = 3, params: dict | None = None) -> tuple[float, float]:
    """A page's server run through AppTest on the database ``db`` (``params``: its address
    parameters): (first run with every cache empty, median of the runs after it, which Streamlit
    serves from the per-data-version caches)."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    os.environ["TOXDB_DB"] = str(db)
    os.environ["TOXDB_NO_SEED"] = "1"
    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=600)
    for key, value in (params or {}).items():
        at.query_params[key] = value
    at.run()
    at.switch_page(page)
    # a new data version: every cache starts empty (the shared derivation is a cache_resource, so
    # those are cleared too; the store is reopened)
    st.cache_data.clear()
    st.cache_resource.clear()
    t0 = time.perf_counter()
    at.run()
    cold = time.perf_counter() - t0
    if at.exception:
        raise SystemExit(f"{page} failed: {at.exception}")
    warm = []
    for _ in range(warm_runs):
        t0 = time.perf_counter()
        at.run()
        warm.append(time.perf_counter() - t0)
    return cold, statistics.median(warm)
