"""The open section of the committee report: what every participant of the meeting may see
(synopsis and stopping rule, enrolment, disposition, registration checks, data completeness and
timeliness, open queries). No results by grade: those are in the closed section."""
from __future__ import annotations

import numpy as np
import pandas as pd

from toxdb.clinical.eligibility import (
    CHECKS,
    OK,
    OUTSIDE,
    UNKNOWN,
    compute_registration_checks,
)
from toxdb.clinical.lab_queries import compute_lab_queries
from toxdb.i18n import N_, _
from toxdb.monitoring.cohorts import is_completed_reason
from toxdb.monitoring.design import MonitoringDesign, compute_design
from toxdb.plots.committee import plot_enrolment_vs_expected
from toxdb.reports.committee.inputs import ReportInputs
from toxdb.reports.committee.model import (
    ALL_SITES,
    NO_SITE,
    ReportFigure,
    ReportSection,
    ReportTable,
    ReportText,
)
from toxdb.reports.monitoring import pct


def describe_stopping_rule(trial) -> str:
    """The design of record in one paragraph (the same words for every reader of the report)."""
    m = trial.monitoring
    design = MonitoringDesign.from_trial(trial)
    boundary, _oc = compute_design(design)
    s = boundary.summary
    first = s.get("first_possible_stop") or {}
    which = (_(" attributed as {attributions}").format(attributions=", ".join(m.attributions))
             if m.attributions else "")
    return _("Stopping rule: a qualifying event is a treatment-emergent adverse event of grade {grade} or "
             "higher{which}; each patient counts once. After every patient, from patient {first_look} to {n_max}, the "
             "number of patients with a qualifying event is compared with the boundary of the design of record "
             "({design}). The boundary is set so that the chance of crossing it is at most {cp0} if the true rate "
             "is the acceptable {p0}; if the true rate is the unacceptable {p1} the chance is {p_cross_p1}. The "
             "earliest possible stop is {events} patients with an event among the first {n}. When the count "
             "reaches the boundary the committee reviews the trial.").format(
        grade=m.grade_min, which=which, first_look=m.first_look, n_max=m.n_max, design=design.label,
        cp0=pct(m.cp0, 0), p0=pct(m.p0, 0), p1=pct(m.p1, 0), p_cross_p1=pct(s.get("p_cross_p1")),
        events=first.get("events", "–"), n=first.get("n", "–"))


def build_synopsis(inp: ReportInputs) -> ReportText:
    t, ph = inp.trial.trial, inp.trial.phases
    design = _("Single-arm phase II trial. Planned patients: {n}. Treatment: radiotherapy (IMRT/VMAT) with "
               "concurrent capecitabine for {conc} cycles, then {maint} cycles of capecitabine maintenance "
               "({days}-day cycles); S-1 when capecitabine is not tolerated. Adverse events graded by CTCAE "
               "v{version}.").format(n=t.planned_n, conc=ph.concurrent_cycles, maint=ph.maintenance_cycles,
                                     days=ph.cycle_length_days, version=inp.trial.ctcae.version)
    return ReportText("synopsis", _("Trial synopsis and stopping rule"),
                      [f"{t.id}: {t.title}" + (f" ({t.sponsor})" if t.sponsor else ""), design,
                       describe_stopping_rule(inp.trial)])


def compute_expected_enrolment(trial, day: pd.Timestamp) -> float:
    """Patients expected by ``day`` at a steady rate: planned N over accrual_months from start_date (D81)."""
    t = trial.trial
    months = max(0.0, (pd.Timestamp(day) - pd.Timestamp(t.start_date)).days / 30.4375)
    return float(min(t.planned_n, t.planned_n * months / t.accrual_months))


def build_enrolment(inp: ReportInputs) -> list:
    p = inp.patients.assign(site=inp.patients["site"].fillna(NO_SITE),
                            enrolled_on=pd.to_datetime(inp.patients["enrolled_on"]))
    by = p.groupby("site").agg(enrolled=("subject_id", "nunique"), started=("started", "sum"),
                               first=("enrolled_on", "min"), last=("enrolled_on", "max")).reset_index()
    expected = compute_expected_enrolment(inp.trial, inp.cut_ts)
    total = pd.DataFrame([{"site": ALL_SITES, "enrolled": int(p["subject_id"].nunique()),
                           "started": int(p["started"].sum()), "first": p["enrolled_on"].min(),
                           "last": p["enrolled_on"].max()}])
    table = pd.concat([by, total], ignore_index=True)
    table["started"] = table["started"].astype(int)
    table["share"] = [pct(n / max(1, int(total["enrolled"].iloc[0])), 0) for n in table["enrolled"]]
    for c in ("first", "last"):
        table[c] = table[c].dt.strftime("%Y-%m-%d")
    t = inp.trial.trial
    note = _("Expected by the cut at a steady rate ({planned} patients over {months} months from "
             "{start}): {expected:.0f}; enrolled: {enrolled} ({ratio} of expected).").format(
        planned=t.planned_n, months=t.accrual_months, start=t.start_date, expected=expected,
        enrolled=int(total["enrolled"].iloc[0]),
        ratio=pct(int(total["enrolled"].iloc[0]) / expected, 0) if expected else "–")
    tab = ReportTable("enrolment", _("Enrolment by site"), table[["site", "enrolled", "share", "started", "first",
                                                                  "last"]],
                      _("Population: every enrolled patient with an enrolment date on or before the cut. Each patient "
                        "counted once, at their site; started: at least one protocol treatment by the cut."),
                      {"site": _("Site"), "enrolled": _("Enrolled"), "share": _("Share"),
                       "started": _("Started treatment"), "first": _("First enrolled"), "last": _("Last enrolled")},
                      note=note, translate=("site",))
    curve = p["enrolled_on"].sort_values().reset_index(drop=True)
    fig = plot_enrolment_vs_expected(curve, inp.trial.trial.start_date, inp.cut_ts, t.planned_n, t.accrual_months)
    figure = ReportFigure("enrolment_curve", _("Cumulative enrolment against the expected rate"), fig,
                          _("Solid: patients enrolled by date; dashed: {planned} patients at a steady rate over "
                            "{months} months.").format(planned=t.planned_n, months=t.accrual_months),
                          data=pd.DataFrame({"enrolled_on": curve}))
    return [tab, figure]


