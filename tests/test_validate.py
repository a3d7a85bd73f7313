"""Validation: every bad row is rejected with file, row, column, value and what would be accepted;
good rows of the same upload still load."""
import datetime as dt

import pandas as pd
import pytest

from toxdb.ingest.dates import parse_date
from toxdb.ingest.upload import commit_upload, prepare_upload

TODAY = dt.date(2026, 11, 23)


def _plan(store, text, name="ae.csv", **kw):
    return prepare_upload(store, text.encode("utf-8"), name, today=TODAY, **kw)


def _reasons(plan) -> dict[int, str]:
    p = plan.validation.problems
    rej = p[p["status"] == "rejected"]
    return dict(zip(rej["source_row"].tolist(), rej["reasons"].tolist()))


AE_HEADER = "subject_id,term,grade,onset_date,end_date\n"


@pytest.mark.parametrize("row, column, phrases", [
    ("P-001,Nausea,6,2025-06-20,", "grade", ["grade 6", "does not exist", "1-5"]),
    ("P-001,Nausea,0,2025-06-20,", "grade", ["grade 0"]),
    ("P-001,Nausea,x,2025-06-20,", "grade", ["not a grade"]),
    ("P-001,Nausea,2,2025-06-20,2025-06-10", "end_date", ["before the start date 2025-06-20"]),
    ("P-001,Nausea,2,2027-01-05,", "onset_date", ["in the future"]),
    ("P-999,Nausea,2,2025-06-20,", "subject_id", ["not in the patient table"]),
    ("P-001,Sore everywhere,2,2025-06-20,", "term", ["not a CTCAE v5.0 term"]),
    ("P-001,Nausea,2,2025-13-45,", "onset_date", ["not a real calendar date"]),
    ("P-001,Nausea,2,yesterday,", "onset_date", ["not a date", "accepted: 2025-06-03"]),
    ("P-001,,2,2025-06-20,", "term", ["term is required"]),
])
def test_bad_ae_rows_are_rejected_with_file_row_column_and_what_is_accepted(loaded_store, row, column, phrases):
    good = "P-001,Fatigue,1,2025-06-21,\n"
    plan = _plan(loaded_store, AE_HEADER + good + row + "\n", "site_ae.csv")
    reasons = _reasons(plan)
    assert list(reasons) == [3], reasons               # the bad row, by its line in the file
    msg = reasons[3]
    assert msg.startswith("site_ae.csv, row 3")
    assert f"column '{column}'" in msg
    for phrase in phrases:
        assert phrase in msg
    assert len(plan.validation.rows) == 1                # the good row still loads
    assert plan.summary["new"] == 1


def test_grade_words_roman_and_prefixes_are_normalised(loaded_store):
    text = AE_HEADER + "\n".join([
        "P-001,Fatigue,III,2025-06-21,", "P-001,Vomiting,Grade 2,2025-06-22,", "P-001,Anorexia,G1,2025-06-23,",
        "P-001,Diarrhea,severe,2025-06-24,"])
    plan = _plan(loaded_store, text)
    rows = plan.validation.rows.set_index("term")
    assert rows.loc["Fatigue", "grade"] == 3
    assert rows.loc["Vomiting", "grade"] == 2
    assert rows.loc["Anorexia", "grade"] == 1
    assert rows.loc["Diarrhea", "grade"] == 3
    assert rows.loc["Diarrhea", "grade_source"] == "severity"       # flagged fallback
    assert "severity" in rows.loc["Diarrhea", "flags"]
    assert pd.isna(rows.loc["Fatigue", "flags"])


def test_aesev_only_file_is_flagged_as_fallback(loaded_store):
    text = "USUBJID,AEDECOD,AESEV,AESTDTC\nP-001,Nausea,MILD,2025-06-21\nP-001,Fatigue,SEVERE,2025-06-22\n"
    plan = _plan(loaded_store, text, "ae_sdtm.csv")
    rows = plan.validation.rows.set_index("term")
    assert rows["grade"].to_dict() == {"Nausea": 1, "Fatigue": 3}
    assert set(rows["grade_source"]) == {"severity"}


