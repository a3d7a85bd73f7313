"""Dose advice: formulas, capecitabine and S-1 label rules, hold rules during chemoradiotherapy.

The rules are data in ``trial.toml`` ([formulas], [capecitabine], [s1], [holds]); this module only
applies them. Every hint names the rule that produced it (``rule`` column, and ``[rule]`` after each
reason). The dashboard advises; the treating physician decides.

Public API
----------
compute_bsa(height_cm, weight_kg, method="mosteller")            -> float | ndarray | Series
compute_crcl(age, weight_kg, scr, scr_unit="mg/dL", sex=None)     -> float | ndarray | Series
compute_child_pugh(bilirubin_umol_l, albumin_g_l, inr, ascites="none", encephalopathy="none",
                   cutoffs=None)                                  -> (points, "A5")
round_to_tablets(dose_mg, tablet_sizes=(150, 500))                -> (rounded_mg, {500: n, 150: m})
format_tablets(counts)                                            -> "2 × 500 mg + 1 × 150 mg"
derive_capecitabine_steps / derive_s1_steps / derive_hold_steps   -> events with rule columns added
advise_patient(patient, events, labs, treatment, *, trial, cut, agent, phase, on_rt) -> list[Advice]
compute_dose_advice(patients, events, labs, treatment, trial, cut) -> DoseAdviceResult
compute_s1_starting_dose(bsa, trial)                               -> mg per intake

Decisions on points the spec leaves open (each is also stated where it is applied)
---------------------------------------------------------------------------------
* Boundaries. Child-Pugh: bilirubin < 34 -> 1, 34 <= b <= 51 -> 2, > 51 -> 3; albumin > 35 -> 1,
  28 <= a <= 35 -> 2, < 28 -> 3; INR < 1.7 -> 1, 1.7 <= i <= 2.3 -> 2, > 2.3 -> 3 (the middle band
  holds both its end points). Capecitabine CrCl: >= 51 no change, 30 <= CrCl < 51 -> 75 %, < 30 not
  advised (a CrCl of 50.6 is "moderate": CrCl is not rounded before comparing). S-1 CrCl: >= 60
  standard, 40 <= CrCl < 60 one level lower, 30 <= CrCl < 40 two levels lower, < 30 do not give.
  S-1 BSA bands use the unrounded BSA: 1.249 -> 40 mg, 1.25 -> 50 mg, 1.499 -> 50 mg, 1.5 -> 60 mg.
* Appearances (capecitabine table) are counted per CTCAE term over the course, in onset order,
  among events of grade >= 2 (grade 1 never changes the dose and is not an "appearance"); the grade
  of the event picks the row. An appearance beyond the row (a 5th grade-2, a 4th grade-3) takes the
  row's last column (stop). Grade 5 uses the grade-4 row.
* Grade 4, 1st appearance: the advice is "stop"; the physician's alternative (interrupt, resume at
  50 %) is shown in ``alternative``. When the treatment log shows a capecitabine cycle started after
  the event's onset, the alternative was evidently taken and the event implies 50 % (rule suffix
  ``.alt``).
* Renal reduction multiplies the toxicity level ("75 % of the planned dose"): level 75 % and CrCl
  40 -> 56.25 % of the full BSA dose. The level carries from the concurrent to the maintenance phase
  (percent of each phase's own starting dose).
* Ongoing = end_date missing or after the cut. Events whose worst grade was reached earlier may be
  lower now: the hint says "worst grade" and the physician checks the current grade.
* S-1: "a third grade 3" counts non-haematological grade-3 events of any term for the patient
  (each one steps the level down; 60 -> 50 -> 40 -> stop). The level below 40 mg is "stop", as in
  the trial file, so a patient starting at 40 mg with CrCl 30-59 gets "do not give": a pharmacist
  should confirm. Haematological events for S-1 interrupt (ongoing grade >= 3, platelets >= 2) but
  do not change the level.
* Events attributed only to RT (``attributed_to`` == "RT", when that column exists) do not count
  for the chemotherapy tables; they still count for the hold rules and PI flags.
* Labs: blood counts and liver tests use the latest value of each test in the current cycle
  (from the current chemotherapy cycle's start, or the current RT course's, to the cut; the last
  ``cycle_length_days`` when neither is known). CrCl uses the latest CREAT lab up to the cut, else
  the patient table's serum creatinine; a creatinine without a unit is not guessed.
* RT interruption: weekdays without RT between logged RT rows, plus weekdays inside a row beyond
  its delivered ``fractions`` (public holidays are not known). Without either it is not computed
  and the RT row says so.
* Unknown phase: a cycle without one takes it from RT timing (derive.derive_treatment_phase); with
  no treatment log the latest event's phase is used, else the concurrent dose (the lower) is shown,
  with a note.
* On treatment at the cut: chemotherapy when its latest cycle started on or before the cut, the
  patient has no off-treatment date on or before the cut, the planned cycles are not all over, and
  the cut is within the cycle (or its end) plus ``post_treatment_window_days``; RT when a course
  started on or before the cut and has not ended before it.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from toxdb.clinical.formulas import compute_bsa, compute_crcl
from toxdb.clinical.treatment import derive_treatment_phase
from toxdb.dosing.tablets import format_tablets, round_to_tablets
from toxdb.trial import Trial

__all__ = [
    "Advice",
    "DoseAdviceResult",
    "advise_patient",
    "compute_dose_advice",
    "compute_s1_starting_dose",
    "derive_capecitabine_steps",
    "derive_hold_steps",
    "derive_s1_steps",
]

CAPECITABINE = "capecitabine"
S1 = "S-1"
RT = "RT"
ACTIONS = ("continue", "interrupt", "reduce", "stop")
TABLE_COLUMNS = [
    "subject_id", "agent", "phase", "action", "dose_percent", "dose_level_mg",
    "dose_mg_per_intake_calculated", "dose_mg_per_intake", "tablets", "bsa", "crcl", "crcl_effect",
    "reasons", "rule", "resume_at_percent", "alternative", "pi_flags", "notes",
]
FLAG_COLUMNS = ["subject_id", "rule", "flag"]
_OFF_PHASES = ("pre-treatment", "post-treatment")


# --------------------------------------------------------------------------------------------
# Input preparation (vectorised, whole trial at once)
# --------------------------------------------------------------------------------------------
def _key(s: pd.Series) -> pd.Series:
    return s.astype("string").fillna("").str.strip().str.lower()


def _keys(terms: Iterable[str]) -> set[str]:
    return {str(t).strip().lower() for t in terms}


def _dates(s) -> pd.Series:
    return pd.to_datetime(s, errors="coerce").astype("datetime64[ns]")


def _map_dates(subjects: pd.Series, mapping) -> pd.Series:
    """subject_id -> date lookup (mapping: dict or Series); unknown subjects give NaT."""
    mapping = dict(mapping.items()) if isinstance(mapping, pd.Series) else dict(mapping)
    return _dates(subjects.map(mapping)) if mapping else pd.Series(pd.NaT, index=subjects.index,
                                                                   dtype="datetime64[ns]")


def _norm_phase(s: pd.Series) -> pd.Series:
    return _key(s).str.replace(r"[\s_]+", "-", regex=True)


def _col(df: pd.DataFrame, *names, default=None) -> pd.Series:
    for n in names:
        if n in df.columns:
            return df[n]
    return pd.Series(default, index=df.index, dtype=object)


_EVENT_COLS = ["subject_id", "term", "term_key", "grade", "onset_date", "end_date", "phase", "soc_key",
               "rt_only", "ongoing"]


def _prepare_events(events: pd.DataFrame | None, cut: pd.Timestamp) -> pd.DataFrame:
    """Canonical event frame: onset on or before the cut, one row per (merged) event."""
    if events is None or len(events) == 0:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in _EVENT_COLS}).astype(
            {"grade": float, "onset_date": "datetime64[ns]", "end_date": "datetime64[ns]",
             "rt_only": bool, "ongoing": bool})
    if "_prepared" in events.attrs:
        return events
    ev = pd.DataFrame({
        "subject_id": events["subject_id"].astype(str),
        "term": events["term"].astype(str).str.strip(),
        "grade": pd.to_numeric(_col(events, "worst_grade", "grade"), errors="coerce").astype(float),
        "onset_date": _dates(events["onset_date"]),
        "end_date": _dates(_col(events, "end_date")),
        "phase": _norm_phase(_col(events, "phase")),
        "soc_key": _key(_col(events, "soc")),
        "rt_only": _key(_col(events, "attributed_to")).isin({"rt", "radiotherapy"}),
    })
    ev["term_key"] = ev["term"].str.lower()
    ev = ev[ev["grade"].notna() & ev["onset_date"].notna() & (ev["onset_date"] <= cut)]
    ev = ev.reset_index(drop=True)
    ev["ongoing"] = ev["end_date"].isna() | (ev["end_date"] > cut)
    ev = ev[_EVENT_COLS]
    ev.attrs["_prepared"] = True
    return ev


def _in_course(ev: pd.DataFrame, course_start: Mapping | pd.Series | None) -> pd.Series:
    """On treatment (not pre/post-treatment) and, when the course start is known, on or after it."""
    mask = ~ev["phase"].isin(_OFF_PHASES)
    if course_start is not None and len(ev):
        start = _map_dates(ev["subject_id"], course_start)
        mask &= start.isna() | (ev["onset_date"] >= start)
    return mask


def _with_empty(ev: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
    """An empty event frame with the derived columns a derive_* function would add."""
    return ev.assign(**{c: pd.Series(dtype=t) for c, t in columns.items()})


_CAPE_COLUMNS = {"appearance": "float64", "cape_action": "str", "cape_percent": "float64", "cape_stop": "bool",
                 "cape_alt_percent": "float64", "cape_alt_text": "object", "cape_interrupt": "bool",
                 "cape_hfs": "bool", "cape_rule": "str", "cape_reason": "str", "cape_relevant": "bool"}
_S1_COLUMNS = {"s1_g3_seq": "float64", "s1_reduce": "bool", "s1_stop": "bool", "s1_interrupt": "bool",
               "s1_rule": "str", "s1_reason": "str", "s1_relevant": "bool"}
_HOLD_COLUMNS = {"chemo_hold_rule": "str", "rt_hold_rule": "str", "pi_rule": "str", "hold_label": "str"}


def _ordinal(n: pd.Series) -> pd.Series:
    n = n.fillna(0).astype(int)
    last, teen = n % 10, (n % 100 >= 11) & (n % 100 <= 13)
    suffix = np.where(teen, "th", np.select([last == 1, last == 2, last == 3], ["st", "nd", "rd"], "th"))
    return n.astype(str) + pd.Series(suffix, index=n.index, dtype=str)


def _event_label(ev: pd.DataFrame) -> pd.Series:
    """'Diarrhea G3 (onset 2025-07-01, ongoing)' for each row."""
    status = np.where(ev["ongoing"], "ongoing", "resolved " + ev["end_date"].dt.strftime("%Y-%m-%d").fillna(""))
    return (ev["term"] + " G" + ev["grade"].astype(int).astype(str) + " (onset "
            + ev["onset_date"].dt.strftime("%Y-%m-%d") + ", " + pd.Series(status, index=ev.index) + ")")


def _pct(p: float) -> str:
    return f"{p:g} %"


# --------------------------------------------------------------------------------------------
# Per-event rule derivation (vectorised over the whole trial)
# --------------------------------------------------------------------------------------------
def _cape_lookup(trial: Trial) -> pd.DataFrame:
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


def derive_capecitabine_steps(events: pd.DataFrame, trial: Trial, cut, course_start=None,
                              last_cycle_start=None) -> pd.DataFrame:
    """Add the capecitabine label-table step of each event (columns ``cape_*``).

    ``course_start`` / ``last_cycle_start`` map subject_id -> first / latest capecitabine cycle
    start (optional). Columns added: appearance (per CTCAE term, grade >= 2, onset order),
    cape_action, cape_percent (implied level, 100 when none), cape_stop, cape_interrupt, cape_hfs,
    cape_alt_percent (physician's alternative still open), cape_rule, cape_reason, cape_relevant.
    """
    ev = _prepare_events(events, pd.Timestamp(cut)).copy()
    if not len(ev):
        return _with_empty(ev, _CAPE_COLUMNS)
    rules = trial.capecitabine.rules
    course = _in_course(ev, course_start)
    low = ev["term_key"].isin(_keys(rules.low_risk_terms))
    hfs = ev["term_key"].isin(_keys(rules.hfs_terms))
    counted = course & ~low & ~ev["rt_only"] & (ev["grade"] >= 2)

    ordered = ev[counted].sort_values(["subject_id", "term_key", "onset_date", "grade"], kind="stable")
    ev["appearance"] = (ordered.groupby(["subject_id", "term_key"], sort=False).cumcount() + 1).reindex(ev.index)
    g = ev["grade"].clip(1, 4).astype(float)
    row_len = {float(k): float(len(trial.capecitabine.toxicity_table[f"grade{k}"])) for k in (1, 2, 3, 4)}
    n = np.minimum(ev["appearance"], g.map(row_len))
    step = pd.DataFrame({"g": g, "n": n}).merge(_cape_lookup(trial), how="left", on=["g", "n"])
    step.index = ev.index

    if last_cycle_start is not None and len(ev):
        later = _map_dates(ev["subject_id"], last_cycle_start)
        resumed = later.notna() & (later > ev["onset_date"])
    else:
        resumed = pd.Series(False, index=ev.index)
    alt_taken = counted & (step["step_action"] == "stop") & step["alt_percent"].notna() & resumed
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
    rule = pd.Series("", index=ev.index, dtype=str).mask(counted, table_rule)
    rule = rule.mask(ev["cape_hfs"], (rule + "; cape.hfs").str.lstrip("; "))
    rule = rule.mask(course & low & (ev["grade"] >= 2), "cape.low_risk")
    ev["cape_rule"] = rule

    what = pd.Series("", index=ev.index, dtype=str)
    resume = "interrupt until grade 0-1, resume at " + ev["cape_percent"].map(_pct)
    what = what.mask(counted & ~stop & ~alt_taken, resume)
    what = what.mask(alt_taken, "physician's alternative taken (treatment continued): resume at "
                     + ev["cape_percent"].map(_pct))
    what = what.mask(stop, "stop for good")
    what = what.mask(stop & step["alt_text"].notna(), "stop for good, or " + step["alt_text"].fillna(""))
    what = what.mask(ev["cape_hfs"], what + ", and hand-foot syndrome G2-3: interrupt until grade <= 1")
    what = what.mask(course & low & (ev["grade"] >= 2), "continue (unlikely to become serious)")
    appearance_text = pd.Series("", index=ev.index, dtype=str).mask(
        counted, ", " + _ordinal(ev["appearance"]) + " appearance")
    label = _event_label(ev)
    ev["cape_reason"] = label + appearance_text + ": " + what + " [" + rule + "]"
    ev["cape_relevant"] = (stop | ev["cape_interrupt"] | ev["cape_hfs"] | (ev["cape_percent"] < 100)
                           | (course & low & (ev["grade"] >= 2) & ev["ongoing"]))
    return ev


def derive_s1_steps(events: pd.DataFrame, trial: Trial, cut, course_start=None) -> pd.DataFrame:
    """Add the S-1 step of each event (columns ``s1_*``).

    Non-haematological: grade 2 ongoing -> interrupt, same level; each grade 3 -> one level lower
    (interrupt while ongoing); the ``stop_after_grade3_count``-th grade 3 of the patient -> stop;
    grade >= 4 -> stop (when ``stop_on_grade4``). Haematological events ongoing at grade >= 3
    (platelets >= 2, i.e. < 75 ×10⁹/L) -> interrupt, same level. Low-risk terms -> continue.
    """
    ev = _prepare_events(events, pd.Timestamp(cut)).copy()
    if not len(ev):
        return _with_empty(ev, _S1_COLUMNS)
    s1 = trial.s1
    course = _in_course(ev, course_start)
    low = ev["term_key"].isin(_keys(s1.low_risk_terms))
    haem = ev["term_key"].isin(_keys(trial.holds.haematological_terms))
    nonhaem = course & ~low & ~haem & ~ev["rt_only"]
    grade = ev["grade"]
    g3 = nonhaem & ((grade == 3) | ((grade >= 4) & (not s1.stop_on_grade4)))
    seq = (ev[g3].sort_values(["subject_id", "onset_date", "grade"], kind="stable")
           .groupby("subject_id").cumcount() + 1).reindex(ev.index)
    stop3 = g3 & (seq >= s1.stop_after_grade3_count)
    reduce_ = g3 & ~stop3
    stop4 = nonhaem & (grade >= 4) & s1.stop_on_grade4
    int2 = nonhaem & (grade == 2) & ev["ongoing"]
    int3 = reduce_ & ev["ongoing"]
    platelets = ev["term_key"] == "platelet count decreased"
    haem_int = course & haem & ev["ongoing"] & ((grade >= 3) | (platelets & (grade >= 2)))

    ev["s1_g3_seq"] = seq
    ev["s1_reduce"] = reduce_
    ev["s1_stop"] = stop3 | stop4
    ev["s1_interrupt"] = (int2 | int3 | haem_int) & ~ev["s1_stop"]
    rule = pd.Series("", index=ev.index, dtype=str)
    rule = rule.mask(int2, "s1.nonhaem.g2").mask(reduce_, "s1.nonhaem.g3").mask(stop3, "s1.nonhaem.g3.stop")
    rule = rule.mask(stop4, "s1.nonhaem.g4").mask(haem_int, "s1.counts.event")
    rule = rule.mask(course & low & (grade >= 2), "s1.low_risk")
    ev["s1_rule"] = rule
    what = pd.Series("", index=ev.index, dtype=str)
    what = what.mask(int2, "interrupt until grade <= 1, resume at the same level")
    what = what.mask(reduce_, _ordinal(seq.where(reduce_)) + " grade 3: resume one level lower"
                     + pd.Series(np.where(int3, " (interrupt until grade <= 1)", ""), index=ev.index))
    what = what.mask(stop3, _ordinal(seq.where(stop3)) + " grade 3: stop")
    what = what.mask(stop4, "grade >= 4: stop")
    what = what.mask(haem_int, "blood counts: interrupt, resume at the same level")
    what = what.mask(course & low & (grade >= 2), "continue (unlikely to become serious)")
    label = _event_label(ev)
    ev["s1_reason"] = label + ": " + what + " [" + rule + "]"
    ev["s1_relevant"] = ev["s1_stop"] | ev["s1_interrupt"] | reduce_ | (course & low & (grade >= 2) & ev["ongoing"])
    return ev


def derive_hold_steps(events: pd.DataFrame, trial: Trial, cut) -> pd.DataFrame:
    """Add section-8 hold rules and PI flags of each event.

    Columns: chemo_hold_rule (crt.chemo.nonhaem / crt.chemo.hfs / crt.chemo.counts), rt_hold_rule
    (rt.hold.gi / rt.hold.<group>), pi_rule (pi.grade4_nonhaem / pi.grade5) and hold_reason.
    Holds use ongoing events that are not pre- or post-treatment; PI flags use every event after
    the first treatment (grade 5: every event).
    """
    ev = _prepare_events(events, pd.Timestamp(cut)).copy()
    if not len(ev):
        return _with_empty(ev, _HOLD_COLUMNS)
    h = trial.holds
    active = ev["ongoing"] & ~ev["phase"].isin(_OFF_PHASES)
    haem = ev["term_key"].isin(_keys(h.haematological_terms))
    hfs = ev["term_key"].isin(_keys(trial.capecitabine.rules.hfs_terms))
    grade = ev["grade"]
    counts = ((ev["term_key"] == "neutrophil count decreased") & (grade >= 3)) | (
        (ev["term_key"] == "platelet count decreased") & (grade >= 2))

    chemo = pd.Series("", index=ev.index, dtype=str)
    chemo = chemo.mask(active & ~haem & (grade >= h.chemo_hold_nonhaem_grade_min), "crt.chemo.nonhaem")
    chemo = chemo.mask(active & hfs & (grade >= h.chemo_hold_hfs_grade_min), "crt.chemo.hfs")
    chemo = chemo.mask(active & counts, "crt.chemo.counts")
    ev["chemo_hold_rule"] = chemo

    rt = pd.Series("", index=ev.index, dtype=str)
    severe = active & (grade >= h.rt_hold_grade_min)
    rt = rt.mask(severe & ev["soc_key"].isin(_keys(h.rt_hold_socs)), "rt.hold.gi")
    for group, terms in h.rt_hold_term_groups.items():
        rt = rt.mask(severe & ev["term_key"].isin(_keys(terms)), f"rt.hold.{group}")
    ev["rt_hold_rule"] = rt

    pi = pd.Series("", index=ev.index, dtype=str)
    pi = pi.mask((ev["phase"] != "pre-treatment") & ~haem & (grade == 4), "pi.grade4_nonhaem")
    pi = pi.mask(grade >= 5, "pi.grade5")
    ev["pi_rule"] = pi
    ev["hold_label"] = _event_label(ev)
    return ev


# --------------------------------------------------------------------------------------------
# Per-patient aggregation of the derived events (vectorised groupby)
# --------------------------------------------------------------------------------------------
def _join_unique(values: Iterable[str]) -> str:
    seen = dict.fromkeys(p for v in values for p in str(v).split("; ") if p)
    return "; ".join(seen)


def _agg_list(ev: pd.DataFrame, mask: pd.Series, column: str, split: bool = False) -> dict[str, list[str]]:
    """{subject: [values in order, unique]}; with ``split`` each value may hold several "; "-ids."""
    sub = ev[mask]
    if not len(sub):
        return {}

    def unique(values) -> list[str]:
        parts = (p for v in values for p in (str(v).split("; ") if split else [str(v)]) if p)
        return list(dict.fromkeys(parts))

    return sub.groupby("subject_id")[column].agg(unique).to_dict()


def _pairs(ev: pd.DataFrame, rule_column: str) -> dict[str, list[tuple[str, str]]]:
    out: dict[str, list[tuple[str, str]]] = {}
    for sid, rule, label in zip(ev["subject_id"], ev[rule_column], ev["hold_label"]):
        out.setdefault(sid, []).append((rule, label))
    return out


@dataclass
class _EventSummary:
    cape: pd.DataFrame
    s1: pd.DataFrame
    chemo_holds: dict[str, list[tuple[str, str]]]     # subject -> [(rule, event label)]
    rt_holds: dict[str, list[tuple[str, str]]]
    cape_reasons: dict[str, list[str]]
    cape_rules: dict[str, list[str]]
    s1_reasons: dict[str, list[str]]
    s1_rules: dict[str, list[str]]


def _summarise_events(ev: pd.DataFrame, trial: Trial, cut: pd.Timestamp, cape_start, cape_last,
                      s1_start) -> tuple[_EventSummary, pd.DataFrame]:
    cape = derive_capecitabine_steps(ev, trial, cut, cape_start, cape_last)
    s1 = derive_s1_steps(ev, trial, cut, s1_start)
    holds = derive_hold_steps(ev, trial, cut)
    by = cape.groupby("subject_id")
    cape_agg = pd.DataFrame({
        "level": by["cape_percent"].min(),
        "stop": by["cape_stop"].any(),
        "stop_without_alt": (cape["cape_stop"] & cape["cape_alt_percent"].isna()).groupby(cape["subject_id"]).any(),
        "alt_percent": by["cape_alt_percent"].min(),
        "alt_text": by["cape_alt_text"].first(),
        "interrupt": (cape["cape_interrupt"] | cape["cape_hfs"]).groupby(cape["subject_id"]).any(),
    })
    by = s1.groupby("subject_id")
    s1_agg = pd.DataFrame({
        "reductions": by["s1_reduce"].sum(), "stop": by["s1_stop"].any(), "interrupt": by["s1_interrupt"].any(),
    })
    chemo_holds = holds[holds["chemo_hold_rule"] != ""]
    rt_holds = holds[holds["rt_hold_rule"] != ""]
    summary = _EventSummary(
        cape=cape_agg, s1=s1_agg,
        chemo_holds=_pairs(chemo_holds, "chemo_hold_rule"), rt_holds=_pairs(rt_holds, "rt_hold_rule"),
        cape_reasons=_agg_list(cape, cape["cape_relevant"], "cape_reason"),
        cape_rules=_agg_list(cape, cape["cape_relevant"], "cape_rule", split=True),
        s1_reasons=_agg_list(s1, s1["s1_relevant"], "s1_reason"),
        s1_rules=_agg_list(s1, s1["s1_relevant"], "s1_rule", split=True),
    )
    pi = holds[holds["pi_rule"] != ""]
    flag_text = np.where(pi["pi_rule"] == "pi.grade5",
                         "grade 5 event: report to the committee within 24 hours",
                         "grade 4 non-haematological event: flag for the PI")
    flags = pd.DataFrame({"subject_id": pi["subject_id"], "rule": pi["pi_rule"],
                          "flag": pi["hold_label"] + ": " + pd.Series(flag_text, index=pi.index, dtype=str)})
    return summary, flags


# --------------------------------------------------------------------------------------------
# Treatment status at the cut (per patient; a handful of rows each)
# --------------------------------------------------------------------------------------------
def _norm_treatment(s: pd.Series) -> pd.Series:
    k = _key(s).str.replace(r"[\s_]+", "", regex=True)
    out = pd.Series(pd.NA, index=s.index, dtype="string")
    out = out.mask(k.isin({"rt", "radiotherapy", "radiation", "imrt", "vmat", "imrt/vmat"}), RT)
    out = out.mask(k.isin({"capecitabine", "xeloda", "cape"}), CAPECITABINE)
    out = out.mask(k.isin({"s-1", "s1", "ts-1", "ts1", "teysuno"}) | k.str.startswith("tegafur"), S1)
    return out


def _norm_agent(value) -> str | None:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    out = _norm_treatment(pd.Series([value])).iloc[0]
    return None if pd.isna(out) or out == RT else str(out)


def _prepare_treatment(treatment: pd.DataFrame | None, cut: pd.Timestamp) -> pd.DataFrame:
    cols = ["subject_id", "treatment", "phase", "cycle", "start_date", "end_date", "fractions"]
    if treatment is None or len(treatment) == 0:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols}).astype(
            {"start_date": "datetime64[ns]", "end_date": "datetime64[ns]"})
    tx = pd.DataFrame({
        "subject_id": treatment["subject_id"].astype(str),
        "treatment": _norm_treatment(treatment["treatment"]),
        "phase": _norm_phase(_col(treatment, "phase")),
        "cycle": pd.to_numeric(_col(treatment, "cycle"), errors="coerce"),
        "start_date": _dates(treatment["start_date"]),
        "end_date": _dates(_col(treatment, "end_date")),
        "fractions": pd.to_numeric(_col(treatment, "fractions"), errors="coerce"),
    })
    tx = tx[tx["treatment"].notna() & tx["start_date"].notna() & (tx["start_date"] <= cut)]
    given = tx["phase"].isin(["concurrent", "maintenance"])
    # a missing phase comes from RT timing, the project's one rule for it (derive.py)
    tx = derive_treatment_phase(tx.assign(phase=tx["phase"].where(given))).assign(
        phase=lambda d: d["phase_derived"], phase_given=given)
    return tx.sort_values(["subject_id", "start_date"], kind="stable").reset_index(drop=True)


@dataclass
class _Status:
    on_chemo: bool = False
    agent: str | None = None
    phase: str | None = None
    cycle_start: pd.Timestamp | None = None
    on_rt: bool = False
    rt_start: pd.Timestamp | None = None
    rt_interruption_days: int | None = None
    notes: list[str] = field(default_factory=list)


def _busdays(start: pd.Timestamp, stop: pd.Timestamp) -> int:
    """Weekdays in [start, stop)."""
    if stop <= start:
        return 0
    return int(np.busday_count(start.date(), stop.date()))


def _rt_interruption(rt: list[dict], cut: pd.Timestamp) -> int | None:
    """Weekdays without RT between logged RT rows plus weekdays beyond delivered fractions.

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


def _status(rows: list[dict], patient: Mapping, trial: Trial, cut: pd.Timestamp, log_empty: bool) -> _Status:
    """Where the patient is at the cut, from their treatment rows (records sorted by start)."""
    st = _Status()
    off = patient.get("off_treatment_on")
    off = pd.Timestamp(off) if off is not None and pd.notna(off) else None
    off_now = off is not None and off <= cut
    chemo = [r for r in rows if r["treatment"] != RT]
    rt = [r for r in rows if r["treatment"] == RT]
    st.rt_interruption_days = _rt_interruption(rt, cut) if rt else None

    if rt:
        st.rt_start = rt[-1]["start_date"]
        st.on_rt = not off_now and (pd.isna(rt[-1]["end_date"]) or rt[-1]["end_date"] >= cut)

    if chemo:
        last = chemo[-1]
        st.agent, st.cycle_start = str(last["treatment"]), last["start_date"]
        cycle_over = last["start_date"] + pd.Timedelta(days=trial.phases.cycle_length_days - 1)
        window_end = cut if pd.isna(last["end_date"]) else max(last["end_date"], cycle_over)
        planned = trial.phases.concurrent_cycles + trial.phases.maintenance_cycles
        n_cycles = len({(r["treatment"], r["start_date"]) for r in chemo})
        finished = n_cycles >= planned and cut > window_end
        stale = cut > window_end + pd.Timedelta(days=trial.phases.post_treatment_window_days)
        st.on_chemo = not (off_now or finished or stale)
        if stale and not (off_now or finished):
            st.notes.append(f"no chemotherapy cycle since {last['start_date']:%Y-%m-%d}: shown as off "
                            "treatment (record the next cycle or an off-treatment date)")
        st.phase = str(last["phase"])
        if not last["phase_given"]:
            st.notes.append(f"phase derived from RT timing in the treatment log ({st.phase})")
    elif log_empty:
        st.agent = _norm_agent(patient.get("agent"))
        st.on_chemo = st.agent is not None and not off_now
        if st.on_chemo:
            st.notes.append("no treatment log: on-treatment status and agent from the patient table")
    return st


# --------------------------------------------------------------------------------------------
# Labs
# --------------------------------------------------------------------------------------------
_LAB_SYNONYMS = {"NEUT": "ANC", "NEUTROPHILS": "ANC", "PLAT": "PLT", "PLATELETS": "PLT", "TBIL": "BILI",
                 "BILIRUBIN": "BILI", "CREA": "CREAT", "SGPT": "ALT", "SGOT": "AST"}


def _prepare_labs(labs: pd.DataFrame | None, cut: pd.Timestamp) -> pd.DataFrame:
    cols = ["subject_id", "collected_on", "test_code", "si_value", "uln"]
    if labs is None or len(labs) == 0:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols}).astype(
            {"collected_on": "datetime64[ns]", "si_value": float, "uln": float})
    code = _col(labs, "test_code", "test").astype("string").str.strip().str.upper()
    out = pd.DataFrame({
        "subject_id": labs["subject_id"].astype(str),
        "collected_on": _dates(labs["collected_on"]),
        "test_code": code.replace(_LAB_SYNONYMS),
        "si_value": pd.to_numeric(_col(labs, "si_value", "value"), errors="coerce").astype(float),
        "uln": pd.to_numeric(_col(labs, "uln"), errors="coerce").astype(float),
    })
    out = out[out["collected_on"].notna() & out["si_value"].notna() & (out["collected_on"] <= cut)]
    return out.sort_values(["subject_id", "test_code", "collected_on"], kind="stable")


