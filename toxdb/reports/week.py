"""The investigator's week: what is new since a reference (their last review, a saved cut or a
date) and what needs doing, built on the comparison of two data cuts (toxdb.reports.diff, D70).

Sections (each a table with ``subject_id`` and ``site``, so every item links to the patient):

* new_aes: adverse-event rows of events not seen at the reference;
* grade_changes: known events whose grade changed (a corrected grade, or a new row of an event the
  reference had, matched on subject and AE reference), upgrades first (D71);
* serious: new serious AEs (new, or corrected to serious), grade 5 events, newly recorded deaths;
* grade3: new grade >= 3 rows (new, or corrected from below grade 3);
* advice: dose advice other than "continue", not acknowledged, new or changed since the reference;
* lab_queries: lab queries not raised at the reference;
* due: patients on treatment (D10) whose next cycle is due within ``due_days`` and who have open advice;
* by_site: per site, records added / corrected / withdrawn and uploads since the reference.

Advice and lab queries at the reference are worked out only for the patients whose data changed:
for every other patient they are the same as now (their data are the same), which keeps a week of a
10,000-patient trial to the work of its changed patients (D71).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from toxdb.clinical.lab_queries import compute_lab_queries
from toxdb.clinical.treatment import derive_treatment_status
from toxdb.dosing.advice import (
    compute_snapshot_advice,
    derive_acknowledged,
    order_advice,
)
from toxdb.i18n import N_
from toxdb.reports.diff import CutDiff, diff_cuts
from toxdb.store.cuts import DataCut, Snapshot, load_snapshot

REVIEW_ACTION = "week_reviewed"       # the audit-log action of "mark This week reviewed"
SECTIONS = ("grade_changes", "serious", "grade3", "new_aes", "advice", "lab_queries", "due")
SECTION_TITLES = {
    "grade_changes": N_("Grade changes of known events"), "serious": N_("New serious events and deaths"),
    "grade3": N_("New grade ≥ 3 events"), "new_aes": N_("New adverse events"),
    "advice": N_("New or changed dose advice awaiting acknowledgement"), "lab_queries": N_("New lab queries"),
    "due": N_("Due to start a cycle in the next {days} days, with open advice"),
}
AE_SHOW = ["subject_id", "site", "term", "grade", "onset_date", "serious", "upload_id"]


@dataclass
class WeekResult:
    reference: DataCut
    current: DataCut
    diff: CutDiff
    sections: dict[str, pd.DataFrame]
    by_site: pd.DataFrame
    summary: dict = field(default_factory=dict)


def _sites(patients: pd.DataFrame) -> pd.Series:
    return patients.drop_duplicates("subject_id", keep="last").set_index(
        patients["subject_id"].astype(str).drop_duplicates(keep="last"))["site"]


def _with_site(frame: pd.DataFrame, sites: pd.Series) -> pd.DataFrame:
    out = frame.copy()
    out["subject_id"] = out["subject_id"].astype(str)
    out["site"] = out["subject_id"].map(sites).astype(object)
    return out


def compute_ae_changes(ae_rows: pd.DataFrame, ref_ae: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """new_aes, grade_changes, serious (AE part) and grade3 from the diff's AE rows (``rows['ae']``)
    and the reference's AE rows of the same patients (to tell a known event's new row, D71)."""
    added = ae_rows[ae_rows["change"] == "added"]
    fixed = ae_rows[ae_rows["change"] == "corrected"]
    ref = ref_ae.assign(subject_id=ref_ae["subject_id"].astype(str), ae_ref=ref_ae["ae_ref"].astype(object))
    known = ref[ref["ae_ref"].notna()].groupby(["subject_id", "ae_ref"])["grade"].max()
    key = pd.MultiIndex.from_arrays([added["subject_id"].astype(str), added["ae_ref"].astype(object)])
    old_of_added = pd.Series(known.reindex(key).to_numpy(), index=added.index)
    of_known = old_of_added.notna().to_numpy()
    regraded = fixed[fixed["changed_columns"].str.split(", ").map(lambda cs: "grade" in cs).astype(bool)] \
        if len(fixed) else fixed
    changes = pd.concat([
        added[of_known].assign(old_grade=old_of_added[of_known].astype(int)),
        regraded.assign(old_grade=regraded.get("old_grade")),
    ])
    changes = changes[changes["old_grade"].astype(float) != changes["grade"].astype(float)].copy()
    changes["old_grade"] = changes["old_grade"].astype(int)
    changes["change"] = np.where(changes["grade"] > changes["old_grade"], "upgrade", "downgrade")
    changes = changes.assign(_up=changes["change"] == "upgrade", _step=changes["grade"] - changes["old_grade"]) \
        .sort_values(["_up", "grade", "_step", "subject_id"], ascending=[False, False, False, True], kind="stable")
    new = added[~of_known]
    old_serious = fixed.get("old_serious", pd.Series(None, index=fixed.index)).astype(object)
    became_serious = fixed[fixed["serious"].eq(True).to_numpy() & old_serious.isin([False, None]).to_numpy()
                           & fixed["changed_columns"].str.contains("serious").to_numpy()] if len(fixed) else fixed
    serious = pd.concat([added[added["serious"].eq(True).to_numpy() | (added["grade"] == 5).to_numpy()],
                         became_serious])
    old_grade = fixed.get("old_grade", pd.Series(np.nan, index=fixed.index)).astype(float)
    to_g3 = fixed[(fixed["grade"] >= 3).to_numpy() & (old_grade < 3).to_numpy()] if len(fixed) else fixed
    grade3 = pd.concat([added[added["grade"] >= 3], to_g3])
    return {"new_aes": new, "grade_changes": changes.drop(columns=["_up", "_step"]), "serious": serious,
            "grade3": grade3}


def compute_deaths(patient_rows: pd.DataFrame) -> pd.DataFrame:
    """Patients whose death date is new since the reference (a new patient row, or a corrected one)."""
    if not len(patient_rows) or "death_on" not in patient_rows:
        return pd.DataFrame(columns=["subject_id", "death_on"])
    had = patient_rows.get("old_death_on", pd.Series(pd.NaT, index=patient_rows.index))
    fresh = patient_rows["death_on"].notna() & (
        (patient_rows["change"] == "added") | (
            (patient_rows["change"] == "corrected") & patient_rows["changed_columns"].str.contains("death_on")
            & pd.isna(had)))
    return patient_rows.loc[fresh.to_numpy(bool), ["subject_id", "death_on"]]


def compute_open_advice(snapshot: Snapshot, trial, acks: pd.DataFrame) -> pd.DataFrame:
    """Advice other than "continue" that nobody has acknowledged, with its advice_hash."""
    table = order_advice(derive_acknowledged(compute_snapshot_advice(snapshot, trial).table, acks))
    if not len(table):
        return table
    return table[(table["action"] != "continue").to_numpy() & ~table["handled"].to_numpy(bool)]


def compute_due(status: pd.DataFrame, treatment: pd.DataFrame, cut: dt.date, phases, days: int) -> pd.DataFrame:
    """Patients on chemotherapy (D10) whose next cycle (latest cycle start + cycle_length_days) falls
    within ``days`` days from the cut and who have planned cycles left: subject_id, agent, next_cycle."""
    on = status[status["on_chemo"].to_numpy(bool)]
    chemo = treatment[treatment["treatment"].astype(str) != "RT"]
    given = chemo.drop_duplicates(["subject_id", "treatment", "start_date"]).groupby(
        chemo["subject_id"].astype(str)).size()
    planned = int(phases.concurrent_cycles) + int(phases.maintenance_cycles)
    left = on["subject_id"].map(given).fillna(0).to_numpy() < planned
    next_cycle = pd.to_datetime(on["cycle_start"]) + pd.Timedelta(days=int(phases.cycle_length_days))
    start, end = pd.Timestamp(cut), pd.Timestamp(cut) + pd.Timedelta(days=int(days))
    due = left & (next_cycle >= start).to_numpy() & (next_cycle <= end).to_numpy()
    return pd.DataFrame({"subject_id": on["subject_id"].astype(str).to_numpy()[due],
                         "agent": on["agent"].to_numpy()[due], "next_cycle": next_cycle.to_numpy()[due]})


def compute_by_site(diff: CutDiff, sites: pd.Series, uploads: pd.DataFrame, since: dt.datetime | None,
                    until: dt.datetime | None) -> pd.DataFrame:
    """Per site: records added, corrected and withdrawn per table since the reference, and the uploads
    made between the two cuts' freeze times (with the last one)."""
    t = diff.table.drop_duplicates(["table", "record", "change"])
    t = t.assign(site=t["subject_id"].map(sites).fillna("(no site)"), what=t["table"] + " " + t["change"])
    counts = t.pivot_table(index="site", columns="what", values="record", aggfunc="count", fill_value=0)
    up = uploads.copy()
    at = pd.to_datetime(up["uploaded_at"])
    keep = np.ones(len(up), bool) if since is None else (at > pd.Timestamp(since)).to_numpy()
    if until is not None:
        keep = keep & (at <= pd.Timestamp(until)).to_numpy()
    up = up[keep].assign(site=up["site"].fillna("(no site)"))
    per = up.groupby("site").agg(uploads=("upload_id", "size"), last_upload=("uploaded_at", "max"))
    out = counts.join(per, how="outer").reset_index()
    number_cols = [c for c in out.columns if c not in ("site", "last_upload")]
    out[number_cols] = out[number_cols].fillna(0).astype(int)
    return out.sort_values("site").reset_index(drop=True)


