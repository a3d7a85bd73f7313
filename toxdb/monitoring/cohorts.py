"""Who is evaluable for the stopping boundary, and who had a qualifying event: the monitoring cohorts.

Three cohorts (``toxdb.vocab.COHORTS``), each with its own denominator (docs/monitoring.md):

* ``all``: patients who started protocol treatment; every treatment-emergent qualifying event.
* ``concurrent``: patients who started chemoradiotherapy (RT or a chemotherapy row of the
  concurrent phase); qualifying events of the concurrent phase.
* ``maintenance``: patients who started maintenance; qualifying events of the maintenance phase.

A *qualifying event* is an adverse event, treatment-emergent, of grade >= ``monitoring.grade_min``,
with onset on or before the data cut, whose attribution is in ``monitoring.attributions`` and whose
term is not in ``monitoring.exclude_terms`` (decision D26). Treatment-emergent flag and phase come
from toxdb.clinical.events (``derive_event_rows``); the DuckDB twin of :func:`_events` is
``toxdb.clinical.events_sql.read_first_qualifying_rows``, which hands the same rows to
:func:`derive_monitoring_cohorts` without reading every AE row into pandas.

Cumulative-incidence fields (one row per patient, time origin = first treatment day): ``status`` 1 =
first qualifying event, 2 = competing event first, 0 = censored; competing events, censoring and the
cohort windows follow decisions D27 and D28.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from toxdb.arrays import map_distinct
from toxdb.clinical.events import derive_event_rows
from toxdb.clinical.treatment import derive_treatment_milestones
from toxdb.i18n import N_
from toxdb.vocab import ATTRIBUTION_ORDER, COHORTS

__all__ = ["COHORT_COLUMNS", "COHORT_LABELS", "derive_monitoring_cohort", "derive_monitoring_cohorts"]

COHORT_LABELS = {            # N_: in the catalogue, translated where shown (_(COHORT_LABELS[c]))
    "all": N_("all treatment-emergent events"),
    "concurrent": N_("concurrent phase"),
    "maintenance": N_("maintenance phase"),
}
STATUS_LABELS = {0: "censored", 1: "qualifying event", 2: "competing event"}
COHORT_COLUMNS = [
    "subject_id", "start_date", "first_event_date", "first_event_term", "first_event_grade",
    "first_treatment", "competing_date", "competing_reason", "exit_date", "time", "status",
    "status_label",
]
_COMPLETED = r"complet"  # off_treatment_reason meaning the treatment course was completed (D27)


def is_completed_reason(reason: pd.Series) -> pd.Series:
    """True where an off-treatment reason says the treatment course was completed (D27)."""
    return reason.astype("string").str.contains(_COMPLETED, case=False, regex=True).fillna(False).astype(bool)


def _lookup(values: pd.Series, keys: pd.Series) -> pd.Series:
    """``values`` (indexed by subject_id) aligned to ``keys``; missing keys give NA.  (Used instead
    of ``Series.map``, which fails on an empty datetime mapper.)"""
    values = values[~values.index.duplicated()]
    return pd.Series(values.reindex(keys.to_numpy()).to_numpy(), index=keys.index, dtype=values.dtype)


def _cut_timestamp(snapshot: Any) -> pd.Timestamp:
    return pd.Timestamp(snapshot.cut.cut_date)


def _dates(values: Any) -> pd.Series:
    return pd.to_datetime(values).astype("datetime64[us]")


def _milestones(snapshot: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(milestones with the columns this module uses, dates cut at the cut; the full milestones)."""
    cut = _cut_timestamp(snapshot)
    cols = ["subject_id", "first_treatment", "concurrent_start", "crt_end", "maintenance_start", "last_dose"]
    raw = derive_treatment_milestones(snapshot.treatment, snapshot.cut.cut_date)
    m = raw[cols].copy()
    for c in cols[1:]:
        m[c] = _dates(m[c])
        m[c] = m[c].where(m[c] <= cut)  # nothing after the cut exists
    return m, raw


