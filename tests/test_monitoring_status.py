"""Tests for toxdb.monitoring (cohorts, design, status): qualifying events, competing events, alerts.

Every expected value below is written by hand from the hand-built snapshot (day counts worked out
in the comments), never taken from running the code under test.
"""
from __future__ import annotations

import datetime as dt
import io

import pandas as pd
import pytest

import toxdb.monitoring.status as ms
from toxdb.monitoring.cohorts import derive_monitoring_cohort
from toxdb.monitoring.design import MonitoringDesign, compute_design_comparison
from toxdb.store.cuts import DataCut, Snapshot
from toxdb.trial import load_trial

CUT = dt.date(2025, 12, 31)

# A: concurrent 6 Jan, maintenance 3 Mar; completed.       events: concurrent + maintenance
# B: concurrent 3 Feb; stopped (patient decision) 14 Mar; died 10 Apr; a pre-treatment grade 3
# C: concurrent 3 Mar, maintenance 5 May ongoing; its grade 3 is after the cut
# D: enrolled, never treated (not evaluable)
# E: concurrent 7 Apr; recurrence 1 May, then a grade 3 on 10 May (no attribution recorded)
# F: concurrent 5 May; grade 5 sepsis and death on the same day, 1 Jun
# G: concurrent 2 Jun to 11 Jul, completed; death 1 Oct (after the on-treatment window)
# H: concurrent 7 Jul, RT ongoing; last contact 30 Sep
PATIENTS = """subject_id,site,enrolled_on,off_treatment_on,off_treatment_reason,recurrence_on,death_on,last_contact_on
A,S1,2024-12-20,2025-04-06,completed,,,2025-12-01
B,S1,2025-01-20,2025-03-14,patient decision,,2025-04-10,2025-04-10
C,S1,2025-02-20,,,,,
D,S2,2025-03-01,,,,,2025-06-01
E,S2,2025-03-25,,,2025-05-01,2026-02-01,2025-11-30
F,S2,2025-04-20,2025-06-01,death,,2025-06-01,2025-06-01
G,S3,2025-05-20,2025-07-11,Completed protocol,,2025-10-01,2025-12-15
H,S3,2025-06-25,,,,,2025-09-30
"""
TREATMENT = """subject_id,treatment,phase,cycle,start_date,end_date
A,RT,concurrent,,2025-01-06,2025-02-14
A,capecitabine,concurrent,1,2025-01-06,2025-01-19
A,capecitabine,concurrent,2,2025-01-27,2025-02-09
A,capecitabine,maintenance,1,2025-03-03,2025-03-16
A,capecitabine,maintenance,2,2025-03-24,2025-04-06
B,RT,concurrent,,2025-02-03,2025-03-14
B,capecitabine,concurrent,1,2025-02-03,2025-02-16
C,RT,concurrent,,2025-03-03,2025-04-11
C,capecitabine,concurrent,1,2025-03-03,2025-03-16
C,capecitabine,maintenance,1,2025-05-05,
E,RT,concurrent,,2025-04-07,2025-05-16
E,capecitabine,concurrent,1,2025-04-07,2025-04-20
F,RT,concurrent,,2025-05-05,2025-06-01
F,capecitabine,concurrent,1,2025-05-05,2025-05-18
G,RT,concurrent,,2025-06-02,2025-07-11
G,capecitabine,concurrent,1,2025-06-02,2025-06-15
G,capecitabine,concurrent,2,2025-06-23,2025-07-06
H,RT,concurrent,,2025-07-07,
H,capecitabine,concurrent,1,2025-07-07,2025-07-20
"""
AES = """subject_id,ae_ref,term,soc,grade,onset_date,end_date,serious,attribution
A,A1,Nausea,Gastrointestinal disorders,2,2025-01-20,2025-01-25,False,possible
A,A2,Diarrhea,Gastrointestinal disorders,3,2025-02-01,2025-02-05,False,possible
A,A3,Palmar-plantar erythrodysesthesia syndrome,Skin,3,2025-03-10,2025-03-20,False,definite
B,B1,Fatigue,General disorders,3,2025-01-25,2025-01-30,False,unrelated
B,B2,Lymphocyte count decreased,Investigations,3,2025-02-20,2025-02-27,False,possible
B,B3,Anorexia,Metabolism,3,2025-02-25,2025-03-01,False,unrelated
C,C1,Diarrhea,Gastrointestinal disorders,3,2026-01-05,,False,probable
D,D1,Vomiting,Gastrointestinal disorders,3,2025-03-05,2025-03-06,False,possible
E,E1,Diarrhea,Gastrointestinal disorders,3,2025-05-10,2025-05-14,False,
F,F1,Sepsis,Infections,5,2025-06-01,2025-06-01,True,possible
G,G1,Fatigue,General disorders,2,2025-06-20,2025-06-30,False,possible
H,H1,Nausea,Gastrointestinal disorders,1,2025-07-15,2025-07-18,False,possible
"""


