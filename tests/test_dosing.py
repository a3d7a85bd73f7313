"""Dose advice: hand-worked cases first (expected values, with the hand calculation in a comment),
then hypothesis properties. The trial file is the repository's trial.toml."""
from __future__ import annotations

import datetime as dt
import itertools
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toxdb.clinical.formulas import compute_bsa, compute_child_pugh, compute_crcl
from toxdb.dosing.capecitabine import derive_capecitabine_steps
from toxdb.dosing.engine import advise_patient, compute_dose_advice
from toxdb.dosing.s1 import compute_s1_starting_dose
from toxdb.dosing.tablets import format_tablets, round_to_tablets
from toxdb.trial import load_trial

TRIAL = load_trial()
CUT = dt.date(2025, 9, 1)
GI = "Gastrointestinal disorders"
HFS = "Palmar-plantar erythrodysesthesia syndrome"
# BSA 2.0 exactly: sqrt(160 × 90 / 3600) = sqrt(4) = 2; CrCl (140 − 68) × 72 / (72 × 1.0) = 72 (male)
BSA2 = dict(subject_id="P1", sex="M", age=68, height_cm=160, weight_kg=90, serum_creatinine=1.0,
            serum_creatinine_unit="mg/dL")
PATIENT_CRCL = dict(BSA2, weight_kg=72)   # CrCl = 140 − age: age controls CrCl exactly


def events(*rows, subject="P1"):
    """rows: (term, grade, onset 'YYYY-MM-DD', end or None, soc='')."""
    out = []
    for r in rows:
        term, grade, onset, end, *soc = r
        out.append(dict(subject_id=subject, term=term, worst_grade=grade, onset_date=pd.Timestamp(onset),
                        end_date=pd.Timestamp(end) if end else pd.NaT, phase="maintenance",
                        soc=soc[0] if soc else ""))
    return pd.DataFrame(out, columns=["subject_id", "term", "worst_grade", "onset_date", "end_date", "phase", "soc"])


def series(term, grades, ongoing_last=False, soc=GI, start="2025-06-01"):
    """One term's successive events, each 14 days apart and resolved after 5 days."""
    rows = []
    for i, g in enumerate(grades):
        onset = pd.Timestamp(start) + pd.Timedelta(days=14 * i)
        end = None if (ongoing_last and i == len(grades) - 1) else str((onset + pd.Timedelta(days=5)).date())
        rows.append((term, g, str(onset.date()), end, soc))
    return rows


def one(advice, agent):
    found = [a for a in advice if a.agent == agent]
    assert len(found) == 1, advice
    return found[0]


def cape(patient=BSA2, ev=None, labs=None, treatment=None, phase="maintenance", cut=CUT, on_rt=None):
    return one(advise_patient(patient, ev, labs, treatment, trial=TRIAL, cut=cut, agent="capecitabine",
                              phase=phase, on_rt=on_rt), "capecitabine")


def s1(patient=BSA2, ev=None, labs=None, treatment=None, phase="maintenance", cut=CUT, on_rt=None):
    return one(advise_patient(patient, ev, labs, treatment, trial=TRIAL, cut=cut, agent="S-1",
                              phase=phase, on_rt=on_rt), "S-1")


def labs_df(*rows, subject="P1"):
    """rows: (test_code, value, uln, 'YYYY-MM-DD')."""
    return pd.DataFrame([dict(subject_id=subject, test_code=t, si_value=v, uln=u, lln=np.nan,
                              collected_on=pd.Timestamp(d)) for t, v, u, d in rows])


# ------------------------------------------------------------------------------------------------
# Formulas
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("expected, height, weight, method", [
    (2.0, 160, 90, "mosteller"),        # sqrt(160×90/3600) = sqrt(14400/3600) = sqrt(4) = 2
    (1.5, 150, 54, "mosteller"),        # sqrt(8100/3600) = sqrt(2.25) = 1.5
    (1.8181, 170, 70, "mosteller"),     # sqrt(11900/3600) = sqrt(3.30556) = 1.81812
    (1.8097, 170, 70, "dubois"),        # 0.007184 × 70^0.425 (6.0837) × 170^0.725 (41.407) = 1.8097
    (1.0, 100, 36, "mosteller"),        # sqrt(3600/3600) = 1
    (0.9285, 100, 36, "dubois"),        # 0.007184 × 36^0.425 (4.5859) × 100^0.725 (10^1.45 = 28.184) = 0.9285
])
def test_bsa_hand_values(expected, height, weight, method):
    assert compute_bsa(height, weight, method) == pytest.approx(expected, abs=1e-4)


def test_bsa_vectorised_and_missing():
    heights = pd.Series([160, 150, None, 170], index=list("abcd"))
    weights = pd.Series([90, 54, 60, 0], index=list("abcd"))
    out = compute_bsa(heights, weights)
    assert list(out.index) == list("abcd")
    assert out.iloc[:2].tolist() == pytest.approx([2.0, 1.5])
    assert out.iloc[2:].isna().all()            # missing height, zero weight -> NaN
    arr = compute_bsa(np.array([160.0, 150.0]), np.array([90.0, 54.0]), "mosteller")
    assert isinstance(arr, np.ndarray) and arr.tolist() == pytest.approx([2.0, 1.5])
    assert math.isnan(compute_bsa(None, 70))
    with pytest.raises(ValueError, match="mosteller"):
        compute_bsa(170, 70, "haycock")


