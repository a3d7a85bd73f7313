"""The CTCAE v6.0 dictionary and NCI's v5.0 -> v6.0 mapping, beside the v5.0 dictionary.

Data (tabulated from the NCI workbook by ``tools/tabulate_ctcae_v6.py``):

* ``toxdb/data/ctcae_v6_terms.csv``: the 850 v6 terms (MedDRA code, SOC, which grades exist);
* ``toxdb/data/ctcae_v5_to_v6.csv``: for every v5 term, one row for the term (``v5_grade`` empty)
  and one per grade it has: the v6 term and grade NCI maps it to, the kind of change NCI records
  (No change, Clarification, Deletion, SOC change) and, when the term is folded into a
  "<SOC> - Other, specify" term, the text to write there.

Term matching (free text -> term) stays in ``toxdb.clinical.ctcae``; this module works on terms
already matched to the v5 dictionary, and on v6 terms as written in the v6 dictionary.

How a v5 term relates to v6 (``relation``):

* ``same``: every row maps to the term of the same name;
* ``renamed``: one v6 term of another name (Platelet count decreased -> Thrombocytopenia);
* ``merged``: the v6 term also receives other v5 terms (Anal hemorrhage, Rectal hemorrhage, ... ->
  Hematochezia);
* ``split``: grades map to different v6 terms (Asystole grade 1 -> Sinus bradycardia);
* ``removed``: no v6 term of its own: reported under "<SOC> - Other, specify" with its old name.
"""
from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from toxdb import DATA_DIR
from toxdb.arrays import distinct_combinations
from toxdb.clinical.ctcae import allowed_grades as allowed_grades_v5
from toxdb.clinical.ctcae import load_ctcae
from toxdb.clinical.ctcae_versions import ctcae_version

V6_TERMS_CSV = DATA_DIR / "ctcae_v6_terms.csv"
MAPPING_CSV = DATA_DIR / "ctcae_v5_to_v6.csv"
OTHER_SPECIFY_SUFFIX = " - Other, specify"
RELATIONS = ("same", "renamed", "merged", "split", "removed")

__all__ = ["RELATIONS", "TermMapping", "TermsVersion", "compute_terms_version", "derive_events_in_version", "describe_terms_version", "allowed_grades_in", "derive_grade_allowed_v6", "derive_terms_v6",
           "load_ctcae_dictionary", "load_ctcae_v6", "load_v5_to_v6_mapping", "map_term_v5_to_v6",
           "v5_term_relations"]


def _key(text: Any) -> str:
    return " ".join(unicodedata.normalize("NFKC", str(text)).casefold().split())


@functools.lru_cache(maxsize=1)
def _v6_terms() -> pd.DataFrame:
    table = pd.read_csv(V6_TERMS_CSV, dtype={"meddra_code": "string", "soc": "string", "term": "string",
                                             "grades": "string"}, keep_default_na=False)
    return table.astype({"grade_min": "int64", "grade_max": "int64"})


def load_ctcae_v6() -> pd.DataFrame:
    """The 850 CTCAE v6.0 terms: meddra_code, soc, term, grade_min, grade_max, grades ('1-5' or '1,3')."""
    return _v6_terms().copy(deep=False)


def load_ctcae_dictionary(version: Any) -> pd.DataFrame:
    """The term dictionary of a CTCAE version (same columns for both)."""
    return load_ctcae() if ctcae_version(version) == "5.0" else load_ctcae_v6()


def _parse_grades(text: str) -> tuple[int, ...]:
    if "-" in text:
        low, high = text.split("-")
        return tuple(range(int(low), int(high) + 1))
    return tuple(int(g) for g in text.split(","))


@functools.lru_cache(maxsize=1)
def _v6_grades() -> dict[str, tuple[str, tuple[int, ...]]]:
    """case key -> (term as NCI writes it, grades that exist)."""
    return {_key(t): (t, _parse_grades(g)) for t, g in zip(_v6_terms()["term"], _v6_terms()["grades"])}


