"""Monitoring: the safety stopping boundary, the trial's observed path, cumulative incidence.

Read → call toxdb → render. The design of record lives in trial.toml ([monitoring]); the widgets
here only set up an alternative design for comparison and never change the trial file.
"""
import streamlit as st

from app import state
from toxdb.i18n import N_, _, current_language
from app.text import md
from toxdb.monitoring.boundary import BAYESIAN, FREQUENTIST
from toxdb.monitoring.cohorts import derive_monitoring_cohorts
from toxdb.monitoring.design import (
    MonitoringDesign,
    compute_design,
    compute_design_comparison,
)
from toxdb.monitoring.status import compute_monitoring
from toxdb.plots.monitoring import plot_boundary_panel, plot_incidence_panel
from toxdb.queries import compute_flag_counts
from toxdb.reports.monitoring import (
    format_boundary_listing,
    format_cohort_patients,
    format_design_comparison,
    format_design_facts,
    format_incidence_landmarks,
    format_operating_characteristics,
    pct,
)
from toxdb.store.queries import read_flag_lines
from toxdb.vocab import COHORTS

store = state.get_store()
cut = state.data_cut()
trial = state.get_trial()
record = MonitoringDesign.from_trial(trial)
grade = trial.monitoring.grade_min

TAB_TITLES = {
    "all": _("All treatment-emergent events"),
    "concurrent": _("Concurrent phase (chemoradiotherapy)"),
    "maintenance": _("Maintenance phase"),
}
COHORT_WORDS = {
    "all": _("patients who started protocol treatment"),
    "concurrent": _("patients who started chemoradiotherapy"),
    "maintenance": _("patients who started maintenance"),
}


@st.cache_data(show_spinner=False, max_entries=32)
def _design(design: MonitoringDesign, lang: str):
    return compute_design(design)         # lang: the result holds words


@st.cache_data(show_spinner=False, max_entries=16)
def _cohorts(db: str, version: tuple, cut_key: tuple, rules: str):
    snapshot, firsts = state.monitoring_inputs()
    return derive_monitoring_cohorts(snapshot, trial, events=firsts)


@st.cache_data(show_spinner=False, max_entries=32)
def _monitoring(db: str, version: tuple, cut_key: tuple, rules: str, design: MonitoringDesign, lang: str):
    cohorts = _cohorts(db, version, cut_key, rules)
    return {ph: compute_monitoring(None, trial, ph, design, cohort=cohorts[ph]) for ph in COHORTS}


@st.cache_data(show_spinner=False, max_entries=32)
def _comparison(record: MonitoringDesign, alternative: MonitoringDesign, lang: str):
    return compute_design_comparison({_("Design of record"): record, _("Alternative"): alternative})


# ---------------------------------------------------------------------------------------------
# page
# ---------------------------------------------------------------------------------------------
state.use_print_view()
st.title(_("Safety monitoring"))
st.caption(f"{trial.trial.id} · {md(cut.label)}")
state.printable_link()
st.markdown(
    _("A **qualifying event** is a treatment-emergent adverse event of grade ≥ {grade} with onset on or before "
      "the data cut").format(grade=grade)
    + (_(", attributed as {what}").format(what=", ".join(_(a) for a in trial.monitoring.attributions))
       if trial.monitoring.attributions else "")
    + (_(", excluding {what}").format(what=", ".join(trial.monitoring.exclude_terms))
       if trial.monitoring.exclude_terms else "")
    + _(". Each patient counts once. The committee reviews the trial when the count reaches the stopping boundary.")
)
st.info(_("**Design of record** (from the trial file `trial.toml`, section `[monitoring]`): {design}, N = {n}, "
          "acceptable rate {p0}, unacceptable rate {p1}. The alternative design below is for comparison only and "
          "is not saved.").format(design=record.label, n=record.n_max, p0=pct(record.p0, 0), p1=pct(record.p1, 0)),
        icon=":material/description:")