@pytest.mark.parametrize("expected, age, weight, scr, unit, sex", [
    (72.0, 68, 72, 1.0, "mg/dL", "M"),          # (140−68)×72/(72×1.0) = 72
    (61.2, 68, 72, 1.0, "mg/dL", "F"),          # 72 × 0.85 = 61.2
    (72.0, 68, 72, 88.4, "umol/L", "M"),        # 88.4 µmol/L ÷ 88.4 = 1.0 mg/dL -> 72
    (72.0, 68, 72, 88.4, "µmol/L", "male"),     # same, other spellings
    (40.0, 60, 72, 2.0, "mg/dL", "M"),          # 80×72/(72×2) = 40
    (31.875, 50, 60, 176.8, "umol/L", "F"),     # 176.8/88.4 = 2.0; 90×60/(72×2) = 37.5; × 0.85 = 31.875
])
def test_crcl_hand_values(expected, age, weight, scr, unit, sex):
    assert compute_crcl(age, weight, scr, unit, sex=sex) == pytest.approx(expected)


def test_crcl_unknowns_are_not_guessed():
    assert math.isnan(compute_crcl(60, 70, 1.0, None, sex="M"))       # unit missing
    assert math.isnan(compute_crcl(60, 70, 1.0, "mg/dL", sex="X"))    # sex not understood
    with pytest.raises(ValueError, match="sex"):
        compute_crcl(60, 70, 1.0, "mg/dL")
    out = compute_crcl(pd.Series([68, 68]), pd.Series([72, 72]), pd.Series([1.0, 88.4]),
                       pd.Series(["mg/dL", "umol/L"]), sex=pd.Series(["M", "F"]))
    assert out.tolist() == pytest.approx([72.0, 61.2])


@pytest.mark.parametrize("expected, bili, alb, inr, ascites, enceph", [
    ((5, "A5"), 33.9, 35.1, 1.69, "none", "none"),       # 1+1+1+1+1; every value just inside band 1
    ((8, "B8"), 34, 35, 1.7, "none", "none"),             # 34, 35, 1.7 are band 2 (inclusive): 2+2+2+1+1
    ((8, "B8"), 51, 28, 2.3, "none", "none"),             # upper ends of band 2 are still band 2
    ((15, "C15"), 51.1, 27.9, 2.31, "moderate-severe", "grade 3-4"),   # 3×5
    ((6, "A6"), 20, 40, 1.0, "mild", "none"),             # 1+1+1+2+1
    ((6, "A6"), 40, 40, 1.0, "none", "none"),             # 2+1+1+1+1
    ((7, "B7"), 40, 30, 1.0, "none", "none"),             # 2+2+1+1+1
    ((9, "B9"), 60, 25, 1.0, "none", "none"),             # 3+3+1+1+1
    ((10, "C10"), 60, 25, 2.0, "none", "none"),           # 3+3+2+1+1
    ((6, "A6"), 20, 40, 1.0, "none", 2),                  # encephalopathy grade 2 -> 2 points: 1+1+1+1+2
    ((7, "B7"), 20, 40, 1.0, "mild", "grade 1-2"),        # 1+1+1+2+2
])
def test_child_pugh_hand_cases(expected, bili, alb, inr, ascites, enceph):
    assert compute_child_pugh(bili, alb, inr, ascites, enceph, cutoffs=TRIAL) == expected


def test_child_pugh_albumin_cutoff_is_a_setting():
    # albumin 29 g/L: 2 points with the 28 cut-off, 3 points with 30 (some sources)
    assert compute_child_pugh(20, 29, 1.0, cutoffs=TRIAL.formulas) == (6, "A6")
    alt = TRIAL.formulas.model_copy(update={"child_pugh_albumin_cutoffs_g_l": (35.0, 30.0)})
    assert compute_child_pugh(20, 29, 1.0, cutoffs=alt) == (7, "B7")
    with pytest.raises(ValueError, match="ascites"):
        compute_child_pugh(20, 40, 1.0, ascites="lots")


# ------------------------------------------------------------------------------------------------
# Tablets
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("expected, dose, sizes", [
    ((800, {500: 1, 150: 2}), 850, (150, 500)),    # 850 cannot be made; 800 and 900 both 50 away -> lower
    ((1650, {500: 3, 150: 1}), 1650, (150, 500)),  # exact
    ((1500, {500: 3, 150: 0}), 1500, (150, 500)),  # 3×500 beats 10×150: fewest tablets
    ((1100, {500: 1, 150: 4}), 1125, (150, 500)),  # 1100 and 1150 both 25 away -> lower
    ((900, {500: 0, 150: 6}), 875, (150, 500)),    # 900 is 25 away; 800 and 950 are 75 away
    ((1350, {500: 0, 150: 9}), 1363.59, (150, 500)),  # 1350 (13.6 away) beats 1400 (36.4)
    ((150, {500: 0, 150: 1}), 100, (150, 500)),    # 150 is 50 away, 0 is 100 away
    ((0, {500: 0, 150: 0}), 75, (150, 500)),       # 0 and 150 both 75 away -> lower
    ((60, {25: 0, 20: 3}), 60, (20, 25)),          # S-1 60 mg = 3 × 20
    ((50, {25: 2, 20: 0}), 50, (20, 25)),          # 2 × 25
    ((40, {25: 0, 20: 2}), 40, (20, 25)),
    ((45, {25: 1, 20: 1}), 45, (20, 25)),
    ((100, {25: 4, 20: 0}), 100, (20, 25)),        # 4×25 beats 5×20: fewest capsules
    ((25, {25: 1, 20: 0}), 30, (20, 25)),          # 25 is 5 away, 40 and 20 are 10 away
])
def test_round_to_tablets(expected, dose, sizes):
    assert round_to_tablets(dose, sizes) == expected


