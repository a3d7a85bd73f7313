"""Benchmark: the Toxicity page's server work, small trial vs. large store.

    python bench/bench_toxicity.py                    # builds (or reuses) both stores in /tmp/toxdb-bench
    python bench/bench_toxicity.py --rebuild          # rebuild the stores from scratch
    python bench/bench_toxicity.py --rows 20000       # a quick run: the large store with 20,000 AE rows

Stores: 100 patients / 1,000 AE rows and 10,000 patients / 1,000,000 AE rows, written by
sample_data.generate.generate_large_ae_csv and loaded through the normal import path
(toxdb.ingest.upload.import_paths) by _timing.build_generated_store. For each store it prints, in seconds:

* sql    what the page computes on a new data version, inside DuckDB: the incidence table
         (derive_sql.compute_incidence_sql) and the safety banner's input rows
         (derive_sql.read_first_qualifying_rows) (median of 3)
* pandas the same table through the pandas derivation (load_snapshot + derive_snapshot_events +
         compute_incidence), which the drill-down and row-level views use (median of 3)
* cold   AppTest run of app/pages/toxicity.py with every Streamlit cache cleared (first visit after a
         new upload / data version)
* warm   AppTest rerun of the page with the caches filled (every later visit, filter change back to
         a seen combination, sidebar interaction...)

and the large/small ratio of each. Target from the issue: the page's server run on the large store
within 3x of the small one.
"""
from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _timing import build_generated_store, page_seconds, sizes  # noqa: E402

from toxdb.clinical.events import derive_snapshot_events  # noqa: E402
from toxdb.clinical.events_sql import compute_incidence_sql, read_first_qualifying_rows  # noqa: E402
from toxdb.clinical.incidence import compute_incidence  # noqa: E402
from toxdb.store.cuts import DataCut, load_snapshot  # noqa: E402
from toxdb.store.db import Store  # noqa: E402
from toxdb.trial import load_trial  # noqa: E402


def build(workdir: Path, name: str, n_patients: int, n_rows: int, rebuild: bool) -> Path:
    db = workdir / f"{name}.duckdb"
    if db.exists() and not rebuild:
        with Store(db, read_only=True) as s:
            if s.status_counts()["adverse_events"] == n_rows:
                return db
    t0 = time.perf_counter()
    build_generated_store(db, workdir / f"{name}_ae.csv", n_patients, n_rows)
    print(f"  built {db} ({n_patients:,} patients, {n_rows:,} AE rows) in {time.perf_counter() - t0:.1f} s")
    return db


def core_seconds(db: Path, cut: DataCut, repeats: int = 3) -> tuple[float, float]:
    """(DuckDB path, pandas path) in seconds, medians."""
    trial = load_trial()
    sql, pandas = [], []
    with Store(db, read_only=True) as s:
        for _ in range(repeats):
            t0 = time.perf_counter()
            compute_incidence_sql(s, cut, 30)
            read_first_qualifying_rows(s, cut, 30, trial.monitoring)
            sql.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            d = derive_snapshot_events(load_snapshot(s, cut, with_labs=False), 30)
            compute_incidence(d.events, d.milestones, patients=d.patients, window_days=30)
            pandas.append(time.perf_counter() - t0)
    return statistics.median(sql), statistics.median(pandas)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/toxdb-bench"))
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--rows", type=int, default=1_000_000, help="AE rows of the large store (100 per patient)")
    a = ap.parse_args(argv)
    a.workdir.mkdir(parents=True, exist_ok=True)
    cut = DataCut(dt.date(2026, 11, 16))
    results = {}
    for name, (n_p, n_r) in sizes(a.rows).items():
        db = build(a.workdir, name, n_p, n_r, a.rebuild)
        sql, pandas = core_seconds(db, cut)
        cold, warm = page_seconds(db, "app/pages/toxicity.py")
        results[name] = (sql, pandas, cold, warm)
        print(f"{name:6s} {n_p:>6,} patients {n_r:>9,} AEs   sql {sql:6.3f} s   pandas {pandas:6.3f} s"
              f"   page cold {cold:6.3f} s   page warm {warm:6.3f} s", flush=True)
    s, big = results["small"], results["large"]
    print("ratio large/small   sql {:5.1f}x   pandas {:5.1f}x   page cold {:5.1f}x   page warm {:5.2f}x"
          "   (target <= 3x)".format(*(b / a for a, b in zip(s, big))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
