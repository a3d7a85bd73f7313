"""Hold rules during chemoradiotherapy and the flags for the principal investigator
(docs/clinical-rules.md section 8; decisions D18, D20).

derive_hold_steps(events, trial, cut)     -> events + chemo_hold_rule, rt_hold_rule, pi_rule, hold_label
compute_rt_interruption_days(rt, cut)     -> weekdays without RT so far (None when it cannot be told)
apply_chemo_holds(...)                    -> the chemotherapy holds of one patient on concurrent treatment
advise_rt(patient, trial)                 -> the RT row of the dose advice
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from toxdb.dosing.inputs import (
    OFF_PHASES,
    PatientInputs,
    event_label,
    is_haematological,
    prepare_events,
    term_keys,
    with_empty,
)
from toxdb.dosing.lab_checks import count_checks, uln_checks
from toxdb.dosing.result import FLAG_COLUMNS, Advice
from toxdb.trial import Trial
from toxdb.vocab import RT

HOLD_COLUMNS = {"chemo_hold_rule": "str", "rt_hold_rule": "str", "pi_rule": "str", "hold_label": "str"}


def count_hold_events(ev: pd.DataFrame, holds) -> pd.Series:
    """True for blood-count events at or above the grade that interrupts chemotherapy
    (``[holds] count_event_grade_min``: the AE grades matching the lab thresholds). ``ev``:
    prepared events (term_key, grade). Capecitabine holds and S-1 both ask this one rule."""
    out = pd.Series(False, index=ev.index)
    for term, grade_min in holds.count_event_grade_min.items():
        out |= ev["term_key"].isin(term_keys([term])) & (ev["grade"] >= grade_min)
    return out


def derive_hold_steps(events: pd.DataFrame, trial: Trial, cut) -> pd.DataFrame:
    """Add section-8 hold rules and PI flags of each event.

    Columns: chemo_hold_rule (crt.chemo.nonhaem / crt.chemo.hfs / crt.chemo.counts), rt_hold_rule
    (rt.hold.gi / rt.hold.<group>), pi_rule (pi.grade4_nonhaem / pi.grade5) and hold_label (the
    event in words where a rule fired, else empty).
    Holds use ongoing events that are not pre- or post-treatment; PI flags use every event after
    the first treatment (grade 5: every event).
    """
    ev = prepare_events(events, pd.Timestamp(cut)).copy()
    if not len(ev):
        return with_empty(ev, HOLD_COLUMNS)
    h = trial.holds
    active = ev["ongoing"] & ~ev["phase"].isin(OFF_PHASES)
    haem = is_haematological(ev["term_key"], trial)
    hfs = ev["term_key"].isin(term_keys(trial.capecitabine.rules.hfs_terms))
    grade = ev["grade"]
    counts = count_hold_events(ev, h)

    chemo = pd.Series("", index=ev.index, dtype=str)
    chemo = chemo.mask(active & ~haem & (grade >= h.chemo_hold_nonhaem_grade_min), "crt.chemo.nonhaem")
    chemo = chemo.mask(active & hfs & (grade >= h.chemo_hold_hfs_grade_min), "crt.chemo.hfs")
    chemo = chemo.mask(active & counts, "crt.chemo.counts")
    ev["chemo_hold_rule"] = chemo

    rt = pd.Series("", index=ev.index, dtype=str)
    severe = active & (grade >= h.rt_hold_grade_min)
    rt = rt.mask(severe & ev["soc_key"].isin(term_keys(h.rt_hold_socs)), "rt.hold.gi")
    for group, terms in h.rt_hold_term_groups.items():
        rt = rt.mask(severe & ev["term_key"].isin(term_keys(terms)), f"rt.hold.{group}")
    ev["rt_hold_rule"] = rt

    pi = pd.Series("", index=ev.index, dtype=str)
    pi = pi.mask((ev["phase"] != "pre-treatment") & ~haem & (grade == 4), "pi.grade4_nonhaem")
    pi = pi.mask(grade >= 5, "pi.grade5")
    ev["pi_rule"] = pi
    fired = (chemo != "") | (rt != "") | (pi != "")          # a label is read only where a rule fired
    ev["hold_label"] = event_label(ev[fired]).reindex(ev.index, fill_value="") if fired.any() else ""
    return ev


def hold_pairs(holds: pd.DataFrame, rule_column: str) -> dict[str, list[tuple[str, str]]]:
    """{subject: [(rule, event label)]} of the events a hold rule fired on."""
    fired = holds[holds[rule_column] != ""]
    out: dict[str, list[tuple[str, str]]] = {}
    for sid, rule, label in zip(*(fired[c].to_numpy(object) for c in ("subject_id", rule_column, "hold_label"))):
        out.setdefault(sid, []).append((rule, label))
    return out


def derive_event_flags(holds: pd.DataFrame) -> pd.DataFrame:
    """PI flags from the events (FLAG_COLUMNS): grade 4 non-haematological, grade 5."""
    pi = holds[holds["pi_rule"] != ""]
    flag_text = np.where(pi["pi_rule"] == "pi.grade5",
                         "grade 5 event: report to the committee within 24 hours",
                         "grade 4 non-haematological event: flag for the PI")
    return pd.DataFrame({"subject_id": pi["subject_id"], "rule": pi["pi_rule"],
                         "flag": pi["hold_label"] + ": " + pd.Series(flag_text, index=pi.index, dtype=str)},
                        columns=FLAG_COLUMNS)


def _busdays(start: pd.Timestamp, stop: pd.Timestamp) -> int:
    """Weekdays in [start, stop)."""
    if stop <= start:
        return 0
    return int(np.busday_count(start.date(), stop.date()))


def compute_rt_interruption_days(rt: list[dict], cut: pd.Timestamp) -> int | None:
    """Weekdays without RT between logged RT rows plus weekdays beyond delivered fractions (D18).

    ``rt``: the patient's RT rows (records sorted by start). None when neither is available.
    """
    if not (len(rt) > 1 or any(pd.notna(r["fractions"]) for r in rt)):
        return None
    ends = [cut if pd.isna(r["end_date"]) else min(r["end_date"], cut) for r in rt]
    days = sum(_busdays(prev_end + pd.Timedelta(days=1), nxt["start_date"]) for prev_end, nxt in zip(ends, rt[1:]))
    for r, end in zip(rt, ends):
        if pd.notna(r["fractions"]):
            days += max(0, _busdays(r["start_date"], end + pd.Timedelta(days=1)) - int(r["fractions"]))
    return days


def derive_rt_interruption(log: pd.DataFrame, cut: pd.Timestamp) -> dict[str, int | None]:
    """{subject: RT interruption in weekdays} for every subject with an RT row in the prepared log."""
    rt = log[log["treatment"] == RT]
    out: dict[str, int | None] = {}
    for row in rt.to_dict("records"):            # a few RT rows per patient, already sorted by start
        out.setdefault(row["subject_id"], []).append(row)
    return {sid: compute_rt_interruption_days(rows, cut) for sid, rows in out.items()}


def rt_interruption_flags(days: dict[str, int | None], trial: Trial) -> pd.DataFrame:
    """The PI flag for RT interrupted more than ``rt_interruption_flag_days`` weekdays in total."""
    limit = trial.holds.rt_interruption_flag_days
    rows = [{"subject_id": sid, "rule": "pi.rt_interruption",
             "flag": f"RT interrupted {n} weekdays in total (> {limit})"}
            for sid, n in days.items() if n is not None and n > limit]
    return pd.DataFrame(rows, columns=FLAG_COLUMNS)


def apply_chemo_holds(patient: PatientInputs, trial: Trial, rule_ids: list, reasons: list) -> bool:
    """Section 8 chemotherapy holds during chemoradiotherapy; appends rule ids and reasons."""
    rules = trial.capecitabine.rules
    for rule, label in patient.chemo_holds:
        rule_ids.append(rule)
        reasons.append(f"{label}: hold chemotherapy during chemoradiotherapy, resume at grade <= 1 [{rule}]")
    hits = count_checks(patient.lab, rules.anc_interrupt_below, rules.platelets_interrupt_below,
                        "crt.chemo.counts", "crt.chemo.counts")
    for rule, text in hits:
        rule_ids.append(rule)
        reasons.append(f"{text}: hold chemotherapy during chemoradiotherapy [{rule}]")
    return bool(len(patient.chemo_holds) or hits)


def advise_rt(patient: PatientInputs, trial: Trial) -> Advice:
    """The RT row: hold while an RT-hold event is ongoing or a count or liver test is past its limit."""
    h = trial.holds
    rule_ids = [rule for rule, _ in patient.rt_holds]
    reasons = [f"{label}: hold RT, resume at grade <= {h.rt_resume_grade_max} [{rule}]"
               for rule, label in patient.rt_holds]
    hits = count_checks(patient.lab, h.rt_hold_anc_below, h.rt_hold_platelets_below, "rt.hold.counts",
                        "rt.hold.counts")
    liver, notes = uln_checks(patient.lab, {"ALT": (h.rt_hold_transaminase_above_uln, "rt.hold.liver"),
                                            "AST": (h.rt_hold_transaminase_above_uln, "rt.hold.liver"),
                                            "BILI": (h.rt_hold_bilirubin_above_uln, "rt.hold.liver"),
                                            "ALP": (h.rt_hold_alp_ggt_above_uln, "rt.hold.liver"),
                                            "GGT": (h.rt_hold_alp_ggt_above_uln, "rt.hold.liver")})
    for rule, text in hits + liver:
        rule_ids.append(rule)
        reasons.append(f"{text} (grade >= 3): hold RT, resume at grade <= {h.rt_resume_grade_max} [{rule}]")
    if patient.rt_interruption_days is None:
        notes.append("RT interruption not computed: the treatment log needs several RT rows or fractions")
    else:
        notes.append(f"RT interrupted {patient.rt_interruption_days} weekday(s) so far")
    action = "interrupt" if rule_ids else "continue"
    return Advice(subject_id=patient.subject_id, agent=RT, phase="concurrent", action=action,
                  reasons="; ".join(dict.fromkeys(reasons)),
                  rule="; ".join(dict.fromkeys(rule_ids)) or "rt.hold.none",
                  notes="; ".join(dict.fromkeys(notes)))
