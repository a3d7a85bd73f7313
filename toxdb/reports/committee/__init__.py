"""The data-safety committee's report from a frozen data cut (issue 13): build, render, print.

compute_committee_report(store, cut, trial, section, user) -> CommitteeReport (.sections, .summary)
render_report_html(report)                                  -> one self-contained HTML page
render_report_pdf(html, out)                                -> an A4 PDF through Debian's Chromium
"""
from toxdb.reports.committee.build import (
           SECTIONS,
           compute_committee_report,
           record_report_built,
)
from toxdb.reports.committee.html import render_report_html
from toxdb.reports.committee.pdf import PdfError, render_report_pdf, render_report_pdf_bytes

__all__ = ["SECTIONS", "PdfError", "compute_committee_report", "record_report_built", "render_report_html",
           "render_report_pdf", "render_report_pdf_bytes"]