def test_round_to_tablets_float_noise_still_ties():
    assert round_to_tablets(850.0000000001)[0] == 800
    assert format_tablets({500: 2, 150: 1}) == "2 × 500 mg + 1 × 150 mg"
    with pytest.raises(ValueError):
        round_to_tablets(-1)


# ------------------------------------------------------------------------------------------------
# Capecitabine: the label table, one term (BSA 2.0, maintenance 1000 mg/m² per intake -> 2000 mg)
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("action, percent, rule, grades", [
    ("continue", 100, None, [1]),
    ("continue", 100, None, [1, 1, 1, 1, 1]),              # grade 1 is never an appearance
    ("continue", 100, None, [2]),                          # 1st G2, resolved: resume 100 %
    ("reduce", 75, "cape.table.g2.n2", [2, 2]),            # 2nd G2: 75 %
    ("reduce", 50, "cape.table.g2.n3", [2, 2, 2]),         # 3rd G2: 50 %
    ("stop", 0, "cape.table.g2.n4", [2, 2, 2, 2]),         # 4th G2: stop for good
    ("stop", 0, "cape.table.g2.n4", [2, 2, 2, 2, 2]),      # beyond the row: its last column
    ("reduce", 75, "cape.table.g3.n1", [3]),               # 1st G3: 75 %
    ("reduce", 50, "cape.table.g3.n2", [3, 3]),            # 2nd G3: 50 %
    ("stop", 0, "cape.table.g3.n3", [3, 3, 3]),            # 3rd G3: stop
    ("stop", 0, "cape.table.g4.n1", [4]),                  # 1st G4: stop (alternative 50 %)
    ("stop", 0, "cape.table.g4.n2", [4, 4]),               # 2nd G4: stop
    ("reduce", 50, "cape.table.g3.n2", [2, 3]),            # G3 as the 2nd appearance of the term
    ("reduce", 75, "cape.table.g2.n2", [3, 2]),            # 75 (G3 n1), then 75 (G2 n2)
])
def test_capecitabine_table_rows(action, percent, rule, grades):
    dose = {100: 2000, 75: 1500, 50: 1000, 0: 0}[percent]    # 2.0 m² × 1000 mg/m² × level
    adv = cape(ev=events(*series("Diarrhea", grades)))
    assert (adv.action, adv.dose_percent, adv.dose_mg_per_intake) == (action, percent, dose)
    if rule:
        assert rule in adv.rule.split("; ") and f"[{rule}]" in adv.reasons
    assert "cape.dose" in adv.rule


def test_capecitabine_grade4_alternative_is_shown():
    adv = cape(ev=events(*series("Diarrhea", [4])))
    assert adv.action == "stop" and adv.dose_mg_per_intake == 0
    # alternative: 50 % × 2.0 m² × 1000 mg/m² = 1000 mg = 2 × 500 mg
    assert "resume at 50 %" in adv.alternative and "1000 mg" in adv.alternative
    assert "2 × 500 mg" in adv.alternative


def test_capecitabine_grade4_alternative_taken_when_cycles_continue():
    ev = events(("Diarrhea", 4, "2025-06-05", "2025-06-12", GI))
    tx = pd.DataFrame([dict(subject_id="P1", treatment="capecitabine", phase="maintenance", cycle=c,
                            start_date=pd.Timestamp(s), end_date=pd.Timestamp(s) + pd.Timedelta(days=13),
                            dose=np.nan, dose_unit="mg")
                       for c, s in [(3, "2025-06-01"), (4, "2025-08-20")]])
    adv = one(advise_patient(BSA2, ev, None, tx, trial=TRIAL, cut=CUT), "capecitabine")
    assert (adv.action, adv.dose_percent, adv.dose_mg_per_intake) == ("reduce", 50, 1000)
    assert "cape.table.g4.n1.alt" in adv.rule


def test_ongoing_grade2_interrupts_with_resume_percent():
    adv = cape(ev=events(*series("Diarrhea", [2, 2], ongoing_last=True)))
    assert (adv.action, adv.resume_at_percent, adv.dose_mg_per_intake) == ("interrupt", 75, 1500)
    adv = cape(ev=events(*series("Diarrhea", [2], ongoing_last=True)))
    assert (adv.action, adv.resume_at_percent) == ("interrupt", 100)


