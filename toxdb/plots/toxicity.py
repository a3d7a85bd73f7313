"""plot_* for the Toxicity page: incidence tables (compute_incidence(...).table) in, plotly Figure out."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from toxdb.clinical.ctcae_names import derive_ctcae_display
from toxdb.clinical.incidence import INCIDENCE_PHASES
from toxdb.i18n import _
from toxdb.plots.style import GRADE_COLOURS, GRADE_LABELS, apply_layout, plain_values
from toxdb.vocab import GRADES


def plot_worst_grade_by_phase(table: pd.DataFrame) -> go.Figure:
    """Stacked bars per phase: percent of patients at risk by their worst grade of any adverse event
    (the "Any adverse event" rows); grades 3-5 on top of each other show grade ≥ 3 incidence."""
    anyae = table[table["level"] == "any"] if len(table) else table
    labels = [f"{_(INCIDENCE_PHASES.get(p, p))}<br>(n = {r})" for p, r in zip(anyae.get("phase", []),
                                                                            anyae.get("at_risk", []))]
    fig = go.Figure()
    for g in GRADES:
        fig.add_bar(name=GRADE_LABELS[g], x=labels, y=anyae[f"pct_g{g}"].fillna(0) if len(anyae) else [],
                    customdata=anyae[f"n_g{g}"] if len(anyae) else [], marker_color=GRADE_COLOURS[g],
                    hovertemplate="%{x}<br>" + GRADE_LABELS[g] + ": " + _("%{customdata} patients (%{y:.1f}%)")
                    + "<extra></extra>")
    return apply_layout(fig, _("Worst grade of any AE, by phase"), barmode="stack",
                        yaxis=dict(title=_("% of patients at risk"), range=[0, 100]))


def plot_top_terms_grade3(table: pd.DataFrame, phase: str = "all", top: int = 10) -> go.Figure:
    """Horizontal stacked bars: the terms with the highest grade ≥ 3 incidence in one phase,
    split into worst grade 3, 4 and 5 (percent of patients at risk)."""
    t = table[(table["phase"] == phase) & (table["level"] == "term") & (table["n_ge3"] > 0)] if len(table) else table
    t = t.sort_values(["n_ge3", "term"], ascending=[False, True]).head(top).iloc[::-1] if len(t) else t
    fig = go.Figure()
    for g in (3, 4, 5):
        fig.add_bar(name=GRADE_LABELS[g], y=plain_values(derive_ctcae_display(t["term"])) if len(t) else [], x=t[f"pct_g{g}"] if len(t) else [],
                    customdata=t[f"n_g{g}"] if len(t) else [], orientation="h", marker_color=GRADE_COLOURS[g],
                    hovertemplate="%{y}<br>" + GRADE_LABELS[g] + ": " + _("%{customdata} patients (%{x:.1f}%)")
                    + "<extra></extra>")
    title = _("Grade ≥ 3: top {top} terms ({phase})").format(top=top, phase=_(INCIDENCE_PHASES.get(phase, phase)))
    if not len(t):
        title += " " + _("(none)")
    return apply_layout(fig, title, barmode="stack", xaxis_title=_("% of patients at risk"),
                   height=max(300, 60 + 28 * len(t)))
