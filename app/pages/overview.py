"""Overview: enrolment and treatment by site, adverse events by grade, latest upload."""
import streamlit as st

from app import state
from app.text import md
from toxdb.i18n import _, current_language
from toxdb.clinical.treatment import describe_on_treatment_rule
from toxdb.plots.overview import plot_ae_by_grade, plot_enrolment
from toxdb.reports.overview import compute_overview, describe_latest_upload
from toxdb.store.cuts import load_snapshot

store = state.get_store()
cut = state.data_cut()
trial = state.get_trial()


@st.cache_data(show_spinner=False, max_entries=16)
def _overview(db: str, version: tuple, cut_key: tuple, rules: str, lang: str):     # lang: words in it
    snap = load_snapshot(store, cut, with_labs=False)
    return snap.patients, compute_overview(snap, trial.phases)


patients, ov = _overview(str(store.path), store.data_version(), cut.key(), state.trial_key(), current_language())
s = ov.summary
st.title(_("Trial overview"))
st.caption(f"{md(trial.trial.id)} · {md(cut.label)}")

c = st.columns(6)
c[0].metric(_("Patients enrolled"), f"{s['patients']} / {trial.trial.planned_n}")
c[1].metric(_("On treatment"), s["on_treatment"], help=describe_on_treatment_rule(trial.phases))   # the one rule, D10
c[2].metric(_("Sites"), s["sites"])
c[3].metric(_("AE rows"), s["ae_rows"])
c[4].metric(_("Patients with grade ≥ 3"), s["patients_grade_3_plus"])
c[5].metric(_("Serious AEs"), s["serious"])

latest = describe_latest_upload(store.uploads())
st.info(_("Latest upload: {upload}").format(upload=md(latest)) if latest else _("No uploads yet: start on the Upload page."),
        icon=":material/upload_file:")

st.subheader(_("By site"))
st.dataframe(
    ov.table.rename(columns={
        "site": _("Site"), "enrolled": _("Enrolled"), "started_treatment": _("Started treatment"),
        "on_treatment": _("On treatment"), "off_treatment": _("Off treatment"), "died": _("Died"),
        "ae_rows": _("AE rows"), "serious": _("Serious"), "patients_grade_3_plus": _("Patients grade ≥ 3")}),
    hide_index=True, width="stretch",
)
st.caption(describe_on_treatment_rule(trial.phases))
left, right = st.columns(2)
with left:
    if len(ov.ae_by_grade):
        st.plotly_chart(plot_ae_by_grade(ov.ae_by_grade, "patients"), width="stretch")
        st.caption(_("Each patient counted once per site, at their worst grade of any adverse event."))
    else:                       # an empty chart would show axes without meaning
        st.info(_("No adverse events at this cut yet: patients by worst grade appear here once adverse "
                  "events are uploaded."), icon=":material/bar_chart:")
with right:
    if len(patients):
        st.plotly_chart(plot_enrolment(patients, trial.trial.planned_n), width="stretch")
    else:
        st.info(_("No patient is enrolled at this cut yet: enrolment over time appears here once the patient "
                  "table is uploaded."), icon=":material/show_chart:")
