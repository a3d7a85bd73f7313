"""Grade laboratory values by CTCAE v5.0 and v6.0 (clinical-rules.md section 4; the NCI workbooks).

The criteria are data: ``toxdb/data/lab_criteria_v5.json`` and ``lab_criteria_v6.json`` (tabulated
from the NCI workbooks by ``tools/tabulate_lab_criteria.py``; thresholds per test in SI units, in
groups that say when they apply) and ``toxdb/data/lab_units.json`` (test-code synonyms, accepted
units, factors to SI, plausible ranges).

``derive_lab_grades`` is the one implementation; it works on whole columns with numpy (one pass per
test, group and threshold, never per row) and grades every value under both versions: ``grade``,
``ctcae_term`` and ``grade_note`` under the version asked for (the trial's version of record), and
``grade_v5``/``grade_v6`` (with their terms and notes) beside them, so that a page, export or report
can switch version by choosing columns (``lab_grade_columns``). ``grade_lab_value`` grades one value.

Grades: 0 = within the graded range (no toxicity), 1-4 = CTCAE grade, <NA> = cannot be graded, with
the reason in the note. Lab grading never gives grade 5. A unit is never guessed: a value without a
unit is read in the one unit its magnitude fits, and flagged when more than one fits.

Where a side has several groups of criteria that apply (creatinine: multiples of ULN, and of
baseline), the value takes the highest grade any of them gives. A baseline that is not known counts
as normal for the tests graded against an abnormal baseline (ALT, AST, bilirubin, GGT; ALP in v5),
and leaves out the baseline criteria of creatinine (said in the note); v6 ALP (above both ULN and
baseline) cannot be graded above ULN without a baseline.
"""

from __future__ import annotations

import functools
import json
import math
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from toxdb import DATA_DIR
from toxdb.clinical.ctcae_versions import (
    CTCAE_VERSIONS,
    DEFAULT_VERSION,
    ctcae_version,
    version_suffix,
)
from toxdb.i18n import N_

CRITERIA_FILES = {"5.0": DATA_DIR / "lab_criteria_v5.json", "6.0": DATA_DIR / "lab_criteria_v6.json"}
UNITS_JSON = DATA_DIR / "lab_units.json"

_REF_CODES = {"LLN": 1, "ULN": 2, "baseline": 3}
# notes are English in the data; each is a catalogue message (N_), so a page shows it translated with
# toxdb.i18n.translate_parts(grade_note)
_MISSING_REF_TEXT = {
    1: N_("no LLN given, and the grade depends on it"),
    2: N_("no ULN given, and the grade depends on it"),
    3: N_("no baseline given, and the grade depends on it"),
}
_REL_TOL = 1e-9
_WHEN = ("always", "baseline_not_above_uln", "baseline_above_uln", "baseline_known", "baseline_below_lln",
         "on_anticoagulation")
BASELINE_ABNORMAL_NOTE = N_("baseline above ULN, so graded as multiples of baseline")
BY_BASELINE_NOTE = N_("graded as a multiple of baseline (higher than by ULN)")
_NOT_CHECKED_NOTE = {
    "baseline_known": N_("no baseline: graded by multiples of ULN only"),
    "baseline_below_lln": N_("baseline or LLN missing: the rule for a baseline below LLN was not checked"),
}
# the notes tools/tabulate_lab_criteria.py writes into the criteria files (a test keeps this list whole)
CRITERIA_NOTES = (
    N_("grade 3 if a transfusion was given"),
    N_("grade 2 if symptomatic"),
    N_("grade 3 if symptomatic"),
    N_("criteria for patients not on anticoagulants"),
)


# ----------------------------------------------------------------------------------------------
# criteria and units, loaded once


@dataclass(frozen=True)
class _Cond:
    op: str
    x: float
    of: str | None


@dataclass(frozen=True)
class _Threshold:
    grade: int
    conds: tuple[_Cond, ...]
    note: str | None


@dataclass(frozen=True)
class _Group:
    when: str
    thresholds: tuple[_Threshold, ...]

    @property
    def top(self) -> int:
        return max(t.grade for t in self.thresholds)


@dataclass(frozen=True)
class _Side:
    direction: str
    term: str
    groups: tuple[_Group, ...]


@dataclass(frozen=True)
class _Unit:
    unit: str
    factor: float
    divisor: float | None
    low: float
    high: float
    keys: frozenset[str]


@dataclass(frozen=True)
class _Test:
    code: str
    si_unit: str
    sides_by_version: dict[str, tuple[_Side, ...]]
    unitless: bool
    units: tuple[_Unit, ...]

    @property
    def unit_names(self) -> str:
        return ", ".join(u.unit for u in self.units)


def _cond(raw: dict[str, Any]) -> _Cond:
    c = _Cond(raw["op"], float(raw["x"]), raw.get("of"))
    if c.op not in ("<", ">", ">=") or c.of not in (None, "LLN", "ULN", "baseline"):
        raise ValueError(f"bad lab criterion {raw}")
    return c


