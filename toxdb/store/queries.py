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