def _new_lab_queries(now: Snapshot, then: Snapshot, trial, subjects: list[str]) -> pd.DataFrame:
    """Lab queries of ``subjects`` now that were not raised at the reference (same patient, test,
    worst value's date and issue)."""
    key = ["subject_id", "test", "collected_on", "issue"]
    q_now = compute_lab_queries(now, trial).table
    q_now = q_now[q_now["subject_id"].astype(str).isin(subjects)]
    q_then = compute_lab_queries(then, trial).table
    seen = set(map(tuple, q_then[key].astype(str).to_numpy())) if len(q_then) else set()
    fresh = [tuple(r) not in seen for r in q_now[key].astype(str).to_numpy()]
    return q_now[np.array(fresh, dtype=bool)] if len(q_now) else q_now


def _new_advice(open_now: pd.DataFrame, then: Snapshot, trial, subjects: list[str]) -> pd.DataFrame:
    """Open advice of ``subjects`` whose wording (advice_hash) differs from the reference's."""
    mine = open_now[open_now["subject_id"].astype(str).isin(subjects)] if len(open_now) else open_now
    before = derive_acknowledged(compute_snapshot_advice(then, trial).table, None)
    seen = set(zip(before["subject_id"].astype(str), before["agent"].astype(str), before["advice_hash"])) \
        if len(before) else set()
    fresh = [k not in seen for k in zip(mine["subject_id"].astype(str), mine["agent"].astype(str),
                                         mine["advice_hash"])] if len(mine) else []
    return mine[np.array(fresh, dtype=bool)] if len(mine) else mine


