"""What changed between two data cuts: per table, records added, corrected (old -> new value per
column) or withdrawn (decision D70).

A record is identified by its ``record_key`` (docs/data-contract.md). Seen through cut A and cut B:

* **added**: seen through B, not through A (a new row, or one whose clinical date is now inside the cut);
* **withdrawn**: seen through A, not through B (its date moved past B's cut date, or B is the earlier cut);
* **corrected**: seen through both with different values; one change per column that differs.

A correction that was later reverted (v1 -> v2 -> v1's values) is no change between a cut before it
and a cut after it: values are compared, not version numbers.

Public API
----------
compute_cut_diff(changes)           -> CutDiff from the rows read by toxdb.store.cuts.read_cut_changes
diff_cuts(store, cut_a, cut_b)      -> CutDiff of every table
format_value(value)                 -> a stored value as text (dates YYYY-MM-DD, 2.0 -> "2")
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from toxdb.i18n import N_
from toxdb.store.cuts import DataCut, read_cut_changes
from toxdb.vocab import KINDS

CHANGES = ("added", "corrected", "withdrawn")
CHANGE_LABELS = {"added": N_("added"), "corrected": N_("corrected"), "withdrawn": N_("withdrawn")}
TABLE_LABELS = {"patients": N_("patients"), "treatment": N_("treatment log"), "ae": N_("adverse events"),
                "labs": N_("lab results")}
LONG_COLUMNS = ["table", "subject_id", "record", "change", "column", "old", "new"]
# bookkeeping columns of a stored row: never a "change" of their own
NOT_COMPARED = {"side", "record_key", "version", "upload_id", "valid_from", "row_hash", "source_row"}


@dataclass
class CutDiff:
    """``table``: one row per change (LONG_COLUMNS; a correction has one row per changed column).
    ``summary``: per table, the number of records added, corrected and withdrawn.
    ``rows``: per table, one row per changed record: change, changed_columns, upload_id, and the data
    columns as seen through cut B (through cut A for a withdrawn record), ``old_<column>`` for each
    corrected column."""
    cut_a: DataCut | None
    cut_b: DataCut | None
    table: pd.DataFrame
    summary: pd.DataFrame
    rows: dict[str, pd.DataFrame] = field(default_factory=dict)


def format_value(value) -> str:
    """A stored value as the text a person compares: '' for missing, dates as YYYY-MM-DD."""
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d") if value == value.normalize() else value.isoformat(sep=" ")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


_MISSING = object()      # stands for a missing value in comparisons: two missing values are the same


def _differs(before: pd.DataFrame, after: pd.DataFrame) -> np.ndarray:
    """Cell by cell (one numpy comparison for the whole block): the values differ."""
    x, y = before.to_numpy(object), after.to_numpy(object)
    x = np.where(pd.isna(x), _MISSING, x)
    y = np.where(pd.isna(y), _MISSING, y)
    return ~(x == y).astype(bool)


def _kind_diff(kind: str, changes: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(wide rows, long changes) for one table's changed rows (both sides)."""
    data_cols = [c for c in changes.columns if c not in NOT_COMPARED]
    lead = ["change", "record_key", "subject_id", "changed_columns", "upload_id"]
    if not len(changes):
        return (pd.DataFrame(columns=lead + [c for c in data_cols if c != "subject_id"]),
                pd.DataFrame(columns=LONG_COLUMNS))
    a = changes[changes["side"] == "a"].set_index("record_key")
    b = changes[changes["side"] == "b"].set_index("record_key")
    both = a.index.intersection(b.index)
    before, after = a.loc[both], b.loc[both]
    diff = pd.DataFrame(_differs(before[data_cols], after[data_cols]) if len(both) else
                        np.zeros((0, len(data_cols)), bool), index=both, columns=data_cols)
    corrected = both[diff.any(axis=1).to_numpy()] if len(both) else both
    diff = diff.loc[corrected]
    parts, long = [], []
    for change, frame in (("added", b.loc[b.index.difference(a.index)]),
                          ("withdrawn", a.loc[a.index.difference(b.index)])):
        parts.append(frame.assign(change=change, changed_columns=""))
        long.append(pd.DataFrame({"table": kind, "subject_id": frame["subject_id"].astype(str).to_numpy(),
                                  "record": frame.index.to_numpy(), "change": change, "column": "", "old": "",
                                  "new": ""}))
    if len(corrected):
        fixed = after.loc[corrected].assign(change="corrected", changed_columns=[
            ", ".join(c for c, f in zip(data_cols, flags) if f) for flags in diff.to_numpy()])
        for c in data_cols:
            hit = diff[c].to_numpy()
            if not hit.any():
                continue
            fixed[f"old_{c}"] = before.loc[corrected, c].where(diff[c])
            keys = corrected[hit]
            long.append(pd.DataFrame({
                "table": kind, "subject_id": after.loc[keys, "subject_id"].astype(str).to_numpy(),
                "record": keys.to_numpy(), "change": "corrected", "column": c,
                "old": [format_value(v) for v in before.loc[keys, c]],
                "new": [format_value(v) for v in after.loc[keys, c]]}))
        parts.append(fixed)
    wide = pd.concat(parts).rename_axis("record_key").reset_index()
    wide = wide[lead + [c for c in wide.columns if c not in lead and c not in NOT_COMPARED]]
    order = {c: i for i, c in enumerate(CHANGES)}
    wide = wide.sort_values(["change", "record_key"], key=lambda s: s.map(order) if s.name == "change" else s)
    longs = pd.concat(long, ignore_index=True) if long else pd.DataFrame(columns=LONG_COLUMNS)
    return wide.reset_index(drop=True), longs


def compute_cut_diff(changes: dict[str, pd.DataFrame], cut_a: DataCut | None = None,
                     cut_b: DataCut | None = None) -> CutDiff:
    """The diff of tables whose changed rows (side a/b, as ``read_cut_changes`` returns) are given."""
    rows, long, counts = {}, [], []
    for kind, frame in changes.items():
        wide, records = _kind_diff(kind, frame)
        rows[kind] = wide
        long.append(records)
        n = wide["change"].value_counts()
        counts.append({"table": kind, **{c: int(n.get(c, 0)) for c in CHANGES}})
    table = pd.concat(long, ignore_index=True)[LONG_COLUMNS] if long else pd.DataFrame(columns=LONG_COLUMNS)
    order = {c: i for i, c in enumerate(CHANGES)}
    table = table.sort_values(["table", "change", "record"], kind="stable",
                              key=lambda s: s.map(order) if s.name == "change" else s).reset_index(drop=True)
    summary = pd.DataFrame(counts, columns=["table", *CHANGES])
    return CutDiff(cut_a, cut_b, table, summary, rows)


def diff_cuts(store, cut_a: DataCut, cut_b: DataCut, kinds: tuple[str, ...] = KINDS) -> CutDiff:
    """What changed from ``cut_a`` to ``cut_b`` in every table of ``kinds``."""
    return compute_cut_diff({k: read_cut_changes(store, cut_a, cut_b, k) for k in kinds}, cut_a, cut_b)
