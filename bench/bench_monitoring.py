"""Benchmark: the Monitoring page's server work for 100 and 10,000 patients.

    python bench/bench_monitoring.py

Builds two DuckDB stores from simple canonical CSVs generated here with numpy (patients, treatment
with concurrent + maintenance cycles, about 10 adverse events per patient), loaded through
toxdb.ingest.upload.import_paths.  Times what the page does on a cold cache: load the snapshot at
the cut (without adverse events), read each patient's first qualifying AE rows from DuckDB, build
the three cohorts (one pass) and compute_monitoring for all, concurrent and
maintenance (boundary + operating characteristics cached per design, as on the page).  Prints the
median seconds for each size and their ratio (target <= 3x), then the boundary + operating
characteristics time for N = 200.
"""
from __future__ import annotations

import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _timing import median_seconds, page_seconds  # noqa: E402

from toxdb.clinical.events_sql import read_first_qualifying_rows  # noqa: E402
from toxdb.ingest.upload import import_paths  # noqa: E402
from toxdb.monitoring.cohorts import derive_monitoring_cohorts  # noqa: E402
from toxdb.monitoring.design import MonitoringDesign, compute_design  # noqa: E402
from toxdb.monitoring.status import compute_monitoring  # noqa: E402
from toxdb.vocab import COHORTS  # noqa: E402
from toxdb.store.cuts import DataCut, load_snapshot  # noqa: E402
from toxdb.store.db import Store  # noqa: E402
from toxdb.trial import load_trial  # noqa: E402

CUT = dt.date(2026, 11, 16)
TERMS = ["Diarrhea", "Nausea", "Fatigue", "Palmar-plantar erythrodysesthesia syndrome", "Anorexia",
         "Neutrophil count decreased", "Platelet count decreased", "Vomiting"]
ATTRIBUTIONS = ["unrelated", "unlikely", "possible", "probable", "definite"]


def write_csvs(folder: Path, n_patients: int, ae_per_patient: int = 10, seed: int = 7) -> list[Path]:
    rng = np.random.default_rng(seed)
    ids = np.array([f"BN-{i:05d}" for i in range(n_patients)])
    first = pd.Timestamp("2025-06-02") + pd.to_timedelta(rng.integers(0, 420, n_patients), unit="D")
    enrolled = first - pd.to_timedelta(rng.integers(3, 20, n_patients), unit="D")
    off = rng.random(n_patients) < 0.3
    off_day = first + pd.to_timedelta(rng.integers(20, 200, n_patients), unit="D")
    reason = np.where(rng.random(n_patients) < 0.5, "completed", "toxicity")
    recur = rng.random(n_patients) < 0.1
    pd.DataFrame({
        "subject_id": ids, "site": "BENCH", "enrolled_on": enrolled.date, "sex": np.where(rng.random(n_patients) < .5,
                                                                                        "M", "F"),
        "age": rng.integers(30, 79, n_patients), "height_cm": 165.0, "weight_kg": 62.0,
        "serum_creatinine": 70, "serum_creatinine_unit": "umol/L", "agent": "capecitabine",
        "off_treatment_on": pd.Series(off_day.date).where(off), "off_treatment_reason": pd.Series(reason).where(off),
        "recurrence_on": pd.Series((first + pd.Timedelta(days=150)).date).where(recur),
        "last_contact_on": CUT - dt.timedelta(days=5),
    }).to_csv(folder / "patients.csv", index=False)
    rows = []
    for cycle in range(4):  # two concurrent cycles, two maintenance cycles, RT alongside
        phase = "concurrent" if cycle < 2 else "maintenance"
        start = first + pd.Timedelta(days=21 * cycle + (21 if cycle >= 2 else 0))
        rows.append(pd.DataFrame({"subject_id": ids, "treatment": "capecitabine", "phase": phase, "cycle": cycle + 1,
                                  "start_date": start.date, "end_date": (start + pd.Timedelta(days=13)).date,
                                  "dose": 1600 if cycle < 2 else 2000, "dose_unit": "mg/m2/day", "fractions": None}))
    rows.append(pd.DataFrame({"subject_id": ids, "treatment": "RT", "phase": "concurrent", "cycle": None,
                              "start_date": first.date, "end_date": (first + pd.Timedelta(days=39)).date,
                              "dose": 56, "dose_unit": "Gy", "fractions": 25}))
    treatment = pd.concat(rows, ignore_index=True)
    treatment = treatment[pd.to_datetime(treatment["start_date"]) <= pd.Timestamp(CUT)]
    treatment.to_csv(folder / "treatment.csv", index=False)
    n_ae = n_patients * ae_per_patient
    who = rng.integers(0, n_patients, n_ae)
    onset = first[who] + pd.to_timedelta(rng.integers(-5, 180, n_ae), unit="D")
    onset = onset.where(onset <= pd.Timestamp(CUT), pd.Timestamp(CUT))
    pd.DataFrame({
        "subject_id": ids[who], "ae_ref": [f"AE-{i}" for i in range(n_ae)], "term": rng.choice(TERMS, n_ae),
        "grade": rng.choice([1, 2, 3, 4], n_ae, p=[0.5, 0.3, 0.17, 0.03]), "onset_date": onset.date,
        "end_date": (onset + pd.to_timedelta(rng.integers(1, 20, n_ae), unit="D")).date, "serious": "N",
        "attribution": rng.choice(ATTRIBUTIONS, n_ae),
    }).to_csv(folder / "adverse_events.csv", index=False)
    return [folder / "patients.csv", folder / "treatment.csv", folder / "adverse_events.csv"]


