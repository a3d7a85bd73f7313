"""Adverse events for the closed section: incidence by SOC/term x worst grade per phase, the
grade >= 3 count against the stopping boundary, cumulative incidence of the first grade >= 3 event."""
from __future__ import annotations

import pandas as pd

from toxdb.clinical.events_sql import read_first_qualifying_rows
from toxdb.clinical.incidence import COUNTING_RULE, compute_incidence
from toxdb.i18n import N_, _
from toxdb.monitoring.cohorts import derive_monitoring_cohorts
from toxdb.monitoring.design import MonitoringDesign
from toxdb.monitoring.status import compute_monitoring
from toxdb.plots.committee import PRINT_WIDTH, plot_worst_grade_bars
from toxdb.plots.monitoring import plot_boundary_panel, plot_incidence_panel
from toxdb.reports.committee.inputs import ReportInputs
from toxdb.reports.committee.model import ReportFigure, ReportTable, ReportText
from toxdb.reports.monitoring import (
    format_design_facts,
    format_incidence_landmarks,
    format_operating_characteristics,
)
from toxdb.vocab import COHORTS, GRADES

PHASE_TITLES = {"concurrent": N_("Concurrent phase (chemoradiotherapy)"), "maintenance": N_("Maintenance phase"),
                "all": N_("All treatment-emergent events")}


def incidence_cells(table: pd.DataFrame) -> pd.DataFrame:
    """One phase of compute_incidence's table as the report prints it: level, SOC, term, then
    "n (x%)" for grades 1-5, grade >= 3 and any grade."""
    out = pd.DataFrame({"level": table["level"].to_numpy(),
                        # a term row sits under its SOC row: the SOC is not repeated on it
                        "soc": table["soc"].where(table["level"] == "soc", "")
                        .where(table["level"] != "any", _("Any adverse event")).to_numpy(),
                        "term": table["term"].where(table["level"] == "term", "").to_numpy()})
    for key in [f"g{g}" for g in GRADES] + ["ge3", "any"]:
        n, p = table[f"n_{key}"].to_numpy(), table[f"pct_{key}"].to_numpy()
        out[key] = [f"{int(a)} ({b:.1f}%)" if pd.notna(b) else f"{int(a)}" for a, b in zip(n, p)]
    return out


def build_incidence(inp: ReportInputs) -> list:
    d = inp.derived
    res = compute_incidence(d.events, d.milestones, patients=d.patients, window_days=d.window_days)
    t = res.table
    labels = {"soc": _("System organ class"), "term": _("Term"),
              **{f"g{g}": _("Grade {grade}").format(grade=g) for g in GRADES}, "ge3": _("Grade ≥3"),
              "any": _("Any grade")}
    rule = _(COUNTING_RULE).format(any=_("Any adverse event"), w=d.window_days)
    blocks: list = [ReportFigure(
        "worst_grade_bars", _("Patients by worst grade, per phase"),
        plot_worst_grade_bars(t, {p: _(PHASE_TITLES[p]) for p in COHORTS if p != "all"} | {"all": _("All")}),
        _("Percent of patients at risk in each phase, by the worst grade of any treatment-emergent adverse event."),
        data=t[t["level"] == "any"][["phase", *[f"n_g{g}" for g in GRADES], "at_risk"]])]
    for phase in ("concurrent", "maintenance", "all"):
        part = t[t["phase"] == phase].reset_index(drop=True)
        at_risk = res.summary["at_risk"][phase]
        blocks.append(ReportTable(
            f"incidence_{phase}", _("Adverse events by SOC and term, worst grade: {phase}").format(
                phase=_(PHASE_TITLES[phase]).lower()), incidence_cells(part),
            _("Population: {n} patients at risk (started the phase). n (percent of patients at risk). ").format(n=at_risk)
            + rule, labels, row_class="level", words=("soc",)))
    return blocks


