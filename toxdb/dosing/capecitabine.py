"""Capecitabine: the label's dose-modification table per event, and one patient's advice
(docs/clinical-rules.md section 6; decisions D11-D14, D16).

derive_capecitabine_steps(events, trial, cut, ...) -> events + the table step of each (cape_* columns)
summarise_capecitabine_steps(steps)               -> per patient: level, stop, interrupt, reasons, rules
advise_capecitabine(patient, summary, trial)      -> the capecitabine row of the dose advice
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from toxdb.dosing.holds import apply_chemo_holds
from toxdb.dosing.inputs import (
    PatientInputs,
    event_label,
    in_course,
    map_subject_dates,
    ordinal,
    pct,
    per_subject_list,
    prepare_events,
    term_keys,
    with_empty,
)
from toxdb.dosing.lab_checks import count_checks, uln_checks
from toxdb.dosing.result import Advice
from toxdb.dosing.tablets import format_tablets, round_to_tablets
from toxdb.trial import Trial
from toxdb.vocab import CAPECITABINE

CAPE_COLUMNS = {"appearance": "float64", "cape_action": "str", "cape_percent": "float64", "cape_stop": "bool",
                "cape_alt_percent": "float64", "cape_alt_text": "object", "cape_interrupt": "bool",
                "cape_hfs": "bool", "cape_rule": "str", "cape_reason": "str", "cape_relevant": "bool"}


def _table_lookup(trial: Trial) -> pd.DataFrame:
    """The trial file's toxicity table as rows (grade g, appearance n) -> step."""
    rows = []
    for g in (1, 2, 3, 4):
        for n, step in enumerate(trial.capecitabine.toxicity_table[f"grade{g}"], start=1):
            rows.append({
                "g": float(g), "n": float(n), "step_action": step.action,
                "step_percent": float(0 if step.action == "stop" else step.percent),
                "alt_text": step.alternative, "alt_percent": step.alternative_percent,
            })
    lookup = pd.DataFrame(rows)
    lookup["alt_percent"] = lookup["alt_percent"].astype(float)
    return lookup


def _reasons(ev: pd.DataFrame, step: pd.DataFrame, counted, stop, alt_taken, low_risk) -> pd.Series:
    """The sentence behind each event's step, ending in its rule id."""
    what = pd.Series("", index=ev.index, dtype=str)
    resume = "interrupt until grade 0-1, resume at " + ev["cape_percent"].map(pct)
    what = what.mask(counted & ~stop & ~alt_taken, resume)
    what = what.mask(alt_taken, "physician's alternative taken (treatment continued): resume at "
                     + ev["cape_percent"].map(pct))
    what = what.mask(stop, "stop for good")
    what = what.mask(stop & step["alt_text"].notna(), "stop for good, or " + step["alt_text"].fillna(""))
    what = what.mask(ev["cape_hfs"], what + ", and hand-foot syndrome G2-3: interrupt until grade <= 1")
    what = what.mask(low_risk, "continue (unlikely to become serious)")
    appearance_text = pd.Series("", index=ev.index, dtype=str).mask(
        counted, ", " + ordinal(ev["appearance"]) + " appearance")
    return event_label(ev) + appearance_text + ": " + what + " [" + ev["cape_rule"] + "]"


