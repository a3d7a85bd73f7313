"""Issue 11 (4): every export, diff and report from the command line is in the audit log under the OS
user, with the export kind, the cut and the site scope (D67); a command that cannot record it lets
nothing out and says so."""
from __future__ import annotations

import datetime as dt
import io
import json
import os
import subprocess
import sys
import textwrap

import pandas as pd
import pytest
from conftest import AE_CSV, PATIENTS_CSV, ROOT, TREATMENT_CSV, write

from toxdb.cli import main
from toxdb.ingest.upload import import_paths
from toxdb.store.db import Store

pytestmark = pytest.mark.cli


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "cli.duckdb"
    with Store(path) as s:
        files = [write(tmp_path / "patients.csv", PATIENTS_CSV), write(tmp_path / "treatment.csv", TREATMENT_CSV),
                 write(tmp_path / "ae.csv", AE_CSV)]
        assert all(o.error is None for o in import_paths(s, files, "tester"))
    return path


def _entries(db, action):
    with Store(db, read_only=True) as s:
        log = s.audit_log(1000)
    rows = log[log["action"] == action]
    return [(actor, json.loads(d)) for actor, d in zip(rows["actor"], rows["detail"])]


def test_an_export_names_who_what_cut_and_sites(db, capsysbinary, monkeypatch):
    monkeypatch.setenv("TOXDB_USER", "statistician")
    site = pd.read_csv(io.StringIO(PATIENTS_CSV))["site"].iloc[0]
    assert main(["export", "events", "--db", str(db), "--cut", "2026-01-01", "--site", site, "--csv"]) == 0
    out = pd.read_csv(io.BytesIO(capsysbinary.readouterr().out), encoding="utf-8-sig")
    [(actor, detail)] = _entries(db, "export")
    assert actor == "statistician"
    assert detail == {"export": "events", "cut": "2026-01-01", "sites": [site], "rows": len(out), "format": "csv",
                      "to": "stdout"}
    assert main(["export", "rejects", "--db", str(db), "--upload", "1"]) == 0
    (_, first), (_, second) = _entries(db, "export")[::-1]
    assert second["export"] == "rejects" and second["cut"] is None and second["sites"] == "all"
    assert second["upload_id"] == 1 and second["format"] == "text"
    with Store(db, read_only=True) as s:
        assert s.verify_audit().ok


def test_a_diff_is_audited(db, capsysbinary, monkeypatch):
    capsys = capsysbinary
    monkeypatch.setenv("TOXDB_USER", "pi-os")
    today = dt.date.today().isoformat()            # the data were stored today: an empty store before
    assert main(["diff", "2025-01-01", today, "--db", str(db), "--csv"]) == 0
    rows = len(pd.read_csv(io.BytesIO(capsys.readouterr().out)))
    [(actor, detail)] = _entries(db, "diff")
    assert actor == "pi-os" and detail["from"].startswith("2025-01-01") and today in detail["to"]
    assert detail["changes"] == rows > 0 and detail["format"] == "csv"


HOLDER = textwrap.dedent("""
    import sys, time, duckdb
    con = duckdb.connect({db!r}, read_only=True)    # another process reading: no writer may open the file
    print("READY", flush=True)
    time.sleep(60)
""")


def test_an_export_that_cannot_be_recorded_writes_nothing_and_says_so(db, tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLDER.format(db=str(db))], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "READY"
        out = tmp_path / "events.csv"
        run = subprocess.run([sys.executable, "-m", "toxdb", "export", "events", "--db", str(db), "--csv",
                              "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=120,
                             env={**os.environ, "TOXDB_USER": "ci", "TOXDB_LOCK_WAIT_S": "1"})
    finally:
        holder.kill()
        holder.wait()
    assert run.returncode == 3, run.stderr
    assert "nothing was written: the export could not be recorded in the audit log" in run.stderr
    assert "did not come free within 1 s" in run.stderr and "Traceback" not in run.stderr
    assert not out.exists() and run.stdout == ""
    assert _entries(db, "export") == []


def test_listing_the_users_is_audited(db, capsys, monkeypatch):
    monkeypatch.setenv("TOXDB_USER", "dm-os")
    assert main(["users", "list", "--db", str(db), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert _entries(db, "users_listed") == [("dm-os", {"rows": 0, "format": "json"})]
