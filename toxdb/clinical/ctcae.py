"""The CTCAE v5.0 dictionary: terms, term matching and grade normalisation.

Data: ``toxdb/data/ctcae_v5_terms.csv`` (837 terms: MedDRA code, SOC, which grades exist; tabulated
from the NCI spreadsheet by ``tools/tabulate_ctcae.py``) and ``toxdb/data/ctcae_synonyms.csv``.

Vectorised functions (``derive_*``) map each distinct value once, so a column of a million rows
with a hundred distinct values costs a hundred look-ups plus one ``take``.
Lab grading lives in ``toxdb.labs``.
"""

from __future__ import annotations

import difflib
import functools
import math
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from toxdb import DATA_DIR
from toxdb.arrays import distinct_combinations, take_category

TERMS_CSV = DATA_DIR / "ctcae_v5_terms.csv"
SYNONYMS_CSV = DATA_DIR / "ctcae_synonyms.csv"

MATCHED_BY = ("exact", "case", "synonym", "soc_prefix", "other_specify")
OTHER_SPECIFY_SUFFIX = " - Other, specify"
MAX_SUGGESTIONS = 3

# British -> US spellings (data/ctcae_spellings.csv), applied to both sides of a comparison until
# nothing changes (so over-eager rules only merge spellings, they cannot point one term at another: a
# load-time check guards against collisions).
SPELLINGS_CSV = DATA_DIR / "ctcae_spellings.csv"


@functools.lru_cache(maxsize=1)
def _spelling_rules() -> tuple[tuple[str, str], ...]:
    table = pd.read_csv(SPELLINGS_CSV, dtype="string", keep_default_na=False)
    return tuple(zip(table["british"], table["us"]))


_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2212"), "-")
_SOC_SEPARATOR = re.compile(r"\s*(?:>>|\u00bb)\s*")
# "<SOC> - Other, specify: verbatim", "<SOC> - Other: verbatim", "<SOC> - other (verbatim)"
_OTHER_SPECIFY = re.compile(
    r"^(?P<head>.+?)\s*[-:]\s*other\b\s*,?\s*(?:\(?\s*specify\s*\)?)?\s*[:\-(]?\s*(?P<text>.*?)\s*\)?\s*$",
    re.IGNORECASE,
)


# ----------------------------------------------------------------------------------------------
# keys used for matching


def _case_key(text: str) -> str:
    """Case-insensitive, whitespace-collapsed, unicode dashes unified."""
    return " ".join(unicodedata.normalize("NFKC", text).translate(_DASHES).casefold().split())


def _loose_key(text: str) -> str:
    """Case key with punctuation as spaces and British spellings made US."""
    key = re.sub(r"[^0-9a-z]+", " ", _case_key(text))
    before = None
    while key != before:          # "gastrooesophageal" and "gastroesophageal" end at one key
        before = key
        for british, us in _spelling_rules():
            key = key.replace(british, us)
    return " ".join(key.split())


# ----------------------------------------------------------------------------------------------
# the dictionary


@functools.lru_cache(maxsize=1)
def _load_terms() -> pd.DataFrame:
    table = pd.read_csv(
        TERMS_CSV,
        dtype={"meddra_code": "string", "soc": "string", "term": "string", "grades": "string"},
        keep_default_na=False,
    )
    table["grade_min"] = table["grade_min"].astype("int64")
    table["grade_max"] = table["grade_max"].astype("int64")
    return table


def load_ctcae() -> pd.DataFrame:
    """The 837 CTCAE v5.0 terms: meddra_code, soc, term, grade_min, grade_max, grades.

    ``grades`` lists the grades that exist: "1-5" for a run without gaps, "1,3" otherwise.
    The frame is cached; the copy returned is cheap (copy-on-write) and safe to modify.
    """
    return _load_terms().copy(deep=False)


def _parse_grades(text: str) -> tuple[int, ...]:
    if "-" in text:
        low, high = text.split("-")
        return tuple(range(int(low), int(high) + 1))
    return tuple(int(g) for g in text.split(","))


def _range_text(grades: tuple[int, ...]) -> str:
    """'1–3' for a run without gaps (en dash), '5' for one grade, '1, 3' otherwise."""
    if len(grades) == 1:
        return str(grades[0])
    if grades == tuple(range(grades[0], grades[-1] + 1)):
        return f"{grades[0]}\u2013{grades[-1]}"
    return ", ".join(str(g) for g in grades)


