#!/usr/bin/env python3
"""Synthetic sample data for toxdb (trial NCT07063888).

Every value written by this module is invented. Nothing comes from a real patient.

    python sample_data/generate.py [--seed 20250516] [--out sample_data] [--as-of 2026-11-16]

writes the canonical tables (patients, treatment, adverse events, labs), a messy export of one site
(``messy_site/``: xlsx and a Latin-1 semicolon CSV with deliberate errors) and a small SDTM-style set
(``sdtm/``). The same seed and as-of date give byte-identical files.

From Python::

    from sample_data.generate import generate, generate_large_ae_csv
    paths = generate(tmp_path, seed=1, as_of=date(2026, 11, 16), n_patients=44)
    big = generate_large_ae_csv(tmp_path / "ae_big.csv", n_patients=10_000, n_rows=1_000_000)

How the story is built (so the numbers are believable rather than uniform noise):
* accrual starts at CAMS on 2025-05-20; the three other sites open later;
* enrolment is 3-10 weeks after hepatectomy, first treatment (RT day 1 = concurrent cycle 1 day 1,
  always a Monday) 1-4 weeks after enrolment; two patients start more than 4 months after surgery;
* a fixed share (about 28 %) of treated patients get a pre-planned grade >= 3 "scenario" (SAEs such as
  cholangitis, febrile neutropenia, an upper GI bleed; grade 3 diarrhoea, hand-foot syndrome, ...);
  background events of everyone else stay at grade 1-2, so the grade >= 3 rate is stable across seeds;
* scenarios change the treatment log (interrupted cycles, delays, 75 % dose levels, RT breaks, switch
  to S-1, withdrawal) and lab-type events get a matching lab value on their onset date.
"""
from __future__ import annotations

import argparse
import datetime as dt
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

DEFAULT_SEED = 20250516
DEFAULT_AS_OF = dt.date(2026, 11, 16)
DEFAULT_N_PATIENTS = 44
STUDY_ID = "NCT07063888"
TRIAL_START = dt.date(2025, 5, 16)
FIRST_ENROLMENT = dt.date(2025, 5, 20)

# site number, short code, activation date, relative accrual weight, creatinine unit used by the site
SITES = [
    ("01", "CAMS", dt.date(2025, 5, 16), 0.40, "µmol/L"),
    ("02", "SYSU", dt.date(2025, 8, 4), 0.25, "µmol/L"),
    ("03", "FUSCC", dt.date(2025, 10, 13), 0.20, "mg/dL"),
    ("04", "WCH", dt.date(2026, 1, 5), 0.15, "µmol/L"),
]
MESSY_SITE = "SYSU"
SDTM_SITE = ("04", "WCH")

# CTCAE v5.0 term -> (lowest grade, highest grade, lab test that measures it or None).
# Checked against the NCI CTCAE v5.0 spreadsheet (grades marked "-" do not exist).
TERMS: dict[str, tuple[int, int, str | None]] = {
    "Diarrhea": (1, 5, None),
    "Nausea": (1, 3, None),
    "Vomiting": (1, 5, None),
    "Fatigue": (1, 3, None),
    "Anorexia": (1, 5, None),
    "Abdominal pain": (1, 3, None),
    "Dermatitis radiation": (1, 5, None),
    "Mucositis oral": (1, 5, None),
    "Gastritis": (1, 5, None),
    "Dyspepsia": (1, 3, None),
    "Constipation": (1, 5, None),
    "Insomnia": (1, 3, None),
    "Dysgeusia": (1, 2, None),
    "Skin hyperpigmentation": (1, 2, None),
    "Palmar-plantar erythrodysesthesia syndrome": (1, 3, None),
    "Duodenal ulcer": (1, 5, None),
    "Upper gastrointestinal hemorrhage": (1, 5, None),
    "Biliary tract infection": (2, 5, None),
    "Febrile neutropenia": (3, 5, None),
    "Neutrophil count decreased": (1, 4, "ANC"),
    "Platelet count decreased": (1, 4, "PLT"),
    "White blood cell decreased": (1, 4, "WBC"),
    "Lymphocyte count decreased": (1, 4, "LYM"),
    "Anemia": (1, 5, "HGB"),
    "Alanine aminotransferase increased": (1, 4, "ALT"),
    "Aspartate aminotransferase increased": (1, 4, "AST"),
    "Blood bilirubin increased": (1, 4, "BILI"),
    "Hypoalbuminemia": (1, 5, "ALB"),
}

VERBATIM = {
    "Diarrhea": ["diarrhoea", "loose stools", "diarrhea", "watery stools x4/day"],
    "Nausea": ["nausea", "nausea after tablets", "queasy"],
    "Vomiting": ["vomiting", "emesis"],
    "Fatigue": ["fatigue", "tiredness", "asthenia"],
    "Anorexia": ["loss of appetite", "poor appetite", "anorexia"],
    "Abdominal pain": ["abdominal pain", "RUQ pain", "epigastric pain"],
    "Dermatitis radiation": ["radiation dermatitis", "skin erythema in RT field"],
    "Mucositis oral": ["stomatitis", "mouth ulcers", "oral mucositis"],
    "Gastritis": ["gastritis", "radiation gastritis"],
    "Dyspepsia": ["dyspepsia", "indigestion"],
    "Constipation": ["constipation"],
    "Insomnia": ["insomnia", "poor sleep"],
    "Dysgeusia": ["taste change", "altered taste"],
    "Skin hyperpigmentation": ["skin darkening", "hyperpigmentation of palms"],
    "Palmar-plantar erythrodysesthesia syndrome": ["hand-foot syndrome", "HFS", "hand foot skin reaction",
                                                   "painful red palms and soles"],
    "Duodenal ulcer": ["duodenal ulcer", "duodenal ulcer on gastroscopy"],
    "Upper gastrointestinal hemorrhage": ["upper GI bleed", "melaena, bleeding duodenal ulcer"],
    "Biliary tract infection": ["cholangitis", "acute cholangitis", "biliary infection"],
    "Febrile neutropenia": ["febrile neutropenia", "neutropenic fever"],
    "Neutrophil count decreased": ["neutropenia", "low neutrophils"],
    "Platelet count decreased": ["thrombocytopenia", "low platelets"],
    "White blood cell decreased": ["leukopenia", "low WBC"],
    "Lymphocyte count decreased": ["lymphopenia", "low lymphocytes"],
    "Anemia": ["anaemia", "low Hb"],
    "Alanine aminotransferase increased": ["ALT increased", "raised ALT"],
    "Aspartate aminotransferase increased": ["AST increased", "raised AST"],
    "Blood bilirubin increased": ["hyperbilirubinaemia", "raised bilirubin", "jaundice (lab)"],
    "Hypoalbuminemia": ["low albumin", "hypoalbuminaemia"],
}

# Background profile: term -> (probability per patient over the full phase, P(grade 2) given event).
# Grades are 1-2 only; grade >= 3 comes from the scenarios below.
CONCURRENT_PROFILE = {
    "Fatigue": (0.60, 0.30), "Nausea": (0.50, 0.25), "Diarrhea": (0.45, 0.35),
    "Dermatitis radiation": (0.25, 0.20), "Anorexia": (0.35, 0.25), "Vomiting": (0.18, 0.20),
    "Abdominal pain": (0.12, 0.20), "Neutrophil count decreased": (0.28, 0.45),
    "Platelet count decreased": (0.22, 0.30), "Anemia": (0.22, 0.30), "Lymphocyte count decreased": (0.35, 0.50),
    "Alanine aminotransferase increased": (0.15, 0.15), "Aspartate aminotransferase increased": (0.10, 0.10),
    "Blood bilirubin increased": (0.08, 0.20), "Mucositis oral": (0.08, 0.20), "Gastritis": (0.06, 0.40),
    "Dyspepsia": (0.08, 0.10), "Constipation": (0.07, 0.10), "Insomnia": (0.06, 0.0),
    "Palmar-plantar erythrodysesthesia syndrome": (0.08, 0.0),
}
MAINTENANCE_PROFILE = {
    "Palmar-plantar erythrodysesthesia syndrome": (0.70, 0.40), "Blood bilirubin increased": (0.55, 0.35),
    "Diarrhea": (0.30, 0.30), "Fatigue": (0.28, 0.20), "Nausea": (0.20, 0.10),
    "Neutrophil count decreased": (0.15, 0.30), "Anemia": (0.15, 0.20),
    "Alanine aminotransferase increased": (0.12, 0.15), "Aspartate aminotransferase increased": (0.08, 0.10),
    "Skin hyperpigmentation": (0.20, 0.10), "Mucositis oral": (0.12, 0.25), "Anorexia": (0.12, 0.15),
    "Dysgeusia": (0.05, 0.0), "Platelet count decreased": (0.08, 0.20), "Abdominal pain": (0.08, 0.15),
    "Vomiting": (0.06, 0.0),
}
MULTIROW_CANDIDATES = {"Palmar-plantar erythrodysesthesia syndrome", "Diarrhea", "Dermatitis radiation",
                       "Fatigue", "Mucositis oral", "Anorexia"}

# Grade >= 3 scenarios: (name, phase, needs maintenance cycles reached, what happens)
SCENARIOS = {
    "cholangitis_conc": "concurrent", "febrile_neutropenia_conc": "concurrent",
    "ugi_bleed_maint": "maintenance", "cholangitis_maint": "maintenance",
    "ppe3_switch_maint": "maintenance", "diarrhea3_switch_maint": "maintenance",
    "diarrhea3_conc": "concurrent", "neutropenia3_conc": "concurrent", "ppe3_maint": "maintenance",
    "bili3_maint": "maintenance", "dermatitis3_conc": "concurrent", "platelet3_conc": "concurrent",
    "fatigue3_conc": "concurrent", "alt3_maint": "maintenance", "nausea3_conc": "concurrent",
    "neutropenia3_maint": "maintenance",
}
SEVERE_SHARE = 0.28

# Lab reference ranges (SI). HGB and CREAT depend on sex: (lln_M, uln_M, lln_F, uln_F).
LAB_UNITS = {"ANC": "10^9/L", "PLT": "10^9/L", "HGB": "g/L", "WBC": "10^9/L", "LYM": "10^9/L",
             "ALT": "U/L", "AST": "U/L", "BILI": "umol/L", "ALP": "U/L", "GGT": "U/L",
             "CREAT": "umol/L", "ALB": "g/L", "INR": ""}
