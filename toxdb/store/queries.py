"""Queries to sites and record reviews as stored (migrations 11 and 12): the only SQL behind them.

The workflow's rules (who may do what, which status follows which) are in ``toxdb.queries`` and
``toxdb.review``; these functions read and write rows, each write in one transaction with its
audit-log row.
"""
from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow as pa

from toxdb.store.audit import append_many
from toxdb.store.db import Store, write_audit
from toxdb.vocab import KIND_TABLES

QUERY_COLUMNS = ["query_id", "kind", "record_key", "subject_id", "site", "record_label", "source", "status",
                 "raised_by", "raised_at", "updated_at"]
MESSAGE_COLUMNS = ["query_id", "written_at", "author", "role", "action", "text"]
REVIEW_COLUMNS = ["kind", "record_key", "version", "reviewed_by", "reviewed_at"]


def _now() -> dt.datetime:
    return dt.datetime.now().replace(microsecond=0)


def insert_query(store: Store, *, kind: str, record_key: str, subject_id: str, site: str | None,
                 record_label: str, source: str, text: str, user: str, role: str | None,
                 at: dt.datetime | None = None) -> int:
    """A new open query and its first message; returns its number."""
    at = at or _now()
    with store.transaction() as cur:
        qid = cur.execute("SELECT nextval('query_seq')").fetchone()[0]
        cur.execute("INSERT INTO site_queries VALUES (?, ?, ?, ?, ?, ?, ?, 'open', ?, ?, ?)",
                    [qid, kind, record_key, subject_id, site, record_label, source, user, at, at])
        cur.execute("INSERT INTO query_messages VALUES (?, ?, ?, ?, 'raise', ?)", [qid, at, user, role, text])
        write_audit(cur, user, "query_raise", {"query_id": qid, "kind": kind, "record_key": record_key,
                                               "subject_id": subject_id, "site": site, "text": text}, at)
    return int(qid)


def update_query_status(store: Store, query_id: int, *, expected: str, new: str, action: str, text: str,
                        user: str, role: str | None, at: dt.datetime | None = None) -> bool:
    """Move a query from ``expected`` to ``new`` with a message; False (nothing written) when its status
    is no longer ``expected`` (someone else acted first)."""
    at = at or _now()
    with store.transaction() as cur:
        changed = cur.execute("UPDATE site_queries SET status = ?, updated_at = ? WHERE query_id = ? AND status = ?",
                              [new, at, query_id, expected]).fetchone()[0]
        if not changed:
            return False
        cur.execute("INSERT INTO query_messages VALUES (?, ?, ?, ?, ?, ?)", [query_id, at, user, role, action, text])
        write_audit(cur, user, f"query_{action}", {"query_id": query_id, "from": expected, "to": new,
                                                    "text": text}, at)
    return True


def read_queries(store: Store, sites: list[str] | None = None) -> pd.DataFrame:
    """Every query (of ``sites`` when given, and never beyond a scoped store's sites), newest first."""
    sql = f"SELECT {', '.join(QUERY_COLUMNS)} FROM site_queries"
    params: list = []
    scope = getattr(store, "scope", None)          # a coordinator's store (Store.scoped, D64)
    if scope is not None:
        sites = [s for s in (scope if sites is None else sites) if s in scope]
    if sites is not None:
        sql += " WHERE site IN (SELECT unnest(?))"
        params.append(list(sites))
    return store.cursor().execute(sql + " ORDER BY query_id DESC", params).df()


def read_query(store: Store, query_id: int) -> dict | None:
    row = store.cursor().execute(f"SELECT {', '.join(QUERY_COLUMNS)} FROM site_queries WHERE query_id = ?",
                                 [query_id]).fetchone()
    return None if row is None else dict(zip(QUERY_COLUMNS, row))


def read_query_messages(store: Store, query_id: int | None = None) -> pd.DataFrame:
    """The thread (of one query, or of all), oldest first."""
    sql = f"SELECT {', '.join(MESSAGE_COLUMNS)} FROM query_messages"
    params: list = []
    if query_id is not None:
        sql += " WHERE query_id = ?"
        params.append(query_id)
    return store.cursor().execute(sql + " ORDER BY query_id, written_at, rowid", params).df()


def insert_reviews(store: Store, marks: pd.DataFrame, user: str, at: dt.datetime | None = None) -> int:
    """Mark records reviewed: ``marks`` has kind, record_key, version (text) and optionally subject_id;
    one review row and one audit row per record, in one transaction."""
    at = at or _now()
    if not len(marks):
        return 0
    frame = pd.DataFrame({"kind": marks["kind"].astype(str), "record_key": marks["record_key"].astype(str),
                          "version": marks["version"].astype(str),
                          "subject_id": (marks["subject_id"] if "subject_id" in marks else pd.Series(
                              None, index=marks.index)).astype(object)})
    with store.transaction() as cur:
        cur.register("incoming_reviews", pa.Table.from_pandas(frame, preserve_index=False))
        cur.execute("INSERT INTO record_reviews SELECT kind, record_key, version, ?, ? FROM incoming_reviews",
                    [user, at])
        append_many(cur, user, "review", frame.to_dict("records"), at)
        cur.unregister("incoming_reviews")
    return len(frame)


def read_reviews(store: Store) -> pd.DataFrame:
    return store.cursor().execute(
        f"SELECT {', '.join(REVIEW_COLUMNS)} FROM record_reviews ORDER BY reviewed_at").df()