def _latest_labs(labs: pd.DataFrame, window_start: Mapping[str, pd.Timestamp]) -> dict[str, dict[str, tuple]]:
    """{subject: {test: (value, uln, date)}}: the latest value of each test from the window start."""
    if not len(labs) or not window_start:
        return {}
    start = _map_dates(labs["subject_id"], window_start)
    inside = labs[start.notna() & (labs["collected_on"] >= start)]
    last = inside.groupby(["subject_id", "test_code"], sort=False).tail(1)
    out: dict[str, dict[str, tuple]] = {}
    for sid, test, value, uln, when in zip(last["subject_id"], last["test_code"], last["si_value"],
                                           last["uln"], last["collected_on"]):
        out.setdefault(sid, {})[test] = (value, uln, when)
    return out


def _lab_text(test: str, value: float, when: pd.Timestamp, limit: str) -> str:
    return f"{test} {value:g} on {when:%Y-%m-%d} {limit}"


def _count_checks(lab: Mapping[str, tuple], anc_below: float, plt_below: float, rule_anc: str,
                  rule_plt: str) -> list[tuple[str, str]]:
    hits = []
    if "ANC" in lab and lab["ANC"][0] < anc_below:
        hits.append((rule_anc, _lab_text("ANC", lab["ANC"][0], lab["ANC"][2], f"< {anc_below:g} ×10⁹/L")))
    if "PLT" in lab and lab["PLT"][0] < plt_below:
        hits.append((rule_plt, _lab_text("platelets", lab["PLT"][0], lab["PLT"][2], f"< {plt_below:g} ×10⁹/L")))
    return hits