def build_store(folder: Path, n_patients: int) -> Store:
    folder.mkdir(parents=True, exist_ok=True)
    files = write_csvs(folder, n_patients)
    store = Store(folder / "bench.duckdb")
    kinds = {"patients.csv": "patients", "treatment.csv": "treatment", "adverse_events.csv": "ae"}
    for f in files:
        out = import_paths(store, [f], "bench", kind=kinds[f.name])
        assert all(o.error is None for o in out), [o.message for o in out]
    return store


def page_work(store: Store, trial) -> dict:
    """What the page computes (as app/pages/monitoring.py through app.state.monitoring_inputs): the snapshot
    without adverse events, each patient's first qualifying rows from DuckDB, the cohorts from them."""
    cut = DataCut(CUT)
    snap = load_snapshot(store, cut, with_labs=False, with_ae=False)
    firsts = read_first_qualifying_rows(store, cut, int(trial.phases.post_treatment_window_days), trial.monitoring)
    cohorts = derive_monitoring_cohorts(snap, trial, events=firsts)
    design = MonitoringDesign.from_trial(trial)
    return {ph: compute_monitoring(snap, trial, ph, design, cohort=cohorts[ph]) for ph in COHORTS}


def main() -> None:
    trial = load_trial()
    with tempfile.TemporaryDirectory() as tmp:
        results = {}
        for n in (100, 10_000):
            t0 = time.perf_counter()
            store = build_store(Path(tmp) / f"n{n}", n)
            build = time.perf_counter() - t0
            res = page_work(store, trial)
            core = median_seconds(lambda: page_work(store, trial))
            s = res["all"].summary
            db = store.path
            store.close()
            cold, warm = page_seconds(db, "app/pages/monitoring.py")
            results[n] = (core, cold, warm)
            print(f"{n:>6} patients ({len(res['all'].table):,} evaluable, {s['x']:,} with an event; store built in "
                  f"{build:.1f} s): page work {core:.3f} s, page run cold {cold:.3f} s, warm {warm:.3f} s")
        small, big = results[100], results[10_000]
        for i, what in enumerate(("page work (uncached)", "page run, first after new data", "page run, cached")):
            ratio = big[i] / small[i]
            print(f"ratio 10,000 / 100 patients, {what}: {ratio:.2f}x (target <= 3x) "
                  f"{'OK' if ratio <= 3 else 'ABOVE TARGET'}")

    for label, design in (("Pocock-type", MonitoringDesign(n_max=200)),
                          ("O'Brien-Fleming-type", MonitoringDesign(n_max=200, delta=0.5)),
                          ("Bayesian", MonitoringDesign(n_max=200, method="bayesian"))):
        t0 = time.perf_counter()
        compute_design.__wrapped__(design)  # uncached
        print(f"boundary + operating characteristics, N = 200, {label}: {time.perf_counter() - t0:.3f} s")


if __name__ == "__main__":
    main()
