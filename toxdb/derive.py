"""derive_* / compute_*: treatment phases, treatment-emergent flags, events and incidence.

Clinical rules: /work/shared/spec/clinical-rules.md sections 2 (phases) and 3 (counting). Every
function is vectorised (groupby / merge / numpy masks, no per-row Python) so the same code serves
100 patients and 10,000 patients with 1,000,000 adverse-event rows.

Pipeline (each step DataFrame in, DataFrame out, testable on its own)::

    milestones = derive_treatment_milestones(treatment, cut_date)      # one row per subject
    rows = derive_ae_onset(ae, milestones)                              # onset_imputed (+ flag)
    rows = derive_event_ids(rows)                                       # event_id (grade changes)
    rows = derive_ae_phase(rows, milestones, window_days)               # phase, treatment_emergent
    events = collapse_events(rows)                                      # one row per event
    # or all at once: derive_event_rows(...) / derive_events(...)
    result = compute_incidence(events, milestones, patients=...)        # .table, .summary

Decisions the spec leaves open (each is also stated where it is applied):

* Treatment end dates after the cut are treated as "ongoing at the cut" (replaced by the cut date),
  like a missing end date: what happens after the cut is not known at the cut.
* A chemotherapy cycle whose ``phase`` is missing is *concurrent* when it overlaps the patient's RT
  span (first RT start to last RT end), *maintenance* when it starts after the RT span ends, and
  *concurrent* when the patient has no RT or the cycle ends before RT starts.
* A patient with no treatment rows has no ``first_treatment``: all their AEs are ``pre-treatment``
  and none is treatment-emergent (they are not at risk in any phase either).
* ``switched_to_s1`` is True when a patient has an S-1 cycle starting after a capecitabine cycle
  started (S-1 from the first cycle is not a switch); ``s1_start`` is the first S-1 start whatever
  came before. The phase of an S-1 cycle is that of the cycle (spec section 2).
* Partial onset dates are imputed to the first day of their period, or to ``first_treatment`` when
  the first treatment falls later in that same period, unless the AE is known to have ended before
  the first treatment (ADaM convention: the imputation may not contradict the end date).
* A "worsening" (spec section 2) is a row whose onset lies on treatment (concurrent or maintenance
  phase) with a grade above the worst grade recorded before the first treatment for the same
  subject and term. An event whose first onset is pre-treatment becomes treatment-emergent when one
  of its rows is a worsening; its ``phase`` stays that of its first onset (pre-treatment) and
  ``emergent_phase`` gives the phase in which it worsened (used by the incidence tables). A worsening
  after the on-treatment window is not treatment-emergent (as in ADaM TRTEMFL: nothing after the
  window is).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from toxdb.arrays import mask_distinct

PHASES = ("pre-treatment", "concurrent", "maintenance", "post-treatment")
ON_TREATMENT = ("concurrent", "maintenance")
CHEMO = ("capecitabine", "S-1")
GRADES = (1, 2, 3, 4, 5)
# strongest last: an event's attribution is the strongest recorded on any of its rows
ATTRIBUTION_ORDER = ("unrelated", "unlikely", "possible", "probable", "definite")
RELATED = ("possible", "probable", "definite")
INCIDENCE_PHASES = {"concurrent": "Concurrent (chemoradiotherapy)", "maintenance": "Maintenance",
                    "all": "All treatment-emergent"}
ANY_AE = "Any adverse event"

MILESTONE_COLUMNS = ["subject_id", "first_treatment", "concurrent_start", "crt_end", "maintenance_start",
                     "last_dose", "switched_to_s1", "s1_start"]

COUNTING_RULE = (
    "Incidence = patients with at least one event / patients at risk in that phase. Each patient is "
    "counted once per term (and once per system organ class) at their worst grade, and once in "
    "\"{any}\". Patients at risk in a phase are those who started that phase (concurrent: started "
    "chemoradiotherapy; maintenance: started a maintenance cycle; all: started any treatment). "
    "Only treatment-emergent events count: onset from the first treatment to {w} days after the end "
    "of chemoradiotherapy (no maintenance yet) or after the last dose (maintenance), or a worsening of "
    "a condition present before the first treatment. Grade changes recorded over several rows are one "
    "event at its worst grade, in the phase of its first onset."
)


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
NAT = np.datetime64("NaT", "ns")
DAY_NS = np.int64(86_400_000_000_000)


def _positions(values: pd.Series, index_values: pd.Series) -> np.ndarray:
    """Position of each value in ``index_values`` (-1 when absent); vectorised via factorize."""
    codes, uniques = pd.factorize(values)
    pos = pd.Index(index_values).get_indexer(pd.Index(uniques))
    return np.where(codes >= 0, pos[np.clip(codes, 0, None)] if len(pos) else -1, -1)


def _attach(ae: pd.DataFrame, milestones: pd.DataFrame, cols: list[str]) -> dict[str, np.ndarray]:
    """Milestone dates aligned to the AE rows as datetime64[ns] arrays (NaT: no treatment)."""
    pos = _positions(ae["subject_id"], milestones["subject_id"])
    found = pos >= 0
    out = {}
    for c in cols:
        arr = _dates(milestones[c]).to_numpy()
        out[c] = np.where(found, arr[np.clip(pos, 0, None)] if len(arr) else NAT, NAT)
    return out


def _ns(s) -> np.ndarray:
    """A date column as a datetime64[ns] numpy array."""
    return _dates(s).to_numpy()


def derive_ae_onset(ae: pd.DataFrame, milestones: pd.DataFrame) -> pd.DataFrame:
    """Add ``onset_imputed`` and ``onset_imputed_flag`` (ADaM style: NA = full date,
    "D" = day imputed, "M" = month and day imputed).

    The store keeps a partial date as the first day of its period (``onset_precision`` 'month' or
    'year'). The imputed onset is that first day, or ``first_treatment`` when the first treatment
    falls later in the same month (year), so an AE reported as "June" for a patient first treated
    on 16 June is not pushed before treatment. Exception: an AE whose end date is before the first
    treatment keeps the first day of the period.
    """
    out = ae.copy(deep=False)      # copy-on-write: adding columns leaves the caller's frame as it was
    onset = _ns(out["onset_date"])
    if "onset_precision" in out:
        prec = out["onset_precision"]
        month = prec.eq("month").fillna(False).to_numpy(bool)
        year = prec.eq("year").fillna(False).to_numpy(bool)
    else:
        month = year = np.zeros(len(out), bool)
    ft = _attach(out, milestones, ["first_treatment"])["first_treatment"]
    end = _ns(out["end_date"]) if "end_date" in out else np.full(len(out), NAT)
    same_month = onset.astype("datetime64[M]") == ft.astype("datetime64[M]")   # NaT never equal
    same_year = onset.astype("datetime64[Y]") == ft.astype("datetime64[Y]")
    in_period = (month & same_month) | (year & same_year)
    ended_before = end < ft                                                     # NaT compares False
    use_ft = in_period & (ft > onset) & ~ended_before
    out["onset_imputed"] = np.where(use_ft, ft, onset)
    flag = np.where(year, 1, np.where(month, 0, -1))
    out["onset_imputed_flag"] = pd.Series(pd.Categorical.from_codes(flag, categories=["D", "M"]), index=out.index)
    return out


def derive_event_ids(ae: pd.DataFrame) -> pd.DataFrame:
    """Add ``event_id`` (int, 1..n): rows recording one adverse event as its grade changes.

    Rule:
    1. Rows with an ``ae_ref`` are one event per (subject_id, ae_ref), whatever their dates.
    2. Rows without an ``ae_ref`` are chained per (subject_id, term) in onset order: a row joins the
       previous event when its onset is on or before the day after the latest end date of the rows
       so far in that event (contiguous or overlapping), or when any of those rows is ongoing (no
       end date). Otherwise it starts a new event.
    Onset is ``onset_imputed`` when present, else ``onset_date``. Event ids are numbered in order
    of subject, then reference (rows without one after), then term and onset.
    """
    out = ae.copy(deep=False)
    n = len(out)
    onset = _ns(out["onset_imputed"] if "onset_imputed" in out else out["onset_date"])
    ref = out["ae_ref"] if "ae_ref" in out else pd.Series(pd.NA, index=out.index, dtype="str")
    if not isinstance(ref.dtype, pd.CategoricalDtype):
        ref = ref.astype("str")
    has_ref = mask_distinct(ref, lambda r: bool(str(r).strip()))
    subj, _ = pd.factorize(out["subject_id"], sort=True)
    ref_code, _ = pd.factorize(ref.where(has_ref), sort=True)         # -1 where no reference
    term_code, _ = pd.factorize(out["term"], sort=True)
    chain = np.zeros(n, dtype=np.int64)
    nr = np.flatnonzero(~has_ref)
    if len(nr):
        on_i = onset[nr].astype(np.int64)
        # ongoing = the far future, so the running maximum stays "ongoing"
        end_i = np.where(pd.isna(_ns(out["end_date"])[nr]), np.iinfo(np.int64).max,
                         _ns(out["end_date"])[nr].astype(np.int64))
        order = np.lexsort((end_i, on_i, term_code[nr], subj[nr]))
        s_o, t_o, on_o, end_o = subj[nr][order], term_code[nr][order], on_i[order], end_i[order]
        same = np.r_[False, (s_o[1:] == s_o[:-1]) & (t_o[1:] == t_o[:-1])]
        run = np.cumsum(~same)
        run_max = pd.Series(end_o).groupby(run).cummax().to_numpy()
        prev_max = np.r_[np.iinfo(np.int64).min, run_max[:-1]]
        # prev_max + 1 day overflows for "ongoing": compare onset - 1 day instead
        new = ~same | (on_o - DAY_NS > prev_max)
        chain[nr[order]] = np.cumsum(new)
    # rows with a reference sort before rows without (ref_code -1 -> put last)
    ref_key = np.where(has_ref, ref_code, np.iinfo(np.int64).max)
    # number the distinct (subject, reference, chain) keys 1..n in sorted order
    order = np.lexsort((chain, ref_key, subj))
    s_o, r_o, c_o = subj[order], ref_key[order], chain[order]
    starts = np.r_[True, (s_o[1:] != s_o[:-1]) | (r_o[1:] != r_o[:-1]) | (c_o[1:] != c_o[:-1])] if n else \
        np.zeros(0, dtype=bool)
    event_id = np.empty(n, dtype=np.int64)
    event_id[order] = np.cumsum(starts)
    out["event_id"] = event_id
    return out


def derive_ae_phase(ae: pd.DataFrame, milestones: pd.DataFrame, window_days: int = 30) -> pd.DataFrame:
    """Add ``phase`` (pre-treatment / concurrent / maintenance / post-treatment), ``baseline_grade``,
    ``worsening`` and ``treatment_emergent`` to AE rows (spec section 2).

    Onset d = ``onset_imputed`` (``onset_date`` when not imputed). With W = ``window_days``:
    pre-treatment if d < first_treatment (or the patient has no treatment); concurrent if
    d < maintenance_start, or, with no maintenance started, d <= crt_end + W; maintenance if
    maintenance_start <= d <= last_dose + W; post-treatment otherwise.
    ``baseline_grade`` = worst grade among the subject's pre-treatment rows of the same term;
    ``worsening`` = an on-treatment row graded above it; ``treatment_emergent`` = on treatment
    (concurrent or maintenance). A worsening is on treatment by definition, so it is included; it
    matters for events that start before treatment (see collapse_events).
    """
    out = ae.copy(deep=False)
    d = _ns(out["onset_imputed"] if "onset_imputed" in out else out["onset_date"])
    ms = _attach(out, milestones, ["first_treatment", "crt_end", "maintenance_start", "last_dose"])
    ft, crt_end, m0, last = ms["first_treatment"], ms["crt_end"], ms["maintenance_start"], ms["last_dose"]
    w = np.timedelta64(int(window_days), "D")
    has_ft, has_m = ~pd.isna(ft), ~pd.isna(m0)
    pre = ~has_ft | (d < ft)
    conc = has_ft & ~pre & np.where(has_m, d < m0, d <= crt_end + w)
    maint = has_ft & has_m & (d >= m0) & (d <= last + w)
    phase = np.select([pre, conc, maint], [0, 1, 2], 3)
    out["phase"] = pd.Series(pd.Categorical.from_codes(phase, categories=list(PHASES)), index=out.index)
    on = conc | maint
    grade = pd.to_numeric(out["grade"]).to_numpy().astype(float)
    bg = np.full(len(out), np.nan)
    if pre.any():
        subj, _ = pd.factorize(out["subject_id"])
        term, terms = pd.factorize(out["term"])
        pair = subj.astype(np.int64) * (len(terms) + 1) + term
        base = pd.Series(grade[pre]).groupby(pair[pre]).max()
        pos = base.index.get_indexer(pair)
        bg = np.where(pos >= 0, base.to_numpy()[np.clip(pos, 0, None)], np.nan)
    out["baseline_grade"] = pd.array(bg, dtype="Float64").astype("Int64")
    out["worsening"] = on & ~np.isnan(bg) & (grade > np.nan_to_num(bg, nan=np.inf))
    out["treatment_emergent"] = on
    return out


def derive_event_rows(ae: pd.DataFrame, treatment: pd.DataFrame, cut_date, window_days: int = 30,
                      milestones: pd.DataFrame | None = None) -> pd.DataFrame:
    """AE rows with every derived column: onset_imputed, event_id, phase, treatment_emergent..."""
    if milestones is None:
        milestones = derive_treatment_milestones(treatment, cut_date)
    rows = derive_ae_onset(ae, milestones)
    rows = derive_event_ids(rows)
    return derive_ae_phase(rows, milestones, window_days)


EVENT_COLUMNS = ["subject_id", "event_id", "term", "soc", "worst_grade", "onset_date", "end_date", "serious",
                 "phase", "emergent_phase", "treatment_emergent", "attribution", "attributed_to",
                 "onset_imputed_flag", "n_rows", "first_upload_id", "first_source_row"]


def _first_where(mask: np.ndarray, group: np.ndarray, n_groups: int) -> np.ndarray:
    """For rows sorted by group: position of the first row of each group where mask is True (-1: none)."""
    out = np.full(n_groups, -1, dtype=np.int64)
    hits = np.flatnonzero(mask)
    g, first = np.unique(group[hits], return_index=True)
    out[g] = hits[first]
    return out


def _col(rows: pd.DataFrame, name: str, default=None) -> pd.Series:
    return rows[name] if name in rows else pd.Series(default, index=rows.index, dtype=object)


def collapse_events(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per event_id from derived AE rows (see derive_events). Sorted by event_id."""
    if rows.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in EVENT_COLUMNS})
    onset = _ns(rows["onset_imputed"] if "onset_imputed" in rows else rows["onset_date"])
    grade = pd.to_numeric(rows["grade"]).to_numpy().astype(np.int64)
    eid = rows["event_id"].to_numpy().astype(np.int64)
    # rows of an event: first onset first; on the same day the higher grade first; then by upload and
    # row in the file, so that the result never depends on the order the rows were read in
    upload = _col(rows, "upload_id", 0).fillna(0).to_numpy().astype(np.int64)
    source = _col(rows, "source_row", 0).fillna(0).to_numpy().astype(np.int64)
    order = np.lexsort((source, upload, -grade, onset.astype(np.int64), eid))
    eid_o = eid[order]
    starts = np.flatnonzero(np.r_[True, eid_o[1:] != eid_o[:-1]])
    n_ev = len(starts)
    grp = np.cumsum(np.r_[True, eid_o[1:] != eid_o[:-1]]) - 1            # group number per sorted row
    first = order[starts]                                                   # original position of first row
    attr = _col(rows, "attribution")
    attr_rank = pd.Categorical(attr.astype(object), categories=ATTRIBUTION_ORDER, ordered=True).codes \
        .astype(np.int64)[order]                                            # -1 = missing
    end = _ns(rows["end_date"])[order]
    ongoing = pd.isna(end)
    end_i = np.where(ongoing, np.iinfo(np.int64).min, end.astype(np.int64))
    serious = _col(rows, "serious").astype("boolean").fillna(False).to_numpy(bool)[order]
    worsening = rows["worsening"].to_numpy(bool)[order]
    worst = np.maximum.reduceat(grade[order], starts)
    rank = np.maximum.reduceat(attr_rank, starts)
    strongest = _first_where(attr_rank == rank[grp], grp, n_ev)
    worse_first = _first_where(worsening, grp, n_ev)
    end_max = np.maximum.reduceat(end_i, starts)
    any_ongoing = np.logical_or.reduceat(ongoing, starts)
    take = lambda name, idx, default=None: _col(rows, name, default).take(idx).reset_index(drop=True)  # noqa: E731
    ev = pd.DataFrame({
        "subject_id": take("subject_id", first),
        "event_id": eid_o[starts],
        "term": take("term", first),
        "soc": take("soc", first),
        "worst_grade": worst,
        "onset_date": onset[first],
        "end_date": np.where(any_ongoing, NAT, end_max.astype("datetime64[ns]")),
        "serious": np.logical_or.reduceat(serious, starts),
        "phase": take("phase", first),
    })
    ph = ev["phase"]
    on_first = ph.isin(ON_TREATMENT).to_numpy(bool)
    worsened = ph.eq("pre-treatment").to_numpy(bool) & (worse_first >= 0)
    worse_phase = rows["phase"].take(order[np.clip(worse_first, 0, None)]).reset_index(drop=True)
    ev["emergent_phase"] = ph.where(on_first, worse_phase.where(worsened))
    ev["treatment_emergent"] = on_first | worsened
    ev["attribution"] = pd.Categorical.from_codes(rank, categories=list(ATTRIBUTION_ORDER))
    ev["attributed_to"] = take("attributed_to", order[np.where(strongest >= 0, strongest, starts)])
    ev["onset_imputed_flag"] = take("onset_imputed_flag", first)
    ev["n_rows"] = np.diff(np.r_[starts, len(order)])
    ev["first_upload_id"] = take("upload_id", first, -1)
    ev["first_source_row"] = take("source_row", first, -1)
    for c in ("subject_id", "term", "soc", "phase", "attributed_to", "onset_imputed_flag"):
        if ev[c].dtype == object:
            ev[c] = ev[c].astype("str")
    return ev[EVENT_COLUMNS]


