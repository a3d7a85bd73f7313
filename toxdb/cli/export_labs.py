"""``export queries``: the Lab queries page's table, one row per open lab-vs-AE query.

    python -m toxdb export queries --db trial.duckdb --cut 2026-06-30 --csv
    python -m toxdb export queries --db trial.duckdb --window 10 --site SYSU --csv
    python -m toxdb export queries --db trial.duckdb --not-graded --csv     # values that could not be graded

Columns (queries): subject_id, site, collected_on, test, value, unit, lab_grade, ctcae_term,
reported_grade (empty when no AE), issue, query (in words), first_on, last_on, n_labs, ae_onset,
grade_note. The rule is in toxdb/clinical/lab_queries.py (default window: 7 days around the AE).
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
    from toxdb.clinical.lab_queries import DEFAULT_WINDOW_DAYS

    p.add_argument("--window", type=int, default=DEFAULT_WINDOW_DAYS, metavar="DAYS",
                   help=f"days a lab date may lie before an AE's onset or after its end (default {DEFAULT_WINDOW_DAYS})")
    p.add_argument("--site", action="append", help="only this site (repeat for several)")
    p.add_argument("--test", action="append", help="only this test code, e.g. ANC (repeat for several)")
    p.add_argument("--not-graded", action="store_true",
                   help="the values that could not be graded (and why) instead of the queries")
