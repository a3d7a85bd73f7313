"""Lab-vs-AE queries: graded lab values that no adverse event (or only a lower-grade one) accounts for.

Clinical rules: docs/clinical-rules.md section 4 (grading, done by ``toxdb.clinical.labs``); decisions
D21 and D22 in docs/decisions.md.

Public API
----------
compute_lab_queries(snapshot, trial, window_days=None, ...) -> LabQueryResult (.table, .flagged, .summary)
filter_lab_queries(table, sites=None, tests=None)              -> the rows of the chosen sites and tests
lab_query_rule(window_days)                                    -> the rule in words (page and footnotes)
lab_queries_for_export(table)                                  -> dates as YYYY-MM-DD text (CSV, xlsx)

The rule
--------
1. Every lab value up to the cut is graded by the trial's CTCAE version of record (``derive_lab_grades``;
   the other version is in grade_v5/grade_v6), with the baseline
   (ALT, AST, bilirubin, ALP, GGT when abnormal at baseline) = the last value of that test *before*
   the patient's first treatment (``compute_lab_baselines``).
2. A value collected on or after the first treatment with grade >= 1 needs an AE: the CTCAE term the
   test grades (ANC -> Neutrophil count decreased, ...), the same patient, and the lab date within
   ``window_days`` (default 7) of the AE: from ``window_days`` before its onset to ``window_days``
   after its end (an AE still going on at the lab date covers it; an ongoing AE runs to the cut).
   When several AEs cover a value, the one with the highest grade counts.
3. A query is raised when no AE covers the value, or the AE's (worst) grade is lower than the lab grade.
4. One query per episode, naming its worst value: all values covered by the same AE are one episode;
   values with no AE form one episode per run of consecutive values of that test that all lack an
   AE (a value that is normal, or covered by an AE, ends the run). ``first_on`` / ``last_on`` /
   ``n_labs`` give the span.
5. Values that cannot be graded (a unit missing where the magnitude fits two units, a unit not
   recognised, a missing LLN/ULN the grade depends on, a value that is not a number) are not graded
   and are listed in ``.flagged`` with the reason, whatever their date.

Decisions on points the rules leave open (D21, D22 in docs/decisions.md; each is also stated where
it is applied):

* Baseline is strictly before the first-treatment day (D21: the rules take the last value before
  the first treatment); a value drawn on day 1 is an on-treatment value and may raise a query.
  ``same_day_is_baseline=True`` makes a day-1 value baseline instead (pre-dose sample); it is then
  not queried, so every value is either baseline or on treatment, never both.
* An abnormality already present at baseline is not a new adverse event: a value whose grade (for
  the same term) is no higher than the grade of that patient's baseline value is not queried
  (counted in ``summary['not_queried_baseline']``). ``skip_unchanged_from_baseline=False`` turns
  this off. Tests graded against the baseline itself (ALT with an abnormal baseline, ...) are
  already relative to it.
* The AE grade compared is the event's worst grade (grade changes recorded over several rows are
  one event, see ``toxdb.clinical.events``, D7); its onset is the imputed onset for partial dates.
* Tests that are not graded at all (e.g. CRP) are neither queried nor flagged; they are counted in
  ``summary['labs_test_not_graded']``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from toxdb.clinical.ctcae_versions import DEFAULT_VERSION, ctcae_version
from toxdb.clinical.events import derive_snapshot_events
from toxdb.clinical.labs import compute_lab_baselines, derive_lab_grades
from toxdb.i18n import _

__all__ = [
    "FLAGGED_COLUMNS",
    "QUERY_COLUMNS",
    "LabQueryResult",
    "compute_lab_queries",
    "filter_lab_queries",
    "lab_queries_for_export",
    "lab_query_rule",
]

NO_AE = "no AE reported"
GRADE_LOWER = "AE grade lower than lab grade"
QUERY_COLUMNS = ["subject_id", "site", "collected_on", "test", "value", "unit", "lab_grade", "ctcae_term",
                 "reported_grade", "issue", "query", "first_on", "last_on", "n_labs", "ae_onset", "grade_note"]
FLAGGED_COLUMNS = ["subject_id", "site", "collected_on", "test", "value", "unit", "reason"]
_DAY = pd.Timedelta(days=1)


def lab_query_rule(window_days: int, same_day_is_baseline: bool = False,
                   version: str = DEFAULT_VERSION) -> str:
    """The rule in words, for the page and for exports."""
    day1 = (_("A value drawn on the day of the first treatment counts as baseline (pre-dose).")
            if same_day_is_baseline else
            _("A value drawn on the day of the first treatment is an on-treatment value."))
    return _(
        "Lab values are graded by CTCAE v{version} (SI units; a unit is never guessed). The baseline is the last "
        "value of the test before the first treatment. {day1} Each value from the first treatment to the cut "
        "with grade 1 or more needs an AE of the CTCAE term the test grades (ANC: Neutrophil count decreased, "
        "bilirubin: Blood bilirubin increased, …) for the same patient, dated within {window} days: from "
        "{window} days before the AE's onset to {window} days after its end (an ongoing AE covers "
        "every later value). A query is raised when there is no such AE or its worst grade is lower than the "
        "lab grade. A value no worse than the patient's baseline grade is not queried (present before "
        "treatment). One query per AE episode, or per run of consecutive values without an AE, naming the "
        "worst value.").format(version=version, day1=day1, window=window_days)


@dataclass
class LabQueryResult:
    table: pd.DataFrame                 # QUERY_COLUMNS, one row per query (episode)
    flagged: pd.DataFrame               # FLAGGED_COLUMNS, values not graded and why
    summary: dict = field(default_factory=dict)
    window_days: int = 0
    rule: str = ""


def _day(s) -> pd.Series:
    return pd.to_datetime(s, errors="coerce").astype("datetime64[ns]").dt.normalize()


def _empty(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})


def _empty_queries() -> pd.DataFrame:
    out = _empty(QUERY_COLUMNS)
    for c in ("collected_on", "first_on", "last_on", "ae_onset"):
        out[c] = pd.Series(dtype="datetime64[ns]")
    for c in ("lab_grade", "reported_grade", "n_labs"):
        out[c] = pd.Series(dtype="Int64")
    out["value"] = pd.Series(dtype="float64")
    return out


def _pretty_unit(unit: pd.Series) -> pd.Series:
    """'10^9/L' -> '×10⁹/L' for the query text; missing -> ''."""
    sup = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
    u = unit.astype("string").fillna("").str.strip()
    return u.str.replace(r"^(?:[xX×]\s*)?10\^?([0-9]+)", lambda m: "×10" + m.group(1).translate(sup), regex=True)


def _number(v: pd.Series) -> pd.Series:
    return v.map(lambda x: "" if pd.isna(x) else f"{float(x):g}").astype("string")


_NONE = np.iinfo(np.int64).max          # "no date" among integer day numbers


@dataclass
class _Coded:
    """The graded lab rows as integer codes (the million-row part never touches strings)."""

    graded: pd.DataFrame
    site_of: dict
    subj: np.ndarray
    subj_uniq: pd.Index
    test: np.ndarray              # -1: a test that is not graded
    test_uniq: pd.Index
    term: np.ndarray
    term_uniq: pd.Index
    day: np.ndarray               # day number of the collection
    grade: np.ndarray             # -1: not graded
    known: np.ndarray             # a graded test
    gradable: np.ndarray          # a value that got a grade

    @property
    def n(self) -> int:
        return len(self.graded)


def _code(graded: pd.DataFrame, patients: pd.DataFrame) -> _Coded:
    subj, subj_uniq = pd.factorize(graded["subject_id"].astype(str), sort=False)
    test, test_uniq = pd.factorize(graded["test_code"], use_na_sentinel=True)
    term, term_uniq = pd.factorize(graded["ctcae_term"], use_na_sentinel=True)
    grade_na = graded["grade"].isna().to_numpy(bool)
    return _Coded(
        graded=graded, site_of=dict(zip(patients["subject_id"].astype(str), patients["site"])),
        subj=subj, subj_uniq=pd.Index(subj_uniq), test=test, test_uniq=pd.Index(test_uniq), term=term,
        term_uniq=pd.Index(term_uniq),
        day=_day(graded["collected_on"]).to_numpy().astype("datetime64[D]").astype(np.int64),
        grade=graded["grade"].to_numpy(dtype="int64", na_value=-1), known=test >= 0, gradable=~grade_na)


def _rows_frame(c: _Coded, idx: np.ndarray) -> pd.DataFrame:
    """The lab rows ``idx`` as the query and flag tables show them."""
    sub = c.graded.take(idx)
    sid = sub["subject_id"].astype(str).to_numpy()
    return pd.DataFrame({
        "subject_id": sid,
        "site": pd.Series(sid).map(c.site_of).to_numpy(),
        "collected_on": _day(sub["collected_on"]).to_numpy(),
        "test": sub["test_code"].astype(object).to_numpy(),
        "value": pd.to_numeric(sub["value"], errors="coerce").to_numpy(dtype="float64", na_value=np.nan),
        "unit": sub["unit"].astype(object).where(sub["unit"].notna(), None).to_numpy()
        if "unit" in sub else np.full(len(sub), None, dtype=object),
        "lab_grade": sub["grade"].to_numpy(),
        "ctcae_term": sub["ctcae_term"].astype(object).to_numpy(),
        "grade_note": sub["grade_note"].astype(object).where(sub["grade_note"].notna(), None).to_numpy(),
    })


def _on_treatment(c: _Coded, starts: pd.DataFrame, same_day_is_baseline: bool) -> np.ndarray:
    """Graded values from the first treatment on (after day 1 when day 1 is baseline, D21)."""
    ft_day = np.full(len(c.subj_uniq), _NONE, dtype=np.int64)
    pos = c.subj_uniq.get_indexer(starts["subject_id"].astype(str))
    ft = _day(starts["first_treatment"]).to_numpy().astype("datetime64[D]")
    ok = (pos >= 0) & ~np.isnat(ft)
    ft_day[pos[ok]] = ft[ok].astype(np.int64)
    first = ft_day[c.subj] if c.n else np.zeros(0, np.int64)
    return c.gradable & (first != _NONE) & ((c.day > first) if same_day_is_baseline else (c.day >= first))


def _unchanged_from_baseline(c: _Coded, baselines: pd.DataFrame) -> np.ndarray:
    """Values no worse than the baseline value's grade for the same term (D22); several values on the
    baseline day: the worst one is the baseline."""
    n_tests = max(len(c.test_uniq), 1)
    key = c.subj.astype(np.int64) * n_tests + np.maximum(c.test, 0)
    base_day = np.full(len(c.subj_uniq) * n_tests, _NONE, dtype=np.int64)
    if len(baselines):
        bpos = c.subj_uniq.get_indexer(baselines["subject_id"].astype(str))
        btest = c.test_uniq.get_indexer(baselines["test_code"].astype(object))
        bday = _day(baselines["baseline_on"]).to_numpy().astype("datetime64[D]").astype(np.int64)
        keep = (bpos >= 0) & (btest >= 0)
        base_day[bpos[keep] * n_tests + btest[keep]] = bday[keep]
    at_base = np.flatnonzero(c.known & c.gradable & (c.day == base_day[key]))
    base_grade = np.full(len(base_day), -1, dtype=np.int64)
    base_term = np.full(len(base_day), -1, dtype=np.int64)
    order = at_base[np.argsort(c.grade[at_base], kind="stable")]      # the worst written last
    base_grade[key[order]] = c.grade[order]
    base_term[key[order]] = c.term[order]
    return (base_term[key] == c.term) & (c.term >= 0) & (c.grade <= base_grade[key])


def _match_events(c: _Coded, cand_mask: np.ndarray, events: pd.DataFrame, cut: pd.Timestamp,
                  window_days: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each candidate value, the covering AE of its term with the highest grade (then the nearest
    onset): (its worst grade, NaN when none; its event id, -1; its onset day, _NONE)."""
    ev_term = events["term"].astype("string").str.strip().str.casefold()
    term_key = pd.Series(np.asarray(c.term_uniq, dtype=object)).astype("string").str.strip().str.casefold()
    ev_frame = pd.DataFrame({
        "_s": c.subj_uniq.get_indexer(events["subject_id"].astype(str)),
        "_t": pd.Index(term_key.drop_duplicates()).get_indexer(ev_term),
        "event_id": events["event_id"].to_numpy(),
        "reported_grade": pd.to_numeric(events["worst_grade"]).to_numpy(),
        "_on": _day(events["onset_date"]).to_numpy().astype("datetime64[D]").astype(np.int64),
    })
    cut_day = np.datetime64(cut.date(), "D").astype(np.int64)
    end = _day(events["end_date"]).to_numpy().astype("datetime64[D]")
    # an AE still going on (no end, or an end after the cut) covers values up to the cut
    ev_frame["_end"] = np.where(np.isnat(end), cut_day, np.minimum(end.astype(np.int64), cut_day))
    ev_frame = ev_frame[(ev_frame["_s"] >= 0) & (ev_frame["_t"] >= 0)
                        & ~np.isnat(_day(events["onset_date"]).to_numpy()) & (ev_frame["_on"] <= cut_day)]
    term_code_key = pd.Index(term_key.drop_duplicates()).get_indexer(term_key) if len(term_key) else np.zeros(0, int)
    cidx = np.flatnonzero(cand_mask)
    cand = pd.DataFrame({"_rid": cidx, "_s": c.subj[cidx], "_t": term_code_key[c.term[cidx]] if len(cidx) else cidx,
                         "_day": c.day[cidx]})
    m = cand.merge(ev_frame, on=["_s", "_t"], how="inner", sort=False)
    m = m[(m["_day"] >= m["_on"] - window_days) & (m["_day"] <= m["_end"] + window_days)]
    m = m.assign(_dist=(m["_on"] - m["_day"]).abs())
    best = m.sort_values(["_rid", "reported_grade", "_dist"], ascending=[True, False, True], kind="stable") \
        .drop_duplicates("_rid")
    rid = best["_rid"].to_numpy()
    reported = np.full(c.n, np.nan)
    reported[rid] = best["reported_grade"].to_numpy(dtype="float64")
    event_id = np.full(c.n, -1, dtype=np.int64)
    event_id[rid] = best["event_id"].to_numpy(dtype=np.int64)
    ae_onset = np.full(c.n, _NONE, dtype=np.int64)
    ae_onset[rid] = best["_on"].to_numpy()
    return reported, event_id, ae_onset