@dataclass
class DerivedEvents:
    """Everything the toxicity views derive from one snapshot (treat as read-only: shared by caches)."""
    milestones: pd.DataFrame       # derive_treatment_milestones
    rows: pd.DataFrame             # derive_event_rows: AE rows with event_id, phase, ...
    events: pd.DataFrame           # collapse_events: one row per event
    patients: pd.DataFrame         # subject_id, site (for site filters)
    window_days: int = 30


def derive_snapshot_events(snapshot, window_days: int = 30) -> DerivedEvents:
    """Milestones, derived AE rows and events for a cuts.Snapshot (as of its cut date)."""
    cut = snapshot.cut.cut_date
    ms = derive_treatment_milestones(snapshot.treatment, cut)
    rows = derive_event_rows(snapshot.adverse_events, snapshot.treatment, cut, window_days, milestones=ms)
    return DerivedEvents(ms, rows, collapse_events(rows), snapshot.patients[["subject_id", "site"]].copy(),
                         window_days)


def derive_events(ae: pd.DataFrame, treatment: pd.DataFrame, cut_date, window_days: int = 30) -> pd.DataFrame:
    """One row per adverse event (grade changes merged; see derive_event_ids for the rule).

    Columns: subject_id, event_id, term, soc, worst_grade, onset_date (first onset, imputed),
    end_date (NaT while any row is ongoing), serious (any row), phase (of the first onset),
    emergent_phase (phase in which it became treatment-emergent: the first onset's phase, or the
    phase of the first worsening row for a pre-treatment condition; NA when not emergent),
    treatment_emergent, attribution (the strongest on any row), attributed_to (from the row with
    the strongest attribution), onset_imputed_flag (of the first row), n_rows, first_upload_id and
    first_source_row (drill-down to the upload).
    """
    return collapse_events(derive_event_rows(ae, treatment, cut_date, window_days))


