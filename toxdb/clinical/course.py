"""One patient's course (treatment, adverse events, labs, dose advice) and the swimmer lanes of all
patients, as of a data cut. UI-free: pages call these and hand the results to toxdb.plots.patient.

Public API
----------
compute_patient_course(snapshot, subject_id, trial) -> PatientCourse (.table: CourseTables, .summary: dict)
compute_swimmer_lanes(snapshot, trial)              -> SwimmerLanes (.table: one row per treated patient,
                                                        .events: grade >= 3 AEs, long, .summary)
lab_grade_bands(test_code, lln, uln, baseline)      -> CTCAE grade bands (grade, low, high) in SI units

Rules it relies on (docs/decisions.md): treatment and adverse events ongoing at the cut are drawn to
the cut (D1, D9); "on treatment at the cut" is the one rule of toxdb.clinical.treatment (D10), the
same as the Overview and the dose advice; BSA and CrCl are those of the dose advice (D17); lab grade
bands follow D23.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from toxdb.arrays import as_dates
from toxdb.clinical.events import derive_snapshot_events
from toxdb.clinical.formulas import compute_patient_bsa_crcl
from toxdb.clinical.labs import (
    compute_lab_baselines,
    compute_lab_grade_bands,
    derive_lab_grades,
    derive_si_limits,
)
from toxdb.clinical.treatment import derive_treatment_phase, derive_treatment_status
from toxdb.dosing.advice import compute_snapshot_advice
from toxdb.i18n import N_, _
from toxdb.store.cuts import Snapshot
from toxdb.vocab import CAPECITABINE, CHEMO, RT, S1

__all__ = ["DEFAULT_LAB_TESTS", "CourseTables", "PatientCourse", "SwimmerLanes", "compute_patient_course",
           "compute_swimmer_lanes", "lab_grade_bands", "subject_choices"]

DEFAULT_LAB_TESTS = ("ANC", "PLT", "BILI", "ALT")
def _col(frame: pd.DataFrame, name: str, dtype=object) -> pd.Series:
    if name in frame.columns:
        return frame[name]
    return pd.Series(pd.NaT if dtype == "datetime64[ns]" else None, index=frame.index, dtype=dtype)


def _clip_end(end: pd.Series, cut: pd.Timestamp) -> tuple[pd.Series, pd.Series]:
    """(end shown, ongoing): a missing end or one after the cut is the cut, flagged ongoing (D1, D9)."""
    end = as_dates(end)
    ongoing = end.isna() | (end > cut)
    return end.where(~ongoing, cut), ongoing


# ------------------------------------------------------------------------------------------------
# lab grade bands (criteria as data: toxdb/data/lab_criteria_v5.json, _v6.json, read by clinical.labs)
# ------------------------------------------------------------------------------------------------
def lab_grade_bands(test_code: str, lln: float | None = None, uln: float | None = None,
                    baseline: float | None = None, version: str = "5.0") -> pd.DataFrame:
    """CTCAE grade bands of one test in SI units (see ``toxdb.clinical.labs.compute_lab_grade_bands``)."""
    return compute_lab_grade_bands(test_code, lln, uln, baseline, version)


# ------------------------------------------------------------------------------------------------
# one patient's course
# ------------------------------------------------------------------------------------------------
@dataclass
class CourseTables:
    """The frames behind one patient's course figure (dates as datetime64[ns])."""
    treatment: pd.DataFrame    # treatment, agent, phase, cycle, start_date, end_shown, ongoing, dose, label
    events: pd.DataFrame       # term, worst_grade, onset_date, end_shown, ongoing, phase, treatment_emergent, ...
    labs: pd.DataFrame         # test_code, collected_on, si_value, si_unit, grade, lln_si, uln_si
    lab_bands: pd.DataFrame    # test_code, direction, grade, low, high, basis
    milestones: pd.DataFrame   # name, date, label (phase boundaries and the cut)
    advice: pd.DataFrame       # the dose advice rows for this patient (toxdb.dosing.advice)
    flags: pd.DataFrame        # PI flags (subject_id, rule, flag)