def allowed_grades_in(term: str, version: Any) -> tuple[int, ...]:
    """Grades that exist for ``term`` (any case) in ``version``. KeyError for a term not in it."""
    if ctcae_version(version) == "5.0":
        return allowed_grades_v5(term)
    found = _v6_grades().get(_key(term))
    if found is None:
        raise KeyError(f"{term!r} is not a CTCAE v6.0 term")
    return found[1]


def derive_grade_allowed_v6(df: pd.DataFrame, term_col: str = "term", grade_col: str = "grade") -> pd.DataFrame:
    """Add grade_allowed_v6 (boolean; <NA> when the term is not a v6 term or the grade is missing)
    and grade_allowed_v6_note (a sentence when the grade does not exist for the v6 term). The v5
    check is ``toxdb.clinical.ctcae.derive_grade_allowed``. Each distinct (term, grade) once."""
    grade = pd.Series(pd.to_numeric(df[grade_col], errors="coerce").to_numpy(dtype="float64", na_value=np.nan),
                      index=df.index)
    pair, combos = distinct_combinations(df[term_col], grade)
    state, notes = [], []
    grades_of = _v6_grades()
    for term, g in combos:
        found = grades_of.get(_key(term)) if term is not None else None
        if found is None or g is None or np.isnan(g):
            state.append(-1)
            notes.append(None)
        elif g == round(g) and int(g) in found[1]:
            state.append(1)
            notes.append(None)
        else:
            state.append(0)
            notes.append(f"{found[0]}: grade {g:g} does not exist in CTCAE v6.0 "
                         f"(allowed: {', '.join(map(str, found[1]))})")
    row_state = np.asarray(state, dtype=np.int8)[pair] if len(state) else np.zeros(len(df), dtype=np.int8)
    note_arr = np.asarray(notes + [None], dtype=object)[pair if len(notes) else np.full(len(df), -1)]
    return df.assign(grade_allowed_v6=pd.arrays.BooleanArray(row_state == 1, row_state < 0),
                     grade_allowed_v6_note=pd.array(note_arr, dtype="string"))


# ----------------------------------------------------------------------------------------------
# the mapping sheet


@functools.lru_cache(maxsize=1)
def _mapping() -> pd.DataFrame:
    return pd.read_csv(MAPPING_CSV, dtype=str, keep_default_na=False)


def load_v5_to_v6_mapping() -> pd.DataFrame:
    """NCI's mapping, one row per v5 term ('v5_grade' empty) and per v5 grade: v5_term,
    v5_meddra_code, v5_grade, change, v6_term, v6_meddra_code, v6_grade, v6_other_specify."""
    return _mapping().copy(deep=False)


@functools.lru_cache(maxsize=1)
def _relations() -> pd.DataFrame:
    m = _mapping()
    targets = m.groupby("v5_term", sort=True)["v6_term"].agg(lambda s: tuple(sorted(set(s))))
    sources = m.groupby("v6_term")["v5_term"].agg(lambda s: set(s))
    rows = []
    for v5_term, v6_terms in targets.items():
        others = [t for t in v6_terms if t.endswith(OTHER_SPECIFY_SUFFIX) and t != v5_term]
        if len(others) == len(v6_terms):
            relation = "removed"
        elif len(v6_terms) > 1:
            relation = "split"
        elif v6_terms[0] == v5_term:
            relation = "same"          # other terms may be folded into it; this one keeps its name
        elif len(sources[v6_terms[0]]) > 1:
            relation = "merged"
        else:
            relation = "renamed"
        rows.append({"v5_term": v5_term, "v6_terms": " | ".join(v6_terms), "relation": relation})
    return pd.DataFrame(rows)


def v5_term_relations() -> pd.DataFrame:
    """One row per v5 term: v5_term, v6_terms (' | '-joined), relation (see the module docstring)."""
    return _relations().copy(deep=False)