def _uln_checks(lab: Mapping[str, tuple], limits: Mapping[str, tuple[float, str]]) -> tuple[list, list]:
    """(hits, notes) for tests above a multiple of their ULN; a missing ULN is noted, not guessed."""
    hits, notes = [], []
    for test, (times, rule) in limits.items():
        if test not in lab:
            continue
        value, uln, when = lab[test]
        if pd.isna(uln) or uln <= 0:
            notes.append(f"{test} on {when:%Y-%m-%d} has no ULN: not checked")
        elif value > times * uln:
            hits.append((rule, _lab_text(test, value, when, f"> {times:g} × ULN ({times * uln:g})")))
    return hits, notes


# --------------------------------------------------------------------------------------------
# Advice objects
# --------------------------------------------------------------------------------------------
@dataclass
class Advice:
    """One agent's advice for one patient at the cut (one row of DoseAdviceResult.table)."""

    subject_id: str
    agent: str
    phase: str | None = None
    action: str = "continue"
    dose_percent: float = float("nan")
    dose_level_mg: float = float("nan")
    dose_mg_per_intake_calculated: float = float("nan")
    dose_mg_per_intake: float = float("nan")
    tablets: str = ""
    bsa: float = float("nan")
    crcl: float = float("nan")
    crcl_effect: str = ""
    reasons: str = ""
    rule: str = ""
    resume_at_percent: float = float("nan")
    alternative: str = ""
    pi_flags: str = ""
    notes: str = ""
    tablet_counts: dict[int, int] = field(default_factory=dict)

    def as_row(self) -> dict[str, Any]:
        row = asdict(self)
        row.pop("tablet_counts")
        return row


