"""`python -m toxdb ...`: the same store and rules as the dashboard, for scripts and nightly jobs."""
from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from pathlib import Path

from toxdb.identity import current_user
from toxdb.ingest.upload import import_paths, seed_sample
from toxdb.store import StoreError, default_db_path, open_store
from toxdb.trial import TrialFileError

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "sample_data"
# Sub-commands that live beside their domain module; each module has register(subparsers).
COMMAND_MODULES = ("toxdb.cli_boundary", "toxdb.cli_export")


def _db_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", type=Path, default=None, help="DuckDB file (default: $TOXDB_DB or data/toxdb.duckdb)")


def cmd_init(args) -> int:
    path = args.db or default_db_path()
    existed = path.exists()
    with open_store(path) as store:
        print(f"{'opened' if existed else 'created'} {path} (schema version {store.schema_version()})")
        if args.sample:
            if store.status_counts()["uploads"]:
                print("the database already holds uploads; sample data not added")
            else:
                for o in seed_sample(store, SAMPLE_DIR):
                    print("  " + o.message)
    return 0


def cmd_import(args) -> int:
    day_first = True if args.day_first else (False if args.month_first else None)
    with open_store(args.db or default_db_path()) as store:
        outcomes = import_paths(store, args.files, current_user(), kind=args.kind, site=args.site, day_first=day_first)
        failed = 0
        for o in outcomes:
            print(o.message)
            if o.error:
                failed += 1
                continue
            plan = o.plan
            for note in plan.notes:
                print(f"  note: {note}")
            problems = plan.validation.problems if plan.validation is not None else None
            if problems is not None and len(problems):
                rejected = problems[problems["status"] == "rejected"]
                for reason in rejected["reasons"].head(args.show):
                    print(f"  rejected: {reason}")
                if len(rejected) > args.show:
                    print(f"  ... and {len(rejected) - args.show} more rejected rows "
                          f"(all kept; list them with: python -m toxdb export rejects --upload "
                          f"{o.counts.upload_id if o.counts else '?'} --csv)")
    return 1 if failed else 0


def cmd_status(args) -> int:
    path = args.db or default_db_path()
    with open_store(path, read_only=True) as store:
        counts = store.status_counts()
        if args.json:
            print(json.dumps(counts))
        else:
            print(f"{path} (schema version {store.schema_version()})")
            for k, v in counts.items():
                print(f"  {k:18} {v}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m toxdb", description="toxdb: adverse-event toxicity store")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("init", help="create a database (optionally with the sample trial)")
    _db_arg(p)
    p.add_argument("--sample", action="store_true", help="load sample_data/ into a new database")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("import", help="import CSV / Excel / SDTM files")
    _db_arg(p)
    p.add_argument("--kind", choices=["patients", "treatment", "ae", "labs"], help="kind of table (default: detect)")
    p.add_argument("--site", help="site code (uses the site's saved column mapping)")
    order = p.add_mutually_exclusive_group()
    order.add_argument("--day-first", action="store_true", help="dates like 03/06/2025 are day-first")
    order.add_argument("--month-first", action="store_true", help="dates like 03/06/2025 are month-first")
    p.add_argument("--show", type=int, default=10, help="how many rejected rows to print per file")
    p.add_argument("files", nargs="+", type=Path)
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("status", help="counts of what the database holds")
    _db_arg(p)
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.set_defaults(func=cmd_status)

    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (StoreError, TrialFileError) as exc:
        print(f"toxdb: {exc}", file=sys.stderr)
        return 3
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
