"""Arguments every command shares: the database file, a date, the data cut."""
from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from toxdb.i18n import _
from toxdb.store.cuts import DataCut
from toxdb.store.db import StoreError, open_store


def add_db_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", type=Path, default=None, help="DuckDB file (default: $TOXDB_DB or data/toxdb.duckdb)")


def say_waiting(sentence: str) -> None:
    """Tell the person at the terminal that the command is waiting for the database (D45)."""
    print(f"toxdb: {sentence}", file=sys.stderr, flush=True)


def parse_date(text: str) -> dt.date:
    """An argparse type: YYYY-MM-DD, or a usage error naming what was given."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def cut_from_args(args: argparse.Namespace) -> DataCut:
    """The data cut a command works on: ``--cut DATE``, or today."""
    return DataCut(getattr(args, "cut", None) or dt.date.today())


def record_cli_action(db: Path, action: str, detail: dict) -> None:
    """Write the audit entry of a command that only read the store (an export, a diff), as the OS user
    (D67): the file is opened for writing just for this one entry, with the bounded wait of D45, after
    the reading is done and before anything leaves. When the entry cannot be written, StoreError says
    that nothing was written and why (the command stops, exit 3)."""
    from toxdb.identity import current_user

    try:
        with open_store(db, on_wait=say_waiting) as store:
            store.record_audit(current_user(), action, detail)
    except StoreError as exc:
        raise StoreError(_("nothing was written: the {action} could not be recorded in the audit log, and "
                           "toxdb lets no data out unrecorded. {why}").format(action=action, why=exc)) from None


def scope_words(sites) -> list[str] | str:
    """The site scope as the audit log records it: the sites asked for, or "all"."""
    return sorted(set(sites)) if sites else "all"
