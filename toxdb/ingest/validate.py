"""Validation: a mapped staging frame in, accepted rows and rejected rows (with reasons) out.

Each check looks at distinct values once and marks rows; a rejected row carries every reason that
applies, worded as "file, row, column = value: why; what would be accepted". Nothing is dropped
without a reason, and the raw cells of every rejected row are kept.
"""
from __future__ import annotations

import datetime as dt
import json
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from toxdb import vocab
from toxdb.arrays import (
    as_text,
    categories_list,
    coded,
    combine_distinct,
    group_codes,
    map_distinct,
    mask_distinct,
    strip_distinct,
    take_category,
    text_contains,
)
from toxdb.clinical import ctcae
from toxdb.i18n import _
from toxdb.ingest.dates import derive_dates, has_ambiguous_slash, slash_order_evidence
from toxdb.ingest.mapping import ColumnMapping
from toxdb.ingest.readers import RawTable

DATE_COLUMNS = {
    "patients": ["enrolled_on", "birth_date", "surgery_date", "off_treatment_on", "recurrence_on", "death_on",
                 "last_contact_on"],
    "treatment": ["start_date", "end_date"],
    "ae": ["onset_date", "end_date"],
    "labs": ["collected_on"],
}
REQUIRED = {
    "patients": ["subject_id", "enrolled_on"],
    "treatment": ["subject_id", "treatment", "start_date"],
    "ae": ["subject_id", "term", "grade", "onset_date"],
    "labs": ["subject_id", "collected_on", "test", "value"],
}

# -- vocabularies (toxdb/vocab.py; spellings in data/value_synonyms.csv): folded written value -> stored
SEX = vocab.synonyms("sex")
AGENTS = vocab.synonyms("agent")
TREATMENTS = vocab.synonyms("treatment")
PHASES = vocab.synonyms("phase")
YES_NO = vocab.synonyms("yes_no")
ATTRIBUTION = vocab.synonyms("attribution")
ATTRIBUTED_TO = vocab.synonyms("attributed_to")
ACTIONS = vocab.synonyms("action_taken")
DOSE_UNITS = vocab.synonyms("dose_unit")
CREAT_UNITS = vocab.synonyms("creatinine_unit")
FLOAT_RANGES = {
    "age": (0, 120, "years"), "height_cm": (50, 250, "cm"), "weight_kg": (20, 300, "kg"),
    "serum_creatinine": (0.01, 3000, "mg/dL or umol/L"), "dose": (0, 100000, ""),
}


@dataclass
class ValidationResult:
    kind: str
    rows: pd.DataFrame          # accepted: record_key, source_row, typed canonical columns, flags
    problems: pd.DataFrame      # source_row, status, reasons, raw (JSON of the file's own cells)
    day_first: bool | None
    notes: list[str] = field(default_factory=list)
    # stored rows that raise a query to the site (D50): source_row, subject_id, code, column, value, message
    flags: pd.DataFrame = field(default_factory=lambda: empty_flags())
    # treatment rows that are not a protocol treatment, kept as other (D52)
    others: pd.DataFrame | None = None

    @property
    def summary(self) -> dict:
        st = self.problems["status"].value_counts() if len(self.problems) else {}
        return {
            "kind": self.kind,
            "rows": len(self.rows) + len(self.problems) + (0 if self.others is None else len(self.others)),
            "valid": len(self.rows),
            "rejected": int(st.get("rejected", 0)),
            "duplicates_in_file": int(st.get("duplicate", 0)),
            "flagged": int(self.flags["source_row"].nunique()) if len(self.flags) else 0,
            "other": 0 if self.others is None else len(self.others),
        }


SOFT_PARTIAL_DATES = {"birth_date"}      # given only to the month or year: left empty, the row kept
FLAG_COLUMNS = ("source_row", "record_key", "subject_id", "code", "column", "value", "message")


def empty_flags() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="int64" if c == "source_row" else "string") for c in FLAG_COLUMNS})


class _Problems:
    """Collects (row position, message) pairs, vectorised."""

    def __init__(self, n: int, file_name: str, source_row: np.ndarray, headers: dict[str, str]):
        self.n = n
        self.file = file_name
        self.source_row = source_row
        self.headers = headers
        self.parts: list[pd.DataFrame] = []
        self.dups = np.zeros(n, dtype=bool)

    def add(self, mask, column: str | None, values: pd.Series | None, why) -> None:
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        pos = np.flatnonzero(mask)
        where = f"column '{self.headers.get(column, column)}'" if column else ""
        if values is not None:
            shown = values.iloc[pos].astype("string").fillna("").str.slice(0, 80)
            head = where + " = '" + shown + "'"
        else:
            head = pd.Series(where, index=pos)
        if callable(why):      # messages built for the bad rows only, not for a million good ones
            why = pd.Series(why(pos), index=self.source_row[pos].astype(str)).reset_index(drop=True)
            why_s = why.astype("string")
        else:
            why_s = why.iloc[pos].astype("string") if isinstance(why, pd.Series) else pd.Series(why, index=range(len(pos)))
        msg = (
            f"{self.file}, row "
            + pd.Series(self.source_row[pos].astype(str), dtype="string").reset_index(drop=True)
            + ", "
            + pd.Series(head, dtype="string").reset_index(drop=True)
            + ": "
            + pd.Series(why_s, dtype="string").reset_index(drop=True)
        )
        self.parts.append(pd.DataFrame({"pos": pos, "msg": msg.to_numpy()}))

    def rejected_mask(self) -> np.ndarray:
        mask = np.zeros(self.n, dtype=bool)
        for p in self.parts:
            mask[p["pos"].to_numpy()] = True
        return mask

    def messages(self) -> pd.Series:
        if not self.parts:
            return pd.Series(dtype="string")
        allp = pd.concat(self.parts, ignore_index=True)
        return allp.groupby("pos", sort=True)["msg"].agg("; ".join)


