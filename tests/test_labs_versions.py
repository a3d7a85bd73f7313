"""Lab grades under CTCAE v5.0 and v6.0, every edge written by hand from the NCI workbooks' text
(v5: CTCAE_v5.0_2017-11-27; v6: CTCAE_v6.0.xlsx, Clean Copy). The lower bound belongs to the grade.
"""
import numpy as np
import pandas as pd
import pytest

from toxdb.clinical.labs import (
    compute_lab_grade_bands,
    derive_lab_grades,
    lab_grade_columns,
    lab_terms,
    select_lab_version,
)


def grade(version, test, value, unit, lln=None, uln=None, baseline=None):
    row = pd.DataFrame({"test": [test], "value": [value], "unit": [unit], "lln": [lln], "uln": [uln],
                        "_baseline_raw": [np.nan if baseline is None else baseline]})
    out = derive_lab_grades(row, version=version).iloc[0]
    return None if pd.isna(out["grade"]) else int(out["grade"]), out["ctcae_term"], out["grade_note"]


# (test, unit, LLN, ULN, baseline, [(value, v5 grade, v6 grade)])
EDGES = [
    # neutrophils. v5: <LLN-1.5 / <1.5-1.0 / <1.0-0.5 / <0.5. v6: <1.5-1.0 / <1.0-0.5 / <0.5-0.1 / <0.1 (no LLN grade)
    ("ANC", "10^9/L", 2.0, None, None, [(2.0, 0, 0), (1.99, 1, 0), (1.5, 1, 0), (1.49, 2, 1), (1.0, 2, 1),
                                        (0.99, 3, 2), (0.5, 3, 2), (0.49, 4, 3), (0.1, 4, 3), (0.09, 4, 4)]),
    ("ANC", "/mm3", 2000, None, None, [(1499, 2, 1), (499, 4, 3), (100, 4, 3), (99, 4, 4)]),
    # platelets. v5 Platelet count decreased: <LLN-75 / <75-50 / <50-25 / <25.
    # v6 Thrombocytopenia: <LLN-75 / <75-50 / <50-10 / <10
    ("PLT", "10^9/L", 150, None, None, [(150, 0, 0), (149, 1, 1), (75, 1, 1), (74.9, 2, 2), (50, 2, 2),
                                        (49.9, 3, 3), (25, 3, 3), (24.9, 4, 3), (10, 4, 3), (9.9, 4, 4)]),
    # WBC: the same in both: <LLN-3.0 / <3.0-2.0 / <2.0-1.0 / <1.0
    ("WBC", "10^9/L", 4.0, None, None, [(4.0, 0, 0), (3.9, 1, 1), (2.99, 2, 2), (1.99, 3, 3), (0.99, 4, 4)]),
    # lymphocytes. v5: <LLN-0.8 / <0.8-0.5 / <0.5-0.2 / <0.2. v6 Lymphopenia: grade 1 'Present' only
    ("LYM", "10^9/L", 1.0, None, None, [(1.0, 0, 0), (0.99, 1, 1), (0.79, 2, 1), (0.49, 3, 1), (0.19, 4, 1)]),
    # haemoglobin (both): <LLN-100 / <100-80 / <80 g/L
    ("HGB", "g/L", 120, None, None, [(120, 0, 0), (119, 1, 1), (100, 1, 1), (99, 2, 2), (80, 2, 2), (79, 3, 3)]),
    # albumin (both): <LLN-30 / <30-20 / <20 g/L
    ("ALB", "g/L", 35, None, None, [(35, 0, 0), (34, 1, 1), (29.9, 2, 2), (19.9, 3, 3)]),
    # ALT/AST with a normal baseline (both): >ULN-3 / >3-5 / >5-20 / >20 x ULN
    ("ALT", "U/L", None, 40, 30, [(40, 0, 0), (41, 1, 1), (120, 1, 1), (121, 2, 2), (201, 3, 3), (801, 4, 4)]),
    # ALT/AST with baseline > ULN (ULN 40, baseline 60).
    # v5: 1.5-3.0 / >3-5 / >5-20 / >20 x baseline. v6: 1.0-1.5 / >1.5-2.0 / >2.0-4.0 / >4.0 x baseline
    ("AST", "U/L", None, 40, 60, [(59, 0, 0), (60, 0, 1), (89, 0, 1), (90, 1, 1), (91, 1, 2), (120, 1, 2),
                                  (121, 1, 3), (180, 1, 3), (181, 2, 3), (240, 2, 3), (241, 2, 4),
                                  (301, 3, 4), (1201, 4, 4)]),
    # bilirubin, baseline > ULN (ULN 20, baseline 30). v5: >1.0-1.5 / >1.5-3 / >3-10 / >10 x baseline.
    # v6: 1.0-1.5 / >1.5-2.5 / >2.5-10 / >10 x baseline
    ("BILI", "umol/L", None, 20, 30, [(29, 0, 0), (30, 0, 1), (31, 1, 1), (45, 1, 1), (46, 2, 2), (75, 2, 2),
                                      (76, 2, 3), (90, 2, 3), (91, 3, 3), (300, 3, 3), (301, 4, 4)]),
    # bilirubin, normal baseline (both): >ULN-1.5 / >1.5-3 / >3-10 / >10 x ULN
    ("BILI", "umol/L", None, 20, 10, [(20, 0, 0), (21, 1, 1), (31, 2, 2), (61, 3, 3), (201, 4, 4)]),
    # GGT, baseline > ULN (ULN 60, baseline 100). v5: 2.0-2.5 / >2.5-5 / >5-20 / >20 x baseline.
    # v6: 1.0-1.5 / >1.5-3.0 / >3.0-10 / >10 x baseline
    ("GGT", "U/L", None, 60, 100, [(99, 0, 0), (100, 0, 1), (151, 0, 2), (199, 0, 2), (200, 1, 2),
                                   (251, 2, 2), (301, 2, 3), (501, 3, 3), (1001, 3, 4), (2001, 4, 4)]),
    # ALP. v5, normal baseline: >ULN-2.5 / >2.5-5 / >5-20 / >20 x ULN. v6: grade 1 only, '>Baseline and ULN'
    ("ALP", "U/L", None, 120, 100, [(120, 0, 0), (121, 1, 1), (301, 2, 1), (601, 3, 1), (2401, 4, 1)]),
    # ALP with baseline > ULN (ULN 120, baseline 200): v5 2.0-2.5 / >2.5-5 / ... x baseline; v6 above both
    ("ALP", "U/L", None, 120, 200, [(150, 0, 0), (200, 0, 0), (201, 0, 1), (399, 0, 1), (400, 1, 1), (501, 2, 1)]),
    # creatinine (ULN 111, LLN 57, baseline 80: not below LLN).
    # v5: >ULN-1.5 x ULN; >1.5-3.0 x baseline or >1.5-3.0 x ULN (2); >3.0 x baseline or >3.0-6.0 x ULN (3); >6 x ULN
    # v6: the x baseline criteria only when the baseline is below LLN
    ("CREAT", "umol/L", 57, 111, 80, [(111, 0, 0), (112, 1, 1), (120, 1, 1), (121, 2, 1), (166, 2, 1),
                                      (167, 2, 2), (240, 2, 2), (241, 3, 2), (333, 3, 2), (334, 3, 3),
                                      (666, 3, 3), (667, 4, 4)]),
    # creatinine with a baseline below LLN (LLN 57, baseline 40): both grade by baseline
    ("CREAT", "umol/L", 57, 111, 40, [(60, 0, 0), (61, 2, 2), (120, 2, 2), (121, 3, 3)]),
    # INR, not anticoagulated (both): >1.2-1.5 / >1.5-2.5 / >2.5
    ("INR", None, None, None, None, [(1.2, 0, 0), (1.21, 1, 1), (1.51, 2, 2), (2.51, 3, 3)]),
    # potassium and sodium (both)
    ("K", "mmol/L", 3.5, 5.1, None, [(5.2, 1, 1), (5.51, 2, 2), (6.01, 3, 3), (7.01, 4, 4), (3.4, 1, 1),
                                     (2.99, 3, 3), (2.49, 4, 4)]),
    ("SODIUM", "mmol/L", 135, 145, None, [(146, 1, 1), (151, 2, 2), (156, 3, 3), (161, 4, 4), (134, 1, 1),
                                          (129, 2, 2), (129.5, 2, 2), (124, 3, 3), (119, 4, 4)]),
]


