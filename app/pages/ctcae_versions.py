"""CTCAE v5.0 against v6.0: the lab values and patients whose grade changes, and the grade >= 3 path
with lab grades added, labelled as a sensitivity analysis (AE grades stay as the sites reported)."""
import streamlit as st

from app import state
from toxdb.clinical.lab_versions import compute_lab_version_changes
from toxdb.i18n import _
from toxdb.monitoring.cohorts import COHORT_LABELS
from toxdb.monitoring.sensitivity import compute_monitoring_sensitivity
from toxdb.reports.export import frame_to_csv_bytes
from toxdb.store.cuts import load_snapshot
from toxdb.vocab import PHASE_LABELS

store = state.get_store()
cut = state.data_cut()
trial = state.get_trial()


@st.cache_data(show_spinner=False, max_entries=8)
def _compare(db: str, version: tuple, cut_key: tuple, rules: str):
    snapshot = load_snapshot(store, cut)
    return compute_lab_version_changes(snapshot, trial), compute_monitoring_sensitivity(snapshot, trial)


st.title(_("CTCAE v5.0 and v6.0"))
st.caption(_("{trial} · {cut} · version of record: CTCAE v{version}").format(
    trial=trial.trial.id, cut=cut.label, version=trial.ctcae.version))
with st.spinner(_("Grading every lab value under both versions…")):
    changes, sensitivity = _compare(str(store.path), store.data_version(), cut.key(), state.trial_key())
s = changes.summary

m = st.columns(4)
m[0].metric(_("Lab values graded"), s["values_graded"])
m[1].metric(_("Values whose grade changes"), s["values_changed"])
m[2].metric(_("Patients whose worst grade changes"), s["patients_changed"])
m[3].metric(_("Patients with a lab grade ≥ 3 (v5 → v6)"), f"{s['patients_ge3_v5']} → {s['patients_ge3_v6']}")

CHANGE = {"higher under v6": _("higher under v6"), "lower under v6": _("lower under v6")}
DATE = st.column_config.DateColumn(format="YYYY-MM-DD")

st.subheader(_("Patients whose worst on-treatment grade changes"))
if len(changes.patients):
    labels = {"subject_id": _("Patient"), "site": _("Site"), "test_code": _("Test"), "worst_v5": _("Worst v5.0"),
              "worst_v6": _("Worst v6.0"), "change": _("Change")}
    st.dataframe(changes.patients.assign(change=changes.patients["change"].map(CHANGE)).rename(columns=labels),
                 hide_index=True, width="stretch", key="ver_patients")
else:
    st.info(_("No patient's worst on-treatment lab grade differs between the versions."))

st.subheader(_("Lab values whose grade changes"))
if len(changes.table):
    labels = {"subject_id": _("Patient"), "site": _("Site"), "collected_on": _("Lab date"), "test_code": _("Test"),
              "value": _("Value"), "unit": _("Unit"), "phase": _("Phase"), "term_v5": _("CTCAE v5.0 term"),
              "grade_v5": _("Grade v5.0"), "term_v6": _("CTCAE v6.0 term"), "grade_v6": _("Grade v6.0"),
              "change": _("Change")}
    shown = changes.table.drop(columns=["si_value", "si_unit"]).assign(
        change=changes.table["change"].map(CHANGE),
        phase=changes.table["phase"].map(lambda p: _(PHASE_LABELS.get(p, p))))
    st.dataframe(shown.rename(columns=labels), hide_index=True, width="stretch", key="ver_values",
                 column_config={_("Lab date"): DATE})
    state.download_button(st, _("Download the values (.csv)"), frame_to_csv_bytes(changes.table),
                          f"ctcae_v5_v6_{cut.cut_date:%Y-%m-%d}.csv", "ver_csv")
else:
    st.info(_("No lab value up to this cut is graded differently by the two versions."))

st.subheader(_("Grade ≥ 3 path with lab grades: a sensitivity analysis"))
st.caption(_("Not the analysis of record. The path of record counts adverse events as the sites reported them. "
             "Here a patient also qualifies on the date of an on-treatment lab value of grade ≥ {grade} that is new "
             "for them (above the worst grade of its term before treatment), graded by each version in turn. Same "
             "cohorts, boundary and design as the Monitoring page.").format(grade=trial.monitoring.grade_min))
analysis_labels = sensitivity.summary["labels"]
table = sensitivity.table.assign(
    phase=sensitivity.table["phase"].map(lambda p: _(COHORT_LABELS[p])),
    analysis=sensitivity.table["analysis"].map(lambda a: _(analysis_labels[a])),
    crossed=sensitivity.table["crossed"].map({True: _("yes"), False: _("no")}),
)
labels = {"phase": _("Cohort"), "analysis": _("Qualifying events"), "n": _("Patients"), "x": _("With an event"),
          "boundary_now": _("Boundary at n"), "crossed": _("Crossed"), "first_crossing_n": _("First crossed at n"),
          "sentence": _("Where it stands")}
st.dataframe(table.rename(columns=labels), hide_index=True, width="stretch", key="ver_sensitivity",
             column_config={_("Where it stands"): st.column_config.TextColumn(width="large")})