@dataclass(frozen=True)
class _Entry:
    term: str
    soc: str
    meddra_code: str
    grades: tuple[int, ...]

    @property
    def is_other_specify(self) -> bool:
        return self.term.endswith(OTHER_SPECIFY_SUFFIX)


class _Dictionary:
    """Look-up indexes built once from the packaged CSVs."""

    def __init__(self, terms: pd.DataFrame, synonyms: pd.DataFrame) -> None:
        self.entries: dict[str, _Entry] = {}
        self.by_case: dict[str, str] = {}
        self.by_loose: dict[str, str] = {}
        self.soc_by_loose: dict[str, str] = {}
        self.terms_by_soc: dict[str, list[str]] = {}
        self.other_by_head: dict[str, str] = {}
        for rec in terms.itertuples(index=False):
            entry = _Entry(rec.term, rec.soc, rec.meddra_code, _parse_grades(rec.grades))
            self.entries[entry.term] = entry
            self.by_case[_case_key(entry.term)] = entry.term
            self._add_loose(_loose_key(entry.term), entry.term)
            self.soc_by_loose[_loose_key(entry.soc)] = entry.soc
            self.terms_by_soc.setdefault(entry.soc, []).append(entry.term)
            if entry.is_other_specify:
                head = entry.term[: -len(OTHER_SPECIFY_SUFFIX)]
                self.other_by_head[_loose_key(head)] = entry.term
                self.other_by_head[_loose_key(entry.soc)] = entry.term
        self.synonym_keys: dict[str, str] = {}
        self.synonym_by_case: dict[str, str] = {}     # words a loose key cannot hold (Chinese)
        for rec in synonyms.itertuples(index=False):
            if rec.term not in self.entries:
                raise ValueError(f"synonym {rec.synonym!r} points at unknown term {rec.term!r}")
            self.synonym_by_case[_case_key(rec.synonym)] = rec.term
            if not rec.synonym.isascii():      # "ALT升高" must not become the loose key "alt"
                continue
            key = _loose_key(rec.synonym)
            self._add_loose(key, rec.term)
            self.synonym_keys[key] = rec.term
        # candidates for suggestions: every term and synonym, by loose key
        self.suggest_keys = list(self.by_loose)
        self.suggest_tokens = {k: set(k.split()) for k in self.suggest_keys}

    def _add_loose(self, key: str, term: str) -> None:
        known = self.by_loose.setdefault(key, term)
        if known != term:
            raise ValueError(f"{key!r} would match both {known!r} and {term!r}")


@functools.lru_cache(maxsize=1)
def _dictionary() -> _Dictionary:
    synonyms = pd.read_csv(SYNONYMS_CSV, dtype="string", keep_default_na=False)
    return _Dictionary(_load_terms(), synonyms)


# ----------------------------------------------------------------------------------------------
# term matching


@dataclass(frozen=True)
class TermMatch:
    """How one written term resolved against CTCAE v5.0.

    ``term``/``soc``/``meddra_code`` are None when nothing matched; then ``suggestions`` lists the
    closest CTCAE terms. ``matched_by`` is one of MATCHED_BY or None. ``specified`` is the text
    written after "Other, specify" (the caller keeps the verbatim text either way).
    """

    text: str | None
    term: str | None = None
    soc: str | None = None
    meddra_code: str | None = None
    matched_by: str | None = None
    suggestions: list[str] = field(default_factory=list)
    specified: str | None = None

    @property
    def matched(self) -> bool:
        return self.term is not None


def _resolve_plain(text: str, d: _Dictionary) -> tuple[str, str] | None:
    """(term, how) for a term written without a SOC prefix, or None."""
    stripped = text.strip()
    if stripped in d.entries:
        return stripped, "exact"
    term = d.by_case.get(_case_key(stripped))
    if term is not None:
        return term, "case"
    term = d.synonym_by_case.get(_case_key(stripped))
    if term is not None:
        return term, "synonym"
    term = d.by_loose.get(_loose_key(stripped)) if _loose_key(stripped) else None
    if term is not None:
        return term, "synonym"
    return None


