"""The dashboard's one chart style: the CTCAE grade palette, the colour-blind-safe line colours,
the font and the layout every plot_* function finishes with."""
from __future__ import annotations

import plotly.graph_objects as go

from toxdb.i18n import _

# grade 1 pale to grade 5 near-black; readable in grey-scale print and for colour-blind readers
GRADE_COLOURS = {1: "#fdd49e", 2: "#fc8d59", 3: "#d7301f", 4: "#7f0000", 5: "#252525"}
class _GradeLabels:
    """GRADE_LABELS[g]: "Grade g" in the reader's language (looked up when shown, not at import)."""

    def __getitem__(self, g: int) -> str:
        return _("Grade {g}").format(g=g)


GRADE_LABELS = _GradeLabels()
# Latin first, then CJK families for Chinese labels: Noto Sans CJK SC is Debian's fonts-noto-cjk (the
# server's Chromium for static export and PDF); the others are what Windows and macOS readers have
CJK_FONT_FAMILIES = ("Noto Sans CJK SC", "Noto Sans SC", "Microsoft YaHei", "PingFang SC", "Source Han Sans SC")
FONT = dict(family=", ".join(("Source Sans Pro", "Arial", *CJK_FONT_FAMILIES, "sans-serif")), size=13)


def plain(value) -> str:
    """User text (a site, term, verbatim, subject) for a plotly title, label, legend or hover: plotly
    reads <b>, <a href> and &entities; in text, so those characters are written as entities (D44)."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def plain_values(values) -> list[str]:
    """:func:`plain` of each value (category values become axis labels and hover text)."""
    return [plain(v) for v in values]


def apply_layout(fig: go.Figure, title: str, **kw) -> go.Figure:
    fig.update_layout(title=dict(text=title, x=0, xanchor="left"), font=FONT, template="plotly_white",
                      margin=dict(l=10, r=10, t=50, b=10), legend=dict(orientation="h", y=-0.2), **kw)
    return fig



# Okabe-Ito: distinguishable for every common kind of colour blindness
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
}
