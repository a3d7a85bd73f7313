"""The trial's safety-monitoring status: each cohort's observed path against the boundary of a
design, its cumulative incidence, and the banner sentences when a boundary is crossed.

Joins the cohorts (toxdb.monitoring.cohorts) to the design (toxdb.monitoring.design) and the
statistics of toxdb.monitoring.boundary and toxdb.monitoring.incidence (docs/monitoring.md).
No I/O, no streamlit, no duckdb.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from toxdb.i18n import _, ngettext
from toxdb.monitoring.boundary import (
    BoundaryResult,
    ObservedPathResult,
    OperatingCharacteristicsResult,
    compute_observed_path,
)
from toxdb.monitoring.cohorts import (
    COHORT_LABELS,
    derive_monitoring_cohort,
    derive_monitoring_cohorts,
)
from toxdb.monitoring.design import MonitoringDesign, compute_design
from toxdb.monitoring.incidence import (
    CumulativeIncidenceResult,
    compute_cumulative_incidence,
)
from toxdb.vocab import COHORTS

__all__ = ["MonitoringResult", "compute_boundary_alerts", "compute_boundary_standing", "compute_incidence_at",
           "compute_monitoring", "describe_crossing"]


@dataclass(frozen=True)
class MonitoringResult:
    """Everything the Monitoring page shows for one cohort and one design.

    ``table``: the cohort (one row per evaluable patient, see :func:`derive_monitoring_cohort`).
    ``summary``: plain numbers (patients, events, boundary now, crossing, the sentence, ...).
    """

    phase: str
    design: MonitoringDesign
    table: pd.DataFrame
    boundary: BoundaryResult
    operating_characteristics: OperatingCharacteristicsResult
    observed: ObservedPathResult
    incidence: CumulativeIncidenceResult
    summary: dict[str, Any] = field(default_factory=dict)


_DESIGN_FIELDS = {f.name for f in dataclasses.fields(MonitoringDesign)}


def compute_monitoring(
    snapshot: Any,
    trial: Any,
    phase: str = "all",
    design: MonitoringDesign | None = None,
    *,
    cohort: pd.DataFrame | None = None,
    **overrides: Any,
) -> MonitoringResult:
    """Boundary, operating characteristics, observed path and cumulative incidence for one cohort.

    ``design`` defaults to the design of record (the trial file); keyword ``overrides`` change any
    of its fields (``method``, ``delta``, ``cp0``, ``n_max``, ``p0``, ``p1``, ``first_look``,
    ``prior_a``, ``prior_b``, ``threshold``).  ``cohort`` may be passed when already derived
    (e.g. from :func:`derive_monitoring_cohorts`) to skip that step.
    """
    if phase not in COHORTS:
        raise ValueError(f"phase must be one of {', '.join(COHORTS)}; got {phase!r}")
    unknown = set(overrides) - _DESIGN_FIELDS
    if unknown:
        raise ValueError(f"unknown design setting(s): {', '.join(sorted(unknown))}; "
                         f"allowed: {', '.join(sorted(_DESIGN_FIELDS))}")
    design = design or MonitoringDesign.from_trial(trial)
    if overrides:
        design = design.replace(**overrides)
    if cohort is None:
        cohort = derive_monitoring_cohort(snapshot, trial, phase)
    boundary, oc = compute_design(design)
    observed = compute_observed_path(cohort, boundary)
    incidence = compute_cumulative_incidence(cohort[["time", "status"]])
    s = observed.summary
    n = int(s["n"])
    b_now = _boundary_at(boundary, n)
    summary: dict[str, Any] = {
        "phase": phase,
        "phase_label": COHORT_LABELS[phase],
        "design": design.label,
        "grade_min": int(trial.monitoring.grade_min),
        "n": n,
        "x": int(s["x"]),
        "n_max": design.n_max,
        "boundary_now": b_now,
        "crossed": bool(s["crossed"]),
        "crossed_now": b_now is not None and int(s["x"]) >= b_now,
        "first_crossing_n": s["first_crossing_n"],
        "first_crossing_x": s["first_crossing_x"],
        "k_more": s["k_more"],
        "m_next": s["m_next"],
        "sentence": s["sentence"],
        "p_cross_p0": boundary.summary["p_cross_p0"],
        "p_cross_p1": boundary.summary.get("p_cross_p1"),
        "n_event": incidence.summary["n_event"],
        "n_competing": incidence.summary["n_competing"],
        "n_censored": incidence.summary["n_censored"],
    }
    return MonitoringResult(phase=phase, design=design, table=cohort, boundary=boundary,
                            operating_characteristics=oc, observed=observed, incidence=incidence,
                            summary=summary)


def _boundary_at(boundary: BoundaryResult, n: int) -> int | None:
    """The stopping count at look n (None when n is not a look or stopping is impossible there)."""
    t = boundary.table
    hit = t.loc[t["n"] == n, "boundary"]
    if hit.empty or pd.isna(hit.iloc[0]):
        return None
    return int(hit.iloc[0])


def compute_incidence_at(incidence: CumulativeIncidenceResult, days: Any) -> pd.DataFrame:
    """The Aalen-Johansen estimate at given days (right-continuous: the last step at or before the
    day) with its interval, 1 - KM, and the number at risk (follow-up time >= day).
    Days beyond the longest follow-up are dropped."""
    t = incidence.table
    times = t["time"].to_numpy(dtype=float)
    d = np.asarray(list(days), dtype=float)
    if times.size == 0:
        return pd.DataFrame(columns=["day", "cif", "lower", "upper", "one_minus_km", "n_at_risk"])
    d = d[d <= times.max()]
    pos = np.searchsorted(times, d, side="right") - 1  # last time <= day
    take = lambda col: np.where(pos >= 0, t[col].to_numpy(dtype=float)[np.maximum(pos, 0)], 0.0)  # noqa: E731
    nxt = np.searchsorted(times, d, side="left")
    y = t["n_at_risk"].to_numpy()
    at_risk = np.where(nxt < times.size, y[np.minimum(nxt, times.size - 1)], 0)
    return pd.DataFrame({"day": d, "cif": take("cif"), "lower": take("lower"), "upper": take("upper"),
                         "one_minus_km": take("one_minus_km"), "n_at_risk": at_risk.astype(np.int64)})


# --------------------------------------------------------------------------------------------
# banner
# --------------------------------------------------------------------------------------------


def compute_boundary_standing(snapshot: Any, trial: Any, events: pd.DataFrame | None = None
                              ) -> dict[str, dict[str, Any]]:
    """Where each cohort stands against the stopping boundary of the design of record:
    {phase: {n, x, grade_min, boundary_now, crossed, crossed_now, first_crossing_n, first_crossing_x,
    first_boundary}}. One pass over the data; the boundary is cached per design.  ``events``: see
    :func:`derive_monitoring_cohorts`.  The banner and the e-mail alerts (toxdb.alerts) read it."""
    design = MonitoringDesign.from_trial(trial)
    boundary = compute_design(design)[0]
    cohorts = derive_monitoring_cohorts(snapshot, trial, events)
    out = {}
    for phase in COHORTS:
        obs = compute_observed_path(cohorts[phase], boundary).summary
        n, x = int(obs["n"]), int(obs["x"])
        b_now = _boundary_at(boundary, n)
        crossed = bool(obs["crossed"])
        fn = int(obs["first_crossing_n"]) if crossed else None
        out[phase] = {"phase": phase, "n": n, "x": x, "grade_min": int(trial.monitoring.grade_min),
                      "n_max": design.n_max, "boundary_now": b_now, "crossed": crossed,
                      "crossed_now": b_now is not None and x >= b_now, "first_crossing_n": fn,
                      "first_crossing_x": int(obs["first_crossing_x"]) if crossed else None,
                      "first_boundary": _boundary_at(boundary, fn) if crossed else None}
    return out


def compute_boundary_alerts(snapshot: Any, trial: Any, events: pd.DataFrame | None = None) -> list[str]:
    """One sentence per cohort whose observed path crosses the stopping boundary of the design of
    record (trial file).  Empty list when no boundary is crossed.  ``events``: see
    :func:`derive_monitoring_cohorts`."""
    standing = compute_boundary_standing(snapshot, trial, events)
    return [describe_crossing(s) for s in standing.values() if s["crossed"]]


def describe_crossing(s: dict[str, Any]) -> str:
    """The banner's sentence for one crossed cohort of :func:`compute_boundary_standing`."""
    n, x, grade, b_now = s["n"], s["x"], s["grade_min"], s["boundary_now"]
    phase = s["phase"]
    what = _("Stopping boundary crossed ({phase})").format(phase=_(COHORT_LABELS[phase]))
    if s["crossed_now"]:
        return ngettext(
            "{what}: {x} of {n} patient with a grade ≥ {grade} event; the boundary at n = {n} is {b}.",
            "{what}: {x} of {n} patients with a grade ≥ {grade} event; the boundary at n = {n} is {b}.",
            n).format(what=what, x=x, n=n, grade=grade, b=b_now)
    fn, fx, fb = s["first_crossing_n"], s["first_crossing_x"], s["first_boundary"]
    return ngettext(
        "{what}: first at patient {fn}, with {fx} of {fn} patients with a grade ≥ {grade} event "
        "(the boundary at n = {fn} is {fb}); now {x} of {n} patient.",
        "{what}: first at patient {fn}, with {fx} of {fn} patients with a grade ≥ {grade} event "
        "(the boundary at n = {fn} is {fb}); now {x} of {n} patients.",
        n).format(what=what, fn=fn, fx=fx, grade=grade, fb=fb, x=x, n=n)
