"""S-1 (tegafur-gimeracil-oteracil): starting dose by BSA band, one level down per toxicity step,
renal adjustment, and one patient's advice (docs/clinical-rules.md section 7; decisions D11, D15, D16).

compute_s1_starting_dose(bsa, trial)        -> mg per intake
derive_s1_steps(events, trial, cut, ...)    -> events + the S-1 step of each (s1_* columns)
summarise_s1_steps(steps)                   -> per patient: reductions, stop, interrupt, reasons, rules
advise_s1(patient, summary, trial)          -> the S-1 row of the dose advice
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from toxdb.dosing.holds import apply_chemo_holds, count_hold_events
from toxdb.dosing.inputs import (
    PatientInputs,
    event_label,
    in_course,
    is_haematological,
    ordinal,
    per_subject_list,
    prepare_events,
    term_keys,
    with_empty,
)
from toxdb.dosing.lab_checks import count_checks
from toxdb.dosing.result import Advice
from toxdb.dosing.tablets import format_tablets, round_to_tablets
from toxdb.trial import Trial
from toxdb.vocab import S1

S1_COLUMNS = {"s1_g3_seq": "float64", "s1_reduce": "bool", "s1_stop": "bool", "s1_interrupt": "bool",
              "s1_rule": "str", "s1_reason": "str", "s1_relevant": "bool"}
_HOLDS = ("interrupt", "interrupt_reduce")          # trial-file actions that interrupt while ongoing


def compute_s1_starting_dose(bsa: float, trial: Trial) -> float:
    """S-1 starting dose per intake (mg) from the BSA bands of the trial file.

    Bands are [lower bound, mg] and a BSA on a bound belongs to the band above it (unrounded BSA, D11):
    < 1.25 -> 40, 1.25 to < 1.5 -> 50, >= 1.5 -> 60 with the default file. NaN BSA -> NaN.
    """
    if bsa is None or pd.isna(bsa):
        return float("nan")
    start = trial.s1.bsa_bands[0][1]
    for low, mg in trial.s1.bsa_bands:
        if bsa >= low:
            start = mg
    return float(start)


def _step_text(action: str, grade_words: pd.Series, held: pd.Series) -> pd.Series:
    """What a non-haematological step says for the trial file's action of its grade."""
    if action == "stop":
        return grade_words + ": stop"
    if action == "interrupt_reduce":
        return (grade_words + ": resume one level lower"
                + pd.Series(np.where(held, " (interrupt until grade <= 1)", ""), index=held.index))
    if action == "interrupt":
        return grade_words + ": interrupt until grade <= 1, resume at the same level"
    return grade_words + ": continue at the same level"