# -- flags of stored rows as queries to the site (D56) ------------------------------------------------
FLAG_LINE_COLUMNS = ["upload_id", "kind", "source_row", "record_key", "version", "subject_id", "site", "file_name",
                     "code", "column_name", "value", "message", "query_id", "query_status", "current",
                     "closed_by", "closed_by_file"]


def read_flag_lines(store: Store) -> pd.DataFrame:
    """Every stored flag (row_flags) with the version it belongs to: its record, whether that version is
    still the current one, the upload that closed it, its site (the upload's, else the patient's), and
    the query it raised with that query's status. A coordinator's store sees its sites only."""
    parts = [
        f"SELECT f.upload_id, f.kind, f.source_row, t.record_key, t.version, f.subject_id,"
        f" coalesce(u.site, p.site) AS site, u.file_name, f.code, f.column_name, f.value, f.message, f.query_id,"
        f" q.status AS query_status, t.valid_to IS NULL AS current, t.closed_by, c.file_name AS closed_by_file"
        f" FROM row_flags f JOIN uploads u USING (upload_id)"
        f" JOIN {table} t ON t.upload_id = f.upload_id AND t.source_row = f.source_row"
        f" LEFT JOIN (SELECT subject_id, min(site) AS site FROM patients WHERE valid_to IS NULL GROUP BY 1) p"
        f" ON p.subject_id = f.subject_id"
        f" LEFT JOIN uploads c ON c.upload_id = t.closed_by"
        f" LEFT JOIN site_queries q ON q.query_id = f.query_id WHERE f.kind = '{kind}'"
        for kind, table in KIND_TABLES.items()]
    sql = " UNION ALL ".join(parts)
    params: list = []
    scope = getattr(store, "scope", None)          # a coordinator's store (Store.scoped, D64)
    if scope is not None:
        sql = f"SELECT * FROM ({sql}) WHERE site IN (SELECT unnest(?))"
        params.append(list(scope))
    frame = store.cursor().execute(f"SELECT * FROM ({sql}) ORDER BY upload_id, source_row, code", params).df()
    return frame[FLAG_LINE_COLUMNS]


def write_flag_queries(store: Store, *, new: pd.DataFrame, links: pd.DataFrame, closes: pd.DataFrame, user: str,
                       at: dt.datetime | None = None) -> tuple[list[int], int]:
    """In one transaction: raise one open query per row of ``new`` (upload_id, source_row, kind, record_key,
    subject_id, site, label, text; source 'flag') and tie that version's flags to it; tie the flags of
    ``links`` (upload_id, source_row, query_id) to a query already raised; close each query of ``closes``
    (query_id, text) that is not closed yet. Returns (the new query numbers, how many were closed)."""
    at = at or _now()
    with store.transaction() as cur:
        new = new.reset_index(drop=True)
        ids = [r[0] for r in cur.execute("SELECT nextval('query_seq') FROM range(?)", [len(new)]).fetchall()] \
            if len(new) else []
        new = new.assign(query_id=pd.array(ids, dtype="Int64"))
        if len(new):
            cur.register("incoming_flag_queries", pa.Table.from_pandas(new, preserve_index=False))
            cur.execute("INSERT INTO site_queries SELECT query_id, kind, record_key, subject_id, site, label, 'flag',"
                        " 'open', ?, ?, ? FROM incoming_flag_queries ORDER BY query_id", [user, at, at])
            cur.execute("INSERT INTO query_messages SELECT query_id, ?, ?, NULL, 'raise', text"
                        " FROM incoming_flag_queries ORDER BY query_id", [at, user])
            cur.unregister("incoming_flag_queries")
            append_many(cur, user, "query_raise", [
                {"query_id": int(r["query_id"]), "kind": r["kind"], "record_key": r["record_key"],
                 "subject_id": r["subject_id"], "site": r["site"], "text": r["text"], "source": "flag"}
                for r in new.to_dict("records")], at)
        tie = pd.concat([links[["upload_id", "source_row", "query_id"]],
                         new[["upload_id", "source_row", "query_id"]]], ignore_index=True)
        if len(tie):
            cur.register("incoming_flag_links", pa.Table.from_pandas(
                tie.astype({"upload_id": "int64", "source_row": "int64", "query_id": "int64"}), preserve_index=False))
            cur.execute("UPDATE row_flags SET query_id = l.query_id FROM incoming_flag_links l"
                        " WHERE row_flags.upload_id = l.upload_id AND row_flags.source_row = l.source_row")
            cur.unregister("incoming_flag_links")
        closed = 0
        if len(closes):
            cur.register("incoming_flag_closes", pa.Table.from_pandas(
                closes[["query_id", "text"]].astype({"query_id": "int64"}), preserve_index=False))
            still = cur.execute("SELECT c.query_id, c.text, q.status FROM incoming_flag_closes c JOIN site_queries q"
                                " USING (query_id) WHERE q.status <> 'closed' ORDER BY c.query_id").fetchall()
            cur.unregister("incoming_flag_closes")
            for qid, text, status in still:
                cur.execute("UPDATE site_queries SET status = 'closed', updated_at = ? WHERE query_id = ?", [at, qid])
                cur.execute("INSERT INTO query_messages VALUES (?, ?, ?, NULL, 'close', ?)", [qid, at, user, text])
            append_many(cur, user, "query_close", [{"query_id": qid, "from": status, "to": "closed", "text": text}
                                                  for qid, text, status in still], at)
            closed = len(still)
    return [int(i) for i in ids], closed