# ------------------------------------------------------------------------------------------------
# incidence
# ------------------------------------------------------------------------------------------------
@dataclass
class IncidenceResult:
    table: pd.DataFrame            # phase, level, soc, term, n_g1..n_g5, n_ge3, n_any, at_risk, pct_*
    summary: dict = field(default_factory=dict)


COUNT_COLUMNS = [f"n_g{g}" for g in GRADES] + ["n_ge3", "n_any"]
NO_SOC = "(SOC not coded)"


def at_risk_by_phase(milestones: pd.DataFrame, subjects=None) -> dict[str, set]:
    """Patients at risk in each incidence phase: those who started it (spec section 3)."""
    ms = milestones if subjects is None else milestones[milestones["subject_id"].isin(list(subjects))]
    sid = ms["subject_id"].astype("str")
    return {
        "concurrent": set(sid[ms["concurrent_start"].notna()]),
        "maintenance": set(sid[ms["maintenance_start"].notna()]),
        "all": set(sid[ms["first_treatment"].notna()]),
    }


def _site_subjects(patients: pd.DataFrame | None, sites) -> set | None:
    if not sites:
        return None
    if patients is None:
        raise ValueError("filtering by site needs the patients table (subject -> site)")
    return set(patients.loc[patients["site"].isin(list(sites)), "subject_id"].astype("str"))