@pytest.mark.parametrize("percent, term_grades", [
    (50, {"Diarrhea": [2, 2], "Nausea": [3, 3]}),         # 75 vs 50 -> 50
    (75, {"Mucositis oral": [3], HFS: [2, 2]}),            # 75 vs 75 -> 75
    (0, {"Diarrhea": [2], "Vomiting": [3, 3, 3]}),          # any stop wins
    (75, {"Diarrhea": [2], "Nausea": [2], "Fatigue": [2, 2]}),  # appearances are per term
])
def test_lowest_level_wins_across_terms(percent, term_grades):
    rows = []
    for k, (term, grades) in enumerate(term_grades.items()):
        rows += series(term, grades, start=f"2025-06-0{k + 1}")
    assert cape(ev=events(*rows)).dose_percent == percent


def test_no_reescalation_after_later_grade1():
    rows = series("Diarrhea", [2, 2]) + [("Diarrhea", 1, "2025-08-20", None, GI)]
    adv = cape(ev=events(*rows))
    assert (adv.action, adv.dose_percent) == ("reduce", 75)


def test_hfs_and_low_risk_terms():
    adv = cape(ev=events((HFS, 2, "2025-08-25", None, "Skin and subcutaneous tissue disorders")))
    assert adv.action == "interrupt" and "cape.hfs" in adv.rule
    adv = cape(ev=events(("Alopecia", 2, "2025-08-01", None, "Skin and subcutaneous tissue disorders")))
    assert (adv.action, adv.dose_percent) == ("continue", 100) and "cape.low_risk" in adv.rule


@pytest.mark.parametrize("rule, rows", [
    ("cape.anc", [("ANC", 0.9, np.nan, "2025-08-28")]),
    ("cape.plt", [("PLT", 74, np.nan, "2025-08-28")]),
    (None, [("ANC", 1.0, np.nan, "2025-08-28"), ("PLT", 75, np.nan, "2025-08-28")]),   # limits are strict
    (None, [("ANC", 0.8, np.nan, "2025-08-20"), ("ANC", 1.6, np.nan, "2025-08-28")]),  # latest value counts
    (None, [("ANC", 0.8, np.nan, "2025-07-01")]),          # before the current cycle (last 21 days)
    ("cape.liver.bili", [("BILI", 63.1, 21, "2025-08-28")]),   # 63.1 > 3 × 21 = 63
    (None, [("BILI", 63.0, 21, "2025-08-28")]),
    ("cape.liver.alt", [("ALT", 101, 40, "2025-08-28")]),      # 101 > 2.5 × 40 = 100
    (None, [("ALT", 100, 40, "2025-08-28")]),
    ("cape.liver.ast", [("AST", 101, 40, "2025-08-28")]),
])
def test_capecitabine_lab_interruptions(rule, rows):
    adv = cape(labs=labs_df(*rows))
    if rule:
        assert adv.action == "interrupt" and rule in adv.rule and adv.resume_at_percent == 100
    else:
        assert adv.action == "continue"


@pytest.mark.parametrize("crcl, age, action, percent", [
    (29, 111, "stop", 0),           # (140−111) × 72 / 72 = 29 < 30: not advised
    (30, 110, "reduce", 75),        # 30 to < 51: 75 % of the planned dose
    (50, 90, "reduce", 75),
    (51, 89, "continue", 100),      # 51–80: no change
])
def test_capecitabine_renal_boundaries(crcl, age, action, percent):
    adv = cape(patient=dict(PATIENT_CRCL, age=age))
    assert adv.crcl == pytest.approx(crcl)
    assert (adv.action, adv.dose_percent) == (action, percent)
    if crcl < 51:
        assert "cape.renal" in adv.rule
    if crcl < 30:
        assert "contraindicated" in adv.crcl_effect and "2022 US label" in adv.crcl_effect


def test_renal_multiplies_the_toxicity_level():
    # level 75 % (2nd G2) × 75 % renal = 56.25 %; BSA sqrt(160×72/3600) = 1.78885;
    # 1.78885 × 1000 × 0.5625 = 1006.23 mg -> 1000 (2 × 500), 6.2 away
    adv = cape(patient=dict(PATIENT_CRCL, age=100), ev=events(*series("Diarrhea", [2, 2])))
    assert adv.dose_percent == pytest.approx(56.25)
    assert adv.dose_mg_per_intake_calculated == pytest.approx(1006.23, abs=0.01)
    assert (adv.dose_mg_per_intake, adv.tablets) == (1000, "2 × 500 mg")


@pytest.mark.parametrize("phase, calculated, rounded, tablets", [
    ("concurrent", 1600, 1600, "2 × 500 mg + 4 × 150 mg"),   # 2.0 × 800 = 1600
    ("maintenance", 2000, 2000, "4 × 500 mg"),                # 2.0 × 1000 = 2000
])
def test_dose_per_intake_by_phase(phase, calculated, rounded, tablets):
    adv = cape(phase=phase)
    assert (adv.dose_mg_per_intake_calculated, adv.dose_mg_per_intake, adv.tablets) == (calculated, rounded, tablets)


