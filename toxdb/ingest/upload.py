"""One upload from file to store: read, map, validate, compare with the store, then commit.

``prepare_upload`` does everything except writing, so the Upload page and the CLI can show what
will happen; ``commit_upload`` writes it in one transaction.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import pandas as pd

from toxdb.clinical.ctcae_v6 import compute_terms_version
from toxdb.clinical.ctcae_versions import ctcae_version
from toxdb.i18n import _, ngettext
from toxdb.alerts.notify import AlertReport, notify_after_import
from toxdb.ingest.mapping import (
    DATE_COLUMNS,
    ColumnMapping,
    apply_mapping,
    date_candidates,
    detect_kind,
    header_signature,
    is_side_table,
    map_columns,
)
from toxdb.ingest.readers import RawTable, ReadError, check_size, read_table
from toxdb.ingest.validate import ValidationResult, validate
from toxdb.ingest.values import (
    ValueMapError,
    apply_value_map,
    check_value_map,
    merge_value_maps,
    parse_map_args,
    unknown_values,
)
from toxdb.queries import sync_flag_queries
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
    same_bytes_as: dict | None = None        # an earlier upload of exactly these bytes (a note, not a verdict)
    saved_mapping_used: bool = False
    notes: list[str] = field(default_factory=list)
    value_map: dict = field(default_factory=dict)            # {column: {written: target}} applied (D52)
    unknown_values: dict = field(default_factory=dict)       # {column: [written values no vocabulary knows]}
    store_version: tuple | None = None       # the store's data version when the rows were classified
    packed: tuple | None = None              # (codec, bytes): the raw file as the store keeps it
    changed: pd.DataFrame | None = None      # see changes()
    trial: Trial | None = None               # the rules it was checked against (alerts use them too)
    alerts: AlertReport | None = None        # what committing it raised and sent (commit_upload)
    ctcae_version: str | None = None         # an AE file: the CTCAE version of its terms (D35), kept with it
    terms_version: object = None             # an AE file: what its terms tell (compute_terms_version)

    def rows_with_status(self) -> pd.DataFrame:
        """The valid rows with what loading would do to each: new, correction or duplicate."""
        rows = self.validation.rows if self.validation is not None else pd.DataFrame()
        if self.classified is None or not len(rows):
            return rows.assign(status=pd.Series(dtype="string"))
        status = self.classified.set_index("source_row")[["status", "current_version"]]
        out = rows.join(status, on="source_row")        # rows not already stored are new
        return out.assign(status=out["status"].fillna("new"), current_version=out["current_version"].fillna(0))

    @property
    def adds_nothing(self) -> bool:
        """True when loading would change nothing: every row is already stored with the same values
        (whatever the file's bytes), and any rejected rows or rows kept as other were already recorded
        from these very bytes (decision D40)."""
        if self.validation is None or self.classified is None:
            return False
        s = self.summary
        # rows kept as other (D52) are stored too: a file of only those still loads (D57)
        return s["new"] == 0 and s["corrections"] == 0 and (
            (s["rejected"] == 0 and s["other"] == 0) or self.same_bytes_as is not None)

    def changes(self) -> pd.DataFrame:
        """Each stored value the upload would change: source_row, record_key, column, stored, incoming."""
        return self.changed if self.changed is not None else pd.DataFrame(
            columns=["source_row", "record_key", "column", "stored", "incoming"])

    @property
    def kind(self) -> str:
        return self.mapping.kind

    @property
    def ready(self) -> bool:
        return self.validation is not None and not self.mapping.missing_required

    @property
    def summary(self) -> dict:
        out = {"file": self.file_name, "kind": self.kind, "rows": len(self.table.data), "new": 0,
               "corrections": 0, "duplicates": 0, "rejected": 0, "flagged": 0, "other": 0}
        if self.validation is not None:
            out["rejected"] = self.validation.summary["rejected"]
            out["flagged"] = self.validation.summary["flagged"]
            out["other"] = self.validation.summary["other"]
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
    allowed_sites: tuple[str, ...] | None = None,
    value_map: dict[str, dict[str, str]] | None = None,
    table: RawTable | None = None,
    ctcae: str | None = None,
) -> UploadPlan:
    """Read and check a file against the store without writing anything.

    ``allowed_sites``: the uploader's own sites when they may upload for those only (toxdb.access
    ``scope``): rows of other sites are rejected with that reason (D64).

    ``mapping`` is a confirmed {source header: canonical} mapping (from the page or a saved one);
    ``value_map`` {column: {written: target}} maps a site's own coded values, on top of the map saved
    for the site (D52). Raises ReadError when the file cannot be read as a table at all.
    ``table``: these bytes already read (read_table of ``raw``, ``file_name``, ``sheet``), not read again.
    for the site (D52). ``ctcae``: the CTCAE version an adverse-event file declares (else its terms
    tell, else the version of record; D35). Raises ReadError when the file cannot be read as a table.

    """
    trial = trial or load_trial()
    table = table if table is not None else read_table(raw, file_name, sheet)
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
    stored = store.known_subjects()
    side = is_side_table(table, cmap, stored)
    if side:                 # values for stored patients: their enrolment dates stand (D59)
        cmap.from_store = ["enrolled_on"]
    plan = UploadPlan(file_name, raw, "", table, cmap, site, saved_mapping_used=saved_used,
                      notes=list(table.notes), trial=trial)

    def fingerprint() -> None:
        plan.sha256, plan.packed = keeping.result()
        plan.same_bytes_as = store.upload_by_hash(plan.sha256, kind)

    if cmap.missing_required:
        fingerprint()
        return plan
    staged = apply_mapping(table, cmap)
    plan.value_map = merge_value_maps(store.saved_value_map(site, kind) if site else None, value_map)
    check_value_map(kind, plan.value_map)
    staged = apply_value_map(staged, kind, plan.value_map)
    plan.unknown_values = unknown_values(staged, kind)
    known = None if kind == "patients" and not side else stored
    enrolment = store.read_kind("patients")[["subject_id", "enrolled_on"]] if kind == "ae" else None
    base = getattr(store, "base", store)          # every site's patients: to say where a patient is
    subject_sites = base.read_kind("patients")[["subject_id", "site"]] if allowed_sites is not None else None
    plan.validation = validate(
        staged, cmap, table, known_subjects=known, enrolment=enrolment,
        screening_window_days=trial.trial.screening_window_days, today=today, day_first=day_first,
        future_tolerance_days=trial.trial.future_tolerance_days, stored_subjects=stored,
        allowed_sites=allowed_sites, subject_sites=subject_sites, adds_to_stored=side,
    )
    plan.notes.extend(plan.validation.notes)
    if side:
        plan.validation.rows = derive_stored_values(plan.validation.rows, store.read_kind("patients"),
                                                    [c for c in cmap.columns if c != "subject_id"])
        plan.notes.append(_("A side table of values for patients already stored: it gives {columns}; every "
                            "other value (enrolment date, site, ...) stays as stored.").format(
            columns=", ".join(c for c in cmap.columns if c != "subject_id")))
    if kind == "ae":
        _set_ctcae_version(plan, staged, ctcae, trial)
    fingerprint()
    _classify_plan(store, plan)
    return plan


def derive_stored_values(rows: pd.DataFrame, stored: pd.DataFrame, given: list[str]) -> pd.DataFrame:
    """A side table's rows (D59) with every column it does not give taken from the patient as stored,
    so that loading it changes only the values it gives (a correction of those)."""
    current = stored.drop_duplicates("subject_id").set_index("subject_id")
    out = rows.copy()
    for column in current.columns:
        if column in given or column in ("subject_id", "record_key", "source_row"):
            continue
        if column in out.columns and out[column].notna().any():
            continue                         # set by the checks from the side table's own columns
        out[column] = out["subject_id"].astype(str).map(current[column]).to_numpy()
    return out
def _set_ctcae_version(plan: UploadPlan, staged: pd.DataFrame, declared: str | None, trial: Trial) -> None:
    """The CTCAE version an adverse-event file is written in (D35): as declared, else as its terms tell,
    else the trial's version of record; a declaration the terms contradict gets a note."""
    found = compute_terms_version(staged["term"]) if "term" in staged else None
    plan.terms_version = found
    told = found.version if found is not None else None
    plan.ctcae_version = ctcae_version(declared) if declared else (told or ctcae_version(trial.ctcae.version))
    if declared and told and told != plan.ctcae_version:
        terms = found.only_v6 if told == "6.0" else found.only_v5
        plan.notes.append(_("declared CTCAE v{declared}, but {n} terms are only in v{told} (e.g. {terms})").format(
            declared=plan.ctcae_version, n=len(terms), told=told, terms=", ".join(terms[:3])))