@dataclass(frozen=True)
class TermMapping:
    """Where a v5 term (and grade) goes in v6. ``v6_grade`` is None for a term-level mapping;
    ``other_specify`` is the text to write under an "Other, specify" term (else None)."""

    v5_term: str
    v5_grade: int | None
    v6_term: str
    v6_grade: int | None
    change: str
    relation: str
    other_specify: str | None


@functools.lru_cache(maxsize=1)
def _mapping_index() -> dict[tuple[str, str], tuple]:
    m = _mapping()
    return {(_key(r.v5_term), r.v5_grade): (r.v5_term, r.v6_term, r.v6_grade, r.change, r.v6_other_specify)
            for r in m.itertuples(index=False)}


def map_term_v5_to_v6(term: str, grade: int | None = None) -> TermMapping:
    """The v6 term (and grade) NCI maps a v5 term (and grade) to; KeyError for a term that is not
    v5, or a grade that the v5 term does not have. Without a grade: the term-level mapping (the
    v6 term NCI gives for the term, or, for the "Other, specify" terms that have none, that of its
    lowest grade)."""
    index = _mapping_index()
    key = _key(term)
    if grade is not None:
        found = index.get((key, str(int(grade))))
        if found is None:
            raise KeyError(f"{term!r} grade {grade} is not a CTCAE v5.0 term and grade")
    else:
        found = index.get((key, "")) or next((index[(key, str(g))] for g in range(1, 6) if (key, str(g)) in index),
                                             None)
        if found is None:
            raise KeyError(f"{term!r} is not a CTCAE v5.0 term")
    v5_term, v6_term, v6_grade, change, other = found
    relation = _relations().set_index("v5_term").at[v5_term, "relation"]
    return TermMapping(v5_term, None if grade is None else int(grade), v6_term,
                       int(v6_grade) if grade is not None and v6_grade else None, change, relation, other or None)


def derive_terms_v6(df: pd.DataFrame, term_col: str = "term", grade_col: str | None = "grade") -> pd.DataFrame:
    """Add term_v6, grade_v6 (Int64), ctcae_change (NCI's change type) and other_specify_v6 for v5
    terms (and grades); <NA> for a term or grade the mapping does not know. Each distinct (term,
    grade) pair is looked up once, so a table can be shown in either version."""
    grades = (pd.to_numeric(df[grade_col], errors="coerce") if grade_col else pd.Series(np.nan, index=df.index))
    pair, combos = distinct_combinations(df[term_col], grades)
    out: list[tuple] = []
    for term, g in combos:
        try:
            gi = None if g is None or np.isnan(g) else int(g)
            m = map_term_v5_to_v6(term, gi) if term is not None else None
        except (KeyError, ValueError):
            m = None
        out.append((None, None, None, None) if m is None else (m.v6_term, m.v6_grade, m.change, m.other_specify))
    cols = list(zip(*out)) if out else [(), (), (), ()]
    take = pair if len(out) else np.zeros(0, dtype=np.int64)

    def col(values, dtype):
        return pd.array(list(values), dtype=dtype).take(take, allow_fill=False) if len(out) else pd.array([], dtype)

    return df.assign(term_v6=col(cols[0], "string"), grade_v6=col(cols[1], "Int64"),
                     ctcae_change=col(cols[2], "string"), other_specify_v6=col(cols[3], "string"))


@dataclass(frozen=True)
class TermsVersion:
    """Which CTCAE version a file's adverse-event terms are written in (``compute_terms_version``).
    ``version``: '5.0', '6.0', or None when no term tells (every term is in both dictionaries, or
    none is in either) or when the file mixes terms found only in v5 with terms found only in v6.
    ``only_v5`` / ``only_v6``: the distinct terms (as written) that decided, sorted."""

    version: str | None
    only_v5: tuple[str, ...]
    only_v6: tuple[str, ...]

    @property
    def mixed(self) -> bool:
        return bool(self.only_v5) and bool(self.only_v6)