def test_tie_rounding_inside_the_advice():
    # BSA 1.5 (150 cm, 54 kg), maintenance, 75 %: 1.5 × 1000 × 0.75 = 1125 -> tie 1100/1150 -> 1100
    adv = cape(patient=dict(BSA2, height_cm=150, weight_kg=54), ev=events(*series("Diarrhea", [3])))
    assert (adv.dose_mg_per_intake_calculated, adv.dose_mg_per_intake) == (1125, 1100)
    assert adv.tablets == "1 × 500 mg + 4 × 150 mg"


# ------------------------------------------------------------------------------------------------
# S-1
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("expected, bsa", [(40, 1.249), (50, 1.25), (50, 1.499), (60, 1.5), (40, 0.9), (60, 2.2)])
def test_s1_bsa_bands(expected, bsa):
    assert compute_s1_starting_dose(bsa, TRIAL) == expected


@pytest.mark.parametrize("expected, height, weight", [
    (40, 150, 37.44002),      # sqrt(150 × 37.44002 / 3600) = 1.24900 (1.2489999)
    (50, 150, 37.5),          # sqrt(5625/3600) = 1.25 exactly
    (50, 150, 53.928024),     # 1.499
    (60, 150, 54),            # sqrt(8100/3600) = 1.5 exactly
])
def test_s1_bsa_bands_through_advice(expected, height, weight):
    adv = s1(patient=dict(PATIENT_CRCL, height_cm=height, weight_kg=weight, age=40, serum_creatinine=0.5))
    assert (adv.action, adv.dose_level_mg, adv.dose_mg_per_intake) == ("continue", expected, expected)


@pytest.mark.parametrize("crcl, age, action, level", [
    (29, 111, "stop", 0),          # < 30: do not give
    (30, 110, "reduce", 40),       # 30 to < 40: two levels lower: 60 -> 40
    (39, 101, "reduce", 40),
    (40, 100, "reduce", 50),       # 40 to < 60: one level lower: 60 -> 50
    (59, 81, "reduce", 50),
    (60, 80, "continue", 60),      # >= 60 standard
])
def test_s1_renal_boundaries(crcl, age, action, level):
    # BSA sqrt(160 × 72 / 3600) = 1.789 -> start 60 mg
    adv = s1(patient=dict(PATIENT_CRCL, age=age))
    assert adv.crcl == pytest.approx(crcl)
    assert (adv.action, adv.dose_level_mg) == (action, level)
    assert ("s1.renal" in adv.rule) == (crcl < 60)


@pytest.mark.parametrize("action, level, rule, rows", [
    ("interrupt", 60, "s1.nonhaem.g2", series("Diarrhea", [2], ongoing_last=True)),    # same level
    ("continue", 60, None, series("Diarrhea", [2])),                                   # resolved G2
    ("reduce", 50, "s1.nonhaem.g3", series("Diarrhea", [3])),                          # one level lower
    ("interrupt", 50, "s1.nonhaem.g3", series("Diarrhea", [3], ongoing_last=True)),
    ("reduce", 40, "s1.nonhaem.g3", series("Diarrhea", [3]) + series("Nausea", [3], start="2025-07-01")),
    ("stop", 0, "s1.nonhaem.g3.stop", series("Diarrhea", [3, 3, 3])),                  # third grade 3
    ("stop", 0, "s1.nonhaem.g4", series("Vomiting", [4])),                             # any grade 4
    ("continue", 60, "s1.low_risk", [("Alopecia", 2, "2025-08-01", None, "Skin")]),
])
def test_s1_toxicity_steps(action, level, rule, rows):
    adv = s1(ev=events(*rows))
    assert (adv.action, adv.dose_level_mg) == (action, level)
    if rule:
        assert rule in adv.rule


def test_s1_levels_run_out_below_40():
    # BSA 1.4 (150 cm, 47.04 kg: sqrt(7056/3600) = 1.4) starts at 50; two grade 3 -> 50 -> 40 -> stop
    # SCr 0.5: CrCl (140 − 68) × 47.04 / (72 × 0.5) = 94.08, no renal step
    patient = dict(BSA2, height_cm=150, weight_kg=47.04, serum_creatinine=0.5)
    assert s1(patient=patient, ev=events(*series("Diarrhea", [3]))).dose_level_mg == 40
    adv = s1(patient=patient, ev=events(*series("Diarrhea", [3, 3])))
    assert adv.action == "stop" and "s1.levels.exhausted" in adv.rule


def test_s1_blood_counts():
    adv = s1(labs=labs_df(("PLT", 60, np.nan, "2025-08-30")))
    assert (adv.action, adv.dose_level_mg) == ("interrupt", 60) and "s1.counts" in adv.rule
    adv = s1(ev=events(("Neutrophil count decreased", 3, "2025-08-25", None, "Investigations")))
    assert adv.action == "interrupt" and "s1.counts.event" in adv.rule


# ------------------------------------------------------------------------------------------------
# Holds during chemoradiotherapy and PI flags
# ------------------------------------------------------------------------------------------------
def crt(ev=None, labs=None, treatment=None, agent="capecitabine"):
    advice = advise_patient(BSA2, ev, labs, treatment, trial=TRIAL, cut=CUT, agent=agent, phase="concurrent",
                            on_rt=True)
    return one(advice, agent), one(advice, "RT")


