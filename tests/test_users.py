"""People in the store (D61): `python -m toxdb users ...`, refused in words, every change audited;
and the audit log's hash chain (D65): an entry altered or deleted in the DuckDB file is found."""
from __future__ import annotations

import json

import duckdb
import pytest
from cli_support import run_toxdb
from conftest import PATIENTS_CSV, ROOT, write

from toxdb.ingest.upload import import_paths
from toxdb.store.db import Store
from toxdb.users import UserError, add_user, disable_user, find_person, set_user

# a test without a tier mark is a unit test (conftest); the app and cli tests here say so


def test_add_change_disable_are_audited_with_before_and_after(loaded_store):
    s = loaded_store
    add_user(s, "Ana@Hospital.cn", role="coordinator", sites=["SITE-A"], name="Ana", actor="dm")
    ana = find_person(s, "ana@hospital.cn")
    assert (ana.identity, ana.role, ana.sites, ana.active, ana.name) == (
        "ana@hospital.cn", "coordinator", ("SITE-A",), True, "Ana")
    set_user(s, "ana@hospital.cn", role="investigator", sites=[], actor="dm")
    assert find_person(s, "ANA@hospital.cn").role == "investigator"
    disable_user(s, "ana@hospital.cn", actor="dm2")
    assert find_person(s, "ana@hospital.cn").active is False
    log = s.audit_log(actor=None)
    mine = log[log["action"].str.startswith("user_")].iloc[::-1]
    assert mine["action"].tolist() == ["user_added", "user_changed", "user_disabled"]
    assert mine["actor"].tolist() == ["dm", "dm", "dm2"]
    changed = json.loads(mine["detail"].iloc[1])
    assert changed["before"]["role"] == "coordinator" and changed["role"] == "investigator"


@pytest.mark.parametrize("kwargs, words", [
    (dict(identity="bob@x.org", role="surgeon", sites=["SITE-A"]), "There is no role surgeon; the trial file defines"),
    (dict(identity="bob@x.org", role="coordinator", sites=["SITE-Z"]), "Unknown site(s) SITE-Z; the store knows SITE-A, SITE-B"),
    (dict(identity="bob@x.org", role="coordinator", sites=[]), "give at least one site"),
    (dict(identity="bob", role="committee", sites=[]), "bob is not an e-mail address"),
])
def test_refused_in_words(loaded_store, kwargs, words):
    with pytest.raises(UserError) as err:
        add_user(loaded_store, kwargs.pop("identity"), actor="dm", **kwargs)
    assert words in str(err.value)
    assert loaded_store.users().empty


def test_a_new_site_is_accepted_when_asked(loaded_store):
    add_user(loaded_store, "c@new.org", role="coordinator", sites=["SITE-N"], new_sites=True, actor="dm")
    assert find_person(loaded_store, "c@new.org").sites == ("SITE-N",)


def test_an_existing_user_is_not_added_twice(loaded_store):
    add_user(loaded_store, "c@x.org", role="committee", sites=[], actor="dm")
    with pytest.raises(UserError, match="already a user"):
        add_user(loaded_store, "c@x.org", role="committee", sites=[], actor="dm")


def test_mapping_saves_keep_every_version(store):
    store.save_mapping("SITE-A", "ae", "a|b", {"a": "subject_id"}, "u1")
    assert store.save_mapping("SITE-A", "ae", "a|b", {"b": "subject_id"}, "u2") == 2
    versions = store.mapping_versions("SITE-A")
    assert versions["version"].tolist() == [1, 2] and versions["saved_by"].tolist() == ["u1", "u2"]
    assert json.loads(versions["mapping"].iloc[0]) == {"a": "subject_id"}
    assert store.saved_mapping("SITE-A", "ae", "a|b")[1] == {"b": "subject_id"}      # the newest is used


# ------------------------------------------------------------------------------------------------
# the command line
# ------------------------------------------------------------------------------------------------
def toxdb(*args, user="dm-os"):
    """The command in this process, as the user (tests/cli_support.py)."""
    return run_toxdb(*args, user=user, cwd=ROOT)


@pytest.mark.cli
def test_users_cli_round_trip(tmp_path):
    db = tmp_path / "u.duckdb"
    with Store(db) as s:
        import_paths(s, [write(tmp_path / "patients.csv", PATIENTS_CSV)], "tester")
    add = toxdb("users", "add", "coord@a.org", "--role", "coordinator", "--site", "SITE-A", "--name", "Coord A",
                "--db", db)
    assert add.returncode == 0, add.stderr
    bad = toxdb("users", "add", "x@a.org", "--role", "coordinator", "--site", "SITE-Q", "--db", db)
    assert bad.returncode == 2 and "Unknown site(s) SITE-Q" in bad.stderr and "Traceback" not in bad.stderr
    bad_role = toxdb("users", "add", "x@a.org", "--role", "boss", "--db", db)
    assert bad_role.returncode == 2 and "There is no role boss" in bad_role.stderr
    assert toxdb("users", "set", "coord@a.org", "--site", "SITE-A", "--site", "SITE-B", "--db", db).returncode == 0
    assert toxdb("users", "disable", "coord@a.org", "--db", db).returncode == 0
    listed = json.loads(toxdb("users", "list", "--json", "--db", db).stdout)
    assert [(u["identity"], u["role"], u["sites"], u["active"]) for u in listed] == [
        ("coord@a.org", "coordinator", ["SITE-A", "SITE-B"], False)]
    with Store(db, read_only=True) as s:
        log = s.audit_log()
    assert log[log["action"].str.startswith("user_")]["actor"].unique().tolist() == ["dm-os"]
    assert toxdb("audit", "verify", "--db", db).returncode == 0


