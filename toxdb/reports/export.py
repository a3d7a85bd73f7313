"""Spreadsheets and CSV files for people to open: never let a cell run as a formula.

A text cell starting with =, +, -, @ (or a tab / carriage return) is prefixed with an apostrophe,
the guard spreadsheet programs honour; numbers stay numbers.
"""
from __future__ import annotations

import io
import re

import pandas as pd

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def safe_cell(value):
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _NUMBER.match(value):
        return "'" + value
    return value


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Cells and headers both guarded: a header comes from the uploaded file too (D44)."""
    out = frame.copy()
    out.columns = [safe_cell(c) if isinstance(c, str) else c for c in out.columns]
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(safe_cell, na_action="ignore")
    return out


def frame_to_csv_bytes(frame: pd.DataFrame) -> bytes:
    # UTF-8 with BOM so that Excel opens accented and Chinese text correctly
    return safe_frame(frame).to_csv(index=False).encode("utf-8-sig")


def frame_to_xlsx_bytes(frame: pd.DataFrame, sheet: str = "rows") -> bytes:
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="xlsxwriter",
                        engine_kwargs={"options": {"strings_to_formulas": False, "strings_to_urls": False}}) as xl:
        safe = safe_frame(frame)
        safe.to_excel(xl, sheet_name=sheet[:31], index=False)
        ws = xl.sheets[sheet[:31]]
        for i, col in enumerate(safe.columns):
            values = safe.iloc[:, i]
            lengths = values.astype(object).where(values.notna(), "").map(str).str.len()
            typical = int(lengths.quantile(0.9)) + 2 if len(frame) else 10
            width = min(60, max(10, len(str(col)) + 2, typical))
            ws.set_column(i, i, width)
    return buf.getvalue()


def rejected_rows_for_fixing(rejected: pd.DataFrame) -> pd.DataFrame:
    """Rejected rows laid out for a coordinator: the reasons, then the row's own cells as uploaded."""
    import json

    if rejected.empty:
        return pd.DataFrame(columns=["file", "row", "reasons"])
    cells = pd.DataFrame([json.loads(r) if r else {} for r in rejected["raw"]])
    head = pd.DataFrame({
        "file": rejected["file_name"].to_numpy() if "file_name" in rejected else "",
        "row": rejected["source_row"].to_numpy(),
        "reasons": rejected["reasons"].to_numpy(),
    })
    return pd.concat([head, cells.reset_index(drop=True)], axis=1)