LAB_RANGES = {"ANC": (1.8, 6.3), "PLT": (125, 350), "WBC": (3.5, 9.5), "LYM": (1.1, 3.2),
              "ALT": (7, 40), "AST": (13, 35), "BILI": (3.4, 20.5), "ALP": (45, 125), "GGT": (10, 60),
              "ALB": (40, 55), "INR": (0.8, 1.2)}
LAB_RANGES_SEX = {"HGB": (130, 175, 115, 150), "CREAT": (57, 111, 41, 81)}
LAB_TESTS = ["ANC", "PLT", "HGB", "WBC", "LYM", "ALT", "AST", "BILI", "ALP", "GGT", "CREAT", "ALB", "INR"]
LAB_DECIMALS = {"ANC": 2, "PLT": 0, "HGB": 0, "WBC": 2, "LYM": 2, "ALT": 0, "AST": 0, "BILI": 1, "ALP": 0,
                "GGT": 0, "CREAT": 0, "ALB": 1, "INR": 2}

PATIENT_COLUMNS = ["subject_id", "site", "enrolled_on", "sex", "birth_date", "age", "height_cm", "weight_kg",
                   "serum_creatinine", "serum_creatinine_unit", "agent", "surgery_date", "off_treatment_on",
                   "off_treatment_reason", "recurrence_on", "death_on", "last_contact_on"]
TREATMENT_COLUMNS = ["subject_id", "treatment", "phase", "cycle", "start_date", "end_date", "dose", "dose_unit",
                     "fractions"]
AE_COLUMNS = ["subject_id", "ae_ref", "term", "verbatim", "grade", "onset_date", "end_date", "serious",
              "attribution", "attributed_to", "action_taken", "outcome"]
LAB_COLUMNS = ["subject_id", "collected_on", "test", "value", "unit", "lln", "uln"]

DAY = dt.timedelta(days=1)


def _d(n: int) -> dt.timedelta:
    return dt.timedelta(days=int(n))


def _iso(d: dt.date | None) -> str:
    return "" if d is None else d.isoformat()


# --------------------------------------------------------------------------------------------------
# data structures
@dataclass
class AE:
    term: str
    grades: list[int]            # one entry per row (grade changes); usually a single grade
    onsets: list[dt.date]
    end: dt.date | None          # end of the last row (None = ongoing)
    serious: bool = False
    attribution: str = "possible"
    attributed_to: str = ""
    action: str = "none"
    outcome: str | None = None   # derived from end when None
    verbatim: str | None = None
    lab_override: dict | None = None  # {row index: grade shown by the lab instead of the AE grade}
    tag: str = ""


@dataclass
class Cycle:
    treatment: str
    phase: str
    cycle: int
    start: dt.date
    end: dt.date | None
    dose: float
    unit: str
    fractions: int | None = None


@dataclass
class Patient:
    subject_id: str
    site: str
    site_no: str
    enrolled: dt.date
    sex: str
    birth: dt.date
    age: int
    height: float
    weight: float
    scr_umol: float
    scr_unit: str
    surgery: dt.date
    t0: dt.date
    rt_fx: int
    rt_gy: float
    role: str = ""               # grade >= 3 scenario
    switch: str = ""             # non-severe switch to S-1 ("ppe2" or "diarrhea2")
    recurrence: dt.date | None = None
    withdraw_cycle: int | None = None
    death: dt.date | None = None
    cycles: list[Cycle] = field(default_factory=list)
    aes: list[AE] = field(default_factory=list)
    off_on: dt.date | None = None
    off_reason: str = ""
    agent: str = "capecitabine"
    lab_dates: set = field(default_factory=set)
    rt_end: dt.date | None = None
    maint_start: dt.date | None = None
    last_dose: dt.date | None = None

    @property
    def bsa(self) -> float:
        return math.sqrt(self.height * self.weight / 3600.0)


# --------------------------------------------------------------------------------------------------
# patients and their planned schedule
def _next_monday(d: dt.date) -> dt.date:
    return d + _d((7 - d.weekday()) % 7)


def _rt_length(fx: int) -> int:
    """Calendar days from RT day 1 (a Monday) to the last fraction, 5 fractions a week."""
    weeks, rest = divmod(fx, 5)
    return (weeks - 1) * 7 + 4 if rest == 0 else weeks * 7 + rest - 1


def _enrolment_dates(rng: np.random.Generator, n: int, last: dt.date) -> list[tuple[dt.date, int]]:
    """Enrolment dates with a rate that grows as sites open; returns (date, site index) pairs."""
    days = (last - FIRST_ENROLMENT).days + 1
    day_dates = [FIRST_ENROLMENT + _d(i) for i in range(days)]
    w = np.array([sum(s[3] for s in SITES if s[2] <= d) for d in day_dates], dtype=float)
    w[[d.weekday() >= 5 for d in day_dates]] *= 0.15   # little registration at weekends
    picks = np.sort(rng.choice(days, size=max(n - 1, 0), replace=True, p=w / w.sum()))
    out = [(FIRST_ENROLMENT, 0)] if n > 0 else []
    for k in picks:
        d = day_dates[int(k)]
        active = [i for i, s in enumerate(SITES) if s[2] <= d]
        pw = np.array([SITES[i][3] for i in active])
        out.append((d, int(active[rng.choice(len(active), p=pw / pw.sum())])))
    # the most recent registrations: one about a week before the cut (not yet treated), one 3-5
    # weeks before (still in chemoradiotherapy)
    if n >= 10:
        recent = [last - _d(int(rng.integers(24, 36))), last - _d(int(rng.integers(0, 6)))]
        out = out[:-2] + [(d, out[-2 + k][1]) for k, d in enumerate(recent)]
        out.sort(key=lambda x: x[0])
    # every site should have at least one patient when n allows it
    if n >= 2 * len(SITES):
        counts = {i: 0 for i in range(len(SITES))}
        for _, s in out:
            counts[s] += 1
        for s_missing in [i for i, c in counts.items() if c == 0]:
            for j in range(len(out) - 1, 0, -1):
                if out[j][0] >= SITES[s_missing][2] and counts[out[j][1]] > 1:
                    counts[out[j][1]] -= 1
                    out[j] = (out[j][0], s_missing)
                    counts[s_missing] += 1
                    break
    return out