def _worst_of_episodes(c: _Coded, on: np.ndarray, is_query: np.ndarray, no_ae: np.ndarray,
                       event_id: np.ndarray) -> pd.DataFrame:
    """One row per episode (the AE that covers the values, or a run of consecutive values of a test
    without one) naming its worst value: _rid, n_labs, _first, _last."""
    oidx = np.flatnonzero(on)
    order = oidx[np.lexsort((oidx, c.day[oidx], c.term[oidx], c.test[oidx], c.subj[oidx]))]
    state = no_ae[order]
    subj, test, term = c.subj[order], c.test[order], c.term[order]
    change = np.r_[True, (subj[1:] != subj[:-1]) | (test[1:] != test[:-1]) | (term[1:] != term[:-1])
                   | (state[1:] != state[:-1])] if len(order) else np.zeros(0, bool)
    run = np.full(c.n, -1, dtype=np.int64)
    run[order] = np.cumsum(change)
    qidx = np.flatnonzero(is_query)
    episode = np.where(no_ae[qidx], run[qidx], -1 - event_id[qidx])
    ep_code, _ = pd.factorize(pd.MultiIndex.from_arrays([c.subj[qidx], c.term[qidx], episode]))
    q = pd.DataFrame({"_ep": ep_code, "_rid": qidx, "_grade": c.grade[qidx], "_day": c.day[qidx]})
    span = q.groupby("_ep", sort=False).agg(_first=("_day", "min"), _last=("_day", "max"), n_labs=("_rid", "size"))
    return q.sort_values(["_ep", "_grade", "_day"], ascending=[True, False, True], kind="stable") \
        .drop_duplicates("_ep").join(span, on="_ep")


