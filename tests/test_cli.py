"""python -m toxdb: what a data manager's scripts rely on."""
import json

import pytest
from cli_support import run_toxdb, run_toxdb_process
from conftest import AE_CSV, PATIENTS_CSV, ROOT, write

pytestmark = pytest.mark.cli


def toxdb(*args, cwd=ROOT):
    """The command in this process (tests/cli_support.py); the round trip below runs real processes."""
    return run_toxdb(*args, cwd=cwd)


def test_init_import_status_round_trip(tmp_path):
    # real processes: the module entry point, its exit status and its printed text
    db = tmp_path / "cli.duckdb"
    assert run_toxdb_process("init", "--db", db).returncode == 0
    patients = write(tmp_path / "patients.csv", PATIENTS_CSV)
    ae = write(tmp_path / "ae.csv", AE_CSV + "P-003,AE-1,Nausea,6,2025-08-01,,N,possible\n"
               + "P-003,AE-2,Nausea,4,2025-08-02,,N,possible\n")
    out = run_toxdb_process("import", "--db", db, ae, patients)           # order on the command line does not matter
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("patients.csv (patients) -> upload #1: 3 accepted")
    assert ("ae.csv (adverse events) -> upload #2: 4 accepted, 0 duplicated, 0 corrected, 1 rejected, 1 flagged"
            in out.stdout)
    assert "ae.csv, row 5, column 'grade' = '6': grade 6 does not exist" in out.stdout
    # a grade Nausea does not have is stored as recorded and queried (D50)
    assert "flagged: ae.csv, row 6: Nausea: grade 4 does not exist in CTCAE v5.0 (allowed: 1–3)" in out.stdout
    status = run_toxdb_process("status", "--db", db, "--json")
    counts = json.loads(status.stdout)
    assert counts == {"patients": 3, "adverse_events": 4, "treatment_records": 0, "lab_results": 0,
                      "uploads": 2, "rejected_rows": 1, "flagged_rows": 1,
                      "flagged_rows_open": 1}
    flags = run_toxdb_process("export", "flags", "--db", db, "--csv")
    assert flags.returncode == 0 and "grade_not_allowed" in flags.stdout and "P-003" in flags.stdout
    again = run_toxdb_process("import", "--db", db, ae)
    assert again.returncode == 0 and "nothing to add" in again.stdout
    assert json.loads(run_toxdb_process("status", "--db", db, "--json").stdout) == counts


def test_unreadable_file_exits_non_zero_with_a_message(tmp_path):
    db = tmp_path / "cli.duckdb"
    img = tmp_path / "scan.csv"
    img.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    out = toxdb("import", "--db", db, img)
    assert out.returncode != 0 and "PNG image" in out.stdout


def test_status_of_a_missing_database_says_how_to_create_one(tmp_path):
    out = toxdb("status", "--db", tmp_path / "none.duckdb", "--json")
    assert out.returncode != 0 and "python -m toxdb init" in out.stderr


def test_init_sample_loads_the_sample_trial(tmp_path):
    import pandas as pd
    db = tmp_path / "s.duckdb"
    assert toxdb("init", "--db", db, "--sample").returncode == 0
    counts = json.loads(toxdb("status", "--db", db, "--json").stdout)
    assert counts["patients"] == len(pd.read_csv(ROOT / "sample_data" / "patients.csv"))
    assert counts["adverse_events"] == len(pd.read_csv(ROOT / "sample_data" / "adverse_events.csv"))
    assert counts["rejected_rows"] == 0


def test_day_first_flag_reads_slash_dates_day_first(tmp_path):
    db = tmp_path / "d.duckdb"
    write(tmp_path / "patients.csv", PATIENTS_CSV)
    toxdb("import", "--db", db, tmp_path / "patients.csv")
    ae = write(tmp_path / "ae.csv", "subject_id,term,grade,onset_date\nP-001,Fatigue,1,04/07/2025\n")
    out = toxdb("import", "--db", db, "--day-first", ae)
    assert "1 accepted" in out.stdout
    from toxdb.store.db import Store
    with Store(db, read_only=True) as s:
        assert str(s.read_kind("ae")["onset_date"].iloc[0].date()) == "2025-07-04"
