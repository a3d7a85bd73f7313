"""``export`` subcommand: tables out of the store for scripts and spreadsheets.

    python -m toxdb export events --db trial.duckdb --cut 2026-06-30 --csv     # one row per event
    python -m toxdb export incidence --db trial.duckdb --csv                   # the Toxicity page's table
    python -m toxdb export rejects --db trial.duckdb --upload 7 --csv          # rejected rows to fix
    python -m toxdb export flags --db trial.duckdb --site SITE-A --csv         # stored rows to query

The store is read with a read-only connection; then one audit entry (who, which export, the cut, the
site scope, how many rows, where to) is written before any row is (D67). ``--csv writes UTF-8 CSV (with BOM, formula-safe) to stdout or
``--out FILE``; without it a plain-text table is printed. ``--cut DATE`` shows the trial as of that
clinical date (default: today).

Every export is a row of ``EXPORTS`` below: ``build(store, args) -> DataFrame``, a help line and its
own arguments. Builders that belong to another area live beside it (``export_advice``,
``export_labs``).
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from toxdb.cli.common import add_db_arg, cut_from_args, parse_date, record_cli_action, say_waiting, scope_words
from toxdb.cli.export_advice import advice_args, build_advice
from toxdb.cli.export_labs import (
    build_lab_values,
    build_queries,
    lab_values_args,
    queries_args,
)
from toxdb.cli.export_queries import build_site_queries, site_queries_args
from toxdb.clinical.events import derive_snapshot_events
from toxdb.i18n import _
from toxdb.clinical.incidence import compute_incidence, format_incidence
from toxdb.reports.export import frame_to_csv_bytes, rejected_rows_for_fixing
from toxdb.store.cuts import load_snapshot
from toxdb.store.db import Store, default_db_path, open_store
from toxdb.trial import load_trial
from toxdb.vocab import ATTRIBUTION_ORDER, COHORTS

__all__ = ["EXPORTS", "register", "run"]


@dataclass(frozen=True)
class ExportKind:
    help: str
    build: Callable[[Store, argparse.Namespace], pd.DataFrame]
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None
    uses_cut: bool = True


def _derived(store: Store, args):
    window = args.window if getattr(args, "window", None) is not None else \
        load_trial().phases.post_treatment_window_days
    return derive_snapshot_events(load_snapshot(store, cut_from_args(args), with_labs=False), window)


def build_events(store: Store, args) -> pd.DataFrame:
    """One row per adverse event (grade changes merged) with phase and treatment-emergent flag."""
    events = _derived(store, args).events
    out = events.copy()
    for c in ("onset_date", "end_date"):
        out[c] = pd.to_datetime(out[c]).dt.strftime("%Y-%m-%d")    # an empty column may come untyped
    return out


def build_incidence(store: Store, args) -> pd.DataFrame:
    """The Toxicity page's table: n (x%) of patients at risk by worst grade, per phase."""
    d = _derived(store, args)
    res = compute_incidence(d.events, d.milestones, patients=d.patients, sites=args.site or None,
                            attribution=args.attribution or None, serious_only=args.serious_only,
                            window_days=d.window_days)
    table = res.table
    if args.phase:
        table = table[table["phase"] == args.phase]
    if args.numbers:
        return table.reset_index(drop=True)
    out = format_incidence(table)
    out.insert(1, "Level", table["level"].to_numpy())
    return out


def build_rejects(store: Store, args) -> pd.DataFrame:
    """Rejected rows with file, row, reasons and the row's own cells as uploaded."""
    return rejected_rows_for_fixing(store.rejected_rows(args.upload))


def build_flags(store: Store, args) -> pd.DataFrame:
    """Stored rows that raise a query to the site (D50): file, row, subject, what to confirm."""
    flags = store.flags(args.upload)
    return flags[flags["site"].isin(args.site)].reset_index(drop=True) if args.site else flags


def _flags_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--upload", type=int, default=None, metavar="N", help="only flags of upload N")


def _incidence_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--phase", choices=list(COHORTS), help="one phase only (default: all three)")
    p.add_argument("--attribution", action="append", choices=list(ATTRIBUTION_ORDER),
                   help="only events with this strongest attribution (repeat for several)")
    p.add_argument("--serious-only", action="store_true", help="only serious events")
    p.add_argument("--numbers", action="store_true", help="numeric columns (n_g1.., pct_g1..) instead of 'n (x%%)'")


