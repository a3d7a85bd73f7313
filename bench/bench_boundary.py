"""Benchmark: boundary calibration + operating characteristics for N = 200.

    python bench/bench_boundary.py

Prints absolute seconds (median of several runs) for the Pocock-type, O'Brien-Fleming-type and
Bayesian designs at N = 200 (every patient a look, OC on 6 rates from p0 to p1), and two ratios
measured in the same process: versus the same design at the trial's N = 66, and versus one plain
vectorised ``scipy.stats.binom.sf`` call over the same (n, b) grid (the unavoidable floor).
Target: well under a second per design at N = 200.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _timing import median_seconds  # noqa: E402

from toxdb.monitoring.boundary import (  # noqa: E402
    compute_boundary,
    compute_operating_characteristics,
)

P0, P1, CP0 = 0.30, 0.45, 0.10
DESIGNS = {
    "Pocock (delta=0)": dict(delta=0.0),
    "OBF (delta=0.5)": dict(delta=0.5),
    "Bayesian Beta(0.6,1.4) >0.90": dict(method="bayesian", prior=(0.6, 1.4), threshold=0.90),
}


def _design_and_oc(n_max: int, kw: dict) -> None:
    r = compute_boundary(n_max, P0, p1=P1, cp0=CP0, **kw)
    compute_operating_characteristics(r)


def _sf_grid(n_max: int) -> None:
    n = np.arange(1, n_max + 1)[:, None]
    b = np.arange(0, n_max + 1)[None, :]
    stats.binom.sf(b - 1, n, P0)


def main() -> int:
    n_big, n_trial = 200, 66
    base_sf = median_seconds(lambda: _sf_grid(n_big), repeats=7)
    print(f"baseline: one binom.sf call over the {n_big}x{n_big + 1} grid: {base_sf:.4f} s")
    print(f"{'design':<32}{'N=200 (s)':>10}{'N=66 (s)':>10}{'200/66':>8}{'vs sf':>8}")
    worst = 0.0
    for name, kw in DESIGNS.items():
        t_big = median_seconds(lambda kw=kw: _design_and_oc(n_big, kw), repeats=7)
        t_small = median_seconds(lambda kw=kw: _design_and_oc(n_trial, kw), repeats=7)
        worst = max(worst, t_big)
        print(f"{name:<32}{t_big:>10.4f}{t_small:>10.4f}{t_big / t_small:>8.1f}{t_big / base_sf:>8.1f}")
    verdict = "OK" if worst < 1.0 else "TOO SLOW"
    print(f"slowest design at N={n_big}: {worst:.4f} s ({verdict}: target well under 1 s)")
    return 0 if worst < 1.0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
