"""``export site-queries``: queries to sites, one row per message of each thread (who wrote what, when).

    python -m toxdb export site-queries --db trial.duckdb --csv
    python -m toxdb export site-queries --db trial.duckdb --site SYSU --status open --csv

Columns: query_id, site, subject_id, kind (ae, labs, treatment, patients, lab_query), record_key,
record_label, status (now: open, answered, closed), raised_by, raised_at, written_at, author, role,
action (raise, answer, close, reopen), text (as written). Rules: toxdb/queries.py (D75, D76).
"""
from __future__ import annotations

import argparse

import pandas as pd

from toxdb.store.db import Store


def build_site_queries(store: Store, args) -> pd.DataFrame:
    from toxdb.queries import queries_for_export
    from toxdb.store.queries import read_queries, read_query_messages

    queries = read_queries(store, args.site)
    if args.status:
        queries = queries[queries["status"].isin(args.status)]
    return queries_for_export(queries, read_query_messages(store))


def site_queries_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--status", action="append", choices=["open", "answered", "closed"],
                   help="only queries with this status now (repeat for several)")
