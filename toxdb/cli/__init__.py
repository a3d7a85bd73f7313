"""`python -m toxdb ...`: the same store and rules as the dashboard, for scripts and nightly jobs.

Every command is registered here, explicitly: a module in ``COMMANDS`` has ``register(subparsers)``.
"""
from __future__ import annotations

import argparse
import os
import sys

from toxdb.cli import alerts, boundary, cut, data, export, report, users
from toxdb.i18n import _
from toxdb.ingest.readers import SettingError
from toxdb.store.db import StoreError
from toxdb.trial import TrialFileError

COMMANDS = (data, boundary, export, cut, report, users, alerts)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m toxdb", description="toxdb: adverse-event toxicity store")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in COMMANDS:
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (StoreError, TrialFileError, SettingError) as exc:
        print(f"toxdb: {exc}", file=sys.stderr)
        return 3
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:            # disk full, permissions: a sentence, not a traceback (D42)
        print("toxdb: " + _("{what} ({path}); nothing more was done.").format(
            what=exc.strerror or exc, path=exc.filename or "-"), file=sys.stderr)
        return 3
