"""Issue 9 (2): a saved cut is frozen by the store's upload sequence, not a wall-clock second (D41)."""
import datetime as dt

import duckdb
from conftest import AE_CSV

from toxdb.ingest.upload import commit_upload, prepare_upload
from toxdb.store.cuts import DataCut, list_saved_cuts, load_snapshot
from toxdb.store.db import SCHEMA_FILE, Store

TODAY = dt.date(2026, 11, 23)
FIXED = AE_CSV.replace("P-001,AE-1,Diarrhea,2,", "P-001,AE-1,Diarrhea,3,")


def _diarrhea(snapshot):
    return snapshot.adverse_events.query("term == 'Diarrhea'")["grade"].tolist()


def test_a_correction_in_the_same_second_as_the_cut_is_not_seen_through_it(loaded_store):
    loaded_store.save_data_cut("DSMB 1", TODAY, "tester")
    (cut,) = list_saved_cuts(loaded_store)
    plan = prepare_upload(loaded_store, FIXED.encode(), "ae_fix.csv", today=TODAY)
    v = plan.validation
    loaded_store.commit_upload(                       # stamped with the cut's own second, as a fast job would be
        kind="ae", file_name="ae_fix.csv", raw=plan.raw, sha256=plan.sha256, uploaded_by="t", site=None,
        reader="csv", day_first=None, mapping={}, rows=v.rows, problems=v.problems, n_rows=3, at=cut.frozen_at)
    assert _diarrhea(load_snapshot(loaded_store, DataCut(TODAY))) == [3]
    (cut,) = list_saved_cuts(loaded_store)
    assert _diarrhea(load_snapshot(loaded_store, cut)) == [2]


def test_a_cut_names_the_last_upload_it_holds(loaded_store):
    loaded_store.save_data_cut("DSMB 1", TODAY, "tester")
    commit_upload(loaded_store, prepare_upload(loaded_store, FIXED.encode(), "ae_fix.csv", today=TODAY), "t")
    (cut,) = list_saved_cuts(loaded_store)
    assert cut.frozen_upload == 3                     # patients #1, treatment #2, AEs #3; the fix is #4
    assert "#3" in cut.label


def test_a_version_2_store_migrates_its_history_and_cuts(tmp_path):
    path = tmp_path / "v2.duckdb"
    con = duckdb.connect(str(path))                   # a store as version 2 wrote it
    con.execute(SCHEMA_FILE.read_text(encoding="utf-8"))
    con.execute("INSERT INTO schema_version (version) VALUES (1), (2)")
    con.execute("ALTER TABLE uploads ADD COLUMN raw_codec TEXT")
    for uid, at in ((1, "2026-01-01 10:00:00"), (2, "2026-01-02 10:00:00")):
        con.execute("INSERT INTO uploads (upload_id, file_name, kind, sha256, size_bytes, uploaded_by, uploaded_at,"
                    " n_rows, n_accepted, n_duplicates, n_corrections, n_rejected)"
                    " VALUES (?, 'p.csv', 'patients', 'x', 1, 'me', ?, 1, 1, 0, 0, 0)", [uid, at])
    con.execute("INSERT INTO patients (record_key, version, upload_id, row_hash, valid_from, valid_to, subject_id,"
                " site, enrolled_on) VALUES ('P-1', 1, 1, 1, '2026-01-01 10:00:00', '2026-01-02 10:00:00', 'P-1',"
                " 'A', '2025-01-01'), ('P-1', 2, 2, 2, '2026-01-02 10:00:00', NULL, 'P-1', 'B', '2025-01-01')")
    con.execute("INSERT INTO data_cuts VALUES ('old', '2025-12-31', '2026-01-01 12:00:00', 'me')")
    con.close()
    with Store(path) as s:
        (cut,) = list_saved_cuts(s)
        assert cut.frozen_upload == 1
        assert s.read_kind("patients", as_of=cut.as_of)["site"].tolist() == ["A"]
        assert s.read_kind("patients")["site"].tolist() == ["B"]
