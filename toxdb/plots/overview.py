"""plot_*: the Overview's charts (patients by worst grade per site, cumulative enrolment)."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from toxdb.i18n import _
from toxdb.plots.style import (
    GRADE_COLOURS,
    GRADE_LABELS,
    apply_layout,
    plain,
    plain_values,
)


def plot_ae_by_grade(by_grade: pd.DataFrame, value: str = "patients") -> go.Figure:
    """Stacked bars per site: patients by their worst grade (or event rows by grade)."""
    fig = go.Figure()
    sites = sorted(by_grade["site"].unique()) if len(by_grade) else []
    for g in sorted(GRADE_COLOURS):
        sub = by_grade[by_grade["grade"] == g].set_index("site").reindex(sites)
        fig.add_bar(name=GRADE_LABELS[g], x=plain_values(sites), y=sub[value].fillna(0), marker_color=GRADE_COLOURS[g],
                    hovertemplate="%{x}<br>" + GRADE_LABELS[g] + ": %{y}<extra></extra>")
    what = _("Patients by worst grade") if value == "patients" else _("Adverse-event rows by grade")
    apply_layout(fig, what, barmode="stack", yaxis_title=_("patients") if value == "patients" else _("events"),
                 xaxis_title=_("site"))
    return fig


def plot_enrolment(patients: pd.DataFrame, planned_n: int | None = None) -> go.Figure:
    """Cumulative enrolment by site over time, with the planned total as a reference line."""
    fig = go.Figure()
    pts = patients.dropna(subset=["enrolled_on"]).sort_values("enrolled_on")
    for site, grp in pts.groupby(pts["site"].fillna(_("(no site)"))):
        fig.add_scatter(x=grp["enrolled_on"], y=list(range(1, len(grp) + 1)), name=plain(site), mode="lines",
                        line_shape="hv")
    if len(pts):
        fig.add_scatter(x=pts["enrolled_on"], y=list(range(1, len(pts) + 1)), name=_("All sites"), mode="lines",
                        line=dict(color="black", width=3), line_shape="hv")
    if planned_n:
        fig.add_hline(y=planned_n, line_dash="dot", annotation_text=_("planned N = {n}").format(n=planned_n))
    return apply_layout(fig, _("Cumulative enrolment"), yaxis_title=_("patients enrolled"), xaxis_title=_("date"))