@pytest.mark.parametrize("rt_action, rt_rule, rows, lab_rows", [
    ("interrupt", "rt.hold.gi", [("Diarrhea", 3, "2025-08-28", None, GI)], []),
    ("continue", None, [("Diarrhea", 2, "2025-08-28", None, GI)], []),             # resume at grade <= 2
    ("continue", None, [("Diarrhea", 3, "2025-08-20", "2025-08-25", GI)], []),     # resolved
    ("interrupt", "rt.hold.dermatitis", [("Dermatitis radiation", 3, "2025-08-28", None, "Skin")], []),
    ("interrupt", "rt.hold.counts", [("Neutrophil count decreased", 3, "2025-08-28", None, "Investigations")], []),
    ("interrupt", "rt.hold.liver", [("Blood bilirubin increased", 3, "2025-08-28", None, "Investigations")], []),
    ("interrupt", "rt.hold.counts", [], [("ANC", 0.9, np.nan, "2025-08-30")]),     # ANC < 1.0 is grade 3
    ("interrupt", "rt.hold.counts", [], [("PLT", 49, np.nan, "2025-08-30")]),      # PLT < 50 is grade 3
    ("continue", None, [], [("PLT", 50, np.nan, "2025-08-30")]),
    ("interrupt", "rt.hold.liver", [], [("ALT", 201, 40, "2025-08-30")]),          # > 5 × 40
    ("continue", None, [("Fatigue", 3, "2025-08-28", None, "General disorders")], []),  # not an RT hold
])
def test_rt_hold_rules(rt_action, rt_rule, rows, lab_rows):
    _, rt = crt(events(*rows) if rows else None, labs_df(*lab_rows) if lab_rows else None)
    assert rt.action == rt_action
    if rt_rule:
        assert rt_rule in rt.rule and f"[{rt_rule}]" in rt.reasons


@pytest.mark.parametrize("rule, rows, lab_rows", [
    ("crt.chemo.nonhaem", [("Fatigue", 3, "2025-08-28", None, "General disorders")], []),
    ("crt.chemo.hfs", [(HFS, 2, "2025-08-28", None, "Skin")], []),
    ("crt.chemo.counts", [], [("PLT", 70, np.nan, "2025-08-30")]),
])
def test_chemo_holds_during_crt(rule, rows, lab_rows):
    for agent in ("capecitabine", "S-1"):
        chemo, _ = crt(events(*rows) if rows else None, labs_df(*lab_rows) if lab_rows else None, agent=agent)
        assert chemo.action == "interrupt" and rule in chemo.rule



def test_blood_count_event_thresholds_are_read_from_the_trial_file():
    """An ongoing platelet count decreased grade 2 (< 75 ×10⁹/L) holds chemotherapy during CRT, as the
    spec says; raising [holds] count_event_grade_min for platelets to 3 in the trial file lifts the
    hold (capecitabine's own table still interrupts any grade 2), so the rule lives in the file, not in the code."""
    rows = [("Platelet count decreased", 2, "2025-08-28", None, "Investigations")]
    for agent in ("capecitabine", "S-1"):
        chemo, _ = crt(events(*rows), agent=agent)
        assert chemo.action == "interrupt" and "crt.chemo.counts" in chemo.rule, agent
    holds = TRIAL.holds.model_copy(update={"count_event_grade_min": {"Neutrophil count decreased": 3,
                                                                     "Platelet count decreased": 3}})
    relaxed = TRIAL.model_copy(update={"holds": holds})
    for agent in ("capecitabine", "S-1"):
        advice = advise_patient(BSA2, events(*rows), None, None, trial=relaxed, cut=CUT, agent=agent,
                                phase="concurrent", on_rt=True)
        assert "crt.chemo.counts" not in one(advice, agent).rule, agent
    # S-1 has no other reason to stop for a grade 2 haematological event: it continues
    advice = advise_patient(BSA2, events(*rows), None, None, trial=relaxed, cut=CUT, agent="S-1",
                            phase="concurrent", on_rt=True)
    assert one(advice, "S-1").action == "continue"

def test_pi_flags():
    ev = events(("Vomiting", 4, "2025-08-01", "2025-08-05", GI),
                ("Neutrophil count decreased", 4, "2025-08-02", "2025-08-09", "Investigations"))
    chemo, rt = crt(ev)
    assert "pi.grade4_nonhaem" in chemo.rule and "Vomiting G4" in chemo.pi_flags
    assert "Neutrophil" not in chemo.pi_flags                      # haematological grade 4: no flag
    ev = events(("Death NOS", 5, "2025-08-30", None, "General disorders"))
    chemo, _ = crt(ev)
    assert "pi.grade5" in chemo.rule and "24 hours" in chemo.pi_flags


def rt_log(*spans, fractions=None):
    return pd.DataFrame([dict(subject_id="P1", treatment="RT", phase="concurrent", cycle=np.nan,
                              start_date=pd.Timestamp(a), end_date=pd.Timestamp(b) if b else pd.NaT,
                              dose=np.nan, dose_unit="Gy", fractions=fractions) for a, b in spans])


