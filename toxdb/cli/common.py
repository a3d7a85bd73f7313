"""Arguments every command shares: the database file, a date, the data cut."""
from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from toxdb.store.cuts import DataCut


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