def _resolve_other(text: str, d: _Dictionary) -> tuple[str, str | None] | None:
    """(Other-specify term, specified text) for "<SOC> - Other, specify: ...", or None."""
    found = _OTHER_SPECIFY.match(text.strip())
    if not found:
        return None
    term = d.other_by_head.get(_loose_key(found["head"]))
    if term is None:
        return None
    specified = found["text"].strip(" :-()") or None
    return term, specified


def _suggest(text: str, d: _Dictionary, soc: str | None = None) -> list[str]:
    """Closest CTCAE terms: difflib on the whole text, then shared words; same SOC first."""
    key = _loose_key(text)
    if not key:
        return []
    found: list[str] = []

    def add(term: str) -> None:
        if term not in found:
            found.append(term)

    if soc is not None:
        soc_keys = [_loose_key(t) for t in d.terms_by_soc.get(soc, [])]
        for k in difflib.get_close_matches(key, soc_keys, n=MAX_SUGGESTIONS, cutoff=0.6):
            add(d.by_loose[k])
    for k in difflib.get_close_matches(key, d.suggest_keys, n=2 * MAX_SUGGESTIONS, cutoff=0.6):
        add(d.by_loose[k])
    if len(found) < MAX_SUGGESTIONS:
        words = {w for w in key.split() if len(w) >= 3}
        stems = {w[:5] for w in words}
        scored = []
        for k, tokens in d.suggest_tokens.items():
            shared = len(stems & {t[:5] for t in tokens})
            if shared:
                scored.append((-shared / len(stems | {t[:5] for t in tokens}), len(k), k))
        for _, _, k in sorted(scored)[: 3 * MAX_SUGGESTIONS]:
            add(d.by_loose[k])
    if not found:
        for k in difflib.get_close_matches(key, d.suggest_keys, n=MAX_SUGGESTIONS, cutoff=0.5):
            add(d.by_loose[k])
    return found[:MAX_SUGGESTIONS]


@functools.lru_cache(maxsize=65536)
def _match_text(text: str) -> TermMatch:
    d = _dictionary()
    if not text.strip():
        return TermMatch(text=text)
    soc_hint: str | None = None
    target = text
    resolved = _resolve_plain(text, d)
    specified = None
    if resolved is None:
        other = _resolve_other(text, d)
        if other is not None:
            resolved = (other[0], "other_specify")
            specified = other[1]
    if resolved is None and _SOC_SEPARATOR.search(text):
        left, target = _SOC_SEPARATOR.split(text.strip(), maxsplit=1)
        soc_hint = d.soc_by_loose.get(_loose_key(left))
        plain = _resolve_plain(target, d)
        if plain is not None:
            resolved = (plain[0], "soc_prefix")
        else:
            other = _resolve_other(target, d)
            if other is not None:
                resolved = (other[0], "soc_prefix")
                specified = other[1]
    if resolved is None:
        return TermMatch(text=text, suggestions=_suggest(target, d, soc_hint))
    entry = d.entries[resolved[0]]
    how = "other_specify" if entry.is_other_specify else resolved[1]
    return TermMatch(
        text=text,
        term=entry.term,
        soc=entry.soc,
        meddra_code=entry.meddra_code,
        matched_by=how,
        specified=specified,
    )


@functools.lru_cache(maxsize=4096)
def _soc_other(text: str) -> tuple[str, str, str] | None:
    d = _dictionary()
    term = d.other_by_head.get(_loose_key(text))
    if term is None:
        return None
    e = d.entries[term]
    return e.term, e.soc, e.meddra_code


def soc_other_specify(soc: Any) -> tuple[str, str, str] | None:
    """(term, soc, meddra_code) of CTCAE's "<SOC> - Other, specify" for a system organ class as a
    file writes it (MedDRA SOC names, any case, British spelling), or None for an unknown SOC."""
    if _is_missing(soc) or not str(soc).strip():
        return None
    return _soc_other(str(soc).strip())


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def match_term(text: Any) -> TermMatch:
    """Resolve one written term (any case; synonyms; "SOC >> Term"; "<SOC> - Other, specify")."""
    if _is_missing(text):
        return TermMatch(text=None)
    return _match_text(str(text))


