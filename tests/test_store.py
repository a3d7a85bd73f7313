"""The store: nothing counted twice, corrections versioned, failures leave it as it was."""
import datetime as dt
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pandas as pd
import pytest
from conftest import AE_CSV, ROOT, write

from toxdb.ingest.upload import commit_upload, prepare_upload
from toxdb.reports.export import frame_to_csv_bytes, frame_to_xlsx_bytes, safe_cell
from toxdb.store.db import LATEST_VERSION, MIGRATIONS, SCHEMA_FILE, SCHEMA_VERSION, Store

TODAY = dt.date(2026, 11, 23)


def test_new_store_has_the_latest_schema_version(store):
    assert store.schema_version() == LATEST_VERSION
    assert store.status_counts() == {"patients": 0, "adverse_events": 0, "treatment_records": 0,
                                     "lab_results": 0, "uploads": 0, "rejected_rows": 0,
                                     "flagged_rows": 0, "flagged_rows_open": 0}


def test_reopening_does_not_migrate_twice(tmp_path):
    path = tmp_path / "x.duckdb"
    Store(path).close()
    with Store(path) as s:
        versions = [r[0] for r in s.cursor().execute("SELECT version FROM schema_version ORDER BY 1").fetchall()]
    # migrations apply by the set of versions (numbers are assigned per issue, so there are gaps)
    assert versions == sorted({SCHEMA_VERSION, *(v for v, _ in MIGRATIONS)}) and versions[-1] == LATEST_VERSION


def test_a_version_1_store_migrates_and_keeps_its_uncompressed_raw_files(tmp_path):
    import duckdb
    path = tmp_path / "v1.duckdb"
    old_raw = b"subject_id,enrolled_on\nP-1,2025-01-02\n"
    con = duckdb.connect(str(path))          # a store as version 1 wrote it: raw bytes as uploaded
    con.execute(SCHEMA_FILE.read_text(encoding="utf-8"))
    con.execute("INSERT INTO schema_version (version) VALUES (1)")
    con.execute("INSERT INTO uploads VALUES (7, 'old.csv', 'patients', NULL, 'x', ?, ?, 'me', now(), 'csv',"
                " NULL, '{}', 1, 1, 0, 0, 0)", [len(old_raw), old_raw])
    con.close()
    with Store(path) as s:
        assert s.schema_version() == LATEST_VERSION
        assert s.upload_raw(7) == old_raw


def test_raw_files_are_stored_compressed_and_come_back_byte_for_byte(store):
    lines = ["subject_id,site,enrolled_on"] + [f"P-{i:04d},Site A,2025-01-{1 + i % 28:02d}" for i in range(3000)]
    raw = ("\n".join(lines) + "\n").encode()
    plan = prepare_upload(store, raw, "patients.csv", kind="patients", today=TODAY)
    counts = commit_upload(store, plan, "tester")
    assert counts.accepted == 3000
    assert store.upload_raw(counts.upload_id) == raw
    stored = store.cursor().execute("SELECT octet_length(raw), raw_codec, size_bytes FROM uploads"
                                    " WHERE upload_id = ?", [counts.upload_id]).fetchone()
    assert stored[1] == "zstd" and stored[2] == len(raw)
    assert stored[0] < len(raw) / 4       # repetitive text packs at least fourfold


def test_upload_keeps_raw_bytes_hash_user_and_time(loaded_store):
    uploads = loaded_store.uploads()
    assert uploads["kind"].tolist() == ["patients", "treatment", "ae"]
    assert set(uploads["uploaded_by"]) == {"tester"}
    ae = uploads[uploads["kind"] == "ae"].iloc[0]
    raw = loaded_store.upload_raw(int(ae["upload_id"]))
    assert raw == AE_CSV.encode()
    import hashlib
    assert ae["sha256"] == hashlib.sha256(raw).hexdigest()


def test_uploading_the_same_file_again_adds_nothing(loaded_store):
    before = loaded_store.status_counts()
    plan = prepare_upload(loaded_store, AE_CSV.encode(), "ae_again.csv", today=TODAY)
    assert plan.same_bytes_as is not None and plan.adds_nothing
    assert commit_upload(loaded_store, plan, "tester") is None
    assert loaded_store.status_counts() == before


