"""Treatment milestones and phases: the one place where a patient's course is read from the
treatment log (first treatment, chemoradiotherapy end, maintenance start, last dose, S-1 switch).

Rules: docs/clinical-rules.md section 2. Decisions: docs/decisions.md.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from toxdb.vocab import CHEMO

MILESTONE_COLUMNS = ["subject_id", "first_treatment", "concurrent_start", "crt_end", "maintenance_start",
                     "last_dose", "switched_to_s1", "s1_start"]


def _ts(day) -> pd.Timestamp:
    return pd.Timestamp(day).normalize()


def _dates(s: pd.Series) -> pd.Series:
    """Dates as datetime64[ns] (the store returns [us]; mixing units in comparisons is fine but
    merges keep whatever arrives, so normalise once)."""
    return pd.to_datetime(s).astype("datetime64[ns]")


# ------------------------------------------------------------------------------------------------
# treatment milestones
# ------------------------------------------------------------------------------------------------
def derive_treatment_phase(treatment: pd.DataFrame) -> pd.DataFrame:
    """Add ``phase_derived``: the row's phase, filling a missing chemotherapy phase from RT timing.

    RT rows are concurrent. A chemo cycle without a phase is concurrent when it overlaps the
    patient's RT span, maintenance when it starts after the RT span, and concurrent otherwise
    (no RT recorded, or the cycle ends before RT starts).
    """
    tr = treatment.copy()
    start, end = _dates(tr["start_date"]), _dates(tr["end_date"])
    is_rt = tr["treatment"].eq("RT").fillna(False).to_numpy(bool)
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
    """One row per subject with treatment: the dates the phase rules need (spec section 2).

    Columns: subject_id, first_treatment, concurrent_start, crt_end, maintenance_start, last_dose,
    switched_to_s1, s1_start. A missing end date, or one after the cut, counts as the cut date
    (ongoing), so ``crt_end`` and ``last_dose`` are the cut date while treatment goes on.
    """
    cut = _ts(cut_date)
    if treatment is None or treatment.empty:
        out = pd.DataFrame({c: pd.Series(dtype="datetime64[ns]") for c in MILESTONE_COLUMNS})
        out["subject_id"] = pd.Series(dtype="str")
        out["switched_to_s1"] = pd.Series(dtype=bool)
        return out[MILESTONE_COLUMNS]
    tr = derive_treatment_phase(treatment)
    start = _dates(tr["start_date"])
    end = _dates(tr["end_date"])
    end = end.where(end.notna() & (end <= cut), cut)
    what = tr["treatment"].astype(object).to_numpy()
    phase = tr["phase_derived"].to_numpy(object)
    crt = phase == "concurrent"
    maint = (phase == "maintenance") & np.isin(what, CHEMO)
    cape = what == "capecitabine"
    s1 = what == "S-1"
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
    out["switched_to_s1"] = (out["s1_start"].notna() & out["cape_start"].notna()
                             & (out["s1_start"] > out["cape_start"]))
    out["subject_id"] = out["subject_id"].astype("str")
    return out[MILESTONE_COLUMNS]


# ------------------------------------------------------------------------------------------------
# adverse-event rows
# ------------------------------------------------------------------------------------------------
