"""The store: the only module that talks to DuckDB.

One DuckDB file holds the trial. Clinical rows are versioned (valid_from / valid_to), uploads keep
their raw bytes, and every write happens in one transaction so that a crash leaves the store as it
was. Reads return pandas DataFrames; bulk writes go through registered DataFrames, never row by row.
"""
from __future__ import annotations

import atexit
import datetime as dt
import functools
import json
import os
import threading
from collections.abc import Callable, Iterator
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from toxdb.store.audit import Anchor, ChainCheck, append, check_anchors, head, migrate_chain, verify_chain
from toxdb.i18n import _
from toxdb.vocab import KIND_TABLES

SCHEMA_FILE = Path(__file__).with_name("schema.sql")
SCHEMA_VERSION = 1          # the version schema.sql creates
# Later schema versions: (version, SQL). Applied in order to a store whose version is lower.
MIGRATIONS: list[tuple[int, str | Callable]] = [
    # 2: raw files are kept compressed (zstd); NULL codec = the bytes as uploaded (version 1 stores)
    (2, "ALTER TABLE uploads ADD COLUMN raw_codec TEXT"),
    # 3: each closed version names the upload that closed it (a saved cut is an upload number, D41)
    (3, "".join(
        f"ALTER TABLE {t} ADD COLUMN closed_by INTEGER; UPDATE {t} AS o SET closed_by = n.upload_id FROM {t} AS n"
        " WHERE n.record_key = o.record_key AND n.version = o.version + 1;"
        for t in ("patients", "treatment_records", "adverse_events", "lab_results"))),
    # 4: a saved cut holds the last upload it sees; older cuts get the last upload before their time
    (4, "ALTER TABLE data_cuts ADD COLUMN frozen_upload INTEGER;"
        " UPDATE data_cuts SET frozen_upload = (SELECT coalesce(max(upload_id), 0) FROM uploads"
        " WHERE uploaded_at <= data_cuts.frozen_at)"),
    # 5: rows stored with a flag that raises a query to the site (D50), and their count per upload
    (5, ("CREATE TABLE IF NOT EXISTS row_flags ("
         " upload_id INTEGER NOT NULL, kind TEXT NOT NULL, source_row INTEGER, record_key TEXT,"
         " subject_id TEXT, code TEXT NOT NULL, column_name TEXT, value TEXT, message TEXT NOT NULL);"
         " ALTER TABLE uploads ADD COLUMN n_flagged INTEGER")),
    # 6: the term as the site wrote it (a MedDRA term stored under "<SOC> - Other, specify", D51);
    #    treatment rows kept as "not a protocol treatment" and value maps saved per site (D52)
    (6, lambda cur: (_add_column(cur, "adverse_events", "reported_term TEXT"), cur.execute(
        "CREATE TABLE IF NOT EXISTS other_treatments (upload_id INTEGER NOT NULL, source_row INTEGER,"
        " subject_id TEXT NOT NULL, name TEXT NOT NULL, start_date DATE, end_date DATE, dose DOUBLE, dose_unit TEXT);"
        " CREATE TABLE IF NOT EXISTS saved_value_maps (site TEXT NOT NULL, kind TEXT NOT NULL,"
        " column_name TEXT NOT NULL, written TEXT NOT NULL, target TEXT NOT NULL, saved_by TEXT NOT NULL,"
        " saved_at TIMESTAMP NOT NULL, PRIMARY KEY (site, kind, column_name, written))"))),
    # 7: people and their roles and sites (D61); every saved mapping kept as a version (D66)
    (7, """
        CREATE TABLE users (
            identity   TEXT PRIMARY KEY,        -- e-mail from the identity provider, lower case
            name       TEXT,
            role       TEXT NOT NULL,
            sites      TEXT[] NOT NULL,
            active     BOOLEAN NOT NULL,
            changed_at TIMESTAMP NOT NULL,
            changed_by TEXT NOT NULL
        );
        CREATE TABLE mapping_versions (
            site TEXT NOT NULL, kind TEXT NOT NULL, signature TEXT NOT NULL, version INTEGER NOT NULL,
            mapping JSON NOT NULL, saved_by TEXT NOT NULL, saved_at TIMESTAMP NOT NULL
        );
        INSERT INTO mapping_versions SELECT site, kind, signature, 1, mapping, saved_by, saved_at FROM saved_mappings;
    """),
    # 8: the audit log becomes a hash chain (D65); a function, as it chains the entries already there
    (8, migrate_chain),
    # 9: the CTCAE version an adverse-event upload's terms are written in (declared or told by its terms, D35)
    (9, "ALTER TABLE uploads ADD COLUMN ctcae_version TEXT"),
    # 11: queries to sites (issue 12, D75): one row per query, its thread of messages
    (11, "CREATE SEQUENCE IF NOT EXISTS query_seq START 1;"
         " CREATE TABLE IF NOT EXISTS site_queries (query_id INTEGER PRIMARY KEY, kind TEXT NOT NULL,"
         " record_key TEXT NOT NULL, subject_id TEXT NOT NULL, site TEXT, record_label TEXT, source TEXT NOT NULL,"
         " status TEXT NOT NULL CHECK (status IN ('open', 'answered', 'closed')), raised_by TEXT NOT NULL,"
         " raised_at TIMESTAMP NOT NULL, updated_at TIMESTAMP NOT NULL);"
         " CREATE TABLE IF NOT EXISTS query_messages (query_id INTEGER NOT NULL, written_at TIMESTAMP NOT NULL,"
         " author TEXT NOT NULL, role TEXT, action TEXT NOT NULL, text TEXT NOT NULL)"),
    # 12: record review (issue 12, D77): a mark ties to one version of one record
    (12, "CREATE TABLE IF NOT EXISTS record_reviews (kind TEXT NOT NULL, record_key TEXT NOT NULL,"
         " version TEXT NOT NULL, reviewed_by TEXT NOT NULL, reviewed_at TIMESTAMP NOT NULL)"),
    # 15: the e-mail alert outbox and each phase's last boundary state (toxdb.alerts; D91)
    (15, """
CREATE SEQUENCE IF NOT EXISTS alert_seq START 1;
CREATE TABLE IF NOT EXISTS alerts (
    alert_id        INTEGER NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    upload_id       INTEGER,             -- the import that raised it
    kind            TEXT NOT NULL CHECK (kind IN ('event', 'boundary', 'digest')),
    record_key      TEXT,                -- event alerts: the adverse event and the version that raised it
    version         INTEGER,
    phase           TEXT,                -- boundary alerts: the cohort
    subject_id      TEXT,
    site            TEXT,
    raised          TEXT NOT NULL,       -- JSON list of rules this version newly meets
    cleared         TEXT NOT NULL,       -- JSON list of rules alerted before that it no longer meets
    facts           TEXT NOT NULL,       -- JSON: term, grade, onset, serious as alerted
    role            TEXT NOT NULL,
    recipients      TEXT NOT NULL,       -- addresses, comma-separated
    subject         TEXT NOT NULL,
    body            TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed', 'digest')),
    digest_id       INTEGER,             -- state 'digest': the one message that lists this event
    attempts        INTEGER NOT NULL,
    last_error      TEXT,
    last_attempt_at TIMESTAMP,
    next_attempt_at TIMESTAMP,
    sent_at         TIMESTAMP,
    acknowledged_by TEXT,
    acknowledged_at TIMESTAMP
);
CREATE TABLE IF NOT EXISTS boundary_states (
    phase      TEXT NOT NULL,
    crossed    BOOLEAN NOT NULL,
    changed_at TIMESTAMP NOT NULL,
    upload_id  INTEGER
);
"""),
    # 17: each stored flag belongs to the query it raised to the site (D56)
    (17, "ALTER TABLE row_flags ADD COLUMN query_id INTEGER"),
]
LATEST_VERSION = max([SCHEMA_VERSION, *(v for v, _ in MIGRATIONS)])
RAW_CODEC = "zstd"
DEFAULT_LOCK_WAIT_S = 60.0      # how long a command waits for a file another process holds (D45)
IDLE_RELEASE_S = 0.25           # a shared store (the dashboard) lets the file go after this long idle

