"""plot_* for the committee report: enrolment against the expected rate, the hepatic safety plot,
patients by worst grade per phase. Sized for an A4 page (toxdb.reports.committee prints them)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from toxdb.i18n import _
from toxdb.plots.style import GRADE_COLOURS, OKABE_ITO, apply_layout

PRINT_WIDTH = 680          # px: the text width of an A4 page with 14 mm margins, at 96 dpi


def plot_enrolment_vs_expected(enrolled_on: pd.Series, start, cut, planned_n: int, accrual_months: int) -> go.Figure:
    """Patients enrolled by date (a step line) and the steady accrual line from ``start`` to planned N."""
    fig = go.Figure()
    days = pd.to_datetime(enrolled_on).sort_values()
    fig.add_scatter(x=days, y=np.arange(1, len(days) + 1), mode="lines", line_shape="hv", name=_("Enrolled"),
                    line=dict(color=OKABE_ITO["blue"], width=3))
    start = pd.Timestamp(start)
    end = start + pd.DateOffset(months=int(accrual_months))
    fig.add_scatter(x=[start, end], y=[0, planned_n], mode="lines", name=_("Expected"),
                    line=dict(color=OKABE_ITO["vermillion"], dash="dash", width=2))
    fig.add_vline(x=pd.Timestamp(cut), line_dash="dot", line_color="grey")
    fig.update_xaxes(range=[start - pd.Timedelta(days=15), max(pd.Timestamp(cut), days.max() if len(days) else start)
                            + pd.Timedelta(days=30)])
    return apply_layout(fig, _("Cumulative enrolment"), yaxis_title=_("patients"), xaxis_title=_("date"),
                        width=PRINT_WIDTH, height=380)


def plot_hepatic(points: pd.DataFrame, alt_limit: float, bili_limit: float) -> go.Figure:
    """Peak ALT or AST against peak bilirubin, as multiples of ULN (of baseline when the baseline was
    above ULN), one point per patient, log axes, the potential Hy's-law quadrant shaded.

    ``points``: subject_id, alt_x, bili_x, relative ("ULN" or "baseline"), in_quadrant."""
    fig = go.Figure()
    hi = max(10.0, float(np.nanmax(points[["alt_x", "bili_x"]].to_numpy())) * 1.5) if len(points) else 10.0
    fig.add_shape(type="rect", x0=alt_limit, x1=hi, y0=bili_limit, y1=hi, fillcolor="rgba(213, 94, 0, 0.12)",
                  line_width=0, layer="below")
    for rel, symbol, colour, name in (("ULN", "circle", OKABE_ITO["blue"], _("relative to ULN")),
                                      ("baseline", "diamond", OKABE_ITO["orange"],
                                       _("relative to baseline (baseline above ULN)"))):
        sub = points[points["relative"] == rel]
        fig.add_scatter(x=sub["alt_x"], y=sub["bili_x"], mode="markers", name=name, text=sub["subject_id"],
                        marker=dict(symbol=symbol, size=9, color=colour, line=dict(width=1, color="black")),
                        hovertemplate="%{text}: ALT/AST %{x:.1f}×, bilirubin %{y:.1f}×<extra></extra>")
    fig.add_vline(x=alt_limit, line_dash="dash", line_color=OKABE_ITO["vermillion"])
    fig.add_hline(y=bili_limit, line_dash="dash", line_color=OKABE_ITO["vermillion"])
    fig.add_annotation(x=np.log10(hi), y=np.log10(hi), xanchor="right", yanchor="top", showarrow=False,
                       text=_("potential Hy's law"), font=dict(color=OKABE_ITO["vermillion"]))
    ticks = [v for v in (0.3, 0.5, 1, 2, 3, 5, 10, 20, 50, 100, 200, 500) if v <= hi]
    for axis in (fig.update_xaxes, fig.update_yaxes):
        axis(type="log", range=[np.log10(0.3), np.log10(hi)], tickvals=ticks, ticktext=[f"{v:g}×" for v in ticks],
             minor=dict(showgrid=False))
    return apply_layout(fig, _("Hepatic safety: peak values per patient on treatment"),
                        xaxis_title=_("peak ALT or AST (× ULN or × baseline)"),
                        yaxis_title=_("peak total bilirubin (× ULN or × baseline)"), width=PRINT_WIDTH, height=520)


def plot_worst_grade_bars(table: pd.DataFrame, phases: dict[str, str]) -> go.Figure:
    """Patients by worst grade of any adverse event, one stacked bar per phase (percent of at risk).
    ``table``: compute_incidence(...).table; ``phases``: phase -> label."""
    anyrow = table[table["level"] == "any"].set_index("phase")
    fig = go.Figure()
    labels = [phases[p] for p in phases]
    for g in (1, 2, 3, 4, 5):
        fig.add_bar(x=labels, y=[anyrow.loc[p, f"pct_g{g}"] if p in anyrow.index else 0 for p in phases],
                    name=_("Grade {grade}").format(grade=g), marker_color=GRADE_COLOURS[g])
    fig.update_layout(barmode="stack")
    return apply_layout(fig, _("Patients by worst grade of any adverse event"), yaxis_title=_("patients at risk (%)"),
                        width=PRINT_WIDTH, height=380)


def plotly_bundle() -> str:
    """plotly.js itself, to put inline in a self-contained page (no network needed to open it)."""
    return get_plotlyjs()


def figure_html(fig: go.Figure, div_id: str) -> str:
    """A figure as a <div> and the script that draws it (plotly.js must be on the page already)."""
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id,
                       config={"displayModeBar": False, "responsive": False})
