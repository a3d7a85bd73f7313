"""One upload from file to store: read, map, validate, compare with the store, then commit.

``prepare_upload`` does everything except writing, so the Upload page and the CLI can show what
will happen; ``commit_upload`` writes it in one transaction.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pandas as pd

from toxdb.alerts.notify import AlertReport, notify_after_import
from toxdb.ingest.mapping import (
    ColumnMapping,
    apply_mapping,
    detect_kind,
    header_signature,
    map_columns,
)
from toxdb.ingest.readers import RawTable, ReadError, check_size, read_table
from toxdb.ingest.validate import ValidationResult, validate
from toxdb.store.db import CommitCounts, Store, pack_raw
from toxdb.trial import Trial, load_trial
from toxdb.vocab import KIND_LABELS, KINDS

_FILE_JOBS = ThreadPoolExecutor(max_workers=1, thread_name_prefix="toxdb-keep-file")


def _fingerprint_and_pack(raw: bytes) -> tuple[str, tuple[str | None, bytes]]:
    """(SHA-256, the compressed bytes to keep): both only need the raw file."""
    return hashlib.sha256(raw).hexdigest(), pack_raw(raw)


class MappingIncomplete(ValueError):
    pass


@dataclass
class UploadPlan:
    file_name: str
    raw: bytes
    sha256: str
    table: RawTable
    mapping: ColumnMapping
    site: str | None
    validation: ValidationResult | None = None
    classified: pd.DataFrame | None = None
    already_uploaded: dict | None = None
    saved_mapping_used: bool = False
    notes: list[str] = field(default_factory=list)
    store_version: tuple | None = None       # the store's data version when the rows were classified
    packed: tuple | None = None              # (codec, bytes): the raw file as the store keeps it
    trial: Trial | None = None               # the rules it was checked against (alerts use them too)
    alerts: AlertReport | None = None        # what committing it raised and sent (commit_upload)

    def rows_with_status(self) -> pd.DataFrame:
        """The valid rows with what loading would do to each: new, correction or duplicate."""
        rows = self.validation.rows if self.validation is not None else pd.DataFrame()
        if self.classified is None or not len(rows):
            return rows.assign(status=pd.Series(dtype="string"))
        status = self.classified.set_index("source_row")[["status", "current_version"]]
        out = rows.join(status, on="source_row")        # rows not already stored are new
        return out.assign(status=out["status"].fillna("new"), current_version=out["current_version"].fillna(0))

    @property
    def kind(self) -> str:
        return self.mapping.kind

    @property
    def ready(self) -> bool:
        return self.validation is not None and not self.mapping.missing_required

    @property
    def summary(self) -> dict:
        out = {"file": self.file_name, "kind": self.kind, "rows": len(self.table.data), "new": 0,
               "corrections": 0, "duplicates": 0, "rejected": 0}
        if self.validation is not None:
            out["rejected"] = self.validation.summary["rejected"]
            out["duplicates"] = self.validation.summary["duplicates_in_file"]
        if self.classified is not None and self.validation is not None:
            st = self.classified["status"].value_counts()
            out["new"] = len(self.validation.rows) - len(self.classified)
            out["corrections"] = int(st.get("correction", 0))
            out["duplicates"] += int(st.get("duplicate", 0))
        return out


def prepare_upload(
    store: Store,
    raw: bytes,
    file_name: str,
    *,
    kind: str | None = None,
    site: str | None = None,
    day_first: bool | None = None,
    sheet: str | None = None,
    mapping: dict[str, str] | None = None,
    trial: Trial | None = None,
    today: dt.date | None = None,
) -> UploadPlan:
    """Read and check a file against the store without writing anything.

    ``mapping`` is a confirmed {source header: canonical} mapping (from the page or a saved one).
    Raises ReadError when the file cannot be read as a table at all.
    """
    trial = trial or load_trial()
    table = read_table(raw, file_name, sheet)
    # while the rows are checked (one core), another thread hashes and compresses the file
    keeping = _FILE_JOBS.submit(_fingerprint_and_pack, raw)
    signature = header_signature(table.columns)
    saved_used = False
    if mapping is None and site:
        found = store.saved_mapping(site, kind, signature)
        if found is not None:
            kind = kind or found[0]
            mapping, saved_used = found[1], True
    kind = kind or detect_kind(table)
    cmap = map_columns(table, kind, saved=mapping)
    plan = UploadPlan(file_name, raw, "", table, cmap, site, saved_mapping_used=saved_used,
                      notes=list(table.notes), trial=trial)

    def fingerprint() -> None:
        plan.sha256, plan.packed = keeping.result()
        plan.already_uploaded = store.upload_by_hash(plan.sha256, kind)

    if cmap.missing_required:
        fingerprint()
        return plan
    staged = apply_mapping(table, cmap)
    known = None if kind == "patients" else store.known_subjects()
    enrolment = store.read_kind("patients")[["subject_id", "enrolled_on"]] if kind == "ae" else None
    plan.validation = validate(
        staged, cmap, table, known_subjects=known, enrolment=enrolment,
        screening_window_days=trial.trial.screening_window_days, today=today, day_first=day_first,
        future_tolerance_days=trial.trial.future_tolerance_days,
    )
    plan.notes.extend(plan.validation.notes)
    fingerprint()
    rows = plan.validation.rows
    plan.store_version = store.data_version()
    plan.classified = store.classify_rows(kind, rows) if len(rows) else pd.DataFrame(
        {"source_row": pd.Series(dtype="int64"), "status": pd.Series(dtype="string")})
    return plan


def commit_upload(store: Store, plan: UploadPlan, user: str) -> CommitCounts | None:
    """Write a prepared upload. Returns None (and writes nothing) for a file already uploaded.
    Then evaluate the alert rules on what it stored and send what is due (``plan.alerts``; D91)."""
    if plan.already_uploaded is not None:
        store.record_audit(user, "upload_repeated", {
            "file": plan.file_name, "sha256": plan.sha256, "same_as_upload": plan.already_uploaded["upload_id"]})
        return None
    if not plan.ready:
        missing = ", ".join(plan.mapping.missing_required)
        raise MappingIncomplete(
            f"{plan.file_name}: map these required columns before loading: {missing}")
    v = plan.validation
    counts = store.commit_upload(
        kind=plan.kind, file_name=plan.file_name, raw=plan.raw, sha256=plan.sha256, uploaded_by=user,
        site=plan.site, reader=plan.table.reader, day_first=v.day_first, mapping=plan.mapping.as_source_map(),
        rows=v.rows, problems=v.problems, n_rows=len(plan.table.data),
        classified=plan.classified if len(v.rows) else None, classified_at_version=plan.store_version,
        packed=plan.packed,
    )
    plan.alerts = notify_after_import(store, plan.trial or load_trial(), counts.upload_id, plan.kind, user)
    return counts


def describe_plan(plan: UploadPlan) -> str:
    s = plan.summary
    if plan.already_uploaded is not None:
        a = plan.already_uploaded
        return (f"{plan.file_name}: identical to upload #{a['upload_id']} ({a['file_name']}, "
                f"{a['uploaded_at']:%Y-%m-%d %H:%M} by {a['uploaded_by']}); nothing to add")
    if plan.mapping.missing_required:
        return (f"{plan.file_name}: read as {KIND_LABELS[plan.kind]}, but no column was recognised for "
                f"{', '.join(plan.mapping.missing_required)}; map them by hand (Upload page) or pass --kind")
    return (f"{plan.file_name} ({KIND_LABELS[plan.kind]}, {s['rows']} rows): {s['new']} new, "
            f"{s['corrections']} corrections, {s['duplicates']} duplicates, {s['rejected']} rejected")


@dataclass
class FileOutcome:
    path: str
    plan: UploadPlan | None
    counts: CommitCounts | None
    error: str | None = None

    @property
    def message(self) -> str:
        if self.error:
            return self.error
        if self.counts is None:
            return describe_plan(self.plan)
        c = self.counts
        text = (f"{self.plan.file_name} ({KIND_LABELS[self.plan.kind]}) -> upload #{c.upload_id}: "
                f"{c.accepted} accepted, {c.duplicates} duplicated, {c.corrections} corrected, {c.rejected} rejected")
        alerts = self.plan.alerts.message if self.plan.alerts is not None else None
        return f"{text}\n  alerts: {alerts}" if alerts else text


def import_paths(store: Store, paths, user: str, *, kind: str | None = None, site: str | None = None,
                 day_first: bool | None = None, trial: Trial | None = None) -> list[FileOutcome]:
    """Import files in dependency order (patients before the rows that refer to them)."""
    from pathlib import Path

    trial = trial or load_trial()
    staged: list[tuple[int, str, bytes | None, str | None]] = []
    for p in paths:
        path = Path(p)
        try:
            if not path.is_file():
                raise ReadError(f"{path}: no such file")
            check_size(path)
            raw = path.read_bytes()
            k = kind or detect_kind(read_table(raw, path.name))
            staged.append((KINDS.index(k), str(path), raw, None))
        except ReadError as exc:
            staged.append((-1, str(path), None, str(exc)))
    outcomes = []
    for _, path, raw, error in sorted(staged, key=lambda s: s[0]):
        if error:
            outcomes.append(FileOutcome(path, None, None, error))
            continue
        try:
            plan = prepare_upload(store, raw, Path(path).name, kind=kind, site=site, day_first=day_first, trial=trial)
            if plan.mapping.missing_required:
                outcomes.append(FileOutcome(path, plan, None, describe_plan(plan)))
                continue
            outcomes.append(FileOutcome(path, plan, commit_upload(store, plan, user)))
        except ReadError as exc:
            outcomes.append(FileOutcome(path, None, None, str(exc)))
    return outcomes


SAMPLE_FILES = ("patients.csv", "treatment.csv", "adverse_events.csv", "labs.csv")


def seed_sample(store: Store, sample_dir, user: str = "sample-data") -> list[FileOutcome]:
    """Load the canonical sample trial (used for the dashboard's first start and `init --sample`)."""
    from pathlib import Path

    files = [Path(sample_dir) / f for f in SAMPLE_FILES if (Path(sample_dir) / f).exists()]
    kinds = dict(zip(SAMPLE_FILES, KINDS))
    out = []
    for f in files:
        out.extend(import_paths(store, [f], user, kind=kinds[f.name]))
    return out
