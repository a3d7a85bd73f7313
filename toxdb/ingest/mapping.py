"""Column mapping: from a file's own headers to the canonical names of the data contract.

Headers are compared without regard to case, spaces, dots, dashes or underscores. A unit written
in the header ("Creatinine (umol/L)") is kept as a hint. When two columns could fill one canonical
name (SDTM DM has both RFICDTC and RFSTDTC), the earlier synonym wins unless its column is empty.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

import pandas as pd

from toxdb import DATA_DIR
from toxdb.i18n import N_
from toxdb.ingest.readers import RawTable, blank_cells
from toxdb.vocab import KINDS

SYNONYM_FILE = DATA_DIR / "column_synonyms.csv"
FALLBACK_FILE = DATA_DIR / "column_fallbacks.csv"      # a required column read from another one (D58)
_SDTM_DOMAINS = {"DM": "patients", "EX": "treatment", "AE": "ae", "LB": "labs"}
_UNIT_IN_HEADER = re.compile(r"^(.*?)[\s_]*[\(\[（]\s*([^\)\]）]+?)\s*[\)\]）]\s*$")
# a unit as a header's last word: serum_creatinine_mg_dl, height_m, weight_lb (-> the unit as written)
_UNIT_SUFFIX = re.compile(r"^(.*?[^\s_.\-])[\s_.\-]+(mg[\s_.\-/]*dl|[uµμ]mol[\s_.\-/]*l|micromol[\s_.\-/]*l|cm|m|kg|lbs?)$",
                          re.IGNORECASE)
_SUFFIX_UNITS = {"mgdl": "mg/dL", "umoll": "umol/L", "µmoll": "umol/L", "μmoll": "umol/L", "micromoll": "umol/L",
                 "cm": "cm", "m": "m", "kg": "kg", "lb": "lb", "lbs": "lb"}


def normalise_header(name: str) -> str:
    return re.sub(r"[\s._\-]+", "", str(name)).casefold()


def split_unit(header: str) -> tuple[str, str | None]:
    """(header without its unit, the unit) for "Creatinine (µmol/L)" or "serum_creatinine_mg_dl"."""
    m = _UNIT_IN_HEADER.match(str(header))
    if m and m.group(1).strip():
        return m.group(1).strip(), m.group(2).strip()
    m = _UNIT_SUFFIX.match(str(header).strip())
    if m:
        return m.group(1), _SUFFIX_UNITS.get(re.sub(r"[\s_.\-/]", "", m.group(2)).lower(), m.group(2))
    return str(header), None


@dataclass(frozen=True)
class CanonicalColumn:
    kind: str
    name: str
    required: bool
    synonyms: tuple[str, ...]      # normalised, in order of preference, the canonical name first


@lru_cache(maxsize=1)
def load_column_synonyms() -> dict[str, list[CanonicalColumn]]:
    table = pd.read_csv(SYNONYM_FILE, dtype=str, keep_default_na=False)
    out: dict[str, list[CanonicalColumn]] = {k: [] for k in KINDS}
    for row in table.itertuples(index=False):
        names = [row.canonical] + [s for s in row.synonyms.split("|") if s]
        out[row.kind].append(CanonicalColumn(
            row.kind, row.canonical, row.required == "yes", tuple(dict.fromkeys(normalise_header(n) for n in names))
        ))
    return out


@lru_cache(maxsize=1)
def load_column_fallbacks() -> dict[str, list[tuple[str, str]]]:
    """Per kind, (canonical, from): when a file has no column for ``canonical`` but has one for ``from``,
    that column fills both (toxdb/data/column_fallbacks.csv says why for each)."""
    table = pd.read_csv(FALLBACK_FILE, dtype=str, keep_default_na=False)
    out: dict[str, list[tuple[str, str]]] = {k: [] for k in KINDS}
    for kind, canonical, source in zip(table["kind"], table["canonical"], table["from"]):
        out[kind].append((canonical, source))
    return out


def canonical_columns(kind: str) -> list[str]:
    return [c.name for c in load_column_synonyms()[kind]]


def required_columns(kind: str) -> list[str]:
    return [c.name for c in load_column_synonyms()[kind] if c.required]


@dataclass
class ColumnMapping:
    kind: str
    columns: dict[str, str]                         # canonical -> source header
    unit_hints: dict[str, str] = field(default_factory=dict)   # canonical -> unit written in the header
    unmapped: list[str] = field(default_factory=list)          # source headers not used
    alternatives: dict[str, list[str]] = field(default_factory=dict)  # canonical -> other candidate headers
    from_store: list[str] = field(default_factory=list)    # required columns whose stored values stand (D59)

    @property
    def missing_required(self) -> list[str]:
        fallback = {"grade": "severity"} if self.kind == "ae" else {}
        return [c for c in required_columns(self.kind)
                if c not in self.columns and fallback.get(c) not in self.columns and c not in self.from_store]

    def as_source_map(self) -> dict[str, str]:
        """{source header: canonical}, the form saved with an upload."""
        return {src: canon for canon, src in self.columns.items()}


def header_signature(headers: list[str]) -> str:
    return "|".join(sorted(normalise_header(h) for h in headers))


def detect_kind(table: RawTable) -> str:
    """The most likely kind of table: SDTM DOMAIN first, then how many required columns match."""
    for col in table.columns:
        if normalise_header(col) == "domain":
            values = table.data[col].head(50).str.strip().str.upper()
            top = values[values != ""].mode()
            if len(top) and top.iloc[0] in _SDTM_DOMAINS:
                return _SDTM_DOMAINS[top.iloc[0]]
    best, best_score = "ae", -1.0
    for kind in KINDS:
        m = map_columns(table, kind)
        req = required_columns(kind)
        found_req = sum(1 for c in req if c in m.columns)
        score = found_req / len(req) * 10 + len(m.columns) * 0.1
        if found_req == len(req):
            score += 5
        if score > best_score:
            best, best_score = kind, score
    return best


def map_columns(table: RawTable, kind: str, saved: dict[str, str] | None = None) -> ColumnMapping:
    """Match the table's headers to the kind's canonical columns.

    ``saved`` is a confirmed {source header: canonical} mapping to apply first (a site's saved one).
    """
    spec = load_column_synonyms()[kind]
    by_norm: dict[str, list[str]] = {}
    hints: dict[str, str] = {}
    for header in table.columns:
        base, unit = split_unit(header)
        for key in {normalise_header(header), normalise_header(base)}:
            by_norm.setdefault(key, []).append(header)
        if unit:
            hints[header] = unit
    columns: dict[str, str] = {}
    alternatives: dict[str, list[str]] = {}
    used: set[str] = set()
    if saved:
        for src, canon in saved.items():
            if src in table.columns and canon in {c.name for c in spec}:
                columns[canon] = src
                used.add(src)
    for col in spec:
        if col.name in columns:
            continue
        candidates = [h for syn in col.synonyms for h in by_norm.get(syn, []) if h not in used]
        candidates = list(dict.fromkeys(candidates))
        if not candidates:
            continue
        filled = [h for h in candidates if _any_filled(table.data[h])]
        chosen = (filled or candidates)[0]
        columns[col.name] = chosen
        used.add(chosen)
        others = [h for h in candidates if h != chosen]
        if others:
            alternatives[col.name] = others
    for canon, source in load_column_fallbacks()[kind]:
        if canon not in columns and source in columns:
            columns[canon] = columns[source]
    unit_hints = {canon: hints[src] for canon, src in columns.items() if src in hints}
    unmapped = [h for h in table.columns if h not in used]
    return ColumnMapping(kind, columns, unit_hints, unmapped, alternatives)


_DATE_TEXT = re.compile(r"^\d{4}[-/]\d{1,2}[-/]\d{1,2}([T ].*)?$|^\d{4}年\d{1,2}月\d{1,2}日$")
# required dates, and how the question names them
DATE_COLUMNS = {"enrolled_on": N_("enrolment date"), "onset_date": N_("onset date"), "start_date": N_("start date"),
                "collected_on": N_("collection date")}


def date_candidates(table: RawTable, mapping: ColumnMapping) -> list[str]:
    """The unused columns whose filled cells (the first 200) are nearly all dates: the columns a
    missing required date might be in. Which one it is, only the user can say (D58)."""
    out = []
    for header in mapping.unmapped:
        values = table.data[header].iloc[:2000]
        filled = values[~blank_cells(values)].astype(str).str.strip().iloc[:200]
        if len(filled) and filled.str.match(_DATE_TEXT).mean() >= 0.9:
            out.append(header)
    return out


def is_side_table(table: RawTable, mapping: ColumnMapping, stored_subjects: set[str]) -> bool:
    """A patients file that lacks only the enrolment date, has a column toxdb reads beside the subject
    (e.g. sex), and whose every subject is already stored (ids compared without case and outer spaces,
    D55): its values are added to the stored patients (D59). Any other patients file lacking the date
    is asked about."""
    if mapping.kind != "patients" or mapping.missing_required != ["enrolled_on"]:
        return False
    if not set(mapping.columns) - {"subject_id", "site"} or "subject_id" not in mapping.columns:
        return False
    ids = table.data[mapping.columns["subject_id"]]
    ids = ids[~blank_cells(ids)].astype(str).str.strip().str.casefold()
    known = {str(s).strip().casefold() for s in stored_subjects}
    return bool(len(ids)) and bool(ids.isin(known).all())


def _any_filled(values: pd.Series) -> bool:
    # the first rows nearly always settle it; the whole column only when they are all blank
    return bool((~blank_cells(values.iloc[:1000])).any() or (~blank_cells(values)).any())


def apply_mapping(table: RawTable, mapping: ColumnMapping) -> pd.DataFrame:
    """The canonical staging frame: one text column per mapped canonical name, plus source_row."""
    data = {canon: table.data[src] for canon, src in mapping.columns.items()}
    frame = pd.DataFrame(data, index=table.data.index)
    for canon, unit in mapping.unit_hints.items():
        unit_col = {"serum_creatinine": "serum_creatinine_unit", "value": "unit"}.get(canon)
        if unit_col and unit_col not in frame.columns:
            frame[unit_col] = unit
    frame["source_row"] = table.source_row
    return frame
