"""Grade laboratory values by CTCAE v5.0 (clinical-rules.md section 4).

The criteria are data: ``toxdb/data/lab_criteria.json`` (thresholds per test, in SI units) and
``toxdb/data/lab_units.json`` (test-code synonyms, accepted units, factors to SI, plausible ranges).

``derive_lab_grades`` is the one implementation; it works on whole columns with numpy (one pass per
test and threshold, never per row). ``grade_lab_value`` runs it on a single row.

Grades: 0 = within the graded range (no toxicity), 1-4 = CTCAE grade, <NA> = cannot be graded, with
the reason in ``grade_note``. Lab grading never gives grade 5. A unit is never guessed: a value
without a unit is read in the one unit its magnitude fits, and flagged when more than one fits.
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

CRITERIA_JSON = DATA_DIR / "lab_criteria.json"
UNITS_JSON = DATA_DIR / "lab_units.json"

_REF_NAMES = {None: "", "LLN": "LLN", "ULN": "ULN", "baseline": "baseline"}
_REF_CODES = {"LLN": 1, "ULN": 2, "baseline": 3}
_MISSING_REF_TEXT = {
    1: "no LLN given, and the grade depends on it",
    2: "no ULN given, and the grade depends on it",
    3: "no baseline given, and the grade depends on it",
}
_REL_TOL = 1e-9
BASELINE_ABNORMAL_NOTE = "baseline above ULN, so graded as multiples of baseline"


# ----------------------------------------------------------------------------------------------
# criteria and units, loaded once


@dataclass(frozen=True)
class _Threshold:
    grade: int
    op: str
    x: float
    of: str | None
    note: str | None


@dataclass(frozen=True)
class _Side:
    direction: str
    term: str
    thresholds: tuple[_Threshold, ...]
    baseline_abnormal: tuple[_Threshold, ...] | None


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
    sides: tuple[_Side, ...]
    baseline_dependent: bool
    unitless: bool
    units: tuple[_Unit, ...]

    @property
    def unit_names(self) -> str:
        return ", ".join(u.unit for u in self.units)


def _thresholds(raw: list[dict[str, Any]]) -> tuple[_Threshold, ...]:
    items = [
        _Threshold(int(t["grade"]), t["op"], float(t["x"]), t.get("of"), t.get("note")) for t in raw
    ]
    for t in items:
        if t.op not in ("<", ">", ">=") or t.of not in _REF_NAMES or not 1 <= t.grade <= 4:
            raise ValueError(f"bad lab threshold {t}")
    return tuple(sorted(items, key=lambda t: -t.grade))


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
    criteria = json.loads(CRITERIA_JSON.read_text(encoding="utf-8"))["tests"]
    units = json.loads(UNITS_JSON.read_text(encoding="utf-8"))
    alias_sets = units["alias_sets"]
    tests: dict[str, _Test] = {}
    for code, spec in criteria.items():
        uspec = units["tests"][code]
        unit_items = []
        for u in uspec["units"]:
            aliases = alias_sets[u["aliases"]] if isinstance(u["aliases"], str) else u["aliases"]
            keys = frozenset(_unit_key(a) for a in [*aliases, u["unit"]])
            # "divisor": 1000 converts exactly where "factor": 0.001 would add rounding noise
            factor = 1 / float(u["divisor"]) if "divisor" in u else float(u["factor"])
            low, high = (float(x) for x in u["plausible"])
            unit_items.append(_Unit(u["unit"], factor, u.get("divisor"), low, high, keys))
        sides = tuple(
            _Side(
                s["direction"],
                s["term"],
                _thresholds(s["thresholds"]),
                _thresholds(s["baseline_abnormal"]) if "baseline_abnormal" in s else None,
            )
            for s in spec["sides"]
        )
        tests[code] = _Test(
            code=code,
            si_unit=spec["si_unit"],
            sides=sides,
            baseline_dependent=bool(spec.get("baseline_dependent", False)),
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


def lab_terms() -> dict[str, tuple[str, ...]]:
    """CTCAE terms each test grades, e.g. {'K': ('Hyperkalemia', 'Hypokalemia'), ...}."""
    return {code: tuple(s.term for s in t.sides) for code, t in _load()[0].items()}


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
    thresholds: tuple[_Threshold, ...], v: np.ndarray, refs: dict[str | None, np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """grade (0-4, or -2 when a needed reference is missing), note, missing reference code."""
    m = len(v)
    grade = np.full(m, -1, dtype=np.int8)
    note = np.full(m, None, dtype=object)
    missing = np.zeros(m, dtype=np.int8)
    for t in thresholds:
        limit = t.x * refs[t.of] if t.of else np.full(m, t.x)
        undecided = grade == -1
        unknown = undecided & np.isnan(limit)
        # a value within a relative 1e-9 of a limit is on the limit (unit conversion noise)
        tol = np.abs(limit) * _REL_TOL
        with np.errstate(invalid="ignore"):
            if t.op == "<":
                hit = v < limit - tol
            elif t.op == ">":
                hit = v > limit + tol
            else:
                hit = v >= limit - tol
        hit &= undecided & ~unknown
        grade[unknown] = -2
        missing[unknown] = _REF_CODES.get(t.of, 0)
        grade[hit] = t.grade
        if t.note:
            note[hit] = t.note
    grade[grade == -1] = 0
    return grade, note, missing


def _grade_side(
    test: _Test, side: _Side, v: np.ndarray, lln: np.ndarray, uln: np.ndarray, base: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    refs = {None: None, "LLN": lln, "ULN": uln, "baseline": base}
    grade, note, missing = _apply(side.thresholds, v, refs)
    abnormal = np.zeros(len(v), dtype=bool)
    if test.baseline_dependent and side.baseline_abnormal:
        with np.errstate(invalid="ignore"):
            abnormal = base > uln if side.direction == "high" else base < lln
        if abnormal.any():
            sub = {k: (r[abnormal] if r is not None else None) for k, r in refs.items()}
            g2, n2, m2 = _apply(side.baseline_abnormal, v[abnormal], sub)
            grade[abnormal], note[abnormal], missing[abnormal] = g2, n2, m2
    return grade, note, missing, abnormal


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


def derive_lab_grades(labs: pd.DataFrame, baselines: pd.DataFrame | None = None) -> pd.DataFrame:
    """Grade every lab row; returns ``labs`` with columns added:

    test_code (canonical, <NA> when the test is not graded), si_value, si_unit, grade (Int64:
    0-4, <NA> when it cannot be graded), ctcae_term, grade_note (why not graded, or what to know
    about the grade).

    ``labs`` columns (data contract): test, value, and optionally unit, lln, uln (in the value's
    unit), subject_id, baseline_si. ``baselines``: subject_id, test_code, baseline_si (SI units;
    the last value before the first treatment, see ``compute_lab_baselines``); it is needed for
    the baseline-abnormal criteria of ALT, AST, bilirubin, ALP and GGT.
    """
    tests, _ = _load()
    test_list = list(tests.values())
    n = len(labs)
    notes = _Notes(n)
    test_series = labs["test"] if "test" in labs else labs["test_code"]

    # test codes: one look-up per distinct value
    t_codes, t_uniques = pd.factorize(test_series, use_na_sentinel=True)
    index_of = {t.code: i for i, t in enumerate(test_list)}
    canon_of_unique = np.array(
        [index_of.get(lab_test_code(u), -1) for u in t_uniques] + [-2], dtype=np.int64
    )
    test_idx = canon_of_unique[t_codes]  # -1 unknown test, -2 missing test
    codes_arr = np.array([t.code for t in test_list] + [None, None], dtype=object)
    test_code = codes_arr[test_idx]  # -1 and -2 index the trailing Nones

    value = _numeric(labs["value"], n)
    lln = _numeric(labs["lln"], n) if "lln" in labs else np.full(n, np.nan)
    uln = _numeric(labs["uln"], n) if "uln" in labs else np.full(n, np.nan)
    baseline_raw = _numeric(labs["_baseline_raw"], n) if "_baseline_raw" in labs else None
    baseline_si = _baseline_si(labs, test_code, baselines)

    notes.add(test_idx == -2, "test is missing")
    if (test_idx == -1).any():
        unknown_rows = np.flatnonzero(test_idx == -1)
        raw = test_series.iloc[unknown_rows].astype(str).to_numpy(dtype=object)
        notes.add(unknown_rows, "test '" + raw + "' is not graded (graded: " + ", ".join(tests) + ")")

    known = test_idx >= 0
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
    negative = known & (value < 0)
    notes.add(negative, "value is negative")
    usable = known & np.isfinite(value) & (value >= 0)

    # units: one look-up per distinct (test, unit) pair
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

    si = value * factor / divisor
    lln_si, uln_si = lln * factor / divisor, uln * factor / divisor
    if baseline_raw is not None:
        baseline_si = np.where(np.isnan(baseline_si), baseline_raw * factor / divisor, baseline_si)
    gradable = usable & np.isfinite(si)

    grade = np.full(n, -1, dtype=np.int8)
    term = np.full(n, None, dtype=object)
    si_unit = np.full(n, None, dtype=object)
    for ti, test in enumerate(test_list):
        in_test = test_idx == ti
        si_unit[in_test & gradable] = test.si_unit
        if len(test.sides) == 1:
            term[in_test] = test.sides[0].term
        rows = np.flatnonzero(in_test & gradable)
        if not len(rows):
            continue
        v, lo, hi, base = si[rows], lln_si[rows], uln_si[rows], baseline_si[rows]
        results = [_grade_side(test, s, v, lo, hi, base) for s in test.sides]
        final = np.full(len(rows), -2, dtype=np.int8)
        chosen_note = np.full(len(rows), None, dtype=object)
        chosen_term = np.full(len(rows), None, dtype=object)
        abnormal_used = np.zeros(len(rows), dtype=bool)
        decided = np.zeros(len(rows), dtype=bool)
        for side, (g, nt, _, ab) in zip(test.sides, results):
            take = ~decided & (g >= 1)
            final[take], chosen_note[take], chosen_term[take] = g[take], nt[take], side.term
            abnormal_used[take] = ab[take]
            decided |= take
        all_zero = np.logical_and.reduce([g == 0 for g, *_ in results])
        zero = ~decided & all_zero
        final[zero] = 0
        abnormal_used[zero] = np.logical_or.reduce([ab for *_, ab in results])[zero]
        if len(test.sides) == 1:
            chosen_term[:] = test.sides[0].term
        grade[rows] = final
        term[rows] = chosen_term
        # why a row could not be graded: the references its sides were missing
        undecided = final == -2
        if undecided.any():
            missing_codes = np.zeros(len(rows), dtype=np.int64)
            for g, _, miss, _ in results:
                missing_codes |= np.where(g == -2, 1 << miss.astype(np.int64), 0)
            for code in np.unique(missing_codes[undecided]):
                sel = undecided & (missing_codes == code)
                text = "; ".join(_MISSING_REF_TEXT[r] for r in (1, 2, 3) if code >> r & 1)
                notes.add(rows[sel], text)
        notes.add(rows[abnormal_used & (final >= 0)], BASELINE_ABNORMAL_NOTE)
        notes.add(rows, chosen_note)

    mask = grade < 0
    grade_out = pd.arrays.IntegerArray(np.where(mask, 0, grade).astype("int64"), mask)
    si_out = pd.array(np.where(gradable, si, np.nan), dtype="Float64")
    return labs.assign(
        test_code=_to_string(test_code),
        si_value=si_out,
        si_unit=_to_string(si_unit),
        grade=grade_out,
        ctcae_term=_to_string(term),
        grade_note=_to_string(notes.arr),
    )


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