@functools.lru_cache(maxsize=1)
def _dictionary_keys() -> tuple[frozenset, frozenset]:
    return (frozenset(_key(t) for t in load_ctcae()["term"]), frozenset(_key(t) for t in _v6_terms()["term"]))


def compute_terms_version(terms) -> TermsVersion:
    """The CTCAE version a list of terms is written in, from the terms one dictionary has and the other
    lacks (case and spacing ignored): "Thrombocytopenia" is v6 only, "Platelet count decreased" v5 only;
    "Fatigue" is in both and tells nothing. A file with terms of both kinds is mixed (version None); D35."""
    v5, v6 = _dictionary_keys()
    distinct = {str(t).strip() for t in pd.Series(list(terms), dtype=object).dropna() if str(t).strip()}
    only_v5 = tuple(sorted(t for t in distinct if _key(t) in v5 and _key(t) not in v6))
    only_v6 = tuple(sorted(t for t in distinct if _key(t) in v6 and _key(t) not in v5))
    version = None
    if only_v6 and not only_v5:
        version = "6.0"
    elif only_v5 and not only_v6:
        version = "5.0"
    return TermsVersion(version, only_v5, only_v6)


def describe_terms_version(found: TermsVersion, record: Any, examples: int = 3) -> str:
    """``compute_terms_version``'s answer in words for the person uploading, against the trial's
    version of record ``record`` (the version every row is checked against)."""
    from toxdb.i18n import gettext

    record = ctcae_version(record)

    def some(terms: tuple[str, ...]) -> str:
        return ", ".join(terms[:examples]) + (" …" if len(terms) > examples else "")

    if found.mixed:
        return gettext("The file mixes CTCAE v5.0 terms ({v5}) with v6.0 terms ({v6}); every row is checked "
                       "against v{record}, the trial's version of record.").format(
            v5=some(found.only_v5), v6=some(found.only_v6), record=record)
    if found.version is None:
        return gettext("The terms do not tell the CTCAE version (each is in both v5.0 and v6.0, or in neither); "
                       "they are checked against v{record}, the trial's version of record.").format(record=record)
    terms = found.only_v6 if found.version == "6.0" else found.only_v5
    if found.version == record:
        return gettext("Terms written in CTCAE v{version} (e.g. {terms}), the trial's version of record.").format(
            version=found.version, terms=some(terms))
    return gettext("Terms written in CTCAE v{version}: {n} terms only v{version} has (e.g. {terms}). This trial "
                   "records CTCAE v{record}: such a term is not a v{record} term and is flagged or rejected as the "
                   "check below says; NCI's mapping names the v{record} term to write.").format(
        version=found.version, n=len(terms), terms=some(terms), record=record)


def derive_events_in_version(events: pd.DataFrame, version: Any, term_col: str = "term", soc_col: str = "soc",
                             grade_col: str = "worst_grade") -> pd.DataFrame:
    """``events`` (terms stored in CTCAE v5.0) with their term and SOC in CTCAE ``version``. v6.0
    through NCI's mapping: a renamed term takes its new name (Platelet count decreased ->
    Thrombocytopenia), merged terms become one (Anal hemorrhage, Rectal hemorrhage -> Hematochezia), a
    split term goes by the event's grade, a removed term to its SOC's "Other, specify"; the SOC is the
    v6 term's in the v6 dictionary. A term the mapping does not know stays as recorded. v5.0: as is."""
    if ctcae_version(version) == "5.0" or not len(events):
        return events
    mapped = derive_terms_v6(events[[term_col, grade_col]], term_col, grade_col)
    term = mapped["term_v6"].astype(object).where(mapped["term_v6"].notna(), events[term_col])
    v6 = _v6_terms()
    soc = term.map(dict(zip(v6["term"], v6["soc"])))
    return events.assign(**{term_col: term, soc_col: soc.where(soc.notna(), events[soc_col])})