@dataclass
class PatientCourse:
    table: CourseTables
    summary: dict = field(default_factory=dict)


def subject_choices(patients: pd.DataFrame) -> pd.DataFrame:
    """subject_id and a label "ID · site" for a patient picker, sorted by subject."""
    p = patients[["subject_id"]].assign(site=_col(patients, "site")).drop_duplicates("subject_id")
    p = p.sort_values("subject_id", kind="stable").reset_index(drop=True)
    site = p["site"].astype(object).where(p["site"].notna(), "no site")
    p["label"] = p["subject_id"].astype(str) + " · " + site.astype(str)
    return p[["subject_id", "label"]]


def _only(frame: pd.DataFrame | None, sid: str) -> pd.DataFrame | None:
    if frame is None:
        return None
    return frame[frame["subject_id"].astype(str) == sid].reset_index(drop=True)


def _dose_text(treatment: pd.Series, dose: pd.Series, unit: pd.Series) -> pd.Series:
    unit_txt = unit.astype(object).where(unit.notna(), "").astype(str)
    unit_txt = (unit_txt.str.replace("mg/m2/day", "mg/m²/d", regex=False)
                .str.replace("mg/m2/d", "mg/m²/d", regex=False).str.replace("mg/m2", "mg/m²", regex=False))
    num = pd.to_numeric(dose, errors="coerce")
    num_txt = num.map(lambda v: "" if pd.isna(v) else f"{v:g}")
    return (num_txt + " " + unit_txt).str.strip()


def _course_treatment(tr: pd.DataFrame, cut: pd.Timestamp) -> pd.DataFrame:
    cols = ["treatment", "agent", "phase", "cycle", "start_date", "end_shown", "ongoing", "dose", "dose_unit",
            "fractions", "label", "dose_text"]
    if tr is None or tr.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols}).astype(
            {"start_date": "datetime64[ns]", "end_shown": "datetime64[ns]", "ongoing": bool})
    t = derive_treatment_phase(tr)
    start = as_dates(t["start_date"])
    end, ongoing = _clip_end(t["end_date"], cut)
    what = t["treatment"].astype(str)
    cycle = pd.to_numeric(_col(t, "cycle"), errors="coerce")
    dose_text = _dose_text(what, _col(t, "dose"), _col(t, "dose_unit"))
    cyc = cycle.map(lambda c: "" if pd.isna(c) else f"C{int(c)} ")
    is_rt = what.eq(RT)
    fx = pd.to_numeric(_col(t, "fractions"), errors="coerce")
    rt_label = "RT " + dose_text + fx.map(lambda f: "" if pd.isna(f) else f" / {int(f)} fx")
    chemo_label = cyc + np.where(what.eq(S1), S1 + " ", "") + dose_text
    out = pd.DataFrame({
        "treatment": what.to_numpy(),
        "agent": np.where(is_rt, RT, what),
        "phase": t["phase_derived"].astype(str).to_numpy(),
        "cycle": cycle.to_numpy(),
        "start_date": start.to_numpy(),
        "end_shown": end.to_numpy(),
        "ongoing": ongoing.to_numpy(bool),
        "dose": pd.to_numeric(_col(t, "dose"), errors="coerce").to_numpy(),
        "dose_unit": _col(t, "dose_unit").astype(object).to_numpy(),
        "fractions": fx.to_numpy(),
        "label": np.where(is_rt, rt_label, chemo_label),
        "dose_text": dose_text.to_numpy(),
    })
    out = out[out["start_date"] <= cut]
    return out.sort_values(["start_date", "treatment"], kind="stable").reset_index(drop=True)[cols]


def _course_events(events: pd.DataFrame, cut: pd.Timestamp) -> pd.DataFrame:
    ev = events.copy()
    ev["onset_date"] = as_dates(ev["onset_date"])
    ev["end_shown"], ev["ongoing"] = _clip_end(ev["end_date"], cut)
    ev["worst_grade"] = pd.to_numeric(ev["worst_grade"], errors="coerce").astype("int64")
    keep = ["event_id", "term", "soc", "worst_grade", "onset_date", "end_date", "end_shown", "ongoing", "phase",
            "treatment_emergent", "serious", "attribution", "n_rows"]
    ev = ev[[c for c in keep if c in ev.columns]]
    return ev.sort_values(["onset_date", "term"], kind="stable").reset_index(drop=True)


