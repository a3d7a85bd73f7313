"""Queries to sites and record review: ask a site about one record, the site answers, the asker closes
or re-opens; the PI marks adverse events and lab-vs-AE queries reviewed. Rules: toxdb/queries.py and
toxdb/review.py (D75-D78); every action is in the audit log."""
import datetime as dt
from urllib.parse import quote

import pandas as pd
import streamlit as st

from app import state
from toxdb.clinical.lab_queries import compute_lab_queries
from toxdb.i18n import _, current_language
from toxdb.permissions import allowed, current_site
from toxdb.queries import (
    ACTION_WORDS,
    ANSWERED,
    CLOSED,
    OPEN,
    RECORD_KINDS,
    STATUS_WORDS,
    QueryRefused,
    act_on_query,
    compute_query_counts,
    derive_query_overview,
    lab_query_records,
    queries_for_export,
    raise_lab_queries,
    raise_query,
    record_choices,
)
from toxdb.reports.export import frame_to_csv_bytes
from toxdb.review import (
    ReviewRefused,
    ae_review_records,
    compute_unreviewed_counts,
    derive_review_status,
    filter_review,
    mark_reviewed,
)
from toxdb.store.cuts import load_snapshot
from toxdb.store.queries import read_queries, read_query_messages, read_reviews

store = state.get_store()
cut = state.data_cut()
trial = state.get_trial()
site = current_site()
now = dt.datetime.now()
REVIEW_ROWS_SHOWN = 2000


@st.cache_data(show_spinner=False, max_entries=8)
def _lab_query_records(db: str, version: tuple, cut_key: tuple, rules: str, lang: str):
    return lab_query_records(compute_lab_queries(load_snapshot(store, cut), trial).table)


@st.cache_data(show_spinner=False, max_entries=8)
def _current(db: str, version: tuple, cut_key: tuple, kind: str):
    return store.read_kind(kind, as_of=cut.frozen_at, until=cut.cut_date, with_version_columns=True)


# clinical rows change only with an upload: these caches key on the latest upload, not on every audit row
key = (str(store.path), store.data_version()[0], cut.key())
patients = _current(*key, "patients")
site_of = dict(zip(patients["subject_id"].astype(str), patients["site"]))
lab_records = _lab_query_records(*key, state.trial_key(), current_language())

st.title(_("Queries to sites"))
st.caption(_("{trial} · {cut} · signed in as {user}{site}. A query asks a site about one record; the site "
             "answers; the person who asked closes it or re-opens it.").format(
    trial=trial.trial.id, cut=cut.label, user=state.user(),
    site=_(" for site {site}").format(site=site) if site else ""))
for level, text in st.session_state.pop("queries_flash", []):
    (st.success if level == "ok" else st.error)(text)

queries = read_queries(store, [site] if site else None)
messages = read_query_messages(store)
overview = derive_query_overview(queries, messages, now)

m = st.columns(4)
for i, status in enumerate((OPEN, ANSWERED, CLOSED)):
    m[i].metric(_(STATUS_WORDS[status]).capitalize(), int((queries["status"] == status).sum()))
m[3].metric(_("Oldest open (days)"), int(overview.loc[overview["status"] == OPEN, "age_days"].max())
            if (overview["status"] == OPEN).any() else "–")

tab_list, tab_raise, tab_review = st.tabs([_("Queries"), _("Raise a query"), _("Record review")])


def _flash(level: str, text: str) -> None:
    st.session_state["queries_flash"] = [(level, text)]
    st.rerun()


