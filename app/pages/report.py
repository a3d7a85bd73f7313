"""Committee report: build the data-safety committee's report from a saved data cut and download it
as HTML or PDF (the same report as ``python -m toxdb report``)."""
import streamlit as st

from app import state
from toxdb.i18n import _
from toxdb.reports.committee import (
    PdfError,
    compute_committee_report,
    record_report_built,
    render_report_html,
    render_report_pdf_bytes,
)
from toxdb.store.cuts import list_saved_cuts

store = state.get_store()
trial = state.get_trial()
user = state.user()

st.title(_("Committee report"))
st.markdown(_("The data-safety committee's report from a saved data cut: an open section (enrolment, disposition, "
              "data quality) and a closed section (exposure, adverse events, the stopping boundary, listings, "
              "laboratory safety, dose advice). A saved cut freezes the data, so the report can be rebuilt later "
              "with the same numbers and the same data hash."))

cuts = list_saved_cuts(store)
may_build = state.allowed("report")
if not cuts:
    st.info(_("No saved data cut yet. Save one before the meeting; the report is built from a saved cut only."),
            icon=":material/info:")
    st.stop()
names = [c.name for c in cuts]
labels = {c.name: c.label for c in cuts}
in_view = state.data_cut().name
c1, c2, c3 = st.columns([3, 2, 2])
name = c1.selectbox(_("Data cut"), names, index=names.index(in_view) if in_view in names else 0, key="rep_cut",
                    format_func=labels.get)
section_words = {"all": _("open and closed"), "open": _("open only"), "closed": _("closed only")}
section = c2.radio(_("Sections"), list(section_words), horizontal=True, key="rep_section",
                   format_func=section_words.get)
with_pdf = c3.toggle(_("Also print the PDF"), value=True, key="rep_pdf",
                     help=_("The PDF is printed by the server's Chromium and takes a little longer."))
if not may_build:
    st.warning(_("Building the committee report is for the committee and data managers; your role does not "
                 "include it."), icon=":material/lock:")

if st.button(_("Build report"), type="primary", disabled=not may_build, key="rep_build") and may_build:
    cut = next(c for c in cuts if c.name == name)
    with st.spinner(_("Building the report of {cut}…").format(cut=cut.label)):
        report = compute_committee_report(store, cut, trial, section=section, user=user)
        html = render_report_html(report)
        pdf, problem = None, None
        if with_pdf:
            try:
                pdf = render_report_pdf_bytes(html)
            except PdfError as exc:
                problem = str(exc)
        record_report_built(store, report, "html+pdf" if pdf else "html")
    st.session_state["rep_result"] = (report.summary, html, pdf, problem)

result = st.session_state.get("rep_result")
if result is not None:
    summary, html, pdf, problem = result
    stem = f"{summary['trial_id']}_{summary['cut_name'] or summary['cut_date']}_{summary['section']}".replace(" ", "_")
    st.success(_("Report of {cut} built by {user} at {when}.").format(
        cut=summary["cut_name"], user=summary["built_by"], when=f"{summary['built_at']:%Y-%m-%d %H:%M}"),
        icon=":material/task_alt:")
    st.markdown(_("Data hash (the same for every rebuild of this cut):"))
    st.code(summary["data_hash"], language=None)
    d1, d2 = st.columns(2)
    state.download_button(d1, _("Download HTML"), html.encode("utf-8"), f"{stem}.html", "rep_dl_html",
                          mime="text/html", icon=":material/download:")
    if pdf is not None:
        state.download_button(d2, _("Download PDF"), pdf, f"{stem}.pdf", "rep_dl_pdf", mime="application/pdf",
                              icon=":material/picture_as_pdf:")
    elif problem:
        d2.warning(problem)