@dataclass
class DoseAdviceResult:
    """``table``: one row per patient and agent; ``summary``: rows by action (per agent and total);
    ``flags``: PI flags (subject_id, rule, flag) for every patient, on treatment or not."""

    table: pd.DataFrame
    summary: pd.DataFrame
    flags: pd.DataFrame
    cut: dt.date


def _patient_scalars(patient: Mapping, lab: Mapping[str, tuple], trial: Trial, cut: pd.Timestamp):
    """(bsa, crcl, crcl source note)."""
    bsa = compute_bsa(patient.get("height_cm"), patient.get("weight_kg"), trial.formulas.bsa)
    age = pd.to_numeric(pd.Series([patient.get("age")]), errors="coerce").iloc[0]
    if pd.isna(age) and patient.get("birth_date") is not None:
        born = _dates(pd.Series([patient.get("birth_date")])).iloc[0]
        if pd.notna(born):
            age = cut.year - born.year - ((cut.month, cut.day) < (born.month, born.day))
    if "CREAT" in lab:
        scr, unit = lab["CREAT"][0], "umol/L"
        source = f"CrCl from creatinine {scr:g} µmol/L on {lab['CREAT'][2]:%Y-%m-%d}"
    else:
        scr, unit = patient.get("serum_creatinine"), patient.get("serum_creatinine_unit")
        source = "CrCl from the patient table's serum creatinine"
    sex = patient.get("sex")
    crcl = compute_crcl(age, patient.get("weight_kg"), scr, unit, sex="" if sex is None else sex)
    if pd.isna(crcl):
        missing = [n for n, v in (("age", age), ("weight", patient.get("weight_kg")), ("creatinine", scr),
                                  ("creatinine unit", unit), ("sex", sex)) if v is None or pd.isna(v)]
        source = "CrCl unknown" + (f" (missing {', '.join(missing)})" if missing else " (unit or sex not understood)")
    return bsa, crcl, source