def _classify_plan(store: Store, plan: UploadPlan) -> None:
    """Compare the plan's valid rows with the store as it is now: new, duplicate or correction, and
    the values each correction changes."""
    rows = plan.validation.rows
    plan.store_version = store.data_version()
    plan.classified = store.classify_rows(plan.kind, rows) if len(rows) else pd.DataFrame(
        {"source_row": pd.Series(dtype="int64"), "status": pd.Series(dtype="string")})
    corrected = plan.classified.loc[plan.classified["status"] == "correction", "source_row"]
    plan.changed = store.changed_values(plan.kind, rows[rows["source_row"].isin(corrected)]) if len(corrected) \
        else None


def commit_upload(store: Store, plan: UploadPlan, user: str) -> CommitCounts | None:
    """Write a prepared upload. Returns None (and writes nothing but an audit line) when the file's
    content is already in the store (see UploadPlan.adds_nothing)."""
    if plan.ready and plan.store_version != store.data_version():
        _classify_plan(store, plan)                  # the store changed since the preview
    if plan.adds_nothing:
        store.record_audit(user, "upload_repeated", {
            "file": plan.file_name, "sha256": plan.sha256,
            "same_bytes_as_upload": (plan.same_bytes_as or {}).get("upload_id")})
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
        packed=plan.packed, flags=v.flags, others=v.others, ctcae_version=plan.ctcae_version,
    )
    if counts.flagged or counts.corrections:
        # every stored flag is a query to the site; a correction closes the queries it settles (D56)
        synced = sync_flag_queries(store)
        counts = replace(counts, queries_raised=len(synced.raised), queries_closed=synced.closed)
    plan.alerts = notify_after_import(store, plan.trial or load_trial(), counts.upload_id, plan.kind, user)
    return counts