CLINICAL_DATE = {"patients": "enrolled_on", "treatment": "start_date", "ae": "onset_date", "labs": "collected_on"}
VERSION_COLUMNS = ("record_key", "version", "upload_id", "source_row", "row_hash", "valid_from", "valid_to",
                   "closed_by")
STATUS_TABLES = {table: table for table in ("patients", "adverse_events", "treatment_records", "lab_results")}


class StoreError(RuntimeError):
    """A problem with the database file, worded for the person who ran the command."""


class StoreLockedError(StoreError):
    pass


def default_db_path() -> Path:
    return Path(os.environ.get("TOXDB_DB") or Path("data") / "toxdb.duckdb")


@dataclass(frozen=True)
class CommitCounts:
    upload_id: int
    accepted: int
    duplicates: int
    corrections: int
    rejected: int
    flagged: int = 0           # stored rows that carry a query to the site (D50)
    other: int = 0             # treatment rows kept as "not a protocol treatment" (D52)
    queries_raised: int = 0    # queries to the site raised by this upload's flags (D56)
    queries_closed: int = 0    # flag queries closed because this upload corrected their rows (D56)


def _where(*conditions: tuple[str, object]) -> tuple[str, list]:
    """("WHERE a = ? AND b = ?", [a, b]) for the (sql, value) conditions whose value is given."""
    given = [(sql, value) for sql, value in conditions if value is not None]
    return ("WHERE " + " AND ".join(sql for sql, _ in given)) if given else "", [v for _, v in given]


