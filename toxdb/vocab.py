"""The trial's words, defined once: table kinds, phases, agents, attributions, grades, and the
spellings sites use for each (``data/value_synonyms.csv``).

Every module that names a kind, a phase or an agent imports it from here, so that a new spelling
or a new kind is one edit. Written values are matched case-folded with runs of spaces collapsed.
"""
from __future__ import annotations

import csv
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Mapping

from toxdb import DATA_DIR
from toxdb.i18n import N_

VALUE_SYNONYMS_CSV = DATA_DIR / "value_synonyms.csv"
DOSE_UNIT_CONVERSIONS_CSV = DATA_DIR / "dose_unit_conversions.csv"

# -- table kinds: the four things a site uploads -------------------------------------------------
KINDS = ("patients", "treatment", "ae", "labs")          # also the order a batch is loaded in
KIND_LABELS = MappingProxyType({
    "patients": "patients",
    "treatment": "treatment log",
    "ae": "adverse events",
    "labs": "lab results",
})
KIND_TABLES = MappingProxyType({            # the store's table for each kind
    "patients": "patients",
    "treatment": "treatment_records",
    "ae": "adverse_events",
    "labs": "lab_results",
})

# -- protocol treatments -------------------------------------------------------------------------
CAPECITABINE = "capecitabine"
S1 = "S-1"
RT = "RT"
CHEMO = (CAPECITABINE, S1)                 # the chemotherapy agents
TREATMENTS = (RT, *CHEMO)
MORE_THAN_ONE = "more than one"           # an AE attributed to several treatments
KEEP_AS_OTHER = "other"                   # a treatment row that is not a protocol treatment: kept, not used (D52)

# -- phases of an adverse event (clinical rules section 2) ---------------------------------------
PHASES = ("pre-treatment", "concurrent", "maintenance", "post-treatment")
# how a phase is named on a page (translated where shown: _(PHASE_LABELS[p]))
PHASE_LABELS = MappingProxyType({"pre-treatment": N_("pre-treatment"), "concurrent": N_("concurrent"),
                                 "maintenance": N_("maintenance"), "post-treatment": N_("post-treatment")})
ON_TREATMENT = ("concurrent", "maintenance")
TREATMENT_PHASES = ON_TREATMENT           # the phase a treatment row (cycle) belongs to

# -- monitoring cohorts: who is counted in each stopping-boundary chart (docs/monitoring.md) -----
COHORTS = ("all", "concurrent", "maintenance")

# -- grades and attribution ----------------------------------------------------------------------
GRADES = (1, 2, 3, 4, 5)
# weakest first: an event's attribution is the strongest recorded on any of its rows
ATTRIBUTION_ORDER = (N_("unrelated"), N_("unlikely"), N_("possible"), N_("probable"), N_("definite"))   # shown as _(a)
AE_ACTIONS = ("none", "dose reduced", "interrupted", "withdrawn")

# the vocabularies of data/value_synonyms.csv, and what each stored value may be
VOCABULARIES = MappingProxyType({
    "sex": ("M", "F"),
    "agent": CHEMO,
    "treatment": TREATMENTS,
    "phase": TREATMENT_PHASES,
    "yes_no": ("Y", "N"),
    "attribution": ATTRIBUTION_ORDER,
    "attributed_to": (*TREATMENTS, MORE_THAN_ONE),
    "action_taken": AE_ACTIONS,
    "dose_unit": ("mg", "mg/day", "mg/m2", "mg/m2/day", "Gy", "cGy"),
    "creatinine_unit": ("mg/dL", "umol/L"),
})
# vocabularies that include another's spellings (a treatment may be written as any agent)
_INCLUDES = {"treatment": ("agent",), "attributed_to": ("treatment",)}


class VocabularyError(ValueError):
    """data/value_synonyms.csv names a vocabulary or a stored value this module does not know."""


def fold(text: Any) -> str:
    """The key a written value is looked up by: case-folded, runs of white space made one space."""
    return " ".join(str(text).split()).casefold()


@lru_cache(maxsize=1)
def _table() -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {name: {} for name in VOCABULARIES}
    with VALUE_SYNONYMS_CSV.open(encoding="utf-8", newline="") as f:
        for line, row in enumerate(csv.DictReader(f), start=2):
            name, stored = row["vocabulary"], row["stored"]
            if name not in VOCABULARIES:
                raise VocabularyError(f"{VALUE_SYNONYMS_CSV.name} line {line}: unknown vocabulary {name!r}")
            if stored and stored not in VOCABULARIES[name]:
                raise VocabularyError(f"{VALUE_SYNONYMS_CSV.name} line {line}: {stored!r} is not a value of "
                                      f"{name} ({', '.join(VOCABULARIES[name])})")
            out[name][fold(row["written"])] = stored or None     # empty: a known way of saying "missing"
    for name, stored_values in VOCABULARIES.items():               # every stored value is its own spelling
        for value in stored_values:
            out[name].setdefault(fold(value), value)
    for name, parts in _INCLUDES.items():
        for part in parts:
            for key, value in out[part].items():
                out[name].setdefault(key, value)
    out["yes_no"] = {k: (None if v is None else v == "Y") for k, v in out["yes_no"].items()}
    return out


