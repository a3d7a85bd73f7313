"""Lab queries: graded lab values that no adverse event accounts for (or only a lower-grade one), for the
data manager to send to the sites; and the values that could not be graded, with the reason."""
import streamlit as st

from app import state
from app.text import md
from toxdb.clinical.ctcae_names import derive_ctcae_display
from toxdb.clinical.lab_queries import (
    compute_lab_queries,
    filter_lab_queries,
    lab_queries_for_export,
)
from toxdb.i18n import _, current_language
from toxdb.reports.export import frame_to_csv_bytes, frame_to_xlsx_bytes
from toxdb.store.cuts import load_snapshot

store = state.get_store()
cut = state.data_cut()
trial = state.get_trial()


@st.cache_data(show_spinner=False, max_entries=16)
def _queries(db: str, version: tuple, cut_key: tuple, rules: str, window: int, ctcae: str, lang: str):
    return compute_lab_queries(load_snapshot(store, cut), trial, window_days=window, grading_version=ctcae)


st.title(_("Lab queries"))
ctcae = state.ctcae_choice(st, "labq_ctcae")
st.caption(_("{trial} · {cut} · lab values graded by CTCAE v{version} and checked against the AEs reported").format(
    trial=trial.trial.id, cut=md(cut.label), version=ctcae))

top = st.columns([1, 2, 2])
state.widget_from_address("labq_window", "window", trial.lab_queries.window_days, range(61), "int")
window = int(top[0].number_input(
    _("Window (days)"), min_value=0, max_value=60, step=1, key="labq_window",
    help=_("A lab value is covered by an AE of its term dated from this many days before the AE's onset to "
           "this many days after its end.")))
with st.spinner(_("Grading lab values and matching them to adverse events…")):
    result = _queries(str(store.path), store.data_version(), cut.key(), state.trial_key(), window, ctcae,
                      current_language())
table, flagged, summary = result.table, result.flagged, result.summary

site_options = sorted(set(table["site"].dropna()) | set(flagged["site"].dropna()))
test_options = sorted(set(table["test"].dropna()) | set(flagged["test"].dropna()))
state.widget_from_address("labq_sites", "site", [], site_options, "many")
state.widget_from_address("labq_tests", "test", [], test_options, "many")
sites = top[1].multiselect(_("Site"), site_options, key="labq_sites", placeholder=_("all sites"))
tests = top[2].multiselect(_("Test"), test_options, key="labq_tests", placeholder=_("all tests"))
state.widget_to_address("labq_window", "window", trial.lab_queries.window_days, "int")
state.widget_to_address("labq_sites", "site", [], "many")
state.widget_to_address("labq_tests", "test", [], "many")
shown = filter_lab_queries(table, sites, tests)
shown_flagged = filter_lab_queries(flagged, sites, tests)

m = st.columns(5)
m[0].metric(_("Open queries"), len(shown))
m[1].metric(_("No AE reported"), int((shown["issue"] == "no AE reported").sum()))
m[2].metric(_("AE grade too low"), int((shown["issue"] != "no AE reported").sum()))
m[3].metric(_("Patients with queries"), shown["subject_id"].nunique())
m[4].metric(_("Values not graded"), len(shown_flagged))

st.subheader(_("Open queries"))
LABELS = {"subject_id": _("Patient"), "site": _("Site"), "collected_on": _("Lab date"), "test": _("Test"),
          "value": _("Value"), "unit": _("Unit"), "lab_grade": _("Lab grade"), "ctcae_term": _("CTCAE term"),
          "reported_grade": _("AE grade"), "query": _("Query"), "first_on": _("First"), "last_on": _("Last"),
          "n_labs": _("Values"), "ae_onset": _("AE onset")}
DATE = st.column_config.DateColumn(format="YYYY-MM-DD")
if len(shown):
    shown_terms = shown.assign(ctcae_term=derive_ctcae_display(shown["ctcae_term"], "term"))
    st.dataframe(shown_terms[list(LABELS)].rename(columns=LABELS), hide_index=True, width="stretch", key="labq_table",
                 column_config={_("Lab date"): DATE, _("First"): DATE, _("Last"): DATE, _("AE onset"): DATE,
                                _("Query"): st.column_config.TextColumn(width="large")})
    export = lab_queries_for_export(shown)
    d = st.columns(2)
    state.download_button(d[0], _("Download queries (.xlsx)"), frame_to_xlsx_bytes(export, "lab queries"),
                         file_name=f"lab_queries_{cut.cut_date:%Y-%m-%d}.xlsx", key="labq_xlsx")
    state.download_button(d[1], _("Download queries (.csv)"), frame_to_csv_bytes(export),
                         file_name=f"lab_queries_{cut.cut_date:%Y-%m-%d}.csv", key="labq_csv")
else:
    st.success(_("No open lab queries for these filters."))
st.caption(_("{abnormal} values of grade ≥ 1 on treatment: {covered} covered by an AE of at least the same grade, "
             "{baseline} no worse than the patient's baseline, the rest in {queries} queries (one per AE episode "
             "or run of values).").format(abnormal=summary["abnormal_on_treatment"], covered=summary["covered_by_ae"],
                                          baseline=summary["not_queried_baseline"], queries=summary["queries"]))

st.subheader(_("Values not graded"))
if len(shown_flagged):
    st.dataframe(shown_flagged.rename(columns={**LABELS, "reason": _("Why not graded")}), hide_index=True,
                 width="stretch", key="labq_flagged", column_config={_("Lab date"): DATE})
    state.download_button(st, _("Download values not graded (.csv)"), frame_to_csv_bytes(lab_queries_for_export(shown_flagged)),
                       file_name=f"lab_values_not_graded_{cut.cut_date:%Y-%m-%d}.csv", key="labq_flag_csv")
else:
    st.info(_("Every lab value of a graded test could be graded."))
st.caption(_("A value is not graded when its unit is missing and its size fits two units, its unit is not "
             "recognised, or the LLN/ULN its grade depends on is missing: the unit is never guessed. "
             "Ask the site for the unit or the limits."))

with st.expander(_("How values are graded and matched"), expanded=False):
    st.markdown(result.rule)
    st.markdown(_("Thresholds: clinical-rules.md section 4 (CTCAE v{version}, SI units; the lower bound belongs to "
                  "the grade). ALT, AST, bilirubin, ALP and GGT above the ULN at baseline are graded as multiples "
                  "of the baseline.").format(version=ctcae))
