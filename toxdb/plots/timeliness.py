"""plot_*: site timeliness over time (Site timeliness page)."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from toxdb.i18n import _
from toxdb.plots.style import apply_layout


def plot_entry_delay(history: pd.DataFrame, max_days: int) -> go.Figure:
    """Median days from AE onset to first stored, per site by month of entry, with the limit as a line;
    marker size grows with the number of AEs entered that month."""
    fig = go.Figure()
    for site, grp in history.groupby("site"):
        grp = grp.sort_values("month")
        fig.add_scatter(x=grp["month"], y=grp["median_delay_days"], name=str(site), mode="lines+markers",
                        marker={"size": (6 + grp["n"].clip(upper=100) / 10).tolist()},
                        customdata=grp[["n", "late"]].to_numpy(),
                        hovertemplate=str(site) + " %{x|%Y-%m}<br>" + _("median {days} days").format(days="%{y}")
                        + "<br>" + _("{n} AEs, {late} late").format(n="%{customdata[0]}", late="%{customdata[1]}")
                        + "<extra></extra>")
    fig.add_hline(y=max_days, line_dash="dot", annotation_text=_("limit: {days} days").format(days=max_days))
    return apply_layout(fig, _("Days from AE onset to entry (median by month of entry)"),
                        yaxis_title=_("days"), xaxis_title=_("month of entry"))