class _Soft:
    """Problems in an optional column (D53): the row is kept, the value left empty, and a flag says why
    (issue 10: a bad dose unit must not lose the row's dates). Same ``add`` as _Problems."""

    def __init__(self, flags: list):
        self.flags = flags
        self.blank: list[tuple[np.ndarray, str]] = []

    def add(self, mask, column: str, values: pd.Series | None, why) -> None:
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        self.blank.append((mask, column))
        text = why if isinstance(why, str) else None
        self.flags.append((mask, lambda pos, w=why, t=text: [
            _("{why}; the value was left empty and the row kept").format(why=t if t is not None else m)
            for m in (w(pos) if callable(w) else [t] * len(pos))], "value_left_empty", column, values))

    def apply(self, out: pd.DataFrame) -> None:
        for mask, column in self.blank:
            if column in out.columns:
                out[column] = out[column].where(~pd.Series(mask, index=out.index))


def _norm_text(s: pd.Series) -> pd.Series:
    """Cells with outer spaces removed, empty string for a missing cell; categorical (coded) text."""
    return strip_distinct(s)


def _blank_to_na(s: pd.Series) -> pd.Series:
    """A categorical text column with its empty cells made missing."""
    return s.cat.remove_categories([""]) if "" in s.cat.categories else s


def _lookup(values: pd.Series, vocab: dict) -> tuple[pd.Series, np.ndarray]:
    """Map written values through a vocabulary; returns (mapped, unknown-and-not-empty mask).

    Works on distinct values only, so a million rows with a handful of spellings cost a handful."""
    codes, uniques = coded(values)
    keys = [" ".join(str(u).split()).casefold() for u in uniques]
    mapped_u = [vocab.get(k, _MISSING) if k else None for k in keys]
    known = np.array([m is not _MISSING for m in mapped_u] + [True], dtype=bool)
    out = [None if m is _MISSING else m for m in mapped_u]
    return take_category(out, codes, values.index), ~known[codes]


_MISSING = object()


