"""Registration checks: the eligibility criteria the data can check (age, post-operative Child-Pugh, ECOG,
time from surgery to treatment), per patient, with the value and the reason; patients with flags first."""
import streamlit as st

from app import state
from app.text import md
from toxdb.clinical.eligibility import CHECKS, compute_registration_checks
from toxdb.i18n import N_, _
from toxdb.reports.export import frame_to_csv_bytes
from toxdb.store.cuts import load_snapshot

store = state.get_store()
cut = state.data_cut()
trial = state.get_trial()
el = trial.eligibility


@st.cache_data(show_spinner=False, max_entries=8)
def _checks(db: str, version: tuple, cut_key: tuple, rules: str):
    return compute_registration_checks(load_snapshot(store, cut), trial)


result = _checks(str(store.path), store.data_version(), cut.key(), state.trial_key())
summary, patients, table = result.summary, result.patients, result.table

st.title(_("Registration checks"))
st.caption(_("{trial} · {cut} · criteria from trial.toml [eligibility]").format(trial=trial.trial.id, cut=md(cut.label)))

m = st.columns(4)
m[0].metric(_("Patients"), summary["patients"])
m[1].metric(_("Outside protocol"), summary["patients_outside"])
m[2].metric(_("Something unknown"), summary["patients_unknown_only"],
            help=_("No check outside the protocol, but at least one could not be made (e.g. ECOG not recorded)."))
m[3].metric(_("All checks ok"), summary["patients_ok"])

only_flags = st.toggle(_("Only patients with a flag"), value=False, key="elig_only_flags")
# marks every common font has (an emoji showed as a box where no emoji font is installed)
STATUS = {"outside protocol": N_("✗ outside protocol"), "unknown": N_("? unknown"), "ok": N_("✓ ok")}
shown = patients[patients["flag"] != "ok"] if only_flags else patients
names = {"subject_id": _("Patient"), "site": _("Site"), "enrolled_on": _("Enrolled"),
         "first_treatment": _("First treatment"), "flag": _("Overall"), **{k: _(v) for k, v in CHECKS.items()}}
overview = shown.rename(columns=names)
for col in [_("Overall"), *(_(v) for v in CHECKS.values())]:
    overview[col] = overview[col].map(lambda x: _(STATUS[x]) if x in STATUS else x)
st.subheader(_("Patients (flags first)"))
st.dataframe(overview.drop(columns=["n_outside", "n_unknown"]), hide_index=True, width="stretch", key="elig_patients",
             column_config={_("Enrolled"): st.column_config.DateColumn(format="YYYY-MM-DD"),
                            _("First treatment"): st.column_config.DateColumn(format="YYYY-MM-DD")})

st.subheader(_("Each check: value and reason"))
status_pick = st.multiselect(_("Status"), list(STATUS), default=["outside protocol", "unknown"], key="elig_status",
                             placeholder=_("all statuses"), format_func=lambda x: _(STATUS[x]))
detail = table[table["status"].isin(status_pick)] if status_pick else table
detail = detail.assign(label=detail["label"].map(_), status=detail["status"].map(lambda x: _(STATUS.get(x, x))))
st.dataframe(detail.drop(columns=["check"]).rename(columns={
    "subject_id": _("Patient"), "site": _("Site"), "label": _("Check"), "value": _("Value"), "status": _("Status"),
    "reason": _("Reason")}), hide_index=True, width="stretch", key="elig_detail",
    column_config={_("Reason"): st.column_config.TextColumn(width="large")})
state.download_button(st, _("Download all checks (.csv)"), frame_to_csv_bytes(table),
                      file_name="registration_checks.csv", key="elig_csv")
st.caption(_(
    "Age at enrolment in completed years, above {age_min:g} and below {age_max:g} (a birth date wins over the "
    "recorded age). Child-Pugh from the last bilirubin, albumin and INR after surgery and before the first "
    "treatment, with the recorded ascites and encephalopathy (none when not recorded, as the reason says); "
    "allowed: {allowed}. ECOG at most {ecog}. Less than {days} days from surgery to the first treatment.").format(
    age_min=el.age_min_exclusive, age_max=el.age_max_exclusive, allowed=", ".join(el.child_pugh_allowed),
    ecog=el.ecog_max, days=el.max_days_surgery_to_treatment))
