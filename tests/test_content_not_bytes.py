"""Issue 9 (1): what an upload does depends on its rows, never on its bytes (decision D40)."""
import datetime as dt

from conftest import AE_CSV

from toxdb.ingest.upload import commit_upload, describe_plan, prepare_upload

TODAY = dt.date(2026, 11, 23)
FIXED = AE_CSV.replace("P-001,AE-1,Diarrhea,2,", "P-001,AE-1,Diarrhea,3,")


def _load(store, text: str, name: str):
    plan = prepare_upload(store, text.encode(), name, today=TODAY)
    return plan, commit_upload(store, plan, "tester")


def _grade(store, term="Diarrhea"):
    return store.read_kind("ae").query("term == @term")["grade"].tolist()


def test_resending_the_original_after_a_correction_reverts_it_as_a_new_version(loaded_store):
    _load(loaded_store, FIXED, "ae_fix.csv")
    assert _grade(loaded_store) == [3]
    plan = prepare_upload(loaded_store, AE_CSV.encode(), "ae.csv", today=TODAY)   # the very first bytes again
    assert (plan.summary["new"], plan.summary["corrections"], plan.summary["duplicates"]) == (0, 1, 2)
    assert not plan.adds_nothing
    counts = commit_upload(loaded_store, plan, "tester")
    assert counts is not None and counts.corrections == 1
    assert _grade(loaded_store) == [2]
    history = loaded_store.read_kind("ae", with_history=True).query("term == 'Diarrhea'")
    assert history["grade"].tolist() == [2, 3, 2] and history["version"].tolist() == [1, 2, 3]


def test_a_file_whose_rows_match_the_store_adds_nothing_whatever_its_bytes(loaded_store):
    before = (loaded_store.status_counts(), len(loaded_store.read_kind("ae", with_history=True)))
    other_bytes = AE_CSV.replace("subject_id,ae_ref", "USUBJID,AESPID").replace("\n", "\r\n") + "\n"
    for text, name in ((AE_CSV, "ae_again.csv"), (other_bytes, "ae_other_bytes.csv")):
        plan, counts = _load(loaded_store, text, name)
        assert plan.adds_nothing and counts is None
        assert "nothing to add" in describe_plan(plan)
    assert (loaded_store.status_counts(), len(loaded_store.read_kind("ae", with_history=True))) == before


def test_the_preview_names_each_value_that_will_change(loaded_store):
    plan = prepare_upload(loaded_store, FIXED.encode(), "ae_fix.csv", today=TODAY)
    changes = plan.changes()
    assert changes[["source_row", "column", "stored", "incoming"]].values.tolist() == [[2, "grade", "2", "3"]]
    assert "1 correction" in describe_plan(plan)


def test_same_bytes_with_rejected_rows_are_not_recorded_twice(loaded_store):
    text = AE_CSV + "P-002,AE-9,Nausea,9,2025-07-11,,N,possible\n"
    _, first = _load(loaded_store, text, "ae_bad.csv")
    assert first.rejected == 1
    rejected_before = loaded_store.status_counts()["rejected_rows"]
    plan, again = _load(loaded_store, text, "ae_bad.csv")
    assert again is None and plan.adds_nothing
    assert loaded_store.status_counts()["rejected_rows"] == rejected_before