def derive_s1_steps(events: pd.DataFrame, trial: Trial, cut, course_start=None) -> pd.DataFrame:
    """Add the S-1 step of each event (columns ``s1_*``).

    Non-haematological grade 2 and grade 3 events take the action the trial file names
    (``nonhaem_grade2``, default interrupt while ongoing at the same level; ``nonhaem_grade3``,
    default interrupt while ongoing and resume one level lower); the ``stop_after_grade3_count``-th
    grade 3 of the patient -> stop; grade >= 4 -> stop (when ``stop_on_grade4``, else it counts as a
    grade 3). Haematological events ongoing at grade >= ``haem_interrupt_grade_min``, or blood-count
    events at the capecitabine thresholds (``count_hold_events``) -> interrupt, same level. Low-risk terms -> continue. Events attributed only to RT do not count (D16).
    """
    ev = prepare_events(events, pd.Timestamp(cut)).copy()
    if not len(ev):
        return with_empty(ev, S1_COLUMNS)
    s1 = trial.s1
    a2, a3 = s1.nonhaem_grade2, s1.nonhaem_grade3
    course = in_course(ev, course_start)
    low = ev["term_key"].isin(term_keys(s1.low_risk_terms))
    haem = is_haematological(ev["term_key"], trial)
    nonhaem = course & ~low & ~haem & ~ev["rt_only"]
    grade, ongoing = ev["grade"], ev["ongoing"]
    g2 = nonhaem & (grade == 2)
    g3 = nonhaem & ((grade == 3) | ((grade >= 4) & (not s1.stop_on_grade4)))
    seq = (ev[g3].sort_values(["subject_id", "onset_date", "grade"], kind="stable")
           .groupby("subject_id").cumcount() + 1).reindex(ev.index)
    stop3 = g3 & ((seq >= s1.stop_after_grade3_count) | (a3 == "stop"))
    step3 = g3 & ~stop3 & (a3 != "continue")
    stop2 = g2 & (a2 == "stop")
    step2 = g2 & (a2 != "stop") & (a2 != "continue")
    reduce_ = (g2 & (a2 == "interrupt_reduce")) | (g3 & ~stop3 & (a3 == "interrupt_reduce"))
    hold2, hold3 = step2 & ongoing & (a2 in _HOLDS), step3 & ongoing & (a3 in _HOLDS)
    stop4 = nonhaem & (grade >= 4) & s1.stop_on_grade4
    haem_int = course & haem & ongoing & ((grade >= s1.haem_interrupt_grade_min) | count_hold_events(ev, trial.holds))
    low_risk = course & low & (grade >= 2)

    ev["s1_g3_seq"] = seq
    ev["s1_reduce"] = reduce_
    ev["s1_stop"] = stop2 | stop3 | stop4
    ev["s1_interrupt"] = (hold2 | hold3 | haem_int) & ~ev["s1_stop"]
    g2_rule = (hold2 | (step2 & reduce_) | stop2)
    g3_rule = (hold3 | (g3 & reduce_))
    rule = pd.Series("", index=ev.index, dtype=str)
    rule = rule.mask(g2_rule, "s1.nonhaem.g2").mask(g3_rule, "s1.nonhaem.g3").mask(stop3, "s1.nonhaem.g3.stop")
    rule = rule.mask(stop4, "s1.nonhaem.g4").mask(haem_int, "s1.counts.event").mask(low_risk, "s1.low_risk")
    ev["s1_rule"] = rule
    g3_words = ordinal(seq) + " grade 3"
    what = pd.Series("", index=ev.index, dtype=str)
    if a2 == "interrupt":
        what = what.mask(g2_rule, "interrupt until grade <= 1, resume at the same level")
    else:
        what = what.mask(g2_rule, _step_text(a2, pd.Series("grade 2", index=ev.index), hold2))
    what = what.mask(g3_rule, _step_text(a3, g3_words, hold3))
    what = what.mask(stop3, g3_words + ": stop")
    what = what.mask(stop4, "grade >= 4: stop")
    what = what.mask(haem_int, "blood counts: interrupt, resume at the same level")
    what = what.mask(low_risk, "continue (unlikely to become serious)")
    ev["s1_reason"] = event_label(ev) + ": " + what + " [" + rule + "]"
    ev["s1_relevant"] = ev["s1_stop"] | ev["s1_interrupt"] | reduce_ | (low_risk & ongoing)
    return ev


@dataclass
class S1Summary:
    """Per patient: how many levels the events take off, stop / interrupt, and the hints behind them."""

    table: pd.DataFrame                  # index subject_id: reductions, stop, interrupt
    reasons: dict[str, list[str]]
    rules: dict[str, list[str]]
    _rows: dict | None = None

    def row(self, sid: str) -> dict | None:
        """The table's row of one patient as a dict (None without events)."""
        if self._rows is None:
            self._rows = self.table.to_dict("index")
        return self._rows.get(sid)


def summarise_s1_steps(steps: pd.DataFrame) -> S1Summary:
    by = steps.groupby("subject_id")
    table = pd.DataFrame({"reductions": by["s1_reduce"].sum(), "stop": by["s1_stop"].any(),
                          "interrupt": by["s1_interrupt"].any()})
    relevant = steps["s1_relevant"]
    return S1Summary(table, per_subject_list(steps, relevant, "s1_reason"),
                     per_subject_list(steps, relevant, "s1_rule", split=True))


