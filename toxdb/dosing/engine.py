"""Dose advice for the whole trial at a data cut: the driver that reads each patient's treatment
status (the one on-treatment rule, D10), derives every event's step once for the whole trial, and
asks the agent modules for one ``Advice`` per patient and agent.

The rules are data in ``trial.toml`` ([formulas], [capecitabine], [s1], [holds]); the modules only
apply them (docs/clinical-rules.md sections 5-8; the decisions D9-D20 in docs/decisions.md). Every
hint names the rule that produced it (``rule`` column, and ``[rule]`` after each reason). The
dashboard advises; the treating physician decides.

Where each part lives
---------------------
toxdb.clinical.treatment   who is on which treatment at the cut (derive_treatment_status)
toxdb.clinical.formulas    BSA, CrCl (compute_patient_bsa_crcl), Child-Pugh
toxdb.dosing.inputs        the event frame the rules read, PatientInputs
toxdb.dosing.capecitabine  the label table per event, the capecitabine row
toxdb.dosing.s1            BSA bands and levels, the S-1 row
toxdb.dosing.holds         hold rules during chemoradiotherapy, PI flags, RT interruption, the RT row
toxdb.dosing.lab_checks    latest labs of the current cycle, count and liver limits
toxdb.dosing.tablets       whole tablets and capsules
toxdb.dosing.result        Advice, DoseAdviceResult, ACTIONS

Public API (this module)
------------------------
compute_dose_advice(patients, events, labs, treatment, trial, cut) -> DoseAdviceResult
advise_patient(patient, events, labs, treatment, *, trial, cut, agent, phase, on_rt) -> list[Advice]
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Mapping

import pandas as pd

from toxdb.clinical.formulas import compute_patient_bsa_crcl
from toxdb.clinical.treatment import derive_treatment_status, prepare_treatment_log
from toxdb.dosing.capecitabine import (
    CapecitabineSummary,
    advise_capecitabine,
    derive_capecitabine_steps,
    summarise_capecitabine_steps,
)
from toxdb.dosing.holds import (
    advise_rt,
    derive_event_flags,
    derive_hold_steps,
    derive_rt_interruption,
    hold_pairs,
    rt_interruption_flags,
)
from toxdb.dosing.inputs import PatientInputs, prepare_events
from toxdb.dosing.lab_checks import latest_labs, prepare_labs
from toxdb.dosing.result import (
    ACTIONS,
    FLAG_COLUMNS,
    TABLE_COLUMNS,
    Advice,
    DoseAdviceResult,
    join_unique,
)
from toxdb.dosing.s1 import S1Summary, advise_s1, derive_s1_steps, summarise_s1_steps
from toxdb.trial import Trial
from toxdb.vocab import CAPECITABINE, RT, S1, normalise

__all__ = ["ACTIONS", "Advice", "DoseAdviceResult", "advise_patient", "compute_dose_advice"]


@dataclass
class _EventSteps:
    """The events' steps for the whole trial, summarised per patient."""

    cape: CapecitabineSummary
    s1: S1Summary
    chemo_holds: dict[str, list[tuple[str, str]]]     # subject -> [(rule, event label)]
    rt_holds: dict[str, list[tuple[str, str]]]
    flags: pd.DataFrame                               # PI flags from the events (FLAG_COLUMNS)


def _starts(log: pd.DataFrame, agent: str, how: str) -> dict[str, pd.Timestamp]:
    """subject -> first (``how="min"``) or latest (``"max"``) start of a cycle of ``agent``."""
    rows = log[log["treatment"] == agent]
    return rows.groupby("subject_id")["start_date"].agg(how).to_dict() if len(rows) else {}


def _of(ev: pd.DataFrame, subjects) -> pd.DataFrame:
    """The prepared events of these subjects only (still a prepared frame)."""
    out = ev[ev["subject_id"].isin(set(subjects)).to_numpy(bool)].reset_index(drop=True)
    out.attrs["_prepared"] = True
    return out