with tab_list:
    shown_status = st.multiselect(_("Status"), [OPEN, ANSWERED, CLOSED], default=[OPEN, ANSWERED],
                                  format_func=lambda s: _(STATUS_WORDS[s]), key="queries_status")
    shown = overview[overview["status"].isin(shown_status)]
    LABELS = {"query_id": _("No."), "site": _("Site"), "subject_id": _("Patient"), "record_label": _("Record"),
              "status": _("Status"), "raised_by": _("Raised by"), "raised_at": _("Raised"),
              "age_days": _("Age (days)"), "last_author": _("Last message by"), "last_text": _("Last message")}
    if len(shown):
        # the patient cell opens the Patient page (?subject=)
        table = shown[list(LABELS)].assign(
            status=shown["status"].map(lambda s: _(STATUS_WORDS[s])),
            subject_id=[f"patient?subject={quote(str(s))}&lang={current_language()}" for s in shown["subject_id"]])
        st.dataframe(table.rename(columns=LABELS), hide_index=True, width="stretch", key="queries_table",
                     column_config={_("Raised"): st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
                                    _("Patient"): st.column_config.LinkColumn(display_text=r"subject=([^&]+)"),
                                    _("Last message"): st.column_config.TextColumn(width="large")})
    else:
        st.success(_("No query with this status."))

    if len(overview):
        # the status is in the table above, not in these labels: a keyed selectbox keeps its first labels
        labels = {int(r.query_id): f"#{r.query_id} · {r.site} · {r.subject_id} · {r.record_label}"
                  for r in overview.itertuples()}
        pick = st.selectbox(_("Query"), list(labels), format_func=labels.get, key="queries_pick")
        chosen = overview[overview["query_id"] == pick].iloc[0]
        thread = messages[messages["query_id"] == pick]
        st.markdown("**" + _("Thread") + "**")
        st.dataframe(thread[["written_at", "author", "role", "action", "text"]].assign(
            action=thread["action"].map(lambda a: _(ACTION_WORDS.get(a, a)))).rename(columns={
            "written_at": _("When"), "author": _("Who"), "role": _("Role"), "action": _("Action"), "text": _("Text")}),
            hide_index=True, width="stretch", key="queries_thread",
            column_config={_("When"): st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss"),
                           _("Text"): st.column_config.TextColumn(width="large")})
        can_answer = allowed("answer_query", chosen["site"], trial) and chosen["status"] != CLOSED
        can_handle = allowed("query", chosen["site"], trial)
        if can_answer or can_handle:
            with st.form("query_act", clear_on_submit=True):
                text = st.text_area(_("Your answer or comment"), key="query_text")
                b = st.columns(3)
                answer = b[0].form_submit_button(_("Answer"), type="primary", disabled=not can_answer)
                close = b[1].form_submit_button(_("Close"), disabled=not can_handle or chosen["status"] == CLOSED)
                reopen = b[2].form_submit_button(_("Re-open"), disabled=not can_handle or chosen["status"] == OPEN)
            action = "answer" if answer else "close" if close else "reopen" if reopen else None
            if action:
                try:
                    status = act_on_query(store, pick, action, text, trial)
                    _flash("ok", _("Query #{n} is now {status}.").format(n=pick, status=_(STATUS_WORDS[status])))
                except QueryRefused as exc:
                    st.error(str(exc))
        else:
            st.caption(_("You may read this query; answering needs the 'answer' permission for its site, closing "
                         "the 'query' permission."))

    st.subheader(_("By site"))
    counts = compute_query_counts(queries, now)
    st.dataframe(counts.rename(columns={"site": _("Site"), OPEN: _("Open"), ANSWERED: _("Answered"),
                                        CLOSED: _("Closed"), "total": _("Total"),
                                        "median_open_days": _("Median age of open (days)"),
                                        "oldest_open_days": _("Oldest open (days)")}),
                 hide_index=True, width="stretch", key="queries_counts")
    state.download_button(st, _("Download queries and threads (.csv)"),
                          frame_to_csv_bytes(queries_for_export(queries, messages)),
                          f"site_queries_{dt.date.today():%Y-%m-%d}.csv", "queries_csv")

with tab_raise:
    if not allowed("query", None, trial):
        st.info(_("Raising a query needs the 'query' permission (trial.toml [roles])."))
    else:
        kind = st.selectbox(_("About"), list(RECORD_KINDS), format_func=lambda k: _(RECORD_KINDS[k]),
                            key="raise_kind")
        if kind == "lab_query":
            records = lab_records
            st.caption(_("Lab values graded ≥ 1 with no AE, or a lower-grade AE (the Lab queries page). Raise one "
                         "below with your own words, or all at once with their own words."))
            if st.button(_("Raise every lab-vs-AE query not yet raised ({n} at this cut)").format(n=len(records)),
                         key="raise_all_lab", disabled=not len(records)):
                try:
                    raised = raise_lab_queries(store, records, trial)
                    _flash("ok", _("{n} lab-vs-AE queries raised to the sites.").format(n=len(raised)))
                except QueryRefused as exc:
                    st.error(str(exc))
        else:
            records = record_choices(_current(*key, kind), kind)
            records = records.assign(kind=kind, site=records["subject_id"].map(site_of), source="manual")
        subjects = sorted(records["subject_id"].unique())
        if not subjects:
            st.info(_("No record of this kind at this data cut."))
        else:
            subject = st.selectbox(_("Patient"), subjects, key="raise_subject")
            mine = records[records["subject_id"] == subject].reset_index(drop=True)
            with st.form("raise_query", clear_on_submit=True):
                row = st.selectbox(_("Record"), mine.index.tolist(), format_func=lambda i: mine.at[i, "label"],
                                   key="raise_record")
                text = st.text_area(_("Question to the site"), key="raise_text")
                if st.form_submit_button(_("Raise query"), type="primary"):
                    try:
                        n = raise_query(store, mine.loc[row].to_dict(), text, trial)
                        _flash("ok", _("Query #{n} raised to site {site}.").format(n=n, site=mine.at[row, "site"]))
                    except QueryRefused as exc:
                        st.error(str(exc))

