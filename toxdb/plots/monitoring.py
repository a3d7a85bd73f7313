"""Figures for safety monitoring: boundary with the observed path, cumulative incidence.

plot_* functions take result objects from :mod:`toxdb.monitoring` and return a plotly Figure.
Colours are from the Okabe-Ito colourblind-safe palette; every figure has a title, axis labels
and a legend, for a data-safety committee reading a printed report.
"""

from __future__ import annotations

import textwrap
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from toxdb.i18n import _
from toxdb.monitoring.boundary import BoundaryResult, ObservedPathResult
from toxdb.monitoring.incidence import CumulativeIncidenceResult
from toxdb.plots.style import OKABE_ITO

__all__ = ["plot_boundary", "plot_boundary_panel", "plot_cumulative_incidence", "plot_incidence_panel"]

_STOP_FILL = "rgba(213, 94, 0, 0.15)"  # vermillion, light
_BAND_FILL = "rgba(0, 114, 178, 0.18)"  # blue, light


def _boundary_series(boundary: BoundaryResult) -> tuple[np.ndarray, np.ndarray]:
    """Boundary over every n = 1..n_max as a staircase; between looks the next look's count holds
    (NaN where stopping is impossible or after the last look)."""
    n_max = int(boundary.summary["n_max"])
    ns = np.arange(1, n_max + 1)
    looks = boundary.looks
    b = boundary.table["boundary"].to_numpy(dtype="float64", na_value=np.nan)
    pos = np.searchsorted(looks, ns, side="left")  # the next look at or after n
    values = np.full(n_max, np.nan)
    inside = pos < looks.size
    values[inside] = b[pos[inside]]
    return ns, values


def plot_boundary(
    boundary: BoundaryResult,
    observed: ObservedPathResult | None = None,
    title: str | None = None,
) -> go.Figure:
    """Stopping boundary (staircase, ``line_shape="hv"``) with the stop region shaded and, when
    given, the observed path X_n with markers, the first crossing annotated and the
    "k more among the next m" sentence under the title."""
    s = boundary.summary
    n_max = int(s["n_max"])
    ns, bvals = _boundary_series(boundary)
    y_candidates = [np.nanmax(bvals) if np.isfinite(bvals).any() else 0]
    if observed is not None and len(observed.table):
        y_candidates.append(float(observed.table["x"].max()))
    y_top = float(max(y_candidates)) + 2
    fig = go.Figure()
    # Stop region: from the boundary (or the top where stopping is impossible) up to y_top.
    lower_edge = np.where(np.isfinite(bvals), bvals, y_top)
    fig.add_trace(
        go.Scatter(
            x=ns, y=lower_edge, mode="lines", line=dict(width=0, shape="hv"),
            hoverinfo="skip", showlegend=False, name=_("stop region edge"),
        )
    )
    fig.add_trace(
        go.Scatter(
            x=ns, y=np.full(ns.size, y_top), mode="lines", line=dict(width=0, shape="hv"),
            fill="tonexty", fillcolor=_STOP_FILL, name=_("Stop region (count ≥ boundary)"),
            hoverinfo="skip",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=ns, y=bvals, mode="lines", line=dict(color=OKABE_ITO["vermillion"], width=2.5, shape="hv"),
            name=_("Stopping boundary"), connectgaps=False,
            hovertemplate=_("n=%{x}: stop at %{y} events") + "<extra></extra>",
        )
    )
    subtitle = s.get("design", "")
    if observed is not None and len(observed.table):
        t = observed.table
        fig.add_trace(
            go.Scatter(
                x=t["n"], y=t["x"], mode="lines+markers",
                line=dict(color=OKABE_ITO["blue"], width=2, shape="hv"),
                marker=dict(size=6, color=OKABE_ITO["blue"]),
                name=_("Observed: patients with event"),
                hovertemplate=_("patient %{x}: %{y} with event") + "<extra></extra>",
            )
        )
        first = observed.summary.get("first_crossing_n")
        if first is not None:
            fx = int(observed.summary["first_crossing_x"])
            fig.add_trace(
                go.Scatter(
                    x=[first], y=[fx], mode="markers",
                    marker=dict(symbol="x", size=13, color=OKABE_ITO["black"]),
                    name=_("First crossing"),
                )
            )
            fig.add_annotation(
                x=first, y=fx, text=_("First crossing: {x} of {n} patients").format(x=fx, n=first),
                showarrow=True, arrowhead=2, ax=-30, ay=-70, bgcolor="white",
                bordercolor=OKABE_ITO["black"], name="first_crossing",
            )
        subtitle = observed.summary.get("sentence", subtitle)
    main = title or _("Safety stopping boundary: patients with a qualifying grade ≥ 3 event")
    # the sentence is long and the chart often sits in half the page: wrap it instead of cutting it off
    # (a CJK character is as wide as two Latin ones)
    lines = textwrap.wrap(subtitle, 36 if any("\u4e00" <= ch <= "\u9fff" for ch in subtitle) else 72) or [""]
    fig.update_layout(
        title=dict(text=f"{main}<br>" + "<br>".join(f"<sup>{line}</sup>" for line in lines)),
        margin=dict(t=64 + 21 * len(lines)),
        xaxis=dict(title=_("Evaluable patients enrolled (n, ordered by treatment start)"), range=[0.5, n_max + 0.5]),
        yaxis=dict(title=_("Patients with a qualifying event (X_n)"), range=[0, y_top], rangemode="tozero"),
        legend=dict(orientation="h", yanchor="bottom", y=-0.3, x=0),
        template="plotly_white",
        hovermode="x unified",
    )
    return fig


