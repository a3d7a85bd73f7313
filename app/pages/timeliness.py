"""Site timeliness: whose data are late, as traffic lights per site, the patients behind them, and
AE entry delays over time. The rules (toxdb.reports.timeliness, D72) and thresholds (trial.toml
[timeliness]) live in the core; this page renders."""
import streamlit as st

from app import state
from toxdb.clinical.treatment import describe_on_treatment_rule
from toxdb.i18n import _
from toxdb.plots.timeliness import plot_entry_delay
from toxdb.reports.timeliness import read_site_timeliness

store = state.get_store()
cut = state.data_cut()
trial = state.get_trial()
rules = trial.timeliness


@st.cache_data(show_spinner=_("Checking each site's data…"), max_entries=8)
def _timeliness(db: str, version: tuple, cut_key: tuple, rules_key: str):
    return read_site_timeliness(store, cut, trial)


res = _timeliness(str(store.path), store.data_version(), cut.key(), state.trial_key())
st.title(_("Site timeliness"))
st.caption(cut.label)
s = res.summary
m = st.columns(3)
m[0].metric(_("Sites in red"), s["red"])
m[1].metric(_("Sites in amber"), s["amber"])
m[2].metric(_("AEs entered late"), s["ae_late"],
            help=_("First stored more than {days} days after onset.").format(days=rules.ae_entry_max_days))

LIGHT = {"green": "🟢 " + _("on time"), "amber": "🟡 " + _("late"), "red": "🔴 " + _("very late")}
table = res.table.copy()
for col in ("light", "upload_light", "entry_light", "cycle_light"):
    table[col] = table[col].map(LIGHT)
COLUMNS = {
    "site": _("Site"), "light": _("Overall"), "upload_light": _("New data"), "days_since_patients": _("Days since patients"),
    "days_since_treatment": _("Days since treatment"), "days_since_ae": _("Days since AEs"),
    "days_since_labs": _("Days since labs"), "entry_light": _("AE entry"), "ae_rows": _("AEs"),
    "ae_late": _("AEs entered late"), "cycle_light": _("Last cycle reported"), "on_treatment": _("On treatment"),
    "no_ae_last_cycle": _("No AE report in last cycle"), "no_labs_last_cycle": _("No labs in last cycle"),
    "queries_open_late": _("Queries open too long"),
}
st.dataframe(table[list(COLUMNS)].rename(columns=COLUMNS), hide_index=True, width="stretch", key="timeliness_table")
st.caption(_(
    "New data: days since the site's last new treatment, AE and lab data: amber after {amber} days, red after {red} "
    "or never. AE entry: AEs first stored more than {days} days after onset; red when more than {share:.0%} of the "
    "site's AEs. Last cycle: red when a patient on treatment has neither an AE report nor labs since their last cycle "
    "began, amber when one is missing. Queries open longer than {qdays} days are counted once queries to sites "
    "exist.").format(amber=rules.upload_amber_days, red=rules.upload_red_days, days=rules.ae_entry_max_days,
                      share=rules.late_share_red, qdays=rules.query_open_max_days))
st.caption(describe_on_treatment_rule(trial.phases))

st.subheader(_("Patients on treatment with something missing in their last cycle ({n})").format(n=len(res.patients)))
if len(res.patients):
    p = res.patients.assign(subject_id=res.patients["subject_id"].map(state.patient_link))
    st.dataframe(p.rename(columns={"subject_id": _("Patient"), "site": _("Site"), "cycle_start": _("Last cycle began"),
                                   "last_ae_onset": _("Last AE onset"), "last_lab": _("Last lab"),
                                   "no_ae_report": _("No AE report"), "no_labs": _("No labs")}),
                 hide_index=True, width="stretch",
                 column_config={_("Patient"): st.column_config.LinkColumn(display_text=r"subject=([^&]*)"),
                                _("Last cycle began"): st.column_config.DateColumn(format="YYYY-MM-DD"),
                                _("Last AE onset"): st.column_config.DateColumn(format="YYYY-MM-DD"),
                                _("Last lab"): st.column_config.DateColumn(format="YYYY-MM-DD")})
else:
    st.caption(_("Every patient on treatment has an AE report and labs in their last cycle."))

st.subheader(_("Over time"))
if len(res.history):
    st.plotly_chart(plot_entry_delay(res.history, rules.ae_entry_max_days), width="stretch", key="timeliness_chart")
else:
    st.caption(_("No adverse event stored yet."))
