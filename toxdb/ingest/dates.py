"""Dates as real files write them, parsed once per distinct value.

Accepted: ISO `2025-06-03` (with or without a time), `2025/06/03`, Excel serial numbers, `03/06/2025`
(day-first or month-first is one choice for the whole upload, never guessed row by row), SAS-style
`03JUN2025` / `03-Jun-2025`, and partial dates `2025-06` and `2025` (kept with their precision).
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from toxdb.arrays import take_category

EXCEL_EPOCH = dt.date(1899, 12, 30)
DATE_ACCEPTED = (
    "accepted: 2025-06-03, 2025-06-03T14:30, 2025/06/03, 03/06/2025 (one order per upload), "
    "03JUN2025, an Excel date, or a partial date 2025-06 / 2025"
)
_ISO = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$")
_ISO_MONTH = re.compile(r"^(\d{4})-(\d{1,2})(?:-{1,2})?$")
_YEAR = re.compile(r"^(\d{4})(?:-{1,4})?$")
_SLASH = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})(?:[T ]\d{1,2}:\d{2}(?::\d{2})?)?$")
_CJK = re.compile(r"^(\d{4})\s*年\s*(\d{1,2})\s*月\s*(?:(\d{1,2})\s*[日号]?)?$")   # 2025年8月3日, 2025年8月 (D54)
_SERIAL = re.compile(r"^(\d{5})(?:\.\d+)?$")
_MON = {m: i for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], start=1)}
_NAMED = re.compile(r"^(\d{1,2})[\s\-/]?([a-z]{3})[a-z]*[\s\-/,]*(\d{4})$")
_UNKNOWN = re.compile(r"^-{2,}(?:-?\d{0,2})*(?:T.*)?$|^-{4}-")


@dataclass(frozen=True)
class ParsedDate:
    value: dt.date | None
    precision: str | None          # 'day', 'month', 'year'
    problem: str | None


def slash_order_evidence(values: pd.Series) -> tuple[bool, bool]:
    """(has a value only day-first can read, has a value only month-first can read)."""
    day_only = month_only = False
    for text in pd.unique(values.dropna()):
        m = _SLASH.match(str(text).strip())
        if not m:
            continue
        a, b = int(m.group(1)), int(m.group(2))
        if a > 12 >= b:
            day_only = True
        elif b > 12 >= a:
            month_only = True
    return day_only, month_only


def has_ambiguous_slash(values: pd.Series) -> bool:
    for text in pd.unique(values.dropna()):
        m = _SLASH.match(str(text).strip())
        if m and int(m.group(1)) <= 12 and int(m.group(2)) <= 12 and m.group(1) != m.group(2):
            return True
    return False


def parse_date(text: str, day_first: bool | None) -> ParsedDate:
    s = str(text).strip()
    if not s:
        return ParsedDate(None, None, None)
    low = s.casefold()
    try:
        m = _ISO.match(s)
        if m:
            return ParsedDate(dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3))), "day", None)
        m = _CJK.match(s)
        if m:
            if m.group(3) is None:
                return ParsedDate(dt.date(int(m.group(1)), int(m.group(2)), 1), "month", None)
            return ParsedDate(dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3))), "day", None)
        m = _SERIAL.match(s)
        if m:
            days = int(m.group(1))
            if 20000 <= days <= 80000:
                return ParsedDate(EXCEL_EPOCH + dt.timedelta(days=days), "day", None)
            return ParsedDate(None, None, f"{s!r} is not a date; {DATE_ACCEPTED}")
        m = _ISO_MONTH.match(s)
        if m:
            return ParsedDate(dt.date(int(m.group(1)), int(m.group(2)), 1), "month", None)
        m = _YEAR.match(s)
        if m:
            return ParsedDate(dt.date(int(m.group(1)), 1, 1), "year", None)
        m = _SLASH.match(s)
        if m:
            a, b, year = int(m.group(1)), int(m.group(2)), int(m.group(3))
            if day_first is None:
                if a == b:
                    day_first = True
                else:
                    return ParsedDate(None, None, (
                        f"{s!r} could be day-first or month-first; say which order this upload uses "
                        "(the Upload page's date order, or --day-first / --month-first)"))
            day, month = (a, b) if day_first else (b, a)
            order = "day-first" if day_first else "month-first"
            try:
                return ParsedDate(dt.date(year, month, day), "day", None)
            except ValueError:
                return ParsedDate(None, None, f"{s!r} is not a valid {order} date (this upload reads dates {order})")
        m = _NAMED.match(low)
        if m and m.group(2) in _MON:
            return ParsedDate(dt.date(int(m.group(3)), _MON[m.group(2)], int(m.group(1))), "day", None)
        if _UNKNOWN.match(s):
            return ParsedDate(None, None, f"{s!r} gives no date (unknown year, month and day)")
    except ValueError:
        return ParsedDate(None, None, f"{s!r} is not a real calendar date")
    return ParsedDate(None, None, f"{s!r} is not a date; {DATE_ACCEPTED}")


_ISO_LENGTH = {"day": 10, "month": 7, "year": 4}


def derive_dates(values: pd.Series, day_first: bool | None) -> pd.DataFrame:
    """Parse a text column: date (datetime64[s], NaT when empty or bad), precision, problem, and iso:
    the date in ISO form to its precision ('2025-06-03', '2025-06' or '2025'; empty when none)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    parsed = [parse_date(u, day_first) for u in uniques] + [ParsedDate(None, None, None)]
    iso = [p.value.isoformat()[:_ISO_LENGTH[p.precision]] if p.value else "" for p in parsed]
    stamps = np.array(
        [np.datetime64(p.value, "s") if p.value else np.datetime64("NaT", "s") for p in parsed],
        dtype="datetime64[s]",
    )
    return pd.DataFrame(
        {
            "date": stamps[codes],
            "precision": take_category([p.precision for p in parsed[:-1]], codes).array,
            "problem": take_category([p.problem for p in parsed[:-1]], codes).array,
            "iso": take_category(iso, np.where(codes < 0, len(parsed) - 1, codes)).array,
        },
        index=values.index,
    )