def _frame(text: str, dates: list[str]) -> pd.DataFrame:
    df = pd.read_csv(io.StringIO(text), dtype={"attribution": "string", "off_treatment_reason": "string"})
    for c in dates:
        df[c] = pd.to_datetime(df[c]).astype("datetime64[us]")
    return df


def make_snapshot(patients: str = PATIENTS, treatment: str = TREATMENT, aes: str = AES,
                  cut: dt.date = CUT) -> Snapshot:
    return Snapshot(
        DataCut(cut),
        patients=_frame(patients, ["enrolled_on", "off_treatment_on", "recurrence_on", "death_on",
                                   "last_contact_on"]),
        treatment=_frame(treatment, ["start_date", "end_date"]),
        adverse_events=_frame(aes, ["onset_date", "end_date"]),
    )


def make_trial(**monitoring):
    trial = load_trial()
    return trial.model_copy(update={"monitoring": trial.monitoring.model_copy(update=monitoring)})


def _rows(df: pd.DataFrame) -> list[tuple]:
    out = []
    for r in df.itertuples(index=False):
        ev = None if pd.isna(r.first_event_date) else r.first_event_date.strftime("%m-%d")
        out.append((r.subject_id, r.start_date.strftime("%m-%d"), ev, int(r.time), int(r.status)))
    return out


# ---------------------------------------------------------------------------------------------
# cohorts
# ---------------------------------------------------------------------------------------------


def test_cohort_all_every_attribution():
    cohort = derive_monitoring_cohort(make_snapshot(), make_trial(attributions=[], exclude_terms=[]), "all")
    assert _rows(cohort) == [
        # A: Diarrhea grade 3 on 1 Feb; 6 Jan -> 1 Feb = 26 days (the grade 2 nausea does not count)
        ("A", "01-06", "02-01", 26, 1),
        # B: Fatigue grade 3 on 25 Jan is before treatment; lymphocytes grade 3 on 20 Feb: 3 -> 20 Feb = 17
        ("B", "02-03", "02-20", 17, 1),
        # C: its grade 3 (5 Jan 2026) is after the cut; censored at the cut: 3 Mar -> 31 Dec = 303
        ("C", "03-03", None, 303, 0),
        # E: event 10 May counts for the boundary, but recurrence on 1 May came first: 7 Apr -> 1 May = 24
        ("E", "04-07", "05-10", 24, 2),
        # F: grade 5 sepsis the day of death: the event wins the tie; 5 May -> 1 Jun = 27
        ("F", "05-05", "06-01", 27, 1),
        # G: completed 11 Jul; censored at the end of the 30-day window, 10 Aug: 2 Jun -> 10 Aug = 69
        #    (its death on 1 Oct is after the window; a completed course is not a discontinuation)
        ("G", "06-02", None, 69, 0),
        # H: on treatment, censored at last contact 30 Sep: 7 Jul -> 30 Sep = 85
        ("H", "07-07", None, 85, 0),
    ]
    assert "D" not in set(cohort["subject_id"])  # never treated: not evaluable
    assert cohort.loc[cohort["subject_id"] == "E", "competing_reason"].item() == "recurrence"
    assert cohort.loc[cohort["subject_id"] == "F", "first_event_term"].item() == "Sepsis"
    assert cohort.loc[cohort["subject_id"] == "F", "first_event_grade"].item() == 5


def test_cohort_attribution_filter_and_excluded_terms():
    trial = make_trial(attributions=["possible", "probable", "definite"], exclude_terms=["lymphocyte count decreased"])
    cohort = derive_monitoring_cohort(make_snapshot(), trial, "all").set_index("subject_id")
    # B: lymphocytes excluded by term, anorexia unrelated: no event; stopped 14 Mar (patient
    # decision) before dying on 10 Apr: competing, 3 Feb -> 14 Mar = 39 days
    assert pd.isna(cohort.loc["B", "first_event_date"])
    assert (int(cohort.loc["B", "status"]), int(cohort.loc["B", "time"])) == (2, 39)
    assert cohort.loc["B", "competing_reason"] == "discontinuation"
    # E: no attribution recorded -> counted (conservative)
    assert cohort.loc["E", "first_event_date"] == pd.Timestamp("2025-05-10")
    # A: possible / definite both count
    assert cohort.loc["A", "first_event_date"] == pd.Timestamp("2025-02-01")
    assert int(cohort["first_event_date"].notna().sum()) == 3  # A, E, F