def _renal(crcl: float, crcl_source: str, trial: Trial) -> tuple[int, bool, str]:
    """(levels lower, do not give, CrCl effect in words); CrCl compared unrounded (D11)."""
    s1 = trial.s1
    if pd.isna(crcl):
        return 0, False, crcl_source
    if crcl < s1.crcl_two_levels_min:
        return 0, True, f"CrCl {crcl:.0f} < {s1.crcl_two_levels_min:g}: do not give"
    if crcl < s1.crcl_one_level_min:
        return 2, False, (f"CrCl {crcl:.0f} ({s1.crcl_two_levels_min:g} to < {s1.crcl_one_level_min:g}): "
                          "two levels lower")
    if crcl < s1.crcl_standard_min:
        return 1, False, (f"CrCl {crcl:.0f} ({s1.crcl_one_level_min:g} to < {s1.crcl_standard_min:g}): "
                          "one level lower")
    return 0, False, f"CrCl {crcl:.0f} (>= {s1.crcl_standard_min:g}): standard"


def _level(start_mg: float, steps_down: int, trial: Trial) -> float | None:
    """The level ``steps_down`` below the starting dose's level; None below the lowest (stop, D15)."""
    levels = sorted(trial.s1.levels_mg, reverse=True)
    start_idx = next((i for i, mg in enumerate(levels) if mg <= start_mg), len(levels) - 1)
    idx = start_idx + steps_down
    return None if idx >= len(levels) else float(levels[idx])


def advise_s1(patient: PatientInputs, summary: S1Summary, trial: Trial) -> Advice:
    """The S-1 row: the BSA band's starting level, lowered by renal function and by the events' steps."""
    s1, sid = trial.s1, patient.subject_id
    agg = summary.row(sid)
    reductions = int(agg["reductions"]) if agg is not None else 0
    stop = bool(agg["stop"]) if agg is not None else False
    interrupt = bool(agg["interrupt"]) if agg is not None else False
    reasons = list(summary.reasons.get(sid, []))
    rule_ids = ["s1.bsa_band", *summary.rules.get(sid, [])]
    notes = list(patient.notes)
    rules = trial.capecitabine.rules               # blood counts as for capecitabine
    for rule, text in count_checks(patient.lab, rules.anc_interrupt_below, rules.platelets_interrupt_below,
                                   "s1.counts", "s1.counts"):
        interrupt = True
        rule_ids.append(rule)
        reasons.append(f"{text}: interrupt, resume at the same level [{rule}]")
    if patient.phase == "concurrent":
        interrupt = apply_chemo_holds(patient, trial, rule_ids, reasons) or interrupt

    start_mg = compute_s1_starting_dose(patient.bsa, trial)
    shift, renal_stop, effect = _renal(patient.crcl, patient.crcl_source, trial)
    if renal_stop or shift:
        rule_ids.append("s1.renal")
        reasons.append(f"{effect} [s1.renal]")
    if not pd.isna(patient.crcl):
        notes.append(patient.crcl_source)

    level_mg = float("nan")
    if pd.isna(start_mg):
        notes.append("BSA unknown (height or weight missing): no starting dose")
    else:
        found = _level(start_mg, shift + reductions, trial)
        if found is None:
            if not (stop or renal_stop):
                rule_ids.append("s1.levels.exhausted")
                reasons.append(f"no level below {min(s1.levels_mg)} mg per intake: stop [s1.levels.exhausted]")
            stop = True
        else:
            level_mg = found
    if stop or renal_stop:
        action, level_mg = "stop", 0.0
    elif interrupt:
        action = "interrupt"
    elif not pd.isna(level_mg) and level_mg < start_mg:
        action = "reduce"
    else:
        action = "continue"
    counts: dict[int, int] = {}
    rounded = float("nan")
    if not pd.isna(level_mg):
        rounded_mg, counts = round_to_tablets(level_mg, s1.capsule_mg)
        rounded = float(rounded_mg)
    percent = level_mg / start_mg * 100.0 if start_mg and not pd.isna(start_mg) else float("nan")
    return Advice(
        subject_id=sid, agent=S1, phase=patient.phase, action=action, dose_percent=percent, dose_level_mg=level_mg,
        dose_mg_per_intake_calculated=level_mg, dose_mg_per_intake=rounded,
        tablets=format_tablets(counts) if counts else "", tablet_counts=counts, bsa=patient.bsa, crcl=patient.crcl,
        crcl_effect=effect, reasons="; ".join(dict.fromkeys(reasons)), rule="; ".join(dict.fromkeys(rule_ids)),
        resume_at_percent=percent if action == "interrupt" else float("nan"),
        notes="; ".join(dict.fromkeys(notes)),
    )
