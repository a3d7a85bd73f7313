"""The audit log's head kept outside the store (D68): deleting the newest entries leaves a chain that
is intact, so only a head recorded earlier (``audit head``, a committee report) can find it out."""
from __future__ import annotations

import duckdb
import pytest
from cli_support import run_toxdb

from toxdb.store.audit import Anchor, entry_hash, parse_anchor, read_anchors
from toxdb.store.db import Store


def _entries(path, n=6):
    with Store(path) as s:
        for i in range(n):
            s.record_audit(f"person{i}", "download", {"file": f"f{i}.csv"})


def _sql(path, sql, params=None):
    con = duckdb.connect(str(path))
    con.execute(sql, params or [])
    con.close()


def _toxdb(*args):
    return run_toxdb(*args, user="auditor")


def test_head_is_the_newest_entry_and_reads_back(tmp_path):
    db = tmp_path / "a.duckdb"
    _entries(db)
    with Store(db, read_only=True) as s:
        head = s.audit_head()
        newest = s.audit_log(1)
    assert head.seq == 6 == int(newest["seq"].iloc[0])
    stored = duckdb.connect(str(db), read_only=True).execute(
        "SELECT entry_hash FROM audit_log WHERE seq = 6").fetchone()[0]
    assert head.head == stored
    assert parse_anchor(str(head)) == head and parse_anchor(f"#{head}") == head
    assert read_anchors(f"<td>{head}</td> and 3:{'a' * 64}") == [head, Anchor(3, "a" * 64)]
    with pytest.raises(ValueError, match="N:HASH"):
        parse_anchor("6:abc")


def test_truncation_is_invisible_to_the_chain_and_named_by_an_anchor(tmp_path):
    db = tmp_path / "a.duckdb"
    _entries(db)
    with Store(db, read_only=True) as s:
        anchor = s.audit_head()
    _sql(db, "DELETE FROM audit_log WHERE seq > 3")            # the newest three entries, directly in the file
    with Store(db, read_only=True) as s:
        assert s.verify_audit().ok                            # what the chain alone cannot know
        check = s.verify_audit([anchor])
    assert not check.ok and check.broken_seq == 4
    assert "the newest 3 entries were deleted" in check.problem
    assert "ends at entry #3" in check.problem and "#4 to #6" in check.problem


def test_a_chain_rewritten_up_to_the_anchor_is_named(tmp_path):
    # the forger alters the newest entry and recomputes its hash: the chain checks, the anchor does not
    db = tmp_path / "a.duckdb"
    _entries(db, 3)
    with Store(db, read_only=True) as s:
        anchor = s.audit_head()
    con = duckdb.connect(str(db))
    seq, at, action, detail, prev = con.execute("SELECT seq, logged_at, action, CAST(detail AS VARCHAR), prev_hash"
                                                " FROM audit_log WHERE seq = 3").fetchone()
    con.execute("UPDATE audit_log SET actor = 'forger', entry_hash = ? WHERE seq = 3",
                [entry_hash(prev, seq, at, "forger", action, detail)])
    con.close()
    with Store(db, read_only=True) as s:
        assert s.verify_audit().ok
        check = s.verify_audit([anchor])
    assert not check.ok and check.broken_seq == 3 and "entry #3 is not the one recorded earlier" in check.problem


def test_an_older_anchor_holds_after_new_entries(tmp_path):
    db = tmp_path / "a.duckdb"
    _entries(db, 2)
    with Store(db) as s:
        anchor = s.audit_head()
        s.record_audit("later", "download", {"file": "x.csv"})
        assert s.verify_audit([anchor]).ok


@pytest.mark.cli
def test_cli_head_and_verify_with_and_without_the_anchor(tmp_path):
    db = tmp_path / "a.duckdb"
    _entries(db)
    head = _toxdb("audit", "head", "--db", db)
    assert head.returncode == 0
    anchor = head.stdout.strip()
    assert parse_anchor(anchor).seq == 6
    heads = tmp_path / "heads.txt"
    heads.write_text(f"2026-12-01 {anchor}\n", encoding="utf-8")
    _sql(db, "DELETE FROM audit_log WHERE seq >= 5")
    plain = _toxdb("audit", "verify", "--db", db)
    assert plain.returncode == 0
    assert "4 entries" in plain.stdout and "cannot be seen without a head kept elsewhere" in plain.stdout
    for how in (("--expect", anchor), ("--anchors", heads)):
        run = _toxdb("audit", "verify", "--db", db, *how)
        assert run.returncode == 1, run.stdout
        assert "the newest 2 entries were deleted" in run.stderr and "#5 to #6" in run.stderr
    bad = _toxdb("audit", "verify", "--db", db, "--expect", "six:nothing")
    assert bad.returncode == 2 and "expected N:HASH" in bad.stderr and "Traceback" not in bad.stderr