DISPOSITIONS = (N_("on treatment"), N_("completed"), N_("discontinued"), N_("off treatment, no reason recorded"),
                N_("lost to follow-up"), N_("died"), N_("not started"))


def derive_disposition(inp: ReportInputs) -> pd.DataFrame:
    """One category per patient, first that applies: died, on treatment, not started, completed,
    lost to follow-up, discontinued (with the recorded reason), off treatment without a reason."""
    p = inp.patients
    reason = p["off_treatment_reason"].astype("string") if "off_treatment_reason" in p else \
        pd.Series(pd.NA, index=p.index, dtype="string")
    off = p["off_treatment"].fillna(False).astype(bool)
    lost = reason.str.contains("lost", case=False, regex=False).fillna(False).astype(bool)
    cat = np.select(
        [p["died"].fillna(False).astype(bool), p["on_treatment"].fillna(False).astype(bool),
         ~p["started"].fillna(False).astype(bool), off & is_completed_reason(reason), off & lost,
         off & reason.notna()],
        ["died", "on treatment", "not started", "completed", "lost to follow-up", "discontinued"],
        default="off treatment, no reason recorded")
    detail = np.where(cat == "discontinued", reason.fillna("").to_numpy(object), "")
    return pd.DataFrame({"subject_id": p["subject_id"], "site": p["site"], "category": cat, "reason": detail})


def build_disposition(inp: ReportInputs) -> ReportTable:
    d = derive_disposition(inp)
    n = len(d)
    order = list(DISPOSITIONS)
    t = d.groupby(["category", "reason"]).size().rename("patients").reset_index()
    t["_o"] = t["category"].map({c: i for i, c in enumerate(order)})
    t = t.sort_values(["_o", "patients", "reason"], ascending=[True, False, True]).drop(columns="_o")
    t["share"] = [pct(v / max(n, 1)) for v in t["patients"]]
    return ReportTable(
        "disposition", _("Disposition at the cut"), t.reset_index(drop=True),
        _("Population: {n} enrolled patients. Each patient in one category, the first that applies: died (death date "
          "on or before the cut), on treatment (the on-treatment rule, D10), not started, completed, lost to "
          "follow-up, discontinued with the recorded reason; percentages of enrolled patients.").format(n=n),
        {"category": _("Status"), "reason": _("Reason recorded"), "patients": _("Patients"), "share": _("Share")},
        translate=("category",))


CHECK_WORDS = (N_("Age at enrolment"), N_("Child-Pugh class"), N_("ECOG"), N_("Days from surgery to first treatment"))


def build_registration(inp: ReportInputs) -> list[ReportTable]:
    checks = compute_registration_checks(inp.snapshot, inp.trial, milestones=inp.derived.milestones)
    s = checks.summary
    counts = pd.DataFrame([{"check": label, "outside": s["by_check"][c][OUTSIDE], "unknown": s["by_check"][c][UNKNOWN],
                            "ok": s["by_check"][c][OK]} for c, label in CHECKS.items()])
    table = ReportTable(
        "registration", _("Registration checks"), counts,
        _("Population: {n} enrolled patients, each checked for age, Child-Pugh class, ECOG and days from surgery to "
          "treatment against the trial file's limits; patients per check and result. {outside} patients are outside "
          "the protocol on at least one check, {unknown} more cannot be checked on some (a value not recorded).").format(
            n=s["patients"], outside=s["patients_outside"], unknown=s["patients_unknown_only"]),
        {"check": _("Check"), "outside": _("Outside protocol"), "unknown": _("Unknown"), "ok": _("Inside")},
        translate=("check",))
    t = checks.table[checks.table["status"] == OUTSIDE].reset_index(drop=True)
    frame = pd.DataFrame({"subject_id": t["subject_id"], "site": t["site"], "check": t["label"],
                          "value": t["value"].map(lambda v: "" if v is None else str(v)), "reason": t["reason"]})
    listing = ReportTable(
        "registration_deviations", _("Registration-check deviations"), frame,
        _("Population: as above; one row per patient and check outside the protocol, by patient. Checks that "
          "cannot be made are counted above and listed on the Registration checks page."),
        {"subject_id": _("Patient"), "site": _("Site"), "check": _("Check"), "value": _("Value"),
         "reason": _("Reason")},
        empty_text=_("No deviation: no patient is outside the protocol on a check."), translate=("check",))
    return [table, listing]


def build_open_section(inp: ReportInputs) -> ReportSection:
    from toxdb.reports.committee.data_quality import build_completeness, build_flags, build_queries, build_site_queries

    blocks = [build_synopsis(inp), *build_enrolment(inp), build_disposition(inp), *build_registration(inp),
              build_completeness(inp), build_flags(inp), *build_queries(inp, compute_lab_queries),
              *build_site_queries(inp)]
    return ReportSection("open", _("Open section"),
                         _("For every participant of the meeting: recruitment, disposition and data quality, "
                           "with no results by adverse event."), blocks)