def _advise_capecitabine(sid, patient_phase, bsa, crcl, crcl_source, lab, summary: _EventSummary, trial: Trial,
                         status_notes: list[str]) -> Advice:
    cfg, rules = trial.capecitabine, trial.capecitabine.rules
    agg = summary.cape.loc[sid] if sid in summary.cape.index else None
    level = float(agg["level"]) if agg is not None else 100.0
    stop = bool(agg["stop"]) if agg is not None else False
    interrupt = bool(agg["interrupt"]) if agg is not None else False
    reasons = list(summary.cape_reasons.get(sid, []))
    rule_ids = ["cape.dose", *summary.cape_rules.get(sid, [])]
    notes = list(status_notes)

    hits = _count_checks(lab, rules.anc_interrupt_below, rules.platelets_interrupt_below, "cape.anc", "cape.plt")
    liver, liver_notes = _uln_checks(lab, {"BILI": (rules.bilirubin_interrupt_above_uln, "cape.liver.bili"),
                                           "ALT": (rules.transaminase_interrupt_above_uln, "cape.liver.alt"),
                                           "AST": (rules.transaminase_interrupt_above_uln, "cape.liver.ast")})
    notes += liver_notes
    for rule, text in hits + liver:
        interrupt = True
        rule_ids.append(rule)
        reasons.append(f"{text}: interrupt until back within the limit [{rule}]")

    phase = patient_phase
    if phase not in ("concurrent", "maintenance"):
        phase = "concurrent"
        notes.append(f"phase unknown: dose shown for concurrent ({cfg.concurrent_mg_m2_day:g} mg/m²/day); "
                     f"maintenance is {cfg.maintenance_mg_m2_day:g} mg/m²/day")
    if phase == "concurrent":
        interrupt = _crt_chemo_holds(summary.chemo_holds.get(sid, []), lab, trial, rule_ids, reasons) or interrupt

    factor, renal_stop = 1.0, False
    if pd.isna(crcl):
        effect = crcl_source
    elif crcl < rules.crcl_reduce_min:
        effect, renal_stop = f"CrCl {crcl:.0f} < {rules.crcl_reduce_min:g}: {rules.renal_severe_note}", True
        rule_ids.append("cape.renal")
        reasons.append(f"{effect} [cape.renal]")
    elif crcl < rules.crcl_no_change_min:
        factor = rules.crcl_reduced_percent / 100.0
        effect = (f"CrCl {crcl:.0f} ({rules.crcl_reduce_min:g} to < {rules.crcl_no_change_min:g}): "
                  f"{rules.crcl_reduced_percent} % of the planned dose")
        rule_ids.append("cape.renal")
        reasons.append(f"{effect} [cape.renal]")
    else:
        effect = f"CrCl {crcl:.0f} (>= {rules.crcl_no_change_min:g}): no change"
    if not pd.isna(crcl):
        notes.append(crcl_source)

    mg_m2_intake = (cfg.concurrent_mg_m2_day if phase == "concurrent" else cfg.maintenance_mg_m2_day) / cfg.intakes_per_day
    planned = level * factor

    def dose_at(percent: float) -> tuple[float, float, dict[int, int]]:
        calc = bsa * mg_m2_intake * percent / 100.0
        if pd.isna(calc):
            return float("nan"), float("nan"), {}
        rounded, counts = round_to_tablets(calc, cfg.tablet_mg)
        return calc, float(rounded), counts

    alternative = ""
    if stop or renal_stop:
        action, percent = "stop", 0.0
        if stop and not renal_stop and agg is not None and not bool(agg["stop_without_alt"]):
            alt_pct = float(agg["alt_percent"]) * factor
            calc, rounded, counts = dose_at(alt_pct)
            alternative = (f"{agg['alt_text']}: {_pct(alt_pct)} = {rounded:g} mg per intake "
                           f"({format_tablets(counts)})" if not pd.isna(rounded) else f"{agg['alt_text']}")
    elif interrupt:
        action, percent = "interrupt", planned
    elif planned < 100:
        action, percent = "reduce", planned
    else:
        action, percent = "continue", planned
    calc, rounded, counts = dose_at(percent)
    if pd.isna(bsa):
        notes.append("BSA unknown (height or weight missing): no dose in mg")
    return Advice(
        subject_id=sid, agent=CAPECITABINE, phase=phase, action=action, dose_percent=percent,
        dose_mg_per_intake_calculated=calc, dose_mg_per_intake=rounded,
        tablets=format_tablets(counts) if counts else "", tablet_counts=counts, bsa=bsa, crcl=crcl,
        crcl_effect=effect, reasons="; ".join(dict.fromkeys(reasons)), rule="; ".join(dict.fromkeys(rule_ids)),
        resume_at_percent=percent if action == "interrupt" else float("nan"), alternative=alternative,
        notes="; ".join(dict.fromkeys(notes)),
    )