def test_synonym_terms_and_case(loaded_store):
    text = AE_HEADER + "P-001,hand-foot syndrome,2,2025-06-21,\nP-001,NAUSEA,1,2025-06-22,\n" \
        "P-001,Cholangitis,3,2025-06-23,\n"
    rows = _plan(loaded_store, text).validation.rows
    assert rows["term"].tolist() == ["Palmar-plantar erythrodysesthesia syndrome", "Nausea", "Biliary tract infection"]


def test_html_in_a_term_is_rejected_as_plain_text(loaded_store):
    text = AE_HEADER + "P-001,<b onmouseover=alert(1)>Nausea</b>,1,2025-06-21,\n"
    msg = _reasons(_plan(loaded_store, text))[2]
    assert "<b onmouseover=alert(1)>Nausea</b>" in msg     # shown as the text it is, never interpreted


def test_formula_cells_are_kept_as_text(loaded_store):
    text = "subject_id,term,grade,onset_date,verbatim\nP-001,Nausea,1,2025-06-21,=1+1\nP-001,Fatigue,1,2025-06-22,@SUM(A1)\n"
    rows = _plan(loaded_store, text).validation.rows
    assert rows["verbatim"].tolist() == ["=1+1", "@SUM(A1)"]


def test_partial_onset_is_kept_with_its_precision_and_flagged(loaded_store):
    text = AE_HEADER + "P-001,Fatigue,1,2025-07,\nP-001,Nausea,1,2025,\n"
    rows = _plan(loaded_store, text).validation.rows.set_index("term")
    assert rows.loc["Fatigue", "onset_date"] == pd.Timestamp("2025-07-01")
    assert rows.loc["Fatigue", "onset_precision"] == "month"
    assert rows.loc["Nausea", "onset_precision"] == "year"
    assert "imputed" in rows.loc["Fatigue", "flags"]


def test_onset_long_before_enrolment_is_quarantined(loaded_store):
    # P-001 enrolled 2025-06-02; the screening window is 42 days: 2025-04-20 is 43 days before
    text = AE_HEADER + "P-001,Fatigue,1,2025-04-21,\nP-001,Nausea,1,2025-04-20,\n"
    reasons = _reasons(_plan(loaded_store, text))
    assert list(reasons) == [3]
    assert "more than 42 days before enrolment 2025-06-02" in reasons[3]


@pytest.mark.parametrize("text, day_first, expected", [
    ("03/06/2025", True, dt.date(2025, 6, 3)),
    ("03/06/2025", False, dt.date(2025, 3, 6)),
    ("2025-06-03T14:30", None, dt.date(2025, 6, 3)),
    ("2025/06/03", None, dt.date(2025, 6, 3)),
    ("45811", None, dt.date(2025, 6, 3)),      # Excel serial: 1899-12-30 + 45811 days
    ("03JUN2025", None, dt.date(2025, 6, 3)),
    ("3-Jun-2025", None, dt.date(2025, 6, 3)),
    ("2025-06", None, dt.date(2025, 6, 1)),
])
def test_date_forms(text, day_first, expected):
    assert parse_date(text, day_first).value == expected


def test_unknown_part_iso_date_is_not_a_date():
    p = parse_date("-----T12:00", None)
    assert p.value is None and "unknown" in p.problem


def test_mixed_date_formats_in_one_column_follow_one_order_for_the_upload(loaded_store):
    text = AE_HEADER + "P-001,Fatigue,1,2025-06-21,\nP-001,Nausea,1,25/06/2025,\nP-001,Vomiting,1,03/07/2025,\n"
    plan = _plan(loaded_store, text)
    rows = plan.validation.rows.set_index("term")
    # 25/06/2025 can only be day-first, so the whole upload is read day-first: 03/07 is 3 July
    assert rows.loc["Vomiting", "onset_date"] == pd.Timestamp("2025-07-03")
    assert rows.loc["Nausea", "onset_date"] == pd.Timestamp("2025-06-25")
    assert rows.loc["Fatigue", "onset_date"] == pd.Timestamp("2025-06-21")
    assert any("day-first" in n for n in plan.notes)