def _group(raw: dict[str, Any]) -> _Group:
    if raw["when"] not in _WHEN:
        raise ValueError(f"unknown 'when' {raw['when']!r} in lab criteria")
    items = []
    for t in raw["thresholds"]:
        if not 1 <= int(t["grade"]) <= 4:
            raise ValueError(f"bad lab threshold {t}")
        items.append(_Threshold(int(t["grade"]), (_cond(t), *(_cond(a) for a in t.get("and", []))), t.get("note")))
    return _Group(raw["when"], tuple(sorted(items, key=lambda t: -t.grade)))


def _sides(spec: dict[str, Any]) -> tuple[_Side, ...]:
    return tuple(_Side(s["direction"], s["term"], tuple(_group(g) for g in s["criteria"])) for s in spec["sides"])


def _unit_key(text: str) -> str:
    """Normalised unit text: 'x10E9/L' -> '10^9/l', 'cells/µL' -> '/ul', 'mm³' -> 'mm3'."""
    s = unicodedata.normalize("NFKC", str(text).replace("\u2079", "^9").replace("\u00b3", "^3"))
    s = s.casefold().replace("\u03bc", "u").replace("\u00d7", "x")
    s = re.sub(r"\s+", "", s)
    s = re.sub(r"mc(?=l\b|l$|mol)", "u", s)
    s = re.sub(r"10(?:\^|\*\*|\*|e)(\d+)", r"10^\1", s)
    s = re.sub(r"^x(?=10\^)", "", s)
    s = s.replace("mm^3", "mm3").replace("cumm", "mm3").replace("cells/", "/").replace("cell/", "/")
    return s


def _test_key(text: Any) -> str:
    return " ".join(re.sub(r"[^0-9A-Z]+", " ", str(text).upper()).split())


@functools.lru_cache(maxsize=1)
def _load() -> tuple[dict[str, _Test], dict[str, str]]:
    criteria = {v: json.loads(path.read_text(encoding="utf-8"))["tests"] for v, path in CRITERIA_FILES.items()}
    units = json.loads(UNITS_JSON.read_text(encoding="utf-8"))
    alias_sets = units["alias_sets"]
    tests: dict[str, _Test] = {}
    for code, spec in criteria[DEFAULT_VERSION].items():
        uspec = units["tests"][code]
        unit_items = []
        for u in uspec["units"]:
            aliases = alias_sets[u["aliases"]] if isinstance(u["aliases"], str) else u["aliases"]
            keys = frozenset(_unit_key(a) for a in [*aliases, u["unit"]])
            # "divisor": 1000 converts exactly where "factor": 0.001 would add rounding noise
            factor = 1 / float(u["divisor"]) if "divisor" in u else float(u["factor"])
            low, high = (float(x) for x in u["plausible"])
            unit_items.append(_Unit(u["unit"], factor, u.get("divisor"), low, high, keys))
        for v in CTCAE_VERSIONS:
            if criteria[v][code]["si_unit"] != spec["si_unit"]:
                raise ValueError(f"{code}: SI unit differs between CTCAE versions")
        tests[code] = _Test(
            code=code,
            si_unit=spec["si_unit"],
            sides_by_version={v: _sides(criteria[v][code]) for v in CTCAE_VERSIONS},
            unitless=bool(uspec.get("unitless", False)),
            units=tuple(unit_items),
        )
    codes: dict[str, str] = {}
    for code, synonyms in units["test_codes"].items():
        if code not in tests:
            raise ValueError(f"test code {code} has no criteria")
        for name in [code, *synonyms]:
            key = _test_key(name)
            if codes.setdefault(key, code) != code:
                raise ValueError(f"test name {name!r} is claimed by two tests")
    return tests, codes


def lab_tests() -> tuple[str, ...]:
    """Canonical codes of the graded tests."""
    return tuple(_load()[0])


def lab_test_code(text: Any) -> str | None:
    """Canonical test code for a written test name or code (ANC/NEUT -> ANC), None if not graded."""
    if text is None or (isinstance(text, float) and math.isnan(text)) or text is pd.NA:
        return None
    return _load()[1].get(_test_key(text))


def lab_terms(version: Any = DEFAULT_VERSION) -> dict[str, tuple[str, ...]]:
    """CTCAE terms each test grades under ``version``, e.g. {'K': ('Hyperkalemia', 'Hypokalemia'), ...}."""
    v = ctcae_version(version)
    return {code: tuple(s.term for s in t.sides_by_version[v]) for code, t in _load()[0].items()}


def lab_grade_columns(version: Any) -> dict[str, str]:
    """The columns of ``derive_lab_grades`` that hold ``version``'s result, by meaning:
    {'grade': 'grade_v6', 'ctcae_term': 'ctcae_term_v6', 'grade_note': 'grade_note_v6'}."""
    sfx = version_suffix(version)
    return {"grade": f"grade_{sfx}", "ctcae_term": f"ctcae_term_{sfx}", "grade_note": f"grade_note_{sfx}"}


def select_lab_version(graded: pd.DataFrame, version: Any) -> pd.DataFrame:
    """``graded`` (from ``derive_lab_grades``) with grade, ctcae_term and grade_note under ``version``:
    how a page, export or report switches version without grading again."""
    cols = lab_grade_columns(version)
    return graded.assign(**{name: graded[col] for name, col in cols.items()})


