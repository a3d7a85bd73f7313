"""Value mapping: a site's own words for coded values, mapped once and saved per site (D52).

Columns mapping (``mapping.py``) says which column holds the treatment; value mapping says which
protocol treatment "XANOMELINE" is, or that it is not a protocol treatment and is kept as other.
The same step maps any coded column: Y/N, attribution, outcome, action taken, grade words, units.
A value map is ``{canonical column: {written value: target}}``; written values are compared folded
(case and runs of spaces ignored), like the vocabularies in ``toxdb/data/value_synonyms.csv``.
"""
from __future__ import annotations

import pandas as pd

from toxdb import vocab
from toxdb.arrays import map_distinct
from toxdb.clinical import ctcae
from toxdb.i18n import _

KEEP_AS_OTHER = vocab.KEEP_AS_OTHER

# canonical column -> the vocabulary its values must belong to (None: free text; grade: CTCAE grades)
CODED_COLUMNS: dict[str, dict[str, str]] = {
    "patients": {"sex": "sex", "agent": "agent", "serum_creatinine_unit": "creatinine_unit"},
    "treatment": {"treatment": "treatment", "phase": "phase", "dose_unit": "dose_unit"},
    "ae": {"serious": "yes_no", "attribution": "attribution", "attributed_to": "attributed_to",
           "action_taken": "action_taken", "grade": "grade", "severity": "grade"},
    "labs": {},
}


class ValueMapError(ValueError):
    """A --map argument or a saved value map names a column or a target that does not exist."""


def targets(kind: str, column: str) -> list[str]:
    """What a written value of this column can be mapped to (stored values, as text)."""
    name = CODED_COLUMNS[kind][column]
    if name == "grade":
        return [str(g) for g in vocab.GRADES]
    values = [str(v) for v in vocab.VOCABULARIES[name]]
    return values + [KEEP_AS_OTHER] if column == "treatment" else values


def _known(kind: str, column: str, value: str) -> bool:
    name = CODED_COLUMNS[kind][column]
    if name == "grade":      # a number outside 1-5 is a rejection, not a word to map
        return ctcae.normalise_grade(value)[0] is not None or _is_number(value)
    return vocab.fold(value) in vocab.synonyms(name) or vocab.fold(value) == KEEP_AS_OTHER


def _is_number(text: str) -> bool:
    try:
        float(str(text).replace(",", "."))
        return True
    except ValueError:
        return False


def unknown_values(staged: pd.DataFrame, kind: str) -> dict[str, list[str]]:
    """{column: written values no vocabulary knows}, for the Upload page to offer a mapping."""
    out: dict[str, list[str]] = {}
    for column in CODED_COLUMNS[kind]:
        if column not in staged.columns:
            continue
        written = {str(v).strip() for v in staged[column].dropna().unique() if str(v).strip()}
        bad = sorted(v for v in written if not _known(kind, column, v))
        if bad:
            out[column] = bad
    return out


def check_value_map(kind: str, value_map: dict[str, dict[str, str]]) -> None:
    for column, pairs in value_map.items():
        if column not in CODED_COLUMNS[kind]:
            raise ValueMapError(_("{column} is not a coded column of a {kind} file; one of: {allowed}").format(
                column=column, kind=kind, allowed=", ".join(CODED_COLUMNS[kind]) or "-"))
        allowed = targets(kind, column)
        for written, target in pairs.items():
            if target not in allowed:
                raise ValueMapError(_("{written}={target}: {target} is not a value of {column}; one of: {allowed}")
                                    .format(written=written, target=target, column=column,
                                            allowed=", ".join(allowed)))


def apply_value_map(staged: pd.DataFrame, kind: str, value_map: dict[str, dict[str, str]]) -> pd.DataFrame:
    """The staging frame with mapped written values replaced by their targets (others unchanged)."""
    if not value_map:
        return staged
    out = staged.copy()
    if "treatment" in out.columns and "treatment" in value_map:
        out["treatment_name"] = out["treatment"]         # the name as written, kept for "other" rows
    for column, pairs in value_map.items():
        if column not in out.columns or not pairs:
            continue
        folded = {vocab.fold(k): v for k, v in pairs.items()}
        out[column] = map_distinct(out[column], lambda v, f=folded: None if v is None else f.get(vocab.fold(v), v))
    return out


def parse_map_args(kind: str, items: list[str] | None, strict: bool = True) -> dict[str, dict[str, str]]:
    """``--map [COLUMN:]VALUE=TARGET`` arguments as a value map. Without COLUMN the value is mapped in
    every coded column that TARGET is a value of (XANOMELINE=capecitabine: the treatment column).
    ``strict=False`` (several kinds in one import) skips an item no column of this kind takes."""
    out: dict[str, dict[str, str]] = {}
    for item in items or []:
        if "=" not in item:
            raise ValueMapError(_("--map {item}: write it as VALUE=TARGET, e.g. XANOMELINE=capecitabine").format(
                item=item))
        left, target = (p.strip() for p in item.rsplit("=", 1))
        column, _sep, written = left.rpartition(":") if ":" in left else ("", "", left)
        columns = [column] if column else [c for c in CODED_COLUMNS[kind] if target in targets(kind, c)]
        if not strict and (not columns or any(c not in CODED_COLUMNS[kind] or target not in targets(kind, c)
                                                for c in columns)):
            continue
        if not columns:
            raise ValueMapError(_("--map {item}: {target} is not a value of any coded column of a {kind} file")
                                .format(item=item, target=target, kind=kind))
        for c in columns:
            out.setdefault(c, {})[written] = target
    check_value_map(kind, out)
    return out


def merge_value_maps(*maps: dict[str, dict[str, str]] | None) -> dict[str, dict[str, str]]:
    """Later maps win (a site's saved map, then what the user gives for this file)."""
    out: dict[str, dict[str, str]] = {}
    for m in maps:
        for column, pairs in (m or {}).items():
            out.setdefault(column, {}).update(pairs)
    return out
