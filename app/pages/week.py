"""This week: the principal investigator's start page. What is new since a reference (their last
review, a saved cut or a date) and what needs doing, every item linked to the patient. The sections
are computed by toxdb.reports.week (built on the comparison of two data cuts); this page renders."""
import datetime as dt

import streamlit as st

from app import state
from toxdb.clinical.treatment import describe_on_treatment_rule
from toxdb.dosing.words import reasons_in_words
from toxdb.i18n import _, ngettext
from toxdb.reports.diff import CHANGE_LABELS, TABLE_LABELS
from toxdb.reports.week import (
    REVIEW_ACTION,
    SECTION_TITLES,
    SECTIONS,
    compute_week,
    reference_from_review,
)
from toxdb.store.cuts import DataCut, list_saved_cuts

store = state.get_store()
cut = state.data_cut()
trial = state.get_trial()
me = state.user()


# cache_resource: every session shares the same read-only result (no copy per run of a week with
# thousands of new rows); the key holds the data version, both cuts, the rules and the language
@st.cache_resource(show_spinner=False, max_entries=8)
def _week(db: str, version: tuple, ref_key: tuple, cut_key: tuple, rules: str, lang: str, _ref: DataCut):
    return compute_week(store, _ref, cut, trial)


st.title(_("This week"))
reviewed_at = store.last_audit_time(me, REVIEW_ACTION)
saved = [c for c in list_saved_cuts(store) if c.cut_date <= cut.cut_date]
options = (["review"] if reviewed_at else []) + ["week", "date"] + [c.name for c in saved]
labels = {"review": _("My last review ({when})").format(when=f"{reviewed_at:%Y-%m-%d %H:%M}" if reviewed_at else ""),
          "week": _("7 days ago"), "date": _("A date")}
left, right = st.columns([2, 1])
state.widget_from_address("week_ref", "since", options[0], options)       # ?since=<saved cut>: a link keeps it
choice = left.selectbox(_("What is new since"), options, format_func=lambda k: labels.get(k, k), key="week_ref",
                        help=_("Your last review is the last time you pressed “Mark as reviewed” below. A saved "
                               "cut or a date compares with the data as they were stored then."))
state.widget_to_address("week_ref", "since", options[0])
today = cut.cut_date
if choice == "review":
    ref = reference_from_review(reviewed_at, today)
elif choice == "date":
    day = right.date_input(_("Date"), value=today - dt.timedelta(days=7), max_value=today, key="week_ref_date")
    ref = reference_from_review(None, day, 0)
elif choice == "week":
    ref = reference_from_review(None, today)
else:
    ref = next(c for c in saved if c.name == choice)

with st.spinner(_("Comparing the data with the reference…")):
    week = _week(str(store.path), store.data_version(), ref.key(), cut.key(), state.trial_key(),
                 state.current_language(), ref)
st.caption(_("From {ref} to {cut}. Every row links to the patient.").format(ref=ref.label, cut=cut.label))

s = week.summary
m = st.columns(7)
m[0].metric(_("Grade changes"), s["grade_changes"], help=_("{n} upgrades").format(n=s["upgrades"]))
m[1].metric(_("New SAEs / deaths"), s["serious"])
m[2].metric(_("New grade ≥ 3"), s["grade3"])
m[3].metric(_("New AEs"), s["new_aes"])
m[4].metric(_("Advice to act on"), s["advice"])
m[5].metric(_("New lab queries"), s["lab_queries"])
m[6].metric(_("Cycles due"), s["due"], help=_("Patients due to start a cycle in the next 7 days who have open dose advice."))