@pytest.mark.parametrize(
    ("test", "unit", "lln", "uln", "baseline", "value", "g5", "g6"),
    [pytest.param(t, u, lo, hi, b, v, g5, g6, id=f"{t}-b{b}-{v}->{g5}/{g6}")
     for t, u, lo, hi, b, pairs in EDGES for v, g5, g6 in pairs],
)
def test_grade_edges_under_both_versions(test, unit, lln, uln, baseline, value, g5, g6):
    assert grade("5.0", test, value, unit, lln, uln, baseline)[0] == g5
    assert grade("6.0", test, value, unit, lln, uln, baseline)[0] == g6


def test_v5_creatinine_takes_the_higher_of_uln_and_baseline_grades():
    # the example: 121 umol/L, ULN 111, baseline 80: 1.09 x ULN (grade 1), 1.51 x baseline (grade 2)
    g, term, note = grade("5.0", "CREAT", 121, "umol/L", 57, 111, 80)
    assert (g, term) == (2, "Creatinine increased") and "baseline" in note
    # v6: baseline 80 is not below LLN 57, so only the x ULN criteria
    assert grade("6.0", "CREAT", 121, "umol/L", 57, 111, 80)[0] == 1
    # without a baseline only x ULN can be used, and the note says so
    g, _, note = grade("5.0", "CREAT", 121, "umol/L", 57, 111)
    assert g == 1 and "no baseline" in note