def _crt_chemo_holds(mine: list[tuple[str, str]], lab, trial: Trial, rule_ids: list, reasons: list) -> bool:
    """Section 8 chemotherapy holds during chemoradiotherapy; appends rule ids and reasons."""
    rules = trial.capecitabine.rules
    for rule, label in mine:
        rule_ids.append(rule)
        reasons.append(f"{label}: hold chemotherapy during chemoradiotherapy, resume at grade <= 1 [{rule}]")
    hits = _count_checks(lab, rules.anc_interrupt_below, rules.platelets_interrupt_below,
                         "crt.chemo.counts", "crt.chemo.counts")
    for rule, text in hits:
        rule_ids.append(rule)
        reasons.append(f"{text}: hold chemotherapy during chemoradiotherapy [{rule}]")
    return bool(len(mine) or hits)


def compute_s1_starting_dose(bsa: float, trial: Trial) -> float:
    """S-1 starting dose per intake (mg) from the BSA bands of the trial file.

    Bands are [lower bound, mg] and a BSA on a bound belongs to the band above it (unrounded BSA):
    < 1.25 -> 40, 1.25 to < 1.5 -> 50, >= 1.5 -> 60 with the default file. NaN BSA -> NaN.
    """
    if bsa is None or pd.isna(bsa):
        return float("nan")
    start = trial.s1.bsa_bands[0][1]
    for low, mg in trial.s1.bsa_bands:
        if bsa >= low:
            start = mg
    return float(start)