def _make_patients(rng: np.random.Generator, n: int, as_of: dt.date, *, id_offset: int = 0,
                   enrol_window: tuple[dt.date, dt.date] | None = None,
                   fixed_site: int | None = None) -> list[Patient]:
    if enrol_window is None:
        enrol = _enrolment_dates(rng, n, as_of - _d(7))
    else:
        lo, hi = enrol_window
        span = (hi - lo).days
        ds = sorted(lo + _d(int(x)) for x in rng.integers(0, span + 1, size=n))
        enrol = [(d, fixed_site or 0) for d in ds]
    seq = {i: id_offset for i in range(len(SITES))}
    late_start = set()
    if n >= 20:   # two patients start more than 4 months after surgery (eligibility flag)
        late_start = set(int(x) for x in rng.choice(np.arange(3, n // 2), size=2, replace=False))
    patients = []
    for k, (e, s) in enumerate(enrol):
        seq[s] += 1
        site_no, code, _, _, unit = SITES[s]
        sex = "M" if rng.random() < 0.58 else "F"
        age = int(np.clip(round(rng.normal(59, 9)), 34, 77))
        birth = dt.date(e.year - age, 1, 1) + _d(int(rng.integers(0, 365)))
        if (birth.month, birth.day) > (e.month, e.day):     # keep age at enrolment == age
            birth = dt.date(birth.year - 1, birth.month, min(birth.day, 28))
        if (e.year - birth.year) - ((e.month, e.day) < (birth.month, birth.day)) != age:
            birth = dt.date(e.year - age - 1, 12, 31) if (e.month, e.day) < (12, 31) else dt.date(e.year - age, 1, 1)
        if sex == "M":
            height = round(float(rng.normal(169, 6)), 1)
            weight = round(float(np.clip(rng.normal(66, 9), 48, 92)), 1)
            scr = float(np.clip(rng.normal(80, 13), 58, 108))
        else:
            height = round(float(rng.normal(158, 5)), 1)
            weight = round(float(np.clip(rng.normal(56, 8), 42, 80)), 1)
            scr = float(np.clip(rng.normal(62, 10), 43, 80))
        if k in late_start:
            surgery = e - _d(int(rng.integers(63, 71)))
            t0 = _next_monday(surgery + _d(124))
        else:
            surgery = e - _d(int(rng.integers(21, 71)))
            t0 = _next_monday(e + _d(int(rng.integers(7, 22))))
        fx = 25 if rng.random() < 0.85 else 20
        gy = float(rng.choice([55.0, 60.0], p=[0.6, 0.4])) if fx == 25 else 55.0
        patients.append(Patient(
            subject_id=f"ICC-{site_no}-{seq[s]:03d}", site=code, site_no=site_no, enrolled=e, sex=sex,
            birth=birth, age=age, height=height, weight=weight, scr_umol=round(scr), scr_unit=unit,
            surgery=surgery, t0=t0, rt_fx=fx, rt_gy=gy))
    return patients


def _nominal_maint_start(p: Patient, k: int) -> dt.date:
    return p.t0 + _d(_rt_length(p.rt_fx) + 30 + 21 * (k - 1))


def _assign_roles(rng: np.random.Generator, patients: list[Patient], as_of: dt.date) -> None:
    """Decide who gets a grade >= 3 scenario, who switches to S-1, recurs, withdraws."""
    started = [p for p in patients if p.t0 <= as_of]
    n_sev = int(round(SEVERE_SHARE * len(started)))
    free = set(range(len(patients)))

    def can_conc(p):
        return p.t0 + _d(35) <= as_of

    def can_maint(p, k):
        return _nominal_maint_start(p, k) + _d(30) <= as_of

    order = list(SCENARIOS)
    chosen = []
    while len(chosen) < n_sev and order:
        chosen.append(order.pop(0))
        if not order and len(chosen) < n_sev:
            order = [s for s in SCENARIOS if s.endswith("3_conc") or s.endswith("3_maint")]
    # Spread the severe patients over the accrual order: at every look n (patients ordered by the
    # start of treatment, overall and per phase) at most floor(0.3 n) have had a grade >= 3 event,
    # so the default sample stays clear of the trial's stopping boundaries (p0 = 0.30).
    by_start = sorted((i for i, p in enumerate(patients) if p.t0 <= as_of), key=lambda i: (patients[i].t0, i))
    by_maint = sorted((i for i in by_start if _nominal_maint_start(patients[i], 1) <= as_of),
                      key=lambda i: (_nominal_maint_start(patients[i], 1), i))

    def path_ok(roles: dict[int, str]) -> bool:
        for order_, phase in ((by_start, None), (by_start, "concurrent"), (by_maint, "maintenance")):
            x = 0
            for n, i in enumerate(order_, start=1):
                x += i in roles and (phase is None or SCENARIOS[roles[i]] == phase)
                if x > (3 * n) // 10:
                    return False
        return True

    roles: dict[int, str] = {}
    for name in chosen:
        for attempt_name in (name, "neutropenia3_conc"):
            phase = SCENARIOS[attempt_name]
            need = 4 if attempt_name in ("ugi_bleed_maint", "ppe3_switch_maint", "diarrhea3_switch_maint") else 3
            cands = [i for i in sorted(free) if (can_maint(patients[i], need) if phase == "maintenance"
                                                 else can_conc(patients[i]))]
            placed = False
            for i in rng.permutation(cands) if cands else []:
                i = int(i)
                if path_ok({**roles, i: attempt_name}):
                    roles[i] = attempt_name
                    patients[i].role = attempt_name
                    free.discard(i)
                    placed = True
                    break
            if placed:
                break
    for sw in ("ppe2", "diarrhea2"):
        cands = sorted(i for i in free if can_maint(patients[i], 4))
        if cands:
            i = int(rng.choice(cands))
            patients[i].switch = sw
            free.discard(i)
    # recurrence for some patients without a planned event; one withdrawal
    cands = sorted(i for i in free if patients[i].t0 + _d(120) <= as_of)
    n_rec = min(len(cands), int(round(0.14 * len(started))))
    for k, i in enumerate(rng.choice(cands, size=n_rec, replace=False) if n_rec else []):
        p = patients[int(i)]
        # the first two recur during maintenance (treatment stops), the others later or not yet
        p.recurrence = p.t0 + _d(int(rng.integers(105, 160) if k < 2 else rng.integers(110, 430)))
        if p.recurrence > as_of - _d(5):
            p.recurrence = None
            continue
        free.discard(int(i))
        if p.recurrence + _d(90) < as_of and rng.random() < 0.45:
            p.death = min(p.recurrence + _d(int(rng.integers(70, 220))), as_of - _d(3))
    cands = sorted(i for i in free if can_maint(patients[i], 3))
    if cands:
        p = patients[int(rng.choice(cands))]
        p.withdraw_cycle = 2
        free.discard(patients.index(p))


# --------------------------------------------------------------------------------------------------
# the treatment and adverse-event simulation for one patient
class _Sim:
    def __init__(self, rng: np.random.Generator, p: Patient, as_of: dt.date):
        self.rng, self.p, self.as_of = rng, p, as_of

    def ri(self, lo: int, hi: int) -> int:
        return int(self.rng.integers(lo, hi + 1))

    def verb(self, term: str) -> str:
        opts = VERBATIM.get(term, [term.lower()])
        return opts[int(self.rng.integers(0, len(opts)))]

    def add(self, term, grade, onset, dur, **kw) -> AE:
        end = onset + _d(dur)
        ae = AE(term=term, grades=[grade], onsets=[onset], end=end, **kw)
        self.p.aes.append(ae)
        return ae

    def s1_dose(self) -> int:
        b = self.p.bsa
        return 40 if b < 1.25 else 50 if b < 1.5 else 60

    # ---------------------------------------------------------------------------------------------
    def run(self) -> None:
        p, rng, as_of = self.p, self.rng, self.as_of
        if p.t0 > as_of:
            p.agent = "capecitabine"
            self._baseline_events()
            return
        role = p.role
        level = 1.0
        c2_level = 1.0
        rt_break = 0
        c1s, c1e = p.t0, p.t0 + _d(13)
        c2s = p.t0 + _d(21)
        # ---- concurrent scenario ----------------------------------------------------------------
        sc_onset = None
        if SCENARIOS.get(role) == "concurrent":
            sc_onset = p.t0 + _d(self.ri(9, 26))
            dur = self.ri(6, 16)
            ev_end = sc_onset + _d(dur)
            if self._concurrent_scenario(role, sc_onset, dur):
                # RT held: one week of fractions lost (two for radiation dermatitis: flag > 7 days)
                rt_break = 14 if role == "dermatitis3_conc" else 7
            reduce = role != "cholangitis_conc"
            if sc_onset <= c1e:
                c1e = sc_onset
            if sc_onset < c2s:
                c2s = max(c2s, min(ev_end, sc_onset + _d(14)) + DAY)
                if reduce:
                    c2_level = 0.75
            if reduce:
                level = 0.75
        rt_end = p.t0 + _d(_rt_length(p.rt_fx) + rt_break)
        c2s = min(c2s, rt_end - _d(4))
        c2e = c2s + _d(13)
        if sc_onset is not None and c2s <= sc_onset <= c2e:
            c2e = sc_onset
        p.rt_end = rt_end
        self._cycle("RT", "concurrent", 1, p.t0, rt_end, p.rt_gy, "Gy", p.rt_fx)
        self._cycle("capecitabine", "concurrent", 1, c1s, c1e, 1600, "mg/m2/day")
        self._cycle("capecitabine", "concurrent", 2, c2s, c2e, 1600 * c2_level, "mg/m2/day")
        stop_reason = ""
        stop_on = None
        # ---- maintenance ------------------------------------------------------------------------
        start = rt_end + _d(self.ri(25, 35))
        if p.recurrence and p.recurrence < start:
            stop_reason, stop_on = "recurrence", p.recurrence
        maint_event_cycle = None
        if SCENARIOS.get(role) == "maintenance":
            maint_event_cycle = 3 if role in ("ugi_bleed_maint", "ppe3_switch_maint",
                                              "diarrhea3_switch_maint") else self.ri(1, 3)
        switch_cycle = 3 if p.switch else None
        agent = "capecitabine"
        n_done = 0
        if not stop_reason:
            p.maint_start = start if start <= as_of else None
        k = 1
        while not stop_reason and k <= 6:
            if start > as_of:
                break
            if p.recurrence and p.recurrence <= start:
                stop_reason, stop_on = "recurrence", p.recurrence
                break
            end = start + _d(13)
            next_start = start + _d(21)
            if agent == "capecitabine":
                dose, unit = 2000 * level, "mg/m2/day"
            else:
                dose, unit = self.s1_dose() if level >= 1.0 else max(40, self.s1_dose() - 10), "mg"
            if maint_event_cycle == k:
                onset = start + _d(self.ri(6, 11))
                dur = self.ri(7, 18)
                action = self._maintenance_scenario(role, onset, dur, agent)
                end = min(end, onset)
                next_start = max(next_start, min(onset + _d(dur), onset + _d(21)) + DAY)
                if action == "withdrawn":
                    stop_reason, stop_on = "toxicity", onset + _d(2)
                elif action == "switch":
                    agent = "S-1"
                elif action == "reduce":
                    level = min(level, 0.75)
            if switch_cycle and k in (switch_cycle - 1, switch_cycle):
                onset = start + _d(self.ri(7, 11))
                dur = self.ri(6, 12)
                term = ("Palmar-plantar erythrodysesthesia syndrome" if p.switch == "ppe2" else "Diarrhea")
                last = k == switch_cycle
                self.add(term, 2, onset, dur, attribution="probable" if term != "Diarrhea" else "possible",
                         attributed_to="capecitabine", action="withdrawn" if last else "interrupted",
                         verbatim=self.verb(term), tag="switch")
                end = min(end, onset)
                if last:
                    agent = "S-1"
                    next_start = max(next_start, onset + _d(dur) + _d(7))
            if p.withdraw_cycle == k and k > 1:
                stop_reason, stop_on = "patient decision", start - _d(3)
                break
            if p.recurrence and p.recurrence <= end:
                end = p.recurrence
                stop_reason, stop_on = "recurrence", p.recurrence
            # cycles are numbered through the protocol: concurrent 1-2, maintenance 3-8
            self._cycle(("capecitabine" if unit != "mg" else "S-1"), "maintenance", 2 + k, start,
                        end, dose, unit)
            n_done = k
            if stop_reason:
                break
            start = next_start
            k += 1
        p.agent = agent
        if not stop_reason and n_done == 6 and p.cycles[-1].end and p.cycles[-1].end <= as_of:
            stop_reason, stop_on = "completed", p.cycles[-1].end
        if not stop_reason and p.recurrence and p.recurrence <= as_of:
            stop_reason, stop_on = "recurrence", p.recurrence
        if stop_reason and stop_on and stop_on <= as_of:
            p.off_on, p.off_reason = stop_on, stop_reason
        # clip to the data cut
        kept = []
        for c in p.cycles:
            if c.start > as_of:
                continue
            if c.end is not None and c.end > as_of:
                if c.treatment == "RT":
                    done = self._fractions_by(c.start, as_of)
                    c.fractions = done
                    c.dose = round(p.rt_gy * done / p.rt_fx, 1)
                c.end = None
            kept.append(c)
        p.cycles = kept
        ends = [c.end or as_of for c in p.cycles]
        p.last_dose = max(ends)
        self._baseline_events()
        self._background()
        self._post_treatment_event()

    def _fractions_by(self, start: dt.date, day: dt.date) -> int:
        n, d = 0, start
        while d <= day:
            if d.weekday() < 5:
                n += 1
            d += DAY
        return min(n, self.p.rt_fx)

    def _cycle(self, treatment, phase, cycle, start, end, dose, unit, fractions=None):
        self.p.cycles.append(Cycle(treatment, phase, cycle, start, end, float(dose), unit, fractions))

    # ---------------------------------------------------------------------------------------------
    def _concurrent_scenario(self, role: str, onset: dt.date, dur: int) -> bool:
        """Adds the grade >= 3 events of a concurrent-phase scenario; True when RT is held."""
        a = self.add
        if role == "cholangitis_conc":
            a("Biliary tract infection", 3, onset, dur, serious=True, attribution="unlikely",
              attributed_to="RT", action="interrupted", verbatim="acute cholangitis, admitted for IV antibiotics")
            a("Blood bilirubin increased", 2, onset, dur, attribution="unlikely", attributed_to="RT",
              action="interrupted", verbatim="raised bilirubin with cholangitis", lab_override={0: 3})
            return True
        if role == "febrile_neutropenia_conc":
            a("Neutrophil count decreased", 3, onset - _d(2), dur + 2, attribution="probable",
              attributed_to="more than one", action="interrupted", verbatim="neutropenia")
            a("Febrile neutropenia", 3, onset, self.ri(4, 7), serious=True, attribution="probable",
              attributed_to="more than one", action="interrupted", verbatim="neutropenic fever 38.6 C, admitted")
            return True
        term, hold = {
            "diarrhea3_conc": ("Diarrhea", True), "neutropenia3_conc": ("Neutrophil count decreased", True),
            "dermatitis3_conc": ("Dermatitis radiation", True), "platelet3_conc": ("Platelet count decreased", True),
            "fatigue3_conc": ("Fatigue", False), "nausea3_conc": ("Nausea", False),
        }[role]
        attr_to = "RT" if term == "Dermatitis radiation" else "more than one"
        ae = a(term, 3, onset, dur, attribution="definite" if term == "Dermatitis radiation" else "probable",
               attributed_to=attr_to, action="interrupted" if term == "Dermatitis radiation" else "dose reduced",
               verbatim=self.verb(term))
        if term in ("Diarrhea", "Dermatitis radiation"):   # recorded as grade changes 2 -> 3 -> 1
            first = onset - _d(self.ri(3, 6))
            ae.grades = [2, 3, 1]
            ae.onsets = [first, onset, onset + _d(max(3, dur // 2))]
        return hold

    def _maintenance_scenario(self, role: str, onset: dt.date, dur: int, agent: str) -> str:
        a = self.add
        drug = agent
        if role == "ugi_bleed_maint":
            a("Duodenal ulcer", 3, onset - _d(1), dur + 10, attribution="probable", attributed_to="RT",
              action="withdrawn", verbatim="duodenal ulcer in RT field on gastroscopy")
            a("Upper gastrointestinal hemorrhage", 3, onset, self.ri(5, 9), serious=True, attribution="probable",
              attributed_to="more than one", action="withdrawn", verbatim="melaena, bleeding duodenal ulcer",
              outcome="recovered/resolved")
            a("Anemia", 3, onset, dur, attribution="possible", attributed_to="more than one",
              action="withdrawn", verbatim="acute blood loss anaemia, transfused 2 units")
            return "withdrawn"
        if role == "cholangitis_maint":
            a("Biliary tract infection", 3, onset, dur, serious=True, attribution="unrelated", attributed_to="",
              action="interrupted", verbatim="cholangitis, biliary stent stenosis")
            return "none"
        if role == "ppe3_switch_maint":
            ae = a("Palmar-plantar erythrodysesthesia syndrome", 3, onset, dur, attribution="definite",
                   attributed_to=drug, action="withdrawn", verbatim="hand-foot syndrome, blistering")
            ae.grades = [1, 2, 3, 1]
            ae.onsets = [onset - _d(12), onset - _d(5), onset, onset + _d(max(4, dur // 2))]
            return "switch"
        if role == "diarrhea3_switch_maint":
            a("Diarrhea", 3, onset, dur, attribution="probable", attributed_to=drug, action="withdrawn",
              verbatim="diarrhoea 7-8 stools/day")
            return "switch"
        term, attr = {
            "ppe3_maint": ("Palmar-plantar erythrodysesthesia syndrome", "definite"),
            "bili3_maint": ("Blood bilirubin increased", "possible"),
            "alt3_maint": ("Alanine aminotransferase increased", "possible"),
            "neutropenia3_maint": ("Neutrophil count decreased", "probable"),
        }[role]
        a(term, 3, onset, dur, attribution=attr, attributed_to=drug, action="dose reduced", verbatim=self.verb(term))
        if term == "Alanine aminotransferase increased":
            a("Aspartate aminotransferase increased", 2, onset, dur - 2, attribution=attr, attributed_to=drug,
              action="dose reduced", verbatim="AST increased")
        return "reduce"

    # ---------------------------------------------------------------------------------------------
    def _baseline_events(self) -> None:
        p = self.p
        if self.rng.random() >= 0.20:
            return
        last = min(p.t0 - DAY, self.as_of)
        if last < p.enrolled:
            return
        onset = p.enrolled + _d(self.ri(0, max(0, (last - p.enrolled).days)))
        term = str(self.rng.choice(["Abdominal pain", "Abdominal pain", "Fatigue", "Anorexia", "Hypoalbuminemia"]))
        verb = {"Abdominal pain": "post-operative wound pain", "Fatigue": "tiredness since surgery",
                "Anorexia": "poor appetite after surgery", "Hypoalbuminemia": "low albumin after hepatectomy"}[term]
        self.add(term, 1, onset, self.ri(10, 40), attribution="unrelated", attributed_to="", verbatim=verb,
                 tag="baseline")

    def _window_events(self, profile, lo, hi, full_len, phase):
        p, rng = self.p, self.rng
        hi = min(hi, self.as_of)
        if hi < lo:
            return
        frac = min(1.0, ((hi - lo).days + 1) / full_len)
        planned = {ae.term for ae in p.aes if ae.onsets[0] >= lo and ae.onsets[0] <= hi}
        for term, (prob, p2) in profile.items():
            if term in planned or rng.random() >= prob * frac:
                continue
            grade = 2 if rng.random() < p2 else 1
            onset = lo + _d(int(rng.integers(0, (hi - lo).days + 1)))
            lab = TERMS[term][2]
            if lab is not None:
                # lab-type events start on a scheduled lab day when one falls in the window
                days = sorted(d for d in self._scheduled_lab_days() if lo <= d <= hi)
                if days:
                    onset = days[int(rng.integers(0, len(days)))]
            dur = self.ri(5, 21) if lab else self.ri(3, 28)
            if phase == "concurrent":
                attr_to = {"Dermatitis radiation": "RT", "Lymphocyte count decreased": "RT",
                           "Palmar-plantar erythrodysesthesia syndrome": "capecitabine",
                           "Fatigue": "more than one"}.get(term, "more than one")
            else:
                attr_to = self._agent_on(onset)
            attribution = str(rng.choice(["possible", "probable", "possible", "unlikely"]))
            if term in ("Dermatitis radiation", "Palmar-plantar erythrodysesthesia syndrome"):
                attribution = "definite" if rng.random() < 0.5 else "probable"
            if term in ("Abdominal pain", "Insomnia", "Constipation"):
                attribution = "unlikely"
            action = "none"
            if grade == 2 and term in ("Palmar-plantar erythrodysesthesia syndrome", "Diarrhea", "Mucositis oral"):
                action = "interrupted"
            self.add(term, grade, onset, dur, attribution=attribution, attributed_to=attr_to, action=action,
                     verbatim=self.verb(term))

    def _agent_on(self, d: dt.date) -> str:
        agent = "capecitabine"
        for c in self.p.cycles:
            if c.treatment != "RT" and c.start <= d:
                agent = c.treatment
        return agent

    def _scheduled_lab_days(self) -> list[dt.date]:
        p = self.p
        out = []
        if p.rt_end is not None:
            d = p.t0 + _d(7)
            while d <= p.rt_end:
                out.append(d)
                d += _d(7)
        out += [c.start for c in p.cycles if c.treatment != "RT" and c.start > p.t0]
        return [d for d in out if d <= self.as_of]

    def _background(self) -> None:
        p = self.p
        conc_lo, conc_hi = p.t0 + _d(3), p.rt_end + _d(10)
        self._window_events(CONCURRENT_PROFILE, conc_lo, conc_hi, (conc_hi - conc_lo).days + 1, "concurrent")
        maint = [c for c in p.cycles if c.phase == "maintenance"]
        if maint:
            lo = maint[0].start + _d(3)
            hi = (maint[-1].end or self.as_of) + _d(10)
            hi = min(hi, (p.off_on + _d(20)) if p.off_on else hi)
            self._window_events(MAINTENANCE_PROFILE, lo, hi, 6 * 21, "maintenance")

    def _post_treatment_event(self) -> None:
        p = self.p
        if p.off_reason == "completed" and self.rng.random() < 0.35:
            onset = p.off_on + _d(self.ri(45, 90))
            if onset + _d(3) <= self.as_of and (not p.death or onset < p.death):
                self.add(str(self.rng.choice(["Fatigue", "Insomnia", "Dyspepsia"])), 1, onset, self.ri(7, 30),
                         attribution="unlikely", attributed_to="", verbatim=None, tag="post")


# --------------------------------------------------------------------------------------------------
def _finalise_aes(rng: np.random.Generator, patients: list[Patient], as_of: dt.date) -> None:
    """Grade-change rows, worsening of a baseline condition, verbatims, outcomes, clip to the cut."""
    # a handful of background grade-2 events become multi-row grade-change records (1 -> 2 -> 1)
    cands = [(i, j) for i, p in enumerate(patients) for j, ae in enumerate(p.aes)
             if len(ae.grades) == 1 and ae.grades[0] == 2 and ae.term in MULTIROW_CANDIDATES and ae.tag == ""
             and ae.end is not None and (ae.end - ae.onsets[0]).days >= 10]
    n_multi = min(len(cands), max(3, len(patients) // 10))
    for k in rng.choice(len(cands), size=n_multi, replace=False) if n_multi else []:
        i, j = cands[int(k)]
        ae = patients[i].aes[j]
        o, e = ae.onsets[0], ae.end
        span = (e - o).days
        ae.grades = [1, 2, 1]
        ae.onsets = [o, o + _d(max(2, span // 4)), o + _d(max(4, (2 * span) // 3))]
    # one baseline condition that worsens on treatment (same ae_ref, grade 1 before, 2 after)
    for p in patients:
        base = [ae for ae in p.aes if ae.tag == "baseline" and ae.term == "Abdominal pain"]
        if base and sum(ae.term == "Abdominal pain" for ae in p.aes) == 1 and p.rt_end is not None and p.t0 + _d(10) <= as_of:
            ae = base[0]
            ae.grades = [1, 2]
            ae.onsets = [ae.onsets[0], p.t0 + _d(7)]
            ae.end = p.t0 + _d(7 + 12)
            ae.attribution, ae.attributed_to = "possible", "RT"
            ae.tag = "baseline-worsened"
            break
    for p in patients:
        sim_rng = rng
        for ae in p.aes:
            if ae.verbatim is None:
                opts = VERBATIM.get(ae.term, [ae.term.lower()])
                ae.verbatim = opts[int(sim_rng.integers(0, len(opts)))]
            lo_g, hi_g, _ = TERMS.get(ae.term, (1, 5, None))
            assert all(lo_g <= g <= hi_g for g in ae.grades), (ae.term, ae.grades)
            last_onset = max(ae.onsets)
            if ae.end is not None and ae.end < last_onset:
                ae.end = last_onset + _d(2)
            if ae.end is not None and ae.end > as_of:
                ae.end = None
        p.aes = [ae for ae in p.aes if ae.onsets[0] <= as_of]
        for ae in p.aes:   # grade-change rows after the cut are dropped
            keep = [k for k, o in enumerate(ae.onsets) if o <= as_of]
            ae.onsets = [ae.onsets[k] for k in keep]
            ae.grades = [ae.grades[k] for k in keep]
            if ae.outcome is None:
                ae.outcome = "recovered/resolved" if ae.end is not None else (
                    "recovering/resolving" if len(ae.onsets) > 1 and ae.grades[-1] < max(ae.grades)
                    else "not recovered/not resolved")


def _ae_rows(p: Patient) -> list[dict]:
    rows = []
    events = sorted(p.aes, key=lambda a: (a.onsets[0], a.term))
    for n, ae in enumerate(events, start=1):
        ref = f"AE-{n:03d}"
        for k, (g, o) in enumerate(zip(ae.grades, ae.onsets)):
            last = k == len(ae.grades) - 1
            end = ae.end if last else ae.onsets[k + 1] - DAY
            rows.append({
                "subject_id": p.subject_id, "ae_ref": ref, "term": ae.term, "verbatim": ae.verbatim,
                "grade": g, "onset_date": _iso(o), "end_date": _iso(end),
                "serious": "Y" if ae.serious else "N", "attribution": ae.attribution,
                "attributed_to": ae.attributed_to, "action_taken": ae.action,
                "outcome": ae.outcome if last else "recovering/resolving" if ae.grades[k + 1] < g
                else "not recovered/not resolved",
            })
    return rows


# --------------------------------------------------------------------------------------------------
# labs
def _lab_range(test: str, sex: str) -> tuple[float, float]:
    if test in LAB_RANGES_SEX:
        lm, um, lf, uf = LAB_RANGES_SEX[test]
        return (lm, um) if sex == "M" else (lf, uf)
    return LAB_RANGES[test]


def _band_value(rng: np.random.Generator, test: str, grade: int, lln: float, uln: float) -> float:
    u = float(rng.uniform(0.15, 0.85))
    lin = lambda a, b: a + (b - a) * u  # noqa: E731
    bands_low = {  # decreasing tests: grade -> (low, high)
        "ANC": {1: (1.5, lln), 2: (1.0, 1.5), 3: (0.5, 1.0), 4: (0.15, 0.5)},
        "PLT": {1: (75, lln), 2: (50, 75), 3: (25, 50), 4: (8, 25)},
        "WBC": {1: (3.0, lln), 2: (2.0, 3.0), 3: (1.0, 2.0), 4: (0.4, 1.0)},
        "LYM": {1: (0.8, lln), 2: (0.5, 0.8), 3: (0.2, 0.5), 4: (0.08, 0.2)},
        "HGB": {1: (100, lln), 2: (80, 100), 3: (62, 80), 4: (55, 62)},
        "ALB": {1: (30, lln), 2: (20, 30), 3: (14, 20), 4: (12, 14)},
    }
    bands_high = {  # multiples of ULN
        "ALT": {1: (1.1, 3.0), 2: (3.0, 5.0), 3: (5.0, 12.0), 4: (20.5, 25)},
        "AST": {1: (1.1, 3.0), 2: (3.0, 5.0), 3: (5.0, 12.0), 4: (20.5, 25)},
        "BILI": {1: (1.05, 1.5), 2: (1.5, 3.0), 3: (3.0, 7.0), 4: (10.5, 13)},
    }
    if test in bands_low:
        return lin(*bands_low[test][grade])
    lo, hi = bands_high[test][grade]
    return uln * lin(lo, hi)


def _labs(rng: np.random.Generator, patients: list[Patient], as_of: dt.date,
          severe_ids: set[str]) -> list[dict]:
    rows = []
    for p in patients:
        days = set()
        if p.t0 <= as_of:
            days.add(max(p.enrolled, p.t0 - _d(int(rng.integers(2, 6)))))
            sim = _Sim(rng, p, as_of)
            days.update(sim._scheduled_lab_days())
        elif p.enrolled + DAY <= as_of:
            days.add(p.enrolled + DAY)
        marks: dict[tuple[dt.date, str], int] = {}
        for ae in p.aes:
            test = TERMS[ae.term][2]
            if test is None:
                continue
            for k, (g, o) in enumerate(zip(ae.grades, ae.onsets)):
                if ae.lab_override and k in ae.lab_override:
                    g = ae.lab_override[k]
                days.add(o)
                key = (o, test)
                marks[key] = max(marks.get(key, 0), g)
            if ae.term == "Febrile neutropenia":
                pass
        for ae in p.aes:   # febrile neutropenia needs ANC < 1.0 on its onset day
            if ae.term == "Febrile neutropenia":
                days.add(ae.onsets[0])
                marks[(ae.onsets[0], "ANC")] = max(marks.get((ae.onsets[0], "ANC"), 0), 3)
        days = sorted(d for d in days if d <= as_of)
        if not days:
            continue
        # the patient's own normal level for each test (fraction of the way from LLN to ULN)
        base = {t: float(rng.uniform(0.25, 0.6)) for t in LAB_TESTS}
        for d in days:
            vals = {}
            for t in LAB_TESTS:
                lln, uln = _lab_range(t, p.sex)
                if t == "WBC":
                    continue
                if t == "CREAT" and d == days[0]:
                    vals[t] = float(p.scr_umol)
                    continue
                if t == "ANC":
                    lln_eff, uln_eff = 2.2, 6.0
                elif t == "LYM":
                    lln_eff, uln_eff = 1.25, 3.0
                elif t == "BILI":
                    lln_eff, uln_eff = 5.0, 18.0
                else:
                    span = uln - lln
                    lln_eff, uln_eff = lln + 0.06 * span, uln - 0.06 * span
                f = float(np.clip(base[t] + rng.normal(0, 0.08), 0.02, 0.98))
                vals[t] = lln_eff + (uln_eff - lln_eff) * f
                if (d, t) in marks:
                    vals[t] = _band_value(rng, t, marks[(d, t)], lln, uln)
                elif t == "CREAT":
                    # CTCAE v5.0 grades a rise above 1.5 x baseline as grade 2 even within the normal
                    # range: an unmarked patient's creatinine stays below that
                    vals[t] = min(vals[t], float(p.scr_umol) * (1.35 + 0.1 * f))
            other = float(rng.uniform(0.45, 0.9))
            wbc = vals["ANC"] + vals["LYM"] + other
            if ((d, "ANC") in marks or (d, "LYM") in marks) and p.subject_id not in severe_ids:
                wbc = max(wbc, 2.1)
            vals["WBC"] = wbc
            for t in LAB_TESTS:
                lln, uln = _lab_range(t, p.sex)
                nd = LAB_DECIMALS[t]
                v = f"{vals[t]:.{nd}f}"
                rows.append({"subject_id": p.subject_id, "collected_on": d, "test": t, "value": v,
                             "unit": LAB_UNITS[t], "lln": lln, "uln": uln})
    return rows


def _wbc_grade(v: float, lln: float) -> int:
    return 0 if v >= lln else 1 if v >= 3.0 else 2 if v >= 2.0 else 3 if v >= 1.0 else 4


def _add_wbc_events(patients: list[Patient], lab_rows: list[dict]) -> None:
    """Low WBC that follows from a low ANC/lymphocyte count is reported as its own event."""
    by_subject = {p.subject_id: p for p in patients}
    for r in lab_rows:
        if r["test"] != "WBC":
            continue
        g = _wbc_grade(float(r["value"]), r["lln"])
        if g == 0:
            continue
        p = by_subject[r["subject_id"]]
        d = r["collected_on"]
        if any(ae.term == "White blood cell decreased" and ae.onsets[0] <= d <= (ae.end or d) for ae in p.aes):
            continue
        src = [ae for ae in p.aes if TERMS[ae.term][2] in ("ANC", "LYM") and d in ae.onsets]
        src_ae = src[0] if src else None
        end = src_ae.end if src_ae else d + _d(7)
        p.aes.append(AE("White blood cell decreased", [g], [d], end,
                        attribution=src_ae.attribution if src_ae else "possible",
                        attributed_to=src_ae.attributed_to if src_ae else "more than one",
                        action="none", verbatim="leukopenia", outcome=None))


def _apply_lab_discrepancies(rng: np.random.Generator, patients: list[Patient], severe_ids: set[str]) -> None:
    """One non-severe patient's reported grade-1 neutropenia whose ANC is in fact grade 2 (the other
    query comes from the cholangitis scenario: bilirubin reported grade 2, lab grade 3)."""
    cands = [(p, ae) for p in patients if p.subject_id not in severe_ids for ae in p.aes
             if ae.term == "Neutrophil count decreased" and ae.grades == [1]]
    if cands:
        p, ae = cands[int(rng.integers(0, len(cands)))]
        ae.lab_override = {0: 2}


# --------------------------------------------------------------------------------------------------
def _simulate(rng: np.random.Generator, patients: list[Patient], as_of: dt.date) -> tuple[list[dict], set[str]]:
    _assign_roles(rng, patients, as_of)
    for p in patients:
        _Sim(rng, p, as_of).run()
    _finalise_aes(rng, patients, as_of)
    severe = {p.subject_id for p in patients if any(max(ae.grades) >= 3 for ae in p.aes)}
    _apply_lab_discrepancies(rng, patients, severe)
    lab_rows = _labs(rng, patients, as_of, severe)
    _add_wbc_events(patients, lab_rows)
    for p in patients:
        for ae in p.aes:
            if ae.outcome is None:
                if ae.end is not None and ae.end > as_of:
                    ae.end = None
                ae.outcome = "recovered/resolved" if ae.end is not None else "not recovered/not resolved"
    return lab_rows, severe


def _last_contact(p: Patient, lab_rows_by_subject: dict, as_of: dt.date, rng: np.random.Generator) -> dt.date:
    if p.death:
        return p.death
    dates = [p.enrolled]
    dates += [c.start for c in p.cycles] + [c.end for c in p.cycles if c.end]
    dates += [o for ae in p.aes for o in ae.onsets] + [ae.end for ae in p.aes if ae.end]
    dates += lab_rows_by_subject.get(p.subject_id, [])
    if p.recurrence:
        dates.append(p.recurrence)
    latest = max(dates)
    if p.off_on is None and p.t0 <= as_of:      # on treatment: seen recently
        cand = as_of - _d(int(rng.integers(0, 10)))
    else:
        cand = as_of - _d(int(rng.integers(5, 60)))
    return max(latest, min(cand, as_of))


def _patient_rows(patients: list[Patient], lab_rows: list[dict], as_of: dt.date,
                  rng: np.random.Generator) -> list[dict]:
    lab_dates: dict[str, list[dt.date]] = {}
    for r in lab_rows:
        lab_dates.setdefault(r["subject_id"], []).append(r["collected_on"])
    rows = []
    for p in patients:
        scr = f"{p.scr_umol / 88.4:.2f}" if p.scr_unit == "mg/dL" else f"{int(p.scr_umol)}"
        rows.append({
            "subject_id": p.subject_id, "site": p.site, "enrolled_on": _iso(p.enrolled), "sex": p.sex,
            "birth_date": _iso(p.birth), "age": p.age, "height_cm": f"{p.height:.1f}",
            "weight_kg": f"{p.weight:.1f}", "serum_creatinine": scr, "serum_creatinine_unit": p.scr_unit,
            "agent": p.agent, "surgery_date": _iso(p.surgery), "off_treatment_on": _iso(p.off_on),
            "off_treatment_reason": p.off_reason, "recurrence_on": _iso(p.recurrence),
            "death_on": _iso(p.death), "last_contact_on": _iso(_last_contact(p, lab_dates, as_of, rng)),
        })
    return rows


def _fmt_num(x: float) -> str:
    return f"{int(x)}" if float(x).is_integer() else f"{x:g}"


def _treatment_rows(patients: list[Patient]) -> list[dict]:
    rows = []
    for p in patients:
        for c in p.cycles:
            rows.append({"subject_id": p.subject_id, "treatment": c.treatment, "phase": c.phase,
                         "cycle": c.cycle, "start_date": _iso(c.start), "end_date": _iso(c.end),
                         "dose": _fmt_num(c.dose), "dose_unit": c.unit,
                         "fractions": "" if c.fractions is None else str(c.fractions)})
    return rows


def _write_csv(df: pd.DataFrame, path: Path, **kw) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False, lineterminator="\n", **kw)
    return path


# --------------------------------------------------------------------------------------------------
# messy site export
_ROMAN = {1: "I", 2: "II", 3: "III", 4: "IV", 5: "V"}
_MESSY_TERM = {
    "Palmar-plantar erythrodysesthesia syndrome": "Hand-foot syndrome", "Neutrophil count decreased": "Neutropenia",
    "Platelet count decreased": "Thrombocytopenia", "White blood cell decreased": "Leukopenia",
    "Blood bilirubin increased": "Hyperbilirubinemia", "Mucositis oral": "Stomatitis",
    "Biliary tract infection": "Cholangitis", "Diarrhea": "Diarrhoea", "Anemia": "Anaemia",
}
_MESSY_REL = {"unrelated": "Not related", "unlikely": "Unlikely", "possible": "Possible",
              "probable": "Probable", "definite": "Definite"}
MESSY_HEADER = ["Patient ID", "AE No.", "CTCAE Term", "Verbatim", "CTCAE Grade", "Start Date",
                "Resolution date", "SAE", "Relationship", "Suspected drug", "Action taken", "Outcome"]


def _grade_word(rng: np.random.Generator, g: int) -> str:
    style = int(rng.integers(0, 5))
    return [f"Grade {g}", f"G{g}", _ROMAN.get(g, str(g)), str(g), f"grade {g}"][style]


def _messy_rows(rng: np.random.Generator, ae_rows: list[dict], patients: list[Patient],
                as_of: dt.date) -> list[dict]:
    """Rows as dicts with python dates for the date columns (formatted by each writer)."""
    site_ids = [p.subject_id for p in patients if p.site == MESSY_SITE]
    out = []
    term_of: dict[tuple[str, str], str] = {}
    for r in ae_rows:
        if r["subject_id"] not in site_ids:
            continue
        key = (r["subject_id"], r["ae_ref"])
        if key not in term_of:   # one spelling per event, so grade-change rows still match
            term = r["term"]
            if term in _MESSY_TERM and rng.random() < 0.35:
                term = _MESSY_TERM[term]
            elif rng.random() < 0.15:
                term = term.lower()
            term_of[key] = term
        term = term_of[key]
        verb = r["verbatim"]
        out.append({
            "Patient ID": r["subject_id"], "AE No.": r["ae_ref"], "CTCAE Term": term, "Verbatim": verb,
            "CTCAE Grade": _grade_word(rng, int(r["grade"])),
            "Start Date": dt.date.fromisoformat(r["onset_date"]),
            "Resolution date": dt.date.fromisoformat(r["end_date"]) if r["end_date"] else None,
            "SAE": "Yes" if r["serious"] == "Y" else "No", "Relationship": _MESSY_REL[r["attribution"]],
            "Suspected drug": r["attributed_to"], "Action taken": r["action_taken"].capitalize(),
            "Outcome": r["outcome"], "_problem": "",
        })
    # deliberate problems, each on a patient of this site (except the unknown subject)
    by_id = {p.subject_id: p for p in patients}
    treated = [by_id[s] for s in site_ids if by_id[s].cycles]
    if not treated:
        treated = [by_id[s] for s in site_ids] or patients[:1]
    next_no: dict[str, int] = {}
    for r in out:
        n = int(r["AE No."].split("-")[1])
        next_no[r["Patient ID"]] = max(next_no.get(r["Patient ID"], 0), n)

    def pick(i):
        return treated[i % len(treated)]

    def bad(p, term, verb, grade, start, end, problem):
        next_no[p.subject_id] = next_no.get(p.subject_id, 0) + 1
        out.append({"Patient ID": p.subject_id, "AE No.": f"AE-{next_no[p.subject_id]:03d}", "CTCAE Term": term,
                    "Verbatim": verb, "CTCAE Grade": grade, "Start Date": start, "Resolution date": end,
                    "SAE": "No", "Relationship": "Possible", "Suspected drug": "capecitabine",
                    "Action taken": "None", "Outcome": "recovered/resolved", "_problem": problem})

    def mid(p, k=0):
        first = min(c.start for c in p.cycles) if p.cycles else p.enrolled
        last = max((c.end or as_of) for c in p.cycles) if p.cycles else as_of
        return min(first + _d(10 + 9 * k), last)

    p = pick(0)
    bad(p, "Fatigue", "extreme tiredness", "Grade 6", mid(p, 1), mid(p, 1) + _d(5), "grade 6 does not exist")
    p = pick(1)
    bad(p, "Nausea", "nausea and retching", "G4", mid(p, 2), mid(p, 2) + _d(4), "Nausea has no grade 4")
    p = pick(2)
    s = mid(p, 3)
    bad(p, "Vomiting", "vomiting", "Grade 1", s, s - _d(9), "onset after end")
    p = pick(3)
    typo = mid(p, 3)   # year typed as 2062 instead of 2026: a date in the future
    typo = typo.replace(year=int(str(typo.year)[:2] + str(typo.year)[3] + str(typo.year)[2]))
    if typo <= as_of:
        typo = as_of.replace(year=as_of.year + 40)
    bad(p, "Insomnia", "cannot sleep", "1", typo, None, "onset in the future (year typo)")
    bad(p, "Diarrhea", "diarrhoea", "Grade 2", mid(p, 4), mid(p, 4) + _d(6), "unknown subject")
    out[-1]["Patient ID"] = f"ICC-{[s[0] for s in SITES if s[1] == MESSY_SITE][0]}-099"
    p = pick(4)
    bad(p, "Tummy ache", "tummy ache", "Grade 1", mid(p, 5), mid(p, 5) + _d(3), "not a CTCAE term")
    p = pick(5)
    bad(p, "Dysgeusia", "=1+1", "G1", mid(p, 6), mid(p, 6) + _d(12), "verbatim starts with '=' (formula injection)")
    # the problem rows sit among the others, as in a real listing (ordered by patient and event)
    out.sort(key=lambda r: (r["Patient ID"], r["AE No."], r["Start Date"]))
    return out


def _write_messy(rows: list[dict], out_dir: Path) -> dict[str, Path]:
    import xlsxwriter

    out_dir.mkdir(parents=True, exist_ok=True)
    xlsx = out_dir / "ae_site_export.xlsx"
    wb = xlsxwriter.Workbook(str(xlsx))
    wb.set_properties({"title": "AE listing", "author": f"{MESSY_SITE} data office (synthetic)",
                       "created": dt.datetime(2026, 11, 16, 9, 0, 0)})
    ws = wb.add_worksheet("AE listing")
    bold = wb.add_format({"bold": True})
    dfmt = wb.add_format({"num_format": "dd/mm/yyyy"})
    for j, h in enumerate(MESSY_HEADER):
        ws.write_string(0, j, h, bold)
    for i, r in enumerate(rows, start=1):
        for j, h in enumerate(MESSY_HEADER):
            v = r[h]
            if v is None or v == "":
                ws.write_blank(i, j, None)
            elif h == "Start Date":   # real Excel dates shown day-first
                ws.write_datetime(i, j, dt.datetime(v.year, v.month, v.day), dfmt)
            elif h == "Resolution date":   # typed as text, day-first
                ws.write_string(i, j, v.strftime("%d/%m/%Y"))
            else:
                ws.write_string(i, j, str(v))   # never a formula, even for "=1+1"
    ws.set_column(0, 1, 12)
    ws.set_column(2, 3, 28)
    ws.set_column(4, 11, 15)
    notes = wb.add_worksheet("Notes")
    notes_text = [
        f"Synthetic AE listing exported from the {MESSY_SITE} EDC for trial {STUDY_ID}.",
        "Grades are CTCAE v5.0. Dates are day/month/year.",
        "Start Date cells are Excel dates; Resolution date cells are text.",
        "This export contains deliberate errors for testing the upload checks.",
    ]
    for i, t in enumerate(notes_text):
        notes.write_string(i, 0, t)
    wb.close()

    csv_path = out_dir / "ae_site_export_latin1.csv"
    recs = []
    for r in rows:
        rec = {}
        for h in MESSY_HEADER:
            v = r[h]
            if isinstance(v, dt.date):
                v = v.strftime("%d/%m/%Y")
            rec[h] = "" if v is None else v
        recs.append(rec)
    df = pd.DataFrame(recs, columns=MESSY_HEADER)
    _write_csv(df, csv_path, sep=";", encoding="latin-1")
    return {"messy_xlsx": xlsx, "messy_csv": csv_path}


# --------------------------------------------------------------------------------------------------
# SDTM-style subset
_AEACN = {"none": "DOSE NOT CHANGED", "dose reduced": "DOSE REDUCED", "interrupted": "DRUG INTERRUPTED",
          "withdrawn": "DRUG WITHDRAWN"}
_AESEV = {1: "MILD", 2: "MODERATE"}


def _sdtm(rng: np.random.Generator, as_of: dt.date, out_dir: Path) -> dict[str, Path]:
    site_no, code = SDTM_SITE
    site_idx = [s[1] for s in SITES].index(code)
    pts = _make_patients(rng, 6, as_of, id_offset=900, enrol_window=(dt.date(2026, 1, 5), dt.date(2026, 2, 10)),
                         fixed_site=site_idx)
    # one patient starts treatment in March 2026 (the partial AE date "2026-03" falls in that month)
    march = pts[-1]
    march.enrolled = dt.date(2026, 2, 16)
    march.surgery = march.enrolled - _d(40)
    march.t0 = dt.date(2026, 3, 9)
    pts[0].role = "neutropenia3_conc"
    for p in pts:
        _Sim(rng, p, as_of).run()
    _finalise_aes(rng, pts, as_of)
    for p in pts:
        for ae in p.aes:
            if ae.outcome is None:
                ae.outcome = "recovered/resolved" if ae.end is not None else "not recovered/not resolved"
    usub = {p.subject_id: f"{STUDY_ID}-{p.subject_id}" for p in pts}
    dm = []
    for p in pts:
        first = min((c.start for c in p.cycles), default=None)
        dm.append({"STUDYID": STUDY_ID, "DOMAIN": "DM", "USUBJID": usub[p.subject_id], "SUBJID": p.subject_id,
                   "RFSTDTC": _iso(first), "RFENDTC": _iso(p.off_on), "RFICDTC": _iso(p.enrolled),
                   "SITEID": code, "AGE": p.age, "SEX": p.sex, "DTHDTC": _iso(p.death)})
    ex = []
    for p in pts:
        seq = 0
        chemo_visit = 0
        for c in sorted(p.cycles, key=lambda c: (c.start, c.treatment != "RT")):
            seq += 1
            if c.treatment == "RT":
                visit = 1
            else:
                chemo_visit += 1
                visit = chemo_visit
            ex.append({"STUDYID": STUDY_ID, "DOMAIN": "EX", "USUBJID": usub[p.subject_id], "EXSEQ": seq,
                       "EXTRT": {"RT": "RT", "capecitabine": "CAPECITABINE", "S-1": "S-1"}[c.treatment],
                       "EXDOSE": _fmt_num(c.dose), "EXDOSU": c.unit, "EXSTDTC": _iso(c.start),
                       "EXENDTC": _iso(c.end), "VISITNUM": visit})
    ae_rows = []
    for p in pts:
        for r in _ae_rows(p):
            ae_rows.append((p, r))
    # partial onset date: the first on-treatment event of the March patient with onset in 2026-03
    partial_done = False
    ae = []
    seqs: dict[str, int] = {}
    for p, r in ae_rows:
        seqs[p.subject_id] = seqs.get(p.subject_id, 0) + 1
        stdtc = r["onset_date"]
        if (not partial_done and p is march and stdtc.startswith("2026-03")
                and stdtc >= march.t0.isoformat()):
            stdtc = "2026-03"
            partial_done = True
        g = int(r["grade"])
        ae.append({"STUDYID": STUDY_ID, "DOMAIN": "AE", "USUBJID": usub[p.subject_id], "AESEQ": seqs[p.subject_id],
                   "AESPID": r["ae_ref"], "AETERM": r["verbatim"], "AEDECOD": r["term"], "AETOXGR": str(g),
                   "AESEV": _AESEV.get(g, "SEVERE"), "AESER": r["serious"], "AEREL": r["attribution"].upper(),
                   "AEACN": _AEACN[r["action_taken"]], "AEOUT": r["outcome"].upper(),
                   "AESTDTC": stdtc, "AEENDTC": r["end_date"]})
    if not partial_done:   # fall back: add a grade 1 fatigue in March for that patient
        seqs[march.subject_id] = seqs.get(march.subject_id, 0) + 1
        ae.append({"STUDYID": STUDY_ID, "DOMAIN": "AE", "USUBJID": usub[march.subject_id],
                   "AESEQ": seqs[march.subject_id], "AESPID": f"AE-{seqs[march.subject_id]:03d}",
                   "AETERM": "tiredness", "AEDECOD": "Fatigue", "AETOXGR": "1", "AESEV": "MILD", "AESER": "N",
                   "AEREL": "POSSIBLE", "AEACN": "DOSE NOT CHANGED", "AEOUT": "RECOVERED/RESOLVED",
                   "AESTDTC": "2026-03", "AEENDTC": "2026-04-02"})
    d = out_dir
    return {
        "sdtm_dm": _write_csv(pd.DataFrame(dm), d / "dm.csv"),
        "sdtm_ex": _write_csv(pd.DataFrame(ex), d / "ex.csv"),
        "sdtm_ae": _write_csv(pd.DataFrame(ae), d / "ae.csv"),
    }


# --------------------------------------------------------------------------------------------------
def _accented_verbatims(patients: list[Patient]) -> None:
    """The messy site writes some verbatims in French (non-ASCII text for the Latin-1 export)."""
    todo = {"Diarrhea": "Diarrhée", "Nausea": "Nausées"}
    for p in patients:
        if p.site != MESSY_SITE:
            continue
        for ae in sorted(p.aes, key=lambda a: a.onsets[0]):
            if ae.term in todo:
                ae.verbatim = todo.pop(ae.term)


def _as_date(x) -> dt.date:
    if isinstance(x, dt.datetime):
        return x.date()
    if isinstance(x, dt.date):
        return x
    return dt.date.fromisoformat(str(x))


def generate(out_dir: str | Path = "sample_data", seed: int = DEFAULT_SEED, as_of: dt.date | str = DEFAULT_AS_OF,
             n_patients: int = DEFAULT_N_PATIENTS) -> dict[str, Path]:
    """Write the synthetic sample data set into ``out_dir``; returns {name: path}.

    Names: patients, treatment, adverse_events, labs, messy_xlsx, messy_csv, sdtm_dm, sdtm_ex, sdtm_ae.
    Deterministic: the same (seed, as_of, n_patients) gives byte-identical files.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    as_of = _as_date(as_of)
    if n_patients < 1:
        raise ValueError("n_patients must be at least 1")
    rng = np.random.default_rng([seed, 0])
    patients = _make_patients(rng, n_patients, as_of)
    lab_rows, _severe = _simulate(rng, patients, as_of)
    _accented_verbatims(patients)
    ae_rows = [r for p in patients for r in _ae_rows(p)]
    paths: dict[str, Path] = {}
    paths["patients"] = _write_csv(pd.DataFrame(_patient_rows(patients, lab_rows, as_of, rng),
                                                columns=PATIENT_COLUMNS), out / "patients.csv")
    paths["treatment"] = _write_csv(pd.DataFrame(_treatment_rows(patients), columns=TREATMENT_COLUMNS),
                                    out / "treatment.csv")
    paths["adverse_events"] = _write_csv(pd.DataFrame(ae_rows, columns=AE_COLUMNS), out / "adverse_events.csv")
    labs = pd.DataFrame(lab_rows, columns=LAB_COLUMNS).sort_values(["subject_id", "collected_on"], kind="stable")
    labs["collected_on"] = labs["collected_on"].map(_iso)
    for c in ("lln", "uln"):
        labs[c] = labs[c].map(_fmt_num)
    paths["labs"] = _write_csv(labs, out / "labs.csv")
    messy = _messy_rows(np.random.default_rng([seed, 1]), ae_rows, patients, as_of)
    paths.update(_write_messy(messy, out / "messy_site"))
    paths.update(_sdtm(np.random.default_rng([seed, 2]), as_of, out / "sdtm"))
    return paths


# --------------------------------------------------------------------------------------------------
# large benchmark file
_LARGE_TERMS = [  # term, weight, highest grade generated (within the CTCAE range), lowest grade
    ("Fatigue", 12, 3, 1), ("Nausea", 10, 3, 1), ("Diarrhea", 10, 4, 1), ("Anorexia", 6, 3, 1),
    ("Vomiting", 4, 3, 1), ("Dermatitis radiation", 4, 3, 1), ("Abdominal pain", 3, 3, 1),
    ("Mucositis oral", 3, 3, 1), ("Palmar-plantar erythrodysesthesia syndrome", 10, 3, 1),
    ("Neutrophil count decreased", 7, 4, 1), ("Platelet count decreased", 5, 4, 1),
    ("White blood cell decreased", 6, 4, 1), ("Lymphocyte count decreased", 5, 4, 1), ("Anemia", 5, 3, 1),
    ("Blood bilirubin increased", 7, 4, 1), ("Alanine aminotransferase increased", 4, 4, 1),
    ("Aspartate aminotransferase increased", 3, 4, 1), ("Skin hyperpigmentation", 2, 2, 1),
    ("Gastritis", 1, 3, 1), ("Duodenal ulcer", 0.3, 3, 1), ("Upper gastrointestinal hemorrhage", 0.3, 4, 1),
    ("Biliary tract infection", 1, 4, 2), ("Febrile neutropenia", 0.6, 4, 3), ("Hypoalbuminemia", 1, 3, 1),
]
_LARGE_ATTR = np.array(["unrelated", "unlikely", "possible", "probable", "definite"])
_LARGE_TO = np.array(["capecitabine", "RT", "more than one", "S-1"])
_LARGE_ACTION = np.array(["none", "dose reduced", "interrupted", "withdrawn"])


def generate_large_ae_csv(path: str | Path, n_patients: int = 10_000, n_rows: int = 1_000_000,
                          seed: int = DEFAULT_SEED, as_of: dt.date | str = DEFAULT_AS_OF,
                          patients_path: str | Path | None = None,
                          treatment_path: str | Path | None = None) -> dict[str, Path]:
    """Write a large canonical AE CSV at ``path`` plus matching patients and treatment CSVs
    (defaults ``<stem>_patients.csv`` and ``<stem>_treatment.csv`` next to it). Vectorised: 1M rows
    take a few seconds.

    Every subject in the AE file exists in the patients file; terms are CTCAE v5.0 terms with grades
    they allow; onset <= end <= as_of (end empty = ongoing). Returns
    {"adverse_events": path, "patients": patients_path, "treatment": treatment_path}.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    patients_path = Path(patients_path) if patients_path else path.with_name(path.stem + "_patients.csv")
    treatment_path = Path(treatment_path) if treatment_path else path.with_name(path.stem + "_treatment.csv")
    as_of = _as_date(as_of)
    rng = np.random.default_rng([seed, 7])
    n_patients = max(1, int(n_patients))
    n_rows = int(n_rows)

    # patients
    site_idx = rng.choice(len(SITES), size=n_patients, p=[s[3] for s in SITES])
    codes = np.array([s[1] for s in SITES])
    site_nos = np.array([s[0] for s in SITES])
    ids = np.char.add(np.char.add(np.char.add("LG-", site_nos[site_idx]), "-"),
                      np.char.zfill(np.arange(1, n_patients + 1).astype(str), 5))
    first = np.datetime64(FIRST_ENROLMENT.isoformat())
    span = max(1, (as_of - FIRST_ENROLMENT).days - 60)
    enrolled = first + rng.integers(0, span, size=n_patients).astype("timedelta64[D]")
    t0 = enrolled + rng.integers(7, 22, size=n_patients).astype("timedelta64[D]")
    sex = np.where(rng.random(n_patients) < 0.58, "M", "F")
    age = np.clip(np.round(rng.normal(59, 9, n_patients)), 34, 77).astype(int)
    height = np.where(sex == "M", rng.normal(169, 6, n_patients), rng.normal(158, 5, n_patients)).round(1)
    weight = np.clip(np.where(sex == "M", rng.normal(66, 9, n_patients), rng.normal(56, 8, n_patients)),
                     42, 92).round(1)
    birth = (enrolled - (age * 365.25 + rng.integers(1, 300, n_patients)).astype(int).astype("timedelta64[D]"))
    pat = pd.DataFrame({
        "subject_id": ids, "site": codes[site_idx], "enrolled_on": enrolled.astype(str), "sex": sex,
        "birth_date": birth.astype(str),
        "age": age,
        "height_cm": height, "weight_kg": weight,
        "serum_creatinine": np.clip(rng.normal(75, 15, n_patients), 43, 110).round().astype(int),
        "serum_creatinine_unit": "µmol/L", "agent": np.where(rng.random(n_patients) < 0.07, "S-1", "capecitabine"),
        "surgery_date": (enrolled - rng.integers(21, 71, n_patients).astype("timedelta64[D]")).astype(str),
    })
    _write_csv(pat, patients_path)

    # adverse events
    terms = np.array([t[0] for t in _LARGE_TERMS])
    w = np.array([t[1] for t in _LARGE_TERMS], dtype=float)
    gmax = np.array([t[2] for t in _LARGE_TERMS])
    gmin = np.array([t[3] for t in _LARGE_TERMS])
    for t, lo, hi in zip(terms, gmin, gmax):   # sanity: stays within CTCAE ranges
        tl, th, _ = TERMS[str(t)]
        assert tl <= lo <= hi <= th, t
    subj = np.sort(rng.integers(0, n_patients, size=n_rows))
    ti = rng.choice(len(terms), size=n_rows, p=w / w.sum())
    # grade skewed to low: geometric-like offsets from the term's lowest grade, capped at its highest
    off = np.minimum(rng.geometric(0.55, size=n_rows) - 1, gmax[ti] - gmin[ti])
    grade = gmin[ti] + off
    t0_r = t0[subj]
    max_off = np.maximum((np.datetime64(as_of.isoformat()) - t0_r).astype(int), 0)
    onset_off = (rng.random(n_rows) * (np.minimum(max_off, 260) + 1)).astype(int) - 7
    onset = t0_r + onset_off.astype("timedelta64[D]")
    onset = np.maximum(onset, enrolled[subj])
    asof64 = np.datetime64(as_of.isoformat())
    onset = np.minimum(onset, asof64)
    dur = rng.integers(1, 45, size=n_rows).astype("timedelta64[D]")
    end = onset + dur
    ongoing = (end > asof64) | (rng.random(n_rows) < 0.08)
    end = np.where(ongoing, np.datetime64("NaT"), end).astype("datetime64[s]")
    # ae_ref numbering: running number within each subject (rows are sorted by subject)
    starts = np.r_[0, np.flatnonzero(np.diff(subj)) + 1]
    run = np.arange(n_rows) - np.repeat(starts, np.diff(np.r_[starts, n_rows]))
    refs = np.array([f"AE-{k:04d}" for k in range(1, int(run.max()) + 2)]) if n_rows else np.array([], str)
    serious = (grade >= 3) & (rng.random(n_rows) < 0.35)
    action = np.where(grade >= 3, rng.integers(1, 4, n_rows), np.where(grade == 2, rng.integers(0, 3, n_rows), 0))

    def cat(codes, labels):   # categorical columns: fast to build and to write
        return pd.Categorical.from_codes(np.asarray(codes, dtype=np.int32), categories=list(labels))

    df = pd.DataFrame({
        "subject_id": cat(subj, ids), "ae_ref": cat(run, refs), "term": cat(ti, terms),
        "verbatim": cat(ti, [str(t).lower() for t in terms]), "grade": grade,
        "onset_date": onset.astype("datetime64[s]"), "end_date": end, "serious": cat(serious, ["N", "Y"]),
        "attribution": cat(rng.integers(0, 5, n_rows), _LARGE_ATTR), "attributed_to": cat(rng.integers(0, 4, n_rows), _LARGE_TO),
        "action_taken": cat(action, _LARGE_ACTION),
        "outcome": cat(ongoing, ["recovered/resolved", "not recovered/not resolved"]),
    })
    _write_csv(df, path, date_format="%Y-%m-%d")

    # treatment log: RT + 2 concurrent cycles + 6 maintenance cycles per patient, cut at as_of
    offs = np.array([0, 0, 21] + [63 + 21 * k for k in range(6)])
    lens = np.array([32, 13, 13] + [13] * 6)
    st = (t0[:, None] + offs[None, :].astype("timedelta64[D]")).ravel()
    en = (t0[:, None] + (offs + lens)[None, :].astype("timedelta64[D]")).ravel()
    kind = np.tile(np.arange(9), n_patients)
    keep = st <= asof64
    en = np.where(en > asof64, np.datetime64("NaT"), en).astype("datetime64[s]")
    pidx = np.repeat(np.arange(n_patients), 9)
    tr = pd.DataFrame({
        "subject_id": pd.Categorical.from_codes(pidx, categories=list(ids)),
        "treatment": pd.Categorical.from_codes(np.minimum(kind, 1), categories=["RT", "capecitabine"]),
        "phase": pd.Categorical.from_codes((kind >= 3).astype(np.int8), categories=["concurrent", "maintenance"]),
        "cycle": np.where(kind == 0, 1, kind),   # concurrent 1-2, maintenance 3-8
        "start_date": st.astype("datetime64[s]"), "end_date": en,
        "dose": np.where(kind == 0, 55, np.where(kind < 3, 1600, 2000)),
        "dose_unit": pd.Categorical.from_codes(np.minimum(kind, 1), categories=["Gy", "mg/m2/day"]),
        "fractions": pd.array(np.where(kind == 0, 25, 0), dtype="Int64"),
    })[keep]
    tr.loc[tr["treatment"] != "RT", "fractions"] = pd.NA
    _write_csv(tr, treatment_path, date_format="%Y-%m-%d")
    return {"adverse_events": path, "patients": patients_path, "treatment": treatment_path}


# --------------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Write the synthetic toxdb sample data (all values invented).")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent))
    ap.add_argument("--as-of", default=DEFAULT_AS_OF.isoformat(), help="data cut date (ISO)")
    ap.add_argument("--n-patients", type=int, default=DEFAULT_N_PATIENTS)
    a = ap.parse_args(argv)
    paths = generate(a.out, seed=a.seed, as_of=dt.date.fromisoformat(a.as_of), n_patients=a.n_patients)
    for k, v in paths.items():
        print(f"{k:15s} {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