def describe_plan(plan: UploadPlan) -> str:
    s = plan.summary
    if plan.adds_nothing:
        text = _("{file}: every row is already stored with the same values; nothing to add").format(
            file=plan.file_name)
        if plan.same_bytes_as is not None:
            a = plan.same_bytes_as
            text += " " + _("(the same file as upload #{id}, {name}, {at:%Y-%m-%d %H:%M} by {user})").format(
                id=a["upload_id"], name=a["file_name"], at=a["uploaded_at"], user=a["uploaded_by"])
        return text
    if plan.mapping.missing_required:
        text = (f"{plan.file_name}: read as {KIND_LABELS[plan.kind]}, but no column was recognised for "
                f"{', '.join(plan.mapping.missing_required)}; map them by hand (Upload page) or pass --kind")
        dates = date_candidates(plan.table, plan.mapping) if set(DATE_COLUMNS) & set(plan.mapping.missing_required) \
            else []
        if dates:         # the meaning is not certain: the user is asked, with the columns that could hold it
            text += ". " + _("Columns of this file that hold dates: {columns}. Which one, if any, is the {what}?").format(
                columns=", ".join(dates[:8]) + (" …" if len(dates) > 8 else ""),
                what=" / ".join(_(DATE_COLUMNS[c]) for c in plan.mapping.missing_required if c in DATE_COLUMNS))
        return text
    return _("{file} ({kind}, {rows} rows): {new} new, {corrections} corrections, {duplicates} duplicates, "
             "{rejected} rejected, {flagged} flagged").format(
        file=plan.file_name, kind=KIND_LABELS[plan.kind], rows=s["rows"], new=s["new"],
        corrections=s["corrections"], duplicates=s["duplicates"], rejected=s["rejected"], flagged=s["flagged"])


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
        text = _("{file} ({kind}) -> upload #{upload}: {accepted} accepted, {duplicates} duplicated, "
                 "{corrections} corrected, {rejected} rejected, {flagged} flagged").format(
            file=self.plan.file_name, kind=KIND_LABELS[self.plan.kind], upload=c.upload_id, accepted=c.accepted,
            duplicates=c.duplicates, corrections=c.corrections, rejected=c.rejected, flagged=c.flagged) + (
            _("; {n} kept as other (not a protocol treatment)").format(n=c.other) if c.other else "") + (
            _("; terms in CTCAE v{version}").format(version=self.plan.ctcae_version)
            if self.plan.ctcae_version else "") + describe_flag_queries(c)
        alerts = self.plan.alerts.message if self.plan.alerts is not None else None
        return text + "\n  " + _("alerts: {alerts}").format(alerts=alerts) if alerts else text


