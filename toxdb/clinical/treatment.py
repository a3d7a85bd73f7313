"""The treatment log read once: milestones, phases, and who is on treatment at a data cut.

This is the one place where a patient's course is read from the treatment log (first treatment,
chemoradiotherapy end, maintenance start, last dose, S-1 switch), and the one definition of "on
treatment at the cut" (decision D10 in docs/decisions.md) that the Overview, the Patient page and
the dose advice all call. Rules: docs/clinical-rules.md section 2.

Public API
----------
derive_treatment_phase(treatment)                       -> + phase_derived (D2)
derive_treatment_milestones(treatment, cut_date)        -> one row per treated subject
prepare_treatment_log(treatment, cut)                   -> the log as the status rule reads it
derive_treatment_status(patients, treatment, cut, phases) -> one row per patient: on_treatment, ...
describe_on_treatment_rule(phases)                      -> the rule in words (page captions)
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from toxdb import vocab
from toxdb.arrays import as_dates, map_distinct
from toxdb.i18n import _
from toxdb.vocab import CAPECITABINE, CHEMO, RT, S1, TREATMENT_PHASES

MILESTONE_COLUMNS = ["subject_id", "first_treatment", "concurrent_start", "crt_end", "maintenance_start",
                     "last_dose", "switched_to_s1", "s1_start"]


def _ts(day) -> pd.Timestamp:
    return pd.Timestamp(day).normalize()


# ------------------------------------------------------------------------------------------------
# treatment milestones
# ------------------------------------------------------------------------------------------------
def derive_treatment_phase(treatment: pd.DataFrame) -> pd.DataFrame:
    """Add ``phase_derived``: the row's phase, filling a missing chemotherapy phase from RT timing (D2).

    RT rows are concurrent. A chemo cycle without a phase is concurrent when it overlaps the
    patient's RT span, maintenance when it starts after the RT span, and concurrent otherwise
    (no RT recorded, or the cycle ends before RT starts).
    """
    tr = treatment.copy()
    start, end = as_dates(tr["start_date"]), as_dates(tr["end_date"])
    is_rt = tr["treatment"].eq(RT).fillna(False).to_numpy(bool)
    rt = pd.DataFrame({"subject_id": tr["subject_id"][is_rt], "s": start[is_rt], "e": end[is_rt]})
    # an ongoing RT course (end missing) spans to the far future
    rt["e"] = rt["e"].fillna(pd.Timestamp.max.normalize())
    span = rt.groupby("subject_id", observed=True).agg(rt_start=("s", "min"), rt_end=("e", "max"))
    sp = span.reindex(tr["subject_id"].to_numpy())
    rt_start, rt_end = sp["rt_start"].to_numpy(), sp["rt_end"].to_numpy()
    has_rt = ~pd.isna(rt_start)
    after_rt = has_rt & (start.to_numpy() > rt_end)
    derived = np.where(after_rt, "maintenance", "concurrent")
    given_col = tr["phase"] if "phase" in tr else pd.Series(None, index=tr.index, dtype=object)
    given = given_col.astype(object).where(given_col.notna(), None).to_numpy()
    phase = np.where(is_rt, "concurrent", np.where(pd.isna(given), derived, given))
    tr["phase_derived"] = pd.Series(phase, index=tr.index, dtype="str")
    return tr


def derive_treatment_milestones(treatment: pd.DataFrame, cut_date) -> pd.DataFrame:
    """One row per subject with treatment: the dates the phase rules need (docs/clinical-rules.md
    section 2). DuckDB twin: the ``ms`` CTE of ``toxdb.clinical.events_sql`` (``_rows_sql``).

    Columns: subject_id, first_treatment, concurrent_start, crt_end, maintenance_start, last_dose,
    switched_to_s1, s1_start. A missing end date, or one after the cut, counts as the cut date
    (ongoing, D1), so ``crt_end`` and ``last_dose`` are the cut date while treatment goes on.
    """
    cut = _ts(cut_date)
    if treatment is None or treatment.empty:
        out = pd.DataFrame({c: pd.Series(dtype="datetime64[ns]") for c in MILESTONE_COLUMNS})
        out["subject_id"] = pd.Series(dtype="str")
        out["switched_to_s1"] = pd.Series(dtype=bool)
        return out[MILESTONE_COLUMNS]
    tr = derive_treatment_phase(treatment)
    start = as_dates(tr["start_date"])
    end = as_dates(tr["end_date"])
    end = end.where(end.notna() & (end <= cut), cut)
    what = tr["treatment"].astype(object).to_numpy()
    phase = tr["phase_derived"].to_numpy(object)
    crt = phase == "concurrent"
    maint = (phase == "maintenance") & np.isin(what, CHEMO)
    cape = what == CAPECITABINE
    s1 = what == S1
    nat = np.datetime64("NaT")
    s_np, e_np = start.to_numpy(), end.to_numpy()
    frame = pd.DataFrame({
        "subject_id": tr["subject_id"].to_numpy(),
        "first_treatment": s_np,
        "concurrent_start": np.where(crt, s_np, nat),
        "crt_end": np.where(crt, e_np, nat),
        "maintenance_start": np.where(maint, s_np, nat),
        "last_dose": e_np,
        "cape_start": np.where(cape, s_np, nat),
        "s1_start": np.where(s1, s_np, nat),
    })
    out = frame.groupby("subject_id", sort=True, observed=True).agg(
        first_treatment=("first_treatment", "min"), concurrent_start=("concurrent_start", "min"),
        crt_end=("crt_end", "max"), maintenance_start=("maintenance_start", "min"),
        last_dose=("last_dose", "max"), cape_start=("cape_start", "min"), s1_start=("s1_start", "min"),
    ).reset_index()
    out["switched_to_s1"] = (out["s1_start"].notna() & out["cape_start"].notna()   # D4
                             & (out["s1_start"] > out["cape_start"]))
    out["subject_id"] = out["subject_id"].astype("str")
    return out[MILESTONE_COLUMNS]



# ------------------------------------------------------------------------------------------------
# on treatment at the cut: the one rule (D10)
# ------------------------------------------------------------------------------------------------
LOG_COLUMNS = ["subject_id", "treatment", "phase", "phase_given", "cycle", "start_date", "end_date", "fractions"]
STATUS_COLUMNS = ["subject_id", "started", "off_treatment", "died", "on_chemo", "agent", "phase", "phase_given",
                  "cycle_start", "on_rt", "rt_start", "rt_end", "on_treatment", "notes"]


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    return frame[name] if name in frame.columns else pd.Series(None, index=frame.index, dtype=object)


def _normalised(values: pd.Series, vocabulary: str) -> pd.Series:
    """Written values as stored values of ``vocabulary`` (toxdb.vocab); unknown spellings give None."""
    mapped = map_distinct(values, lambda v: vocab.normalise(vocabulary, v))
    return mapped.astype(object).where(mapped.notna(), None)


def prepare_treatment_log(treatment: pd.DataFrame | None, cut) -> pd.DataFrame:
    """The treatment log as the status rule reads it: one row per RT course or chemotherapy cycle that
    started on or before the cut, treatment names as stored (``toxdb.vocab``: "Xeloda" is
    capecitabine), ``phase`` given or derived from RT timing (D2) with ``phase_given`` saying which,
    sorted by subject then start (rows starting the same day keep their order).

    Columns: LOG_COLUMNS. Rows whose treatment is not a protocol treatment or whose start is not a
    date are left out."""
    cut = _ts(cut)
    if treatment is None or len(treatment) == 0:
        empty = pd.DataFrame({c: pd.Series(dtype=object) for c in LOG_COLUMNS})
        return empty.astype({"start_date": "datetime64[ns]", "end_date": "datetime64[ns]", "phase_given": bool})
    log = pd.DataFrame({
        "subject_id": treatment["subject_id"].astype(str),
        "treatment": _normalised(treatment["treatment"], "treatment"),
        "phase": _normalised(_column(treatment, "phase"), "phase"),
        "cycle": pd.to_numeric(_column(treatment, "cycle"), errors="coerce"),
        "start_date": as_dates(treatment["start_date"]),
        "end_date": as_dates(_column(treatment, "end_date")),
        "fractions": pd.to_numeric(_column(treatment, "fractions"), errors="coerce"),
    })
    log = log[log["treatment"].notna() & log["start_date"].notna() & (log["start_date"] <= cut)]
    given = log["phase"].isin(TREATMENT_PHASES)
    log = derive_treatment_phase(log.assign(phase=log["phase"].where(given, None)))
    log = log.assign(phase=log["phase_derived"], phase_given=given).drop(columns="phase_derived")
    return log.sort_values(["subject_id", "start_date"], kind="stable").reset_index(drop=True)[LOG_COLUMNS]


def _last_rows(log: pd.DataFrame, mask: pd.Series, subjects: pd.Series) -> pd.DataFrame:
    """Each subject's latest row among ``mask`` (the log is sorted by start), aligned to ``subjects``."""
    last = log[mask].groupby("subject_id", sort=False).tail(1).set_index("subject_id")
    return last.reindex(subjects.to_numpy())


