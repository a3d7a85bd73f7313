"""CTCAE v5.0 dictionary, term matching and grade normalisation.

Expected values are written by hand from clinical-rules.md section 9 and data-contract.md; the
tests use only the packaged CSVs (never ../shared/reference).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from toxdb.clinical import ctcae
from toxdb.clinical.ctcae import (
    TermMatch,
    allowed_grades,
    allowed_range,
    derive_ctcae_terms,
    derive_grade_allowed,
    derive_grades,
    load_ctcae,
    match_term,
    normalise_grade,
)

# clinical-rules.md section 9: term, MedDRA code, grades that exist
SECTION_9 = [
    ("Palmar-plantar erythrodysesthesia syndrome", "10054524", (1, 2, 3)),
    ("Diarrhea", "10012727", (1, 2, 3, 4, 5)),
    ("Nausea", "10028813", (1, 2, 3)),
    ("Vomiting", "10047700", (1, 2, 3, 4, 5)),
    ("Fatigue", "10016256", (1, 2, 3)),
    ("Mucositis oral", "10028130", (1, 2, 3, 4, 5)),
    ("Anorexia", "10002646", (1, 2, 3, 4, 5)),
    ("Abdominal pain", "10000081", (1, 2, 3)),
    ("Dermatitis radiation", "10061103", (1, 2, 3, 4, 5)),
    ("Gastritis", "10017853", (1, 2, 3, 4, 5)),
    ("Duodenal ulcer", "10013836", (1, 2, 3, 4, 5)),
    ("Upper gastrointestinal hemorrhage", "10055356", (1, 2, 3, 4, 5)),
    ("Biliary tract infection", "10061695", (2, 3, 4, 5)),
    ("Hepatic failure", "10019663", (3, 4, 5)),
    ("Febrile neutropenia", "10016288", (3, 4, 5)),
    ("Neutrophil count decreased", "10029366", (1, 2, 3, 4)),
    ("Platelet count decreased", "10035528", (1, 2, 3, 4)),
    ("Anemia", "10002272", (1, 2, 3, 4, 5)),
    ("White blood cell decreased", "10049182", (1, 2, 3, 4)),
    ("Lymphocyte count decreased", "10025256", (1, 2, 3, 4)),
    ("Alanine aminotransferase increased", "10001551", (1, 2, 3, 4)),
    ("Aspartate aminotransferase increased", "10003481", (1, 2, 3, 4)),
    ("Blood bilirubin increased", "10005364", (1, 2, 3, 4)),
    ("Alkaline phosphatase increased", "10001675", (1, 2, 3, 4)),
    ("Creatinine increased", "10011368", (1, 2, 3, 4)),
    ("Hypoalbuminemia", "10020943", (1, 2, 3, 4, 5)),
    ("Death NOS", "10011914", (5,)),
]

LAB_TERMS = [
    "Neutrophil count decreased",
    "Platelet count decreased",
    "White blood cell decreased",
    "Lymphocyte count decreased",
    "Alanine aminotransferase increased",
    "Aspartate aminotransferase increased",
    "Blood bilirubin increased",
    "Alkaline phosphatase increased",
    "GGT increased",
    "Creatinine increased",
    "INR increased",
]


# ------------------------------------------------------------------------------------------
# the dictionary


def test_dictionary_is_packaged_not_read_from_shared():
    assert ctcae.TERMS_CSV.is_file()
    assert Path(ctcae.__file__).parents[1] in ctcae.TERMS_CSV.parents     # inside the toxdb package
    assert "shared" not in ctcae.TERMS_CSV.parts


def test_dictionary_has_837_unique_terms():
    terms = load_ctcae()
    assert list(terms.columns) == ["meddra_code", "soc", "term", "grade_min", "grade_max", "grades"]
    assert len(terms) == 837
    assert terms["term"].is_unique
    assert terms["meddra_code"].is_unique
    assert terms["meddra_code"].str.fullmatch(r"\d{8}").all()
    assert terms["soc"].nunique() == 26
    assert (terms["grade_min"] >= 1).all() and (terms["grade_max"] <= 5).all()
    assert (terms["grade_min"] <= terms["grade_max"]).all()


def test_load_ctcae_returns_a_copy_safe_to_modify():
    first = load_ctcae()
    first["term"] = "changed"
    assert load_ctcae()["term"].iloc[0] != "changed"


@pytest.mark.parametrize(("term", "code", "grades"), SECTION_9)
def test_section_9_codes_and_grades(term, code, grades):
    row = load_ctcae().set_index("term").loc[term]
    assert row["meddra_code"] == code
    assert allowed_grades(term) == grades
    assert (row["grade_min"], row["grade_max"]) == (grades[0], grades[-1])


@pytest.mark.parametrize(
    ("term", "text"),
    [
        ("Nausea", "1-3"),
        ("Hepatic failure", "3-5"),
        ("Death NOS", "5"),
        ("Biliary tract infection", "2-5"),
        ("Diarrhea", "1-5"),
        ("Eosinophilia", "1,3"),  # NCI sheet: grades 2 and 4 do not exist
    ],
)
def test_grades_column_text(term, text):
    assert load_ctcae().set_index("term").loc[term, "grades"] == text


@pytest.mark.parametrize(
    ("term", "expected"),
    [("Nausea", "1–3"), ("Hepatic failure", "3–5"), ("Death NOS", "5"), ("eosinophilia", "1, 3")],
)
def test_allowed_range_text(term, expected):
    assert allowed_range(term) == expected


def test_allowed_grades_any_case_and_unknown_term():
    assert allowed_grades("NAUSEA") == (1, 2, 3)
    with pytest.raises(KeyError, match="not a CTCAE"):
        allowed_grades("Bellyache")


def test_synonym_targets_are_ctcae_terms():
    synonyms = pd.read_csv(ctcae.SYNONYMS_CSV, dtype="string")
    assert list(synonyms.columns) == ["synonym", "term", "source"]      # every row names where it comes from
    assert synonyms["source"].str.len().min() > 5
    assert synonyms["term"].isin(load_ctcae()["term"]).all()


@pytest.mark.parametrize("term", [t for t, _, _ in SECTION_9] + LAB_TERMS)
def test_every_term_maps_to_itself(term):
    match = match_term(term)
    assert (match.term, match.matched_by) == (term, "exact")


# ------------------------------------------------------------------------------------------
# grades a term allows


def test_nausea_grade_4_not_allowed_with_range_in_message():
    df = pd.DataFrame({"term": ["Nausea", "Nausea"], "grade": pd.array([4, 3], dtype="Int64")})
    out = derive_grade_allowed(df)
    assert out["grade_allowed"].tolist() == [False, True]
    assert out["allowed_range"].tolist() == ["1–3", "1–3"]
    assert "1–3" in out["grade_allowed_note"].iloc[0]
    assert "grade 4" in out["grade_allowed_note"].iloc[0]
    assert pd.isna(out["grade_allowed_note"].iloc[1])


@pytest.mark.parametrize("term", LAB_TERMS)
def test_lab_terms_have_no_grade_5(term):
    out = derive_grade_allowed(pd.DataFrame({"term": [term], "grade": [5]}))
    assert out["grade_allowed"].tolist() == [False]
    assert out["allowed_range"].iloc[0] in ("1–4", "1–3")


@pytest.mark.parametrize(
    ("term", "grade", "allowed", "range_text"),
    [
        ("Death NOS", 5, True, "5"),
        ("Death NOS", 4, False, "5"),
        ("Hepatic failure", 2, False, "3–5"),
        ("Hepatic failure", 3, True, "3–5"),
        ("Febrile neutropenia", 2, False, "3–5"),
        ("Biliary tract infection", 1, False, "2–5"),
        ("Eosinophilia", 2, False, "1, 3"),
        ("Eosinophilia", 3, True, "1, 3"),
        ("Diarrhea", 5, True, "1–5"),
        ("nausea", 3, True, "1–3"),
    ],
)
def test_grade_allowed_table(term, grade, allowed, range_text):
    out = derive_grade_allowed(pd.DataFrame({"t": [term], "g": [grade]}), term_col="t", grade_col="g")
    assert out["grade_allowed"].iloc[0] == allowed
    assert out["allowed_range"].iloc[0] == range_text


def test_grade_allowed_is_na_for_unknown_term_or_missing_grade():
    df = pd.DataFrame(
        {"term": ["Bellyache", "Nausea", None], "grade": pd.array([2, None, 1], dtype="Int64")},
        index=[10, 11, 12],
    )
    out = derive_grade_allowed(df)
    assert out.index.tolist() == [10, 11, 12]
    assert out["grade_allowed"].isna().tolist() == [True, True, True]
    assert pd.isna(out["allowed_range"].iloc[0])
    assert out["allowed_range"].iloc[1] == "1–3"


# ------------------------------------------------------------------------------------------
# term matching


@pytest.mark.parametrize(
    ("text", "term", "how"),
    [
        ("Nausea", "Nausea", "exact"),
        ("nausea", "Nausea", "case"),
        ("  NAUSEA  ", "Nausea", "case"),
        ("Abdominal   pain", "Abdominal pain", "case"),
        ("hand-foot syndrome", "Palmar-plantar erythrodysesthesia syndrome", "synonym"),
        ("Hand foot syndrome", "Palmar-plantar erythrodysesthesia syndrome", "synonym"),
        ("HFS", "Palmar-plantar erythrodysesthesia syndrome", "synonym"),
        ("PPE", "Palmar-plantar erythrodysesthesia syndrome", "synonym"),
        ("palmar-plantar erythrodysesthesia", "Palmar-plantar erythrodysesthesia syndrome", "synonym"),
        ("stomatitis", "Mucositis oral", "synonym"),
        ("Neutropenia", "Neutrophil count decreased", "synonym"),
        ("thrombocytopenia", "Platelet count decreased", "synonym"),
        ("leukopenia", "White blood cell decreased", "synonym"),
        ("lymphopenia", "Lymphocyte count decreased", "synonym"),
        ("hyperbilirubinemia", "Blood bilirubin increased", "synonym"),
        ("Hyperbilirubinaemia", "Blood bilirubin increased", "synonym"),
        ("cholangitis", "Biliary tract infection", "synonym"),
        ("radiation dermatitis", "Dermatitis radiation", "synonym"),
        ("ALT increased", "Alanine aminotransferase increased", "synonym"),
        ("AST increased", "Aspartate aminotransferase increased", "synonym"),
        ("decreased appetite", "Anorexia", "synonym"),
        ("DIARRHOEA", "Diarrhea", "synonym"),
        ("anaemia", "Anemia", "synonym"),
        ("Upper gastrointestinal haemorrhage", "Upper gastrointestinal hemorrhage", "synonym"),
        ("Hypokalaemia", "Hypokalemia", "synonym"),
        ("febrile neutropaenia", "Febrile neutropenia", "synonym"),
        ("Palmar plantar erythrodysesthesia syndrome", "Palmar-plantar erythrodysesthesia syndrome", "synonym"),
    ],
)
def test_match_term_table(text, term, how):
    match = match_term(text)
    assert isinstance(match, TermMatch)
    assert (match.term, match.matched_by) == (term, how)
    assert match.suggestions == []


def test_uhn_soc_prefix_form():
    match = match_term("Gastrointestinal disorders  >>  Abdominal pain")
    assert match.term == "Abdominal pain"
    assert match.soc == "Gastrointestinal disorders"
    assert match.meddra_code == "10000081"
    assert match.matched_by == "soc_prefix"


def test_uhn_soc_prefix_with_synonym_on_the_right():
    match = match_term("Infections and infestations >> Cholangitis")
    assert (match.term, match.matched_by) == ("Biliary tract infection", "soc_prefix")


@pytest.mark.parametrize(
    ("text", "term", "specified"),
    [
        ("Gastrointestinal disorders - Other, specify", "Gastrointestinal disorders - Other, specify", None),
        ("gastrointestinal disorders - other, specify: bloating", "Gastrointestinal disorders - Other, specify", "bloating"),
        ("Skin and subcutaneous tissue disorders - Other (nail pitting)", "Skin and subcutaneous tissue disorders - Other, specify", "nail pitting"),
        (
            "Gastrointestinal disorders  >>  Gastrointestinal disorders - Other, specify",
            "Gastrointestinal disorders - Other, specify",
            None,
        ),
        (
            "Musculoskeletal and connective tissue disorders  >>  Musculoskeletal and connective tissue disorder - Other, specify",
            "Musculoskeletal and connective tissue disorder - Other, specify",
            None,
        ),
    ],
)
def test_other_specify_terms(text, term, specified):
    match = match_term(text)
    assert (match.term, match.matched_by, match.specified) == (term, "other_specify", specified)


@pytest.mark.parametrize(
    ("text", "expected_in_suggestions"),
    [
        ("Nausae", "Nausea"),
        ("abdominal pains", "Abdominal pain"),
        ("Diarhea", "Diarrhea"),
        ("Gastrointestinal disorders >> Abdominal pian", "Abdominal pain"),
    ],
)
def test_unknown_term_gets_suggestions(text, expected_in_suggestions):
    match = match_term(text)
    assert match.term is None and match.matched_by is None
    assert expected_in_suggestions in match.suggestions
    assert 1 <= len(match.suggestions) <= 3


def test_transaminitis_is_not_guessed():
    # could be ALT or AST: the coordinator must choose
    assert match_term("transaminitis").term is None


@pytest.mark.parametrize("value", [None, float("nan"), pd.NA, "", "   "])
def test_missing_term_is_unmatched_without_suggestions(value):
    match = match_term(value)
    assert match.term is None and match.suggestions == []


def test_derive_ctcae_terms_columns_index_and_missing():
    terms = pd.Series(
        ["Nausea", None, "hand-foot syndrome", "Nausae", "Gastrointestinal disorders  >>  Abdominal pain"],
        index=[5, 6, 7, 8, 9],
        dtype="string",
    )
    out = derive_ctcae_terms(terms)
    assert out.index.tolist() == [5, 6, 7, 8, 9]
    assert {"term", "soc", "meddra_code", "matched_by", "suggestions"} <= set(out.columns)
    assert out["term"].tolist()[0] == "Nausea"
    assert out["term"].isna().tolist() == [False, True, False, True, False]
    assert out["matched_by"].tolist()[2] == "synonym"
    assert out["matched_by"].tolist()[4] == "soc_prefix"
    assert "Nausea" in out["suggestions"].iloc[3].split("; ")
    assert pd.isna(out["suggestions"].iloc[0]) and pd.isna(out["suggestions"].iloc[1])


def test_derive_ctcae_terms_object_column_with_numbers():
    out = derive_ctcae_terms(pd.Series(["Fatigue", 3, np.nan], dtype=object))
    assert out["term"].tolist()[0] == "Fatigue"
    assert out["term"].isna().tolist() == [False, True, True]


def test_derive_ctcae_terms_is_fast_on_a_million_rows():
    distinct = [f"unknown thing {i}" for i in range(40)] + ["Nausea", "nausea", "hand-foot syndrome"] * 20
    rng = np.random.default_rng(1)
    terms = pd.Series(np.array(distinct, dtype=object)[rng.integers(0, len(distinct), 1_000_000)])
    start = time.perf_counter()
    out = derive_ctcae_terms(terms)
    assert time.perf_counter() - start < 5
    assert len(out) == 1_000_000
    assert (out["term"].notna() == terms.isin(["Nausea", "nausea", "hand-foot syndrome"])).all()


# ------------------------------------------------------------------------------------------
# grades as written


@pytest.mark.parametrize(
    ("value", "grade"),
    [
        (1, 1),
        (5, 5),
        (np.int64(2), 2),
        (3.0, 3),
        ("1", 1),
        ("5", 5),
        ("1.0", 1),
        (" 4 ", 4),
        ("Grade 3", 3),
        ("grade3", 3),
        ("GRADE 2", 2),
        ("G3", 3),
        ("g 1", 1),
        ("gr 3", 3),
        ("Gr. 4", 4),
        ("I", 1),
        ("II", 2),
        ("III", 3),
        ("iv", 4),
        ("V", 5),
        ("Grade III", 3),
    ],
)
def test_grade_accepted(value, grade):
    assert normalise_grade(value) == (grade, "grade", None)


@pytest.mark.parametrize(
    ("value", "grade"),
    [("mild", 1), ("MODERATE", 2), ("Severe", 3), ("life-threatening", 4), ("fatal", 5), ("death", 5)],
)
def test_severity_words_are_a_flagged_fallback(value, grade):
    got, source, problem = normalise_grade(value)
    assert (got, source) == (grade, "severity")
    assert problem is not None and "severity" in problem


@pytest.mark.parametrize(
    ("value", "says"),
    [
        (0, "grade 0"),
        ("0", "grade 0"),
        (6, "grade 6"),
        ("VI", "grade 6"),
        ("x", "not a grade"),
        ("2.5", "not a whole grade"),
        (2.5, "not a whole grade"),
        ("very bad", "not a grade"),
        (True, "not a grade"),
        (None, "missing"),
        ("", "missing"),
    ],
)
def test_grade_rejected_with_reason_naming_what_is_accepted(value, says):
    grade, source, reason = normalise_grade(value)
    assert grade is None and source is None
    assert says in reason
    assert "1-5" in reason and "Grade 3" in reason


def test_derive_grades_vectorised():
    values = pd.Series(["III", None, 3, "severe", "x", "G2", 3], index=list("abcdefg"), dtype=object)
    out = derive_grades(values)
    assert out.index.tolist() == list("abcdefg")
    assert str(out["grade"].dtype) == "Int64"
    assert out["grade"].tolist()[:1] == [3]
    assert out["grade"].isna().tolist() == [False, True, False, False, True, False, False]
    assert out["grade"].dropna().tolist() == [3, 3, 3, 2, 3]
    assert out["grade_source"].tolist()[3] == "severity"
    assert out["grade_problem"].notna().tolist() == [False, True, False, True, True, False, False]