def _course_labs(labs: pd.DataFrame | None, milestones: pd.DataFrame, cut: pd.Timestamp, version: str = "5.0"
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    cols = ["test_code", "collected_on", "value", "unit", "si_value", "si_unit", "grade", "lln_si", "uln_si",
            "ctcae_term", "grade_v5", "grade_v6"]
    if labs is None or labs.empty:
        empty = pd.DataFrame({c: pd.Series(dtype=object) for c in cols}).astype({"collected_on": "datetime64[ns]"})
        return empty, pd.DataFrame(columns=["subject_id", "test_code", "baseline_si", "baseline_on"])
    first = compute_lab_baselines(derive_lab_grades(labs), milestones) if len(milestones) else None
    graded = derive_si_limits(derive_lab_grades(labs, first, version=version))
    value = pd.to_numeric(graded["value"], errors="coerce").astype(float)
    si = pd.to_numeric(graded["si_value"], errors="coerce").astype(float)
    out = pd.DataFrame({
        "test_code": graded["test_code"].astype(object),
        "collected_on": as_dates(graded["collected_on"]),
        "value": value,
        "unit": _col(graded, "unit").astype(object),
        "si_value": si,
        "si_unit": graded["si_unit"].astype(object),
        "grade": graded["grade"],
        "lln_si": graded["lln_si"],
        "uln_si": graded["uln_si"],
        "ctcae_term": graded["ctcae_term"].astype(object),
        "grade_v5": graded["grade_v5"],
        "grade_v6": graded["grade_v6"],
    })
    out = out[out["test_code"].notna() & out["si_value"].notna() & (out["collected_on"] <= cut)]
    out = out.sort_values(["test_code", "collected_on"], kind="stable").reset_index(drop=True)
    base = first if first is not None else pd.DataFrame(columns=["subject_id", "test_code", "baseline_si"])
    return out[cols], base


def _bands_for(labs: pd.DataFrame, baselines: pd.DataFrame, tests, version: str = "5.0") -> pd.DataFrame:
    frames = []
    for test in tests:
        rows = labs[labs["test_code"] == test]
        lln = rows["lln_si"].dropna()
        uln = rows["uln_si"].dropna()
        b = baselines.loc[baselines["test_code"].astype(str) == test, "baseline_si"]
        frames.append(lab_grade_bands(test, lln.iloc[-1] if len(lln) else None, uln.iloc[-1] if len(uln) else None,
                                      float(b.iloc[-1]) if len(b) else None, version))
    frames = [f for f in frames if len(f)]
    if not frames:
        return lab_grade_bands("none")
    return pd.concat(frames, ignore_index=True)


def _fmt(day) -> str:
    return "" if day is None or pd.isna(day) else f"{pd.Timestamp(day):%Y-%m-%d}"


def _how_often(intakes_per_day: int) -> str:
    return {1: "once a day", 2: "twice a day"}.get(int(intakes_per_day), f"{int(intakes_per_day)} times a day")


def _advice_line(row: dict, trial) -> str:
    """One dose hint in words: action, percent of the starting dose, mg per intake and tablets, why."""
    parts = [f"{row['agent']}: {row['action']}"]
    per_day = {CAPECITABINE: trial.capecitabine.intakes_per_day, S1: trial.s1.intakes_per_day}.get(row["agent"])
    if pd.notna(row.get("dose_percent")) and row["agent"] != RT:
        parts.append(f"{row['dose_percent']:g} % of the starting dose")
    if pd.notna(row.get("dose_mg_per_intake")) and per_day is not None:
        tabs = f" ({row['tablets']})" if row.get("tablets") else ""
        parts.append(f"{row['dose_mg_per_intake']:g} mg per intake {_how_often(per_day)}{tabs}")
    if row.get("reasons"):
        parts.append(str(row["reasons"]))
    if row.get("rule"):
        parts.append(f"[rule {row['rule']}]")
    return " — ".join(parts)


def _phase_now(ms: dict | None, patient: dict, status: dict, advice: pd.DataFrame, cut: pd.Timestamp,
               window: int) -> str:
    """Where the patient is at the cut, in words; "on treatment" is the one rule (D10)."""
    death = patient.get("death_on")
    if death is not None and pd.notna(death) and pd.Timestamp(death) <= cut:
        return _("died {day}").format(day=_fmt(death))
    if status.get("on_treatment"):
        agents = ", ".join(advice["agent"].astype(str)) if len(advice) else str(status.get("agent") or RT)
        phase = advice["phase"].dropna().astype(str) if len(advice) else pd.Series([], dtype=str)
        return _("on treatment: {phase} ({agents})").format(
            phase=_(phase.iloc[0]) if len(phase) else _("phase unknown"), agents=agents)
    if ms is None or pd.isna(ms.get("first_treatment")):
        return _("not yet treated")
    off = patient.get("off_treatment_on")
    if off is not None and pd.notna(off) and pd.Timestamp(off) <= cut:
        why = patient.get("off_treatment_reason")
        why = f" ({why})" if why is not None and pd.notna(why) and str(why) else ""
        return _("off treatment since {day}").format(day=_fmt(off)) + why
    if pd.Timestamp(ms["last_dose"]) + pd.Timedelta(days=window) >= cut:
        return _("treatment over; adverse events up to {window} days after the last dose still count").format(
            window=window)
    return _("follow-up")


def _course_marks(ms_row: dict | None, treatment: pd.DataFrame, cut: pd.Timestamp, window: int) -> pd.DataFrame:
    """The dashed lines of the course figure: first treatment, maintenance start, end of the window."""
    marks = []
    if ms_row is not None:
        marks.append(("first_treatment", ms_row["first_treatment"], N_("First treatment")))
        if pd.notna(ms_row["maintenance_start"]):
            marks.append(("maintenance_start", ms_row["maintenance_start"], N_("Maintenance starts")))
        if not bool(treatment["ongoing"].any()):
            marks.append(("window_end", pd.Timestamp(ms_row["last_dose"]) + pd.Timedelta(days=window),
                          _("Last dose + {window} d").format(window=window)))
    marks.append(("cut", cut, N_("Data cut")))
    return pd.DataFrame(marks, columns=["name", "date", "label"]).assign(date=lambda d: as_dates(d["date"]))


def _latest_creatinine(labs: pd.DataFrame) -> tuple | None:
    creat = labs[labs["test_code"] == "CREAT"]
    if not len(creat):
        return None
    return creat["si_value"].iloc[-1], creat["uln_si"].iloc[-1], creat["collected_on"].iloc[-1]


def _agent_text(chemo: pd.DataFrame, patient: dict) -> str | None:
    """The chemotherapy given ("capecitabine → S-1" after a switch), else the patient table's agent."""
    agent = (chemo["treatment"].iloc[-1] if len(chemo) else patient.get("agent"))
    agent = None if agent is None or pd.isna(agent) else str(agent)
    if len(chemo) and chemo["treatment"].nunique() > 1:
        agent = " → ".join(dict.fromkeys(chemo["treatment"]))
    return agent


def _course_summary(sid: str, patient: dict, t: "CourseTables", ms_row: dict | None, status: dict, trial,
                    cut: pd.Timestamp, tests) -> dict:
    """The key facts the Patient page shows above the figure."""
    window = int(trial.phases.post_treatment_window_days)
    bsa, crcl, crcl_note = compute_patient_bsa_crcl(patient, trial.formulas, cut, _latest_creatinine(t.labs))
    events, chemo = t.events, t.treatment[t.treatment["treatment"].isin(CHEMO)]
    te = events[events["treatment_emergent"].fillna(False).astype(bool)] if len(events) else events
    return {
        "subject_id": sid,
        "site": None if pd.isna(patient.get("site")) else str(patient.get("site")),
        "sex": patient.get("sex"),
        "age": patient.get("age"),
        "agent": _agent_text(chemo, patient),
        "bsa": None if pd.isna(bsa) else float(bsa),
        "crcl": None if pd.isna(crcl) else float(crcl),
        "crcl_note": crcl_note,
        "on_treatment": bool(status.get("on_treatment")),
        "phase_now": _phase_now(ms_row, patient, status, t.advice, cut, window),
        "first_treatment": None if ms_row is None else ms_row["first_treatment"],
        "maintenance_start": None if ms_row is None else ms_row["maintenance_start"],
        "last_dose": None if ms_row is None else ms_row["last_dose"],
        "n_chemo_cycles": int(len(chemo)),
        "n_concurrent_cycles": int((chemo["phase"] == "concurrent").sum()),
        "n_maintenance_cycles": int((chemo["phase"] == "maintenance").sum()),
        "n_events": int(len(events)),
        "n_events_te": int(len(te)),
        "worst_grade": int(te["worst_grade"].max()) if len(te) else None,
        "worst_grade_any": int(events["worst_grade"].max()) if len(events) else None,
        "ongoing_events": int(events["ongoing"].sum()) if len(events) else 0,
        "advice_lines": [_advice_line(r, trial) for r in t.advice.to_dict("records")],
        "pi_flags": t.flags["flag"].astype(str).tolist(),
        "off_treatment_on": patient.get("off_treatment_on"),
        "off_treatment_reason": patient.get("off_treatment_reason"),
        "recurrence_on": patient.get("recurrence_on"),
        "death_on": patient.get("death_on"),
        "cut": cut,
        "window_days": window,
        "lab_tests": tuple(tests),
    }


def compute_patient_course(snapshot: Snapshot, subject_id: str, trial, tests=DEFAULT_LAB_TESTS,
                           ctcae_version: str | None = None) -> PatientCourse:
    """One patient as of the snapshot's cut: treatment bars, adverse events, labs with grade bands,
    phase boundaries and the dose advice (toxdb.dosing.advice) for them. ``tests``: lab tests to show.
    ``ctcae_version``: the version for the lab grades and bands (default: the trial's version of
    record); grade_v5 and grade_v6 are in the lab table either way."""
    sid = str(subject_id)
    cut = pd.Timestamp(snapshot.cut.cut_date).normalize()
    window = int(trial.phases.post_treatment_window_days)
    patients = _only(snapshot.patients, sid)
    if patients is None or patients.empty:
        raise KeyError(f"patient {sid} is not in the patient table at this cut")
    one = Snapshot(snapshot.cut, patients, _only(snapshot.treatment, sid), _only(snapshot.adverse_events, sid),
                   _only(snapshot.labs, sid))
    derived = derive_snapshot_events(one, window)
    ms = derived.milestones
    ms_row = ms.iloc[0].to_dict() if len(ms) else None
    advice = compute_snapshot_advice(one, trial, derived)
    status = derive_treatment_status(patients, one.treatment, cut, trial.phases).iloc[0].to_dict()

    treatment = _course_treatment(one.treatment, cut)
    version = ctcae_version or trial.ctcae.version
    labs, baselines = _course_labs(one.labs, ms[["subject_id", "first_treatment"]], cut, version)
    tables = CourseTables(
        treatment, _course_events(derived.events, cut), labs, _bands_for(labs, baselines, tests, version),
        _course_marks(ms_row, treatment, cut, window), advice.table.reset_index(drop=True),
        advice.flags[advice.flags["subject_id"].astype(str) == sid].reset_index(drop=True))
    summary = _course_summary(sid, patients.iloc[0].to_dict(), tables, ms_row, status, trial, cut, tests)
    return PatientCourse(tables, summary)


# ------------------------------------------------------------------------------------------------
# swimmer lanes: all patients
# ------------------------------------------------------------------------------------------------
LANE_COLUMNS = ["lane", "subject_id", "site", "agent", "switched_to_s1", "first_treatment", "rt_start", "rt_end",
                "concurrent_start", "concurrent_end", "crt_end", "maintenance_start", "maintenance_end",
                "last_dose", "off_treatment_on", "off_treatment_reason", "recurrence_on", "death_on",
                "on_treatment_at_cut", "n_ge3", "worst_grade", "ge3_dates", "ge3_grades"]


@dataclass
class SwimmerLanes:
    table: pd.DataFrame                   # one row per treated patient, LANE_COLUMNS, ordered by lane
    events: pd.DataFrame                  # grade >= 3 events: lane, subject_id, onset_date, grade, term, ...
    summary: dict = field(default_factory=dict)


def _lane_periods(tr: pd.DataFrame, cut: pd.Timestamp) -> pd.DataFrame:
    """Per treated patient: RT, concurrent and maintenance periods (ends clipped to the cut) and
    which chemotherapy agents were given."""
    t = derive_treatment_phase(tr)
    start = as_dates(t["start_date"])
    end, open_row = _clip_end(t["end_date"], cut)
    inside = (start <= cut).to_numpy()
    what = t["treatment"].astype(str).to_numpy()
    phase = t["phase_derived"].to_numpy(object)
    nat = np.datetime64("NaT", "ns")
    s_np, e_np = start.to_numpy(), end.to_numpy()
    rt = what == RT
    chemo = np.isin(what, CHEMO)
    conc = chemo & (phase == "concurrent")
    maint = chemo & (phase == "maintenance")
    frame = pd.DataFrame({
        "subject_id": t["subject_id"].astype(str).to_numpy(),
        "rt_start": np.where(rt, s_np, nat), "rt_end": np.where(rt, e_np, nat),
        "concurrent_start": np.where(conc, s_np, nat), "concurrent_end": np.where(conc, e_np, nat),
        "maintenance_start_": np.where(maint, s_np, nat), "maintenance_end": np.where(maint, e_np, nat),
        "open_row": open_row.to_numpy(bool),
        "chemo_start": np.where(chemo, s_np, nat),
        "is_cape": what == CAPECITABINE, "is_s1": what == S1,
    })[inside]
    return frame.groupby("subject_id", sort=True).agg(
        rt_start=("rt_start", "min"), rt_end=("rt_end", "max"), concurrent_start=("concurrent_start", "min"),
        concurrent_end=("concurrent_end", "max"), maintenance_end=("maintenance_end", "max"),
        open_row=("open_row", "any"), has_cape=("is_cape", "any"), has_s1=("is_s1", "any"),
    ).reset_index()


def _lane_patient_marks(pts: pd.DataFrame, cut: pd.Timestamp) -> pd.DataFrame:
    """Per patient: site and the off-treatment, recurrence and death dates known at the cut."""
    pinfo = pd.DataFrame({"subject_id": pts["subject_id"].astype(str), "site": _col(pts, "site").astype(object)})
    for c in ("off_treatment_on", "recurrence_on", "death_on"):
        d = as_dates(_col(pts, c, "datetime64[ns]"))
        pinfo[c] = d.where(d <= cut)                       # what happens after the cut is not known at it
    pinfo["off_treatment_reason"] = _col(pts, "off_treatment_reason").astype(object).where(
        pinfo["off_treatment_on"].notna(), None)
    return pinfo.drop_duplicates("subject_id", keep="last")


def _lane_events(events: pd.DataFrame, lanes: pd.DataFrame, min_grade: int) -> pd.DataFrame:
    """Adverse events of grade >= ``min_grade`` of the lanes' patients, long, in lane order."""
    ev = events[pd.to_numeric(events["worst_grade"], errors="coerce") >= min_grade]
    ev = ev.merge(lanes[["subject_id", "lane", "first_treatment"]], on="subject_id", how="inner")
    return pd.DataFrame({
        "lane": ev["lane"].astype("int64"), "subject_id": ev["subject_id"].astype(str),
        "onset_date": as_dates(ev["onset_date"]), "grade": ev["worst_grade"].astype("int64"),
        "term": ev["term"].astype(object), "phase": ev["phase"].astype(object),
        "treatment_emergent": ev["treatment_emergent"].astype(bool), "day": (
            as_dates(ev["onset_date"]) - as_dates(ev["first_treatment"])).dt.days.astype("int64"),
    }).sort_values(["lane", "onset_date", "term"], kind="stable").reset_index(drop=True)


def compute_swimmer_lanes(snapshot: Snapshot, trial, min_grade: int = 3) -> SwimmerLanes:
    """One lane per treated patient, ordered by first treatment (then subject id), lane 0 first.

    Periods: RT (first RT start to last RT end), concurrent chemotherapy (first to last concurrent
    cycle), maintenance (first to last maintenance cycle), each end clipped to the cut. Marks:
    off treatment, recurrence, death (from the patient table, up to the cut) and every adverse event
    of grade >= ``min_grade`` (worst grade of the event, at its first onset; all phases, with the
    phase and treatment-emergent flag kept for the hover). ``on_treatment_at_cut``: the one rule (D10)."""
    cut = pd.Timestamp(snapshot.cut.cut_date).normalize()
    window = int(trial.phases.post_treatment_window_days)
    derived = derive_snapshot_events(snapshot, window)
    ms = derived.milestones.copy()
    tr = snapshot.treatment
    if tr is None or tr.empty or ms.empty:
        empty = pd.DataFrame({c: pd.Series(dtype=object) for c in LANE_COLUMNS})
        return SwimmerLanes(empty, pd.DataFrame(columns=["lane", "subject_id", "onset_date", "grade", "term"]),
                            {"n_patients": 0, "cut": cut})
    lanes = ms.drop(columns=["concurrent_start"]).merge(_lane_periods(tr, cut), on="subject_id", how="left")
    lanes = lanes[lanes["first_treatment"].notna() & (lanes["first_treatment"] <= cut)]
    lanes = lanes.merge(_lane_patient_marks(snapshot.patients, cut), on="subject_id", how="left")
    lanes = lanes.sort_values(["first_treatment", "subject_id"], kind="stable").reset_index(drop=True)
    lanes["lane"] = np.arange(len(lanes), dtype=np.int64)
    cape, s1 = lanes["has_cape"].fillna(False), lanes["has_s1"].fillna(False)
    lanes["agent"] = np.where(cape & s1, "capecitabine → S-1",
                              np.where(s1, "S-1", np.where(cape, "capecitabine", "RT only")))
    status = derive_treatment_status(snapshot.patients, tr, cut, trial.phases).set_index("subject_id")
    lanes["on_treatment_at_cut"] = lanes["subject_id"].map(status["on_treatment"]).fillna(False).astype(bool)

    events = _lane_events(derived.events, lanes, min_grade)
    grouped = events.groupby("subject_id", sort=False)
    lists = pd.DataFrame({
        "ge3_dates": grouped["onset_date"].agg(list), "ge3_grades": grouped["grade"].agg(list),
        "n_ge3": grouped.size(), "worst_grade": grouped["grade"].max(),
    })
    lanes = lanes.merge(lists, left_on="subject_id", right_index=True, how="left")
    lanes["n_ge3"] = lanes["n_ge3"].fillna(0).astype("int64")
    lanes["worst_grade"] = lanes["worst_grade"].astype("Int64")
    lanes["ge3_dates"] = lanes["ge3_dates"].map(lambda v: v if isinstance(v, list) else [])
    lanes["ge3_grades"] = lanes["ge3_grades"].map(lambda v: v if isinstance(v, list) else [])
    table = lanes[LANE_COLUMNS].reset_index(drop=True)
    summary = {
        "n_patients": int(len(table)), "on_treatment_at_cut": int(table["on_treatment_at_cut"].sum()),
        "with_ge3": int((table["n_ge3"] > 0).sum()), "n_ge3_events": int(len(events)),
        "off_treatment": int(table["off_treatment_on"].notna().sum()),
        "recurrence": int(table["recurrence_on"].notna().sum()), "death": int(table["death_on"].notna().sum()),
        "min_grade": min_grade, "cut": cut,
    }
    return SwimmerLanes(table, events, summary)
