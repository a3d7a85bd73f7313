"""What e-mail alerts cost an import (issue 15), against the same import without them, in one process.

A 200,000-row AE CSV as hard as real data (unique event ids, subjects unsorted, free-text verbatim
about half distinct; 5 % serious, so about 10,000 events alert the committee and the PI, which is
far more than a real upload and makes the per-event work visible), imported into a fresh store
with patients:
- the whole import with alert detection (outbox rows, digests, boundary standing; no mail server,
  so nothing is sent);
- the same import with detection switched off (bench only);
- DuckDB's read_csv of the same file, the baseline of the other import benchmarks.
Runs alternate so a slow spell on the shared machine hits all three alike; the best of each is kept.

Run: python bench/bench_alerts.py [--rows 200000] [--repeat 2]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_import_hard import write_events, write_patients  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--patients", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    os.environ.pop("TOXDB_SMTP_URL", None)

    import duckdb

    import toxdb.ingest.upload as upload
    from toxdb.store.db import Store

    work = Path(tempfile.mkdtemp(prefix="bench_alerts_"))
    rng = np.random.default_rng(15)
    subjects = np.char.add("S-", rng.permutation(args.patients).astype(str))
    pts = write_patients(work / "patients.csv", subjects, np.char.add("SITE-", (np.arange(args.patients) % 10).astype(str)))
    ae = write_events(work / "ae.csv", subjects, args.rows, rng)
    with_alerts = upload.notify_after_import

    def baseline(i: int) -> float:
        t = time.perf_counter()
        con = duckdb.connect(str(work / f"baseline_{i}.duckdb"))
        con.execute("CREATE OR REPLACE TABLE ae AS SELECT * FROM read_csv(?)", [str(ae)])
        con.close()
        return time.perf_counter() - t

    raised = {}

    def imported(i: int, alerts: bool) -> float:
        upload.notify_after_import = with_alerts if alerts else (lambda *a, **k: None)
        store = Store(work / f"toxdb_{i}_{alerts}.duckdb")
        upload.import_paths(store, [pts], "bench", kind="patients")
        t = time.perf_counter()
        (out,) = upload.import_paths(store, [ae], "bench", kind="ae")
        elapsed = time.perf_counter() - t
        assert out.counts is not None and out.counts.accepted == args.rows, out.message
        if alerts:
            raised["alerts"] = int(len(store.alerts()))
        store.close()
        return elapsed

    runs = {"duckdb": [], "import_without_alerts": [], "import_with_alerts": []}
    for i in range(args.repeat):
        runs["duckdb"].append(baseline(i))
        runs["import_without_alerts"].append(imported(i, False))
        runs["import_with_alerts"].append(imported(i, True))
    upload.notify_after_import = with_alerts
    best = {k: round(min(v), 2) for k, v in runs.items()}
    print(json.dumps({
        "rows": args.rows, "alerts_raised": raised["alerts"], **{f"{k}_s": v for k, v in best.items()},
        "alerts_cost_s": round(best["import_with_alerts"] - best["import_without_alerts"], 2),
        "ratio_with_vs_without": round(best["import_with_alerts"] / best["import_without_alerts"], 2),
        "ratio_with_alerts_vs_duckdb": round(best["import_with_alerts"] / best["duckdb"], 2),
    }, indent=2))


if __name__ == "__main__":
    main()