def filter_events(events: pd.DataFrame, *, attribution=None, serious_only: bool = False,
                  subjects=None) -> pd.DataFrame:
    """Treatment-emergent events kept by the filters: attribution values (None = all), serious
    only, subjects (None = all)."""
    return events[_keep_mask(events, attribution=attribution, serious_only=serious_only, subjects=subjects)]


_INCIDENCE_COLUMNS = ["subject_id", "event_id", "term", "soc", "worst_grade", "onset_date", "emergent_phase"]


def _keep_mask(events: pd.DataFrame, *, attribution=None, serious_only: bool = False, subjects=None) -> np.ndarray:
    keep = events["treatment_emergent"].fillna(False).to_numpy(bool)
    if attribution:
        keep = keep & events["attribution"].isin(list(attribution)).to_numpy(bool)
    if serious_only:
        keep = keep & events["serious"].fillna(False).to_numpy(bool)
    if subjects is not None:
        keep = keep & events["subject_id"].isin(list(subjects)).to_numpy(bool)
    return keep


def _phase_mask(ev: pd.DataFrame, subj_code: np.ndarray, subj_uniques, risk: set, phase: str) -> np.ndarray:
    """Events of one incidence phase from patients at risk in it."""
    at_risk = pd.Index(subj_uniques).isin(list(risk))
    mask = at_risk[subj_code] if len(subj_code) else np.zeros(0, bool)
    if phase != "all":
        mask = mask & ev["emergent_phase"].eq(phase).fillna(False).to_numpy(bool)
    return mask


