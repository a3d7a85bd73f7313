"""python -m toxdb cut save / cut list / diff: what a data manager freezing data before a committee
meeting, and comparing it with the last one, relies on."""
import csv
import io
import json

import pytest
from cli_support import run_toxdb
from conftest import AE_CSV, PATIENTS_CSV, ROOT, write

pytestmark = pytest.mark.cli


def toxdb(*args, user="dm-anna"):
    """The command in this process, as the user (tests/cli_support.py)."""
    return run_toxdb(*args, user=user, cwd=ROOT)


def test_save_list_and_diff_a_cut_against_today(tmp_path):
    db = tmp_path / "cut.duckdb"
    files = [write(tmp_path / "patients.csv", PATIENTS_CSV), write(tmp_path / "ae.csv", AE_CSV)]
    assert toxdb("import", "--db", db, *files).returncode == 0
    saved = toxdb("cut", "save", "DSMB 1", "--date", "2025-08-01", "--db", db)
    assert saved.returncode == 0, saved.stderr
    assert "DSMB 1" in saved.stdout
    again = toxdb("cut", "save", "DSMB 1", "--db", db)
    assert again.returncode == 2 and "exists already" in again.stderr
    listed = json.loads(toxdb("cut", "list", "--json", "--db", db).stdout)
    assert [(c["name"], c["cut_date"], c["made_by"]) for c in listed] == [("DSMB 1", "2025-08-01", "dm-anna")]

    # after the cut: P-002's fatigue corrected to grade 2 and its end date removed; a new event for P-003
    fix = write(tmp_path / "ae_fix.csv", "subject_id,ae_ref,term,grade,onset_date,end_date,serious,attribution\n"
                "P-002,AE-1,Fatigue,2,2025-07-10,,Y,possible\nP-003,AE-1,Anorexia,2,2025-07-30,,N,unlikely\n")
    assert toxdb("import", "--db", db, fix).returncode == 0
    out = toxdb("diff", "DSMB 1", "2099-01-01", "--db", db)
    assert out.returncode == 2 and "future" in out.stderr
    import datetime as dt
    out = toxdb("diff", "DSMB 1", dt.date.today().isoformat(), "--db", db, "--csv")
    assert out.returncode == 0, out.stderr
    rows = list(csv.DictReader(io.StringIO(out.stdout.lstrip("\ufeff"))))
    assert [tuple(r.values()) for r in rows] == [
        ("ae", "P-003", "P-003|ref:AE-1|2025-07-30", "added", "", "", ""),
        ("ae", "P-002", "P-002|ref:AE-1|2025-07-10", "corrected", "grade", "3", "2"),
        ("ae", "P-002", "P-002|ref:AE-1|2025-07-10", "corrected", "end_date", "2025-07-20", ""),
    ]
    assert list(rows[0]) == ["table", "subject_id", "record", "change", "column", "old", "new"]
    text = toxdb("diff", "DSMB 1", "nonsense", "--db", db)
    assert text.returncode == 2 and "neither a saved cut (DSMB 1) nor a date" in text.stderr
    status = toxdb("export", "rejects", "--db", db)     # the store is unchanged by the read-only commands
    assert status.returncode == 0


def test_saving_a_cut_is_in_the_audit_log(tmp_path):
    from toxdb.store.db import Store
    db = tmp_path / "cut.duckdb"
    assert toxdb("cut", "save", "Interim", "--db", db, user="dm-li").returncode == 0
    assert toxdb("cut", "save", "2025-08-01", "--db", db).returncode == 2      # a date is not a name
    with Store(db, read_only=True) as s:
        log = s.audit_log()
    assert log["action"].tolist() == ["data_cut"] and log["actor"].tolist() == ["dm-li"]
    assert json.loads(log["detail"].iloc[0])["name"] == "Interim"
