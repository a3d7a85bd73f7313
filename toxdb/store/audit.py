"""The audit log's hash chain (D65): every entry carries the hash of the one before it.

An entry's hash is SHA-256 over the previous entry's hash, its sequence number, time, actor, action
and detail (the JSON text as stored). ``append`` writes an entry inside the caller's transaction;
``verify_chain`` walks the whole log and names the first entry that does not fit; given anchors
(heads recorded outside the store: ``N:HASH``, D68) it also names newest entries deleted.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass

import pyarrow as pa

GENESIS = "0" * 64          # the "previous hash" of the first entry


def entry_hash(prev_hash: str, seq: int, at: dt.datetime, actor: str, action: str, detail: str | None) -> str:
    text = "\x1f".join([prev_hash, str(seq), at.isoformat(sep=" "), actor, action, detail or ""])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def append(cur, actor: str, action: str, detail: dict, at: dt.datetime) -> int:
    """Add one entry after the newest; returns its sequence number. The caller holds the store's write
    lock and transaction, so two entries never take the same number."""
    last = cur.execute("SELECT seq, entry_hash FROM audit_log WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1"
                       ).fetchone()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    text = json.dumps(detail, default=str, sort_keys=True, ensure_ascii=False)
    cur.execute("INSERT INTO audit_log (logged_at, actor, action, detail, seq, prev_hash, entry_hash)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [at, actor, action, text, seq, prev, entry_hash(prev, seq, at, actor, action, text)])
    return seq



def append_many(cur, actor: str, action: str, details: list[dict], at: dt.datetime) -> int:
    """Add one entry per detail after the newest, chained in order, in one insert (a mark of thousands
    of records reviewed at once); returns how many were added."""
    if not details:
        return 0
    last = cur.execute("SELECT seq, entry_hash FROM audit_log WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1"
                       ).fetchone()
    seq, prev = (last[0], last[1]) if last else (0, GENESIS)
    rows = []
    for detail in details:
        seq += 1
        text = json.dumps(detail, default=str, sort_keys=True, ensure_ascii=False)
        this = entry_hash(prev, seq, at, actor, action, text)
        rows.append((at, actor, action, text, seq, prev, this))
        prev = this
    cur.executemany("INSERT INTO audit_log (logged_at, actor, action, detail, seq, prev_hash, entry_hash)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    return len(rows)

def migrate_chain(cur) -> None:
    """Migration 8: add the chain's columns and chain the entries written before it, oldest first."""
    for col, kind in (("seq", "BIGINT"), ("prev_hash", "TEXT"), ("entry_hash", "TEXT")):
        cur.execute(f"ALTER TABLE audit_log ADD COLUMN {col} {kind}")
    rows = cur.execute("SELECT rowid, logged_at, actor, action, CAST(detail AS VARCHAR) FROM audit_log"
                       " ORDER BY logged_at, rowid").fetchall()
    prev, out = GENESIS, {"rid": [], "seq": [], "prev_hash": [], "entry_hash": []}
    for seq, (rid, at, actor, action, detail) in enumerate(rows, start=1):
        h = entry_hash(prev, seq, at, actor, action, detail)
        for k, v in zip(out, (rid, seq, prev, h)):
            out[k].append(v)
        prev = h
    if rows:
        cur.register("chained", pa.table(out))
        cur.execute("UPDATE audit_log SET seq = c.seq, prev_hash = c.prev_hash, entry_hash = c.entry_hash"
                    " FROM chained c WHERE audit_log.rowid = c.rid")
        cur.unregister("chained")


@dataclass(frozen=True)
class ChainCheck:
    """What ``verify_chain`` found: ok, the number of entries, the head hash, and the first problem."""
    ok: bool
    entries: int
    head: str
    broken_seq: int | None = None
    problem: str | None = None