def synonyms(vocabulary: str) -> Mapping[str, Any]:
    """Written value (folded) -> stored value (None for a known way of writing 'missing')."""
    try:
        return MappingProxyType(_table()[vocabulary])
    except KeyError:
        raise VocabularyError(f"unknown vocabulary {vocabulary!r}; one of {', '.join(VOCABULARIES)}") from None


@lru_cache(maxsize=1)
def dose_unit_conversions() -> Mapping[str, tuple[str, float]]:
    """Written dose unit (folded) -> (stored unit, factor) for units whose meaning is certain but
    whose number must change: cGy -> Gy (x 0.01), mg BID -> mg/day (x 2)."""
    out = {}
    with DOSE_UNIT_CONVERSIONS_CSV.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            if row["stored"] not in VOCABULARIES["dose_unit"]:
                raise VocabularyError(f"{DOSE_UNIT_CONVERSIONS_CSV.name}: {row['stored']!r} is not a dose unit")
            out[fold(row["written"])] = (row["stored"], float(row["factor"]))
    return MappingProxyType(out)


_UNKNOWN = object()


def normalise(vocabulary: str, value: Any, default: Any = None) -> Any:
    """The stored value for a written one (``default`` when it is not a known spelling)."""
    if value is None or (isinstance(value, float) and value != value):
        return default
    found = _table()[vocabulary].get(fold(value), _UNKNOWN)
    return default if found is _UNKNOWN else found


def accepted_text(vocabulary: str) -> str:
    """The stored values of a vocabulary as a user reads them in a message: "RT, capecitabine or S-1"."""
    values = [str(v) for v in VOCABULARIES[vocabulary]]
    return values[0] if len(values) == 1 else ", ".join(values[:-1]) + " or " + values[-1]


# -- column names as a reader sees them (pages show _(COLUMN_WORDS[c]); files and exports keep the names) ----
COLUMN_WORDS = MappingProxyType({
    "subject_id": N_("Patient"), "site": N_("Site"), "enrolled_on": N_("Enrolled"), "sex": N_("Sex"),
    "birth_date": N_("Birth date"), "age": N_("Age"), "height_cm": N_("Height (cm)"), "weight_kg": N_("Weight (kg)"),
    "serum_creatinine": N_("Serum creatinine"), "serum_creatinine_unit": N_("Serum creatinine unit"),
    "agent": N_("Agent"), "surgery_date": N_("Surgery date"), "off_treatment_on": N_("Off treatment on"),
    "off_treatment_reason": N_("Reason off treatment"), "recurrence_on": N_("Recurrence on"),
    "death_on": N_("Death on"), "last_contact_on": N_("Last contact"), "ecog": "ECOG", "ascites": N_("Ascites"),
    "encephalopathy": N_("Encephalopathy"), "treatment": N_("Treatment"), "phase": N_("Phase"),
    "cycle": N_("Cycle"), "start_date": N_("Start"), "end_date": N_("End"), "dose": N_("Dose"),
    "dose_unit": N_("Dose unit"), "fractions": N_("Fractions"), "ae_ref": N_("AE reference"), "term": N_("Term"),
    "soc": N_("System organ class"), "meddra_code": N_("MedDRA code"), "verbatim": N_("Verbatim term"),
    "grade": N_("Grade"), "grade_source": N_("Grade source"), "severity": N_("Severity"),
    "onset_date": N_("Onset"), "onset_precision": N_("Onset precision"), "serious": N_("Serious"),
    "attribution": N_("Attribution"), "attributed_to": N_("Attributed to"), "action_taken": N_("Action taken"),
    "outcome": N_("Outcome"), "flags": N_("Flags"), "reported_term": N_("Term as reported"),
    "collected_on": N_("Collected on"), "test": N_("Test"), "value": N_("Value"), "unit": N_("Unit"),
    "lln": "LLN", "uln": "ULN", "record_key": N_("Record key"), "upload_id": N_("Upload"),
    "file_name": N_("File"), "kind": N_("Kind"), "size_bytes": N_("Size (bytes)"), "uploaded_by": N_("Uploaded by"),
    "uploaded_at": N_("Uploaded at"), "reader": N_("Read as"), "n_rows": N_("Rows"), "n_accepted": N_("Accepted"),
    "n_duplicates": N_("Duplicates"), "n_corrections": N_("Corrections"), "n_rejected": N_("Rejected"),
    "n_flagged": N_("Flagged"), "source_row": N_("Row in file"), "ctcae_version": N_("CTCAE version"),
})


def column_words(columns) -> dict[str, str]:
    """{column: its name in the reader's language} for a DataFrame's columns (``df.rename(columns=...)``);
    a replaced value's column old_<name> reads "<name> (old)"; a column not listed keeps its name."""
    from toxdb.i18n import gettext

    out = {}
    for c in columns:
        if c in COLUMN_WORDS:
            out[c] = gettext(COLUMN_WORDS[c])
        elif isinstance(c, str) and c.startswith("old_") and c[4:] in COLUMN_WORDS:
            out[c] = gettext("{column} (old)").format(column=gettext(COLUMN_WORDS[c[4:]]))
    return out