def _take(values: list[Any], codes: np.ndarray, dtype: str) -> pd.array:
    """values[code] per row, with code -1 (missing input) giving <NA>; text comes categorical."""
    if dtype == "string":
        return take_category(values, codes).array
    arr = np.empty(len(values) + 1, dtype=object)
    arr[:-1] = values
    arr[-1] = None
    return pd.array(arr[codes], dtype=dtype)


def derive_ctcae_terms(terms: pd.Series) -> pd.DataFrame:
    """Resolve a column of written terms; one row out per row in, same index.

    Columns: term, soc, meddra_code, matched_by (<NA> when unmatched), suggestions ("; "-separated
    closest terms, only for unmatched non-empty text), specified (text after "Other, specify").
    """
    codes, uniques = pd.factorize(terms, use_na_sentinel=True)
    matches = [match_term(u) for u in uniques]
    out = pd.DataFrame(
        {
            "term": _take([m.term for m in matches], codes, "string"),
            "soc": _take([m.soc for m in matches], codes, "string"),
            "meddra_code": _take([m.meddra_code for m in matches], codes, "string"),
            "matched_by": _take([m.matched_by for m in matches], codes, "string"),
            "suggestions": _take(
                ["; ".join(m.suggestions) if m.suggestions else None for m in matches], codes, "string"
            ),
            "specified": _take([m.specified for m in matches], codes, "string"),
        },
        index=terms.index,
    )
    return out


# ----------------------------------------------------------------------------------------------
# grades that exist per term


def allowed_grades(term: str) -> tuple[int, ...]:
    """Grades that exist for a CTCAE v5.0 term (any case). KeyError for an unknown term."""
    d = _dictionary()
    canonical = d.by_case.get(_case_key(str(term)))
    if canonical is None:
        raise KeyError(f"{term!r} is not a CTCAE v5.0 term")
    return d.entries[canonical].grades


def allowed_range(term: str) -> str:
    """The allowed grades as text, e.g. '1–3', '3–5', '5', '1, 3'."""
    return _range_text(allowed_grades(term))


def derive_grade_allowed(
    df: pd.DataFrame, term_col: str = "term", grade_col: str = "grade"
) -> pd.DataFrame:
    """Add grade_allowed (boolean; <NA> when the term is unknown or the grade missing),
    allowed_range (e.g. '1–3'; <NA> for unknown terms) and grade_allowed_note (a sentence for
    rows whose grade does not exist for their term, else <NA>)."""
    d = _dictionary()
    grade = pd.Series(pd.to_numeric(df[grade_col], errors="coerce").to_numpy(dtype="float64", na_value=np.nan),
                      index=df.index)
    # each rule runs once per distinct (term, grade) pair
    pair, combos = distinct_combinations(df[term_col], grade)
    state, ranges, notes = [], [], []          # state: 1 allowed, 0 not allowed, -1 unknown
    for term, g in combos:
        canon = d.by_case.get(_case_key(str(term))) if term is not None else None
        grades = d.entries[canon].grades if canon else None
        ranges.append(_range_text(grades) if grades else None)
        if grades is None or g is None or np.isnan(g):
            state.append(-1)
            notes.append(None)
        elif g == round(g) and int(g) in grades:
            state.append(1)
            notes.append(None)
        else:
            state.append(0)
            notes.append(f"{canon}: grade {g:g} does not exist in CTCAE v5.0 (allowed: {ranges[-1]})")
    row_state = np.asarray(state, dtype=np.int8)[pair] if len(state) else np.zeros(len(df), dtype=np.int8)
    allowed = pd.arrays.BooleanArray(row_state == 1, row_state < 0)
    return df.assign(grade_allowed=allowed, allowed_range=take_category(ranges, pair).array,
                     grade_allowed_note=take_category(notes, pair).array)


# ----------------------------------------------------------------------------------------------
# grades as written