def _numbers(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Numbers (decimal comma allowed) and a mask of cells that are filled but not a number."""
    codes, uniques = coded(values)
    text = pd.Series([str(u).strip().replace(",", ".") for u in uniques] + [""], dtype=object)
    num_u = pd.to_numeric(text, errors="coerce").to_numpy(dtype="float64")
    bad_u = np.isnan(num_u) & (text != "").to_numpy(dtype=bool)
    num = pd.array(num_u[codes], dtype="Float64")     # code -1 picks the trailing empty entry
    return pd.Series(num, index=values.index), bad_u[codes]


def _vocab_text(vocab: dict) -> str:
    return ", ".join(sorted({v for v in vocab.values() if v}))


def infer_day_first(frame: pd.DataFrame, kind: str) -> tuple[bool | None, str | None]:
    cols = [c for c in DATE_COLUMNS[kind] if c in frame.columns]
    if not cols:
        return None, None
    distinct = set()
    for c in cols:
        distinct.update(str(v) for v in coded(frame[c])[1])
    values = pd.Series(sorted(distinct), dtype=object)
    day_only, month_only = slash_order_evidence(values)
    if day_only and not month_only:
        return True, "dates like 25/06/2025 show this file writes dates day-first; all its dates were read so"
    if month_only and not day_only:
        return False, "dates like 06/25/2025 show this file writes dates month-first; all its dates were read so"
    if day_only and month_only:
        return None, "this file writes dates both day-first and month-first; choose the order it uses"
    if has_ambiguous_slash(values):
        return None, "dates like 03/06/2025 could be day-first or month-first; choose the order this file uses"
    return None, None


def validate(
    staged: pd.DataFrame,
    mapping: ColumnMapping,
    raw: RawTable,
    *,
    known_subjects: set[str] | None,
    enrolment: pd.DataFrame | None = None,
    screening_window_days: int = 42,
    today: dt.date | None = None,
    day_first: bool | None = None,
    future_tolerance_days: int = 0,
    allowed_sites: tuple[str, ...] | None = None,
    subject_sites: pd.DataFrame | None = None,
    stored_subjects: set[str] | None = None,
    adds_to_stored: bool = False,
) -> ValidationResult:
    """Check every row of a mapped upload.

    ``known_subjects``: the subjects already stored (None skips the check, e.g. for patients);
    ``adds_to_stored``: a side table of values for stored patients (D59): a required column it lacks
    is not asked for (the stored value stands);
    ``enrolment``: subject_id, enrolled_on of stored patients for the screening-window check;
    ``future_tolerance_days``: dates up to this many days after ``today`` are accepted (D30);
    ``allowed_sites``: the uploader may load rows of these sites only (a coordinator, D64): a patient
    row of another site, or a row naming a patient enrolled at another site (``subject_sites``:
    subject_id, site of stored patients), is rejected with that reason.
    ``stored_subjects``: ids already stored, whose spelling a variant of the same id resolves to (D55).
    """
    kind = mapping.kind
    today = today or dt.date.today()
    other = np.zeros(len(staged), dtype=bool)
    latest = today + dt.timedelta(days=int(future_tolerance_days))
    notes: list[str] = []
    if day_first is None:
        day_first, note = infer_day_first(staged, kind)
        if note:
            notes.append(note)
    headers = dict(mapping.columns)
    n = len(staged)
    source_row = np.asarray(staged["source_row"], dtype=np.int64)
    pr = _Problems(n, raw.file_name, source_row, headers)
    out = pd.DataFrame(index=staged.index)
    flags: list[tuple[np.ndarray, pd.Series | str]] = []

    stripped: dict[str, pd.Series] = {}

    def col(name: str) -> pd.Series:
        if name not in staged.columns:
            return take_category([""], np.zeros(n, dtype=np.int64), staged.index)
        if name not in stripped:
            stripped[name] = _norm_text(staged[name])
        return stripped[name]

    # required columns present and filled (a side table adds to stored patients: their values stand, D59)
    for name in REQUIRED[kind]:
        if name == "grade" and "severity" in staged.columns or adds_to_stored and name not in staged.columns:
            continue
        empty = (col(name) == "").to_numpy(dtype=bool)
        pr.add(empty, name, None, f"{name.replace('_', ' ')} is required and is empty")

    # rows with more cells than the header
    if raw.extra_cells:
        extra = np.isin(source_row, list(raw.extra_cells))
        pr.add(extra, None, None, "the row has more filled cells than the header has columns; check for a stray separator")

    # damaged lines found by the reader (NUL bytes, a quote that never closes...): rejected, D42
    if raw.damaged:
        bad = np.isin(source_row, list(raw.damaged))
        pr.add(bad, None, None, lambda pos: [raw.damaged[int(r)] for r in source_row[pos]])

    out["subject_id"] = col("subject_id")
    if "subject_id" in staged.columns:
        out["subject_id"], variant = _resolve_subjects(staged["subject_id"], stored_subjects or known_subjects or set())
        raw_ids, resolved = staged["subject_id"], out["subject_id"]
        flags.append((variant, lambda pos: [
            _("subject id '{written}' read as '{stored}' (ids are matched without regard to case and outer spaces): "
              "confirm it is the same patient").format(written=w, stored=r)
            for w, r in zip(raw_ids.iloc[pos], resolved.iloc[pos])], "subject_id_variant", "subject_id", raw_ids))
    if known_subjects is not None and "subject_id" in staged.columns:
        subj = out["subject_id"]
        unknown = (~subj.isin(known_subjects) & (subj != "")).to_numpy(dtype=bool)
        pr.add(unknown, "subject_id", subj, "this subject is not in the patient table; upload or fix the patients file first")

    # dates
    soft = _Soft(flags)
    parsed_dates: dict[str, pd.DataFrame] = {}
    for name in DATE_COLUMNS[kind]:
        if name not in staged.columns:
            continue
        d = derive_dates(col(name), day_first)
        parsed_dates[name] = d
        bad = d["problem"].notna().to_numpy(dtype=bool)
        pr.add(bad, name, col(name), d["problem"])
        future = (d["date"] > pd.Timestamp(latest)).to_numpy(dtype=bool)
        pr.add(future, name, col(name), f"the date is in the future (after {latest.isoformat()})")
        out[name] = d["date"]
        if name != "onset_date":
            partial = (d["precision"].isin(["month", "year"])).to_numpy(dtype=bool)
            if partial.any() and name in SOFT_PARTIAL_DATES:
                # an optional date nothing is placed by: the row is kept, the date left empty (D53, D58)
                soft.add(partial, name, col(name), lambda pos, d=d: [
                    _("birth date given only to the {precision}").format(precision=p) for p in d["precision"].iloc[pos]])
            elif partial.any() and kind != "ae":
                pr.add(partial, name, col(name), "a full date (day, month and year) is needed here")
            elif partial.any():
                flags.append((partial, lambda pos, d=d, name=name: [
                    f"{name.replace('_', ' ')} given only to the {p}" for p in d["precision"].iloc[pos]]))

    if allowed_sites is not None:
        _other_sites(kind, out, pr, col, allowed_sites, subject_sites)
    if kind == "patients":
        notes.extend(_patients(staged, out, soft, col, mapping.unit_hints))
        _birth_before_enrolment(out, pr, col)
    elif kind == "treatment":
        other = _treatment(staged, out, pr, soft, col, parsed_dates, flags)
    elif kind == "ae":
        _ae_event(staged, out, pr, col, flags)
    elif kind == "labs":
        _labs(staged, out, pr, col)
    # the columns of the row's identity are known now: its text is joined in another thread while the
    # remaining checks run
    key_job, groups = _record_key(kind, out, parsed_dates)
    if kind == "ae":
        _ae_details(staged, out, pr, soft, col, flags, parsed_dates, enrolment, screening_window_days)
    soft.apply(out)

    out["source_row"] = source_row
    _in_file_duplicates(out, pr, kind, groups)
    if kind == "ae":
        out["flags"] = _join_flags(flags, out.index)
    out["record_key"] = key_job.result()

    rejected = pr.rejected_mask()
    duplicate = pr.dups & ~rejected
    keep = ~rejected & ~duplicate
    problems = _problem_frame(raw, staged, pr, rejected, duplicate)
    others = _other_treatments(out[keep & other], staged[keep & other]) if other.any() else None
    keep = keep & ~other
    # text columns stay categorical (coded by distinct value): the store reads them as such
    rows = out.reset_index(drop=True) if keep.all() else out[keep].reset_index(drop=True)
    flagged = _flag_frame(flags, keep, source_row, out[["subject_id", "record_key"]], headers)
    result = ValidationResult(kind, rows, problems, day_first, notes, flagged)
    if others is not None:
        result.others = others
    return result


def _other_treatments(rows: pd.DataFrame, written: pd.DataFrame) -> pd.DataFrame:
    """Treatment rows that are not a protocol treatment (D52): kept with their name, and their dose and
    unit as the site wrote them (no protocol unit applies, D57), never used to place events in a phase."""
    cols = ["source_row", "subject_id", "start_date", "end_date", "dose", "dose_unit"]
    out = rows.reindex(columns=cols).copy()
    out.insert(2, "name", as_text(rows["treatment"]).str.removeprefix("other: "))
    if "dose" in written.columns:
        out["dose"] = pd.to_numeric(as_text(written["dose"]).str.strip(), errors="coerce").astype("float64")
    if "dose_unit" in written.columns:
        unit = as_text(written["dose_unit"]).str.strip()
        out["dose_unit"] = unit.where(unit != "", None).astype(object)
    return out.reset_index(drop=True)


def _flag_messages(msg, pos: np.ndarray) -> list[str]:
    if callable(msg):
        return [str(m) for m in msg(pos)]
    if isinstance(msg, pd.Series):
        return msg.iloc[pos].astype(str).tolist()
    return [str(msg)] * len(pos)


def _flag_frame(flags: list, keep: np.ndarray, source_row: np.ndarray, who: pd.DataFrame,
                headers: dict[str, str]) -> pd.DataFrame:
    """One row per (stored row, flag): what the site is asked to confirm (D50). A flag entry is
    (mask, message[, code, canonical column, written values])."""
    parts = []
    for mask, msg, *more in flags:
        code, column, values = (list(more) + [None, None, None])[:3]
        pos = np.flatnonzero(np.asarray(mask, dtype=bool) & keep)
        if not len(pos):
            continue
        shown = values.iloc[pos].astype("string").fillna("").to_numpy() if values is not None else None
        parts.append(pd.DataFrame({
            "source_row": source_row[pos],
            "record_key": who["record_key"].iloc[pos].astype("string").to_numpy(),
            "subject_id": who["subject_id"].iloc[pos].astype("string").to_numpy(),
            "code": code or "check",
            "column": headers.get(column, column) if column else None,
            "value": shown,
            "message": _flag_messages(msg, pos),
        }))
    if not parts:
        return empty_flags()
    frame = pd.concat(parts, ignore_index=True).sort_values("source_row", kind="stable", ignore_index=True)
    return frame.astype({c: "string" for c in FLAG_COLUMNS if c != "source_row"})


def _resolve_subjects(written: pd.Series, stored: set[str]) -> tuple[pd.Series, np.ndarray]:
    """Subject ids matched without regard to case and outer spaces (D55): each resolves to the stored
    spelling, else to its first spelling in this file. Returns (ids, mask of cells written otherwise)."""
    codes, uniques = pd.factorize(written.astype(object), use_na_sentinel=True)     # order of appearance
    first: dict[str, str] = {}
    for sid in sorted(stored):
        first.setdefault(sid.strip().casefold(), sid)
    resolved, differs = [], []
    for u in uniques:
        text = "" if u is None else str(u)
        key = text.strip().casefold()
        existed = key in first         # another spelling came first (stored, or earlier in the file)
        canon = first.setdefault(key, text.strip()) if key else ""
        resolved.append(canon)
        differs.append(bool(key) and (canon != text.strip() or (existed and canon != text)))
    differs.append(False)
    ids = take_category(resolved + [""], np.where(codes < 0, len(resolved), codes), written.index)
    return ids, np.asarray(differs, dtype=bool)[codes]


def _join_flags(flags: list, index: pd.Index) -> pd.Series:
    """One '; '-joined note per row, built only for the rows that have any."""
    result = pd.Series(pd.NA, index=index, dtype="string")
    any_flag = np.zeros(len(index), dtype=bool)
    for mask, *_rest in flags:
        any_flag |= np.asarray(mask, dtype=bool)
    if not any_flag.any():
        return result
    pos = np.flatnonzero(any_flag)
    texts = [[] for _ in pos]
    for mask, msg, *_rest in flags:
        m = np.asarray(mask, dtype=bool)[pos]
        if callable(msg):
            values = msg(pos)
        else:
            values = msg.iloc[pos].tolist() if isinstance(msg, pd.Series) else [msg] * len(pos)
        for i in np.flatnonzero(m):
            texts[i].append(str(values[i]))
    result.iloc[pos] = ["; ".join(t) for t in texts]
    return result


def _other_sites(kind, out, pr, col, allowed_sites, subject_sites) -> None:
    mine = ", ".join(allowed_sites) or "none"
    if kind == "patients":
        site = col("site")
        other = (~site.isin(list(allowed_sites))).to_numpy(dtype=bool)
        pr.add(other, "site", site, lambda pos: [
            (f"the row is for site {s}; you may upload for your own site(s) only ({mine})" if s else
             f"the site is empty; you may upload for your own site(s) only ({mine}): fill in the site")
            for s in site.iloc[pos]])
    if subject_sites is None or "subject_id" not in out.columns:
        return
    where = dict(zip(subject_sites["subject_id"], subject_sites["site"]))
    subj = out["subject_id"]
    site_of = subj.map(where)
    other = (site_of.notna() & ~site_of.isin(list(allowed_sites))).to_numpy(dtype=bool)
    pr.add(other, "subject_id", subj, lambda pos: [
        f"this patient is enrolled at site {s}; you may upload for your own site(s) only ({mine})"
        for s in site_of.iloc[pos]])


# a unit written in a header (height_m, weight_lb): the factor to the canonical column's unit
HEADER_UNIT_FACTORS = {("height_cm", "m"): 100.0, ("height_cm", "cm"): 1.0, ("weight_kg", "kg"): 1.0,
                       ("weight_kg", "lb"): 0.45359237, ("weight_kg", "lbs"): 0.45359237, ("weight_kg", "g"): 0.001}


def _patients(staged, out, soft, col, unit_hints) -> list[str]:
    """Checks of a patients file (optional columns: a bad value is left empty and flagged); returns
    notes on units read from the headers."""
    notes = []
    if "site" in staged.columns:
        out["site"] = _blank_to_na(col("site"))
    if "sex" in staged.columns:
        out["sex"], bad = _lookup(staged["sex"], SEX)
        soft.add(bad, "sex", col("sex"), "not recognised; accepted: M or F (male/female)")
    for name in ("age", "height_cm", "weight_kg", "serum_creatinine", "ecog"):
        if name not in staged.columns:
            continue
        num, bad = _numbers(staged[name])
        soft.add(bad, name, col(name), "must be a number")
        factor = HEADER_UNIT_FACTORS.get((name, vocab.fold(unit_hints.get(name, ""))))
        if factor is not None and factor != 1.0:
            num = num * factor
            notes.append(_("{name}: the header says {unit}; values were converted ({factor:g} x)").format(
                name=name, unit=unit_hints[name], factor=factor))
        if name in FLOAT_RANGES:
            lo, hi, unit = FLOAT_RANGES[name]
            out_of = (num.notna() & ((num < lo) | (num > hi))).to_numpy(dtype=bool)
            hint = " (looks like metres: give centimetres)" if name == "height_cm" else ""
            soft.add(out_of, name, col(name), f"must be between {lo:g} and {hi:g} {unit}{hint}".rstrip())
        if name == "ecog":
            out_of = (num.notna() & (~num.isin([0, 1, 2, 3, 4, 5]))).to_numpy(dtype=bool)
            soft.add(out_of, name, col(name), "ECOG is a whole number 0-5")
        out[name] = num
    if "serum_creatinine_unit" in staged.columns:
        unit, bad = _lookup(staged["serum_creatinine_unit"], CREAT_UNITS)
        soft.add(bad, "serum_creatinine_unit", col("serum_creatinine_unit"), "not recognised; accepted: mg/dL or umol/L")
        if "serum_creatinine" in out:          # a creatinine value without a known unit cannot be used
            soft.blank.append((bad, "serum_creatinine"))
        out["serum_creatinine_unit"] = unit
    if "agent" in staged.columns:
        out["agent"], bad = _lookup(staged["agent"], AGENTS)
        soft.add(bad, "agent", col("agent"), "not recognised; accepted: capecitabine or S-1")
    for name in ("off_treatment_reason", "ascites", "encephalopathy"):
        if name in staged.columns:
            out[name] = _blank_to_na(col(name))
    return notes


def _birth_before_enrolment(out, pr, col) -> None:
    if "birth_date" in out and "enrolled_on" in out:
        bad = (out["birth_date"] >= out["enrolled_on"]).to_numpy(dtype=bool)
        pr.add(bad, "birth_date", col("birth_date"), "the birth date is not before the enrolment date")


def _treatment(staged, out, pr, soft, col, parsed_dates, flags) -> np.ndarray:
    """Checks of a treatment log; returns the rows mapped to "not a protocol treatment" (D52)."""
    other = mask_distinct(col("treatment"), lambda v: vocab.fold(v) == vocab.KEEP_AS_OTHER)
    out["treatment"], bad = _lookup(staged["treatment"], TREATMENTS) if "treatment" in staged.columns else (None, None)
    if bad is not None:
        pr.add(bad & ~other, "treatment", col("treatment"), _(
            "not recognised; accepted: RT, capecitabine or S-1 (or their brand, generic or Chinese names); "
            "map other names on the Upload page or with --map NAME=TREATMENT (or NAME=other)"))
    if other.any():        # the name as written makes the row's identity, so two such drugs stay apart
        name = col("treatment_name") if "treatment_name" in staged.columns else col("treatment")
        out["treatment"] = combine_distinct(lambda t, n, o: ("other: " + (n or "")) if o else t, out["treatment"],
                                            name, pd.Series(np.where(other, "y", ""), index=out.index))
    if "phase" in staged.columns:
        out["phase"], bad = _lookup(staged["phase"], PHASES)
        soft.add(bad, "phase", col("phase"), "not recognised; accepted: concurrent or maintenance (or leave empty to derive it)")
    for name in ("cycle", "fractions"):
        if name in staged.columns:
            num, bad = _numbers(staged[name])
            soft.add(bad, name, col(name), "must be a whole number")
            frac = (num.notna() & ((num != num.round()) | (num < 0))).to_numpy(dtype=bool)
            soft.add(frac, name, col(name), "must be a whole number, 0 or more")
            out[name] = num.round().astype("Int64")
    if "dose" in staged.columns:
        num, bad = _numbers(staged["dose"])
        soft.add(bad, "dose", col("dose"), "must be a number")
        neg = (num < 0).fillna(False).to_numpy(dtype=bool)
        soft.add(neg, "dose", col("dose"), "a dose cannot be negative")
        out["dose"] = num
    if "dose_unit" in staged.columns:
        _dose_units(staged, out, soft, col, flags)
    _end_before_start(out, pr, col, parsed_dates, "start_date", "end_date")
    return other


def _dose_units(staged, out, soft, col, flags) -> None:
    """Dose units as sites write them; a unit that carries a factor (cGy, mg BID) is converted to the
    stored unit and the row says so (data/dose_unit_conversions.csv)."""
    written = col("dose_unit")
    conv = vocab.dose_unit_conversions()
    stored = map_distinct(written, lambda v: conv[vocab.fold(v)][0] if v and vocab.fold(v) in conv else v)
    out["dose_unit"], bad = _lookup(stored, DOSE_UNITS)
    soft.add(bad, "dose_unit", written, _("not recognised; accepted: {units}").format(
        units=", ".join(vocab.VOCABULARIES["dose_unit"])))
    factor = map_distinct(written, lambda v: str(conv[vocab.fold(v)][1]) if v and vocab.fold(v) in conv else "1")
    f = pd.to_numeric(as_text(factor), errors="coerce").to_numpy(dtype="float64")
    changed = (f != 1.0) & ~bad
    if "dose" in out and changed.any():
        before = out["dose"].copy()
        out["dose"] = out["dose"] * pd.array(f, dtype="Float64")
        flags.append((changed & out["dose"].notna().to_numpy(dtype=bool), lambda pos: [
            _("dose {dose:g} {unit} stored as {new:g} {stored}").format(dose=b, unit=w, new=n, stored=u)
            for b, w, n, u in zip(before.iloc[pos], written.iloc[pos], out["dose"].iloc[pos],
                                  out["dose_unit"].iloc[pos])], "unit_converted", "dose_unit", written))


def _end_before_start(out, pr, col, parsed_dates, start, end) -> None:
    if start in out and end in out:
        bad = (out[end] < out[start]).to_numpy(dtype=bool, na_value=False)
        if end in parsed_dates:
            # a partial end date only conflicts when its whole period lies before the start
            prec = parsed_dates[end]["precision"]
            period_end = _period_end(out[end], prec)
            bad = bad & (period_end < out[start]).to_numpy(dtype=bool, na_value=False)
        starts = out[start]
        pr.add(bad, end, col(end), lambda pos: [
            f"the end date is before the start date {d:%Y-%m-%d}" for d in starts.iloc[pos]])


def _period_end(dates: pd.Series, precision: pd.Series) -> pd.Series:
    """The last day a partial date can stand for (the date itself when given to the day)."""
    out = dates.copy()
    for unit, offset in (("month", pd.offsets.MonthEnd(0)), ("year", pd.offsets.YearEnd(0))):
        partial = (precision == unit).to_numpy(dtype=bool)
        if partial.any():       # offsets are slow; most files have few partial dates
            out[partial] = dates[partial] + offset
    return out


def _ae_event(staged, out, pr, col, flags) -> None:
    """The event itself: site reference, CTCAE term (SOC, MedDRA code) and verbatim text."""
    if "ae_ref" in staged.columns:
        out["ae_ref"] = _blank_to_na(col("ae_ref"))
    written = col("term")
    terms = ctcae.derive_ctcae_terms(_blank_to_na(written))
    unknown = (terms["term"].isna() & (written != "")).to_numpy(dtype=bool)
    sugg = terms["suggestions"]
    by_soc = np.zeros(len(out), dtype=bool)
    if "soc" in staged.columns and unknown.any():
        terms, by_soc = _outside_ctcae(terms, col("soc"), unknown)
        flags.append((by_soc, lambda pos: [_(
            "'{written}' is not a CTCAE v5.0 term; stored as '{term}' from the system organ class in the file: "
            "confirm, or give the CTCAE term (closest: {closest})").format(
                written=w, term=t, closest=g if isinstance(g, str) and g else "-")
            for w, t, g in zip(written.iloc[pos], terms["term"].iloc[pos], sugg.iloc[pos])],
            "term_outside_ctcae", "term", written))
        unknown = unknown & ~by_soc
    hint = "" if "soc" in staged.columns else _(
        "; a system organ class column (e.g. AEBODSYS) would let it be stored under '<SOC> - Other, specify'")
    pr.add(unknown, "term", written, lambda pos: [
        (f"not a CTCAE v5.0 term; closest: {g}" if isinstance(g, str) and g
         else "not a CTCAE v5.0 term and nothing close was found") + hint for g in sugg.iloc[pos]])
    out["term"] = terms["term"]
    out["soc"] = terms["soc"]
    out["meddra_code"] = terms["meddra_code"]
    # the site's (often MedDRA) term as written, when it is not the CTCAE term itself (D51)
    out["reported_term"] = combine_distinct(lambda w, t: w if w and w != t else None, written, out["term"])
    # the verbatim text as written, else the description after "Other, specify", else (a term stored
    # under its SOC's "Other, specify") the term the site wrote
    verbatim = col("verbatim") if "verbatim" in staged.columns else col("")
    if not any(coded(terms["specified"])[1]):        # no 'Other, specify: ...' description in the file
        out["verbatim"] = _blank_to_na(verbatim)
    else:
        out["verbatim"] = combine_distinct(lambda v, spec: v or spec or None, verbatim, terms["specified"])
    if by_soc.any():
        out["verbatim"] = combine_distinct(lambda v, w: v or w, out["verbatim"],
                                           written.where(pd.Series(by_soc, index=written.index)))
    other = terms["matched_by"].eq("other_specify").to_numpy(dtype=bool)
    no_text = other & (out["verbatim"].isna()).to_numpy(dtype=bool)
    pr.add(no_text, "term", written, "an 'Other, specify' term needs the verbatim description")


def _outside_ctcae(terms: pd.DataFrame, soc_text: pd.Series, unknown: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    """Terms that are not CTCAE terms, placed under "<SOC> - Other, specify" of the system organ
    class the file gives (D51). Returns the terms frame with those rows filled and their mask."""
    other = map_distinct(soc_text, lambda s: "|".join(ctcae.soc_other_specify(s) or ()) if s else None)
    wanted = other.where(pd.Series(unknown, index=other.index))
    found = (wanted.notna() & (wanted != "")).to_numpy(dtype=bool)
    if not found.any():
        return terms, found
    parts = {name: map_distinct(wanted, lambda v, i=i: v.split("|")[i] if v else None)
             for i, name in enumerate(("term", "soc", "meddra_code"))}
    filled = terms.copy()
    for name, values in parts.items():
        filled[name] = combine_distinct(lambda a, b: a or b, terms[name], values)
    filled["matched_by"] = combine_distinct(lambda a, f: a or ("soc_other" if f else None), terms["matched_by"],
                                            pd.Series(np.where(found, "y", ""), index=terms.index))
    return filled, found


def _ae_details(staged, out, pr, soft, col, flags, parsed_dates, enrolment, screening_window_days) -> None:
    """Grade (or severity fallback), dates against each other and enrolment, and the coded fields."""
    has_sev = "severity" in staged.columns
    grade_text = col("grade")
    use_sev = (grade_text == "").to_numpy(dtype=bool) & has_sev
    # the grade as written, else (a fallback, flagged) the severity word
    source_text = combine_distinct(lambda g, sev: g or sev or "", grade_text, col("severity")) if has_sev \
        else grade_text
    grades = ctcae.derive_grades(_blank_to_na(source_text))
    from_sev = use_sev & grades["grade"].notna().to_numpy(dtype=bool)
    # a severity word in the grade column is also only a fallback
    sev_word = grades["grade_source"].eq("severity").to_numpy(dtype=bool)
    failed = grades["grade"].isna().to_numpy(dtype=bool) & ((source_text != "").to_numpy(dtype=bool))
    grade_col = "severity" if "grade" not in staged.columns else "grade"
    pr.add(failed & ~use_sev, grade_col, source_text, grades["grade_problem"])
    pr.add(failed & use_sev, "severity", source_text, grades["grade_problem"])
    missing_both = (source_text == "").to_numpy(dtype=bool)
    if "grade" not in staged.columns or has_sev:
        pr.add(missing_both, "grade", None, "grade is required and is empty (no severity either)")
    out["grade"] = grades["grade"]
    out["grade_source"] = take_category(["grade", "severity"], (from_sev | sev_word).astype(np.int8), out.index)
    flags.append((from_sev | sev_word,
                  lambda pos: [f"grade read from severity ({v}): confirm the CTCAE grade" for v in source_text.iloc[pos]]))
    allowed = ctcae.derive_grade_allowed(out[["term", "grade"]].astype({"grade": "Float64"}), "term", "grade")
    # a grade the term does not have is stored as recorded and queried, not refused (D50)
    not_allowed = allowed["grade_allowed"].eq(False).fillna(False).to_numpy(dtype=bool)
    notes = allowed["grade_allowed_note"]
    flags.append((not_allowed, lambda pos: [
        _("{why}; stored as recorded: confirm the grade with the site").format(why=w) for w in notes.iloc[pos]],
        "grade_not_allowed", grade_col, source_text))

    onset = parsed_dates.get("onset_date")
    if onset is not None:
        out["onset_precision"] = onset["precision"]
        partial = onset["precision"].isin(["month", "year"]).to_numpy(dtype=bool)
        flags.append((partial, lambda pos: [
            f"onset date given only to the {p}; imputed to the first day (never before first treatment)"
            for p in onset["precision"].iloc[pos]]))
    _end_before_start(out, pr, col, parsed_dates, "onset_date", "end_date")

    if "serious" in staged.columns:
        ser, bad = _lookup(staged["serious"], YES_NO)
        soft.add(bad, "serious", col("serious"), "not recognised; accepted: Y or N")
        out["serious"] = (ser == "True").astype("boolean").where(ser.notna(), pd.NA)
    if "attribution" in staged.columns:
        out["attribution"], bad = _lookup(staged["attribution"], ATTRIBUTION)
        soft.add(bad, "attribution", col("attribution"), f"not recognised; accepted: {_vocab_text(ATTRIBUTION)}")
        related = mask_distinct(col("attribution"), lambda v: v.casefold() == "related")
        flags.append((related, "attribution 'related' stored as 'possible': confirm the level"))
    if "attributed_to" in staged.columns:
        out["attributed_to"], bad = _lookup(staged["attributed_to"], ATTRIBUTED_TO)
        soft.add(bad, "attributed_to", col("attributed_to"), "not recognised; accepted: capecitabine, S-1, RT or more than one")
    if "action_taken" in staged.columns:
        out["action_taken"], bad = _lookup(staged["action_taken"], ACTIONS)
        soft.add(bad, "action_taken", col("action_taken"), "not recognised; accepted: none, dose reduced, interrupted, withdrawn")
    if "outcome" in staged.columns:
        out["outcome"] = _blank_to_na(col("outcome"))

    if enrolment is not None and len(enrolment) and "onset_date" in out:
        by_subject = pd.Series(pd.to_datetime(enrolment["enrolled_on"]).to_numpy(dtype="datetime64[s]"),
                               index=enrolment["subject_id"].astype(str).to_numpy())
        by_subject = by_subject[~by_subject.index.duplicated()]
        codes, subjects = coded(out["subject_id"])
        lut = np.append(by_subject.reindex(subjects).to_numpy(dtype="datetime64[s]"), np.datetime64("NaT", "s"))
        enrolled = pd.Series(lut[codes], index=out.index)
        latest_onset = _period_end(out["onset_date"], onset["precision"]) if onset is not None else out["onset_date"]
        too_early = (latest_onset < enrolled - pd.Timedelta(days=screening_window_days)).to_numpy(
            dtype=bool, na_value=False)
        pr.add(too_early, "onset_date", col("onset_date"), lambda pos: [
            f"onset is more than {screening_window_days} days before enrolment {d:%Y-%m-%d}; "
            "quarantined: check the date or the subject" for d in enrolled.iloc[pos]])


def _labs(staged, out, pr, col) -> None:
    out["test"] = map_distinct(col("test"), lambda v: v.upper() if v else "")
    for name in ("value", "lln", "uln"):
        if name in staged.columns:
            num, bad = _numbers(staged[name])
            pr.add(bad, name, col(name), "must be a number (a result like '<5' cannot be graded; give the number)")
            out[name] = num
    if "unit" in staged.columns:
        out["unit"] = _blank_to_na(col("unit"))


_STR = pa.string()


def _text(series: pd.Series) -> pa.Array:
    if isinstance(series.dtype, pd.CategoricalDtype):
        series = as_text(series)
    else:
        series = series.astype("string")
    return pc.fill_null(pa.array(series.array).cast(_STR), pa.scalar("", _STR))


def _lit(text: str) -> pa.Scalar:
    return pa.scalar(text, _STR)


def _record_key(kind: str, out: pd.DataFrame, parsed_dates: dict[str, pd.DataFrame]) -> tuple[Future, np.ndarray]:
    """The identity of a row in the store (see README), as a future of its text, and a code per row
    that is equal exactly when the identity is: in-file duplicates are found on those integer codes,
    not on a million strings."""
    n = len(out)

    def day(name: str) -> pd.Series:
        if name not in parsed_dates:
            return blank()
        return parsed_dates[name]["iso"]

    def blank() -> pd.Series:
        return take_category([""], np.zeros(n, dtype=np.int64), out.index)

    subj = _norm_text(out["subject_id"])
    if kind == "patients":
        parts = [subj]
    elif kind == "treatment":
        cycle = out["cycle"].astype("string") if "cycle" in out else blank()
        tail = combine_distinct(lambda c, d: f"c{c}" if c else f"d{d or ''}", cycle, day("start_date"))
        parts = [subj, _norm_text(out["treatment"]), tail]
    elif kind == "labs":
        parts = [subj, _norm_text(out["test"]), day("collected_on")]
    else:
        ref = out["ae_ref"] if "ae_ref" in out else blank()
        who = _event_identity(ref, out["term"])
        parts = [subj, who, day("onset_date")]
    if any(text_contains(p, "|") for p in parts[:-1]):
        # a '|' inside a part could make two different part-tuples one key: group on the text itself
        done: Future = Future()
        done.set_result(_join_key(parts, out.index))
        return done, pd.factorize(done.result())[0]
    return _KEY_JOINER.submit(_join_key, parts, out.index), group_codes(*[p.cat.codes.to_numpy() for p in parts])


def _event_identity(ref: pd.Series, term: pd.Series) -> pd.Series:
    """'ref:<site reference>' when the row has one, else 'term:<term in lower case>'. The same as
    combine_distinct over both columns, but built from each column's distinct values: with a unique
    reference per row there are as many combinations as rows."""
    ref_codes, refs = coded(ref)
    term_codes, terms = coded(term)
    ref_codes, term_codes = ref_codes.astype(np.int64), term_codes.astype(np.int64)     # not int8 codes
    has_ref = np.append(np.asarray([bool(r) for r in refs], dtype=bool), False)[ref_codes]
    texts = [f"ref:{r}" for r in refs] + [f"term:{(t or '').lower()}" for t in terms] + ["term:"]
    term_pos = np.where(term_codes < 0, len(refs) + len(terms), len(refs) + term_codes)
    return take_category(texts, np.where(has_ref, ref_codes, term_pos), ref.index)


_KEY_JOINER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="toxdb-keys")


def _join_key(parts: list[pd.Series], index: pd.Index) -> pd.Series:
    """'part|part|part' per row; pyarrow does the work without holding the GIL."""
    arrays = [_text(p) for p in parts]
    key = arrays[0] if len(arrays) == 1 else pc.binary_join_element_wise(*arrays, _lit("|"))
    return pd.Series(pd.array(key, dtype=pd.StringDtype("pyarrow")), index=index)


def _in_file_duplicates(out: pd.DataFrame, pr: _Problems, kind: str, groups: np.ndarray) -> None:
    by_group = pd.Series(groups)
    if not by_group.duplicated(keep="first").any():     # the usual case, and the cheaper test
        return
    dup_key = by_group.duplicated(keep=False).to_numpy(dtype=bool)
    positions = np.flatnonzero(dup_key)
    key = groups[positions]
    sub = out.iloc[positions].drop(columns=["source_row"]).assign(_identity=key)
    same_values = sub.astype("string").fillna("\x00").duplicated(keep="first").to_numpy()
    pr.dups[positions[same_values]] = True
    # same key, other values: the later rows conflict with the first one
    later = pd.Series(key).duplicated(keep="first").to_numpy() & ~same_values
    conflict = np.zeros(len(out), dtype=bool)
    conflict[positions[later]] = True
    first_row = out["source_row"].iloc[positions].groupby(key, sort=False).transform("first")
    first_of = dict(zip(positions, first_row.to_numpy()))
    what = {"patients": "the same subject", "treatment": "the same subject, treatment and cycle",
            "labs": "the same subject, test and date", "ae": "the same subject, event and onset"}[kind]
    pr.add(conflict, None, None, lambda pos: [
        f"{what} as row {first_of[p]} but with other values; keep one row (or correct it in a later upload)"
        for p in pos])


def _problem_frame(raw: RawTable, staged: pd.DataFrame, pr: _Problems, rejected, duplicate) -> pd.DataFrame:
    msgs = pr.messages()
    pos = np.flatnonzero(rejected | duplicate)
    if not len(pos):
        return pd.DataFrame({"source_row": pd.Series(dtype="int64"), "status": pd.Series(dtype="string"),
                             "reasons": pd.Series(dtype="string"), "raw": pd.Series(dtype="string")})
    cells = raw.data.iloc[staged.index[pos]]
    raw_json = [json.dumps(r, ensure_ascii=False) for r in cells.astype(object).where(cells.notna(), "").to_dict("records")]
    status = np.where(rejected[pos], "rejected", "duplicate")
    reasons = [
        msgs.get(p, f"{raw.file_name}, row {pr.source_row[p]}: the same row already appears earlier in this file")
        if rejected[p] else f"{raw.file_name}, row {pr.source_row[p]}: the same row already appears earlier in this file"
        for p in pos
    ]
    return pd.DataFrame({
        "source_row": pr.source_row[pos],
        "status": pd.array(status, dtype="string"),
        "reasons": pd.array(reasons, dtype="string"),
        "raw": pd.array(raw_json, dtype="string"),
    })
