"""plot_*: one patient's course over time, and the swimmer plot of all patients.

Inputs come from toxdb.clinical.course (compute_patient_course / compute_swimmer_lanes); these functions
only draw. Grade colours are the dashboard's one palette (toxdb.plots.style.GRADE_COLOURS).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from toxdb.clinical.ctcae_names import derive_ctcae_display
from toxdb.i18n import N_, _
from toxdb.plots.style import (
    GRADE_COLOURS,
    GRADE_LABELS,
    apply_layout,
    plain,
    plain_values,
)
from toxdb.vocab import CAPECITABINE, RT, S1

AGENT_STYLE = {   # name, colour, bar pattern
    RT: (N_("Radiotherapy"), "#4a6fa5", ""),
    CAPECITABINE: (N_("Capecitabine"), "#2a9d8f", ""),
    S1: ("S-1", "#8e6bbf", "/"),
}
LAB_GRADE0 = "#7f7f7f"
LAB_TITLES = {"ANC": "ANC", "PLT": N_("Platelets"), "BILI": N_("Bilirubin"), "ALT": "ALT", "AST": "AST",
              "WBC": "WBC", "LYM": N_("Lymphocytes"), "HGB": "Hb", "ALB": N_("Albumin"), "ALP": "ALP",
              "GGT": "GGT", "CREAT": N_("Creatinine"), "INR": "INR"}     # shown as _(title)
ROW_RT, ROW_CHEMO = N_("Radiotherapy"), N_("Chemotherapy")
DAY_MS = 86_400_000


def _d(day) -> str:
    return "" if day is None or pd.isna(day) else f"{pd.Timestamp(day):%Y-%m-%d}"


def _unit(u) -> str:
    return "" if u is None or pd.isna(u) else str(u).replace("10^9/L", "×10⁹/L").replace("umol/L", "µmol/L")


def _add_treatment_bars(fig: go.Figure, tr: pd.DataFrame) -> None:
    """One bar trace per agent on the top panel, and the cycle dose above the bars where it changes."""
    # base = start, x = duration in ms on a date axis
    for agent, (name, colour, pattern) in AGENT_STYLE.items():
        name = _(name)
        rows = tr[tr["agent"] == agent]
        if not len(rows):
            continue
        start = pd.to_datetime(rows["start_date"])
        end = pd.to_datetime(rows["end_shown"])
        dur = ((end - start).dt.days + 1) * DAY_MS
        ongoing = np.where(rows["ongoing"].to_numpy(bool), " " + _("(ongoing at the cut)"), "")
        hover = (name + " · " + rows["phase"].astype(str) + "<br>" + rows["label"].astype(str) + "<br>"
                 + start.dt.strftime("%Y-%m-%d") + " – " + end.dt.strftime("%Y-%m-%d") + ongoing)
        fig.add_trace(go.Bar(
            name=name, orientation="h", base=start.dt.strftime("%Y-%m-%d").tolist(), x=dur.tolist(),
            y=[_(ROW_RT) if agent == RT else _(ROW_CHEMO)] * len(rows),
            text=(rows["label"] if agent == RT else rows["label"].str.split(" ").str[0]).tolist(),
            textposition="inside", insidetextanchor="middle", textangle=0, textfont=dict(size=11, color="white"),
            marker=dict(color=colour, line=dict(color="white", width=1), pattern=dict(shape=pattern)),
            hovertext=hover.tolist(), hoverinfo="text", width=0.7, legendgroup="tx"), row=1, col=1)

    # the dose of a cycle, written above the chemotherapy bars wherever it changes (full label in the hover)
    chemo = tr[tr["agent"] != RT]
    if len(chemo):
        text = chemo["treatment"].astype(str) + " " + chemo["dose_text"].astype(str)
        changed = text.ne(text.shift())
        for k, (day, label) in enumerate(zip(pd.to_datetime(chemo["start_date"])[changed], text[changed])):
            fig.add_annotation(x=_d(day), y=_(ROW_CHEMO), xref="x", yref="y", yshift=14 + 13 * (k % 2), xanchor="left",
                               showarrow=False, text=label.replace("capecitabine ", ""),
                               font=dict(size=11, color="#1d4d47"))



def _add_event_marks(fig: go.Figure, ev: pd.DataFrame, cut: pd.Timestamp, rows_top: list[str]) -> None:
    """Adverse events on the top panel: a line for the duration, a marker at onset, by worst grade."""
    for g in sorted(GRADE_COLOURS):
        rows = ev[ev["worst_grade"] == g] if len(ev) else ev
        if not len(rows):
            continue
        onset = pd.to_datetime(rows["onset_date"])
        end = pd.to_datetime(rows["end_shown"])
        xs, ys = [], []
        for o, e, term in zip(onset.dt.strftime("%Y-%m-%d"), end.dt.strftime("%Y-%m-%d"), rows["term"].astype(str)):
            xs += [o, e, None]
            ys += [term, term, None]
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line=dict(color=GRADE_COLOURS[g], width=4),
                                 hoverinfo="skip", showlegend=False, legendgroup=f"g{g}"), row=1, col=1)
        ongoing = rows["ongoing"].to_numpy(bool)
        end_txt = np.where(ongoing, _("ongoing at the cut"), end.dt.strftime("%Y-%m-%d"))
        te = np.where(rows["treatment_emergent"].fillna(False).to_numpy(bool), _("treatment-emergent"),
                      _("not treatment-emergent"))
        serious = np.where(rows["serious"].fillna(False).to_numpy(bool), " · " + _("serious"), "") \
            if "serious" in rows else ""
        hover = (rows["term"].astype(str) + " · " + GRADE_LABELS[g] + "<br>" + _("onset") + " " + onset.dt.strftime("%Y-%m-%d")
                 + ", " + _("end") + " " + end_txt + "<br>" + rows["phase"].astype(str).map(_) + " · " + te + serious)
        fig.add_trace(go.Scatter(
            x=onset.dt.strftime("%Y-%m-%d").tolist(), y=rows["term"].astype(str).tolist(), mode="markers",
            name=GRADE_LABELS[g], legendgroup=f"g{g}",
            marker=dict(color=GRADE_COLOURS[g], size=12, symbol="circle", line=dict(color="#333", width=1)),
            hovertext=hover.tolist(), hoverinfo="text"), row=1, col=1)
    if len(ev) and ev["ongoing"].any():
        rows = ev[ev["ongoing"].astype(bool)]
        fig.add_trace(go.Scatter(
            x=[_d(cut)] * len(rows), y=rows["term"].astype(str).tolist(), mode="markers", name=_("Ongoing at the cut"),
            marker=dict(symbol="triangle-right", size=12, color=[GRADE_COLOURS[int(g)] for g in rows["worst_grade"]],
                        line=dict(color="#333", width=1)),
            hovertext=(rows["term"].astype(str) + ": " + _("ongoing at the cut") + " " + _d(cut)).tolist(), hoverinfo="text"),
            row=1, col=1)
    fig.update_yaxes(categoryorder="array", categoryarray=list(reversed(rows_top)), row=1, col=1,
                     range=[-0.6, len(rows_top) - 0.4 + 2.2], fixedrange=True)



def _add_lab_panels(fig: go.Figure, labs: pd.DataFrame, bands: pd.DataFrame, tests: list[str]) -> None:
    """One panel per lab test under the top panel: values over CTCAE grade bands."""
    for i, test in enumerate(tests, start=2):
        rows = labs[labs["test_code"] == test]
        b = bands[bands["test_code"] == test]
        vals = pd.to_numeric(rows["si_value"], errors="coerce")
        vmax = float(vals.max()) if len(vals) and vals.notna().any() else 0.0
        direction = b["direction"].iloc[0] if len(b) else "low"
        if direction == "high":
            g2 = b.loc[b["grade"] == 2, "low"]
            top = max(vmax * 1.15, float(g2.iloc[0]) * 1.25 if len(g2) else vmax * 1.15, 1e-9)
        else:
            g1 = b.loc[b["grade"] == 1, "high"]
            top = max(vmax, float(g1.iloc[0]) if len(g1) else 0.0) * 1.15 or 1.0
        for band in b.itertuples():
            y0, y1 = float(band.low), min(float(band.high), top)
            if y0 >= top:
                continue
            fig.add_hrect(y0=y0, y1=y1, row=i, col=1, fillcolor=GRADE_COLOURS[int(band.grade)], opacity=0.28,
                          line_width=0, layer="below", exclude_empty_subplots=False,
                          annotation=dict(text=f"G{int(band.grade)}", font=dict(size=10, color="#555")),
                          annotation_position="right")
        if len(rows):
            grade = pd.to_numeric(rows["grade"], errors="coerce")
            colours = [GRADE_COLOURS.get(int(g), LAB_GRADE0) if pd.notna(g) and g > 0 else LAB_GRADE0 for g in grade]
            gtxt = grade.map(lambda g: _("not graded") if pd.isna(g) else GRADE_LABELS[int(g)])
            hover = (_(LAB_TITLES.get(test, test)) + " " + vals.map(lambda v: f"{v:g}") + " " + _unit(
                rows["si_unit"].iloc[0]) + "<br>" + pd.to_datetime(rows["collected_on"]).dt.strftime("%Y-%m-%d")
                + " · " + gtxt)
            fig.add_trace(go.Scatter(
                x=pd.to_datetime(rows["collected_on"]).dt.strftime("%Y-%m-%d").tolist(), y=vals.tolist(),
                mode="lines+markers", name=_(LAB_TITLES.get(test, test)), showlegend=False,
                line=dict(color="#555", width=1.5), marker=dict(color=colours, size=7, line=dict(color="#333", width=0.5)),
                hovertext=hover.tolist(), hoverinfo="text"), row=i, col=1)
        fig.update_yaxes(range=[0, top], row=i, col=1, title_text=_unit(_si_unit(labs, test)), fixedrange=True)



def _add_milestones(fig: go.Figure, milestones: pd.DataFrame, rows_top: list[str]) -> None:
    """Phase boundaries and the cut as vertical lines across every panel, labelled above the top rows."""
    short = {"first_treatment": _("First treatment"), "maintenance_start": _("Maintenance"), "cut": _("Cut")}
    for i, m in enumerate(milestones.itertuples()):
        dash = "solid" if m.name == "cut" else "dash"
        colour = "#000000" if m.name == "cut" else "#555555"
        fig.add_vline(x=_d(m.date), line=dict(color=colour, dash=dash, width=1.2), row="all", col=1,
                      exclude_empty_subplots=False)
        # labels in the reserved strip above the chemotherapy row, on two levels so neighbours do not collide
        fig.add_annotation(x=_d(m.date), y=len(rows_top) - 0.4 + 1.35 + 0.5 * (i % 2), xref="x", yref="y",
                           text=short.get(m.name, _(m.label)), showarrow=False, xanchor="left", xshift=3,
                           font=dict(size=11, color=colour), bgcolor="rgba(255,255,255,0.8)",
                           hovertext=f"{_(m.label)}: {_d(m.date)}")


def plot_patient_course(course, tests=None) -> go.Figure:
    """One patient's course: treatment bars and adverse events on top, labs with CTCAE grade bands
    below (one panel per test, shared time axis), phase boundaries as vertical lines."""
    t = course.table
    s = course.summary
    tests = list(tests or s.get("lab_tests") or [])
    cut = pd.Timestamp(s["cut"])
    ev = t.events.assign(term=plain_values(derive_ctcae_display(t.events["term"]))) if len(t.events) else t.events   # user text (D44)
    terms = list(dict.fromkeys(ev["term"].astype(str))) if len(ev) else []
    rows_top = [_(ROW_CHEMO), _(ROW_RT)] + terms
    n_lab = len(tests)
    top_h = 150 + 26 * len(rows_top)
    lab_h = 150
    fig = make_subplots(rows=1 + n_lab, cols=1, shared_xaxes=True, vertical_spacing=0.035,
                        row_heights=[top_h] + [lab_h] * n_lab,
                        subplot_titles=[""] + [
                            _("{test} ({unit}), shaded: CTCAE grade bands").format(test=_(LAB_TITLES.get(x, x)), unit=_unit(_si_unit(t.labs, x)))
                            for x in tests])
    _add_treatment_bars(fig, t.treatment)
    _add_event_marks(fig, ev, cut, rows_top)
    _add_lab_panels(fig, t.labs, t.lab_bands, tests)
    _add_milestones(fig, t.milestones, rows_top)
    fig.update_xaxes(type="date", showgrid=True, gridcolor="#eee")
    fig.update_xaxes(title_text=_("date"), row=1 + n_lab, col=1)
    title = _("Patient {id}").format(id=s["subject_id"])
    if s.get("site"):
        title += f" · {s['site']}"
    if s.get("agent"):
        title += f" · {s['agent']}"
    title += " · " + _("as of {day}").format(day=_d(cut))
    apply_layout(fig, title, height=top_h + 60 + lab_h * n_lab + 120, barmode="overlay", hovermode="closest")
    fig.update_layout(legend=dict(orientation="v", y=1.0, yanchor="top", x=1.01, xanchor="left"),
                      margin=dict(l=10, r=10, t=70, b=10))
    return fig


def _si_unit(labs: pd.DataFrame, test: str):
    u = labs.loc[labs["test_code"] == test, "si_unit"].dropna() if len(labs) else []
    return u.iloc[0] if len(u) else None


SWIM_BARS = {   # column pair, name, colour, bar width (RT drawn thin, over the chemotherapy bar)
    "concurrent": (("concurrent_start", "concurrent_end"), N_("Concurrent capecitabine / S-1"), "#2a9d8f", 0.75),
    "maintenance": (("maintenance_start", "maintenance_end"), N_("Maintenance capecitabine / S-1"), "#a8dadc", 0.75),
    "rt": (("rt_start", "rt_end"), N_("Radiotherapy"), "#4a6fa5", 0.3),
}
SWIM_MARKS = {   # column, name, symbol, colour
    "off_treatment_on": (N_("Off treatment"), "x-thin-open", "#000000"),
    "recurrence_on": (N_("Recurrence"), "diamond-open", "#1f77b4"),
    "death_on": (N_("Death"), "square", "#000000"),
}


def plot_swimmer(lanes, show_labels: bool | None = None) -> go.Figure:
    """All treated patients, one lane each (first treated at the top), x = days since first treatment:
    RT / concurrent / maintenance bars, grade >= 3 AEs as markers coloured by grade, symbols for off
    treatment, recurrence and death, an arrow at the cut for patients still on treatment. One trace
    per category (bars use base/x arrays), so hundreds of patients stay fast."""
    tab = lanes.table
    n = len(tab)
    cut = pd.Timestamp(lanes.summary.get("cut")) if lanes.summary.get("cut") is not None else None
    fig = go.Figure()
    if n == 0:
        return apply_layout(fig, _("Swimmer plot: no patient has started treatment at this cut"), height=300)
    tab = tab.assign(subject_id=plain_values(tab["subject_id"]))      # user text (D44)
    if "off_treatment_reason" in tab:
        tab["off_treatment_reason"] = tab["off_treatment_reason"].map(plain, na_action="ignore")
    ft = pd.to_datetime(tab["first_treatment"])
    y = tab["subject_id"].astype(str).tolist()

    def day(col):
        return (pd.to_datetime(tab[col]) - ft).dt.days

    for (c0, c1), name, colour, width in ((cols, _(w), co, wd) for cols, w, co, wd in SWIM_BARS.values()):
        s0, s1 = day(c0), day(c1)
        ok = s0.notna() & s1.notna()
        if not ok.any():
            continue
        hover = (tab["subject_id"].astype(str) + " · " + name + "<br>" + pd.to_datetime(tab[c0]).dt.strftime("%Y-%m-%d")
                 + " – " + pd.to_datetime(tab[c1]).dt.strftime("%Y-%m-%d") + " (" + _("days") + " " + s0.astype("Int64").astype(str)
                 + "–" + s1.astype("Int64").astype(str) + ")")
        fig.add_trace(go.Bar(name=name, orientation="h", y=np.array(y, dtype=object)[ok.to_numpy()].tolist(),
                             base=s0[ok].tolist(), x=(s1[ok] - s0[ok] + 1).tolist(), width=width,
                             marker=dict(color=colour, line=dict(width=0)), hovertext=hover[ok].tolist(),
                             hoverinfo="text"))
    ev = lanes.events
    if len(ev):
        ev = ev.assign(subject_id=plain_values(ev["subject_id"]), term=plain_values(derive_ctcae_display(ev["term"])))
    for g in (3, 4, 5):
        rows = ev[ev["grade"] == g]
        if not len(rows):
            continue
        hover = (rows["subject_id"].astype(str) + "<br>" + rows["term"].astype(str) + " · " + GRADE_LABELS[g]
                 + "<br>" + _("onset") + " " + pd.to_datetime(rows["onset_date"]).dt.strftime("%Y-%m-%d") + " ("
                 + _("day") + " " + rows["day"].astype(str) + ") · " + rows["phase"].astype(str).map(_))
        fig.add_trace(go.Scatter(x=rows["day"].tolist(), y=rows["subject_id"].astype(str).tolist(), mode="markers",
                                 name=_("AE {grade}").format(grade=GRADE_LABELS[g].lower()),
                                 marker=dict(color=GRADE_COLOURS[g], size=10, symbol="circle",
                                             line=dict(color="white", width=1)),
                                 hovertext=hover.tolist(), hoverinfo="text"))
    for col, (name, symbol, colour) in ((c, (_(w), sy, co)) for c, (w, sy, co) in SWIM_MARKS.items()):
        d = day(col)
        ok = d.notna()
        if not ok.any():
            continue
        extra = ("" if col != "off_treatment_on" else
                 " (" + tab["off_treatment_reason"].astype(object).where(tab["off_treatment_reason"].notna(), "")
                 .astype(str) + ")")
        hover = (tab["subject_id"].astype(str) + "<br>" + name + " " + pd.to_datetime(tab[col]).dt.strftime("%Y-%m-%d")
                 + extra)
        fig.add_trace(go.Scatter(x=d[ok].tolist(), y=np.array(y, dtype=object)[ok.to_numpy()].tolist(),
                                 mode="markers", name=name,
                                 marker=dict(symbol=symbol, size=11, color=colour, line=dict(color=colour, width=2)),
                                 hovertext=hover[ok].tolist(), hoverinfo="text"))
    if cut is not None:
        on = tab["on_treatment_at_cut"].astype(bool).to_numpy()
        if on.any():
            d = (cut - ft).dt.days
            fig.add_trace(go.Scatter(x=d[on].tolist(), y=np.array(y, dtype=object)[on].tolist(), mode="markers",
                                     name=_("On treatment at the cut"),
                                     marker=dict(symbol="arrow-right", size=13, color="#2a9d8f",
                                                 line=dict(color="#1d6d63", width=1)),
                                     hovertext=[f"{sid}: " + _("on treatment at the cut") + f" {_d(cut)}" for sid in
                                                np.array(y, dtype=object)[on]], hoverinfo="text"))
    if show_labels is None:
        show_labels = n <= 120
    height = int(min(max(320, 140 + 18 * n), 4000))
    apply_layout(fig, _("Swimmer plot: {n} treated patients, first treated at the top · as of {day}").format(n=n, day=_d(cut)),
            barmode="overlay", height=height, xaxis_title=_("days since first treatment"),
            yaxis_title=_("patient") if show_labels else _("patients ({n}, ordered by first treatment)").format(n=n),
            hovermode="closest")
    fig.update_layout(legend=dict(orientation="h", y=1.0, yanchor="bottom", x=0, xanchor="left"),
                      margin=dict(l=10, r=10, t=90, b=10))
    fig.update_yaxes(categoryorder="array", categoryarray=list(reversed(y)), showticklabels=show_labels,
                     tickfont=dict(size=10))
    fig.update_xaxes(showgrid=True, gridcolor="#eee", zeroline=True, zerolinecolor="#999")
    return fig
