"""Benchmark: the committee report (data + HTML) for the sample trial and for a large store.

    python bench/bench_report.py                 # builds (or reuses) the large store in /tmp/toxdb-bench
    python bench/bench_report.py --pdf           # also time printing the PDFs through Chromium

Baseline, in the same process: the sample trial (sample_data/, 34 patients). Large: 10,000 patients
and 1,000,000 AE rows (unique ids, free-text verbatims, unsorted rows) written by
sample_data.generate.generate_large_ae_csv and loaded through the normal import path (the store
bench_toxicity.py builds). For each it prints the seconds to compute the report from a saved cut
(compute_committee_report), to render the HTML, and the total; then the large/sample ratio.
Target from issue 13: the large report in under 60 s.
"""
from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _timing import sizes  # noqa: E402
from bench_toxicity import build  # noqa: E402

from toxdb.ingest.upload import seed_sample  # noqa: E402
from toxdb.reports.committee import compute_committee_report, render_report_html, render_report_pdf  # noqa: E402
from toxdb.store.cuts import list_saved_cuts  # noqa: E402
from toxdb.store.db import Store  # noqa: E402
from toxdb.trial import load_trial  # noqa: E402

CUT = dt.date(2026, 11, 16)


def time_report(db: Path, pdf_out: Path | None) -> tuple[float, float, float, int]:
    """(compute s, html s, pdf s or nan, html bytes) for the report of the saved cut 'bench'."""
    trial = load_trial()
    with Store(db) as s:
        if not any(c.name == "bench" for c in list_saved_cuts(s)):
            s.save_data_cut("bench", CUT, "bench")
        cut = next(c for c in list_saved_cuts(s) if c.name == "bench")
        t0 = time.perf_counter()
        report = compute_committee_report(s, cut, trial, user="bench")
        t1 = time.perf_counter()
        html = render_report_html(report)
        t2 = time.perf_counter()
    pdf = float("nan")
    if pdf_out is not None:
        render_report_pdf(html, pdf_out)
        pdf = time.perf_counter() - t2
    return t1 - t0, t2 - t1, pdf, len(html.encode())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/toxdb-bench"))
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--pdf", action="store_true", help="also print each report to PDF")
    a = ap.parse_args(argv)
    a.workdir.mkdir(parents=True, exist_ok=True)
    sample = Path(tempfile.mkdtemp(prefix="toxdb-bench-report-")) / "sample.duckdb"
    with Store(sample) as s:
        seed_sample(s, ROOT / "sample_data")
    n_p, n_r = sizes(1_000_000)["large"]
    large = build(a.workdir, "large", n_p, n_r, a.rebuild)
    results = {}
    for name, db in (("sample", sample), ("large", large)):
        time_report(db, None) if name == "sample" else None          # warm-up: imports, boundary calibration
        pdf_out = a.workdir / f"report_{name}.pdf" if a.pdf else None
        c, h, p, size = time_report(db, pdf_out)
        results[name] = (c, h, c + h, p)
        print(f"{name:6s} compute {c:6.2f} s   html {h:5.2f} s   total {c + h:6.2f} s   pdf {p:6.2f} s"
              f"   html {size / 1e6:5.1f} MB", flush=True)
    s, big = results["sample"], results["large"]
    print("ratio large/sample   compute {:5.1f}x   html {:5.1f}x   total {:5.1f}x   pdf {:5.1f}x".format(
        *(b / a for a, b in zip(s, big))))
    print(f"large report total {big[2]:.1f} s (target < 60 s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