def test_ambiguous_slash_dates_are_not_guessed(loaded_store):
    text = AE_HEADER + "P-001,Nausea,1,06/07/2025,\n"
    reasons = _reasons(_plan(loaded_store, text))
    assert "day-first or month-first" in reasons[2]
    rows = _plan(loaded_store, text, day_first=False).validation.rows
    assert rows["onset_date"].tolist() == [pd.Timestamp("2025-06-07")]
    rows = _plan(loaded_store, text, day_first=True).validation.rows
    assert rows["onset_date"].tolist() == [pd.Timestamp("2025-07-06")]


def test_same_row_twice_in_one_file_counts_once(loaded_store):
    text = AE_HEADER + "P-001,Fatigue,1,2025-06-21,\nP-001,Fatigue,1,2025-06-21,\n"
    plan = _plan(loaded_store, text)
    assert plan.summary["new"] == 1 and plan.summary["duplicates"] == 1 and plan.summary["rejected"] == 0


def test_same_key_other_values_in_one_file_rejects_the_later_row(loaded_store):
    text = AE_HEADER + "P-001,Fatigue,1,2025-06-21,\nP-001,Fatigue,2,2025-06-21,\n"
    reasons = _reasons(_plan(loaded_store, text))
    assert list(reasons) == [3] and "as row 2 but with other values" in reasons[3]


def test_patients_file_checks(store):
    text = ("subject_id,enrolled_on,sex,height_cm,serum_creatinine,serum_creatinine_unit,agent\n"
            "A-1,2025-06-01,F,162,0.8,mg/dL,Xeloda\n"
            "A-2,2025-06-01,X,1.62,0.8,mmol/L,aspirin\n")
    plan = prepare_upload(store, text.encode(), "patients.csv", today=TODAY)
    assert plan.kind == "patients"
    rows = plan.validation.rows
    # optional columns (issue 10): the row is kept, each bad value left empty and flagged with why
    assert rows["agent"].tolist()[0] == "capecitabine" and pd.isna(rows["agent"].tolist()[1])
    assert rows.iloc[1][["sex", "height_cm", "serum_creatinine", "serum_creatinine_unit"]].isna().all()
    flags = plan.validation.flags
    assert set(flags["source_row"]) == {3}
    msg = " ".join(flags["message"])
    for phrase in ["M or F", "centimetres", "capecitabine or S-1", "mg/dL or umol/L", "left empty"]:
        assert phrase in msg
    assert {"sex", "height_cm", "agent", "serum_creatinine_unit"} <= set(flags["column"])


def test_treatment_log_rejects_unknown_treatments_and_accepts_zero_dose(loaded_store):
    text = ("USUBJID,EXTRT,EXDOSE,EXDOSU,EXSTDTC,EXENDTC\nP-003,S1,0,mg,2025-08-01,2025-08-14\n"
            "P-003,PLACEBO,0,mg,2025-08-01,2025-08-14\n")
    plan = prepare_upload(loaded_store, text.encode(), "ex.csv", today=TODAY)
    assert plan.kind == "treatment"
    rows = plan.validation.rows
    assert rows["treatment"].tolist() == ["S-1"] and rows["dose"].tolist() == [0.0]
    assert "RT, capecitabine or S-1" in _reasons(plan)[3]


def test_a_good_upload_with_bad_rows_still_loads_the_good_ones(loaded_store, tmp_path):
    text = AE_HEADER + "P-001,Fatigue,1,2025-06-21,\nP-001,Nausea,7,2025-06-22,\nP-002,Vomiting,2,2025-07-03,\n"
    plan = _plan(loaded_store, text)
    counts = commit_upload(loaded_store, plan, "tester")
    assert (counts.accepted, counts.rejected) == (2, 1)
    kept = loaded_store.rejected_rows(counts.upload_id)
    assert kept["source_row"].tolist() == [3]
    assert '"grade": "7"' in kept["raw"].iloc[0]           # the row's own cells are kept
