"""Patient: one patient's course (treatment, adverse events, labs with CTCAE grade bands), key facts,
the dose advice for them, their adverse events, and the swimmer plot of all patients."""
import datetime as dt

import streamlit as st

from app import state
from app.text import md
from toxdb.clinical.course import (
    compute_patient_course,
    compute_swimmer_lanes,
    subject_choices,
)
from toxdb.clinical.treatment import describe_on_treatment_rule
from toxdb.dosing.words import derive_advice_words, flags_in_words
from toxdb.clinical.ctcae_names import derive_ctcae_display
from toxdb.clinical.ctcae_v6 import derive_events_in_version
from toxdb.i18n import _, current_language
from toxdb.plots.patient import plot_patient_course, plot_swimmer
from toxdb.queries import STATUS_WORDS, derive_query_overview
from toxdb.store.cuts import load_snapshot
from toxdb.store.queries import read_queries, read_query_messages

store = state.get_store()
cut = state.data_cut()
trial = state.get_trial()


@st.cache_data(show_spinner=False, max_entries=8)
def _choices(db: str, version: tuple, cut_key: tuple, rules: str):
    return subject_choices(load_snapshot(store, cut, with_labs=False).patients)


@st.cache_data(show_spinner=False, max_entries=64)
def _course(db: str, version: tuple, cut_key: tuple, rules: str, subject: str, ctcae: str, lang: str):
    return compute_patient_course(load_snapshot(store, cut), subject, trial, ctcae_version=ctcae)


@st.cache_data(show_spinner=False, max_entries=8)
def _lanes(db: str, version: tuple, cut_key: tuple, rules: str, lang: str):     # lang: words in the result
    return compute_swimmer_lanes(load_snapshot(store, cut, with_labs=False), trial)


key = (str(store.path), store.data_version(), cut.key(), state.trial_key())

st.title(_("Patient"))
st.caption(_("{trial} · {cut} · one patient's course; the dose hints follow the rules in trial.toml and the "
             "treating physician decides.").format(trial=trial.trial.id, cut=md(cut.label)))

choices = _choices(*key)
if not len(choices):
    st.info(_("No patient is in the database at this data cut."))
    st.stop()
labels = dict(zip(choices["subject_id"], choices["label"]))
state.subject_from_address(list(labels), "patient_subject")      # a followed link: ?subject=ID
subject = st.selectbox(_("Patient"), list(labels), format_func=lambda sid: labels.get(sid, str(sid)),
                       key="patient_subject", help=_("Patients in the patient table at this data cut (ID · site)."))

state.subject_to_address(subject)
ctcae = state.ctcae_choice(st, "patient_ctcae")
with st.spinner(_("Building this patient's course…")):
    course = _course(*key, subject, ctcae, current_language())
s = course.summary
t = course.table


def _num(v, fmt):
    return "–" if v is None else format(v, fmt)


c = st.columns(5)
c[0].metric(_("Site"), s["site"] or "–")
c[1].metric(_("BSA (m²)"), _num(s["bsa"], ".2f"), help=_("{name} formula").format(name=trial.formulas.bsa.capitalize()))
c[2].metric(_("CrCl (mL/min)"), _num(s["crcl"], ".0f"), help=f"Cockcroft–Gault; {s['crcl_note']}")
c[3].metric(_("Worst grade"), "–" if s["worst_grade"] is None else f"G{s['worst_grade']}",
            help=_("Worst CTCAE grade of the treatment-emergent adverse events ({te} of {n} events; {ongoing} "
                   "ongoing at the cut)").format(te=s["n_events_te"], n=s["n_events"], ongoing=s["ongoing_events"]))
c[4].metric(_("Cycles"), f"{s['n_concurrent_cycles']} + {s['n_maintenance_cycles']}",
            help=_("concurrent + maintenance chemotherapy cycles started by the cut (trial plan: {c} + {m})").format(
                c=trial.phases.concurrent_cycles, m=trial.phases.maintenance_cycles))
st.markdown(_("**Agent:** {agent}  ·  **Now:** {now}").format(agent=md(s["agent"] or "–"), now=md(s["phase_now"])))
for flag in s["pi_flags"]:
    st.warning(md(flags_in_words(flag)), icon=":material/flag:")

