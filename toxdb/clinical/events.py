"""derive_*: adverse-event rows and events with their phase and treatment-emergent flag, in pandas.

Clinical rules: docs/clinical-rules.md sections 2 (phases) and 3 (counting); the choices those rules
leave open are decisions D1-D9 in docs/decisions.md. Every function is vectorised (groupby / merge /
numpy masks, no per-row Python) so the same code serves 100 patients and 10,000 patients with
1,000,000 adverse-event rows.

This is the reference implementation: the pages that show rows (drill-down, patient course, exports)
use it, and it has hand-worked tests. Its DuckDB twin, ``toxdb.clinical.events_sql``, asks the same
questions inside the database for the views that need only totals; each function below names its
twin, and tests/test_events_twins.py compares the two on random small trials.

Pipeline (each step DataFrame in, DataFrame out, testable on its own)::

    milestones = derive_treatment_milestones(treatment, cut_date)      # one row per subject (D1, D2)
    rows = derive_ae_onset(ae, milestones)                              # onset_imputed (+ flag), D5
    rows = derive_event_ids(rows)                                       # event_id (grade changes), D6
    rows = derive_ae_phase(rows, milestones, window_days)               # phase, treatment_emergent, D8
    events = collapse_events(rows)                                      # one row per event, D7
    # or all at once: derive_event_rows(...) / derive_events(...)
    result = compute_incidence(events, milestones, patients=...)        # toxdb.clinical.incidence
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from toxdb.arrays import as_dates, mask_distinct
from toxdb.clinical.treatment import derive_treatment_milestones
from toxdb.vocab import ATTRIBUTION_ORDER, ON_TREATMENT, PHASES

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
        arr = as_dates(milestones[c]).to_numpy()
        out[c] = np.where(found, arr[np.clip(pos, 0, None)] if len(arr) else NAT, NAT)
    return out


def _ns(s) -> np.ndarray:
    """A date column as a datetime64[ns] numpy array."""
    return as_dates(s).to_numpy()


def derive_ae_onset(ae: pd.DataFrame, milestones: pd.DataFrame) -> pd.DataFrame:
    """Add ``onset_imputed`` and ``onset_imputed_flag`` (ADaM style: NA = full date,
    "D" = day imputed, "M" = month and day imputed).

    The store keeps a partial date as the first day of its period (``onset_precision`` 'month' or
    'year'). The imputed onset is that first day, or ``first_treatment`` when the first treatment
    falls later in the same month (year), so an AE reported as "June" for a patient first treated
    on 16 June is not pushed before treatment. Exception: an AE whose end date is before the first
    treatment keeps the first day of the period (D5).

    DuckDB twin: the ``rows_onset`` CTE of ``events_sql._rows_sql``.
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
    of subject, then reference (rows without one after), then term and onset (D6).

    DuckDB twin: the ``rows_open`` / ``rows_chained`` CTEs of ``events_sql._rows_sql`` (an event
    there is the key ``sid, rid, event_tid, chain``).
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


def derive_ae_phase(ae: pd.DataFrame, milestones: pd.DataFrame, window_days: int) -> pd.DataFrame:
    """Add ``phase`` (pre-treatment / concurrent / maintenance / post-treatment), ``baseline_grade``,
    ``worsening`` and ``treatment_emergent`` to AE rows (docs/clinical-rules.md section 2).

    Onset d = ``onset_imputed`` (``onset_date`` when not imputed). With W = ``window_days``:
    pre-treatment if d < first_treatment (or the patient has no treatment); concurrent if
    d < maintenance_start, or, with no maintenance started, d <= crt_end + W; maintenance if
    maintenance_start <= d <= last_dose + W; post-treatment otherwise.
    ``baseline_grade`` = worst grade among the subject's pre-treatment rows of the same term;
    ``worsening`` = an on-treatment row graded above it; ``treatment_emergent`` = on treatment
    (concurrent or maintenance). A worsening is on treatment by definition, so it is included; it
    matters for events that start before treatment (see collapse_events, D8).

    DuckDB twin: the ``rows_phase``, ``baseline`` and ``rows`` CTEs of ``events_sql._rows_sql``.
    """
    out = ae.copy(deep=False)
    d = _ns(out["onset_imputed"] if "onset_imputed" in out else out["onset_date"])
    ms = _attach(out, milestones, ["first_treatment", "crt_end", "maintenance_start", "last_dose"])
    ft, crt_end, m0, last = ms["first_treatment"], ms["crt_end"], ms["maintenance_start"], ms["last_dose"]
    w = np.timedelta64(int(window_days), "D")
    has_ft, has_m = ~pd.isna(ft), ~pd.isna(m0)
    pre = ~has_ft | (d < ft)                       # never treated: every AE pre-treatment (D3)
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


def derive_event_rows(ae: pd.DataFrame, treatment: pd.DataFrame, cut_date, window_days: int,
                      milestones: pd.DataFrame | None = None) -> pd.DataFrame:
    """AE rows with every derived column: onset_imputed, event_id, phase, treatment_emergent...

    DuckDB twin: ``events_sql._rows_sql`` (the CTE ``rows``); ``events_sql.read_first_qualifying_rows``
    answers the monitoring question from it."""
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
    """One row per event_id from derived AE rows (see derive_events, D7). Sorted by event_id.

    DuckDB twin: the ``events`` CTE of ``events_sql._events_sql``."""
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
    window_days: int               # the post-treatment window the events were derived with


def derive_snapshot_events(snapshot, window_days: int) -> DerivedEvents:
    """Milestones, derived AE rows and events for a cuts.Snapshot (as of its cut date).

    DuckDB twin: ``events_sql.compute_incidence_sql`` and ``events_sql.read_first_qualifying_rows``
    start from the stored tables of the same cut."""
    cut = snapshot.cut.cut_date
    ms = derive_treatment_milestones(snapshot.treatment, cut)
    rows = derive_event_rows(snapshot.adverse_events, snapshot.treatment, cut, window_days, milestones=ms)
    return DerivedEvents(ms, rows, collapse_events(rows), snapshot.patients[["subject_id", "site"]].copy(),
                         window_days)


def derive_events(ae: pd.DataFrame, treatment: pd.DataFrame, cut_date, window_days: int) -> pd.DataFrame:
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