# options are the English words (the widgets' values), shown translated
RULES = [N_("Frequentist (Ivanova family)"), N_("Bayesian beta-binomial")]
SHAPES = [N_("O'Brien–Fleming-type (δ = 0.5)"), N_("Pocock-type (δ = 0)"), N_("Other δ")]
with st.expander(_("Compare with an alternative design (statistician)"), expanded=False):   # hidden when printed
    compare = st.toggle(_("Show an alternative design beside the design of record"), key="mon_compare")
    kind = st.radio(_("Rule"), RULES, format_func=_, horizontal=True,
                    key="mon_kind", disabled=not compare)
    c1, c2, c3 = st.columns(3)
    if kind.startswith("Frequentist"):
        shape = c1.selectbox(_("Boundary shape"), SHAPES, format_func=_,
                             key="mon_shape", disabled=not compare)
        delta = {"O": 0.5, "P": 0.0}.get(shape[0])
        if delta is None:
            delta = c2.slider("δ", 0.0, 0.5, 0.25, 0.05, key="mon_delta", disabled=not compare,
                              help=_("0 = same level at every look (Pocock-type); 0.5 = strict early, lenient late"))
        cp0 = c3.number_input(_("cP0: allowed chance of stopping when the rate is p0"), 0.01, 0.5, record.cp0, 0.01,
                              key="mon_cp0", disabled=not compare)
        alternative = record.replace(method=FREQUENTIST, delta=float(delta), cp0=float(cp0))
    else:
        a = c1.number_input(_("Prior a"), 0.05, 50.0, record.prior_a, 0.1, key="mon_a", disabled=not compare)
        b = c2.number_input(_("Prior b"), 0.05, 50.0, record.prior_b, 0.1, key="mon_b", disabled=not compare)
        thr = c3.number_input(_("Posterior threshold"), 0.50, 0.999, record.threshold, 0.01, key="mon_thr",
                              disabled=not compare, help=_("Stop when P(rate > p0 | data) is above this"))
        alternative = record.replace(method=BAYESIAN, prior_a=float(a), prior_b=float(b), threshold=float(thr))
    if not compare:
        alternative = None
    if alternative is not None and alternative == record:
        st.caption(_("The alternative equals the design of record."))

flag_counts = compute_flag_counts(read_flag_lines(store))       # open vs resolved queries of flagged rows (D56)
ae_flags = flag_counts[flag_counts["kind"] == "ae"].set_index("code")
if len(ae_flags):
    def _n(code: str, column: str) -> int:
        return int(ae_flags[column].get(code, 0))

    st.caption(_("Adverse-event rows stored with a query to the site: {n} with a grade CTCAE does not give the "
                 "term ({n_open} open, {n_done} resolved), {m} with a term outside CTCAE, stored under its organ "
                 "class's 'Other, specify' ({m_open} open, {m_done} resolved). They are counted here as "
                 "recorded; the queries are on the Queries page, the list: python -m toxdb export flags --csv").format(
        n=_n("grade_not_allowed", "total"), n_open=_n("grade_not_allowed", "open"),
        n_done=_n("grade_not_allowed", "resolved"), m=_n("term_outside_ctcae", "total"),
        m_open=_n("term_outside_ctcae", "open"), m_done=_n("term_outside_ctcae", "resolved")))

key = (str(store.path), store.data_version(), cut.key(), state.trial_key())
results = _monitoring(*key, record, current_language())
alt_results = _monitoring(*key, alternative, current_language()) if alternative is not None else None
rec_boundary, rec_oc = _design(record, current_language())
alt_boundary = _design(alternative, current_language())[0] if alternative is not None else None

zoom = st.toggle(_("Zoom the boundary charts to the patients so far"), value=True, key="mon_zoom",
                 help=_("Off: show the boundary over all planned patients."))