def _serious_table(ae: dict[str, pd.DataFrame], deaths: pd.DataFrame) -> pd.DataFrame:
    s = ae["serious"]
    events = pd.DataFrame({"subject_id": s["subject_id"].astype(str), "what": np.where(
        s["grade"] == 5, "death (grade 5 AE)", np.where(s["change"] == "added", "new SAE", "now serious")),
        "term": s["term"].astype(object), "grade": s["grade"], "date": s["onset_date"]})
    died = pd.DataFrame({"subject_id": deaths["subject_id"].astype(str), "what": "death recorded", "term": None,
                         "grade": pd.NA, "date": deaths["death_on"]})
    return pd.concat([events, died], ignore_index=True)


def compute_week(store, reference: DataCut, current: DataCut, trial, due_days: int = 7) -> WeekResult:
    """Everything This week shows, from the reference cut to the current one. Long: one read of each
    cut per section, in the order the page shows them; the sections are the helpers above."""
    diff = diff_cuts(store, reference, current)
    changed = sorted(set(diff.table["subject_id"].astype(str)))
    base = load_snapshot(store, current, with_labs=False, with_ae=False)
    sites = _sites(base.patients)
    status = derive_treatment_status(base.patients, base.treatment, current.cut_date, trial.phases)
    due = compute_due(status, base.treatment, current.cut_date, trial.phases, due_days)
    now = load_snapshot(store, current, subjects=sorted(set(changed) | set(due["subject_id"])))
    then = load_snapshot(store, reference, subjects=changed)
    ae = compute_ae_changes(diff.rows["ae"], then.adverse_events)
    # dose advice exists only for patients on treatment: the engine runs on them alone (D71)
    treated = set(status.loc[status["on_treatment"].to_numpy(bool), "subject_id"].astype(str))
    open_now = compute_open_advice(_only(now, treated), trial, store.acknowledgements())
    advice_cols = ["subject_id", "agent", "action", "dose_percent", "reasons", "rule", "advice_hash"]
    # only open advice can be "new or changed": the reference's advice is needed for those patients only
    asked = set(changed) & set(open_now["subject_id"].astype(str)) if len(open_now) else set()
    advice = _new_advice(open_now, _only(then, asked), trial, sorted(asked))
    waiting = open_now.groupby("subject_id")["action"].agg(lambda a: ", ".join(sorted(set(a)))) \
        if len(open_now) else pd.Series(dtype=object)
    due = due.assign(open_advice=due["subject_id"].map(waiting))
    due = due[due["open_advice"].notna()].sort_values(["next_cycle", "subject_id"])
    sections = {
        "grade_changes": ae["grade_changes"], "serious": _serious_table(ae, compute_deaths(diff.rows["patients"])),
        "grade3": ae["grade3"], "new_aes": ae["new_aes"],
        "advice": advice[[c for c in advice_cols if c in advice.columns]] if len(advice) else
        pd.DataFrame(columns=advice_cols),
        "lab_queries": _new_lab_queries(now, then, trial, changed), "due": due,
    }
    sections = {k: _with_site(v, sites).reset_index(drop=True) for k, v in sections.items()}
    by_site = compute_by_site(diff, sites, store.uploads(), reference.frozen_at or _end_of(reference.cut_date),
                              current.frozen_at)
    summary = {k: len(v) for k, v in sections.items()}
    summary["upgrades"] = int((sections["grade_changes"]["change"] == "upgrade").sum()) \
        if len(sections["grade_changes"]) else 0
    summary["patients_changed"] = len(changed)
    return WeekResult(reference, current, diff, sections, by_site, summary)


def _only(snap: Snapshot, subjects: set[str]) -> Snapshot:
    """The snapshot's rows of these patients only."""
    def keep(frame):
        return None if frame is None else frame[frame["subject_id"].astype(str).isin(subjects).to_numpy(bool)]
    return Snapshot(snap.cut, keep(snap.patients), keep(snap.treatment), keep(snap.adverse_events), keep(snap.labs))


def _end_of(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(23, 59, 59))


def reference_from_review(reviewed_at: dt.datetime | None, today: dt.date, default_days: int = 7) -> DataCut:
    """The default reference: the moment of the user's last review (data as stored then), else the
    data as stored at the end of ``default_days`` days ago."""
    if reviewed_at is not None:
        return DataCut(reviewed_at.date(), reviewed_at.replace(microsecond=0))
    day = today - dt.timedelta(days=default_days)
    return DataCut(day, _end_of(day))