def test_same_rows_in_another_file_are_duplicates_not_new_rows(loaded_store):
    before = loaded_store.status_counts()
    text = AE_CSV.replace("subject_id,ae_ref", "USUBJID,AESPID")      # other bytes, same rows, one more
    text += "P-002,AE-2,Nausea,1,2025-07-11,,N,possible\n"
    counts = commit_upload(loaded_store, prepare_upload(loaded_store, text.encode(), "ae2.csv", today=TODAY), "t")
    assert (counts.accepted, counts.duplicates, counts.corrections) == (1, 3, 0)
    after = loaded_store.status_counts()
    assert after["adverse_events"] == before["adverse_events"] + 1 and after["uploads"] == before["uploads"] + 1


def test_changed_value_is_a_correction_and_the_old_version_stays_in_history(loaded_store):
    first_time = loaded_store.read_kind("ae", with_version_columns=True)["valid_from"].max()
    time.sleep(1.1)
    text = AE_CSV.replace("P-001,AE-1,Diarrhea,2,", "P-001,AE-1,Diarrhea,3,")
    counts = commit_upload(loaded_store, prepare_upload(loaded_store, text.encode(), "ae_fix.csv", today=TODAY), "t")
    assert (counts.accepted, counts.corrections, counts.duplicates) == (0, 1, 2)
    current = loaded_store.read_kind("ae").set_index("ae_ref")
    assert len(current) == 3
    diarrhea = loaded_store.read_kind("ae").query("term == 'Diarrhea'")
    assert diarrhea["grade"].tolist() == [3]
    history = loaded_store.read_kind("ae", with_history=True).query("term == 'Diarrhea'")
    assert history["grade"].tolist() == [2, 3] and history["version"].tolist() == [1, 2]
    assert history["valid_to"].iloc[0] == history["valid_from"].iloc[1]
    # as of the first load, the old grade is what was stored
    old = loaded_store.read_kind("ae", as_of=first_time.to_pydatetime()).query("term == 'Diarrhea'")
    assert old["grade"].tolist() == [2]


def test_failure_in_the_middle_of_an_import_leaves_the_store_as_it_was(loaded_store):
    before = loaded_store.status_counts()
    text = AE_CSV + "P-002,AE-2,Nausea,1,2025-07-11,,N,possible\n"
    plan = prepare_upload(loaded_store, text.encode(), "ae3.csv", today=TODAY)
    v = plan.validation
    with pytest.raises(RuntimeError, match="simulated"):
        loaded_store.commit_upload(kind="ae", file_name="ae3.csv", raw=plan.raw, sha256=plan.sha256,
                                   uploaded_by="t", site=None, reader="csv", day_first=None, mapping={},
                                   rows=v.rows, problems=v.problems, n_rows=4, _fail_after_insert=True)
    assert loaded_store.status_counts() == before
    assert len(loaded_store.read_kind("ae", with_history=True)) == before["adverse_events"]


KILL_SCRIPT = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r})
    import toxdb.store.db as st
    from toxdb.ingest.upload import import_paths
    original = st._audit
    def slow_audit(cur, actor, action, detail, at):
        original(cur, actor, action, detail, at)
        if action == "upload" and detail.get("kind") == "ae":
            print("IN-TRANSACTION", flush=True)
            time.sleep(60)
    st._audit = slow_audit
    s = st.Store({db!r})
    import_paths(s, [{ae!r}], "killer")