def _advise_s1(sid, phase, bsa, crcl, crcl_source, lab, summary: _EventSummary, trial: Trial,
               status_notes: list[str]) -> Advice:
    s1 = trial.s1
    agg = summary.s1.loc[sid] if sid in summary.s1.index else None
    reductions = int(agg["reductions"]) if agg is not None else 0
    stop = bool(agg["stop"]) if agg is not None else False
    interrupt = bool(agg["interrupt"]) if agg is not None else False
    reasons = list(summary.s1_reasons.get(sid, []))
    rule_ids = ["s1.bsa_band", *summary.s1_rules.get(sid, [])]
    notes = list(status_notes)
    for rule, text in _count_checks(lab, trial.capecitabine.rules.anc_interrupt_below,
                                    trial.capecitabine.rules.platelets_interrupt_below, "s1.counts", "s1.counts"):
        interrupt = True
        rule_ids.append(rule)
        reasons.append(f"{text}: interrupt, resume at the same level [{rule}]")
    if phase == "concurrent":
        interrupt = _crt_chemo_holds(summary.chemo_holds.get(sid, []), lab, trial, rule_ids, reasons) or interrupt

    start_mg = compute_s1_starting_dose(bsa, trial)
    shift, renal_stop = 0, False
    if pd.isna(crcl):
        effect = crcl_source
    elif crcl < s1.crcl_two_levels_min:
        effect, renal_stop = f"CrCl {crcl:.0f} < {s1.crcl_two_levels_min:g}: do not give", True
    elif crcl < s1.crcl_one_level_min:
        effect, shift = f"CrCl {crcl:.0f} ({s1.crcl_two_levels_min:g} to < {s1.crcl_one_level_min:g}): two levels lower", 2
    elif crcl < s1.crcl_standard_min:
        effect, shift = f"CrCl {crcl:.0f} ({s1.crcl_one_level_min:g} to < {s1.crcl_standard_min:g}): one level lower", 1
    else:
        effect = f"CrCl {crcl:.0f} (>= {s1.crcl_standard_min:g}): standard"
    if renal_stop or shift:
        rule_ids.append("s1.renal")
        reasons.append(f"{effect} [s1.renal]")
    if not pd.isna(crcl):
        notes.append(crcl_source)

    levels = sorted(s1.levels_mg, reverse=True)
    level_mg = float("nan")
    if pd.isna(start_mg):
        notes.append("BSA unknown (height or weight missing): no starting dose")
    else:
        start_idx = next((i for i, mg in enumerate(levels) if mg <= start_mg), len(levels) - 1)
        idx = start_idx + shift + reductions
        if idx >= len(levels):
            if not (stop or renal_stop):
                rule_ids.append("s1.levels.exhausted")
                reasons.append(f"no level below {levels[-1]} mg per intake: stop [s1.levels.exhausted]")
            stop = True
        else:
            level_mg = float(levels[idx])
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
        subject_id=sid, agent=S1, phase=phase, action=action, dose_percent=percent, dose_level_mg=level_mg,
        dose_mg_per_intake_calculated=level_mg, dose_mg_per_intake=rounded,
        tablets=format_tablets(counts) if counts else "", tablet_counts=counts, bsa=bsa, crcl=crcl,
        crcl_effect=effect, reasons="; ".join(dict.fromkeys(reasons)), rule="; ".join(dict.fromkeys(rule_ids)),
        resume_at_percent=percent if action == "interrupt" else float("nan"),
        notes="; ".join(dict.fromkeys(notes)),
    )


