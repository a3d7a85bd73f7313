"""``cut save`` / ``cut list``: freeze the data before a committee meeting; ``diff``: what changed
between two cuts.

    python -m toxdb cut save "DSMB 2026-12" --date 2026-11-30 --db trial.duckdb
    python -m toxdb cut list --json
    python -m toxdb diff "DSMB 2026-09" "DSMB 2026-12" --csv > changes.csv

A cut in ``diff`` is a saved cut's name or a date YYYY-MM-DD (the trial as of that day, with the
data as stored by the end of it; today = live data), decision D70. A diff is recorded in the audit
log under the OS user before it is printed (D67).
"""
from __future__ import annotations

import datetime as dt
import json
import sys
from typing import Any

import pandas as pd

from toxdb.cli.common import add_db_arg, parse_date, record_cli_action
from toxdb.identity import current_user
from toxdb.reports.diff import diff_cuts
from toxdb.reports.export import frame_to_csv_bytes
from toxdb.store.cuts import (
    CutNameError,
    UnknownCut,
    resolve_cut,
    save_cut,
)
from toxdb.store.db import default_db_path, open_store


def _cmd_save(args) -> int:
    with open_store(args.db or default_db_path()) as store:
        try:
            cut = save_cut(store, args.name, args.date or dt.date.today(), current_user())
        except CutNameError as exc:
            print(f"toxdb: cut not saved: {exc}", file=sys.stderr)
            return 2
    print(f"saved {cut.label} by {current_user()}")
    return 0


def _cmd_list(args) -> int:
    with open_store(args.db or default_db_path(), read_only=True) as store:
        frame = store.data_cuts()
    if args.json:
        print(json.dumps([{"name": r.name, "cut_date": pd.Timestamp(r.cut_date).strftime("%Y-%m-%d"),
                           "frozen_at": pd.Timestamp(r.frozen_at).isoformat(), "made_by": r.made_by}
                          for r in frame.itertuples(index=False)], ensure_ascii=False))
    elif not len(frame):
        print("no saved data cuts (save one with: python -m toxdb cut save NAME)")
    else:
        for r in frame.itertuples(index=False):
            print(f"{r.name}\tcut {pd.Timestamp(r.cut_date):%Y-%m-%d}\tfrozen {pd.Timestamp(r.frozen_at):%Y-%m-%d %H:%M}"
                  f"\tby {r.made_by}")
    return 0


def _cmd_diff(args) -> int:
    db = args.db or default_db_path()
    with open_store(db, read_only=True) as store:
        try:
            a, b = resolve_cut(store, args.cut_a), resolve_cut(store, args.cut_b)
        except UnknownCut as exc:
            print(f"toxdb: {exc}; list saved cuts with: python -m toxdb cut list", file=sys.stderr)
            return 2
        d = diff_cuts(store, a, b)
    record_cli_action(db, "diff", {"from": a.label, "to": b.label, "changes": len(d.table), "sites": "all",
                                   "format": "csv" if args.csv else "text", "to_file": "stdout"})
    if args.csv:
        sys.stdout.buffer.write(frame_to_csv_bytes(d.table))
        sys.stdout.flush()
        return 0
    print(f"from {a.label}\n  to {b.label}")
    with pd.option_context("display.max_rows", None, "display.max_columns", None, "display.width", 200):
        print(d.summary.to_string(index=False))
        if len(d.table):
            print()
            print(d.table.to_string(index=False))
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("cut", help="save or list data cuts (frozen views of the data)")
    cmds = p.add_subparsers(dest="cut_command", required=True, metavar="ACTION")
    s = cmds.add_parser("save", help="freeze the data as stored now under NAME", description=_cmd_save.__doc__)
    add_db_arg(s)
    s.add_argument("name", metavar="NAME")
    s.add_argument("--date", type=parse_date, default=None, metavar="YYYY-MM-DD",
                   help="clinical cut date: events after it are not counted (default: today)")
    s.set_defaults(func=_cmd_save)
    ls = cmds.add_parser("list", help="the saved data cuts")
    add_db_arg(ls)
    ls.add_argument("--json", action="store_true", help="one JSON array")
    ls.set_defaults(func=_cmd_list)

    d = sub.add_parser("diff", help="what was added, corrected or withdrawn between two data cuts")
    add_db_arg(d)
    d.add_argument("cut_a", metavar="CUT_A", help="a saved cut's name or a date YYYY-MM-DD")
    d.add_argument("cut_b", metavar="CUT_B", help="a saved cut's name or a date YYYY-MM-DD")
    d.add_argument("--csv", action="store_true",
                   help="one row per change: table, subject_id, record, change, column, old, new (UTF-8 with BOM)")
    d.set_defaults(func=_cmd_diff)
