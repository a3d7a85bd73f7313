"""What an import did, file by file, as a table a person reads: rows in, stored, flagged, rejected,
and the reasons for rejection grouped (the same reason for many rows counted once)."""
from __future__ import annotations

import re

import pandas as pd

from toxdb.i18n import _

_ROW_PREFIX = re.compile(r"^.*?, row \d+, ")
_VALUE = re.compile(r" = '(?:[^']|'(?!:))*'(?=:)")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ROW = re.compile(r"row \d+")


def reason_group(reason: str, file_name: str) -> str:
    """The first reason of a rejected row without its row number, value and dates."""
    first = reason.split(f"; {file_name}, row ")[0]
    text = _VALUE.sub("", _ROW_PREFIX.sub("", first, count=1))
    return _ROW.sub("row <n>", _DATE.sub("<date>", text)).strip()


def compute_reason_groups(problems: pd.DataFrame, file_name: str) -> pd.Series:
    """Rejected rows per grouped reason, most frequent first."""
    rejected = problems[problems["status"] == "rejected"] if len(problems) else problems
    if not len(rejected):
        return pd.Series(dtype="int64")
    return rejected["reasons"].map(lambda r: reason_group(str(r), file_name)).value_counts()


def compute_import_table(outcomes) -> pd.DataFrame:
    """One row per file of an import (``import_paths`` outcomes)."""
    rows = []
    for o in outcomes:
        plan = o.plan
        name = plan.file_name if plan is not None else str(o.path).rsplit("/", 1)[-1]
        if o.counts is None:
            rows.append({"file": name, "kind": plan.kind if plan else "", "rows in": len(plan.table.data) if plan else 0,
                         "stored": 0, "corrected": 0, "flagged": 0, "rejected": 0, "duplicates": 0, "kept as other": 0,
                         "not imported": o.message.split(": ", 1)[-1] if o.message else _("not imported")})
            continue
        c = o.counts
        groups = compute_reason_groups(plan.validation.problems, name)
        rows.append({"file": name, "kind": plan.kind, "rows in": len(plan.table.data), "stored": c.accepted,
                     "corrected": c.corrections, "flagged": c.flagged, "rejected": c.rejected,
                     "duplicates": c.duplicates, "kept as other": c.other,
                     "rejected because": "; ".join(f"{n} × {why}" for why, n in groups.items()),
                     "flags": "; ".join(f"{n} × {code}" for code, n in
                                        plan.validation.flags.drop_duplicates(["source_row", "code"])["code"]
                                        .value_counts().items())})
    return pd.DataFrame(rows).fillna("")
