"""``init``, ``import`` and ``status``: create a store, load files into it, count what it holds."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from toxdb.cli.common import add_db_arg, say_waiting
from toxdb.access import denial, local_person
from toxdb.i18n import _
from toxdb.identity import current_user
from toxdb.ingest.upload import import_paths, seed_sample
from toxdb.store.db import default_db_path, open_store
from toxdb.vocab import KINDS

SAMPLE_DIR = Path(__file__).resolve().parents[2] / "sample_data"


def _cmd_init(args) -> int:
    path = args.db or default_db_path()
    existed = path.exists()
    with open_store(path, on_wait=say_waiting) as store:
        print(f"{'opened' if existed else 'created'} {path} (schema version {store.schema_version()})")
        if args.sample:
            if store.status_counts()["uploads"]:
                print("the database already holds uploads; sample data not added")
            else:
                for o in seed_sample(store, SAMPLE_DIR):
                    print("  " + o.message)
    return 0


def _cmd_import(args) -> int:
    me = local_person()
    reason = denial(me, "upload", args.site)            # the OS user as [roles] local_role (D62)
    if reason is not None:
        print(f"toxdb: {reason}", file=sys.stderr)
        return 2
    day_first = True if args.day_first else (False if args.month_first else None)
    with open_store(args.db or default_db_path(), on_wait=say_waiting) as store:
        outcomes = import_paths(store, args.files, me.identity, kind=args.kind, site=args.site, day_first=day_first,
                                map_args=args.map, ctcae=args.ctcae)
        failed = 0
        for o in outcomes:
            print(o.message)
            if o.error:
                failed += 1
                continue
            plan = o.plan
            for note in plan.notes:
                print(f"  note: {note}")
            if args.site and args.map and o.counts is not None and plan.value_map:
                store.save_value_map(args.site, plan.kind, plan.value_map, current_user())
            if plan.mapping.unmapped:
                print("  " + _("ignored columns: {columns}").format(columns=", ".join(plan.mapping.unmapped)))
            for column, values in plan.unknown_values.items():
                print("  " + _("values of {column} no vocabulary knows: {values}; map them with --map VALUE=TARGET")
                      .format(column=column, values=", ".join(values[:10])))
            flags = plan.validation.flags if plan.validation is not None else None
            if flags is not None and len(flags):
                for _row, msg in flags[["source_row", "message"]].head(args.show).itertuples(index=False):
                    print("  " + _("flagged: {file}, row {row}: {why}").format(file=plan.file_name, row=_row, why=msg))
                if len(flags) > args.show:
                    print("  " + _("... and {n} more flags (list them with: python -m toxdb export flags --csv)")
                          .format(n=len(flags) - args.show))
            _print_changes(plan, args.show)
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


def _print_changes(plan, show: int) -> None:
    """The stored values a correction changed (or, when nothing was loaded, would change)."""
    changes = plan.changes()
    for r in changes.head(show).itertuples(index=False):
        print("  " + _("row {row}: {column} {stored} -> {incoming}").format(
            row=r.source_row, column=r.column, stored=r.stored, incoming=r.incoming))
    if len(changes) > show:
        print("  " + _("... and {n} more changed values").format(n=len(changes) - show))


def _cmd_status(args) -> int:
    path = args.db or default_db_path()
    with open_store(path, read_only=True, on_wait=say_waiting) as store:
        counts = store.status_counts()
        if args.json:
            print(json.dumps(counts))
        else:
            print(f"{path} (schema version {store.schema_version()})")
            for k, v in counts.items():
                print(f"  {k:18} {v}")
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("init", help="create a database (optionally with the sample trial)")
    add_db_arg(p)
    p.add_argument("--sample", action="store_true", help="load sample_data/ into a new database")
    p.set_defaults(func=_cmd_init)

    p = sub.add_parser("import", help="import CSV / Excel / SDTM files")
    add_db_arg(p)
    p.add_argument("--kind", choices=list(KINDS), help="kind of table (default: detect)")
    p.add_argument("--site", help="site code (uses the site's saved column mapping)")
    order = p.add_mutually_exclusive_group()
    order.add_argument("--day-first", action="store_true", help="dates like 03/06/2025 are day-first")
    order.add_argument("--month-first", action="store_true", help="dates like 03/06/2025 are month-first")
    p.add_argument("--show", type=int, default=10, help="how many rejected rows to print per file")
    p.add_argument("--ctcae", choices=["5", "6", "5.0", "6.0"], default=None,
                   help="CTCAE version the adverse-event terms are written in (default: told by the terms, "
                        "else the trial's version of record)")
    p.add_argument("--map", action="append", metavar="[COLUMN:]VALUE=TARGET",
                   help="map a site's own value, e.g. XANOMELINE=capecitabine, PLACEBO=other (not a protocol "
                        "treatment: kept, not used), serious:Oui=Y; saved for --site when given (repeat)")
    p.add_argument("files", nargs="+", type=Path)
    p.set_defaults(func=_cmd_import)

    p = sub.add_parser("status", help="counts of what the database holds")
    add_db_arg(p)
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.set_defaults(func=_cmd_status)
