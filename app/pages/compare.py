"""Compare data cuts: what was added, corrected (old -> new) or withdrawn between two cuts, per table,
with counts, the rows and a download (one row per change, as ``python -m toxdb diff --csv``)."""
import datetime as dt

import streamlit as st

from app import state
from toxdb.i18n import _
from toxdb.reports.diff import CHANGE_LABELS, TABLE_LABELS, diff_cuts
from toxdb.reports.export import frame_to_csv_bytes
from toxdb.store.cuts import DataCut, list_saved_cuts
from toxdb.vocab import KINDS, column_words

store = state.get_store()
today = dt.date.today()


@st.cache_resource(show_spinner=_("Comparing the two data cuts…"), max_entries=4)    # shared, read-only
def _diff(db: str, version: tuple, a_key: tuple, b_key: tuple, _a: DataCut, _b: DataCut):
    return diff_cuts(store, _a, _b)


def pick(label: str, key: str, default: int) -> DataCut:
    saved = list_saved_cuts(store)
    options = ["date", "live"] + [c.name for c in saved]
    words = {"date": _("A date (data as stored by its end)"), "live": _("Live (today)")}
    col1, col2 = st.columns([2, 1])
    choice = col1.selectbox(label, options, index=min(default, len(options) - 1), key=key,
                            format_func=lambda k: words.get(k, k))
    if choice == "live":
        return DataCut(today)
    if choice == "date":
        day = col2.date_input(_("Date"), value=today - dt.timedelta(days=7), max_value=today, key=f"{key}_date")
        return DataCut(day) if day == today else DataCut(day, dt.datetime.combine(day, dt.time(23, 59, 59)))
    return next(c for c in saved if c.name == choice)


st.title(_("Compare data cuts"))
st.caption(_("Added: seen in B, not in A. Withdrawn: seen in A, not in B. Corrected: in both with other values "
             "(old → new per column). A correction later undone is no change."))
a = pick(_("Cut A (earlier)"), "cmp_a", 2 if list_saved_cuts(store) else 0)
b = pick(_("Cut B (later)"), "cmp_b", 1)
d = _diff(str(store.path), store.data_version(), a.key(), b.key(), a, b)
st.caption(_("From {a} to {b}.").format(a=a.label, b=b.label))

summary = d.summary.assign(table=d.summary["table"].map(lambda k: _(TABLE_LABELS[k])))
st.dataframe(summary.rename(columns={"table": _("Table"), "added": _(CHANGE_LABELS["added"]),
                                     "corrected": _(CHANGE_LABELS["corrected"]),
                                     "withdrawn": _(CHANGE_LABELS["withdrawn"])}), hide_index=True)
state.download_button(st, _("Download the changes (CSV, one row per change)"), frame_to_csv_bytes(d.table),
                      f"changes_{a.cut_date}_{b.cut_date}.csv", "cmp_csv", mime="text/csv", disabled=not len(d.table))

tabs = st.tabs([f"{_(TABLE_LABELS[k])} ({len(d.rows[k])})" for k in KINDS])
for tab, kind in zip(tabs, KINDS):
    with tab:
        rows = d.rows[kind]
        if not len(rows):
            st.caption(_("No change."))
            continue
        out = rows.assign(change=rows["change"].map(lambda c: _(CHANGE_LABELS[c])),
                          subject_id=rows["subject_id"].astype(str).map(state.patient_link))
        st.dataframe(out.rename(columns={**column_words(out.columns), "change": _("Change"), "subject_id": _("Patient"),
                                         "changed_columns": _("Changed columns")}),
                     hide_index=True, width="stretch", key=f"cmp_rows_{kind}",
                     column_config={_("Patient"): st.column_config.LinkColumn(display_text=r"subject=([^&]*)")})
        st.caption(_("A corrected row shows its new values, with old_<column> for each value it replaced."))
