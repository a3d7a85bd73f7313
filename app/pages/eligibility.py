"""Registration checks: the eligibility criteria the data can check (age, post-operative Child-Pugh, ECOG,
time from surgery to treatment), per patient, with the value and the reason; patients with flags first."""
import streamlit as st

from app import state
from app.text import md
from toxdb.clinical.eligibility import CHECKS, compute_registration_checks
from toxdb.reports.export import frame_to_csv_bytes
from toxdb.store.cuts import load_snapshot

store = state.get_store()
cut = state.data_cut()
trial = state.get_trial()
el = trial.eligibility


@st.cache_data(show_spinner="Checking registration criteria…", max_entries=8)
def _checks(db: str, version: tuple, cut_key: tuple, rules: str):
    return compute_registration_checks(load_snapshot(store, cut), trial)


result = _checks(str(store.path), store.data_version(), cut.key(), state.trial_key())
summary, patients, table = result.summary, result.patients, result.table

st.title("Registration checks")
st.caption(f"{trial.trial.id} · {md(cut.label)} · criteria from trial.toml [eligibility]")

m = st.columns(4)
m[0].metric("Patients", summary["patients"])
m[1].metric("Outside protocol", summary["patients_outside"])
m[2].metric("Something unknown", summary["patients_unknown_only"],
            help="No check outside the protocol, but at least one could not be made (e.g. ECOG not recorded).")
m[3].metric("All checks ok", summary["patients_ok"])

only_flags = st.toggle("Only patients with a flag", value=False, key="elig_only_flags")
STATUS = {"outside protocol": "⛔ outside protocol", "unknown": "❔ unknown", "ok": "✅ ok"}
shown = patients[patients["flag"] != "ok"] if only_flags else patients
overview = shown.rename(columns={"subject_id": "Patient", "site": "Site", "enrolled_on": "Enrolled",
                                 "first_treatment": "First treatment", "flag": "Overall", **CHECKS})
for col in ["Overall", *CHECKS.values()]:
    overview[col] = overview[col].map(STATUS)
st.subheader("Patients (flags first)")
st.dataframe(overview.drop(columns=["n_outside", "n_unknown"]), hide_index=True, width="stretch", key="elig_patients",
             column_config={"Enrolled": st.column_config.DateColumn(format="YYYY-MM-DD"),
                            "First treatment": st.column_config.DateColumn(format="YYYY-MM-DD")})

st.subheader("Each check: value and reason")
status_pick = st.multiselect("Status", list(STATUS), default=["outside protocol", "unknown"], key="elig_status",
                             placeholder="all statuses")
detail = table[table["status"].isin(status_pick)] if status_pick else table
st.dataframe(detail.drop(columns=["check"]).rename(columns={
    "subject_id": "Patient", "site": "Site", "label": "Check", "value": "Value", "status": "Status",
    "reason": "Reason"}), hide_index=True, width="stretch", key="elig_detail",
    column_config={"Reason": st.column_config.TextColumn(width="large")})
state.download_button(st, "Download all checks (.csv)", frame_to_csv_bytes(table), file_name="registration_checks.csv",
                   key="elig_csv")
st.caption(
    f"Age at enrolment in completed years, above {el.age_min_exclusive:g} and below {el.age_max_exclusive:g} "
    f"(a birth date wins over the recorded age). Child-Pugh from the last bilirubin, albumin and INR after surgery "
    f"and before the first treatment, with the recorded ascites and encephalopathy (none when not recorded, "
    f"as the reason says); allowed: {', '.join(el.child_pugh_allowed)}. ECOG at most {el.ecog_max}. Less than "
    f"{el.max_days_surgery_to_treatment} days from surgery to the first treatment.")