def _monitoring_results(inp: ReportInputs) -> dict:
    trial = inp.trial
    firsts = read_first_qualifying_rows(inp.store, inp.cut, int(trial.phases.post_treatment_window_days),
                                        trial.monitoring)
    cohorts = derive_monitoring_cohorts(inp.snapshot, trial, events=firsts)
    design = MonitoringDesign.from_trial(trial)
    return {ph: compute_monitoring(None, trial, ph, design, cohort=cohorts[ph]) for ph in COHORTS}


def _phase_blocks(phase: str, res) -> list:
    s = res.summary
    title = _(PHASE_TITLES[phase])
    now = (_("After {n} patients the boundary is {b} patients with an event.").format(n=s["n"], b=s["boundary_now"])
           if s["boundary_now"] else "")
    head = _("Boundary crossed.") if s["crossed"] else _("Boundary not crossed.")
    fig = plot_boundary_panel(res.boundary, res.observed, _("Stopping boundary: {phase}").format(phase=title.lower()),
                              zoom=True)
    fig.update_layout(width=PRINT_WIDTH, height=470)
    obs = res.observed.table
    cif_fig = plot_incidence_panel(res.incidence, _("First grade ≥ {grade} event: {phase}").format(
        grade=s["grade_min"], phase=title.lower()))
    cif_fig.update_layout(width=PRINT_WIDTH, height=520)
    landmarks = format_incidence_landmarks(res.incidence).reset_index(drop=True)
    return [
        ReportText(f"boundary_text_{phase}", title, [f"{head} {s['sentence']} {now}".strip()],
                   tone="alert" if s["crossed"] else "ok"),
        ReportFigure(f"boundary_{phase}", _("Grade ≥ {grade} count against the stopping boundary: {phase}").format(
            grade=s["grade_min"], phase=title.lower()), fig,
            _("Orange staircase: the smallest number of patients with a qualifying event that stops the trial after "
              "n patients; shaded: the stop region. Blue: the trial so far, patients in the order they started "
              "treatment."), data=obs[["n", "x"]] if len(obs) else None),
        ReportFigure(f"cif_{phase}", _("Cumulative incidence of the first grade ≥ {grade} event: {phase}").format(
            grade=s["grade_min"], phase=title.lower()), cif_fig,
            _("Aalen–Johansen estimate from the first treatment day with death, recurrence and permanent "
              "discontinuation as competing events; band: pointwise confidence interval (95%); dashed: 1 − Kaplan–Meier, which "
              "over-states the incidence. Numbers at risk under the axis."),
            data=res.incidence.table[["time", "cif", "n_at_risk"]] if len(res.incidence.table) else None),
        ReportTable(f"cif_landmarks_{phase}", _("Cumulative incidence at landmark days: {phase}").format(
            phase=title.lower()), landmarks,
            _("Population: {n} patients evaluable in this cohort; {e} with a qualifying event, {c} with a competing "
              "event first, {z} censored. At risk: patients followed to at least that day.").format(
                n=s["n"], e=s["n_event"], c=s["n_competing"], z=s["n_censored"]),
            empty_text=_("No follow-up yet."))]


def build_monitoring(inp: ReportInputs) -> list:
    results = _monitoring_results(inp)
    record = results["all"]
    facts = format_design_facts(record.design, record.boundary).reset_index()
    blocks: list = [
        ReportTable("design", _("Design of record"), facts,
                    _("The design in the trial file ([monitoring]); the boundary is computed exactly."),
                    words=tuple(facts.columns)),   # the trial file's design in words
        ReportTable("operating_characteristics", _("Operating characteristics (exact)"),
                    format_operating_characteristics(record.operating_characteristics),
                    _("Population: a trial of N patients with true rate of qualifying events as in the row. P(cross): "
                      "chance the count ever reaches the boundary; P(stop early): before the last planned patient; "
                      "expected patients: enrolled before stopping or reaching N."))]
    for phase in ("concurrent", "maintenance", "all"):
        blocks += _phase_blocks(phase, results[phase])
    return blocks