def test_grade_min_from_trial():
    cohort = derive_monitoring_cohort(make_snapshot(), make_trial(grade_min=4, attributions=[], exclude_terms=[]),
                                         "all")
    assert cohort.loc[cohort["first_event_date"].notna(), "subject_id"].tolist() == ["F"]  # only grade 5


def test_cohort_concurrent_phase():
    cohort = derive_monitoring_cohort(make_snapshot(), make_trial(attributions=[], exclude_terms=[]), "concurrent")
    assert _rows(cohort) == [
        ("A", "01-06", "02-01", 26, 1),
        ("B", "02-03", "02-20", 17, 1),
        # C: the concurrent phase ends the day before maintenance (5 May): censored 4 May, day 62
        ("C", "03-03", None, 62, 0),
        ("E", "04-07", "05-10", 24, 2),
        ("F", "05-05", "06-01", 27, 1),
        ("G", "06-02", None, 69, 0),
        ("H", "07-07", None, 85, 0),
    ]


def test_cohort_maintenance_phase():
    cohort = derive_monitoring_cohort(make_snapshot(), make_trial(attributions=[], exclude_terms=[]), "maintenance")
    assert _rows(cohort) == [
        # A: its concurrent diarrhea does not count here; PPE grade 3 on 10 Mar: 6 Jan -> 10 Mar = 63
        ("A", "03-03", "03-10", 63, 1),
        # C: maintenance ongoing, no last contact: censored at the cut, day 303
        ("C", "05-05", None, 303, 0),
    ]


def test_cut_earlier_drops_later_events_and_competing():
    # cut on 9 Feb: only A and B have started; B's event on 20 Feb is after the cut
    cohort = derive_monitoring_cohort(make_snapshot(cut=dt.date(2025, 2, 9)),
                                         make_trial(attributions=[], exclude_terms=[]), "all")
    # A: event 1 Feb (day 26); B: censored at the cut, 3 Feb -> 9 Feb = 6 days
    assert _rows(cohort) == [("A", "01-06", "02-01", 26, 1), ("B", "02-03", None, 6, 0)]


def test_unknown_phase_rejected():
    with pytest.raises(ValueError, match="phase must be one of"):
        derive_monitoring_cohort(make_snapshot(), make_trial(), "induction")


# ---------------------------------------------------------------------------------------------
# monitoring result and alerts
# ---------------------------------------------------------------------------------------------


def test_compute_monitoring_summary():
    res = ms.compute_monitoring(make_snapshot(), make_trial(attributions=[], exclude_terms=[]), "all")
    s = res.summary
    # 4 of 7 (A, B, E, F); the Pocock-type boundary of record at n = 7 is 6 (see alert test)
    assert (s["n"], s["x"], s["boundary_now"], s["crossed"]) == (7, 4, 6, False)
    assert (s["n_event"], s["n_competing"], s["n_censored"]) == (3, 1, 3)
    assert s["sentence"].startswith("4 of 7 patients so far")
    obf = ms.compute_monitoring(make_snapshot(), make_trial(), "all", delta=0.5)
    assert obf.design.delta == 0.5 and "O'Brien" in obf.summary["design"]
    with pytest.raises(ValueError, match="unknown design setting"):
        ms.compute_monitoring(make_snapshot(), make_trial(), "all", colour="red")


def _crossed_snapshot(n_patients: int, n_events: int) -> Snapshot:
    """n patients starting a week apart, concurrent phase only; the first n_events have a grade 3."""
    pats = ["subject_id,site,enrolled_on,off_treatment_on,off_treatment_reason,recurrence_on,death_on,last_contact_on"]
    trt = ["subject_id,treatment,phase,cycle,start_date,end_date"]
    aes = ["subject_id,ae_ref,term,soc,grade,onset_date,end_date,serious,attribution"]
    for i in range(n_patients):
        start = dt.date(2025, 1, 6) + dt.timedelta(days=7 * i)
        sid = f"P{i + 1:02d}"
        pats.append(f"{sid},S1,{start - dt.timedelta(days=10)},,,,,")
        trt.append(f"{sid},RT,concurrent,,{start},{start + dt.timedelta(days=39)}")
        if i < n_events:
            aes.append(f"{sid},X1,Diarrhea,GI,3,{start + dt.timedelta(days=10)},,False,probable")
    return make_snapshot("\n".join(pats) + "\n", "\n".join(trt) + "\n", "\n".join(aes) + "\n",
                         cut=dt.date(2025, 6, 30))


