"""Small array helpers shared by the vectorised derivations.

A column with a million rows but a few hundred distinct values is handled as codes into its distinct
values: a rule runs once per distinct value and its result is spread back over the rows by the codes.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


def take_category(values: Sequence, codes: np.ndarray, index: pd.Index | None = None) -> pd.Series:
    """values[code] for every row as a categorical Series; code -1 or a None value gives a missing cell.

    Equal values are merged into one category, so equal cells always carry equal codes."""
    codes = np.asarray(codes)
    values = values if isinstance(values, list) else list(values)
    if values and all(type(v) is str or v is None for v in values):
        # the usual case, a million distinct texts for unique ids: merged by a hash table in C
        merged, uniques = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=True)
        remap = np.append(merged.astype(np.int32), np.int32(-1))     # code -1 indexes this last entry
        categories = pd.Index(uniques, dtype=object)
    else:
        seen: dict = {}
        remap = np.empty(len(values) + 1, dtype=np.int32)
        for i, v in enumerate(values):
            remap[i] = -1 if v is None else seen.setdefault(str(v), len(seen))
        remap[-1] = -1
        categories = pd.Index(list(seen), dtype=object)
    cat = pd.Categorical.from_codes(remap[codes], categories=categories)
    return pd.Series(cat, index=index)


def coded(values: pd.Series) -> tuple[np.ndarray, list]:
    """(codes, distinct values) of a column; code -1 marks a missing cell. Free for a categorical."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.codes.to_numpy(), categories_list(values)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    return codes, list(uniques)


def categories_list(values: pd.Series) -> list:
    """A categorical column's distinct values as a Python list. Through numpy: iterating an index of
    Arrow-backed text element by element costs microseconds per value, a million values seconds."""
    return values.cat.categories.to_numpy(dtype=object).tolist()


def categories_arrow(values: pd.Series) -> pa.Array | None:
    """A categorical column's distinct values as an Arrow text array, or None when they are not all
    text (the callers then work value by value)."""
    cats = values.cat.categories
    try:
        arr = pa.array(cats.array) if cats.dtype != object else pa.array(cats.to_numpy(dtype=object), type=pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    return arr if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type) else None


# a text that starts and ends with a visible ASCII character: str.strip() leaves it as it is
_PLAIN_START, _PLAIN_END = r"^[\x21-\x7e]", r"[\x21-\x7e]$"


def strip_distinct(values: pd.Series) -> pd.Series:
    """Outer spaces removed (str.strip), empty string for a missing cell, as a categorical Series; the
    same as map_distinct(values, lambda v: "" if v is None else str(v).strip()), but a million distinct
    ids are tested in Arrow and only the few with a space or an unusual character at an end go
    through Python (D46)."""
    if not isinstance(values.dtype, pd.CategoricalDtype):
        return map_distinct(values, _strip_or_empty)
    arr = categories_arrow(values)
    if arr is None:
        return map_distinct(values, _strip_or_empty)
    plain = pc.and_(pc.match_substring_regex(arr, _PLAIN_START), pc.match_substring_regex(arr, _PLAIN_END))
    suspects = np.flatnonzero(~plain.to_numpy(zero_copy_only=False))
    codes = values.cat.codes.to_numpy()
    if not len(suspects) and not (codes < 0).any():
        return values            # nothing changes: the cells have no outer spaces and none is missing
    uniques = categories_list(values)
    changed = False
    for i in suspects.tolist():
        stripped = uniques[i].strip()
        changed = changed or stripped != uniques[i]
        uniques[i] = stripped
    if not changed and not (codes < 0).any():
        return values
    return take_category(uniques + [""], np.where(codes < 0, len(uniques), codes), values.index)


def _strip_or_empty(v) -> str:
    return "" if v is None else str(v).strip()


def blank_categories(values: pd.Series, positions: np.ndarray | None = None) -> np.ndarray:
    """For a categorical column: True per distinct value (or per distinct value at ``positions``) that
    is empty or only spaces. A value with a visible ASCII character is not blank (tested in Arrow);
    the rest are tested in Python."""
    arr = categories_arrow(values)
    if arr is None:
        cats = categories_list(values)
        picked = cats if positions is None else [cats[i] for i in positions]
        return np.asarray([not str(c).strip() for c in picked], dtype=bool)
    if positions is not None:
        arr = arr.take(pa.array(np.asarray(positions, dtype=np.int64)))
    visible = pc.match_substring_regex(arr, r"[\x21-\x7e]").to_numpy(zero_copy_only=False)
    blank = np.zeros(len(arr), dtype=bool)
    rest = np.flatnonzero(~visible)
    if len(rest):
        blank[rest] = [not t.strip() for t in arr.take(pa.array(rest)).to_pylist()]
    return blank