PATIENT = _("Patient")
COLUMNS = {
    "subject_id": PATIENT, "site": _("Site"), "term": _("Term"), "grade": _("Grade"), "old_grade": _("Was grade"),
    "change": _("Change"), "onset_date": _("Onset"), "serious": _("Serious"), "what": _("What"), "date": _("Date"),
    "agent": _("Agent"), "action": _("Action"), "dose_percent": _("Dose %"), "reasons": _("Reasons"),
    "test": _("Test"), "collected_on": _("Collected"), "value": _("Value"), "unit": _("Unit"),
    "lab_grade": _("Lab grade"), "query": _("Query"), "next_cycle": _("Next cycle due"),
    "open_advice": _("Open advice"), "upload_id": _("Upload"),
}
SHOW = {
    "grade_changes": ["subject_id", "site", "term", "old_grade", "grade", "change", "onset_date", "upload_id"],
    "serious": ["subject_id", "site", "what", "term", "grade", "date"],
    "grade3": ["subject_id", "site", "term", "grade", "onset_date", "serious", "upload_id"],
    "new_aes": ["subject_id", "site", "term", "grade", "onset_date", "serious", "upload_id"],
    "advice": ["subject_id", "site", "agent", "action", "dose_percent", "reasons"],
    "lab_queries": ["subject_id", "site", "test", "collected_on", "value", "unit", "lab_grade", "query"],
    "due": ["subject_id", "site", "agent", "next_cycle", "open_advice"],
}
WORDS = {"upgrade": _("upgrade"), "downgrade": _("downgrade"), "new SAE": _("new SAE"),
         "now serious": _("now serious"), "death (grade 5 AE)": _("death (grade 5 AE)"),
         "death recorded": _("death recorded")}
CONFIG = {
    PATIENT: st.column_config.LinkColumn(display_text=r"subject=([^&]*)", width="small"),
    _("Onset"): st.column_config.DateColumn(format="YYYY-MM-DD"),
    _("Date"): st.column_config.DateColumn(format="YYYY-MM-DD"),
    _("Collected"): st.column_config.DateColumn(format="YYYY-MM-DD"),
    _("Next cycle due"): st.column_config.DateColumn(format="YYYY-MM-DD"),
    _("Dose %"): st.column_config.NumberColumn(format="%.0f %%"),
    _("Reasons"): st.column_config.TextColumn(width="large"),
    _("Query"): st.column_config.TextColumn(width="large"),
}


def show(name: str) -> None:
    frame = week.sections[name]
    title = _(SECTION_TITLES[name]).format(days=7)
    st.subheader(f"{title} ({len(frame)})")
    if not len(frame):
        st.caption(_("Nothing new."))
        return
    out = frame[[c for c in SHOW[name] if c in frame.columns]].copy()
    for col in ("change", "what"):
        if col in out:
            out[col] = out[col].map(lambda v: WORDS.get(v, v))
    if "reasons" in out:                   # words without rule ids, in the reader's language (D73)
        out["reasons"] = out["reasons"].map(reasons_in_words)
    for col in ("term", "grade"):          # a death without an AE row has neither
        if col in out and out[col].isna().any():
            out[col] = out[col].astype("string").fillna("–")
    out["subject_id"] = out["subject_id"].map(state.patient_link)
    st.dataframe(out.rename(columns=COLUMNS), hide_index=True, width="stretch", column_config=CONFIG,
                 key=f"week_{name}")


for name in SECTIONS:
    show(name)
    if name == "due":
        st.caption(describe_on_treatment_rule(trial.phases) + " " + _(
            "Next cycle due: the latest cycle's start plus {days} days, while planned cycles remain.").format(
            days=trial.phases.cycle_length_days))

st.subheader(_("New data by site"))
by_site = week.by_site
if len(by_site):
    what = {f"{t} {c}": _("{table}: {change}").format(table=_(TABLE_LABELS[t]), change=_(CHANGE_LABELS[c]))
            for t in TABLE_LABELS for c in CHANGE_LABELS}        # the columns "ae added", ... of by_site
    st.dataframe(by_site.rename(columns={"site": _("Site"), "uploads": _("Uploads"), "last_upload": _("Last upload"),
                                         **what}),
                 hide_index=True, width="stretch",
                 column_config={_("Last upload"): st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm")})
    st.caption(_("Records added, corrected or withdrawn per table (by the patient's site), and the uploads "
                 "made in the period (by the site named at upload)."))
else:
    st.caption(_("No new data since the reference."))

st.divider()
n = s["patients_changed"]
st.caption(ngettext("{n} patient has new or changed data in this period.",
                    "{n} patients have new or changed data in this period.", n).format(n=n))


def _mark_reviewed() -> None:
    store.record_audit(me, REVIEW_ACTION, {"reference": ref.label, "cut": cut.label,
                                           "items": {k: int(v) for k, v in s.items()}})
    st.session_state["week_ref"] = "review"     # next run: what is new since this review


st.button(_("Mark as reviewed"), type="primary", key="week_mark", on_click=_mark_reviewed,
          help=_("Next time, “My last review” shows what is new since now."))