def test_alerts_crossed_now():
    # Design of record (N 66, p0 0.30, Pocock, alpha 0.02566): at n = 4,
    # P(X >= 4) = 0.3^4 = 0.0081 <= alpha but P(X >= 3) = 4(0.3^3)(0.7) + 0.0081 = 0.0837 > alpha,
    # so the boundary is 4: four of four patients cross it, in "all" and in the concurrent phase.
    alerts = ms.compute_boundary_alerts(_crossed_snapshot(4, 4), make_trial())
    assert alerts == [
        "Stopping boundary crossed (all treatment-emergent events): 4 of 4 patients with a grade ≥ 3 event; "
        "the boundary at n = 4 is 4.",
        "Stopping boundary crossed (concurrent phase): 4 of 4 patients with a grade ≥ 3 event; "
        "the boundary at n = 4 is 4.",
    ]


def test_alerts_crossed_earlier():
    # the boundary at n = 5 is 5 (P(X_5 >= 5) = 0.00243, P(X_5 >= 4) = 5(0.3^4)(0.7) + 0.00243 = 0.0308 > alpha);
    # four events among five: below it now, but it was crossed at patient 4
    alerts = ms.compute_boundary_alerts(_crossed_snapshot(5, 4), make_trial())
    assert alerts[0] == (
        "Stopping boundary crossed (all treatment-emergent events): first at patient 4, with 4 of 4 patients "
        "with a grade ≥ 3 event (the boundary at n = 4 is 4); now 4 of 5 patients."
    )
    assert len(alerts) == 2


def test_alerts_uncrossed():
    assert ms.compute_boundary_alerts(_crossed_snapshot(4, 3), make_trial()) == []
    assert ms.compute_boundary_alerts(make_snapshot(), make_trial()) == []  # 4 of 7, boundary 6


def test_alerts_empty_trial():
    empty = make_snapshot(PATIENTS.splitlines()[0] + "\n", TREATMENT.splitlines()[0] + "\n",
                          AES.splitlines()[0] + "\n")
    assert ms.compute_boundary_alerts(empty, make_trial()) == []
    assert derive_monitoring_cohort(empty, make_trial(), "maintenance").empty


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


def test_design_from_trial_and_label():
    d = MonitoringDesign.from_trial(make_trial())
    assert (d.n_max, d.p0, d.p1, d.cp0, d.delta) == (66, 0.30, 0.45, 0.10, 0.0)
    assert d.label.startswith("Frequentist Pocock-type")
    assert d.replace(method="bayesian").label.startswith("Bayesian beta-binomial, Beta(0.6, 1.4)")
    assert d.looks[0] == 1 and d.looks[-1] == 66


def test_design_comparison_columns():
    d = MonitoringDesign.from_trial(make_trial())
    table = compute_design_comparison({"record": d, "obf": d.replace(delta=0.5)})
    assert list(table.columns) == ["p", "record: P(cross)", "record: P(stop early)", "record: expected N",
                                   "obf: P(cross)", "obf: P(stop early)", "obf: expected N"]
    assert table["p"].round(2).tolist() == [0.30, 0.33, 0.36, 0.39, 0.42, 0.45]


def test_incidence_at_days():
    # hand example: times 10 (event), 20 (censored), 30 (event), 4 patients at 40 censored
    from toxdb.monitoring.incidence import compute_cumulative_incidence

    data = pd.DataFrame({"time": [10, 20, 30, 40, 40, 40, 40], "status": [1, 0, 1, 0, 0, 0, 0]})
    at = ms.compute_incidence_at(compute_cumulative_incidence(data), [0, 10, 25, 30, 60])
    # CIF: 1/7 at 10; at 30 add (6/7) * 1/5 = 6/35 -> 11/35; day 60 is beyond follow-up (dropped)
    assert at["day"].tolist() == [0, 10, 25, 30]
    assert at["cif"].tolist() == pytest.approx([0, 1 / 7, 1 / 7, 11 / 35])
    assert at["n_at_risk"].tolist() == [7, 7, 5, 5]
