"""Lab queries: graded lab values that no adverse event accounts for (or only a lower-grade one), for the
data manager to send to the sites; and the values that could not be graded, with the reason."""
import streamlit as st

from app import state
from app.text import md
from toxdb.clinical.lab_queries import (
    compute_lab_queries,
    filter_lab_queries,
    lab_queries_for_export,
)
from toxdb.i18n import _
from toxdb.reports.export import frame_to_csv_bytes, frame_to_xlsx_bytes
from toxdb.store.cuts import load_snapshot

store = state.get_store()
cut = state.data_cut()
trial = state.get_trial()


@st.cache_data(show_spinner="Grading lab values and matching them to adverse events…", max_entries=16)
def _queries(db: str, version: tuple, cut_key: tuple, rules: str, window: int, ctcae: str):
    return compute_lab_queries(load_snapshot(store, cut), trial, window_days=window, grading_version=ctcae)


st.title("Lab queries")
ctcae = state.ctcae_choice(st, "labq_ctcae")
st.caption(_("{trial} · {cut} · lab values graded by CTCAE v{version} and checked against the AEs reported").format(
    trial=trial.trial.id, cut=md(cut.label), version=ctcae))

top = st.columns([1, 2, 2])
state.widget_from_address("labq_window", "window", trial.lab_queries.window_days, range(61), "int")
window = int(top[0].number_input(
    "Window (days)", min_value=0, max_value=60, step=1, key="labq_window",
    help="A lab value is covered by an AE of its term dated from this many days before the AE's onset to "
         "this many days after its end."))
result = _queries(str(store.path), store.data_version(), cut.key(), state.trial_key(), window, ctcae)
table, flagged, summary = result.table, result.flagged, result.summary

site_options = sorted(set(table["site"].dropna()) | set(flagged["site"].dropna()))
test_options = sorted(set(table["test"].dropna()) | set(flagged["test"].dropna()))
state.widget_from_address("labq_sites", "site", [], site_options, "many")
state.widget_from_address("labq_tests", "test", [], test_options, "many")
sites = top[1].multiselect("Site", site_options, key="labq_sites", placeholder="all sites")
tests = top[2].multiselect("Test", test_options, key="labq_tests", placeholder="all tests")
state.widget_to_address("labq_window", "window", trial.lab_queries.window_days, "int")
state.widget_to_address("labq_sites", "site", [], "many")
state.widget_to_address("labq_tests", "test", [], "many")
shown = filter_lab_queries(table, sites, tests)
shown_flagged = filter_lab_queries(flagged, sites, tests)

m = st.columns(5)
m[0].metric("Open queries", len(shown))
m[1].metric("No AE reported", int((shown["issue"] == "no AE reported").sum()))
m[2].metric("AE grade too low", int((shown["issue"] != "no AE reported").sum()))
m[3].metric("Patients with queries", shown["subject_id"].nunique())
m[4].metric("Values not graded", len(shown_flagged))

st.subheader("Open queries")
LABELS = {"subject_id": "Patient", "site": "Site", "collected_on": "Lab date", "test": "Test", "value": "Value",
          "unit": "Unit", "lab_grade": "Lab grade", "ctcae_term": "CTCAE term", "reported_grade": "AE grade",
          "query": "Query", "first_on": "First", "last_on": "Last", "n_labs": "Values", "ae_onset": "AE onset"}
DATE = st.column_config.DateColumn(format="YYYY-MM-DD")
if len(shown):
    st.dataframe(shown[list(LABELS)].rename(columns=LABELS), hide_index=True, width="stretch", key="labq_table",
                 column_config={"Lab date": DATE, "First": DATE, "Last": DATE, "AE onset": DATE,
                                "Query": st.column_config.TextColumn(width="large")})
    export = lab_queries_for_export(shown)
    d = st.columns(2)
    state.download_button(d[0], "Download queries (.xlsx)", frame_to_xlsx_bytes(export, "lab queries"),
                         file_name=f"lab_queries_{cut.cut_date:%Y-%m-%d}.xlsx", key="labq_xlsx")
    state.download_button(d[1], "Download queries (.csv)", frame_to_csv_bytes(export),
                         file_name=f"lab_queries_{cut.cut_date:%Y-%m-%d}.csv", key="labq_csv")
else:
    st.success("No open lab queries for these filters.")
st.caption(f"{summary['abnormal_on_treatment']} values of grade ≥ 1 on treatment: {summary['covered_by_ae']} covered "
           f"by an AE of at least the same grade, {summary['not_queried_baseline']} no worse than the patient's "
           f"baseline, the rest in {summary['queries']} queries (one per AE episode or run of values).")

st.subheader("Values not graded")
if len(shown_flagged):
    st.dataframe(shown_flagged.rename(columns={**LABELS, "reason": "Why not graded"}), hide_index=True,
                 width="stretch", key="labq_flagged", column_config={"Lab date": DATE})
    state.download_button(st, "Download values not graded (.csv)", frame_to_csv_bytes(lab_queries_for_export(shown_flagged)),
                       file_name=f"lab_values_not_graded_{cut.cut_date:%Y-%m-%d}.csv", key="labq_flag_csv")
else:
    st.info("Every lab value of a graded test could be graded.")
st.caption("A value is not graded when its unit is missing and its size fits two units, its unit is not "
           "recognised, or the LLN/ULN its grade depends on is missing: the unit is never guessed. "
           "Ask the site for the unit or the limits.")

with st.expander("How values are graded and matched", expanded=False):
    st.markdown(result.rule)
    st.markdown("Thresholds: clinical-rules.md section 4 (CTCAE v5.0, SI units; the lower bound belongs to the "
                "grade). ALT, AST, bilirubin, ALP and GGT above the ULN at baseline are graded as multiples "
                "of the baseline.")