# ------------------------------------------------------------------------------------------------
# the audit chain
# ------------------------------------------------------------------------------------------------
def _five_entries(path):
    with Store(path) as s:
        for i in range(5):
            s.record_audit(f"person{i}", "export", {"n": i})


@pytest.mark.parametrize("tamper, broken, words", [
    ("UPDATE audit_log SET actor = 'someone else' WHERE seq = 3", 3, "entry #3 (.*) was altered"),
    ("UPDATE audit_log SET detail = '{\"n\": 99}' WHERE seq = 2", 2, "entry #2 .* was altered"),
    ("DELETE FROM audit_log WHERE seq = 3", 4, "entry #3 before entry #4 was deleted"),
    ("DELETE FROM audit_log WHERE seq = 1", 2, "entry #1 before entry #2 was deleted"),
    ("INSERT INTO audit_log (logged_at, actor, action, detail) VALUES (now(), 'x', 'upload', '{}')", None,
     "written outside toxdb"),
])
def test_audit_verify_names_the_first_broken_entry(tmp_path, tamper, broken, words):
    db = tmp_path / "a.duckdb"
    _five_entries(db)
    with Store(db, read_only=True) as s:
        assert s.verify_audit().ok and s.verify_audit().entries == 5
    con = duckdb.connect(str(db))
    con.execute(tamper)
    con.close()
    with Store(db, read_only=True) as s:
        check = s.verify_audit()
    assert not check.ok and check.broken_seq == broken
    assert __import__("re").search(words, check.problem), check.problem


def test_a_rehashed_entry_is_still_found_by_the_next_one(tmp_path):
    # someone alters entry 2 and recomputes its own hash: entry 3's "previous hash" no longer matches
    from toxdb.store.audit import entry_hash

    db = tmp_path / "a.duckdb"
    _five_entries(db)
    con = duckdb.connect(str(db))
    seq, at, actor, action, detail, prev = con.execute(
        "SELECT seq, logged_at, actor, action, CAST(detail AS VARCHAR), prev_hash FROM audit_log WHERE seq = 2").fetchone()
    con.execute("UPDATE audit_log SET actor = 'forger', entry_hash = ? WHERE seq = 2",
                [entry_hash(prev, seq, at, "forger", action, detail)])
    con.close()
    with Store(db, read_only=True) as s:
        check = s.verify_audit()
    assert check.broken_seq == 3 and "does not follow entry #2" in check.problem


@pytest.mark.cli
def test_audit_verify_exits_non_zero_and_names_the_entry(tmp_path):
    db = tmp_path / "a.duckdb"
    _five_entries(db)
    con = duckdb.connect(str(db))
    con.execute("DELETE FROM audit_log WHERE seq = 2")
    con.close()
    out = toxdb("audit", "verify", "--db", db)
    assert out.returncode == 1 and "entry #2 before entry #3 was deleted" in out.stderr


def test_entries_written_before_the_chain_are_chained_by_the_migration(tmp_path):
    db = tmp_path / "old.duckdb"
    with Store(db) as s:          # make it look like a version-2 store with an old-style log
        cur = s.cursor()
        cur.execute("DELETE FROM schema_version WHERE version IN (7, 8)")
        cur.execute("DROP TABLE users; DROP TABLE mapping_versions")
        cur.execute("ALTER TABLE audit_log DROP COLUMN seq; ALTER TABLE audit_log DROP COLUMN prev_hash;"
                    " ALTER TABLE audit_log DROP COLUMN entry_hash")
        cur.execute("INSERT INTO audit_log VALUES (TIMESTAMP '2025-01-01 10:00:00', 'old', 'upload', '{}'),"
                    " (TIMESTAMP '2025-01-02 10:00:00', 'old2', 'data_cut', '{}')")
    with Store(db) as s:
        applied = {r[0] for r in s.cursor().execute("SELECT version FROM schema_version").fetchall()}
        assert {7, 8} <= applied                    # both migrations ran again on the old store
        s.record_audit("new", "export", {})
        check = s.verify_audit()
        assert check.ok and check.entries == 3
        assert s.audit_log()["actor"].tolist() == ["new", "old2", "old"]