def text_contains(values: pd.Series, part: str) -> bool:
    """True when any distinct value of a categorical column contains ``part`` (as text)."""
    arr = categories_arrow(values)
    if arr is None:
        return any(part in str(v) for v in categories_list(values))
    return bool(pc.any(pc.match_substring(arr, part)).as_py())


def map_distinct(values: pd.Series, fn: Callable) -> pd.Series:
    """fn applied once per distinct value (None for a missing cell), as a categorical Series."""
    codes, uniques = coded(values)
    mapped = [fn(u) for u in uniques]
    if isinstance(values.dtype, pd.CategoricalDtype) and mapped == uniques and len(set(uniques)) == len(uniques) \
            and (fn(None) is None or not (codes < 0).any()):
        return values           # nothing changes (e.g. stripping cells that have no outer spaces)
    return take_category(mapped + [fn(None)], np.where(codes < 0, len(uniques), codes), values.index)


def mask_distinct(values: pd.Series, pred: Callable, missing: bool = False) -> np.ndarray:
    """pred applied once per distinct value, as a boolean array over the rows (``missing`` for gaps)."""
    codes, uniques = coded(values)
    lut = np.append(np.asarray([bool(pred(u)) for u in uniques], dtype=bool), missing)
    return lut[codes]


def as_text(values: pd.Series) -> pd.Series:
    """A categorical column as pyarrow-backed text (other columns are returned as they are)."""
    if not isinstance(values.dtype, pd.CategoricalDtype):
        return values
    codes = values.cat.codes.to_numpy()
    cats = categories_arrow(values)
    if cats is None:
        cats = pa.array([str(c) for c in categories_list(values)], type=pa.string())
    arr = pa.DictionaryArray.from_arrays(pa.array(codes, mask=codes < 0), cats).dictionary_decode()
    return pd.Series(pd.array(arr, dtype=pd.StringDtype("pyarrow")), index=values.index, name=values.name)


def group_codes(*parts: np.ndarray) -> np.ndarray:
    """One integer per row that is equal exactly when every part is equal (parts are integer arrays,
    e.g. category codes). Not dense: factorize it when dense codes are needed."""
    group, bound = None, 1          # every group value lies in [0, bound)
    for part in parts:
        part = np.asarray(part)
        if not len(part):
            return np.zeros(0, dtype=np.int64)
        low = int(part.min())
        span = int(part.max()) - low + 1
        if group is None:
            group, bound = part.astype(np.int64), span
            group -= low
            continue
        if bound >= (1 << 62) // span:          # would overflow: make the codes dense first
            group = pd.factorize(group)[0].astype(np.int64)
            bound = int(group.max()) + 1
        group *= span
        group += part
        group -= low
        bound *= span
    return np.zeros(0, dtype=np.int64) if group is None else group


def distinct_combinations(*columns: pd.Series) -> tuple[np.ndarray, list[tuple]]:
    """(dense code per row, the distinct combinations of cells in code order); None for a missing cell."""
    decoded = [coded(c) for c in columns]
    group = pd.factorize(group_codes(*[codes for codes, _ in decoded]))[0]
    n_groups = int(group.max(initial=-1)) + 1
    first = np.empty(n_groups, dtype=np.int64)
    first[group[::-1]] = np.arange(len(group) - 1, -1, -1)     # the first row of every combination
    per_column = [_with_none(uniques)[codes[first]].tolist() for codes, uniques in decoded]
    return group, list(zip(*per_column))


def _with_none(uniques: list) -> np.ndarray:
    """The distinct values and a trailing None, as an object array: code -1 picks the None."""
    out = np.empty(len(uniques) + 1, dtype=object)
    out[:-1] = uniques
    return out


def combine_distinct(fn: Callable, *columns: pd.Series) -> pd.Series:
    """fn(cell_a, cell_b, ...) once per distinct combination of cells (None for a missing cell), as a
    categorical Series. How a rule over two or three columns stays cheap on a million rows."""
    group, combos = distinct_combinations(*columns)
    return take_category([fn(*cells) for cells in combos], group, columns[0].index)


def as_dates(values, unit: str = "ns") -> pd.Series:
    """A date column as datetime64[``unit``]; a cell that is not a date becomes NaT.

    The store returns datetime64[us] and hand-built frames carry [ns] or text: comparisons mix units
    without harm, but merges keep whatever arrives, so every derivation converts once through here."""
    return pd.to_datetime(values, errors="coerce").astype(f"datetime64[{unit}]")