# ----------------------------------------------------------------------------------------------
# vectorised grading


class _Notes:
    """Per-row notes, joined with '; ' in the order they were added."""

    def __init__(self, n: int) -> None:
        self.arr = np.full(n, None, dtype=object)

    def add(self, rows: np.ndarray, text: Any) -> None:
        """rows: boolean mask or integer positions; text: one string or one per selected row."""
        idx = np.flatnonzero(rows) if rows.dtype == bool else rows
        if len(idx) == 0:
            return
        texts = np.broadcast_to(np.asarray(text, dtype=object), idx.shape)
        keep = pd.notna(texts)
        if not keep.all():
            idx, texts = idx[keep], texts[keep]
        cur = self.arr[idx]
        empty = pd.isna(cur)
        out = np.empty(len(idx), dtype=object)
        out[empty] = texts[empty]
        if (~empty).any():
            out[~empty] = cur[~empty] + "; " + texts[~empty]
        self.arr[idx] = out


def _to_string(values: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """Object array (None for missing) -> string array, converting each distinct value once."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    return pd.array(np.asarray(uniques, dtype=object), dtype="string").take(codes, allow_fill=True)


def _numeric(values: Any, n: int) -> np.ndarray:
    if values is None:
        return np.full(n, np.nan)
    return pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def _apply(
    thresholds: tuple[_Threshold, ...], v: np.ndarray, refs: dict[str | None, np.ndarray | None]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """grade (0-4, or -2 when a needed reference is missing), note, missing reference code, and
    the grade that an undecided row could still reach (0 when decided)."""
    m = len(v)
    grade = np.full(m, -1, dtype=np.int8)
    note = np.full(m, None, dtype=object)
    missing = np.zeros(m, dtype=np.int8)
    pending = np.zeros(m, dtype=np.int8)
    for t in thresholds:
        undecided = grade == -1
        hit = undecided.copy()
        failed = np.zeros(m, dtype=bool)
        missing_code = np.zeros(m, dtype=np.int8)
        for c in t.conds:
            limit = c.x * refs[c.of] if c.of else np.full(m, c.x)
            known = ~np.isnan(limit)
            # a value within a relative 1e-9 of a limit is on the limit (unit conversion noise)
            tol = np.abs(limit) * _REL_TOL
            with np.errstate(invalid="ignore"):
                if c.op == "<":
                    passed = v < limit - tol
                elif c.op == ">":
                    passed = v > limit + tol
                else:
                    passed = v >= limit - tol
            hit &= known & passed
            failed |= known & ~passed
            missing_code = np.where(~known & (missing_code == 0), _REF_CODES.get(c.of, 0), missing_code)
        unknown = undecided & ~hit & ~failed
        grade[unknown] = -2
        missing[unknown] = missing_code[unknown]
        pending[unknown] = t.grade
        grade[hit] = t.grade
        if t.note:
            note[hit] = t.note
    grade[grade == -1] = 0
    return grade, note, missing, pending


def _group_rows(when: str, lln: np.ndarray, uln: np.ndarray, base: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rows the group applies to, rows where it could not be told whether it applies)."""
    n = len(base)
    no = np.zeros(n, dtype=bool)
    with np.errstate(invalid="ignore"):
        if when == "always":
            return np.ones(n, dtype=bool), no
        if when == "baseline_not_above_uln":
            return ~(base > uln), no          # no baseline (or no ULN): read as a normal baseline
        if when == "baseline_above_uln":
            return base > uln, no
        if when == "baseline_known":
            return ~np.isnan(base), np.isnan(base)
        if when == "baseline_below_lln":
            return base < lln, np.isnan(base) | np.isnan(lln)
    return no, no                             # on_anticoagulation: not applied (see the note)


def _grade_side(
    side: _Side, v: np.ndarray, lln: np.ndarray, uln: np.ndarray, base: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One side's grade (-2: cannot be told), note, missing reference code and group notes.

    The side's grade is the highest that any group applying to the row gives; a group that could
    not grade a row (a reference missing) leaves it undecided unless another group already gives
    at least the grade it could still reach."""
    refs = {None: None, "LLN": lln, "ULN": uln, "baseline": base}
    m = len(v)
    best = np.full(m, -1, dtype=np.int8)
    note = np.full(m, None, dtype=object)
    pending = np.zeros(m, dtype=np.int8)
    missing = np.zeros(m, dtype=np.int8)
    group_notes = _Notes(m)
    by_group: list[tuple[_Group, np.ndarray, np.ndarray]] = []
    for group in side.groups:
        rows, unsure = _group_rows(group.when, lln, uln, base)
        idx = np.flatnonzero(rows)
        g, nt, miss, pend = _apply(group.thresholds, v[idx], {k: (r[idx] if r is not None else None)
                                                              for k, r in refs.items()})
        take = g > best[idx]
        best[idx[take]], note[idx[take]] = g[take], nt[take]
        und = g == -2
        raise_pending = und & (pend > pending[idx])
        pending[idx[raise_pending]], missing[idx[raise_pending]] = pend[raise_pending], miss[raise_pending]
        grade_of = np.full(m, -1, dtype=np.int8)
        grade_of[idx] = g
        by_group.append((group, grade_of, unsure))
    final = np.where(pending > np.maximum(best, 0), -2, np.maximum(best, 0)).astype(np.int8)
    final[(best == -1) & (pending == 0)] = 0
    for group, grade_of, unsure in by_group:
        if group.when == "baseline_above_uln":
            group_notes.add((grade_of >= 0) & (final >= 0), BASELINE_ABNORMAL_NOTE)
        elif group.when in _NOT_CHECKED_NOTE:
            others = np.max([g for gr, g, _ in by_group if gr is not group], axis=0)
            group_notes.add((grade_of >= 1) & (grade_of > others) & (final >= 0), BY_BASELINE_NOTE)
            group_notes.add(unsure & (final >= 0) & (final < group.top), _NOT_CHECKED_NOTE[group.when])
    return final, note, np.where(final == -2, missing, 0).astype(np.int8), group_notes.arr


def _grade_test_rows(
    test: _Test, version: str, v: np.ndarray, lln: np.ndarray, uln: np.ndarray, base: np.ndarray
) -> tuple[np.ndarray, np.ndarray, list[tuple[np.ndarray, Any]]]:
    """Grade (-2: not gradable), the index of the side whose term applies (-1: none) and notes
    ((rows, text) pairs, in order) of one test's rows."""
    sides = test.sides_by_version[version]
    results = [_grade_side(s, v, lln, uln, base) for s in sides]
    m = len(v)
    final = np.full(m, -2, dtype=np.int8)
    chosen_note = np.full(m, None, dtype=object)
    chosen_term = np.full(m, -1, dtype=np.int64)           # index of the side, -1 none
    chosen_group_note = np.full(m, None, dtype=object)
    decided = np.zeros(m, dtype=bool)
    for k, (g, nt, _, gn) in enumerate(results):
        take = ~decided & (g >= 1)
        final[take], chosen_note[take], chosen_term[take] = g[take], nt[take], k
        chosen_group_note[take] = gn[take]
        decided |= take
    zero = ~decided & np.logical_and.reduce([g == 0 for g, *_ in results])
    final[zero] = 0
    if len(sides) == 1:
        chosen_term[:] = 0
        chosen_group_note[zero] = results[0][3][zero]
    notes: list[tuple[np.ndarray, Any]] = []
    # why a row could not be graded: the references its sides were missing
    undecided = final == -2
    if undecided.any():
        missing_codes = np.zeros(m, dtype=np.int64)
        for g, _, miss, _ in results:
            missing_codes |= np.where(g == -2, 1 << miss.astype(np.int64), 0)
        for code in np.unique(missing_codes[undecided]):
            sel = undecided & (missing_codes == code)
            notes.append((sel, "; ".join(_MISSING_REF_TEXT[r] for r in (1, 2, 3) if code >> r & 1)))
    notes.append((np.ones(m, dtype=bool), chosen_group_note))
    notes.append((np.ones(m, dtype=bool), chosen_note))
    return final, chosen_term, notes


def _missing_unit(
    test: _Test, v: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For values without a unit: multiplier (nan when not readable), divisor, note, reason."""
    m = len(v)
    factor = np.full(m, np.nan)
    divisor = np.ones(m)
    note = np.full(m, None, dtype=object)
    reason = np.full(m, None, dtype=object)
    if test.unitless:
        factor[:], divisor[:] = _mul_div(test.units[0])
        return factor, divisor, note, reason
    # units sharing a factor (mmol/L and mEq/L) are one reading of the value
    by_factor: dict[float, list[_Unit]] = {}
    for u in test.units:
        by_factor.setdefault(u.factor, []).append(u)
    groups = list(by_factor.items())
    pattern = np.zeros(m, dtype=np.int64)
    for i, (_, units) in enumerate(groups):
        fits = np.zeros(m, dtype=bool)
        for u in units:
            fits |= (v >= u.low) & (v <= u.high)
        pattern |= fits.astype(np.int64) << i
    for p in np.unique(pattern):
        rows = pattern == p
        chosen = [groups[i] for i in range(len(groups)) if p >> i & 1]
        if len(chosen) == 1:
            _, units = chosen[0]
            factor[rows], divisor[rows] = _mul_div(units[0])
            note[rows] = f"unit missing: read as {units[0].unit}, the only unit this value fits"
        elif len(chosen) > 1:
            names = " and ".join(units[0].unit for _, units in chosen)
            reason[rows] = f"unit missing and the value could be in {names}: give the unit"
        else:
            reason[rows] = (
                f"unit missing and the value is outside the range expected in {test.unit_names}"
            )
    return factor, divisor, note, reason


def _mul_div(unit: _Unit) -> tuple[float, float]:
    """SI value = value * mul / div (a divisor keeps 800 /mm3 -> exactly 0.8)."""
    return (1.0, float(unit.divisor)) if unit.divisor else (unit.factor, 1.0)


def _baseline_si(labs: pd.DataFrame, test_code: np.ndarray, baselines: pd.DataFrame | None) -> np.ndarray:
    n = len(labs)
    if baselines is None:
        return _numeric(labs["baseline_si"], n) if "baseline_si" in labs else np.full(n, np.nan)
    if "subject_id" not in labs:
        raise ValueError("labs needs a subject_id column when baselines are given")
    test_col = "test_code" if "test_code" in baselines else "test"
    value_col = "baseline_si" if "baseline_si" in baselines else "baseline"
    right = pd.DataFrame(
        {
            "subject_id": baselines["subject_id"].astype("string").to_numpy(),
            "test_code": [lab_test_code(t) for t in baselines[test_col]],
            "baseline_si": _numeric(baselines[value_col], len(baselines)),
        }
    ).drop_duplicates(["subject_id", "test_code"], keep="last")
    left = pd.DataFrame(
        {
            "subject_id": labs["subject_id"].astype("string").to_numpy(),
            "test_code": _to_string(test_code),
        }
    )
    right["test_code"] = right["test_code"].astype("string")
    merged = left.merge(right, on=["subject_id", "test_code"], how="left", sort=False)
    return merged["baseline_si"].to_numpy(dtype="float64", na_value=np.nan)


@dataclass
class _Converted:
    """The version-independent part of grading: test codes, SI values and references, notes."""

    test_idx: np.ndarray        # index into the test list; -1 unknown test, -2 missing test
    test_code: np.ndarray
    si: np.ndarray
    lln_si: np.ndarray
    uln_si: np.ndarray
    baseline_si: np.ndarray
    factor: np.ndarray          # value unit -> SI (nan when the value cannot be read)
    gradable: np.ndarray
    notes: _Notes


def _test_indices(test_series: pd.Series, test_list: list[_Test]) -> tuple[np.ndarray, np.ndarray]:
    """(index into test_list: -1 unknown test, -2 missing; canonical code or None), one look-up per distinct value."""
    t_codes, t_uniques = pd.factorize(test_series, use_na_sentinel=True)
    index_of = {t.code: i for i, t in enumerate(test_list)}
    canon_of_unique = np.array([index_of.get(lab_test_code(u), -1) for u in t_uniques] + [-2], dtype=np.int64)
    test_idx = canon_of_unique[t_codes]
    codes_arr = np.array([t.code for t in test_list] + [None, None], dtype=object)
    return test_idx, codes_arr[test_idx]  # -1 and -2 index the trailing Nones


def _value_checks(labs: pd.DataFrame, value: np.ndarray, known: np.ndarray, notes: _Notes) -> np.ndarray:
    """Rows whose value is usable (a non-negative number); the others get a note."""
    raw_value = labs["value"]
    value_missing = pd.isna(raw_value).to_numpy().copy()
    if not pd.api.types.is_numeric_dtype(raw_value):
        blank = raw_value.astype("string").str.strip() == ""
        value_missing |= blank.fillna(True).to_numpy(dtype=bool)
    notes.add(known & value_missing, "value is missing")
    bad_value = known & ~value_missing & np.isnan(value)
    if bad_value.any():
        raw = raw_value.to_numpy(dtype=object)[bad_value].astype(str)
        notes.add(bad_value, "value '" + raw.astype(object) + "' is not a number")
    notes.add(known & (value < 0), "value is negative")
    return known & np.isfinite(value) & (value >= 0)


def _unit_factors(
    labs: pd.DataFrame, test_list: list[_Test], test_idx: np.ndarray, value: np.ndarray, usable: np.ndarray,
    notes: _Notes,
) -> tuple[np.ndarray, np.ndarray]:
    """(multiplier, divisor) to SI per row, one look-up per distinct (test, unit) pair; a missing
    unit is read from the value's magnitude (``_missing_unit``)."""
    n = len(labs)
    if "unit" in labs:
        u_codes, u_uniques = pd.factorize(labs["unit"], use_na_sentinel=True)
    else:
        u_codes, u_uniques = np.full(n, -1, dtype=np.int64), []
    nu = len(u_uniques) + 1
    pair = (test_idx + 2) * nu + (u_codes + 1)
    pairs, inverse = np.unique(pair, return_inverse=True)
    pair_factor = np.full(len(pairs), np.nan)
    pair_divisor = np.ones(len(pairs))
    pair_missing = np.zeros(len(pairs), dtype=bool)
    pair_reason = np.full(len(pairs), None, dtype=object)
    for k, p in enumerate(pairs):
        ti, ui = int(p // nu) - 2, int(p % nu) - 1
        if ti < 0:
            continue
        test = test_list[ti]
        text = None if ui < 0 else str(u_uniques[ui]).strip()
        if not text or text.casefold() in ("nan", "none", "na", "null"):
            pair_missing[k] = True
            continue
        key = _unit_key(text)
        found = next((u for u in test.units if key in u.keys), None)
        if found is None:
            if test.unitless and key in ("", "-"):
                pair_missing[k] = True
                continue
            pair_reason[k] = f"unit '{text}' not recognised for {test.code}; accepted: {test.unit_names}"
        else:
            pair_factor[k], pair_divisor[k] = _mul_div(found)
    factor = pair_factor[inverse]
    divisor = pair_divisor[inverse]
    unit_missing = pair_missing[inverse]
    notes.add(usable, pair_reason[inverse][usable])
    for ti, test in enumerate(test_list):
        rows = np.flatnonzero(usable & unit_missing & (test_idx == ti))
        if len(rows):
            f, dv, note, reason = _missing_unit(test, value[rows])
            factor[rows], divisor[rows] = f, dv
            notes.add(rows, reason)
            notes.add(rows, note)
    return factor, divisor


def _convert(labs: pd.DataFrame, baselines: pd.DataFrame | None, test_list: list[_Test]) -> _Converted:
    n = len(labs)
    notes = _Notes(n)
    test_series = labs["test"] if "test" in labs else labs["test_code"]
    test_idx, test_code = _test_indices(test_series, test_list)
    value = _numeric(labs["value"], n)
    lln = _numeric(labs["lln"], n) if "lln" in labs else np.full(n, np.nan)
    uln = _numeric(labs["uln"], n) if "uln" in labs else np.full(n, np.nan)
    baseline_raw = _numeric(labs["_baseline_raw"], n) if "_baseline_raw" in labs else None
    baseline_si = _baseline_si(labs, test_code, baselines)

    notes.add(test_idx == -2, "test is missing")
    if (test_idx == -1).any():
        unknown_rows = np.flatnonzero(test_idx == -1)
        raw = test_series.iloc[unknown_rows].astype(str).to_numpy(dtype=object)
        graded = ", ".join(t.code for t in test_list)
        notes.add(unknown_rows, "test '" + raw + "' is not graded (graded: " + graded + ")")
    usable = _value_checks(labs, value, test_idx >= 0, notes)
    mul, div = _unit_factors(labs, test_list, test_idx, value, usable, notes)
    factor = mul / div
    if baseline_raw is not None:
        baseline_si = np.where(np.isnan(baseline_si), baseline_raw * mul / div, baseline_si)
    si = value * mul / div
    return _Converted(test_idx, test_code, si, lln * mul / div, uln * mul / div, baseline_si, factor,
                      usable & np.isfinite(si), notes)


def _grade_version(c: _Converted, test_list: list[_Test], version: str) -> tuple[Any, Any, Any]:
    """(grade Int64 array, ctcae_term, grade_note) of every row under one CTCAE version."""
    n = len(c.si)
    notes = _Notes(n)
    notes.arr = c.notes.arr.copy()
    grade = np.full(n, -1, dtype=np.int8)
    terms: list[str] = []
    term = np.full(n, -1, dtype=np.int64)       # index into terms; -1 no term
    for ti, test in enumerate(test_list):
        in_test = c.test_idx == ti
        sides = test.sides_by_version[version]
        first = len(terms)
        terms += [side.term for side in sides]
        if len(sides) == 1:
            term[in_test] = first
        rows = np.flatnonzero(in_test & c.gradable)
        if not len(rows):
            continue
        g, side_idx, row_notes = _grade_test_rows(test, version, c.si[rows], c.lln_si[rows], c.uln_si[rows],
                                                  c.baseline_si[rows])
        grade[rows], term[rows] = g, np.where(side_idx >= 0, side_idx + first, -1)
        for sel, text in row_notes:
            notes.add(rows[sel], text[sel] if isinstance(text, np.ndarray) else text)
    mask = grade < 0
    term_arr = pd.array(terms, dtype="string").take(term, allow_fill=True)
    return (pd.arrays.IntegerArray(np.where(mask, 0, grade).astype("int64"), mask), term_arr,
            _to_string(notes.arr))


def derive_lab_grades(
    labs: pd.DataFrame, baselines: pd.DataFrame | None = None, version: Any = DEFAULT_VERSION
) -> pd.DataFrame:
    """Grade every lab row under both CTCAE versions; returns ``labs`` with columns added:

    test_code (canonical, <NA> when the test is not graded), si_value, si_unit, si_factor (value
    unit -> SI), baseline_si (the baseline the row was graded against, SI), grade (Int64: 0-4, <NA> when it cannot be graded), ctcae_term and grade_note (why
    not graded, or what to know about the grade) under ``version`` (the version of record), and
    grade_v5, ctcae_term_v5, grade_note_v5, grade_v6, ctcae_term_v6, grade_note_v6 under each
    version (``lab_grade_columns``, ``select_lab_version``).

    ``labs`` columns (data contract): test, value, and optionally unit, lln, uln (in the value's
    unit), subject_id, baseline_si. ``baselines``: subject_id, test_code, baseline_si (SI units;
    the last value before the first treatment, see ``compute_lab_baselines``); it is needed for
    the baseline criteria (ALT, AST, bilirubin, ALP, GGT with an abnormal baseline; creatinine).
    """
    version = ctcae_version(version)
    tests, _ = _load()
    test_list = list(tests.values())
    c = _convert(labs, baselines, test_list)
    # strings by integer code (one take), not per-row objects: -1 is <NA>
    idx = np.where(c.test_idx >= 0, c.test_idx, -1)
    codes = pd.array([t.code for t in test_list], dtype="string")
    units = pd.array([t.si_unit for t in test_list], dtype="string")
    out = {
        "test_code": codes.take(idx, allow_fill=True),
        "si_value": pd.array(np.where(c.gradable, c.si, np.nan), dtype="Float64"),
        "si_unit": units.take(np.where(c.gradable, idx, -1), allow_fill=True),
        "si_factor": np.where(c.gradable, c.factor, np.nan),
        "baseline_si": c.baseline_si,
    }
    for v in CTCAE_VERSIONS:
        cols = lab_grade_columns(v)
        out[cols["grade"]], out[cols["ctcae_term"]], out[cols["grade_note"]] = _grade_version(c, test_list, v)
    record = lab_grade_columns(version)
    out_first = {k: out[k] for k in ("test_code", "si_value", "si_unit")}
    out_first.update(grade=out[record["grade"]], ctcae_term=out[record["ctcae_term"]],
                     grade_note=out[record["grade_note"]], si_factor=out["si_factor"])
    out_first.update({k: v for k, v in out.items() if k not in out_first})
    return labs.assign(**out_first)


def derive_si_limits(graded: pd.DataFrame) -> pd.DataFrame:
    """``graded`` (``derive_lab_grades`` output) with lln_si and uln_si added: the row's LLN and ULN
    converted with the same factor as its value (NaN when the row cannot be graded or a limit is
    missing). The one place where reference limits are brought to SI units (dosing and the patient
    course both read them)."""
    factor = pd.Series(graded["si_factor"], index=graded.index).astype(float)

    def limit(name: str) -> pd.Series:
        if name not in graded.columns:
            return pd.Series(np.nan, index=graded.index)
        return pd.to_numeric(graded[name], errors="coerce").astype(float) * factor

    return graded.assign(lln_si=limit("lln"), uln_si=limit("uln"))


# ----------------------------------------------------------------------------------------------
# grade bands (for charts)


def _threshold_limit(t: _Threshold, ref: dict[str | None, float], direction: str) -> tuple[float, str | None] | None:
    """The value at which ``t`` starts to hold and the reference it is a multiple of; None when a
    reference it needs is missing."""
    limits = []
    for c in t.conds:
        r = ref.get(c.of)
        if r is None or not np.isfinite(r):
            return None
        limits.append((c.x * r, c.of))
    # every condition must hold: the strictest limit decides
    return max(limits, key=lambda x: x[0]) if direction == "high" else min(limits, key=lambda x: x[0])


def compute_lab_grade_bands(test_code: str, lln: float | None = None, uln: float | None = None,
                            baseline: float | None = None, version: Any = DEFAULT_VERSION) -> pd.DataFrame:
    """CTCAE grade bands of one test in SI units under ``version``: columns test_code, direction,
    grade, low, high, basis (the reference of the band's edge nearer to normal: LLN, ULN, baseline
    or absolute). ``high`` is inf for the top grade of a "high" side; ``low`` is 0 for the top grade
    of a "low" side. A value reaches grade g when any applying criterion of grade >= g holds, so the
    edge of grade g is the lowest (high side) or highest (low side) such limit; a criterion whose
    reference is missing is left out, and an empty band is not drawn."""
    cols = ["test_code", "direction", "grade", "low", "high", "basis"]
    test = _load()[0].get(str(test_code))
    if test is None:
        return pd.DataFrame(columns=cols)
    ref = {None: 1.0, "LLN": lln, "ULN": uln, "baseline": baseline}
    arr = {k: np.array([np.nan if x is None else float(x)]) for k, x in (("LLN", lln), ("ULN", uln),
                                                                         ("baseline", baseline))}
    out = []
    for side in test.sides_by_version[ctcae_version(version)]:
        limits: list[tuple[int, float, str | None]] = []
        for group in side.groups:
            if _group_rows(group.when, arr["LLN"], arr["ULN"], arr["baseline"])[0][0]:
                limits += [(t.grade, *lim) for t in group.thresholds
                           if (lim := _threshold_limit(t, ref, side.direction)) is not None]
        pick = min if side.direction == "high" else max
        edges = {}
        for g in sorted({g for g, _, _ in limits}):
            edges[g] = pick(((x, of) for gg, x, of in limits if gg >= g), key=lambda e: e[0])
        grades = sorted(edges)
        for g in grades:
            nxt = edges.get(g + 1, (None, None))[0]
            edge, of = edges[g]
            if side.direction == "low":
                low = nxt if nxt is not None else (0.0 if g == max(grades) else None)
                if low is not None and low < edge:
                    out.append((test.code, "low", g, low, edge, of or "absolute"))
            else:
                high = nxt if nxt is not None else (np.inf if g == max(grades) else None)
                if high is not None and high > edge:
                    out.append((test.code, "high", g, edge, high, of or "absolute"))
    return pd.DataFrame(out, columns=cols).astype({"grade": "int64", "low": float, "high": float})


# ----------------------------------------------------------------------------------------------
# one value


@dataclass(frozen=True)
class LabGrade:
    """CTCAE grade of one lab value. grade None = not gradable (reason says why); 0 = normal."""

    grade: int | None
    term: str | None
    si_value: float | None
    si_unit: str | None
    reason: str | None


def grade_lab_value(
    test: str,
    value: Any,
    unit: str | None,
    lln: float | None = None,
    uln: float | None = None,
    baseline: float | None = None,
) -> LabGrade:
    """Grade one value. lln, uln and baseline are in the same unit as value."""
    row = pd.DataFrame(
        {
            "test": pd.array([test], dtype=object),
            "value": pd.array([value], dtype=object),
            "unit": pd.array([unit], dtype=object),
            "lln": [np.nan if lln is None else lln],
            "uln": [np.nan if uln is None else uln],
            "_baseline_raw": [np.nan if baseline is None else baseline],
        }
    )
    out = derive_lab_grades(row).iloc[0]

    def opt(x: Any) -> Any:
        return None if pd.isna(x) else x

    grade = opt(out["grade"])
    si = opt(out["si_value"])
    return LabGrade(
        grade=None if grade is None else int(grade),
        term=opt(out["ctcae_term"]),
        si_value=None if si is None else float(si),
        si_unit=opt(out["si_unit"]),
        reason=opt(out["grade_note"]),
    )


def compute_lab_baselines(
    graded: pd.DataFrame, first_treatment: pd.DataFrame, same_day_counts: bool = True
) -> pd.DataFrame:
    """Baseline per subject and test: the last graded value collected before the first treatment.

    graded: output of derive_lab_grades with subject_id and collected_on; first_treatment:
    subject_id, first_treatment. A sample taken on the day of the first treatment counts as
    baseline unless same_day_counts is False (pre-dose samples are usually drawn that day).
    Returns subject_id, test_code, baseline_si, baseline_on.
    """
    starts = first_treatment[["subject_id", "first_treatment"]].assign(
        subject_id=lambda d: d["subject_id"].astype("string"),
        first_treatment=lambda d: pd.to_datetime(d["first_treatment"]),
    )
    labs = graded.loc[graded["test_code"].notna() & graded["si_value"].notna()]
    labs = pd.DataFrame(
        {
            "subject_id": labs["subject_id"].astype("string"),
            "test_code": labs["test_code"].astype("string"),
            "baseline_si": labs["si_value"].astype("float64"),
            "baseline_on": pd.to_datetime(labs["collected_on"]),
        }
    ).merge(starts, on="subject_id", how="inner")
    day = labs["baseline_on"].dt.normalize()
    start = labs["first_treatment"].dt.normalize()
    before = day <= start if same_day_counts else day < start
    out = (
        labs.loc[before]
        .sort_values(["subject_id", "test_code", "baseline_on"], kind="stable")
        .groupby(["subject_id", "test_code"], as_index=False, sort=True)
        .last()
    )
    return out[["subject_id", "test_code", "baseline_si", "baseline_on"]].reset_index(drop=True)


def derive_lab_grades_with_baselines(
    labs: pd.DataFrame, first_treatment: pd.DataFrame, version: Any = DEFAULT_VERSION,
    same_day_counts: bool = False,
) -> pd.DataFrame:
    """``derive_lab_grades`` with each patient's baseline found first (``compute_lab_baselines``:
    the last value of the test before ``first_treatment``; a value drawn on that day counts only
    when ``same_day_counts``). ``baseline_si`` in the result is the baseline each row was graded
    against (NaN when the patient has none)."""
    if len(labs) == 0 or len(first_treatment) == 0:
        return derive_lab_grades(labs, version=version)
    # grade twice: the baseline needs SI values, and the baseline criteria need the baseline
    baselines = compute_lab_baselines(derive_lab_grades(labs), first_treatment, same_day_counts=same_day_counts)
    return derive_lab_grades(labs, baselines, version=version)


LAB_EXPORT_COLUMNS = ["subject_id", "collected_on", "test", "value", "unit", "lln", "uln", "baseline", "grade"]


def lab_values_for_export(graded: pd.DataFrame, version: Any = DEFAULT_VERSION) -> pd.DataFrame:
    """One row per lab value (LAB_EXPORT_COLUMNS), sorted by patient, date and test: the test's
    canonical code (as written when the test is not graded), the value, unit, LLN and ULN as given,
    the baseline it was graded against in the value's unit, and the grade under ``version``
    (empty when the value cannot be graded). ``graded``: ``derive_lab_grades`` output with
    subject_id and collected_on."""
    g = select_lab_version(graded, version)
    n = len(g)
    test = g["test_code"].astype(object).where(g["test_code"].notna(), g["test"].astype(object))
    factor = pd.Series(g["si_factor"], index=g.index).astype(float)
    baseline = (pd.Series(g["baseline_si"], index=g.index).astype(float) / factor).round(10)

    def column(name: str) -> pd.Series:
        return g[name] if name in g else pd.Series([None] * n, index=g.index, dtype=object)

    out = pd.DataFrame({
        "subject_id": g["subject_id"].astype(str),
        "collected_on": pd.to_datetime(g["collected_on"]).dt.strftime("%Y-%m-%d"),
        "test": test,
        "value": column("value"),
        "unit": column("unit"),
        "lln": column("lln"),
        "uln": column("uln"),
        "baseline": baseline,
        "grade": g["grade"],
    })
    return out.sort_values(["subject_id", "collected_on", "test"], kind="stable").reset_index(drop=True)
