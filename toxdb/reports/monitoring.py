"""The Monitoring page's tables in words: the design of record, operating characteristics, the
boundary after every patient, incidence at landmark days and the patients behind a curve.

Each function takes result objects of toxdb.monitoring and returns a DataFrame ready to show (text
columns with the percentages formatted); the page only renders them.
"""
from __future__ import annotations

import pandas as pd

from toxdb.i18n import _
from toxdb.monitoring.boundary import BAYESIAN, FREQUENTIST
from toxdb.monitoring.design import MonitoringDesign
from toxdb.monitoring.status import compute_incidence_at

LANDMARK_DAYS = (30, 60, 90, 180, 365)


def pct(x, digits: int = 1) -> str:
    """0.123 -> "12.3%"; a missing value -> "–"."""
    return "–" if x is None or pd.isna(x) else f"{100 * x:.{digits}f}%"


def format_design_facts(design: MonitoringDesign, boundary) -> pd.DataFrame:
    """One row per setting of the design and what it gives (index: the setting, column: its value)."""
    s = boundary.summary
    shape = s["design"]                  # N_-marked in toxdb.monitoring.boundary
    rule = _("Bayesian beta-binomial") if design.method == BAYESIAN else _("Frequentist, {design}").format(
        design=_(shape))
    rows = [(_("Rule"), rule), (_("Planned patients (N)"), str(design.n_max)),
            (_("Acceptable rate (p0)"), pct(design.p0, 0)), (_("Unacceptable rate (p1)"), pct(design.p1, 0))]
    if design.method == FREQUENTIST:
        rows += [(_("Shape δ (0 Pocock, 0.5 O'Brien–Fleming)"), f"{design.delta:g}"),
                 (_("Allowed chance of stopping at p0 (cP0)"), pct(design.cp0, 0)),
                 (_("Nominal level at each look (α)"), f"{s['alpha']:.4f}")]
    else:
        rows += [(_("Prior"), f"Beta({design.prior_a:g}, {design.prior_b:g})"),
                 (_("Stop when P(rate > p0) exceeds"), pct(design.threshold, 0))]
    looks = design.looks
    every = _("every patient, {first} to {last}").format(first=looks[0], last=looks[-1])
    rows += [(_("Looks"), every if len(looks) > 1 else str(looks[0])),
             (_("Chance of crossing if the true rate is p0"), pct(s["p_cross_p0"])),
             (_("Chance of crossing if the true rate is p1"), pct(s.get("p_cross_p1")))]
    first = s.get("first_possible_stop")
    if first:
        rows.append((_("Earliest possible stop"),
                     _("{events} of the first {n} patients").format(events=first["events"], n=first["n"])))
    return pd.DataFrame(rows, columns=[_("Setting"), _("Value")]).set_index(_("Setting"))


def format_operating_characteristics(oc) -> pd.DataFrame:
    t = oc.table
    return pd.DataFrame({
        _("True rate"): [pct(p, 0) for p in t["p"]],
        _("P(cross)"): [pct(v) for v in t["p_cross"]],
        _("P(stop early)"): [pct(v) for v in t["p_stop_early"]],
        _("Expected patients"): [f"{v:.1f}" for v in t["expected_n"]],
    })


def format_design_comparison(table: pd.DataFrame) -> pd.DataFrame:
    """compute_design_comparison's table with its rates as percentages and expected N to one decimal."""
    out = pd.DataFrame({_("True rate"): [pct(p, 0) for p in table["p"]]})
    for col in table.columns[1:]:
        out[col] = [f"{v:.1f}" if col.endswith("expected N") else pct(v) for v in table[col]]
    return out


def format_boundary_listing(boundary) -> pd.DataFrame:
    t = boundary.table
    return pd.DataFrame({
        _("After patient n"): t["n"].astype(int),
        _("Stop at (patients with event)"): t["boundary"].astype("string").fillna(_("no stop possible")),
    })


def format_incidence_landmarks(incidence, days=LANDMARK_DAYS) -> pd.DataFrame:
    """The cumulative incidence at landmark days with its interval, 1 − KM and the number at risk."""
    at = compute_incidence_at(incidence, days)
    return pd.DataFrame({
        _("Day"): at["day"].astype(int),
        _("Incidence (95% CI)"): [f"{pct(c)} ({pct(lo)} to {pct(hi)})"
                                  for c, lo, hi in zip(at["cif"], at["lower"], at["upper"])],
        _("1 − KM"): [pct(v) for v in at["one_minus_km"]],
        _("At risk"): at["n_at_risk"],
    })


def format_cohort_patients(cohort: pd.DataFrame) -> pd.DataFrame:
    """The patients of one cohort as the page lists them (one row each, dates as dates)."""
    return pd.DataFrame({
        _("Patient"): cohort["subject_id"], _("Started"): cohort["start_date"].dt.date,
        _("First qualifying event"): cohort["first_event_date"].dt.date,
        _("Term"): cohort["first_event_term"], _("Grade"): cohort["first_event_grade"],
        _("Outcome for the incidence curve"): cohort["status_label"], _("Day"): cohort["time"].astype(int),
    })
