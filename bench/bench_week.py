"""Benchmark: This week and the comparison of two data cuts, small trial vs. large store.

    python bench/bench_week.py                    # builds (or reuses) both stores in /tmp/toxdb-bench-week
    python bench/bench_week.py --rebuild          # rebuild the stores from scratch
    python bench/bench_week.py --rows 20000       # a quick run: the large store with 20,000 AE rows

Stores: 100 patients / 1,000 AE rows and 10,000 patients / 1,000,000 AE rows
(sample_data.generate.generate_large_ae_csv, loaded through the normal import path by
_timing.build_generated_store, the same store bench_toxicity.py times). Each store gets
a saved cut ("last week"), then a week of new data through the import path: new AEs for 0.5 % of the
rows (unique references, free-text verbatim, rows shuffled) and grade corrections of 0.1 % of the
stored rows. Then, in seconds:

* diff   diff_cuts(last week -> live), every table (median of 3)
* week   compute_week(last week -> live) (median of 3)
* cold   AppTest run of app/pages/week.py (?since=last week) with every Streamlit cache cleared: the
         first run after the new data
* warm   AppTest rerun of the page with the caches filled

and the large/small ratio of each. Target from the issue: at most 3x.
"""
from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _timing import build_generated_store, page_seconds, sizes
from toxdb.ingest.upload import import_paths
from toxdb.reports.diff import diff_cuts
from toxdb.reports.week import compute_week
from toxdb.store.cuts import DataCut, list_saved_cuts
from toxdb.store.db import Store
from toxdb.trial import load_trial

CUT = "last week"
WORDS = np.array(["noted", "at", "clinic", "visit", "patient", "reports", "mild", "since", "cycle", "day", "after",
                  "dose", "resolved", "with", "supportive", "care", "phoned", "nurse", "慢", "乏力", "轻度"])


def week_upload(base_csv: Path, out: Path, seed: int = 12) -> Path:
    """A week's AE upload: new events (0.5 % of rows) with unique references and free text, and grade
    corrections (0.1 %), rows shuffled."""
    rng = np.random.default_rng(seed)
    ae = pd.read_csv(base_csv, dtype=str, keep_default_na=False)
    n_new, n_fix = max(5, len(ae) // 200), max(1, len(ae) // 1000)
    new = ae.sample(n_new, random_state=seed).copy()
    new["ae_ref"] = [f"WK-{i:07d}" for i in range(n_new)]
    new["verbatim"] = [" ".join(rng.choice(WORDS, 6)) + f" #{i}" for i in range(n_new)]
    fix = ae.sample(n_fix, random_state=seed + 1).copy()
    fix["grade"] = fix["grade"].map({"1": "2", "2": "1", "3": "2", "4": "3", "5": "5"})
    fix = fix[fix["grade"] != "5"]
    rows = pd.concat([new, fix]).sample(frac=1.0, random_state=seed)
    rows.to_csv(out, index=False)
    return out


def build(workdir: Path, name: str, n_patients: int, n_rows: int, rebuild: bool) -> Path:
    """The store ``name`` (reused when built before with the same size): the generated trial, the
    cut CUT saved, then a week's upload. The cut holds the uploads up to its own (D41), so the week's
    data follow it at once."""
    db = workdir / f"{name}_{n_rows}.duckdb"
    if rebuild or not db.exists():
        t0 = time.perf_counter()
        paths = build_generated_store(db, workdir / f"{name}_ae.csv", n_patients, n_rows)
        upload = week_upload(paths["adverse_events"], workdir / f"{name}_week.csv")
        with Store(db) as s:
            s.save_data_cut(CUT, dt.date.today(), "bench")
            for o in import_paths(s, [upload], "bench", kind="ae"):
                print("  " + o.message)
        print(f"  built {db} ({n_patients:,} patients, {n_rows:,} AE rows + a week) in "
              f"{time.perf_counter() - t0:.1f} s", flush=True)
    return db


def core_seconds(db: Path, repeats: int = 3) -> tuple[float, float, dict]:
    trial = load_trial()
    diffs, weeks = [], []
    with Store(db, read_only=True) as s:
        ref = next(c for c in list_saved_cuts(s) if c.name == CUT)
        now = DataCut(dt.date.today())
        for _ in range(repeats):
            t0 = time.perf_counter()
            d = diff_cuts(s, ref, now)
            diffs.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            w = compute_week(s, ref, now, trial)
            weeks.append(time.perf_counter() - t0)
    counts = dict(d.summary.set_index("table")["added"]) | {"ae corrected": int(d.summary.set_index("table").loc[
        "ae", "corrected"])} | {f"week {k}": v for k, v in w.summary.items()}
    return statistics.median(diffs), statistics.median(weeks), counts


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/toxdb-bench-week"))
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--rows", type=int, default=1_000_000, help="AE rows of the large store (100 per patient)")
    a = ap.parse_args(argv)
    a.workdir.mkdir(parents=True, exist_ok=True)
    results = {}
    for name, (n_p, n_r) in sizes(a.rows).items():
        db = build(a.workdir, name, n_p, n_r, a.rebuild)
        diff_s, week_s, counts = core_seconds(db)
        cold, warm = page_seconds(db, "app/pages/week.py", params={"since": CUT})
        results[name] = (diff_s, week_s, cold, warm)
        print(f"{name:6s} {n_p:>6,} patients {n_r:>9,} AEs   diff {diff_s:6.3f} s   week {week_s:6.3f} s"
              f"   page cold {cold:6.3f} s   page warm {warm:6.3f} s", flush=True)
        print(f"       changes: {counts}", flush=True)
    s, big = results["small"], results["large"]
    print("ratio large/small   diff {:5.1f}x   week {:5.1f}x   page cold {:5.1f}x   page warm {:5.2f}x"
          "   (target <= 3x)".format(*(b / a for a, b in zip(s, big))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