def _advise_rt(sid, status: _Status, lab, summary: _EventSummary, trial: Trial) -> Advice:
    h = trial.holds
    mine = summary.rt_holds.get(sid, [])
    rule_ids = [rule for rule, _ in mine]
    reasons = [f"{label}: hold RT, resume at grade <= {h.rt_resume_grade_max} [{rule}]" for rule, label in mine]
    hits = _count_checks(lab, h.rt_hold_anc_below, h.rt_hold_platelets_below, "rt.hold.counts", "rt.hold.counts")
    liver, notes = _uln_checks(lab, {"ALT": (h.rt_hold_transaminase_above_uln, "rt.hold.liver"),
                                     "AST": (h.rt_hold_transaminase_above_uln, "rt.hold.liver"),
                                     "BILI": (h.rt_hold_bilirubin_above_uln, "rt.hold.liver"),
                                     "ALP": (h.rt_hold_alp_ggt_above_uln, "rt.hold.liver"),
                                     "GGT": (h.rt_hold_alp_ggt_above_uln, "rt.hold.liver")})
    for rule, text in hits + liver:
        rule_ids.append(rule)
        reasons.append(f"{text} (grade >= 3): hold RT, resume at grade <= {h.rt_resume_grade_max} [{rule}]")
    if status.rt_interruption_days is None:
        notes.append("RT interruption not computed: the treatment log needs several RT rows or fractions")
    else:
        notes.append(f"RT interrupted {status.rt_interruption_days} weekday(s) so far")
    action = "interrupt" if rule_ids else "continue"
    return Advice(subject_id=sid, agent=RT, phase="concurrent", action=action,
                  reasons="; ".join(dict.fromkeys(reasons)),
                  rule="; ".join(dict.fromkeys(rule_ids)) or "rt.hold.none",
                  notes="; ".join(dict.fromkeys(notes)))


# --------------------------------------------------------------------------------------------
# Orchestration
# --------------------------------------------------------------------------------------------
def _prepare_patients(patients: pd.DataFrame) -> pd.DataFrame:
    pts = patients.copy()
    pts["subject_id"] = pts["subject_id"].astype(str)
    return pts.drop_duplicates("subject_id", keep="last")


def _first_start(tx: pd.DataFrame, agent: str) -> dict[str, pd.Timestamp]:
    rows = tx[tx["treatment"] == agent]
    return rows.groupby("subject_id")["start_date"].min().to_dict() if len(rows) else {}


def _last_start(tx: pd.DataFrame, agent: str) -> dict[str, pd.Timestamp]:
    rows = tx[tx["treatment"] == agent]
    return rows.groupby("subject_id")["start_date"].max().to_dict() if len(rows) else {}


def _run(patients: pd.DataFrame, events, labs, treatment, trial: Trial, cut, overrides: Mapping | None = None,
         ) -> tuple[list[Advice], pd.DataFrame]:
    cut_ts = pd.Timestamp(cut).normalize()
    overrides = dict(overrides or {})
    pts = _prepare_patients(patients)
    tx = _prepare_treatment(treatment, cut_ts)
    ev = _prepare_events(events, cut_ts)
    lab_frame = _prepare_labs(labs, cut_ts)
    log_empty = len(tx) == 0

    tx_by: dict[str, list[dict]] = {}
    for row in tx.to_dict("records"):          # treatment rows (a few per patient), already sorted
        tx_by.setdefault(row["subject_id"], []).append(row)
    statuses: dict[str, _Status] = {}
    for patient in pts.to_dict("records"):
        sid = patient["subject_id"]
        st = _status(tx_by.get(sid, []), patient, trial, cut_ts, log_empty)
        if overrides.get("agent"):
            st.agent, st.on_chemo = _norm_agent(overrides["agent"]) or overrides["agent"], True
        if overrides.get("phase"):
            st.phase = str(overrides["phase"]).lower()
        if overrides.get("on_rt") is not None:
            st.on_rt = bool(overrides["on_rt"])
        statuses[sid] = st

    summary, flags = _summarise_events(ev, trial, cut_ts, _first_start(tx, CAPECITABINE),
                                       _last_start(tx, CAPECITABINE), _first_start(tx, S1))
    # phase fallback from the latest on-treatment event when the log cannot tell
    if len(ev):
        latest_phase = (ev[ev["phase"].isin(["concurrent", "maintenance"])].sort_values("onset_date")
                        .groupby("subject_id")["phase"].last().to_dict())
    else:
        latest_phase = {}
    rt_flags = []
    for sid, st in statuses.items():
        days = st.rt_interruption_days
        if days is not None and days > trial.holds.rt_interruption_flag_days:
            rt_flags.append({"subject_id": sid, "rule": "pi.rt_interruption",
                             "flag": f"RT interrupted {days} weekdays in total (> {trial.holds.rt_interruption_flag_days})"})
    flags = pd.concat([flags, pd.DataFrame(rt_flags, columns=FLAG_COLUMNS)], ignore_index=True)[FLAG_COLUMNS]
    flags_by = flags.groupby("subject_id")["flag"].agg("; ".join).to_dict() if len(flags) else {}
    flag_rules = flags.groupby("subject_id")["rule"].agg(_join_unique).to_dict() if len(flags) else {}

    window: dict[str, pd.Timestamp] = {}
    for sid, st in statuses.items():
        start = st.cycle_start if st.on_chemo and st.cycle_start is not None else st.rt_start if st.on_rt else None
        window[sid] = start if start is not None else cut_ts - pd.Timedelta(days=trial.phases.cycle_length_days)
    latest = _latest_labs(lab_frame, window)
    creat = lab_frame[lab_frame["test_code"] == "CREAT"].groupby("subject_id").tail(1)
    latest_creat = {sid: (v, u, d) for sid, v, u, d in
                    zip(creat["subject_id"], creat["si_value"], creat["uln"], creat["collected_on"])}

    advice: list[Advice] = []
    for patient in pts.to_dict("records"):
        sid = patient["subject_id"]
        st = statuses[sid]
        if not (st.on_chemo or st.on_rt):
            continue
        lab = dict(latest.get(sid, {}))
        lab.pop("CREAT", None)
        scalar_lab = dict(lab, **({"CREAT": latest_creat[sid]} if sid in latest_creat else {}))
        bsa, crcl, crcl_source = _patient_scalars(patient, scalar_lab, trial, cut_ts)
        phase = st.phase or latest_phase.get(sid) or ("concurrent" if st.on_rt else None)
        rows: list[Advice] = []
        if st.on_chemo and st.agent == CAPECITABINE:
            rows.append(_advise_capecitabine(sid, phase, bsa, crcl, crcl_source, lab, summary, trial, st.notes))
        elif st.on_chemo and st.agent == S1:
            rows.append(_advise_s1(sid, phase, bsa, crcl, crcl_source, lab, summary, trial, st.notes))
        if st.on_rt:
            rows.append(_advise_rt(sid, st, lab, summary, trial))
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
