"""`python -m toxdb ...`: the same store and rules as the dashboard, for scripts and nightly jobs.

Every command is registered here, explicitly: a module in ``COMMANDS`` has ``register(subparsers)``.
"""
from __future__ import annotations

import argparse
import os
import sys

from toxdb.cli import alerts, boundary, data, export
from toxdb.store.db import StoreError
from toxdb.trial import TrialFileError

COMMANDS = (data, boundary, export, alerts)


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
    except (StoreError, TrialFileError) as exc:
        print(f"toxdb: {exc}", file=sys.stderr)
        return 3
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