def verify_chain(cur) -> ChainCheck:
    """Recompute the chain. The first entry altered (its hash does not match its content), after a
    deletion (a gap in the numbers, or a previous hash that is not the entry before it) or written
    outside toxdb (no number or hash) is named; later entries are not judged."""
    rows = cur.execute("SELECT seq, logged_at, actor, action, CAST(detail AS VARCHAR), prev_hash, entry_hash"
                       " FROM audit_log ORDER BY seq NULLS FIRST, logged_at").fetchall()
    prev_seq, prev_hash = 0, GENESIS
    for seq, at, actor, action, detail, stored_prev, stored in rows:
        if seq is None or stored is None:
            return ChainCheck(False, len(rows), prev_hash, seq, (
                f"an entry of {at:%Y-%m-%d %H:%M:%S} by {actor} ({action}) has no place in the chain: "
                "it was written outside toxdb"))
        if seq == prev_seq:
            return ChainCheck(False, len(rows), prev_hash, seq, f"entry #{seq} appears twice: one was inserted")
        if seq != prev_seq + 1:
            missing = f"#{prev_seq + 1}" if seq == prev_seq + 2 else f"#{prev_seq + 1} to #{seq - 1}"
            return ChainCheck(False, len(rows), prev_hash, seq, f"entry {missing} before entry #{seq} was deleted")
        if entry_hash(stored_prev, seq, at, actor, action, detail) != stored:
            return ChainCheck(False, len(rows), prev_hash, seq,
                              f"entry #{seq} ({at:%Y-%m-%d %H:%M:%S}, {actor}, {action}) was altered")
        if stored_prev != prev_hash:
            return ChainCheck(False, len(rows), prev_hash, seq, (
                f"entry #{seq} does not follow entry #{prev_seq}: the entry before it was altered or replaced"))
        prev_seq, prev_hash = seq, stored
    return ChainCheck(True, len(rows), prev_hash)


# ------------------------------------------------------------------------------------------------
# anchors: heads kept outside the store (D68)
# ------------------------------------------------------------------------------------------------
ANCHOR_RE = re.compile(r"(?<![0-9A-Za-z])#?(\d+):([0-9a-f]{64})(?![0-9a-f])")


@dataclass(frozen=True)
class Anchor:
    """A head of the log as it was once: entry number ``seq`` had hash ``head``."""
    seq: int
    head: str

    def __str__(self) -> str:
        return f"{self.seq}:{self.head}"


def parse_anchor(text: str) -> Anchor:
    """``N:HASH`` (as ``audit head`` prints it and every committee report shows it) as an Anchor;
    ValueError in words otherwise."""
    m = ANCHOR_RE.fullmatch(text.strip())
    if m is None:
        raise ValueError(f"not an audit head: {text.strip()[:80]!r}; expected N:HASH (a number, a colon and "
                         "64 hexadecimal characters), as `python -m toxdb audit head` prints it")
    return Anchor(int(m.group(1)), m.group(2))


def read_anchors(text: str) -> list[Anchor]:
    """Every ``N:HASH`` in a text (a file of heads appended by a nightly job, a saved HTML report)."""
    return [Anchor(int(m.group(1)), m.group(2)) for m in ANCHOR_RE.finditer(text)]


def head(cur) -> Anchor:
    """The newest entry's number and hash (0 and GENESIS for an empty log)."""
    row = cur.execute("SELECT seq, entry_hash FROM audit_log WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1"
                      ).fetchone()
    return Anchor(0, GENESIS) if row is None else Anchor(int(row[0]), row[1])


def check_anchors(cur, check: ChainCheck, anchors: list[Anchor]) -> ChainCheck:
    """An intact chain against heads recorded outside the store: an anchor past the newest entry means
    the newest entries were deleted; an anchored entry with another hash means the log was rewritten
    up to it. A broken chain is returned as it is (its first problem comes first)."""
    if not check.ok or not anchors:
        return check
    last = head(cur)
    for anchor in sorted(anchors, key=lambda a: -a.seq):
        if anchor.seq > last.seq:
            n = anchor.seq - last.seq
            gone = f"#{anchor.seq}" if n == 1 else f"#{last.seq + 1} to #{anchor.seq}"
            return ChainCheck(False, check.entries, check.head, last.seq + 1, (
                f"the newest {n} {'entry was' if n == 1 else 'entries were'} deleted: the log ends at entry "
                f"#{last.seq}, but a head recorded earlier ({anchor}) shows entry {gone}"))
        row = cur.execute("SELECT entry_hash FROM audit_log WHERE seq = ?", [anchor.seq]).fetchone()
        if row is None or row[0] != anchor.head:
            return ChainCheck(False, check.entries, check.head, anchor.seq, (
                f"entry #{anchor.seq} is not the one recorded earlier ({anchor}): the log up to it was "
                "rewritten and its hashes recomputed"))
    return check