def compute_incidence(events: pd.DataFrame, milestones: pd.DataFrame, phases=("concurrent", "maintenance", "all"),
                      *, patients: pd.DataFrame | None = None, sites=None, attribution=None,
                      serious_only: bool = False, window_days: int = 30) -> IncidenceResult:
    """Incidence of treatment-emergent events by SOC and term × worst grade × phase (spec section 3).

    ``events`` from derive_events; ``milestones`` from derive_treatment_milestones gives the
    patients at risk (started the phase). ``sites`` (with ``patients`` for subject → site) restricts
    numerators and denominators to those sites; ``attribution`` (values, None = all) and
    ``serious_only`` restrict the events only. A phase's events are the treatment-emergent events
    whose ``emergent_phase`` is that phase ("all": every treatment-emergent event), from patients at
    risk in it.

    ``.table`` has one row per (phase, level, soc, term): level 'any' (the "Any adverse event" row),
    'soc' (patients with any term of the SOC, at their worst grade in it) or 'term'; counts n_g1..n_g5
    (patients whose worst grade is that grade), n_ge3, n_any; pct_* = 100 × n / at_risk.
    """
    subjects = _site_subjects(patients, sites)
    risk = at_risk_by_phase(milestones, subjects)
    slim = events[[c for c in _INCIDENCE_COLUMNS if c in events]]
    ev = slim[_keep_mask(events, attribution=attribution, serious_only=serious_only, subjects=subjects)]
    soc = ev["soc"].fillna(NO_SOC)
    subj_code, subj_u = pd.factorize(ev["subject_id"])
    n_subj = max(len(subj_u), 1)
    grade = pd.to_numeric(ev["worst_grade"]).to_numpy().astype(np.int64)
    soc_code, soc_u = pd.factorize(soc, sort=True)
    term_code, term_u = pd.factorize(ev["term"], sort=True)
    st_code, st_u = pd.factorize(soc_code.astype(np.int64) * (len(term_u) + 1) + term_code, sort=True)
    levels = {
        "any": (np.zeros(len(ev), np.int64), 1, lambda k: (np.full(len(k), ANY_AE, object), np.full(len(k), None))),
        "soc": (soc_code, len(soc_u), lambda k: (np.asarray(soc_u, object)[k], np.full(len(k), None))),
        "term": (st_code, len(st_u), lambda k: (np.asarray(soc_u, object)[st_u[k] // (len(term_u) + 1)],
                                                 np.asarray(term_u, object)[st_u[k] % (len(term_u) + 1)])),
    }
    parts = []
    for ph in phases:
        mask = _phase_mask(ev, subj_code, subj_u, risk[ph], ph)
        for level, (key, n_keys, names) in levels.items():
            # each patient once per key, at their worst grade
            pair = key[mask].astype(np.int64) * n_subj + subj_code[mask]
            worst = pd.Series(grade[mask]).groupby(pair, sort=False).max()
            k = (worst.index.to_numpy() // n_subj).astype(np.int64)
            counts = np.bincount(k * 6 + worst.to_numpy(), minlength=n_keys * 6).reshape(n_keys, 6)
            present = np.flatnonzero(counts.sum(axis=1) > 0) if level != "any" else np.array([0])
            soc_name, term_name = names(present)
            t = pd.DataFrame({"phase": ph, "level": level, "soc": soc_name, "term": term_name})
            for g in GRADES:
                t[f"n_g{g}"] = counts[present, g]
            parts.append(t)
    return finish_incidence(pd.concat(parts, ignore_index=True), phases, {ph: len(risk[ph]) for ph in phases},
                            n_events=len(ev), sites=sites, attribution=attribution, serious_only=serious_only,
                            window_days=window_days)


def finish_incidence(counts: pd.DataFrame, phases, at_risk: dict[str, int], *, n_events: int, sites=None,
                     attribution=None, serious_only: bool = False, window_days: int = 30) -> IncidenceResult:
    """The incidence table from per-(phase, level, soc, term) patient counts n_g1..n_g5: totals,
    patients at risk, percentages, the row order and the summary (shared by compute_incidence and
    derive_sql.compute_incidence_sql, so both give the same table)."""
    table = counts.copy()
    missing_any = [ph for ph in phases if not ((table["phase"] == ph) & (table["level"] == "any")).any()]
    if missing_any:        # the "Any adverse event" row is shown even when nobody has an event
        table = pd.concat([table, pd.DataFrame({"phase": missing_any, "level": "any", "soc": ANY_AE, "term": None,
                                                **{f"n_g{g}": 0 for g in GRADES}})], ignore_index=True)
    for g in GRADES:
        table[f"n_g{g}"] = table[f"n_g{g}"].astype(np.int64)
    table["soc"] = table["soc"].astype("str")
    table["term"] = table["term"].astype("str")
    table["n_ge3"] = table[["n_g3", "n_g4", "n_g5"]].sum(axis=1)
    table["n_any"] = table[[f"n_g{g}" for g in GRADES]].sum(axis=1)
    table["at_risk"] = table["phase"].map(at_risk).astype(int)
    for c in COUNT_COLUMNS:
        table["pct" + c[1:]] = np.where(table["at_risk"] > 0, 100.0 * table[c] / table["at_risk"].clip(lower=1),
                                        np.nan)
    # order: phase; "any AE" first; SOCs by descending patients; terms within a SOC likewise
    soc_n = table[table["level"] == "soc"].set_index(["phase", "soc"])["n_any"]
    sort = pd.DataFrame({
        "ph": table["phase"].map({p: i for i, p in enumerate(phases)}),
        "top": table["level"].ne("any"),
        "soc_n": -soc_n.reindex(pd.MultiIndex.from_arrays([table["phase"], table["soc"]])).fillna(0).to_numpy(),
        "soc": table["soc"], "lvl": table["level"].map({"any": 0, "soc": 1, "term": 2}),
        "n": -table["n_any"], "term": table["term"].fillna(""),
    })
    table = table.loc[sort.sort_values(list(sort.columns), kind="stable").index].reset_index(drop=True)
    summary = {
        "at_risk": {ph: int(at_risk[ph]) for ph in phases},
        "events": int(n_events),
        "patients_with_event": dict(zip(table.loc[table["level"] == "any", "phase"],
                                        table.loc[table["level"] == "any", "n_any"].astype(int))),
        "filters": {"sites": sorted(sites) if sites else None,
                    "attribution": sorted(attribution) if attribution else None, "serious_only": serious_only},
        "footnote": COUNTING_RULE.format(any=ANY_AE, w=window_days),
    }
    return IncidenceResult(table, summary)


def select_cell_events(events: pd.DataFrame, milestones: pd.DataFrame, phase: str, grade, *,
                       soc: str | None = None, term: str | None = None, patients: pd.DataFrame | None = None,
                       sites=None, attribution=None, serious_only: bool = False) -> pd.DataFrame:
    """The events counted in one cell of compute_incidence's table (same filters, same rules).

    ``grade``: 1-5 (patients whose worst grade is that grade), "ge3" (worst grade 3 or more) or
    "any". With ``term`` the cell is a term row (``soc`` optional); with only ``soc`` a SOC row;
    with neither the "Any adverse event" row. Returns, per counted patient, their worst event
    (ties: the earliest event).
    """
    subjects = _site_subjects(patients, sites)
    risk = at_risk_by_phase(milestones, subjects)
    keep = _keep_mask(events, attribution=attribution, serious_only=serious_only, subjects=subjects)
    if term is not None:
        keep = keep & events["term"].eq(term).fillna(False).to_numpy(bool)
    if soc is not None:
        keep = keep & events["soc"].fillna(NO_SOC).eq(soc).to_numpy(bool)
    ev = events[keep]
    subj_code, subj_u = pd.factorize(ev["subject_id"])
    ev = ev[_phase_mask(ev, subj_code, subj_u, risk[phase], phase)]
    ev = ev.sort_values(["worst_grade", "event_id"], ascending=[False, True], kind="stable")
    ev = ev.drop_duplicates("subject_id", keep="first")
    g = str(grade).lower()
    if g in ("ge3", ">=3", "≥3", "≥ 3", "grade ≥3"):
        ev = ev[ev["worst_grade"] >= 3]
    elif g != "any":
        ev = ev[ev["worst_grade"] == int(grade)]
    return ev.sort_values(["subject_id", "onset_date"], kind="stable")


SOURCE_COLUMNS = ["subject_id", "term", "grade", "onset_date", "onset_imputed", "end_date", "phase", "serious",
                  "attribution", "event_id", "upload_id", "source_row"]


def incidence_source_rows(rows: pd.DataFrame, cell_events: pd.DataFrame,
                          uploads: pd.DataFrame | None = None) -> pd.DataFrame:
    """The AE rows (as uploaded, with derived phase) behind the events of a cell, by patient and
    onset: the drill-down from a count to the upload and row it came from. With ``uploads``
    (store.uploads()) the upload's file name is added."""
    out = rows[rows["event_id"].isin(cell_events["event_id"].to_numpy())]
    cols = [c for c in SOURCE_COLUMNS if c in out]
    out = out.sort_values(["subject_id", "event_id", "onset_imputed" if "onset_imputed" in out else "onset_date"],
                          kind="stable")[cols].reset_index(drop=True)
    if uploads is not None and "upload_id" in out and len(uploads):
        names = uploads.set_index("upload_id")["file_name"]
        out.insert(len(out.columns) - 1, "file_name", names.reindex(out["upload_id"].to_numpy()).to_numpy())
    return out


# formatted column label -> the grade argument of select_cell_events
GRADE_COLUMNS = {**{f"Grade {g}": g for g in GRADES}, "Grade ≥3": "ge3", "Any grade": "any"}


def format_incidence(table: pd.DataFrame, digits: int = 1) -> pd.DataFrame:
    """The incidence table as text cells "n (x%)" with readable column names (for pages and CSV)."""
    if table.empty:
        return pd.DataFrame(columns=["Phase", "System organ class", "Term", "At risk"])
    labels = {**{f"g{g}": f"Grade {g}" for g in GRADES}, "ge3": "Grade ≥3", "any": "Any grade"}
    out = pd.DataFrame({
        "Phase": table["phase"].map(INCIDENCE_PHASES).fillna(table["phase"]),
        "System organ class": table["soc"],
        "Term": table["term"].where(table["level"] == "term", ""),
        "At risk": table["at_risk"],
    })
    for key, label in labels.items():
        n, pct = table[f"n_{key}"], table[f"pct_{key}"]
        out[label] = n.astype(str) + " (" + pct.round(digits).map(lambda x: f"{x:.{digits}f}", na_action="ignore") \
            .fillna("–") + "%)"
    return out