@pytest.mark.parametrize("flagged, log", [
    # Mon 2 Jun – Fri 13 Jun, then Mon 30 Jun: weekdays 16–27 Jun without RT = 10 > 7
    (True, rt_log(("2025-06-02", "2025-06-13"), ("2025-06-30", None))),
    # one week off (16–20 Jun) = 5 weekdays
    (False, rt_log(("2025-06-02", "2025-06-13"), ("2025-06-23", None))),
    # weekends alone are not interruptions
    (False, rt_log(("2025-06-02", "2025-06-06"), ("2025-06-09", "2025-06-13"), ("2025-06-16", None))),
    # 2 Jun – 4 Jul = 25 weekdays, 17 fractions delivered: 8 missed > 7
    (True, rt_log(("2025-06-02", "2025-07-04"), fractions=17)),
    (False, rt_log(("2025-06-02", "2025-07-04"), fractions=18)),   # 7 missed: not more than 7
])
def test_rt_interruption_flag(flagged, log):
    res = compute_dose_advice(pd.DataFrame([BSA2]), None, None, log, TRIAL, dt.date(2025, 7, 4))
    assert ("pi.rt_interruption" in set(res.flags["rule"])) == flagged


def test_rt_interruption_not_computable_is_said():
    res = compute_dose_advice(pd.DataFrame([BSA2]), None, None, rt_log(("2025-06-02", None)), TRIAL,
                              dt.date(2025, 6, 20))
    assert "not computed" in res.table.set_index("agent").loc["RT", "notes"]


# ------------------------------------------------------------------------------------------------
# Whole trial
# ------------------------------------------------------------------------------------------------
def test_compute_dose_advice_table_and_summary():
    patients = pd.DataFrame([
        dict(BSA2, subject_id="A", agent="capecitabine"),
        dict(BSA2, subject_id="B", agent="S-1"),
        dict(BSA2, subject_id="C", agent="capecitabine", off_treatment_on=pd.Timestamp("2025-08-01")),
        dict(BSA2, subject_id="D", agent="capecitabine"),     # no treatment rows: not on treatment
    ])
    tx_rows = [
        ("A", "RT", "concurrent", "2025-08-11", None), ("A", "capecitabine", "concurrent", "2025-08-11", "2025-08-24"),
        ("B", "S-1", "maintenance", "2025-08-20", "2025-09-02"),
        ("C", "capecitabine", "maintenance", "2025-07-20", "2025-08-02"),
    ]
    tx = pd.DataFrame([dict(subject_id=s, treatment=t, phase=p, cycle=1, start_date=pd.Timestamp(a),
                            end_date=pd.Timestamp(b) if b else pd.NaT, dose=np.nan, dose_unit="")
                       for s, t, p, a, b in tx_rows])
    ev = pd.concat([events(("Diarrhea", 3, "2025-08-25", None, GI), subject="A"),
                    events(*series("Nausea", [3], start="2025-08-21"), subject="B")])   # in B's S-1 course
    ev.loc[ev["subject_id"] == "A", "phase"] = "concurrent"
    labs = labs_df(("ANC", 2.0, np.nan, "2025-08-28"), subject="A")
    res = compute_dose_advice(patients, ev, labs, tx, TRIAL, CUT)
    table = res.table.set_index(["subject_id", "agent"])
    assert sorted(table.index) == [("A", "RT"), ("A", "capecitabine"), ("B", "S-1")]
    assert table.loc[("A", "capecitabine"), "action"] == "interrupt"          # G3 1st: resume 75 %
    assert table.loc[("A", "capecitabine"), "resume_at_percent"] == 75
    assert table.loc[("A", "capecitabine"), "dose_mg_per_intake"] == 1200    # 2.0 × 800 × 0.75 = 1200
    assert table.loc[("A", "RT"), "action"] == "interrupt"                     # GI grade 3
    assert table.loc[("B", "S-1"), ["action", "dose_level_mg"]].tolist() == ["reduce", 50]
    assert res.summary.loc["interrupt", "total"] == 2 and res.summary.loc["reduce", "S-1"] == 1
    assert res.summary["total"].sum() == len(res.table)


def test_compute_dose_advice_empty_inputs():
    # D10: only the treatment log says who is on treatment; the patient table's agent alone does not
    empty = pd.DataFrame()
    res = compute_dose_advice(pd.DataFrame([dict(BSA2, agent="capecitabine")]), empty, empty, empty, TRIAL, CUT)
    assert res.table.empty and res.flags.empty
    assert res.summary["total"].sum() == 0


def test_advise_patient_without_a_log_states_the_phase_it_assumed():
    adv = advise_patient(dict(BSA2, agent="capecitabine"), None, None, None, trial=TRIAL, cut=CUT,
                         agent="capecitabine")
    assert [(a.agent, a.action, a.dose_mg_per_intake) for a in adv] == [("capecitabine", "continue", 1600)]
    assert "phase unknown" in adv[0].notes          # 2.0 m² × 1600 / 2 = 1600 mg, the concurrent dose