tab_course, tab_swim = st.tabs([_("This patient"), _("All patients (swimmer plot)")])
with tab_course:
    st.plotly_chart(plot_patient_course(course), width="stretch", key="patient_course_chart")
    st.caption(_("Bars: radiotherapy and each chemotherapy cycle (hover for dates and dose). Dots: adverse events at "
                 "onset, coloured by worst CTCAE grade, with a line for their duration; ▶ = ongoing at the cut. "
                 "Dashed lines: first treatment, maintenance start and last dose + {days} days (end of the "
                 "treatment-emergent window, drawn once treatment has stopped). Lab panels: values in SI units, "
                 "shaded by CTCAE v{version} grade band from the patient's latest LLN/ULN (or baseline when "
                 "abnormal).").format(days=s["window_days"], version=ctcae))

    st.subheader(_("Dose advice"))
    if len(t.advice):
        words = derive_advice_words(t.advice, trial)     # rule ids stay in exports (D79)
        cols = {"agent": _("Agent"), "phase": _("Phase"), "advice_text": _("Advice"),
                "tablets": _("Tablets per intake"), "reason_text": _("Reason"), "rule_text": _("Rule"),
                "crcl_text": _("CrCl effect"), "notes": _("Notes")}
        st.dataframe(words[[c_ for c_ in cols if c_ in words.columns]].rename(columns=cols),
                     hide_index=True, width="stretch",
                     column_config={_("Advice"): st.column_config.TextColumn(width="medium"),
                                    _("Reason"): st.column_config.TextColumn(width="large")})
    else:
        st.caption(_("Not on capecitabine, S-1 or RT at this cut, so there is no dose advice."))

    st.subheader(_("Adverse events ({n})").format(n=len(t.events)))
    if len(t.events):
        names = {"term": _("Term"), "worst_grade": _("Worst grade"), "onset_date": _("Onset"), "end_date": _("End"),
                 "ongoing": _("Ongoing"), "phase": _("Phase"), "treatment_emergent": _("Treatment-emergent"),
                 "serious": _("Serious"), "attribution": _("Attribution"), "soc": _("SOC"), "n_rows": _("Rows")}
        terms_version = state.ctcae_terms_choice(st, "patient_terms")
        ev = derive_events_in_version(t.events, terms_version)          # NCI's mapping (D35)
        ev = ev.assign(**{c_: derive_ctcae_display(ev[c_], c_) for c_ in ("term", "soc") if c_ in ev.columns})
        if "phase" in ev:
            ev["phase"] = ev["phase"].map(_, na_action="ignore")
        if "attribution" in ev:
            ev["attribution"] = ev["attribution"].map(_, na_action="ignore")
        show = [c_ for c_ in names if c_ in ev.columns]
        st.dataframe(ev[show].rename(columns=names), hide_index=True, width="stretch",
                     column_config={_("Onset"): st.column_config.DateColumn(format="YYYY-MM-DD"),
                                    _("End"): st.column_config.DateColumn(format="YYYY-MM-DD")})
        st.caption(state.ctcae_terms_note(terms_version))
    else:
        st.caption(_("No adverse event recorded by this cut."))

    others = store.other_treatments_of(subject, cut.frozen_upload, cut.cut_date)
    if len(others):
        # kept at upload as "not a protocol treatment" (D52, D57): shown as written, never protocol exposure
        st.subheader(_("Other treatments recorded"))
        st.caption(_("Not protocol treatments: mapped at upload as 'keep as other'. Shown as the site wrote them; "
                     "never counted as protocol exposure, never used to place events in a phase or to advise a dose."))
        st.dataframe(others.rename(columns={
            "name": _("Name"), "start_date": _("Start"), "end_date": _("End"), "dose": _("Dose"),
            "dose_unit": _("Dose unit"), "upload_id": _("Upload"), "file_name": _("File")}),
                     hide_index=True, width="stretch", key="patient_other_treatments",
                     column_config={_("Start"): st.column_config.DateColumn(format="YYYY-MM-DD"),
                                    _("End"): st.column_config.DateColumn(format="YYYY-MM-DD")})

    st.subheader(_("Queries to the site"))
    about = derive_query_overview(read_queries(store), read_query_messages(store), dt.datetime.now())
    about = about[about["subject_id"] == subject]
    if len(about):
        st.dataframe(about[["query_id", "record_label", "status", "raised_by", "age_days", "last_text"]]
                     .assign(status=about["status"].map(lambda x: _(STATUS_WORDS[x]))).rename(columns={
                         "query_id": _("No."), "record_label": _("Record"), "status": _("Status"),
                         "raised_by": _("Raised by"), "age_days": _("Age (days)"), "last_text": _("Last message")}),
                     hide_index=True, width="stretch", key="patient_queries")
    else:
        st.caption(_("No query about this patient."))
    st.page_link("app/pages/queries.py", label=_("Raise, answer or review on the Queries page"),
                 icon=":material/forum:")

with tab_swim:
    with st.spinner(_("Building the swimmer plot…")):
        lanes = _lanes(*key, current_language())
    ls = lanes.summary
    m = st.columns(4)
    m[0].metric(_("Treated patients"), ls["n_patients"])
    m[1].metric(_("On treatment at the cut"), ls.get("on_treatment_at_cut", 0))
    m[2].metric(_("With a grade ≥ 3 AE"), ls.get("with_ge3", 0))
    m[3].metric(_("Recurrence / death"), f"{ls.get('recurrence', 0)} / {ls.get('death', 0)}")
    st.plotly_chart(plot_swimmer(lanes), width="stretch", key="patient_swimmer_chart")
    st.caption(_("One lane per treated patient, first treated at the top; x = days since first treatment. Thin dark "
                 "bar: radiotherapy; bars: concurrent and maintenance chemotherapy periods; dots: adverse events of "
                 "grade ≥ 3 at onset (all phases); ✕ off treatment, ◇ recurrence, ■ death; ▶ still on treatment at "
                 "the cut.") + " " + describe_on_treatment_rule(trial.phases))