""")


@pytest.mark.cli
def test_killed_import_leaves_the_store_as_it_was(loaded_store, tmp_path):
    db = loaded_store.path
    before = loaded_store.status_counts()
    loaded_store.close()
    ae = write(tmp_path / "more_ae.csv", AE_CSV + "P-002,AE-9,Nausea,1,2025-07-11,,N,possible\n")
    script = KILL_SCRIPT.format(root=str(ROOT), db=str(db), ae=str(ae))
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert "IN-TRANSACTION" in line
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    with Store(db) as again:
        assert again.status_counts() == before


@pytest.mark.cli
def test_second_process_gets_a_clear_lock_message(loaded_store):
    code = f"import sys; sys.path.insert(0, {str(ROOT)!r}); from toxdb.cli import main; sys.exit(main(['status', '--db', {str(loaded_store.path)!r}]))"
    env = {**os.environ, "TOXDB_LOCK_WAIT_S": "1"}        # the wait is bounded (D45); here, one second
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode != 0
    assert "in use by another process" in out.stderr and "dashboard" in out.stderr
    assert "waiting up to 1 s" in out.stderr and "did not come free within 1 s" in out.stderr


def test_rejected_rows_are_kept_with_reasons(loaded_store):
    text = "subject_id,term,grade,onset_date\nP-001,Nausea,6,2025-06-22\nP-404,Nausea,1,2025-06-22\n"
    counts = commit_upload(loaded_store, prepare_upload(loaded_store, text.encode(), "bad.csv", today=TODAY), "t")
    kept = loaded_store.rejected_rows(counts.upload_id)
    assert kept["source_row"].tolist() == [2, 3]
    assert "grade 6 does not exist" in kept["reasons"].iloc[0] and "not in the patient table" in kept["reasons"].iloc[1]
    assert json.loads(kept["raw"].iloc[1])["subject_id"] == "P-404"
    assert loaded_store.status_counts()["rejected_rows"] == 2


@pytest.mark.parametrize("value, expected", [
    ("=1+1", "'=1+1"), ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"), ("-2+3", "'-2+3"), ("@SUM(A1)", "'@SUM(A1)"),
    ("-5", "-5"), ("+3.5", "+3.5"), ("Nausea", "Nausea"), (3, 3),
])
def test_exported_cells_never_run_as_formulas(value, expected):
    assert safe_cell(value) == expected


def test_exported_rejects_spreadsheet_holds_text_not_formulas():
    from python_calamine import CalamineWorkbook
    frame = pd.DataFrame({"row": [2], "verbatim": ["=HYPERLINK(\"http://x\")"]})
    xlsx = frame_to_xlsx_bytes(frame)
    rows = CalamineWorkbook.from_filelike(io.BytesIO(xlsx)).get_sheet_by_index(0).to_python()
    assert rows[1][1] == "'=HYPERLINK(\"http://x\")"
    import zipfile
    sheet = zipfile.ZipFile(io.BytesIO(xlsx)).read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet                       # no formula element anywhere
    assert frame_to_csv_bytes(frame).decode("utf-8-sig").splitlines()[1].startswith("2,\"'=HYPERLINK")


def test_spreadsheet_export_copes_with_an_empty_column():
    from python_calamine import CalamineWorkbook
    frame = pd.DataFrame({"subject_id": ["P-1", "P-2"], "reported_grade": [float("nan"), float("nan")]})
    rows = CalamineWorkbook.from_filelike(io.BytesIO(frame_to_xlsx_bytes(frame))).get_sheet_by_index(0).to_python()
    assert [r[0] for r in rows] == ["subject_id", "P-1", "P-2"]


def test_a_read_only_command_on_a_file_an_older_toxdb_wrote_updates_it_first(tmp_path):
    """`status` or `export` (read-only) on a store no newer toxdb has opened yet: the missing
    migration is applied once, then the file is read (before: DuckDB's "column query_id does not
    exist" from status)."""
    import duckdb

    path = tmp_path / "old.duckdb"
    Store(path).close()
    con = duckdb.connect(str(path))          # make it the file an older toxdb left: no migration 17
    con.execute("ALTER TABLE row_flags DROP COLUMN query_id")
    con.execute("DELETE FROM schema_version WHERE version = 17")
    con.close()
    with Store(path, read_only=True) as s:
        assert s.status_counts()["flagged_rows_open"] == 0
        assert 17 in {r[0] for r in s.cursor().execute("SELECT version FROM schema_version").fetchall()}