def _events(snapshot: Any, window_days: int, grade_min: int, milestones: pd.DataFrame) -> pd.DataFrame:
    """Adverse-event rows of grade >= grade_min with subject_id, term, grade, onset_date, attribution, te (bool: the row
    is a treatment-emergent record) and phase (the row's phase, or NA to be set by rule).

    From toxdb.clinical.events: its AE rows (``derive_event_rows``: imputed onset, events merged over grade
    changes, row phase).  A row is treatment-emergent when it lies on treatment (concurrent or
    maintenance) and either its event began on treatment or the row is a worsening of a condition
    present before the first treatment.  The onset of a qualifying record is the onset of the row
    that reached the grade (not the first onset of a milder start), and the attribution is the
    strongest recorded on any row of the event (derive's convention).
    """
    ae = snapshot.adverse_events
    grade_min = int(grade_min)
    rows = derive_event_rows(ae, snapshot.treatment, snapshot.cut.cut_date, window_days=window_days,
                                    milestones=milestones)
    # event-level facts over every row (numpy, event ids are 1..n), then keep graded rows only
    event_id = rows["event_id"].to_numpy(dtype=np.int64)
    phase = rows["phase"].to_numpy(dtype=object)
    pre = phase == "pre-treatment"
    started_pre = np.bincount(event_id, weights=pre, minlength=event_id.max(initial=0) + 1)[event_id] > 0
    order = np.array(ATTRIBUTION_ORDER, dtype=object)
    if "attribution" in rows.columns:
        attr = map_distinct(rows["attribution"], lambda a: None if a is None else str(a).strip().lower())
        rank = pd.Categorical(attr, categories=order, ordered=True).codes.astype(np.int64)
        best = np.full(event_id.max(initial=0) + 1, -1, dtype=np.int64)
        np.maximum.at(best, event_id, rank)
        best = best[event_id]
    else:
        best = np.full(len(rows), -1, dtype=np.int64)
    grade = pd.to_numeric(rows["grade"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    keep = grade >= grade_min
    on = (phase == "concurrent") | (phase == "maintenance")
    worsening = rows["worsening"].to_numpy(dtype=bool, na_value=False) if "worsening" in rows.columns \
        else np.zeros(len(rows), dtype=bool)
    onset = rows["onset_imputed"] if "onset_imputed" in rows.columns else rows["onset_date"]
    strongest = np.where(best >= 0, order[np.clip(best, 0, None)], None)
    return pd.DataFrame({
        "subject_id": rows["subject_id"].to_numpy(dtype=object)[keep],
        "term": pd.array(rows["term"].to_numpy(dtype=object)[keep], dtype="string"),
        "grade": grade[keep],
        "onset_date": _dates(onset).to_numpy()[keep],
        "attribution": pd.array(strongest[keep], dtype="string"),
        "te": (on & (~started_pre | worsening))[keep],
        "phase": pd.array(np.where(on, phase, None)[keep], dtype="string"),
    })


def _windows(base: pd.DataFrame, window_days: int) -> pd.DataFrame:
    """Per patient and cohort, the last day on which an event of that cohort can still qualify
    (NaT: open up to the cut): the phase windows of toxdb.clinical.events (crt_end + W without
    maintenance, last dose + W with it)."""
    w = pd.Timedelta(days=window_days)
    before_maint = base["maintenance_start"] - pd.Timedelta(days=1)
    end_crt = base["crt_end"] + w
    end_all = (base["last_dose"] + w).where(base["maintenance_start"].notna(), end_crt)
    end_conc = before_maint.where(base["maintenance_start"].notna(), end_crt)
    end_maint = base["last_dose"] + w
    return pd.DataFrame({"end_all": end_all, "end_concurrent": end_conc, "end_maintenance": end_maint},
                        index=base.index).astype("datetime64[us]")


def _qualifying(ev: pd.DataFrame, monitoring: Any, cut: pd.Timestamp) -> pd.DataFrame:
    keep = ev["te"] & ev["onset_date"].notna() & (ev["onset_date"] <= cut)
    keep &= (ev["grade"] >= int(monitoring.grade_min)).fillna(False)
    if monitoring.attributions:
        allowed = {a.lower() for a in monitoring.attributions}
        attr = ev["attribution"].str.strip().str.lower()
        keep &= (attr.isna() | attr.isin(allowed)).fillna(True)
    if monitoring.exclude_terms:
        excluded = {t.strip().lower() for t in monitoring.exclude_terms}
        keep &= ~ev["term"].str.strip().str.lower().isin(excluded).fillna(False)
    return ev.loc[keep.to_numpy()]


def _competing(patients: pd.DataFrame, cut: pd.Timestamp) -> pd.DataFrame:
    """Per patient the three competing dates (NaT when absent or after the cut)."""
    def col(name: str) -> pd.Series:
        s = _dates(patients[name]) if name in patients.columns else pd.Series(pd.NaT, index=patients.index,
                                                                               dtype="datetime64[us]")
        return s.where(s <= cut)

    reason = patients["off_treatment_reason"].astype("string") if "off_treatment_reason" in patients.columns \
        else pd.Series(pd.NA, index=patients.index, dtype="string")
    completed = is_completed_reason(reason)
    off = col("off_treatment_on")
    last_contact = col("last_contact_on") if "last_contact_on" in patients.columns else off.where(False)
    return pd.DataFrame({
        "subject_id": patients["subject_id"].to_numpy(),
        "death": col("death_on").to_numpy(),
        "recurrence": col("recurrence_on").to_numpy(),
        "discontinuation": off.where(~completed).to_numpy(),
        "off_treatment": off.notna().to_numpy(),
        "last_contact": last_contact.to_numpy(),
    })


def _cohort_frame(base: pd.DataFrame, qual: pd.DataFrame, phase: str, cut: pd.Timestamp) -> pd.DataFrame:
    """One phase's cohort from the per-patient ``base`` (milestones + competing dates)."""
    start_col = {"all": "first_treatment", "concurrent": "concurrent_start", "maintenance": "maintenance_start"}[phase]
    df = base.loc[base[start_col].notna()].copy()
    df["start_date"] = df[start_col]
    # window in which an event of this cohort can still qualify, never beyond the cut
    end = pd.Series(cut, index=df.index, dtype="datetime64[us]")
    window = df[f"end_{phase}"]
    end = end.where(window.isna() | (window >= end), window)

    # first qualifying event of the phase, on or after the cohort's start
    q = qual
    if phase != "all":
        q = q.loc[q["phase"].to_numpy(dtype=object) == phase]
    q = q.merge(df[["subject_id", "start_date"]], on="subject_id", how="inner")
    q = q.loc[(q["onset_date"] >= q["start_date"]).to_numpy()]
    q = q.sort_values(["subject_id", "onset_date", "grade"], ascending=[True, True, False], kind="mergesort")
    first = q.drop_duplicates("subject_id").set_index("subject_id")
    df["first_event_date"] = _lookup(first["onset_date"], df["subject_id"]).astype("datetime64[us]")
    df["first_event_term"] = _lookup(first["term"].astype("string"), df["subject_id"])
    df["first_event_grade"] = _lookup(first["grade"].astype("Float64"), df["subject_id"]).astype("Int64")

    # first competing event inside [start, end]
    names = np.array(["death", "recurrence", "discontinuation"])
    comp = np.stack([df[n].to_numpy(dtype="datetime64[us]") for n in names], axis=1)
    start = df["start_date"].to_numpy(dtype="datetime64[us]")[:, None]
    end_arr = end.to_numpy(dtype="datetime64[us]")[:, None]
    valid = ~np.isnat(comp) & (comp >= start) & (comp <= end_arr)
    big = np.datetime64("9999-12-31", "us")
    masked = np.where(valid, comp, big)
    which = masked.argmin(axis=1)
    comp_date = masked[np.arange(len(df)), which]
    has_comp = valid.any(axis=1)
    df["competing_date"] = pd.Series(np.where(has_comp, comp_date, np.datetime64("NaT", "us")),
                                     index=df.index, dtype="datetime64[us]")
    df["competing_reason"] = pd.Series(np.where(has_comp, names[which], None), index=df.index, dtype="string")

    # status and exit date
    ev_date = df["first_event_date"]
    comp_date_s = df["competing_date"]
    is_event = ev_date.notna() & (comp_date_s.isna() | (ev_date <= comp_date_s))
    is_comp = ~is_event & comp_date_s.notna()
    contact = df["last_contact"].where(df["last_contact"].notna(), cut)
    censor = contact.where(contact <= end, end)
    exit_date = censor.where(~is_comp, comp_date_s).where(~is_event, ev_date)
    df["exit_date"] = exit_date.astype("datetime64[us]")
    days = (df["exit_date"] - df["first_treatment"]).dt.days.astype("float64")
    df["time"] = days.clip(lower=0.0)
    status = np.where(is_event.to_numpy(), 1, np.where(is_comp.to_numpy(), 2, 0)).astype(np.int64)
    df["status"] = status
    label = np.array([STATUS_LABELS[0], STATUS_LABELS[1], STATUS_LABELS[2]], dtype=object)[status]
    label = np.where(status == 2, "competing: " + df["competing_reason"].fillna("").to_numpy(dtype=object), label)
    df["status_label"] = pd.array(label, dtype="string")
    df = df.sort_values(["start_date", "subject_id"], kind="mergesort").reset_index(drop=True)
    return df[COHORT_COLUMNS]


def derive_monitoring_cohorts(snapshot: Any, trial: Any, events: pd.DataFrame | None = None,
                              extra_events: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """The three cohorts (``all``, ``concurrent``, ``maintenance``) in one pass over the data.

    Each: one row per evaluable patient, ordered by start date then subject_id, with the columns
    ``COHORT_COLUMNS`` (see :func:`derive_monitoring_cohort`).

    ``events``: the AE rows the cohorts can start from, already derived
    (``events_sql.read_first_qualifying_rows`` for the same cut and trial file); the snapshot's
    adverse events are then not used at all (the snapshot may be loaded without them).
    ``extra_events``: more rows of the same shape that may qualify besides the AEs (a sensitivity
    analysis: lab values graded >= 3, ``toxdb.monitoring.sensitivity``).
    """
    cut = _cut_timestamp(snapshot)
    window_days = int(trial.phases.post_treatment_window_days)
    milestones, full_milestones = _milestones(snapshot)
    comp = _competing(snapshot.patients, cut)
    base = milestones.merge(comp, on="subject_id", how="left")
    base["off_treatment"] = base["off_treatment"].fillna(False).astype(bool)
    base = pd.concat([base, _windows(base, window_days)], axis=1)
    if events is not None:
        ev = events
    else:
        ev = _events(snapshot, window_days, trial.monitoring.grade_min, full_milestones)
    if extra_events is not None and len(extra_events):
        ev = pd.concat([ev, extra_events[ev.columns]], ignore_index=True) if len(ev) else extra_events
    qual = _qualifying(ev, trial.monitoring, cut)       # a qualifying row is on treatment: its phase is named
    return {phase: _cohort_frame(base, qual, phase, cut) for phase in COHORTS}


def derive_monitoring_cohort(snapshot: Any, trial: Any, phase: str = "all") -> pd.DataFrame:
    """One row per evaluable patient of ``phase`` (``"all"``, ``"concurrent"``, ``"maintenance"``).

    Columns: subject_id; start_date (first protocol treatment, or the phase's first day);
    first_event_date / first_event_term / first_event_grade (first qualifying event of the phase up
    to the cut, NaT if none); first_treatment (time origin); competing_date and competing_reason
    (death / recurrence / discontinuation, the first within the cohort's window); exit_date; time
    (days from first treatment to exit, >= 0); status (1 event, 2 competing, 0 censored) and
    status_label.  Rules: see the module docstring (D26-D28).
    """
    if phase not in COHORTS:
        raise ValueError(f"phase must be one of {', '.join(COHORTS)}; got {phase!r}")
    return derive_monitoring_cohorts(snapshot, trial)[phase]
