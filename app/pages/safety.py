"""SAEs and deaths: the serious adverse events and the deaths of the cut in view, as sortable tables
to download (the same listings as the committee report's)."""
import streamlit as st

from app import state
from toxdb.i18n import _
from toxdb.reports.committee.listings import EVENT_LABELS, compute_death_listing, compute_sae_listing
from toxdb.reports.export import frame_to_csv_bytes, frame_to_xlsx_bytes
from toxdb.reports.overview import derive_patient_status

store = state.get_store()
cut = state.data_cut()
trial = state.get_trial()


@st.cache_data(show_spinner=False, max_entries=16)
def _listings(db: str, version: tuple, cut_key: tuple, rules: str):
    derived = state.derived_events()
    snapshot = state.snapshot_without_ae()
    sites = dict(zip(derived.patients["subject_id"].astype(str), derived.patients["site"].astype(object)))
    patients = derive_patient_status(snapshot, trial.phases)
    patients["subject_id"] = patients["subject_id"].astype(str)
    return compute_sae_listing(derived, sites), compute_death_listing(patients, derived)


def _downloads(frame, stem: str, key: str) -> None:
    c1, c2, _spacer = st.columns([2, 2, 3])
    state.download_button(c1, _("Download CSV"), frame_to_csv_bytes(frame), f"{stem}.csv", f"{key}_csv",
                          mime="text/csv", icon=":material/download:")
    state.download_button(c2, _("Download Excel"), frame_to_xlsx_bytes(frame, stem), f"{stem}.xlsx", f"{key}_xlsx",
                          icon=":material/download:")


sae, deaths = _listings(str(store.path), store.data_version(), cut.key(), state.trial_key())
st.title(_("SAEs and deaths"))
st.caption(f"{trial.trial.id} · {cut.label}")
stem = f"{trial.trial.id}_{cut.name or cut.cut_date}"

st.subheader(_("Serious adverse events ({n} in {p} patients)").format(n=len(sae), p=sae["subject_id"].nunique()))
if sae.empty:
    st.info(_("No serious adverse event recorded."))
else:
    st.dataframe(sae.rename(columns={k: _(v) for k, v in EVENT_LABELS.items()}), hide_index=True, width="stretch",
                 key="saf_sae")
    _downloads(sae, f"{stem}_sae", "saf_sae")
st.caption(_("One row per adverse event marked serious on any of its rows (grade changes recorded over several rows "
             "are one event, at its worst grade), any phase, onset on or before the cut. Click a column header to "
             "sort."))

st.subheader(_("Deaths ({n})").format(n=len(deaths)))
if deaths.empty:
    st.info(_("No death recorded."))
else:
    st.dataframe(deaths.rename(columns={
        "subject_id": _("Patient"), "site": _("Site"), "death_on": _("Died on"),
        "days_from_last_dose": _("Days from last dose"), "cause": _("Cause (grade 5 AE)"),
        "attribution": _("Attribution")}), hide_index=True, width="stretch", key="saf_deaths")
    _downloads(deaths, f"{stem}_deaths", "saf_deaths")
st.caption(_("Patients with a death date on or before the cut. Days from last dose: from the end of the last treatment "
             "row. Cause: the grade 5 adverse events recorded for the patient, with their attribution."))