def _stopped_by(patients: pd.DataFrame, column: str, cut: pd.Timestamp) -> np.ndarray:
    day = as_dates(_column(patients, column))
    return (day.notna() & (day <= cut)).to_numpy(bool)


def derive_treatment_status(patients: pd.DataFrame, treatment: pd.DataFrame | None, cut, phases,
                            log: pd.DataFrame | None = None) -> pd.DataFrame:
    """Where each patient is at the cut: the one "on treatment" rule (D10), one row per patient.

    ``phases`` is the trial file's [phases] section (cycle_length_days, concurrent_cycles,
    maintenance_cycles, post_treatment_window_days). ``log`` may be passed when the caller has
    prepared it already (:func:`prepare_treatment_log` of the same treatment and cut).

    On treatment = on chemotherapy or on RT, and neither off treatment nor dead on or before the cut:

    * on RT: the latest RT course started on or before the cut and has no end date or ends on or
      after the cut;
    * on chemotherapy: the latest cycle started on or before the cut; its end is the later of its
      recorded end and its nominal end (start + cycle_length_days - 1), or the cut while it has no
      end date; the patient is off chemotherapy once all planned cycles (concurrent + maintenance)
      have been given and the last one has ended, or once the cut is more than
      post_treatment_window_days after the last cycle's end (no next cycle recorded: a note says so).

    Only the patient's own treatment rows count: a patient without one is not on treatment, whatever
    the patient table's ``agent`` says, and no other patient's rows change the answer.

    Columns: STATUS_COLUMNS. ``agent``, ``phase`` and ``cycle_start`` describe the latest
    chemotherapy cycle (also when it is over); ``notes`` is a list of sentences per patient.
    """
    cut = _ts(cut)
    log = prepare_treatment_log(treatment, cut) if log is None else log
    pts = patients.assign(subject_id=patients["subject_id"].astype(str)).drop_duplicates("subject_id", keep="last")
    sid = pts["subject_id"].reset_index(drop=True)
    off, died = _stopped_by(pts, "off_treatment_on", cut), _stopped_by(pts, "death_on", cut)
    stopped = off | died

    is_rt = log["treatment"].eq(RT)
    chemo = _last_rows(log, ~is_rt, sid)
    cycles = log[~is_rt].drop_duplicates(["subject_id", "treatment", "start_date"]).groupby("subject_id").size()
    n_cycles = cycles.reindex(sid.to_numpy()).fillna(0).to_numpy()
    start, end = as_dates(chemo["start_date"]).to_numpy(), as_dates(chemo["end_date"]).to_numpy()
    nominal_end = start + np.timedelta64(int(phases.cycle_length_days) - 1, "D")
    cycle_end = np.where(pd.isna(end), np.datetime64(cut), np.maximum(end, nominal_end))
    has_chemo = ~pd.isna(start)
    planned = int(phases.concurrent_cycles) + int(phases.maintenance_cycles)
    finished = has_chemo & (n_cycles >= planned) & (np.datetime64(cut) > cycle_end)
    stale = has_chemo & (np.datetime64(cut) > cycle_end + np.timedelta64(int(phases.post_treatment_window_days), "D"))
    on_chemo = has_chemo & ~(stopped | finished | stale)
    agent = chemo["treatment"].to_numpy(object)

    rt = _last_rows(log, is_rt, sid)
    rt_start, rt_end = as_dates(rt["start_date"]), as_dates(rt["end_date"])
    on_rt = (rt_start.notna() & (rt_end.isna() | (rt_end >= cut))).to_numpy(bool) & ~stopped

    # a hash lookup: np.isin on two object arrays of 10,000 ids compares them pairwise (seconds)
    started = sid.isin(set(log["subject_id"].astype(str))).to_numpy(bool)
    out = pd.DataFrame({
        "subject_id": sid, "started": started, "off_treatment": off, "died": died, "on_chemo": on_chemo,
        "agent": pd.Series(agent, dtype=object).where(~pd.isna(agent), None),
        "phase": chemo["phase"].to_numpy(object), "phase_given": chemo["phase_given"].fillna(True).to_numpy(bool),
        "cycle_start": as_dates(chemo["start_date"]).to_numpy(), "on_rt": on_rt,
        "rt_start": rt_start.to_numpy(), "rt_end": rt_end.to_numpy(),
    })
    out["on_treatment"] = out["on_chemo"] | out["on_rt"]
    out["notes"] = _status_notes(out, stale & ~(stopped | finished))
    return out[STATUS_COLUMNS]


def _status_notes(status: pd.DataFrame, stale: np.ndarray) -> list[list[str]]:
    """The sentences a dose hint carries about how the status was read (per patient, in this order)."""
    notes: list[list[str]] = []
    for i, row in enumerate(status.itertuples(index=False)):
        mine = []
        if stale[i]:
            mine.append(f"no chemotherapy cycle since {row.cycle_start:%Y-%m-%d}: shown as off treatment "
                        "(record the next cycle or an off-treatment date)")
        if pd.notna(row.cycle_start) and not row.phase_given:
            mine.append(f"phase derived from RT timing in the treatment log ({row.phase})")
        notes.append(mine)
    return notes


def describe_on_treatment_rule(phases) -> str:
    """The on-treatment rule (D10) in words, for the captions of the pages that count it."""
    return _("On treatment at the cut: started protocol treatment, neither off treatment nor dead, and either "
             "within a radiotherapy course or within a chemotherapy cycle or its {window} days after (a cycle "
             "lasts at least {cycle} days), with the planned {planned} cycles not yet all given and over.").format(
        window=int(phases.post_treatment_window_days), cycle=int(phases.cycle_length_days),
        planned=int(phases.concurrent_cycles) + int(phases.maintenance_cycles))