class Store:
    """A DuckDB file opened read-write by this process (or read-only when asked).

    ``shared=True`` (the dashboard): the file is held only while an operation runs and released
    IDLE_RELEASE_S after the last one, so that the command line can read and import beside a
    running dashboard; opening waits up to ``wait`` seconds (TOXDB_LOCK_WAIT_S) while another
    process holds the file, calling ``on_wait`` once with a sentence (D45)."""

    def __init__(self, path: str | os.PathLike, read_only: bool = False, *, shared: bool = False,
                 wait: float | None = None, on_wait=None):
        self.path = Path(path)
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        elif not self.path.exists():
            raise StoreError(f"no database at {self.path}; create one with `python -m toxdb init --db {self.path}`")
        self.read_only, self.shared = read_only, shared
        self._wait = lock_wait_seconds() if wait is None else wait
        self._on_wait = on_wait
        self._write_lock = threading.RLock()
        self._lease = threading.Lock()
        self._active = 0
        self._timer: threading.Timer | None = None
        self._con = self._connect()
        if not read_only:
            self.migrate()
        elif self._pending_migrations():
            self._update_older_file()
        if shared:
            self._release_soon()
            atexit.register(self.close)

    def _connect(self) -> duckdb.DuckDBPyConnection:
        """Open the file, waiting (bounded) while another process holds it."""
        deadline, told = time.monotonic() + self._wait, False
        while True:
            try:
                return duckdb.connect(str(self.path), read_only=self.read_only,
                                      config={"memory_limit": os.environ.get("TOXDB_DUCKDB_MEMORY", "1GB")})
            except duckdb.IOException as exc:
                if "lock" not in str(exc).lower():
                    raise StoreError(f"cannot open {self.path}: {exc}") from None
                if time.monotonic() >= deadline:
                    raise StoreLockedError(_(
                        "the database {path} is in use by another process (an import, or a dashboard in the middle "
                        "of a page) and did not come free within {s:.0f} s. Try again in a moment, or set "
                        "TOXDB_LOCK_WAIT_S to wait longer.").format(path=self.path, s=self._wait)) from None
                if not told and self._on_wait is not None:
                    self._on_wait(_("the database {path} is in use by another process; waiting up to {s:.0f} s "
                                    "for it to come free…").format(path=self.path, s=self._wait))
                    told = True
                time.sleep(0.1)
            except duckdb.Error as exc:
                raise StoreError(f"{self.path} is not a toxdb database DuckDB can open: {exc}") from None

    @contextmanager
    def _using(self) -> Iterator[None]:
        """Hold the file for one operation (shared stores open it on demand)."""
        if not self.shared:
            yield
            return
        with self._lease:
            self._active += 1
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            try:
                if self._con is None:
                    self._con = self._connect()
            except BaseException:
                self._active -= 1
                raise
        try:
            yield
        finally:
            with self._lease:
                self._active -= 1
                if self._active == 0:
                    self._release_soon()

    def _release_soon(self) -> None:
        self._timer = threading.Timer(IDLE_RELEASE_S, self._release_if_idle)
        self._timer.daemon = True
        self._timer.start()

    def _release_if_idle(self) -> None:
        with self._lease:
            if self._active == 0 and self._con is not None:
                self._con.close()
                self._con = None

    # -- connection management -------------------------------------------------------------------
    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor per thread or script run (DuckDB connections are not shared across threads)."""
        if self._con is None:                      # a shared store between operations
            self._con = self._connect()
            self._release_soon()
        return self._con.cursor()

    def close(self) -> None:
        with self._lease:
            if self._timer is not None:
                self._timer.cancel()
            if self._con is not None:
                self._con.close()
                self._con = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One write transaction; a disk that is full or failing becomes a StoreError in words (D42)."""
        with self._using(), self._write_lock:
            cur = self.cursor()
            try:
                cur.execute("BEGIN TRANSACTION")
                try:
                    yield cur
                except BaseException:
                    _rollback(cur)
                    raise
                cur.execute("COMMIT")
            except (duckdb.IOException, OSError) as exc:
                raise StoreError(_(
                    "could not write to {path} ({why}); nothing of this change was stored. If the disk is "
                    "full, free some space and try again.").format(path=self.path, why=_short(exc))) from None
            finally:
                cur.close()

    # -- schema ----------------------------------------------------------------------------------
    def schema_version(self) -> int:
        cur = self.cursor()
        exists = cur.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
        ).fetchone()[0]
        if not exists:
            return 0
        return cur.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0]

    def _pending_migrations(self) -> bool:
        """A toxdb file written by an older toxdb (some migration not recorded yet)."""
        if self.schema_version() == 0:
            return False
        applied = {r[0] for r in self.cursor().execute("SELECT version FROM schema_version").fetchall()}
        return any(version not in applied for version, _ in MIGRATIONS)

    def _update_older_file(self) -> None:
        """A read-only command on a file an older toxdb wrote: bring its schema up to date once (a
        short write), then read it; if it cannot be written, say so instead of failing on a column."""
        self._con.close()
        try:
            Store(self.path, wait=self._wait, on_wait=self._on_wait).close()
        except (StoreError, duckdb.Error, OSError) as exc:
            raise StoreError(
                f"{self.path} was written by an older toxdb and its tables must be updated before it can be "
                f"read, which needs write access ({exc}); run `python -m toxdb init --db {self.path}` once "
                "where the file can be written") from None
        self._con = self._connect()

    def migrate(self) -> int:
        """Bring the file to the latest schema: schema.sql for a new file, then every migration whose
        version the file has not recorded (by set, not by maximum, so that migrations written on
        parallel branches apply whatever order they landed in)."""
        current = self.schema_version()
        if current > LATEST_VERSION:
            raise StoreError(
                f"{self.path} has schema version {current}, newer than this toxdb knows; upgrade toxdb"
            )
        with self.transaction() as cur:
            if current == 0:
                cur.execute(SCHEMA_FILE.read_text(encoding="utf-8"))
                cur.execute("INSERT INTO schema_version (version) VALUES (?)", [SCHEMA_VERSION])
            applied = {row[0] for row in cur.execute("SELECT version FROM schema_version").fetchall()}
            for version, sql in MIGRATIONS:
                if version not in applied:
                    sql(cur) if callable(sql) else cur.execute(sql)
                    cur.execute("INSERT INTO schema_version (version) VALUES (?)", [version])
        return self.schema_version()

    def scoped(self, sites) -> "Store":
        """This store as a person limited to ``sites`` sees it (toxdb.store.scoped, D64); ``None``:
        every site, the store itself."""
        if sites is None:
            return self
        from toxdb.store.scoped import ScopedStore

        return ScopedStore.over(self, sites)

    # -- reads -----------------------------------------------------------------------------------
    def data_columns(self, kind: str) -> list[str]:
        """The data (non-version) columns of a kind's table, read once per opened store (the schema
        changes only when the store is opened and migrated)."""
        cached = self.__dict__.setdefault("_columns", {})
        if kind not in cached:
            cached[kind] = self._read_data_columns(kind)
        return list(cached[kind])

    def _read_data_columns(self, kind: str) -> list[str]:
        table = _table(kind)
        cols = self.cursor().execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
            [table],
        ).fetchall()
        return [c[0] for c in cols if c[0] not in VERSION_COLUMNS]

    def read_kind(
        self,
        kind: str,
        as_of: dt.datetime | int | None = None,
        until: dt.date | None = None,
        with_history: bool = False,
        with_version_columns: bool = False,
        coded: tuple[str, ...] = (),
        subjects: list[str] | None = None,
    ) -> pd.DataFrame:
        """Rows of one kind as stored at ``as_of`` (default: now), optionally only those whose
        clinical date (enrolment, start, onset, collection) is on or before ``until``. Text columns
        named in ``coded`` come as pandas categoricals (for columns with few distinct values that
        derivations group and compare: far cheaper than a million separate strings). ``subjects``:
        only the rows of these patients."""
        if with_history:
            return _frame(self.cursor().sql(f"SELECT * FROM {_table(kind)} ORDER BY record_key, version"), coded)
        sql = self.snapshot_sql(kind, as_of, until, all_columns=with_version_columns)
        if subjects is not None:      # only these patients' rows (a week's changed patients)
            return _frame(self.cursor().sql(f"SELECT * FROM ({sql}) WHERE list_contains($ids, subject_id)",
                                            params={"ids": [str(x) for x in subjects]}), coded)
        return _frame(self.cursor().sql(sql), coded)

    def snapshot_sql(self, kind: str, as_of: dt.datetime | int | None = None, until: dt.date | None = None,
                     all_columns: bool = False) -> str:
        """The SELECT behind read_kind: one kind's rows as stored at ``as_of`` (default: current) whose
        clinical date is on or before ``until``. Derivations that run inside DuckDB start from it.
        ``as_of`` is an upload number (exact: the rows as they stood once that upload was stored, D41)
        or a time (history views). Times and dates are written as typed literals, numbers as ints."""
        table = _table(kind)
        cols = "*" if all_columns else ", ".join(["upload_id", "source_row"] + self.data_columns(kind))
        if as_of is None:
            where = ["valid_to IS NULL"]
        elif isinstance(as_of, int) and not isinstance(as_of, bool):
            where = [f"upload_id <= {int(as_of)} AND (closed_by IS NULL OR closed_by > {int(as_of)})"]
        else:
            at = _timestamp_literal(as_of)
            where = [f"valid_from <= {at} AND (valid_to IS NULL OR valid_to > {at})"]
        if until is not None:
            where.append(f"{CLINICAL_DATE[kind]} <= {_date_literal(until)}")
        return f"SELECT {cols} FROM {table} WHERE " + " AND ".join(where)

    def changed_rows(self, kind: str, a: tuple[dt.datetime | int | None, dt.date],
                     b: tuple[dt.datetime | int | None, dt.date]) -> pd.DataFrame:
        """Rows of ``kind`` that differ between two views (as_of, until) of the store (see
        ``toxdb.store.cuts.read_cut_changes``): side 'a' / 'b', record_key, version, upload_id,
        valid_from, row_hash and the data columns, ordered by record_key then side.

        Only candidate records are joined: a record none of whose versions began or ended between the
        two as_of times and whose clinical date is not between the two ``until`` dates looks the same
        through both views."""
        table, day = _table(kind), CLINICAL_DATE[kind]
        if all(t is None or (isinstance(t, int) and not isinstance(t, bool)) for t in (a[0], b[0])):
            # upload numbers (saved cuts, D41): exact, whatever second the uploads landed in
            lo, hi = sorted(_LAST_UPLOAD if t is None else int(t) for t in (a[0], b[0]))
            moved = f"(upload_id > {lo} AND upload_id <= {hi}) OR (closed_by > {lo} AND closed_by <= {hi})"
        else:
            lo, hi = (_timestamp_literal(t) for t in sorted(t or _FAR_FUTURE for t in (a[0], b[0])))
            moved = f"(valid_from > {lo} AND valid_from <= {hi}) OR (valid_to > {lo} AND valid_to <= {hi})"
        d_lo, d_hi = (_date_literal(d) for d in sorted((a[1], b[1])))
        cols = ", ".join(["record_key", "version", "upload_id", "valid_from", "row_hash", *self.data_columns(kind)])
        snap_a = self.snapshot_sql(kind, a[0], a[1], all_columns=True)
        snap_b = self.snapshot_sql(kind, b[0], b[1], all_columns=True)
        sql = f"""
            WITH cand AS (
                SELECT DISTINCT record_key FROM {table}
                WHERE {moved} OR ({day} > {d_lo} AND {day} <= {d_hi})),
            a AS (SELECT {cols} FROM ({snap_a}) WHERE record_key IN (SELECT record_key FROM cand)),
            b AS (SELECT {cols} FROM ({snap_b}) WHERE record_key IN (SELECT record_key FROM cand)),
            changed AS (SELECT coalesce(a.record_key, b.record_key) AS record_key FROM a FULL JOIN b
                        ON a.record_key = b.record_key WHERE a.row_hash IS DISTINCT FROM b.row_hash)
            SELECT 'a' AS side, * FROM a WHERE record_key IN (SELECT record_key FROM changed)
            UNION ALL
            SELECT 'b' AS side, * FROM b WHERE record_key IN (SELECT record_key FROM changed)
            ORDER BY record_key, side"""
        return _frame(self.cursor().sql(sql))

    def subject_activity(self, kind: str, as_of: dt.datetime | int | None = None, until: dt.date | None = None
                         ) -> pd.DataFrame:
        """Per patient, for one kind as of a cut: rows, the latest clinical date (last_date) and when
        their data of that kind were last stored (last_entered)."""
        sql = self.snapshot_sql(kind, as_of, until, all_columns=True)
        return _frame(self.cursor().sql(
            f"SELECT subject_id, count(*) AS n_rows, max({CLINICAL_DATE[kind]}) AS last_date,"
            f" max(valid_from) AS last_entered FROM ({sql}) GROUP BY subject_id"))

    def ae_entry_times(self, as_of: dt.datetime | int | None = None, until: dt.date | None = None) -> pd.DataFrame:
        """Adverse-event rows as of a cut with the moment each record was first stored (its first
        version): subject_id, record_key, onset_date, serious, entered_at."""
        sql = self.snapshot_sql("ae", as_of, until, all_columns=True)
        return _frame(self.cursor().sql(
            f"SELECT c.subject_id, c.record_key, c.onset_date, c.serious, f.entered_at FROM ({sql}) c JOIN"
            " (SELECT record_key, min(valid_from) AS entered_at FROM adverse_events GROUP BY record_key) f"
            " USING (record_key)"))

    def query(self, sql: str, params: dict | list | None = None) -> pd.DataFrame:
        """The result of a read-only query built elsewhere in toxdb (e.g. derive_sql), as pandas."""
        return _frame(self.cursor().sql(sql, params=params))

    def sites(self) -> list[str]:
        rows = self.cursor().execute(
            "SELECT DISTINCT site FROM patients WHERE valid_to IS NULL AND site IS NOT NULL"
            " UNION SELECT DISTINCT site FROM saved_mappings ORDER BY 1"
        ).fetchall()
        return [r[0] for r in rows]

    def status_counts(self) -> dict[str, int]:
        cur = self.cursor()
        counts = {
            name: cur.execute(f"SELECT count(*) FROM {table} WHERE valid_to IS NULL").fetchone()[0]
            for name, table in STATUS_TABLES.items()
        }
        counts["uploads"] = cur.execute("SELECT count(*) FROM uploads").fetchone()[0]
        counts["rejected_rows"] = cur.execute(
            "SELECT count(*) FROM rejected_rows WHERE status = 'rejected'"
        ).fetchone()[0]
        counts["flagged_rows"] = cur.execute(
            "SELECT count(DISTINCT (upload_id, source_row)) FROM row_flags").fetchone()[0]
        counts["flagged_rows_open"] = cur.execute(       # their query to the site not closed yet (D56)
            "SELECT count(DISTINCT (f.upload_id, f.source_row)) FROM row_flags f JOIN site_queries q"
            " USING (query_id) WHERE q.status <> 'closed'").fetchone()[0]
        return counts

    def data_version(self) -> tuple:
        """Changes whenever stored data change; caches key on it."""
        cur = self.cursor()
        return tuple(
            cur.execute(
                "SELECT (SELECT coalesce(max(upload_id), 0) FROM uploads),"
                " (SELECT count(*) FROM acknowledgements), (SELECT count(*) FROM data_cuts),"
                " (SELECT count(*) FROM audit_log)"
            ).fetchone()
        )

    def uploads(self) -> pd.DataFrame:
        return self.cursor().execute(
            "SELECT upload_id, file_name, kind, site, sha256, size_bytes, uploaded_by, uploaded_at, reader,"
            " n_rows, n_accepted, n_duplicates, n_corrections, n_rejected, n_flagged, ctcae_version"
            " FROM uploads ORDER BY upload_id"
        ).df()

    def upload_by_hash(self, sha256: str, kind: str) -> dict | None:
        row = self.cursor().execute(
            "SELECT upload_id, file_name, uploaded_at, uploaded_by FROM uploads WHERE sha256 = ? AND kind = ?"
            " ORDER BY upload_id LIMIT 1",
            [sha256, kind],
        ).fetchone()
        if row is None:
            return None
        return dict(zip(("upload_id", "file_name", "uploaded_at", "uploaded_by"), row))

    def upload_raw(self, upload_id: int) -> bytes | None:
        """The file exactly as it was uploaded."""
        row = self.cursor().execute(
            "SELECT raw, raw_codec, size_bytes FROM uploads WHERE upload_id = ?", [upload_id]).fetchone()
        if row is None or row[0] is None:
            return None
        raw, codec, size = row
        return raw if codec is None else _unpack_raw(raw, codec, size)

    def rejected_rows(self, upload_id: int | None = None, status: str | None = "rejected") -> pd.DataFrame:
        clause, params = _where(("r.upload_id = ?", upload_id), ("r.status = ?", status))
        return self.cursor().execute(
            "SELECT r.upload_id, u.file_name, r.source_row, r.status, r.reasons, r.raw FROM rejected_rows r"
            f" JOIN uploads u USING (upload_id) {clause} ORDER BY r.upload_id, r.source_row",
            params,
        ).df()

    def flags(self, upload_id: int | None = None, site: str | None = None) -> pd.DataFrame:
        """Stored rows that raise a query to the site (D50), with the file and site they came from."""
        clause, params = _where(("f.upload_id = ?", upload_id), ("u.site = ?", site))
        return self.cursor().execute(
            "SELECT f.upload_id, u.file_name, u.site, f.kind, f.source_row, f.subject_id, f.code,"
            " f.column_name, f.value, f.message, f.query_id FROM row_flags f JOIN uploads u USING (upload_id)"
            f" {clause} ORDER BY f.upload_id, f.source_row, f.code",
            params,
        ).df()

    def flag_counts(self, kind: str | None = None) -> dict[str, int]:
        """Stored rows per kind of query (code), e.g. {'grade_not_allowed': 23} (D50)."""
        clause, params = ("WHERE kind = ?", [kind]) if kind else ("", [])
        rows = self.cursor().execute(
            f"SELECT code, count(DISTINCT (upload_id, source_row)) FROM row_flags {clause} GROUP BY code ORDER BY code",
            params).fetchall()
        return {code: int(n) for code, n in rows}

    def known_subjects(self) -> set[str]:
        rows = self.cursor().execute("SELECT subject_id FROM patients WHERE valid_to IS NULL").fetchall()
        return {r[0] for r in rows}

    def classify_rows(self, kind: str, rows: pd.DataFrame) -> pd.DataFrame:
        """Which incoming rows (record_key, source_row + data columns) are already stored.

        Returns one row per incoming row whose record has a current version: source_row, record_key,
        status ('duplicate' when the values are the same, 'correction' when they differ),
        current_version and stored_upload (the upload that stored it). Every other row is new.
        """
        cur = self.cursor()
        try:
            return _classify(cur, _table(kind), rows, self.data_columns(kind))
        finally:
            cur.close()

    def changed_values(self, kind: str, rows: pd.DataFrame) -> pd.DataFrame:
        """For incoming rows whose record is stored (record_key, source_row + data columns): one row per
        value that differs from the current version (source_row, record_key, column, stored, incoming,
        both as text), in file order then column order."""
        out_cols = ["source_row", "record_key", "column", "stored", "incoming"]
        if not len(rows):
            return pd.DataFrame({c: pd.Series(dtype="object") for c in out_cols})
        table, cols = _table(kind), self.data_columns(kind)
        cur = self.cursor()
        try:
            _register_rows(cur, rows, cols)
            typed = _typed_rows(cur, table, cols)
            parts = [
                f"SELECT s.source_row, s.record_key, {i} AS pos, '{c}' AS \"column\", CAST(c.{c} AS TEXT) AS stored,"
                f" CAST(s.{c} AS TEXT) AS incoming FROM ({typed}) s JOIN {table} c"
                f" ON c.record_key = s.record_key AND c.valid_to IS NULL WHERE c.{c} IS DISTINCT FROM s.{c}"
                for i, c in enumerate(cols)
            ]
            frame = cur.sql(" UNION ALL ".join(parts) + " ORDER BY source_row, pos").df()
            cur.unregister("incoming_rows")
        finally:
            cur.close()
        return frame[out_cols]

    # -- writes ----------------------------------------------------------------------------------
    def commit_upload(
        self,
        *,
        kind: str,
        file_name: str,
        raw: bytes,
        sha256: str,
        uploaded_by: str,
        site: str | None,
        reader: str,
        day_first: bool | None,
        mapping: dict,
        rows: pd.DataFrame,
        problems: pd.DataFrame,
        n_rows: int,
        at: dt.datetime | None = None,
        classified: pd.DataFrame | None = None,
        classified_at_version: tuple | None = None,
        packed: tuple[str | None, bytes] | None = None,
        flags: pd.DataFrame | None = None,
        others: pd.DataFrame | None = None,
        ctcae_version: str | None = None,
        _fail_after_insert: bool = False,
    ) -> CommitCounts:
        """Store one upload in one transaction: the raw file, new rows, corrections, rejected rows.
        ``ctcae_version``: the CTCAE version of an adverse-event file's terms (D35), kept with the upload.

        ``rows`` has record_key, source_row and the data columns of the kind; ``problems`` has
        source_row, status ('rejected' or 'duplicate'), reasons and raw (JSON text).
        """
        table = _table(kind)
        cols = self.data_columns(kind)
        at = at or dt.datetime.now().replace(microsecond=0)
        # the raw file is compressed (unless the caller did: pack_raw) in another thread while DuckDB
        # writes the rows
        packing = _PACKER.submit(pack_raw, raw) if packed is None else None
        with self.transaction() as cur:
            upload_id = cur.execute("SELECT nextval('upload_seq')").fetchall()[0][0]
            if classified is None or classified_at_version != self.data_version():
                classified = _classify(cur, table, rows, cols)   # the store changed since the preview
            cur.register("classified", pa.Table.from_pandas(
                classified[["source_row", "record_key", "status", "current_version", "stored_upload"]],
                preserve_index=False))
            _register_rows(cur, rows, cols)
            counts = dict(cur.execute(
                "SELECT status, count(*) FROM classified GROUP BY status"
            ).fetchall())
            counts["new"] = len(rows) - len(classified)
            cur.execute(
                f"UPDATE {table} SET valid_to = ?, closed_by = ? WHERE valid_to IS NULL AND record_key IN "
                "(SELECT record_key FROM classified WHERE status = 'correction')",
                [at, upload_id],
            )
            col_list = ", ".join(cols)
            cur.execute(
                f"INSERT INTO {table} (record_key, version, upload_id, source_row, row_hash, valid_from, valid_to,"
                f" {col_list}) SELECT s.record_key, coalesce(k.current_version, 0) + 1, ?, s.source_row,"
                f" {_ROW_HASH.format(cols=col_list)}, ?, NULL, {col_list} FROM ({_typed_rows(cur, table, cols)}) s"
                " LEFT JOIN classified k ON k.source_row = s.source_row"
                " WHERE k.status IS NULL OR k.status = 'correction'",
                [upload_id, at],
            )
            if _fail_after_insert:  # used by tests to prove a failure mid-import changes nothing
                raise RuntimeError("simulated failure in the middle of an import")
            cur.execute(
                "INSERT INTO rejected_rows SELECT ?, source_row, 'duplicate',"
                " 'already stored with the same values (upload ' || stored_upload || ')', '{}'"
                " FROM classified WHERE status = 'duplicate'",
                [upload_id],
            )
            if len(problems):
                cur.register("incoming_problems", problems[["source_row", "status", "reasons", "raw"]])
                cur.execute(
                    "INSERT INTO rejected_rows SELECT ?, source_row, status, reasons, raw FROM incoming_problems",
                    [upload_id],
                )
                cur.unregister("incoming_problems")
            n_flagged = _insert_flags(cur, upload_id, kind, flags)
            n_other = 0
            if others is not None and len(others):
                cur.register("incoming_others", pa.Table.from_pandas(others, preserve_index=False))
                cur.execute("INSERT INTO other_treatments SELECT ?, source_row, subject_id, name, start_date, end_date,"
                            " dose, dose_unit FROM incoming_others", [upload_id])
                cur.unregister("incoming_others")
                n_other = len(others)
            n_rej = int((problems["status"] == "rejected").sum()) if len(problems) else 0
            n_dup_file = int((problems["status"] == "duplicate").sum()) if len(problems) else 0
            result = CommitCounts(
                upload_id=upload_id,
                accepted=int(counts.get("new", 0)),
                duplicates=int(counts.get("duplicate", 0)) + n_dup_file,
                corrections=int(counts.get("correction", 0)),
                rejected=n_rej,
                flagged=n_flagged,
                other=n_other,
            )
            codec, kept = packed if packing is None else packing.result()
            cur.execute(
                "INSERT INTO uploads (upload_id, file_name, kind, site, sha256, size_bytes, raw, raw_codec,"
                " uploaded_by, uploaded_at, reader, day_first, mapping, n_rows, n_accepted, n_duplicates,"
                " n_corrections, n_rejected, n_flagged, ctcae_version)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [upload_id, file_name, kind, site, sha256, len(raw), kept, codec, uploaded_by, at, reader,
                 day_first, json.dumps(mapping), n_rows, result.accepted, result.duplicates, result.corrections,
                 result.rejected, result.flagged, ctcae_version],
            )
            _audit(cur, uploaded_by, "upload", {
                "upload_id": upload_id, "file": file_name, "kind": kind, "site": site, "sha256": sha256,
                "accepted": result.accepted, "duplicates": result.duplicates,
                "corrections": result.corrections, "rejected": result.rejected,
            }, at)
            cur.unregister("classified")
            cur.unregister("incoming_rows")
        return result

    def record_audit(self, actor: str, action: str, detail: dict) -> None:
        with self.transaction() as cur:
            _audit(cur, actor, action, detail, dt.datetime.now().replace(microsecond=0))

    def last_audit_time(self, actor: str, action: str) -> dt.datetime | None:
        """When ``actor`` last did ``action`` (e.g. marked This week reviewed), or None."""
        row = self.cursor().execute("SELECT max(logged_at) FROM audit_log WHERE actor = ? AND action = ?",
                                    [actor, action]).fetchone()
        return None if row is None or row[0] is None else pd.Timestamp(row[0]).to_pydatetime()

    def audit_log(self, limit: int = 200, offset: int = 0, *, actor: str | None = None, action: str | None = None,
                  since: dt.date | None = None, until: dt.date | None = None) -> pd.DataFrame:
        """Audit entries, newest first: a page of ``limit`` from ``offset``, filtered by person, action
        and day (``since``/``until`` inclusive). ``detail`` is the JSON text; see audit_count."""
        where, params = self._audit_filter(actor, action, since, until)
        return self.cursor().execute(
            "SELECT seq, logged_at, actor, action, CAST(detail AS VARCHAR) AS detail FROM audit_log"
            f" {where} ORDER BY seq DESC NULLS LAST, logged_at DESC LIMIT ? OFFSET ?", [*params, limit, offset]
        ).df()

    def audit_count(self, *, actor: str | None = None, action: str | None = None, since: dt.date | None = None,
                    until: dt.date | None = None) -> int:
        where, params = self._audit_filter(actor, action, since, until)
        return self.cursor().execute(f"SELECT count(*) FROM audit_log {where}", params).fetchone()[0]

    def audit_people_and_actions(self) -> tuple[list[str], list[str]]:
        """The actors and the actions that occur in the log (for filters)."""
        cur = self.cursor()
        where, params = self._audit_filter(None, None, None, None)
        people = [r[0] for r in cur.execute(f"SELECT DISTINCT actor FROM audit_log {where} ORDER BY 1", params).fetchall()]
        actions = [r[0] for r in cur.execute(f"SELECT DISTINCT action FROM audit_log {where} ORDER BY 1",
                                             params).fetchall()]
        return people, actions

    def _audit_filter(self, actor, action, since, until) -> tuple[str, list]:
        return _where(("actor = ?", actor), ("action = ?", action),
                      ("CAST(logged_at AS DATE) >= ?", since), ("CAST(logged_at AS DATE) <= ?", until))

    def verify_audit(self, anchors: list[Anchor] | None = None) -> ChainCheck:
        """Recompute the audit log's hash chain (D65), and hold it against heads recorded elsewhere
        (D68): without them, deleting the newest entries leaves a chain that is intact."""
        cur = self.cursor()
        return check_anchors(cur, verify_chain(cur), list(anchors or []))

    def audit_head(self) -> Anchor:
        """The newest audit entry's number and hash: the anchor to keep outside the store (D68)."""
        return head(self.cursor())

    # -- people (D61) ----------------------------------------------------------------------------
    def users(self) -> pd.DataFrame:
        return self.cursor().execute(
            "SELECT identity, name, role, sites, active, changed_at, changed_by FROM users ORDER BY identity").df()

    def user(self, identity: str) -> dict | None:
        row = self.cursor().execute(
            "SELECT identity, name, role, sites, active FROM users WHERE identity = ?", [identity.strip().lower()]
        ).fetchone()
        return None if row is None else dict(zip(("identity", "name", "role", "sites", "active"), row))

    def put_user(self, identity: str, *, name: str | None, role: str, sites: list[str], active: bool,
                 actor: str, action: str) -> None:
        """Add or change one person, audited as ``action`` with the row before and after."""
        identity = identity.strip().lower()
        now = dt.datetime.now().replace(microsecond=0)
        with self.transaction() as cur:
            before = cur.execute("SELECT name, role, sites, active FROM users WHERE identity = ?", [identity]).fetchone()
            if before is None:
                cur.execute("INSERT INTO users VALUES (?, ?, ?, ?, ?, ?, ?)",
                            [identity, name, role, list(sites), active, now, actor])
            else:
                cur.execute("UPDATE users SET name = ?, role = ?, sites = ?, active = ?, changed_at = ?, changed_by = ?"
                            " WHERE identity = ?", [name, role, list(sites), active, now, actor, identity])
            after = {"name": name, "role": role, "sites": list(sites), "active": active}
            detail = {"identity": identity, **after}
            if before is not None:
                detail["before"] = dict(zip(("name", "role", "sites", "active"), before))
            _audit(cur, actor, action, detail, now)

    # -- e-mail alerts (toxdb.alerts) -------------------------------------------------------------
    def alert_candidate_rows(self, upload_id: int) -> pd.DataFrame:
        """Adverse-event rows an upload stored that an alert rule could concern (grade 4 or 5,
        serious, or a new version of an event stored before), with the patient's current site."""
        return _frame(self.cursor().sql(
            "SELECT a.record_key, a.version, a.upload_id, a.subject_id, a.ae_ref, a.term, a.verbatim, a.grade,"
            " a.onset_date, a.end_date, a.serious, a.attribution, a.outcome, p.site"
            " FROM adverse_events a LEFT JOIN (SELECT subject_id, any_value(site) AS site FROM patients"
            " WHERE valid_to IS NULL GROUP BY subject_id) p USING (subject_id)"
            " WHERE a.upload_id = $u AND (a.grade >= 4 OR a.serious OR a.version > 1)"
            " ORDER BY a.subject_id, a.onset_date, a.record_key", params={"u": upload_id}))

    def event_alert_ledger(self, upload_id: int) -> pd.DataFrame:
        """Every event alert already raised for the events an upload stored: record_key, version,
        role, raised, cleared (JSON lists), facts (JSON), in the order they were raised."""
        return _frame(self.cursor().sql(
            "SELECT record_key, version, role, raised, cleared, facts, alert_id FROM alerts"
            " WHERE kind = 'event' AND record_key IN (SELECT record_key FROM adverse_events WHERE upload_id = $u)"
            " ORDER BY alert_id", params={"u": upload_id}))

    def boundary_states(self) -> dict[str, bool]:
        """{phase: crossed} as last evaluated (phases never evaluated are absent)."""
        rows = self.cursor().execute(
            "SELECT phase, crossed FROM boundary_states QUALIFY row_number() OVER"
            " (PARTITION BY phase ORDER BY changed_at DESC, rowid DESC) = 1").fetchall()
        return {p: bool(c) for p, c in rows}

    def add_alerts(self, alerts: pd.DataFrame, boundary: dict[str, bool], upload_id: int | None, actor: str,
                   at: dt.datetime | None = None) -> list[int]:
        """Put alerts in the outbox (pending) and record boundary states that changed, in one
        transaction, audited. ``alerts``: one row per alert in outbox order, with the columns of
        ``toxdb.alerts.detect.alerts_frame`` (raised, cleared and facts as JSON text; a digest names
        itself in ``digest_key``, the events it lists point at it with ``in_digest``). Returns the new
        alert ids."""
        at = at or dt.datetime.now().replace(microsecond=0)
        frame = alerts.reset_index(drop=True)
        ids: list[int] = []
        with self.transaction() as cur:
            if len(frame):
                ids = [r[0] for r in cur.execute(f"SELECT nextval('alert_seq') FROM range({len(frame)})").fetchall()]
                # a digest row names itself ("digest_key"); the events it lists point at it ("in_digest")
                named = frame["digest_key"].notna()
                digests = pd.Series(pd.array(ids, dtype="Int64")[named.to_numpy()], index=frame.loc[named, "digest_key"])
                frame["digest_id"] = frame["in_digest"].map(digests).astype("Int64")
                columns = ["kind", "record_key", "version", "phase", "subject_id", "site", "raised", "cleared", "facts",
                           "role", "recipients", "subject", "body", "state", "digest_id"]
                cur.register("new_alerts", pa.Table.from_pandas(frame[columns].assign(alert_id=ids),
                                                                preserve_index=False))
                cur.execute(
                    "INSERT INTO alerts (alert_id, created_at, upload_id, kind, record_key, version, phase, subject_id,"
                    " site, raised, cleared, facts, role, recipients, subject, body, state, attempts, digest_id)"
                    " SELECT alert_id, ?, ?, kind, CAST(record_key AS TEXT), CAST(version AS INTEGER),"
                    " CAST(phase AS TEXT), CAST(subject_id AS TEXT), CAST(site AS TEXT), raised, cleared, facts, role,"
                    " recipients, subject, body, state, 0, CAST(digest_id AS INTEGER) FROM new_alerts ORDER BY alert_id",
                    [at, upload_id])
                cur.unregister("new_alerts")
            for phase, crossed in boundary.items():
                cur.execute("INSERT INTO boundary_states VALUES (?, ?, ?, ?)", [phase, crossed, at, upload_id])
            if ids or boundary:
                _audit(cur, actor, "alerts_raised", {"upload_id": upload_id, "alert_ids": ids,
                                                     "boundary": boundary}, at)
        return ids

    def alerts(self, alert_ids: list[int] | None = None) -> pd.DataFrame:
        """The outbox, newest first."""
        where = "" if alert_ids is None else " WHERE alert_id IN (SELECT unnest($ids))"
        return _frame(self.cursor().sql(
            "SELECT alert_id, created_at, upload_id, kind, record_key, version, phase, subject_id, site, raised,"
            " cleared, facts, role, recipients, subject, body, state, attempts, last_error, last_attempt_at,"
            f" next_attempt_at, sent_at, acknowledged_by, acknowledged_at, digest_id FROM alerts{where}"
            " ORDER BY alert_id DESC", params=None if alert_ids is None else {"ids": alert_ids}))

    def due_alerts(self, now: dt.datetime, ignore_back_off: bool = False) -> pd.DataFrame:
        """Alerts not yet sent whose next attempt is due (all of them with ``ignore_back_off``)."""
        due = "" if ignore_back_off else " AND (next_attempt_at IS NULL OR next_attempt_at <= $now)"
        return _frame(self.cursor().sql(
            "SELECT alert_id, role, recipients, subject, body, attempts FROM alerts"
            f" WHERE state IN ('pending', 'failed'){due} ORDER BY alert_id",
            params=None if ignore_back_off else {"now": now}))

    def record_alert_attempt(self, alert_id: int, actor: str, *, error: str | None,
                             next_attempt_at: dt.datetime | None = None, at: dt.datetime | None = None) -> None:
        """One delivery attempt: sent (``error`` None) or failed with the reason and the next try."""
        at = at or dt.datetime.now().replace(microsecond=0)
        with self.transaction() as cur:
            if error is None:
                cur.execute("UPDATE alerts SET state = 'sent', attempts = attempts + 1, sent_at = ?,"
                            " last_attempt_at = ?, next_attempt_at = NULL, last_error = NULL WHERE alert_id = ?",
                            [at, at, alert_id])
            else:
                cur.execute("UPDATE alerts SET state = 'failed', attempts = attempts + 1, last_error = ?,"
                            " last_attempt_at = ?, next_attempt_at = ? WHERE alert_id = ?",
                            [error, at, next_attempt_at, alert_id])
            _audit(cur, actor, "alert_sent" if error is None else "alert_failed",
                   {"alert_id": alert_id, "error": error, "next_attempt_at": next_attempt_at}, at)

    def acknowledge_alert(self, alert_id: int, user: str) -> bool:
        """Record who acknowledged an alert (once; False when it was already acknowledged or is unknown)."""
        at = dt.datetime.now().replace(microsecond=0)
        with self.transaction() as cur:
            row = cur.execute("SELECT acknowledged_by FROM alerts WHERE alert_id = ?", [alert_id]).fetchone()
            if row is None or row[0] is not None:
                return False
            cur.execute("UPDATE alerts SET acknowledged_by = ?, acknowledged_at = ? WHERE alert_id = ?",
                        [user, at, alert_id])
            _audit(cur, user, "alert_acknowledged", {"alert_id": alert_id}, at)
        return True


    # -- saved column mappings -------------------------------------------------------------------
    def save_mapping(self, site: str, kind: str, signature: str, mapping: dict, user: str) -> int:
        """Save the mapping in use for these headers at this site; the ones before it stay as
        versions (mapping_versions, D66). Returns the new version number."""
        now = dt.datetime.now().replace(microsecond=0)
        with self.transaction() as cur:
            version = cur.execute(
                "SELECT coalesce(max(version), 0) + 1 FROM mapping_versions WHERE site = ? AND kind = ? AND signature = ?",
                [site, kind, signature]).fetchone()[0]
            cur.execute("INSERT INTO mapping_versions VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [site, kind, signature, version, json.dumps(mapping), user, now])
            cur.execute("INSERT OR REPLACE INTO saved_mappings VALUES (?, ?, ?, ?, ?, ?)",
                        [site, kind, signature, json.dumps(mapping), user, now])
            _audit(cur, user, "save_mapping", {"site": site, "kind": kind, "mapping": mapping, "version": version}, now)
        return version

    def mapping_versions(self, site: str | None = None) -> pd.DataFrame:
        sql = "SELECT site, kind, signature, version, CAST(mapping AS VARCHAR) AS mapping, saved_by, saved_at" \
              " FROM mapping_versions"
        params = []
        if site is not None:
            sql += " WHERE site = ?"
            params.append(site)
        return self.cursor().execute(sql + " ORDER BY site, kind, signature, version", params).df()

    def saved_mapping(self, site: str, kind: str | None, signature: str) -> tuple[str, dict] | None:
        """The mapping saved for these headers at this site (any kind when kind is None)."""
        sql = "SELECT kind, mapping FROM saved_mappings WHERE site = ? AND signature = ?"
        params: list = [site, signature]
        if kind is not None:
            sql += " AND kind = ?"
            params.append(kind)
        row = self.cursor().execute(sql + " ORDER BY saved_at DESC LIMIT 1", params).fetchone()
        return None if row is None else (row[0], json.loads(row[1]))

    # -- saved value maps (D52) -------------------------------------------------------------------
    def save_value_map(self, site: str, kind: str, value_map: dict[str, dict[str, str]], user: str) -> None:
        now = dt.datetime.now().replace(microsecond=0)
        with self.transaction() as cur:
            for column, pairs in value_map.items():
                for written, target in pairs.items():
                    cur.execute("INSERT OR REPLACE INTO saved_value_maps VALUES (?, ?, ?, ?, ?, ?, ?)",
                                [site, kind, column, written, target, user, now])
            _audit(cur, user, "save_value_map", {"site": site, "kind": kind, "map": value_map}, now)

    def saved_value_map(self, site: str, kind: str) -> dict[str, dict[str, str]]:
        out: dict[str, dict[str, str]] = {}
        for column, written, target in self.cursor().execute(
                "SELECT column_name, written, target FROM saved_value_maps WHERE site = ? AND kind = ?"
                " ORDER BY saved_at", [site, kind]).fetchall():
            out.setdefault(column, {})[written] = target
        return out

    def saved_value_maps(self, site: str | None = None) -> pd.DataFrame:
        """The values saved per site (D52): site, kind, column, value as written, what it means, who, when."""
        clause, params = ("WHERE site = ?", [site]) if site is not None else ("", [])
        return self.cursor().execute(
            "SELECT site, kind, column_name, written, target, saved_by, saved_at FROM saved_value_maps"
            f" {clause} ORDER BY saved_at DESC, site, kind, column_name, written", params).df()

    def other_treatments(self, site: str | None = None) -> pd.DataFrame:
        """Treatment rows kept as "not a protocol treatment" (D52), with the file they came from."""
        clause, params = ("WHERE u.site = ?", [site]) if site is not None else ("", [])
        return self.cursor().execute(
            "SELECT o.upload_id, u.file_name, u.site, o.source_row, o.subject_id, o.name, o.start_date,"
            f" o.end_date, o.dose, o.dose_unit FROM other_treatments o JOIN uploads u USING (upload_id) {clause}"
            " ORDER BY o.upload_id, o.source_row", params).df()

    def other_treatments_of(self, subject_id: str, as_of_upload: int | None = None,
                            until: dt.date | None = None) -> pd.DataFrame:
        """One patient's treatments kept as "not a protocol treatment" (D52, D57): each distinct row once
        (a file loaded again keeps its rows again), from the first upload that held it, up to
        ``as_of_upload`` (a saved cut) and started by ``until`` (the cut date), by start date."""
        where, params = ["o.subject_id = ?"], [subject_id]
        if as_of_upload is not None:
            where.append("o.upload_id <= ?")
            params.append(as_of_upload)
        if until is not None:
            where.append("(o.start_date IS NULL OR o.start_date <= ?)")
            params.append(until)
        return self.cursor().execute(
            "SELECT name, start_date, end_date, dose, dose_unit, min(o.upload_id) AS upload_id,"
            " arg_min(u.file_name, o.upload_id) AS file_name FROM other_treatments o JOIN uploads u USING (upload_id)"
            f" WHERE {' AND '.join(where)} GROUP BY ALL ORDER BY start_date NULLS LAST, name", params).df()

    # -- data cuts -------------------------------------------------------------------------------
    def save_data_cut(self, name: str, cut_date: dt.date, user: str) -> None:
        """Freeze the data as stored now: the cut holds the last upload number (D41)."""
        now = dt.datetime.now().replace(microsecond=0)
        with self.transaction() as cur:
            last = cur.execute("SELECT coalesce(max(upload_id), 0) FROM uploads").fetchone()[0]
            cur.execute("INSERT INTO data_cuts (name, cut_date, frozen_at, made_by, frozen_upload)"
                        " VALUES (?, ?, ?, ?, ?)", [name, cut_date, now, user, last])
            _audit(cur, user, "data_cut", {"name": name, "cut_date": str(cut_date), "last_upload": last}, now)

    def data_cuts(self) -> pd.DataFrame:
        return self.cursor().execute(
            "SELECT name, cut_date, frozen_at, frozen_upload, made_by FROM data_cuts ORDER BY cut_date DESC, name"
        ).df()

    # -- acknowledged dose advice ----------------------------------------------------------------
    def acknowledge_advice(self, subject_id: str, agent: str, rule: str, advice_hash: str, comment: str | None,
                           user: str) -> None:
        """Record that ``user`` has handled the advice (as identified by ``advice_hash``) for a patient and agent."""
        now = dt.datetime.now().replace(microsecond=0)
        with self.transaction() as cur:
            cur.execute("INSERT INTO acknowledgements (subject_id, agent, rule, advice_hash, comment, made_by, made_at)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [subject_id, agent, rule, advice_hash, comment, user, now])
            _audit(cur, user, "acknowledge_advice", {"subject_id": subject_id, "agent": agent, "rule": rule,
                                                     "advice_hash": advice_hash, "comment": comment}, now)

    def acknowledgements(self) -> pd.DataFrame:
        return self.cursor().execute(
            "SELECT subject_id, agent, rule, advice_hash, comment, made_by, made_at FROM acknowledgements"
            " ORDER BY made_at, subject_id, agent"
        ).df()


def _leased(method):
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self._using():
            return method(self, *args, **kwargs)
    return wrapper


# every public operation of a shared store holds the file while it runs (transaction() does so itself)
for _name, _method in list(vars(Store).items()):
    if callable(_method) and not _name.startswith("_") and _name not in ("cursor", "close", "transaction"):
        setattr(Store, _name, _leased(_method))


def lock_wait_seconds() -> float:
    """How long opening the file waits for another process (TOXDB_LOCK_WAIT_S, default 60)."""
    text = os.environ.get("TOXDB_LOCK_WAIT_S", "").strip()
    try:
        value = float(text) if text else DEFAULT_LOCK_WAIT_S
    except ValueError:
        raise StoreError(_("TOXDB_LOCK_WAIT_S is set to {value!r}, which is not a number of seconds; set it to "
                           "a number such as 60, or unset it.").format(value=text)) from None
    return max(0.0, value)


_TEXT = pd.StringDtype("pyarrow", na_value=float("nan"))
_FAR_FUTURE = dt.datetime(9999, 12, 31)     # "as stored now" when two views are compared
_LAST_UPLOAD = 2 ** 62                       # the same, counted in upload numbers
_PACKER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="toxdb-pack")


def pack_raw(raw: bytes) -> tuple[str | None, bytes]:
    """(codec, bytes) to store for an uploaded file: zstd at its fastest level (a CSV shrinks about
    ninefold), or the bytes as they are when this pyarrow has no zstd."""
    if not pa.Codec.is_available(RAW_CODEC):
        return None, raw
    return RAW_CODEC, pa.Codec(RAW_CODEC, compression_level=1).compress(raw, asbytes=True)


def _unpack_raw(packed: bytes, codec: str, size: int) -> bytes:
    return pa.Codec(codec).decompress(packed, decompressed_size=size, asbytes=True)


def _frame(result, coded: tuple[str, ...] = ()) -> pd.DataFrame:
    """A query result as pandas through Arrow: several times faster than .df() for a million rows,
    with the same column types (text as str, dates as datetime64[us]; ``coded`` text columns as
    categoricals)."""
    table = result.to_arrow_table()
    for name in coded:
        if name in table.column_names:
            i = table.column_names.index(name)
            table = table.set_column(i, name, pc.dictionary_encode(table.column(i)))
    frame = table.to_pandas(date_as_object=False, types_mapper=lambda t: _TEXT if t == pa.string() else None)
    for name, field in zip(table.column_names, table.schema):
        if pa.types.is_date(field.type) or pa.types.is_timestamp(field.type):
            frame[name] = frame[name].astype("datetime64[us]")
    return frame


def _timestamp_literal(value: dt.datetime) -> str:
    if not isinstance(value, dt.datetime):
        raise TypeError(f"expected a datetime, got {value!r}")
    return f"TIMESTAMP '{value.replace(tzinfo=None).isoformat(sep=' ')}'"


def _date_literal(value: dt.date) -> str:
    if isinstance(value, dt.datetime):
        value = value.date()
    if not isinstance(value, dt.date):
        value = pd.Timestamp(value).date()
    return f"DATE '{value.isoformat()}'"


def _register_rows(cur: duckdb.DuckDBPyConnection, rows: pd.DataFrame, cols: list[str]) -> None:
    missing = [c for c in cols if c not in rows.columns]
    frame = rows.assign(**{c: None for c in missing}) if missing else rows
    cur.register("incoming_rows", pa.Table.from_pandas(frame[["record_key", "source_row", *cols]], preserve_index=False))


# a row's values as one number: equal hashes mean "the same values again", a duplicate
_ROW_HASH = "hash({cols})"


def _typed_rows(cur, table: str, cols: list[str]) -> str:
    """The registered incoming rows with every column cast to the type the table stores."""
    typed = ", ".join(f"CAST(i.{c} AS {_type_of(cur, table, c)}) AS {c}" for c in cols)
    return (f"SELECT CAST(i.record_key AS TEXT) AS record_key, CAST(i.source_row AS INTEGER) AS source_row, {typed}"
            " FROM incoming_rows i")


def _classify(cur: duckdb.DuckDBPyConnection, table: str, rows: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    """Hash each incoming row's values (cast to the stored types) and compare with the current version;
    only rows whose record is already stored come back."""
    _register_rows(cur, rows, cols)
    sql = (
        "SELECT s.source_row, s.record_key,"
        " CASE WHEN c.row_hash = s.row_hash THEN 'duplicate' ELSE 'correction' END AS status,"
        " c.version AS current_version, c.upload_id AS stored_upload"
        f" FROM (SELECT record_key, source_row, {_ROW_HASH.format(cols=', '.join(cols))} AS row_hash"
        f" FROM ({_typed_rows(cur, table, cols)})) s"
        f" JOIN {table} c ON c.record_key = s.record_key AND c.valid_to IS NULL ORDER BY s.source_row"
    )
    out = cur.sql(sql).to_arrow_table()
    cur.unregister("incoming_rows")
    return out.to_pandas(types_mapper=lambda t: pd.StringDtype("pyarrow") if t == pa.string() else None)


_TYPES: dict[tuple[str, str], str] = {}


def _type_of(cur, table: str, column: str) -> str:
    key = (table, column)
    if key not in _TYPES:
        for name, dtype in cur.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ?", [table]
        ).fetchall():
            _TYPES[(table, name)] = dtype
    return _TYPES[key]


def _rollback(cur) -> None:
    try:
        cur.execute("ROLLBACK")
    except duckdb.Error:
        pass            # the transaction is already gone (DuckDB aborted it)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


def _add_column(cur, table: str, column_ddl: str) -> None:
    """Add a column to a versioned table and hash every stored row again over the new column list, so
    that a file uploaded before the migration still reads as a duplicate, not as a correction."""
    cur.execute(f"ALTER TABLE {table} ADD COLUMN {column_ddl}")
    cols = [c[0] for c in cur.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
        [table]).fetchall() if c[0] not in VERSION_COLUMNS]
    cur.execute(f"UPDATE {table} SET row_hash = {_ROW_HASH.format(cols=', '.join(cols))}")