def derive_capecitabine_steps(events: pd.DataFrame, trial: Trial, cut, course_start=None,
                              last_cycle_start=None) -> pd.DataFrame:
    """Add the capecitabine label-table step of each event (columns ``cape_*``).

    ``course_start`` / ``last_cycle_start`` map subject_id -> first / latest capecitabine cycle
    start (optional). Columns added: appearance (per CTCAE term, grade >= 2, onset order: D12),
    cape_action, cape_percent (implied level, 100 when none), cape_stop, cape_interrupt, cape_hfs,
    cape_alt_percent (physician's alternative still open: D13), cape_rule, cape_relevant, cape_reason
    (the sentence of each relevant event, the ones the advice reads; empty for the others).
    """
    ev = prepare_events(events, pd.Timestamp(cut)).copy()
    if not len(ev):
        return with_empty(ev, CAPE_COLUMNS)
    rules = trial.capecitabine.rules
    course = in_course(ev, course_start)
    low = ev["term_key"].isin(term_keys(rules.low_risk_terms))
    hfs = ev["term_key"].isin(term_keys(rules.hfs_terms))
    counted = course & ~low & ~ev["rt_only"] & (ev["grade"] >= 2)             # D12, D16

    ordered = ev[counted].sort_values(["subject_id", "term_key", "onset_date", "grade"], kind="stable")
    ev["appearance"] = (ordered.groupby(["subject_id", "term_key"], sort=False).cumcount() + 1).reindex(ev.index)
    g = ev["grade"].clip(1, 4).astype(float)
    row_len = {float(k): float(len(trial.capecitabine.toxicity_table[f"grade{k}"])) for k in (1, 2, 3, 4)}
    n = np.minimum(ev["appearance"], g.map(row_len))
    step = pd.DataFrame({"g": g, "n": n}).merge(_table_lookup(trial), how="left", on=["g", "n"])
    step.index = ev.index

    if last_cycle_start is not None and len(ev):
        later = map_subject_dates(ev["subject_id"], last_cycle_start)
        resumed = later.notna() & (later > ev["onset_date"])
    else:
        resumed = pd.Series(False, index=ev.index)
    alt_taken = counted & (step["step_action"] == "stop") & step["alt_percent"].notna() & resumed   # D13
    stop = counted & (step["step_action"] == "stop") & ~alt_taken

    ev["cape_action"] = step["step_action"].where(~alt_taken, "interrupt").where(counted, "continue")
    ev["cape_percent"] = step["step_percent"].where(~alt_taken, step["alt_percent"]).where(counted, 100.0)
    ev["cape_stop"] = stop
    ev["cape_alt_percent"] = step["alt_percent"].where(stop)
    ev["cape_alt_text"] = step["alt_text"].where(stop)
    ev["cape_interrupt"] = counted & ev["ongoing"] & ~stop
    ev["cape_hfs"] = course & hfs & ev["ongoing"] & ev["grade"].isin(rules.hfs_interrupt_grades)

    table_rule = ("cape.table.g" + g.astype(int).astype(str) + ".n" + n.fillna(0).astype(int).astype(str)
                  + pd.Series(np.where(alt_taken, ".alt", ""), index=ev.index))
    low_risk = course & low & (ev["grade"] >= 2)
    rule = pd.Series("", index=ev.index, dtype=str).mask(counted, table_rule)
    rule = rule.mask(ev["cape_hfs"], (rule + "; cape.hfs").str.lstrip("; "))
    ev["cape_rule"] = rule.mask(low_risk, "cape.low_risk")
    ev["cape_relevant"] = (stop | ev["cape_interrupt"] | ev["cape_hfs"] | (ev["cape_percent"] < 100)
                           | (low_risk & ev["ongoing"]))
    rel = ev["cape_relevant"].to_numpy(bool)         # the advice reads the sentence of these events only
    ev["cape_reason"] = _reasons(ev[rel], step[rel], counted[rel], stop[rel], alt_taken[rel], low_risk[rel]
                                 ).reindex(ev.index, fill_value="") if rel.any() else ""
    return ev


@dataclass
class CapecitabineSummary:
    """Per patient: the lowest level any event implies, stop / interrupt, and the hints behind them."""

    table: pd.DataFrame                  # index subject_id: level, stop, stop_without_alt, alt_percent, ...
    reasons: dict[str, list[str]]
    rules: dict[str, list[str]]
    _rows: dict | None = None

    def row(self, sid: str) -> dict | None:
        """The table's row of one patient as a dict (None without events): a lookup per patient
        instead of a DataFrame row each time."""
        if self._rows is None:
            self._rows = self.table.to_dict("index")
        return self._rows.get(sid)


def summarise_capecitabine_steps(steps: pd.DataFrame) -> CapecitabineSummary:
    """One row per patient from :func:`derive_capecitabine_steps` (the level is the lowest implied)."""
    by = steps.groupby("subject_id")
    table = pd.DataFrame({
        "level": by["cape_percent"].min(),
        "stop": by["cape_stop"].any(),
        "stop_without_alt": (steps["cape_stop"] & steps["cape_alt_percent"].isna()).groupby(steps["subject_id"]).any(),
        "alt_percent": by["cape_alt_percent"].min(),
        "alt_text": by["cape_alt_text"].first(),
        "interrupt": (steps["cape_interrupt"] | steps["cape_hfs"]).groupby(steps["subject_id"]).any(),
    })
    relevant = steps["cape_relevant"]
    return CapecitabineSummary(table, per_subject_list(steps, relevant, "cape_reason"),
                               per_subject_list(steps, relevant, "cape_rule", split=True))


def _renal(crcl: float, crcl_source: str, trial: Trial) -> tuple[float, bool, bool, str]:
    """(dose factor, renal stop, whether the renal rule applies, CrCl effect in words) from the label's
    renal rule; CrCl is compared unrounded (D11) and the factor multiplies the toxicity level (D14)."""
    rules = trial.capecitabine.rules
    if pd.isna(crcl):
        return 1.0, False, False, crcl_source
    if crcl < rules.crcl_reduce_min:
        return 1.0, True, True, f"CrCl {crcl:.0f} < {rules.crcl_reduce_min:g}: {rules.renal_severe_note}"
    if crcl < rules.crcl_no_change_min:
        return (rules.crcl_reduced_percent / 100.0, False, True,
                f"CrCl {crcl:.0f} ({rules.crcl_reduce_min:g} to < {rules.crcl_no_change_min:g}): "
                f"{rules.crcl_reduced_percent} % of the planned dose")
    return 1.0, False, False, f"CrCl {crcl:.0f} (>= {rules.crcl_no_change_min:g}): no change"