def _window_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--window", type=int, default=None, metavar="DAYS",
                   help="post-treatment window in days (default: trial.toml phases.post_treatment_window_days)")


def _rejects_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--upload", type=int, default=None, metavar="N", help="only rejected rows of upload N")


EXPORTS: dict[str, ExportKind] = {
    "events": ExportKind("one row per adverse event with phase and treatment-emergent flag", build_events,
                         _window_arg),
    "incidence": ExportKind("incidence by SOC/term x worst grade x phase (the Toxicity page's table)",
                            build_incidence, lambda p: (_incidence_args(p), _window_arg(p))),
    "rejects": ExportKind("rejected rows with file, row, reasons and raw cells", build_rejects, _rejects_args,
                          uses_cut=False),
    "flags": ExportKind("stored rows flagged for a query to the site (grade not in CTCAE, term outside CTCAE, ...)",
                        build_flags, _flags_args, uses_cut=False),
    "advice": ExportKind("dose advice per patient and agent (the Dose advice page's table)", build_advice,
                         advice_args),
    "queries": ExportKind("lab values with no AE, or a lower-grade AE (the Lab queries page's table)",
                          build_queries, queries_args),
    "site-queries": ExportKind("queries to sites, one row per message (who wrote what, when)", build_site_queries,
                               site_queries_args, uses_cut=False),
    "labs": ExportKind("every lab value with its baseline and CTCAE grade (--ctcae 5|6)", build_lab_values,
                       lab_values_args),
}


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``export`` with one sub-subcommand per entry of EXPORTS."""
    p = subparsers.add_parser("export", help="export events, incidence, advice, queries, labs or rejected rows (CSV)",
                              description=__doc__.split("\n\n")[0])
    kinds = p.add_subparsers(dest="export_kind", required=True, metavar="KIND")
    for name, kind in EXPORTS.items():
        k = kinds.add_parser(name, help=kind.help, description=kind.help)
        add_db_arg(k)
        if kind.uses_cut:
            k.add_argument("--cut", type=parse_date, default=None, metavar="DATE",
                           help="data cut: the trial as of this date (default: today)")
        k.add_argument("--csv", action="store_true", help="CSV (UTF-8 with BOM) instead of a text table")
        k.add_argument("--out", type=Path, default=None, help="write to this file instead of stdout")
        k.add_argument("--site", action="append", default=None, metavar="SITE",
                       help="only the patients of this site (repeat for several): what its coordinator sees (D64)")
        if kind.add_arguments:
            kind.add_arguments(k)
        k.set_defaults(func=run, export=name)
    return p


def audit_detail(args, frame: pd.DataFrame) -> dict:
    """What the audit log records of an export (D67): kind, cut, site scope, rows, format, target."""
    detail = {"export": args.export, "cut": cut_from_args(args).cut_date.isoformat() if EXPORTS[args.export].uses_cut
              else None, "sites": scope_words(getattr(args, "site", None)), "rows": len(frame),
              "format": "csv" if args.csv else "text", "to": str(args.out) if args.out else "stdout"}
    if getattr(args, "upload", None) is not None:
        detail["upload_id"] = args.upload
    return detail


def run(args) -> int:
    kind = EXPORTS[args.export]
    db = args.db or default_db_path()
    with open_store(db, read_only=True, on_wait=say_waiting) as store:
        frame = kind.build(store.scoped(getattr(args, "site", None)), args)
    record_cli_action(db, "export", audit_detail(args, frame))      # before any row leaves (D67)
    if frame.empty:
        print(_("No rows to export ({kind}) in this database as of this cut.").format(kind=args.export),
              file=sys.stderr)
    if args.csv:
        data = frame_to_csv_bytes(frame)
    elif frame.empty:
        data = b""
    else:
        with pd.option_context("display.max_rows", None, "display.max_columns", None, "display.width", 200):
            data = (frame.to_string(index=False) + "\n").encode("utf-8")
    if args.out:
        args.out.write_bytes(data)
        print(f"wrote {len(frame)} rows to {args.out}", file=sys.stderr)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    return 0
