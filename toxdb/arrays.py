"""Small array helpers shared by the vectorised derivations.

A column with a million rows but a few hundred distinct values is handled as codes into its distinct
values: a rule runs once per distinct value and its result is spread back over the rows by the codes.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa


def take_category(values: Sequence, codes: np.ndarray, index: pd.Index | None = None) -> pd.Series:
    """values[code] for every row as a categorical Series; code -1 or a None value gives a missing cell.

    Equal values are merged into one category, so equal cells always carry equal codes."""
    codes = np.asarray(codes)
    seen: dict = {}
    remap = np.empty(len(values) + 1, dtype=np.int32)
    for i, v in enumerate(values):
        remap[i] = -1 if v is None else seen.setdefault(str(v), len(seen))
    remap[-1] = -1                              # code -1 indexes this last entry
    cat = pd.Categorical.from_codes(remap[codes], categories=pd.Index(list(seen), dtype=object))
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
    per_column = [[uniques[c] if c >= 0 else None for c in codes[first]] for codes, uniques in decoded]
    return group, list(zip(*per_column))


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
