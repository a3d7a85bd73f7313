"""Import benchmarks on data as hard as real data (issue 9), ratios against a baseline in the same process.

1. A 1,000,000-row AE CSV with a unique event id per row, subjects in random order and a free-text
   verbatim column about half of whose values are distinct: toxdb's whole import (read, map,
   validate, compare with the store, commit) against DuckDB's read_csv of the same file into a
   table. Target: at most 2x (aim 1.5x). Peak memory of the import in a fresh process: under 2 GB.
2. 1,000 files of 500 rows from 10 sites, imported one after another as a nightly job would: the
   total time, against the same 500,000 rows imported as one file; the difference per file is the
   per-file overhead.

Run: python bench/bench_import_hard.py [--rows 1000000] [--files 1000] [--file-rows 500]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TERMS = np.array(["Diarrhea", "Nausea", "Fatigue", "Anemia", "Vomiting", "Neutrophil count decreased",
                  "Palmar-plantar erythrodysesthesia syndrome", "Platelet count decreased", "Mucositis oral"])
WORDS = np.array(["mild", "severe", "after meals", "intermittent", "since cycle 2", "night", "persistent",
                  "resolved with loperamide", "on day 5", "reported by phone", "worse", "improving"])


def write_patients(path: Path, subjects: np.ndarray, sites: np.ndarray) -> Path:
    enrolled = np.datetime64("2024-01-02") + (np.arange(len(subjects)) % 300).astype("timedelta64[D]")
    table = pa.table({"subject_id": subjects, "site": sites, "enrolled_on": enrolled.astype(str),
                      "sex": np.where(np.arange(len(subjects)) % 2, "F", "M"), "age": 40 + np.arange(len(subjects)) % 35})
    pacsv.write_csv(table, path)
    return path


def write_events(path: Path, subjects: np.ndarray, n: int, rng: np.random.Generator, first_id: int = 0) -> Path:
    """AE rows: a unique event id each, subjects unsorted, verbatim about half distinct."""
    who = subjects[rng.integers(0, len(subjects), n)]
    term = TERMS[rng.integers(0, len(TERMS), n)]
    distinct = rng.integers(0, max(1, n // 2), n)                    # ~n/2 distinct verbatim texts
    verbatim = np.char.add(np.char.add(term, " "), WORDS[distinct % len(WORDS)])
    verbatim = np.char.add(np.char.add(verbatim, " #"), distinct.astype(str))
    onset = np.datetime64("2025-01-01") + rng.integers(0, 600, n).astype("timedelta64[D]")
    ids = np.char.add("EV-", (first_id + rng.permutation(n)).astype(str))
    table = pa.table({"subject_id": who, "ae_ref": ids, "term": term, "verbatim": verbatim,
                      "grade": rng.integers(1, 4, n), "onset_date": onset.astype(str),
                      "serious": np.where(rng.random(n) < 0.05, "Y", "N"), "attribution": np.full(n, "possible")})
    pacsv.write_csv(table, path)
    return path


def bench_million(work: Path, rows: int, patients: int, repeat: int) -> dict:
    import duckdb

    from toxdb.ingest.upload import import_paths
    from toxdb.store.db import Store

    rng = np.random.default_rng(9)
    subjects = np.char.add("S-", np.arange(patients).astype(str))
    pts = write_patients(work / "patients.csv", subjects, np.char.add("SITE-", (np.arange(patients) % 10).astype(str)))
    ae = write_events(work / "ae_hard.csv", subjects, rows, rng)

    def duck_baseline() -> float:
        t = time.perf_counter()
        con = duckdb.connect(str(work / "baseline.duckdb"))
        con.execute("CREATE OR REPLACE TABLE ae AS SELECT * FROM read_csv(?)", [str(ae)])
        con.close()
        return time.perf_counter() - t

    accepted = {}

    def toxdb_import(i: int) -> float:
        store = Store(work / f"toxdb_{i}.duckdb")
        import_paths(store, [pts], "bench", kind="patients")
        t = time.perf_counter()
        out = import_paths(store, [ae], "bench", kind="ae")
        elapsed = time.perf_counter() - t
        c = out[0].counts
        assert c is not None and c.accepted + c.rejected + c.duplicates == rows, out[0].message
        accepted["n"] = c.accepted
        store.close()
        return elapsed

    base, ours = [], []
    for i in range(repeat):                 # alternate, so that a slow spell hits both alike
        base.append(duck_baseline())
        ours.append(toxdb_import(i))
    return {"rows": rows, "file_mb": round(ae.stat().st_size / 1e6, 1), "duckdb_s": round(min(base), 2),
            "toxdb_s": round(min(ours), 2), "ratio": round(min(ours) / min(base), 2), "accepted": accepted["n"],
            "patients_file": str(pts), "ae_file": str(ae)}


PEAK = """
import json, resource, sys
sys.path.insert(0, {root!r})
from toxdb.ingest.upload import import_paths
from toxdb.store.db import Store
store = Store({db!r})
import_paths(store, [{pts!r}], "bench", kind="patients")
import_paths(store, [{ae!r}], "bench", kind="ae")
print(json.dumps({{"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def bench_peak(work: Path, million: dict) -> float:
    script = PEAK.format(root=str(ROOT), db=str(work / "peak.duckdb"), pts=million["patients_file"],
                         ae=million["ae_file"])
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["peak_mb"]


def bench_many_files(work: Path, files: int, file_rows: int) -> dict:
    """Many small files from 10 sites against the same rows in one file."""
    from toxdb.ingest.upload import import_paths
    from toxdb.store.db import Store

    rng = np.random.default_rng(10)
    sites = 10
    subjects = np.char.add("M-", np.arange(sites * 50).astype(str))
    site_of = np.char.add("SITE-", (np.arange(len(subjects)) % sites).astype(str))
    pts = write_patients(work / "many_patients.csv", subjects, site_of)
    paths = []
    for k in range(files):
        own = subjects[site_of == f"SITE-{k % sites}"]
        paths.append(write_events(work / f"site{k % sites}_{k:04d}.csv", own, file_rows, rng, first_id=k * file_rows))
    one = work / "all_in_one.csv"
    with open(one, "wb") as out:
        for i, p in enumerate(paths):
            data = p.read_bytes()
            out.write(data if i == 0 else data.split(b"\n", 1)[1])

    def run(targets) -> float:
        db = work / f"many_{len(targets)}.duckdb"
        store = Store(db)
        import_paths(store, [pts], "bench", kind="patients")
        t = time.perf_counter()
        for p in targets:
            out = import_paths(store, [p], "bench", kind="ae")
            assert out[0].counts is not None, out[0].message
        elapsed = time.perf_counter() - t
        store.close()
        return elapsed

    single = run([one])
    total = run(paths)
    return {"files": files, "rows": files * file_rows, "total_s": round(total, 1), "one_file_s": round(single, 2),
            "per_file_ms": round((total - single) / files * 1000, 1)}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--patients", type=int, default=10_000)
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--file-rows", type=int, default=500)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        m = bench_million(work, args.rows, args.patients, args.repeat)
        print(f"Hard CSV, {m['rows']:,} AE rows ({m['file_mb']} MB; unique event ids, unsorted subjects, half-"
              f"distinct verbatim; {m['accepted']:,} accepted): DuckDB read_csv {m['duckdb_s']} s, toxdb import {m['toxdb_s']} s -> ratio "
              f"{m['ratio']} (target <= 2, aim 1.5)", flush=True)
        peak = bench_peak(work, m)
        print(f"Peak memory of that import in a fresh process: {peak:,.0f} MB (target < 2,000 MB)", flush=True)
        many = bench_many_files(work, args.files, args.file_rows)
        print(f"{many['files']:,} files x {args.file_rows} rows from 10 sites ({many['rows']:,} rows): total "
              f"{many['total_s']} s; the same rows as one file {many['one_file_s']} s; per-file overhead "
              f"{many['per_file_ms']} ms", flush=True)
    return 0 if m["ratio"] <= 2.0 and peak < 2000 else 1


if __name__ == "__main__":
    sys.exit(main())