def _derive_steps(ev: pd.DataFrame, log: pd.DataFrame, trial: Trial, cut: pd.Timestamp,
                  status: pd.DataFrame) -> _EventSteps:
    """Each agent's steps from the events of the patients on that agent at the cut only: every
    step reads its own patient's events alone, and an agent's summary is read only for its
    patients, so the rows of the others would be derived for nothing (D83)."""
    on = status["on_chemo"].to_numpy(bool)
    cape = derive_capecitabine_steps(_of(ev, status.index[on & (status["agent"] == CAPECITABINE).to_numpy(bool)]),
                                     trial, cut, _starts(log, CAPECITABINE, "min"), _starts(log, CAPECITABINE, "max"))
    s1 = derive_s1_steps(_of(ev, status.index[on & (status["agent"] == S1).to_numpy(bool)]), trial, cut,
                         _starts(log, S1, "min"))
    holds = derive_hold_steps(ev, trial, cut)
    return _EventSteps(summarise_capecitabine_steps(cape), summarise_s1_steps(s1),
                       hold_pairs(holds, "chemo_hold_rule"), hold_pairs(holds, "rt_hold_rule"),
                       derive_event_flags(holds))


def _statuses(pts: pd.DataFrame, log: pd.DataFrame, trial: Trial, cut: pd.Timestamp,
              overrides: Mapping) -> pd.DataFrame:
    """Each patient's treatment status (D10), with a test's stated agent / phase / RT on top."""
    status = derive_treatment_status(pts, None, cut, trial.phases, log=log).set_index("subject_id")
    if overrides.get("agent"):
        status["agent"] = normalise("agent", overrides["agent"]) or overrides["agent"]
        status["on_chemo"] = True
    if overrides.get("phase"):
        status["phase"] = str(overrides["phase"]).lower()
    if overrides.get("on_rt") is not None:
        status["on_rt"] = bool(overrides["on_rt"])
    return status


def _lab_window(status: pd.DataFrame, trial: Trial, cut: pd.Timestamp) -> dict[str, pd.Timestamp]:
    """Where each patient's current cycle starts (D17): the chemotherapy cycle's start, else the RT
    course's, else the last cycle length before the cut."""
    window = {}
    fallback = cut - pd.Timedelta(days=trial.phases.cycle_length_days)
    for sid, row in status.to_dict("index").items():
        start = row["cycle_start"] if row["on_chemo"] and pd.notna(row["cycle_start"]) else \
            row["rt_start"] if row["on_rt"] else None
        window[sid] = start if start is not None and pd.notna(start) else fallback
    return window


def _latest_phase(ev: pd.DataFrame) -> dict[str, str]:
    """The phase of each patient's latest on-treatment event (the advice's phase when the log cannot tell)."""
    if not len(ev):
        return {}
    on = ev[ev["phase"].isin(["concurrent", "maintenance"])].sort_values("onset_date")
    return on.groupby("subject_id")["phase"].last().to_dict()


def _run(patients: pd.DataFrame, events, labs, treatment, trial: Trial, cut, overrides: Mapping | None = None,
         ) -> tuple[list[Advice], pd.DataFrame]:
    cut_ts = pd.Timestamp(cut).normalize()
    overrides = dict(overrides or {})
    pts = patients.assign(subject_id=patients["subject_id"].astype(str)).drop_duplicates("subject_id", keep="last")
    log = prepare_treatment_log(treatment, cut_ts)
    ev = prepare_events(events, cut_ts)
    lab_frame = prepare_labs(labs, cut_ts)
    status = _statuses(pts, log, trial, cut_ts, overrides)
    steps = _derive_steps(ev, log, trial, cut_ts, status)

    interruption = derive_rt_interruption(log, cut_ts)
    rt_days = {sid: interruption[sid] for sid in pts["subject_id"] if sid in interruption}
    flags = pd.concat([steps.flags, rt_interruption_flags(rt_days, trial)], ignore_index=True)[FLAG_COLUMNS]
    flags_by = flags.groupby("subject_id")["flag"].agg("; ".join).to_dict() if len(flags) else {}
    flag_rules = flags.groupby("subject_id")["rule"].agg(join_unique).to_dict() if len(flags) else {}

    latest = latest_labs(lab_frame, _lab_window(status, trial, cut_ts))
    creat = lab_frame[lab_frame["test_code"] == "CREAT"].groupby("subject_id").tail(1)
    latest_creat = {sid: (v, u, d) for sid, v, u, d in
                    zip(creat["subject_id"], creat["si_value"], creat["uln"], creat["collected_on"])}
    latest_phase = _latest_phase(ev)

    advice: list[Advice] = []
    status_of = status.to_dict("index")
    for patient in pts.to_dict("records"):
        sid = patient["subject_id"]
        st = status_of[sid]
        if not (st["on_chemo"] or st["on_rt"]):
            continue
        lab = dict(latest.get(sid, {}))
        lab.pop("CREAT", None)
        bsa, crcl, crcl_source = compute_patient_bsa_crcl(patient, trial.formulas, cut_ts, latest_creat.get(sid))
        phase = st["phase"] if isinstance(st["phase"], str) and st["phase"] else None
        inputs = PatientInputs(
            subject_id=sid, phase=phase or latest_phase.get(sid) or ("concurrent" if st["on_rt"] else None),
            bsa=bsa, crcl=crcl, crcl_source=crcl_source, lab=lab, notes=list(st["notes"]),
            chemo_holds=steps.chemo_holds.get(sid, []), rt_holds=steps.rt_holds.get(sid, []),
            rt_interruption_days=rt_days.get(sid))
        rows: list[Advice] = []
        if st["on_chemo"] and st["agent"] == CAPECITABINE:
            rows.append(advise_capecitabine(inputs, steps.cape, trial))
        elif st["on_chemo"] and st["agent"] == S1:
            rows.append(advise_s1(inputs, steps.s1, trial))
        if st["on_rt"]:
            rows.append(advise_rt(inputs, trial))
        for row in rows:
            row.pi_flags = flags_by.get(sid, "")
            if row.pi_flags:
                row.rule = "; ".join(dict.fromkeys([*row.rule.split("; "), *flag_rules[sid].split("; ")]))
        advice.extend(rows)
    return advice, flags