def test_v6_alkaline_phosphatase_needs_the_baseline_above_uln():
    assert grade("6.0", "ALP", 130, "U/L", None, 120)[0] is None        # above ULN, baseline unknown
    assert grade("6.0", "ALP", 100, "U/L", None, 120)[0] == 0           # not above ULN: 0 whatever the baseline


def test_terms_per_version():
    v5, v6 = lab_terms("5.0"), lab_terms("6.0")
    assert v5["PLT"] == ("Platelet count decreased",) and v6["PLT"] == ("Thrombocytopenia",)
    assert v5["LYM"] == ("Lymphocyte count decreased",) and v6["LYM"] == ("Lymphopenia",)
    assert v6["K"] == ("Hyperkalemia", "Hypokalemia")


def test_every_value_carries_both_grades_and_the_page_can_switch():
    labs = pd.DataFrame({"subject_id": ["A", "A"], "test": ["PLT", "ANC"], "value": [20, 1.6],
                         "unit": ["10^9/L", "10^9/L"], "lln": [150, 2.0]})
    out = derive_lab_grades(labs, version="5.0")
    assert out["grade"].tolist() == out["grade_v5"].tolist() == [4, 1]
    assert out["grade_v6"].tolist() == [3, 0]
    assert out["ctcae_term_v6"].tolist() == ["Thrombocytopenia", "Neutrophil count decreased"]
    as_v6 = select_lab_version(out, "6")
    assert as_v6["grade"].tolist() == [3, 0] and as_v6["ctcae_term"].iloc[0] == "Thrombocytopenia"
    assert derive_lab_grades(labs, version="6.0")["grade"].tolist() == [3, 0]
    assert lab_grade_columns("6.0")["grade"] == "grade_v6"


def test_grade_bands_follow_the_version():
    v6 = compute_lab_grade_bands("PLT", lln=150, version="6.0")
    assert v6[["grade", "low", "high"]].values.tolist() == [[1, 75, 150], [2, 50, 75], [3, 10, 50], [4, 0, 10]]
    # v5 creatinine, ULN 111, baseline 80: grade 2 starts at 1.5 x 80 = 120, grade 3 at 3 x 80 = 240
    cr = compute_lab_grade_bands("CREAT", lln=57, uln=111, baseline=80, version="5.0")
    assert cr[["grade", "low", "high"]].values.tolist() == [[1, 111, 120], [2, 120, 240], [3, 240, 666],
                                                             [4, 666, np.inf]]