def _as_date(days: np.ndarray) -> np.ndarray:
    out = np.where(days == _NONE, 0, days).astype("datetime64[D]").astype("datetime64[ns]")
    out[days == _NONE] = np.datetime64("NaT")
    return out


def _query_table(c: _Coded, worst: pd.DataFrame, reported: np.ndarray, ae_onset: np.ndarray,
                 no_ae: np.ndarray, window_days: int) -> pd.DataFrame:
    """QUERY_COLUMNS for the episodes' worst values, with the query in words."""
    widx = worst["_rid"].to_numpy()
    out = _rows_frame(c, widx)
    out["reported_grade"] = pd.array(np.where(~np.isnan(reported[widx]), reported[widx], np.nan),
                                     dtype="Float64").astype("Int64")
    out["lab_grade"] = pd.array(c.grade[widx], dtype="Int64")
    out["n_labs"] = pd.array(worst["n_labs"].to_numpy(), dtype="Int64")
    out["first_on"] = _as_date(worst["_first"].to_numpy(np.int64))
    out["last_on"] = _as_date(worst["_last"].to_numpy(np.int64))
    out["ae_onset"] = _as_date(ae_onset[widx])
    out["_no_ae"] = no_ae[widx]
    out["issue"] = np.where(out["_no_ae"].to_numpy(bool), NO_AE, GRADE_LOWER)
    unit = _pretty_unit(out["unit"])
    what = (out["test"].astype("string") + " " + _number(out["value"])
            + unit.where(unit == "", " " + unit) + " on " + out["collected_on"].dt.strftime("%Y-%m-%d")
            + " is grade " + out["lab_grade"].astype("string") + " " + out["ctcae_term"].astype("string"))
    said = pd.Series(np.where(
        out["_no_ae"].to_numpy(bool),
        "; no " + out["ctcae_term"].astype(str) + f" AE is reported within {window_days} days of it",
        "; the AE reported is grade " + out["reported_grade"].astype("string").fillna("")
        + " (onset " + out["ae_onset"].dt.strftime("%Y-%m-%d").fillna("") + ")",
    ), index=out.index, dtype="string")
    many = out["n_labs"].fillna(1).to_numpy() > 1
    tail = pd.Series(np.where(
        many, " (worst of " + out["n_labs"].astype("string").fillna("") + " values from "
        + out["first_on"].dt.strftime("%Y-%m-%d") + " to " + out["last_on"].dt.strftime("%Y-%m-%d") + ")", ""),
        index=out.index, dtype="string")
    out["query"] = (what + said + tail).astype(str)
    out = out.sort_values(["subject_id", "collected_on", "test"], kind="stable")[QUERY_COLUMNS] \
        .reset_index(drop=True)
    out["unit"] = out["unit"].astype(object).where(out["unit"].notna(), None)
    return out