def describe_flag_queries(c: CommitCounts) -> str:
    """What an upload did to the queries to the site (D56), in words; empty when nothing."""
    parts = []
    if c.queries_raised:
        parts.append(ngettext("{n} query raised to the site (Queries page)", "{n} queries raised to the site "
                              "(Queries page)", c.queries_raised).format(n=c.queries_raised))
    if c.queries_closed:
        parts.append(ngettext("{n} flag query closed: the correction settles it",
                              "{n} flag queries closed: the correction settles them", c.queries_closed).format(
            n=c.queries_closed))
    return "".join("; " + p for p in parts)


def import_paths(store: Store, paths, user: str, *, kind: str | None = None, site: str | None = None,
                 day_first: bool | None = None, trial: Trial | None = None,
                 map_args: list[str] | None = None, ctcae: str | None = None) -> list[FileOutcome]:
    """Import files in dependency order (patients before the rows that refer to them); ``ctcae``: the
    CTCAE version adverse-event files declare (D35)."""
    from pathlib import Path

    trial = trial or load_trial()
    paths = list(paths)
    staged: list[tuple[int, bool, str, bytes | None, str | None]] = []
    read: dict[str, RawTable] = {}      # one file: the table read to find its kind is the one imported
    for p in paths:
        path = Path(p)
        try:
            if not path.is_file():
                raise ReadError(f"{path}: no such file")
            check_size(path)
            raw = path.read_bytes()
            table = None
            if kind and kind != "patients":
                k = kind
            else:
                table = read_table(raw, path.name)
                k = kind or detect_kind(table)
                if len(paths) == 1:          # several files: not all held in memory at once
                    read[str(path)] = table
            # a patients file without its required columns may be a side table for the others (D59): after them
            later = table is not None and bool(map_columns(table, k).missing_required)
            staged.append((KINDS.index(k), later, str(path), raw, None))
        except ReadError as exc:
            staged.append((-1, False, str(path), None, str(exc)))
    outcomes = []
    for order, _later, path, raw, error in sorted(staged, key=lambda s: s[:2]):
        if error:
            outcomes.append(FileOutcome(path, None, None, error))
            continue
        try:
            vmap = parse_map_args(KINDS[order], map_args, strict=False) if map_args else None
            plan = prepare_upload(store, raw, Path(path).name, kind=kind, site=site, day_first=day_first,
                                  trial=trial, value_map=vmap, table=read.pop(path, None),
                                  ctcae=ctcae)
            if plan.mapping.missing_required:
                outcomes.append(FileOutcome(path, plan, None, describe_plan(plan)))
                continue
            outcomes.append(FileOutcome(path, plan, commit_upload(store, plan, user)))
        except (ReadError, ValueMapError) as exc:
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