def _insert_flags(cur, upload_id: int, kind: str, flags: pd.DataFrame | None) -> int:
    """Keep the flags of the rows this upload stores (not of rows already stored unchanged);
    returns how many rows carry one."""
    if flags is None or not len(flags):
        return 0
    cur.register("incoming_flags", pa.Table.from_pandas(flags.astype({"source_row": "int64"}), preserve_index=False))
    cur.execute(
        "INSERT INTO row_flags SELECT ?, ?, f.source_row, f.record_key, f.subject_id, f.code, f.column,"
        " f.value, f.message, NULL FROM incoming_flags f LEFT JOIN classified k ON k.source_row = f.source_row"
        " WHERE k.status IS NULL OR k.status = 'correction'",
        [upload_id, kind],
    )
    n = cur.execute(
        "SELECT count(DISTINCT f.source_row) FROM incoming_flags f LEFT JOIN classified k"
        " ON k.source_row = f.source_row WHERE k.status IS NULL OR k.status = 'correction'").fetchall()[0][0]
    cur.unregister("incoming_flags")
    return int(n)


def write_audit(cur, actor: str, action: str, detail: dict, at: dt.datetime) -> None:
    """One audit-log entry, chained to the one before (toxdb.store.audit), inside the caller's
    transaction (toxdb/store modules writing with ``cur``)."""
    append(cur, actor, action, detail, at)


_audit = write_audit


def _table(kind: str) -> str:
    try:
        return KIND_TABLES[kind]
    except KeyError:
        raise ValueError(f"unknown kind {kind!r}; one of {', '.join(KIND_TABLES)}") from None


def open_store(path: str | os.PathLike | None = None, read_only: bool = False, on_wait=None) -> Store:
    return Store(path or default_db_path(), read_only=read_only, on_wait=on_wait)