GRADE_ACCEPTED = (
    "accepted: a whole number 1-5 (also written '3.0', 'Grade 3', 'G3', 'gr 3' or roman I-V); "
    "mild/moderate/severe/life-threatening/fatal only as a flagged fallback"
)
_ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5, "vi": 6, "vii": 7, "viii": 8, "ix": 9}
_SEVERITY = {
    "mild": 1,
    "moderate": 2,
    "severe": 3,
    "life-threatening": 4,
    "life threatening": 4,
    "lifethreatening": 4,
    "fatal": 5,
    "death": 5,
    "轻度": 1,
    "中度": 2,
    "重度": 3,
    "危及生命": 4,
    "死亡": 5,
}
_ZH_GRADE = re.compile(r"^(?:ctcae\s*)?第?\s*(?P<g>\d+|[ivx]+)\s*[级級度]$")
_GRADE_TEXT = re.compile(
    r"^(?:(?:ctcae\s*)?(?:grade|gr|g)\s*[.:#-]?\s*)?(?P<g>\d+(?:\.0+)?|[ivx]+)"
    r"(?:\s*[-(:,]\s*[a-z -]+\)?)?$"
)


def _grade_number(n: int, raw: Any, source: str) -> tuple[int | None, str | None, str | None]:
    if 1 <= n <= 5:
        return n, source, None
    written = "" if str(raw).strip() == str(n) else f" (written {str(raw).strip()!r})"
    if n == 0:
        return None, None, f"grade 0{written} means no adverse event; {GRADE_ACCEPTED}"
    return None, None, f"grade {n}{written} does not exist in CTCAE v5.0; {GRADE_ACCEPTED}"


def normalise_grade(value: Any) -> tuple[int | None, str | None, str | None]:
    """(grade, grade_source, problem) for one written grade.

    grade_source is 'grade' (a number, 'Grade 3', 'G3', roman numeral) or 'severity' (a severity
    word read as a grade: a flagged fallback, so problem then says so although grade is set).
    Rejected values give (None, None, reason), the reason saying what would be accepted.
    """
    if _is_missing(value):
        return None, None, f"grade is missing; {GRADE_ACCEPTED}"
    if isinstance(value, (bool, np.bool_)):
        return None, None, f"{value!r} is not a grade; {GRADE_ACCEPTED}"
    if isinstance(value, (int, np.integer)):
        return _grade_number(int(value), value, "grade")
    if isinstance(value, (float, np.floating)):
        if float(value).is_integer():
            return _grade_number(int(value), value, "grade")
        return None, None, f"{value!r} is not a whole grade; {GRADE_ACCEPTED}"
    # NFKC makes the roman-numeral characters Ⅰ-Ⅴ (U+2160...) and full-width digits plain text
    text = " ".join(unicodedata.normalize("NFKC", str(value)).casefold().split())
    text = _ZH_GRADE.sub(r"\g<g>", text)          # "3级", "第3级", "III度" (Chinese forms)
    if not text:
        return None, None, f"grade is missing; {GRADE_ACCEPTED}"
    if text in _SEVERITY:
        grade = _SEVERITY[text]
        return grade, "severity", (
            f"severity {str(value).strip()!r} read as grade {grade}; severity is not a CTCAE grade, "
            "confirm the grade with the site"
        )
    found = _GRADE_TEXT.match(text)
    if found:
        g = found["g"]
        if g[0].isdigit():
            return _grade_number(int(float(g)), value, "grade")
        if g in _ROMAN:
            return _grade_number(_ROMAN[g], value, "grade")
    if re.fullmatch(r"\d+\.\d+", text):
        return None, None, f"{value!r} is not a whole grade; {GRADE_ACCEPTED}"
    return None, None, f"{value!r} is not a grade; {GRADE_ACCEPTED}"


def derive_grades(values: pd.Series) -> pd.DataFrame:
    """Normalise a column of written grades: grade (Int64), grade_source, grade_problem."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    parsed = [normalise_grade(u) for u in uniques]
    missing = normalise_grade(None)
    grade = np.array([p[0] if p[0] is not None else -1 for p in parsed] + [-1], dtype=np.int64)[codes]
    grades = pd.arrays.IntegerArray(grade, grade < 0)          # -1: no grade
    sources = [p[1] for p in parsed] + [missing[1]]
    problems = [p[2] for p in parsed] + [missing[2]]
    spread = np.where(codes < 0, len(parsed), codes)    # missing input -> the "missing" entry
    return pd.DataFrame(
        {
            "grade": grades,
            "grade_source": take_category(sources, spread).array,
            "grade_problem": take_category(problems, spread).array,
        },
        index=values.index,
    )
