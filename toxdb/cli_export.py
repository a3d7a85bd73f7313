"""``export`` subcommand: tables out of the store for scripts and spreadsheets.

    python -m toxdb export events --db trial.duckdb --cut 2026-06-30 --csv     # one row per event
    python -m toxdb export incidence --db trial.duckdb --csv                   # the Toxicity page's table
    python -m toxdb export rejects --db trial.duckdb --upload 7 --csv          # rejected rows to fix

The store is opened read-only. ``--csv`` writes UTF-8 CSV (with BOM, formula-safe) to stdout or
``--out FILE``; without it a plain-text table is printed. ``--cut DATE`` shows the trial as of that
clinical date (default: today).

Adding an export: write ``build(store, args) -> DataFrame`` and register it, e.g.::

    from toxdb.cli_export import register_export
    register_export("advice", "dose advice per patient", build_advice, add_arguments=add_advice_args)

either in this file's EXPORTS table or from a module listed in EXTRA_EXPORT_MODULES (imported
before the parser is built, so its register_export calls take effect).
"""
from __future__ import annotations

import argparse
import datetime as dt
import importlib
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from toxdb.store import Store, default_db_path, open_store

__all__ = ["register", "register_export", "EXPORTS", "run"]


@dataclass(frozen=True)
class ExportKind:
    help: str
    build: Callable[[Store, argparse.Namespace], pd.DataFrame]
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None
    uses_cut: bool = True


EXPORTS: dict[str, ExportKind] = {}
# optional modules that call register_export() when imported (e.g. a dose-advice export)
EXTRA_EXPORT_MODULES: tuple[str, ...] = ("toxdb.cli_export_advice", "toxdb.cli_export_labs")


def register_export(name: str, help: str, build: Callable[[Store, argparse.Namespace], pd.DataFrame],
                    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None,
                    uses_cut: bool = True) -> None:
    """Add (or replace) an export kind: ``python -m toxdb export <name> ...``."""
    EXPORTS[name] = ExportKind(help, build, add_arguments, uses_cut)


def _cut(args):
    from toxdb.cuts import DataCut

    return DataCut(args.cut or dt.date.today())


def _derived(store: Store, args):
    from toxdb.cuts import load_snapshot
    from toxdb.derive import derive_snapshot_events
    from toxdb.trial import load_trial

    window = args.window if getattr(args, "window", None) is not None else \
        load_trial().phases.post_treatment_window_days
    return derive_snapshot_events(load_snapshot(store, _cut(args), with_labs=False), window)


def build_events(store: Store, args) -> pd.DataFrame:
    """One row per adverse event (grade changes merged) with phase and treatment-emergent flag."""
    events = _derived(store, args).events
    out = events.copy()
    for c in ("onset_date", "end_date"):
        out[c] = out[c].dt.strftime("%Y-%m-%d")
    return out


def build_incidence(store: Store, args) -> pd.DataFrame:
    """The Toxicity page's table: n (x%) of patients at risk by worst grade, per phase."""
    from toxdb.derive import compute_incidence, format_incidence

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
    from toxdb.export import rejected_rows_for_fixing

    return rejected_rows_for_fixing(store.rejected_rows(args.upload))


def _incidence_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--phase", choices=["concurrent", "maintenance", "all"], help="one phase only (default: all three)")
    p.add_argument("--site", action="append", help="only this site (repeat for several)")
    p.add_argument("--attribution", action="append",
                   choices=["unrelated", "unlikely", "possible", "probable", "definite"],
                   help="only events with this strongest attribution (repeat for several)")
    p.add_argument("--serious-only", action="store_true", help="only serious events")
    p.add_argument("--numbers", action="store_true", help="numeric columns (n_g1.., pct_g1..) instead of 'n (x%%)'")


def _window_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--window", type=int, default=None, metavar="DAYS",
                   help="post-treatment window in days (default: trial.toml phases.post_treatment_window_days)")


def _rejects_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--upload", type=int, default=None, metavar="N", help="only rejected rows of upload N")


register_export("events", "one row per adverse event with phase and treatment-emergent flag", build_events,
                _window_arg)
register_export("incidence", "incidence by SOC/term x worst grade x phase (the Toxicity page's table)",
                build_incidence, lambda p: (_incidence_args(p), _window_arg(p)))
register_export("rejects", "rejected rows with file, row, reasons and raw cells", build_rejects, _rejects_args,
                uses_cut=False)


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``export`` with one sub-subcommand per entry of EXPORTS."""
    for name in EXTRA_EXPORT_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
    p = subparsers.add_parser("export", help="export events, incidence or rejected rows (CSV)",
                              description=__doc__.split("\n\n")[0])
    kinds = p.add_subparsers(dest="export_kind", required=True, metavar="KIND")
    for name, kind in EXPORTS.items():
        k = kinds.add_parser(name, help=kind.help, description=kind.help)
        k.add_argument("--db", type=Path, default=None, help="DuckDB file (default: $TOXDB_DB or data/toxdb.duckdb)")
        if kind.uses_cut:
            k.add_argument("--cut", type=_date, default=None, metavar="DATE",
                           help="data cut: the trial as of this date (default: today)")
        k.add_argument("--csv", action="store_true", help="CSV (UTF-8 with BOM) instead of a text table")
        k.add_argument("--out", type=Path, default=None, help="write to this file instead of stdout")
        if kind.add_arguments:
            kind.add_arguments(k)
        k.set_defaults(func=run, export=name)
    return p


def run(args) -> int:
    from toxdb.export import frame_to_csv_bytes

    kind = EXPORTS[args.export]
    with open_store(args.db or default_db_path(), read_only=True) as store:
        frame = kind.build(store, args)
    if args.csv:
        data = frame_to_csv_bytes(frame)
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