def compute_lab_queries(snapshot, trial, window_days: int | None = None, *, grading_version: str | None = None,
                        same_day_is_baseline: bool = False, skip_unchanged_from_baseline: bool = True,
                        derived=None) -> LabQueryResult:
    """Queries for lab values of grade >= 1 that no AE (or only a lower-grade AE) accounts for.

    ``snapshot``: a cuts.Snapshot with labs (subject_id, collected_on, test, value, unit, lln, uln),
    adverse_events, treatment and patients (for the site). ``trial``: the trial file (its
    post-treatment window derives the events, its CTCAE version grades the labs). ``window_days``: how
    far (days) a lab date may lie before an AE's onset or after its end and still be covered by it
    (None: ``[lab_queries] window_days`` of the trial file). ``grading_version``: grade the values by this
    version instead of the trial's version of record (a look at what the other version would ask).
    ``derived``: a ``derive_snapshot_events`` result for the same snapshot, to avoid deriving twice.
    See the module docstring for the rule and the decisions.
    """
    window_days = int(trial.lab_queries.window_days if window_days is None else window_days)
    if window_days < 0:
        raise ValueError(f"window_days must be >= 0, got {window_days}")
    cut = pd.Timestamp(snapshot.cut.cut_date).normalize()
    version = ctcae_version(grading_version or trial.ctcae.version)
    rule = lab_query_rule(window_days, same_day_is_baseline, version)
    labs = snapshot.labs
    summary = {"window_days": window_days, "labs": 0, "labs_graded": 0, "labs_test_not_graded": 0,
               "abnormal_on_treatment": 0, "not_queried_baseline": 0, "covered_by_ae": 0, "queries": 0,
               "queries_no_ae": 0, "queries_grade_lower": 0, "patients_with_queries": 0, "flagged": 0}
    if labs is None or len(labs) == 0:
        return LabQueryResult(_empty_queries(), _empty(FLAGGED_COLUMNS), summary, window_days, rule)

    labs = labs.loc[(_day(labs["collected_on"]) <= cut).to_numpy()].reset_index(drop=True)
    if derived is None:
        derived = derive_snapshot_events(snapshot, trial.phases.post_treatment_window_days)
    starts = derived.milestones[["subject_id", "first_treatment"]]
    # grade twice: the baseline needs graded (SI) values, and the baseline criteria need the baseline
    baselines = compute_lab_baselines(derive_lab_grades(labs), starts, same_day_counts=same_day_is_baseline)
    c = _code(derive_lab_grades(labs, baselines, version=version), snapshot.patients)
    summary.update(labs=c.n, labs_graded=int(c.gradable.sum()), labs_test_not_graded=int((~c.known).sum()))

    fl = _rows_frame(c, np.flatnonzero(c.known & ~c.gradable)).rename(columns={"grade_note": "reason"})
    flagged = fl.sort_values(["subject_id", "collected_on", "test"], kind="stable")[FLAGGED_COLUMNS] \
        .reset_index(drop=True)
    summary["flagged"] = len(flagged)

    on = _on_treatment(c, starts, same_day_is_baseline)
    abnormal = on & (c.grade >= 1)
    unchanged = _unchanged_from_baseline(c, baselines) if skip_unchanged_from_baseline else np.zeros(c.n, bool)
    cand_mask = abnormal & ~unchanged
    summary.update(abnormal_on_treatment=int(abnormal.sum()), not_queried_baseline=int((abnormal & unchanged).sum()))

    reported, event_id, ae_onset = _match_events(c, cand_mask, derived.events, cut, window_days)
    matched = ~np.isnan(reported)
    with np.errstate(invalid="ignore"):
        is_query = cand_mask & (~matched | (reported < c.grade))
    summary["covered_by_ae"] = int((cand_mask & ~is_query).sum())
    if not is_query.any():
        return LabQueryResult(_empty_queries(), flagged, summary, window_days, rule)
    no_ae = is_query & ~matched
    worst = _worst_of_episodes(c, on, is_query, no_ae, event_id)
    out = _query_table(c, worst, reported, ae_onset, no_ae, window_days)
    summary.update(queries=len(out), queries_no_ae=int((out["issue"] == NO_AE).sum()),
                   queries_grade_lower=int((out["issue"] == GRADE_LOWER).sum()),
                   patients_with_queries=int(out["subject_id"].nunique()))
    return LabQueryResult(out, flagged, summary, window_days, rule)


def filter_lab_queries(table: pd.DataFrame, sites=None, tests=None) -> pd.DataFrame:
    """Rows of ``table`` (queries or flagged values) whose site and test are among those chosen
    (None or empty: all)."""
    keep = np.ones(len(table), bool)
    if sites:
        keep &= table["site"].isin(list(sites)).to_numpy(bool)
    if tests:
        keep &= table["test"].isin(list(tests)).to_numpy(bool)
    return table.loc[keep].reset_index(drop=True)


def lab_queries_for_export(table: pd.DataFrame) -> pd.DataFrame:
    """Queries (or flagged values) with dates as YYYY-MM-DD text and missing text as "", for CSV and
    spreadsheets (a column with nothing in it is written as empty text)."""
    out = table.copy()
    for c in ("collected_on", "first_on", "last_on", "ae_onset"):
        if c in out:
            out[c] = pd.to_datetime(out[c]).dt.strftime("%Y-%m-%d")
    for c in out.columns:
        if out[c].dtype == object or pd.api.types.is_string_dtype(out[c]):
            out[c] = out[c].astype(object).where(out[c].notna(), "")
        elif len(out) and out[c].isna().all():
            out[c] = ""
    return out