def _step_points(times: np.ndarray, values: np.ndarray, start: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Prepend the origin (time 0, value ``start``) unless the first step is at time 0."""
    if times.size and times[0] == 0:
        return times, values
    return np.concatenate([[0.0], times]), np.concatenate([[start], values])


def _nice_times(t_end: float, max_ticks: int = 8) -> np.ndarray:
    """0, step, 2*step, ... up to t_end with a calendar-friendly step (days)."""
    for step in (1, 2, 5, 7, 14, 30, 60, 90, 180, 365, 730):
        if t_end / step <= max_ticks:
            break
    else:
        step = float(np.ceil(t_end / max_ticks))
    return np.arange(0, t_end + 1e-9, step, dtype=float)[: max_ticks + 1]


def plot_cumulative_incidence(
    cif: CumulativeIncidenceResult,
    risk_times: Any = None,
    title: str | None = None,
    time_unit: str = "days",
    show_competing: bool = True,
) -> go.Figure:
    """Aalen-Johansen CIF step plot with its confidence band, 1 − KM (dashed, labelled as an
    over-stating comparison) and a number-at-risk row under the plot."""
    t = cif.table
    times = t["time"].to_numpy(dtype=float)
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.82, 0.18], vertical_spacing=0.06)
    x, y = _step_points(times, t["cif"].to_numpy(dtype=float))
    __, lo = _step_points(times, t["lower"].to_numpy(dtype=float))
    __, hi = _step_points(times, t["upper"].to_numpy(dtype=float))
    __, km = _step_points(times, t["one_minus_km"].to_numpy(dtype=float))
    level = int(round(100 * cif.summary.get("conf_level", 0.95)))
    fig.add_trace(
        go.Scatter(x=x, y=lo, mode="lines", line=dict(width=0, shape="hv"), showlegend=False,
                   hoverinfo="skip", name=_("lower")),
        row=1, col=1,
    )
    fig.add_trace(
        go.Scatter(x=x, y=hi, mode="lines", line=dict(width=0, shape="hv"), fill="tonexty",
                   fillcolor=_BAND_FILL, name=_("{level}% confidence band (log−log)").format(level=level), hoverinfo="skip"),
        row=1, col=1,
    )
    fig.add_trace(
        go.Scatter(x=x, y=y, mode="lines", line=dict(color=OKABE_ITO["blue"], width=2.5, shape="hv"),
                   name=_("Cumulative incidence (Aalen–Johansen)"),
                   hovertemplate=_("day %{x}: %{y:.1%}") + "<extra></extra>"),
        row=1, col=1,
    )
    fig.add_trace(
        go.Scatter(x=x, y=km, mode="lines",
                   line=dict(color=OKABE_ITO["orange"], width=2, dash="dash", shape="hv"),
                   name=_("1 − Kaplan–Meier (competing events censored; over-states)"),
                   hovertemplate=_("day %{x}: %{y:.1%}") + "<extra></extra>"),
        row=1, col=1,
    )
    if show_competing:
        __, comp = _step_points(times, t["cif_competing"].to_numpy(dtype=float))
        fig.add_trace(
            go.Scatter(x=x, y=comp, mode="lines",
                       line=dict(color=OKABE_ITO["purple"], width=1.5, dash="dot", shape="hv"),
                       name=_("Competing events (death, recurrence, discontinuation)")),
            row=1, col=1,
        )
    t_end = float(times.max()) if times.size else 1.0
    if risk_times is None:
        risk_times = _nice_times(t_end)
    risk_times = np.unique(np.asarray(list(risk_times), dtype=float))
    y_risk = t["n_at_risk"].to_numpy()
    # n at risk at u = risk set of the first observed time >= u (0 beyond the last time).
    pos = np.searchsorted(times, risk_times, side="left")
    at_risk = np.zeros(risk_times.size, dtype=np.int64)
    inside = pos < times.size
    at_risk[inside] = y_risk[pos[inside]]
    fig.add_trace(
        go.Scatter(x=risk_times, y=np.zeros(risk_times.size), mode="text",
                   text=[str(int(v)) for v in at_risk], textfont=dict(size=12),
                   name=_("Number at risk"), showlegend=False, hoverinfo="skip"),
        row=2, col=1,
    )
    fig.update_yaxes(title_text=_("Cumulative incidence"), range=[0, 1], tickformat=".0%", row=1, col=1)
    fig.update_yaxes(title_text=_("At risk"), showticklabels=False, showgrid=False, zeroline=False,
                     range=[-1, 1], row=2, col=1)
    fig.update_xaxes(title_text=_("Time since first treatment ({unit})").format(unit=_(time_unit)), tickvals=risk_times, row=2, col=1)
    fig.update_xaxes(tickvals=risk_times, row=1, col=1)
    fig.update_layout(
        title=dict(text=title or "Cumulative incidence of the first grade ≥ 3 event"),
        legend=dict(orientation="h", yanchor="bottom", y=-0.45, x=0),
        template="plotly_white",
        margin=dict(b=140),
    )
    return fig


def _zoom_ranges(boundary: BoundaryResult, n: int, x: int) -> tuple[list[float], list[float]]:
    """Axis ranges that show the patients so far and what lies just ahead: up to twice as many
    patients (at least 12 more), and the boundary's height over them."""
    n_max = int(boundary.summary["n_max"])
    x_hi = min(n_max, max(2 * n, n + 12))
    shown = boundary.table.loc[boundary.table["n"] <= x_hi, "boundary"].dropna()
    y_hi = max([x] + [int(v) for v in shown]) + 2
    return [0.5, x_hi + 0.5], [0, y_hi]


def plot_boundary_panel(boundary: BoundaryResult, observed: ObservedPathResult, title: str, *,
                        alternative: BoundaryResult | None = None, alternative_label: str = "",
                        zoom: bool = False) -> go.Figure:
    """The Monitoring page's boundary chart: :func:`plot_boundary`, with the alternative design's
    boundary dashed beside the design of record when one is given, and, with ``zoom``, the axes
    limited to the patients so far and just beyond (while fewer than n_max are in)."""
    fig = plot_boundary(boundary, observed, title=title)
    if alternative is not None:
        alt = next(t for t in plot_boundary(alternative).data if t.name == _("Stopping boundary"))
        alt.update(name=_("Alternative: {design}").format(design=alternative_label),
                   line=dict(color=OKABE_ITO["green"], dash="dash", width=2.5, shape="hv"))
        fig.add_trace(alt)
        fig.update_traces(selector=dict(name=_("Stopping boundary")), name=_("Design of record (trial file)"))
    fig.update_layout(height=540, legend=dict(y=-0.32))
    # the first crossing is usually early: put its label to the right of the point
    fig.update_annotations(selector=dict(name="first_crossing"), ax=70, ay=-50)
    n, x = int(observed.summary["n"]), int(observed.summary["x"])
    if zoom and n and n < int(boundary.summary["n_max"]):
        x_range, y_range = _zoom_ranges(boundary, n, x)
        fig.update_xaxes(range=x_range)
        fig.update_yaxes(range=y_range)
    return fig


def plot_incidence_panel(cif: CumulativeIncidenceResult, title: str) -> go.Figure:
    """The Monitoring page's cumulative-incidence chart (:func:`plot_cumulative_incidence`, taller,
    with room under it for the legend and the number at risk)."""
    fig = plot_cumulative_incidence(cif, title=title)
    fig.update_layout(height=560, legend=dict(y=-0.5), margin=dict(b=170))
    return fig