def _lab_interrupts(patient: PatientInputs, trial: Trial, rule_ids: list, reasons: list, notes: list) -> bool:
    """Blood counts and liver tests of the current cycle against the capecitabine limits."""
    rules = trial.capecitabine.rules
    hits = count_checks(patient.lab, rules.anc_interrupt_below, rules.platelets_interrupt_below, "cape.anc",
                        "cape.plt")
    liver, liver_notes = uln_checks(patient.lab, {
        "BILI": (rules.bilirubin_interrupt_above_uln, "cape.liver.bili"),
        "ALT": (rules.transaminase_interrupt_above_uln, "cape.liver.alt"),
        "AST": (rules.transaminase_interrupt_above_uln, "cape.liver.ast")})
    notes += liver_notes
    for rule, text in hits + liver:
        rule_ids.append(rule)
        reasons.append(f"{text}: interrupt until back within the limit [{rule}]")
    return bool(hits or liver)


def _dose_at(bsa: float, mg_m2_intake: float, percent: float, trial: Trial) -> tuple[float, float, dict[int, int]]:
    """(calculated mg per intake, rounded to whole tablets, tablet counts) at ``percent`` of the dose."""
    calc = bsa * mg_m2_intake * percent / 100.0
    if pd.isna(calc):
        return float("nan"), float("nan"), {}
    rounded, counts = round_to_tablets(calc, trial.capecitabine.tablet_mg)
    return calc, float(rounded), counts


def advise_capecitabine(patient: PatientInputs, summary: CapecitabineSummary, trial: Trial) -> Advice:
    """The capecitabine row: the lowest level any event implies (D12), times the renal factor (D14),
    in mg per intake for the phase's dose, unless a stop, an interrupt or a hold applies."""
    cfg, sid = trial.capecitabine, patient.subject_id
    agg = summary.row(sid)
    level = float(agg["level"]) if agg is not None else 100.0
    stop = bool(agg["stop"]) if agg is not None else False
    reasons = list(summary.reasons.get(sid, []))
    rule_ids = ["cape.dose", *summary.rules.get(sid, [])]
    notes = list(patient.notes)
    interrupt = _lab_interrupts(patient, trial, rule_ids, reasons, notes)
    interrupt = (bool(agg["interrupt"]) if agg is not None else False) or interrupt

    phase = patient.phase
    if phase not in ("concurrent", "maintenance"):                                 # D19
        phase = "concurrent"
        notes.append(f"phase unknown: dose shown for concurrent ({cfg.concurrent_mg_m2_day:g} mg/m²/day); "
                     f"maintenance is {cfg.maintenance_mg_m2_day:g} mg/m²/day")
    if phase == "concurrent":
        interrupt = apply_chemo_holds(patient, trial, rule_ids, reasons) or interrupt

    factor, renal_stop, renal, effect = _renal(patient.crcl, patient.crcl_source, trial)
    if renal:
        rule_ids.append("cape.renal")
        reasons.append(f"{effect} [cape.renal]")
    if not pd.isna(patient.crcl):
        notes.append(patient.crcl_source)

    mg_m2_intake = (cfg.concurrent_mg_m2_day if phase == "concurrent" else cfg.maintenance_mg_m2_day) / cfg.intakes_per_day
    planned = level * factor
    alternative = ""
    if stop or renal_stop:
        action, percent = "stop", 0.0
        if stop and not renal_stop and agg is not None and not bool(agg["stop_without_alt"]):
            alt_pct = float(agg["alt_percent"]) * factor
            _, rounded, counts = _dose_at(patient.bsa, mg_m2_intake, alt_pct, trial)
            alternative = (f"{agg['alt_text']}: {pct(alt_pct)} = {rounded:g} mg per intake "
                           f"({format_tablets(counts)})" if not pd.isna(rounded) else f"{agg['alt_text']}")
    else:
        action = "interrupt" if interrupt else "reduce" if planned < 100 else "continue"
        percent = planned
    calc, rounded, counts = _dose_at(patient.bsa, mg_m2_intake, percent, trial)
    if pd.isna(patient.bsa):
        notes.append("BSA unknown (height or weight missing): no dose in mg")
    return Advice(
        subject_id=sid, agent=CAPECITABINE, phase=phase, action=action, dose_percent=percent,
        dose_mg_per_intake_calculated=calc, dose_mg_per_intake=rounded,
        tablets=format_tablets(counts) if counts else "", tablet_counts=counts, bsa=patient.bsa, crcl=patient.crcl,
        crcl_effect=effect, reasons="; ".join(dict.fromkeys(reasons)), rule="; ".join(dict.fromkeys(rule_ids)),
        resume_at_percent=percent if action == "interrupt" else float("nan"), alternative=alternative,
        notes="; ".join(dict.fromkeys(notes)),
    )
