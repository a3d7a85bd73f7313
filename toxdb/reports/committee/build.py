"""Build the committee report from a data cut: the open and closed sections, the data hash, and
the audit record of who built it.

    report = compute_committee_report(store, cut, trial, section="all", user="dm")
    html = render_report_html(report)            # toxdb.reports.committee.html
"""
from __future__ import annotations

import datetime as dt

from toxdb.i18n import _, current_language
from toxdb.reports.committee.exposure import build_exposure
from toxdb.reports.committee.inputs import ReportInputs, read_report_inputs
from toxdb.reports.committee.lab_safety import build_lab_safety
from toxdb.reports.committee.listings import build_advice, build_listings
from toxdb.reports.committee.model import (
    CommitteeReport,
    ReportSection,
    compute_report_hash,
)
from toxdb.reports.committee.open_part import build_open_section
from toxdb.reports.committee.safety import build_incidence, build_monitoring
from toxdb.store.cuts import DataCut
from toxdb.store.db import Store

SECTIONS = ("open", "closed", "all")


def build_closed_section(inp: ReportInputs) -> ReportSection:
    blocks = [*build_exposure(inp), *build_incidence(inp), *build_monitoring(inp), *build_listings(inp),
              *build_lab_safety(inp), *build_advice(inp)]
    return ReportSection("closed", _("Closed section"),
                         _("For the committee only: exposure, adverse events by grade, the stopping boundary, "
                           "listings of serious events and deaths, laboratory safety and dose advice."), blocks)


def compute_committee_report(store: Store, cut: DataCut, trial, section: str = "all", user: str = "unknown",
                             now: dt.datetime | None = None) -> CommitteeReport:
    """The report of ``cut`` (its sections in DMC order) with its data hash in ``summary``."""
    if section not in SECTIONS:
        raise ValueError(f"section must be one of {', '.join(SECTIONS)}; got {section!r}")
    inp = read_report_inputs(store, cut, trial)
    sections = []
    if section in ("open", "all"):
        sections.append(build_open_section(inp))
    if section in ("closed", "all"):
        sections.append(build_closed_section(inp))
    facts = {"trial": trial.trial.id, "cut_date": cut.cut_date.isoformat(), "section": section}
    summary = {
        "trial_id": trial.trial.id, "title": trial.trial.title, "cut_name": cut.name or "",
        "cut_date": cut.cut_date, "frozen_at": cut.frozen_at, "section": section, "built_by": user,
        "built_at": (now or dt.datetime.now()).replace(microsecond=0), "language": current_language(),
        "data_hash": compute_report_hash(sections, facts),
        "audit_head": str(store.audit_head()),     # the log's head when built: an anchor kept on paper (D68)
    }
    return CommitteeReport(sections, summary)


def record_report_built(store: Store, report: CommitteeReport, fmt: str, target: str = "") -> None:
    """The audit line: who built which report of which cut, and its data hash."""
    s = report.summary
    store.record_audit(s["built_by"], "report", {
        "cut": s["cut_name"], "cut_date": str(s["cut_date"]), "frozen_at": str(s["frozen_at"] or ""),
        "section": s["section"], "format": fmt, "data_hash": s["data_hash"], "file": target,
        "audit_head": s.get("audit_head", "")})