tabs = state.tabs([TAB_TITLES[ph] for ph in COHORTS])
for phase, tab in zip(COHORTS, tabs):
    res = results[phase]
    s = res.summary
    with tab:
        now = (" " + _("After {n} patients the boundary is {b} patients with an event.").format(
            n=s["n"], b=s["boundary_now"]) if s["boundary_now"] else "")
        words = s["sentence"] + now + " " + _("Denominator: {who}.").format(who=COHORT_WORDS[phase])
        if s["crossed"]:
            st.error(_("**Boundary crossed.**") + " " + words, icon=":material/block:")
        else:
            st.success(_("**Boundary not crossed.**") + " " + words, icon=":material/check_circle:")
        left, right = st.columns([5, 4])
        with left:
            fig = plot_boundary_panel(
                res.boundary, res.observed, _("Stopping boundary: {what}").format(what=TAB_TITLES[phase].lower()),
                alternative=alt_boundary if alternative is not None else None,
                alternative_label=alternative.label if alternative is not None else "", zoom=zoom)
            st.plotly_chart(fig, width="stretch", key=f"mon_bnd_{phase}")
            st.caption(_("Orange staircase: the smallest number of patients with a qualifying event that stops the "
                         "trial after n patients; shaded: the stop region. Blue: the trial so far, patients in the "
                         "order they started treatment.")
                       + ("" if phase == "all" else " " + _("Only the patients of this phase.")))
            if alternative is not None and alt_results is not None:
                a = alt_results[phase].summary
                st.markdown(_("With the alternative design: {sentence}").format(sentence=a["sentence"]))
        with right:
            if alternative is None:
                st.markdown(_("**Design of record**"))
                st.table(format_design_facts(record, rec_boundary))   # wraps long values; a canvas grid cut them
                st.markdown(_("**Operating characteristics** (exact)"))
                st.dataframe(format_operating_characteristics(rec_oc), hide_index=True, width="stretch")
            else:
                d1, d2 = st.tabs([_("Design of record"), _("Alternative")])
                with d1:
                    st.table(format_design_facts(record, rec_boundary))
                with d2:
                    st.table(format_design_facts(alternative, alt_boundary))
                st.markdown(_("**Operating characteristics, side by side** (exact)"))
                st.dataframe(format_design_comparison(_comparison(record, alternative, current_language())),
                             hide_index=True,
                             width="stretch")
            st.caption(_("P(cross): chance the count ever reaches the boundary if the true rate of qualifying events "
                         "is the one in the row. P(stop early): chance of stopping before the last planned patient. "
                         "Expected patients: average number enrolled before stopping or reaching N."))
            with st.expander(_("Boundary after every patient")):       # not printed: the chart shows it
                st.dataframe(format_boundary_listing(rec_boundary), hide_index=True, width="stretch", height=300)

        st.subheader(_("Cumulative incidence of the first qualifying event"))
        cif = res.incidence
        if cif.summary["n"] == 0:
            st.info(_("No {who} yet.").format(who=COHORT_WORDS[phase]))
            continue
        c_left, c_right = st.columns([3, 2])
        with c_left:
            cif_fig = plot_incidence_panel(cif, _("First grade ≥ {grade} event: {what}").format(
                grade=grade, what=TAB_TITLES[phase].lower()))
            st.plotly_chart(cif_fig, width="stretch", key=f"mon_cif_{phase}")
        with c_right:
            landmarks = format_incidence_landmarks(cif)
            if len(landmarks):
                st.dataframe(landmarks, hide_index=True, width="stretch")
                st.caption(_("Incidence by day since first treatment; 1 − KM is the over-stating comparison."))
            st.markdown(_("{n} patients: **{event}** with a qualifying event, **{competing}** with a competing event "
                          "first (death, recurrence or permanent discontinuation), **{censored}** censored.").format(
                n=cif.summary["n"], event=cif.summary["n_event"], competing=cif.summary["n_competing"],
                censored=cif.summary["n_censored"]))
            st.caption(_(
                "Time 0 is the first treatment day. Aalen–Johansen estimate, with death, recurrence and permanent "
                "discontinuation as competing events; censored at last contact, the data cut, or the end of the "
                "on-treatment window. Shaded band: pointwise 95% confidence interval (delta-method / Greenwood-type "
                "variance, log(−log) transform). The dashed 1 − Kaplan–Meier curve treats competing events as "
                "censored and over-states the incidence; it is shown for comparison only."
            ))
        with st.expander(_("Patients in this analysis")):     # screen only (a closed expander is not printed)
            st.dataframe(format_cohort_patients(res.table), hide_index=True, width="stretch")
