"""Issue 10, real files' side tables (D58): a file whose only event name is the reported term loads
(the term read from it, the verbatim kept); a required date that cannot be found is asked for in
words, naming the file's date columns; a birth date given only to the month or year keeps the row."""
import datetime as dt

from toxdb.ingest.mapping import load_column_fallbacks
from toxdb.ingest.upload import commit_upload, describe_plan, prepare_upload

TODAY = dt.date(2026, 11, 23)


def _plan(store, text, name="ae.csv", **kw):
    return prepare_upload(store, text.encode("utf-8"), name, today=TODAY, **kw)


def test_the_fallback_table_is_data_and_names_why():
    assert ("term", "verbatim") in load_column_fallbacks()["ae"]


def test_a_reported_term_alone_is_read_as_the_term_and_kept_as_the_verbatim(loaded_store):
    # rawplus-style headers: aeterm (the reported term), no coded term column
    text = "subjectid,aeterm,aetoxgr,aest_dt\nP-001,NAUSEA,2,2025-06-22\nP-001,Tummy ache,1,2025-06-23\n"
    plan = _plan(loaded_store, text)
    assert plan.kind == "ae" and not plan.mapping.missing_required
    assert plan.mapping.columns["term"] == plan.mapping.columns["verbatim"] == "aeterm"
    counts = commit_upload(loaded_store, plan, "t")
    assert (counts.accepted, counts.rejected) == (2, 0)
    ae = loaded_store.read_kind("ae")
    new = ae[ae["onset_date"].astype(str).str[:10].isin(["2025-06-22", "2025-06-23"])].sort_values("onset_date")
    assert new["term"].tolist() == ["Nausea", "Abdominal pain"]           # lay word -> CTCAE (D51 table)
    assert new["verbatim"].tolist() == ["NAUSEA", "Tummy ache"]


def test_a_coded_term_wins_over_the_reported_one(loaded_store):
    text = "USUBJID,AETERM,AEDECOD,AETOXGR,AESTDTC\nP-001,queasy,Nausea,1,2025-06-22\n"
    plan = _plan(loaded_store, text)
    assert plan.mapping.columns["term"] == "AEDECOD" and plan.mapping.columns["verbatim"] == "AETERM"


def test_a_missing_enrolment_date_is_asked_for_naming_the_date_columns(store):
    text = ("subjectid,siteid,record_dt,firstdosedate,sex,comment\n"
            "X-1,5,2013-11-26T00:00:00,2013-12-31,M,2013 was a good year\nX-2,5,2014-01-02T00:00:00,,F,\n")
    plan = _plan(store, text, "rawplus_dm.csv", kind="patients")
    assert plan.mapping.missing_required == ["enrolled_on"]
    words = describe_plan(plan)
    # both date columns are named (an empty cell does not count against one); the free-text one is not
    assert "Columns of this file that hold dates: record_dt, firstdosedate." in words
    assert "is the enrolment date?" in words and "comment" not in words.split("hold dates")[1]


def test_a_birth_date_given_only_to_the_year_keeps_the_row_and_is_flagged(store):
    text = ("subject_id,site,enrolled_on,birth_date,sex\nX-1,S,2025-01-10,1951----,M\n"
            "X-2,S,2025-01-11,1964-06--,F\nX-3,S,2025-01-12,1970-03-04,F\n")
    plan = _plan(store, text, "dm.csv")
    counts = commit_upload(store, plan, "t")
    assert (counts.accepted, counts.rejected, counts.flagged) == (3, 0, 2)
    pts = store.read_kind("patients").set_index("subject_id")
    assert pts["birth_date"].isna().tolist() == [True, True, False]
    flags = store.flags(counts.upload_id)
    assert set(flags["code"]) == {"value_left_empty"} and flags["message"].str.contains("birth date given only").all()


def test_a_side_table_adds_its_values_to_stored_patients_and_keeps_the_rest(loaded_store):
    before = loaded_store.read_kind("patients").set_index("subject_id")
    # UHN demography.csv style: the subject and one column toxdb reads; ids written with other case/spaces
    text = "Subject,GENDER_CODE\np-001 ,Female\nP-002,Female\n"
    plan = _plan(loaded_store, text, "demography.csv")
    assert plan.kind == "patients" and plan.ready
    assert any("side table" in n and "sex" in n for n in plan.notes)
    counts = commit_upload(loaded_store, plan, "t")
    assert (counts.accepted, counts.corrections, counts.rejected) == (0, 1, 0)   # P-002 is already F
    after = loaded_store.read_kind("patients").set_index("subject_id")
    assert after.loc["P-001", "sex"] == "F" and before.loc["P-001", "sex"] == "M"
    same = ["site", "enrolled_on", "height_cm", "weight_kg", "serum_creatinine", "agent"]
    assert after.loc["P-001", same].tolist() == before.loc["P-001", same].tolist()
    assert sorted(after.index) == sorted(before.index)                # no new patient


def test_a_file_naming_a_patient_not_stored_is_no_side_table_and_is_asked_about(loaded_store):
    plan = _plan(loaded_store, "Subject,GENDER_CODE\nP-001,Female\nP-999,Male\n", "demography.csv")
    assert plan.mapping.missing_required == ["enrolled_on"] and not plan.ready
