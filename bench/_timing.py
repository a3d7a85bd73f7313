"""Timing helper shared by the benchmarks: one warm-up call, then the median of several runs."""
import os
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


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
