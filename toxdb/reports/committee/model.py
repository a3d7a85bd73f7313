"""The committee report as data: sections of text, tables and figures, and the hash of its data.

A table keeps its cells as computed (column keys in ``frame``, headers in the reader's language in
``labels``), so the data hash is the same whoever builds the report and in whichever language; a
footnote states the population and the counting rule of every table (issue 13).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from toxdb.i18n import N_

NO_SITE, ALL_SITES = N_("(no site)"), N_("All sites")     # rows of site tables, translated when shown


@dataclass
class ReportText:
    key: str
    title: str
    paragraphs: list[str]
    tone: str = "plain"            # "plain", "alert" (a crossed boundary), "ok"


@dataclass
class ReportTable:
    key: str
    title: str
    frame: pd.DataFrame
    footnote: str
    labels: dict[str, str] = field(default_factory=dict)     # column -> header in the reader's language
    note: str = ""                  # e.g. "the first 500 of 812 rows; the full listing: ..."
    empty_text: str = ""            # shown instead of an empty table
    full_rows: int | None = None    # rows before the listing limit (the hash covers them all)
    data: pd.DataFrame | None = None  # every row, when ``frame`` is cut to the listing limit
    translate: tuple[str, ...] = ()   # columns whose cells are words of the catalogue (translated when shown)
    words: tuple[str, ...] = ()       # columns already in the reader's language: left out of the data hash
    row_class: str | None = None      # a column not printed: its value styles the row ("soc", "term", ...)

    def header(self, column: str) -> str:
        return self.labels.get(column, column)


@dataclass
class ReportFigure:
    key: str
    title: str
    figure: Any                    # a plotly Figure (toxdb.plots)
    caption: str
    data: pd.DataFrame | None = None   # the numbers drawn, for the data hash


@dataclass
class ReportSection:
    key: str                       # "open" or "closed"
    title: str
    intro: str
    blocks: list = field(default_factory=list)


@dataclass
class CommitteeReport:
    """``sections`` in reading order; ``summary``: trial, cut, who built it and when, the data hash."""
    sections: list[ReportSection]
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def table(self) -> pd.DataFrame:
        """Contents: one row per block (section, key, kind, title, rows)."""
        rows = []
        for s in self.sections:
            for b in s.blocks:
                n = len(b.frame) if isinstance(b, ReportTable) else None
                rows.append({"section": s.key, "key": b.key, "kind": type(b).__name__.replace("Report", "").lower(),
                             "title": b.title, "rows": n})
        return pd.DataFrame(rows, columns=["section", "key", "kind", "title", "rows"])

    def block(self, key: str):
        for s in self.sections:
            for b in s.blocks:
                if b.key == key:
                    return b
        raise KeyError(key)


def _canonical_cell(value: Any) -> Any:
    if value is None or (not isinstance(value, (list, dict, str)) and pd.isna(value)):
        return None
    if isinstance(value, (pd.Timestamp, dt.datetime)):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return float(f"{value:.10g}")
    if hasattr(value, "item"):          # numpy scalars
        return _canonical_cell(value.item())
    return value if isinstance(value, (int, str, bool)) else str(value)


def _canonical_column(col: pd.Series) -> list:
    """_canonical_cell of every cell of one column; numbers and text a whole column at a time
    (the same values the cell-by-cell rule gives, without a Python call per cell)."""
    kind = col.dtype.kind if isinstance(col.dtype, np.dtype) else ""     # plain numpy columns only
    if kind == "f":                                    # NaN -> None, else 10 significant digits
        return [None if v != v else float(f"{v:.10g}") for v in col.to_numpy().tolist()]
    if kind in ("i", "u", "b"):
        return col.to_numpy().tolist()
    if isinstance(col.dtype, pd.StringDtype):          # text: a str, or missing
        return [v if isinstance(v, str) else None for v in col.to_numpy(dtype=object)]
    return [_canonical_cell(v) for v in col]


def frame_digest(frame: pd.DataFrame) -> str:
    """sha256 of a table's cells, row by row in order (column names and headers are not hashed: some
    tables are made with headers in the reader's language)."""
    h = hashlib.sha256()
    h.update(str(frame.shape[1]).encode())
    columns = [_canonical_column(frame.iloc[:, i]) for i in range(frame.shape[1])]
    for row in zip(*columns) if columns else [()] * len(frame):      # no columns: an empty row each
        h.update(json.dumps(list(row), ensure_ascii=False).encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()


def compute_report_hash(sections: list[ReportSection], facts: dict[str, Any]) -> str:
    """The data hash: the trial, the cut date and every table's and figure's numbers. Not the build
    time, the builder, the cut's name or when it was frozen: two cuts over the same data give the
    same hash, a correction changes it (D80)."""
    h = hashlib.sha256(json.dumps(facts, sort_keys=True, default=str).encode())
    for s in sections:
        for b in s.blocks:
            data = getattr(b, "data", None)
            data = b.frame if data is None and isinstance(b, ReportTable) else data
            if data is not None:
                data = data.drop(columns=[c for c in getattr(b, "words", ()) if c in data.columns])
                h.update(f"{s.key}/{b.key}:{frame_digest(data)}".encode())
    return h.hexdigest()