with tab_review:
    ae = _current(*key, "ae")
    records = pd.concat([ae_review_records(ae, patients), lab_records.drop(columns="source")], ignore_index=True)
    review = derive_review_status(filter_review(records, sites=[site] if site else None), read_reviews(store))
    f = st.columns([3, 2, 2, 2])
    kinds = f[0].multiselect(_("Records"), ["ae", "lab_query"], default=["ae", "lab_query"],
                             format_func=lambda k: _(RECORD_KINDS[k]), key="review_kinds")
    sites = f[1].multiselect(_("Site"), sorted(review["site"].dropna().unique()), key="review_sites",
                             placeholder=_("all sites"))
    subjects = f[2].multiselect(_("Patient"), sorted(review["subject_id"].dropna().unique()), key="review_subjects",
                                placeholder=_("all patients"))
    only_open = f[3].toggle(_("Only unreviewed"), value=True, key="review_open")
    of_kinds = filter_review(review, kinds)
    shown = filter_review(of_kinds, sites=sites, subjects=subjects, only_unreviewed=only_open)
    c = st.columns(2)
    c[0].markdown("**" + _("Unreviewed by site") + "**")
    c[0].dataframe(compute_unreviewed_counts(of_kinds, "site").rename(columns={
        "site": _("Site"), "records": _("Records"), "reviewed": _("Reviewed"), "unreviewed": _("Unreviewed")}),
        hide_index=True, width="stretch", key="review_by_site")
    c[1].markdown("**" + _("Unreviewed by patient") + "**")
    c[1].dataframe(compute_unreviewed_counts(of_kinds, "subject_id").rename(columns={
        "subject_id": _("Patient"), "records": _("Records"), "reviewed": _("Reviewed"),
        "unreviewed": _("Unreviewed")}), hide_index=True, width="stretch", key="review_by_patient", height=250)
    listed = shown.head(REVIEW_ROWS_SHOWN)          # the browser gets at most this many rows; marks apply to all
    if len(shown) > len(listed):
        st.caption(_("Listing the first {k} of {n} records; choose a site or patient to narrow the list. "
                     "\"Mark all\" marks all {n}.").format(k=len(listed), n=len(shown)))
    event = st.dataframe(
        listed[["subject_id", "site", "kind", "label", "version", "reviewed", "reviewed_by", "reviewed_at"]]
        .assign(kind=listed["kind"].map(lambda k: _(RECORD_KINDS[k]))).rename(columns={
            "subject_id": _("Patient"), "site": _("Site"), "kind": _("Record"), "label": _("What"),
            "version": _("Version"), "reviewed": _("Reviewed"), "reviewed_by": _("Reviewed by"),
            "reviewed_at": _("Reviewed at")}),
        hide_index=True, width="stretch", key="review_table", on_select="rerun", selection_mode="multi-row",
        column_config={_("Reviewed at"): st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm")})
    todo = filter_review(shown, only_unreviewed=True)
    picked = filter_review(listed.iloc[event.selection.rows], only_unreviewed=True) if event else listed.iloc[:0]
    if allowed("review", None, trial):
        b = st.columns(2)
        mark_all = b[0].button(_("Mark all {n} shown as reviewed").format(n=len(todo)), disabled=not len(todo),
                               type="primary", key="review_all")
        mark_picked = b[1].button(_("Mark {n} selected as reviewed").format(n=len(picked)), disabled=not len(picked),
                                  key="review_picked")
        if mark_all or mark_picked:
            try:
                n = mark_reviewed(store, todo if mark_all else picked, trial)
                _flash("ok", _("{n} records marked reviewed by {user}.").format(n=n, user=state.user()))
            except ReviewRefused as exc:
                st.error(str(exc))
    st.caption(_("A mark belongs to one version of a record: when the site corrects the record, it is unreviewed "
                 "again. A lab-vs-AE query is unreviewed again when what it says changes."))
