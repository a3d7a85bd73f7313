"""``export queries``: the Lab queries page's table, one row per open lab-vs-AE query.

    python -m toxdb export queries --db trial.duckdb --cut 2026-06-30 --csv
    python -m toxdb export queries --db trial.duckdb --window 10 --site SYSU --csv
    python -m toxdb export queries --db trial.duckdb --not-graded --csv     # values that could not be graded
    python -m toxdb export labs --db trial.duckdb --ctcae 6 --cut 2026-06-30 --csv   # every value, graded

Columns (queries): subject_id, site, collected_on, test, value, unit, lab_grade, ctcae_term,
reported_grade (empty when no AE), issue, query (in words), first_on, last_on, n_labs, ae_onset,
grade_note. The rule is in toxdb/clinical/lab_queries.py (default window: 7 days around the AE).

Columns (labs): subject_id, collected_on, test, value, unit, lln, uln, baseline (the value's unit; the
last value of the test before the first treatment), grade (under --ctcae, default the trial's version
of record; empty when the value cannot be graded).
"""
from __future__ import annotations

import argparse

import pandas as pd

from toxdb.cli.common import cut_from_args
from toxdb.store.db import Store


def build_queries(store: Store, args) -> pd.DataFrame:
    from toxdb.clinical.lab_queries import (
        compute_lab_queries,
        filter_lab_queries,
        lab_queries_for_export,
    )
    from toxdb.store.cuts import load_snapshot
    from toxdb.trial import load_trial

    result = compute_lab_queries(load_snapshot(store, cut_from_args(args)), load_trial(), window_days=args.window)
    frame = result.flagged if args.not_graded else result.table
    return lab_queries_for_export(filter_lab_queries(frame, args.site, args.test))


def queries_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--window", type=int, default=None, metavar="DAYS",
                   help="days a lab date may lie before an AE's onset or after its end "
                        "(default: [lab_queries] window_days of the trial file)")
    p.add_argument("--test", action="append", help="only this test code, e.g. ANC (repeat for several)")
    p.add_argument("--not-graded", action="store_true",
                   help="the values that could not be graded (and why) instead of the queries")


def build_lab_values(store: Store, args) -> pd.DataFrame:
    """Every lab value up to the cut with its baseline and its grade under the chosen CTCAE version."""
    from toxdb.clinical.ctcae_versions import ctcae_version, version_of_record
    from toxdb.clinical.labs import (
        LAB_EXPORT_COLUMNS,
        derive_lab_grades_with_baselines,
        lab_values_for_export,
    )
    from toxdb.clinical.treatment import derive_treatment_milestones
    from toxdb.store.cuts import load_snapshot

    cut = cut_from_args(args)
    version = ctcae_version(args.ctcae) if args.ctcae else version_of_record()
    snap = load_snapshot(store, cut, with_ae=False)
    labs = snap.labs
    if labs is None or labs.empty:
        return pd.DataFrame(columns=LAB_EXPORT_COLUMNS)
    labs = labs[pd.to_datetime(labs["collected_on"]).dt.normalize() <= pd.Timestamp(cut.cut_date)]
    starts = derive_treatment_milestones(snap.treatment, cut.cut_date)[["subject_id", "first_treatment"]]
    graded = derive_lab_grades_with_baselines(labs.reset_index(drop=True), starts, version)
    return lab_values_for_export(graded, version)


def lab_values_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ctcae", choices=["5", "6", "5.0", "6.0"], default=None,
                   help="CTCAE version of the grade column (default: the trial file's version of record)")