def advise_patient(patient: Mapping[str, Any] | pd.Series, events: pd.DataFrame | None = None,
                   labs: pd.DataFrame | None = None, treatment: pd.DataFrame | None = None, *,
                   trial: Trial, cut, agent: str | None = None, phase: str | None = None,
                   on_rt: bool | None = None) -> list[Advice]:
    """Advice for one patient: one ``Advice`` per agent they are on at the cut.

    ``patient`` holds sex, age (or birth_date), height_cm, weight_kg, serum_creatinine,
    serum_creatinine_unit, agent (subject_id optional). ``agent`` / ``phase`` / ``on_rt`` override
    what the treatment log says (so a test can state a case without a log); with an ``agent`` the
    patient is taken to be on that chemotherapy at the cut.
    """
    record = dict(patient.items()) if isinstance(patient, (Mapping, pd.Series)) else dict(patient)
    record.setdefault("subject_id", "patient")
    sid = str(record["subject_id"])

    def only(df):
        if df is None or len(df) == 0:
            return df
        if "subject_id" not in df.columns:
            return df.assign(subject_id=sid)
        return df[df["subject_id"].astype(str) == sid]

    advice, _ = _run(pd.DataFrame([record]), only(events), only(labs), only(treatment), trial, cut,
                     {"agent": agent, "phase": phase, "on_rt": on_rt})
    return advice


def _summary(table: pd.DataFrame) -> pd.DataFrame:
    counts = pd.crosstab(table["action"], table["agent"]) if len(table) else pd.DataFrame()
    counts = counts.reindex(index=list(ACTIONS), fill_value=0)
    for agent in (CAPECITABINE, S1, RT):
        if agent not in counts.columns:
            counts[agent] = 0
    counts = counts[[CAPECITABINE, S1, RT]].astype(int)
    counts["total"] = counts.sum(axis=1)
    counts.index.name = "action"
    counts.columns.name = None
    return counts


def compute_dose_advice(patients: pd.DataFrame, events: pd.DataFrame | None, labs: pd.DataFrame | None,
                        treatment: pd.DataFrame | None, trial: Trial, cut: dt.date) -> DoseAdviceResult:
    """Dose advice at the cut for every patient on treatment (one row per patient and agent).

    ``table`` columns: see TABLE_COLUMNS; ``summary``: rows by action (continue, interrupt, reduce,
    stop) × agent plus total; ``flags``: PI flags (rt interruption, grade 4 non-haematological,
    grade 5) for every patient.
    """
    advice, flags = _run(patients, events, labs, treatment, trial, cut)
    table = pd.DataFrame([a.as_row() for a in advice], columns=TABLE_COLUMNS)
    table = table.astype({c: float for c in ("dose_percent", "dose_level_mg", "dose_mg_per_intake_calculated",
                                             "dose_mg_per_intake", "bsa", "crcl", "resume_at_percent")})
    return DoseAdviceResult(table=table, summary=_summary(table), flags=flags.reset_index(drop=True),
                            cut=pd.Timestamp(cut).date())