# ------------------------------------------------------------------------------------------------
# Properties
# ------------------------------------------------------------------------------------------------
TERMS = ["Diarrhea", "Nausea", HFS, "Fatigue", "Alopecia", "Neutrophil count decreased"]
event_st = st.tuples(st.sampled_from(TERMS), st.integers(1, 4), st.integers(0, 60), st.integers(1, 10),
                     st.booleans())


def to_events(specs, base="2025-05-01"):
    rows = []
    for term, grade, day, length, ongoing in specs:
        onset = pd.Timestamp(base) + pd.Timedelta(days=day)
        end = None if ongoing else str((onset + pd.Timedelta(days=length)).date())
        rows.append((term, grade, str(onset.date()), end, GI))
    return events(*rows)


PROP = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])     # examples: conftest profile


@PROP
@given(st.lists(event_st, max_size=6), st.sampled_from(TERMS), st.integers(1, 4), st.integers(1, 30))
def test_later_event_never_raises_the_level(specs, term, grade, later):
    before = to_events(specs)
    last_day = max([s[2] for s in specs], default=0)
    after = to_events(specs + [(term, grade, last_day + later, 3, False)])
    cut = dt.date(2025, 9, 1)
    assert cape(ev=after, cut=cut).dose_percent <= cape(ev=before, cut=cut).dose_percent
    assert s1(ev=after, cut=cut).dose_level_mg <= s1(ev=before, cut=cut).dose_level_mg


@PROP
@given(st.lists(event_st, max_size=6), st.floats(140, 200), st.floats(40, 120), st.sampled_from(["concurrent", "maintenance"]),
       st.integers(60, 100))
def test_dose_never_exceeds_starting_dose(specs, height, weight, phase, age):
    patient = dict(PATIENT_CRCL, height_cm=height, weight_kg=weight, age=age)
    start = cape(patient=patient, phase=phase)
    adv = cape(patient=patient, ev=to_events(specs), phase=phase)
    full = compute_bsa(height, weight) * (800 if phase == "concurrent" else 1000)
    assert adv.dose_mg_per_intake_calculated <= full + 1e-9
    assert adv.dose_mg_per_intake <= round_to_tablets(full)[0]
    assert adv.dose_mg_per_intake <= start.dose_mg_per_intake or start.dose_mg_per_intake == 0
    s1_adv = s1(patient=patient, ev=to_events(specs))
    assert s1_adv.dose_mg_per_intake <= compute_s1_starting_dose(compute_bsa(height, weight), TRIAL)


@settings(max_examples=200, deadline=None)
@given(st.floats(0, 4000, allow_nan=False))
def test_tablet_rounding_is_the_closest_sum(dose):
    rounded, counts = round_to_tablets(dose)
    assert rounded == sum(size * n for size, n in counts.items())
    sums = {500 * a + 150 * b for a, b in itertools.product(range(10), range(30))}
    best = min(abs(s - dose) for s in sums)
    assert abs(rounded - dose) == pytest.approx(best, abs=1e-6)
    assert all(not (abs(s - dose) < abs(rounded - dose) - 1e-6) for s in sums)
    # ties: nothing lower is equally close
    assert not any(s < rounded and abs(abs(s - dose) - abs(rounded - dose)) < 1e-6 for s in sums)


def test_derive_capecitabine_steps_counts_appearances_per_term():
    ev = events(*series("Diarrhea", [2, 1, 3]), *series("Nausea", [2], start="2025-06-03"))
    out = derive_capecitabine_steps(ev, TRIAL, CUT).set_index(["term", "grade"])
    assert out.loc[("Diarrhea", 2.0), "appearance"] == 1
    assert pd.isna(out.loc[("Diarrhea", 1.0), "appearance"])
    assert out.loc[("Diarrhea", 3.0), "appearance"] == 2
    assert out.loc[("Nausea", 2.0), "appearance"] == 1
    assert out.loc[("Diarrhea", 3.0), "cape_rule"] == "cape.table.g3.n2"


def test_phase_and_agent_from_the_treatment_log():
    # a cycle without a phase that starts after RT ended is maintenance (derive_treatment_phase);
    # BSA sqrt(170 × 70 / 3600) = 1.8181; × 1000 mg/m² = 1818 -> 1800 (3 × 500 + 2 × 150, 18 away)
    patient = dict(BSA2, height_cm=170, weight_kg=70)
    tx = pd.DataFrame([dict(subject_id="P1", treatment="RT", start_date="2025-06-02", end_date="2025-07-04"),
                       dict(subject_id="P1", treatment="Xeloda", start_date="2025-08-20", end_date="2025-09-02")])
    res = compute_dose_advice(pd.DataFrame([patient]), None, None, tx, TRIAL, CUT)
    row = res.table.iloc[0]
    assert (row["agent"], row["phase"], row["dose_mg_per_intake"], row["tablets"]) == (
        "capecitabine", "maintenance", 1800, "3 × 500 mg + 2 × 150 mg")
    assert "phase derived" in row["notes"]
    # more than a cycle plus the 30-day window without a new cycle: off treatment, said in no row
    late = compute_dose_advice(pd.DataFrame([patient]), None, None, tx, TRIAL, dt.date(2025, 11, 1))
    assert late.table.empty
