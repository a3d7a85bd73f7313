"""Uploads & audit: every upload with its raw file, every rejected row, saved data cuts, the audit log."""
import datetime as dt

import streamlit as st

from app import state
from toxdb.i18n import _
from toxdb.reports.audit import action_label, derive_audit_words
from toxdb.ingest.readers import describe_reader
from toxdb.vocab import KIND_LABELS, column_words
from app.text import md
from toxdb.reports.export import (
    frame_to_csv_bytes,
    frame_to_xlsx_bytes,
    rejected_rows_for_fixing,
)

store = state.get_store()
st.title(_("Uploads & audit"))

uploads = store.uploads()
st.subheader(_("Uploads"))
if uploads.empty:
    st.info(_("Nothing uploaded yet."))
else:
    listed = uploads.drop(columns=["sha256"]).iloc[::-1]
    listed = listed.assign(kind=listed["kind"].map(lambda k: _(KIND_LABELS.get(k, k))))
    st.dataframe(listed.rename(columns=column_words(listed.columns)), hide_index=True, width="stretch")
    pick = st.selectbox(_("Upload"), uploads["upload_id"].iloc[::-1].tolist(),
                        format_func=lambda i: f"#{i} {uploads.set_index('upload_id').loc[i, 'file_name']}",
                        key="hist_upload")
    row = uploads.set_index("upload_id").loc[pick]
    st.caption(_("SHA-256 {sha} · {size} bytes · read as {reader}").format(
        sha=row["sha256"], size=f"{row['size_bytes']:,}", reader=md(describe_reader(row["reader"]))))
    c1, c2, c3 = st.columns(3)
    raw = store.upload_raw(int(pick))
    if raw is not None:
        state.download_button(c1, _("Download the raw file as uploaded"), raw, row["file_name"], "dl_raw", "download_raw")
    rejected = store.rejected_rows(int(pick))
    if len(rejected):
        fix = rejected_rows_for_fixing(rejected)
        state.download_button(c2, _("Rejected rows ({n}) .xlsx").format(n=len(rejected)), frame_to_xlsx_bytes(fix, "rejected"),
                              f"rejected_upload_{pick}.xlsx", "dl_hist_xlsx", "download_raw")
        state.download_button(c3, _("Rejected rows ({n}) .csv").format(n=len(rejected)), frame_to_csv_bytes(fix),
                              f"rejected_upload_{pick}.csv", "dl_hist_csv", "download_raw")
        st.dataframe(rejected[["source_row", "reasons"]].rename(columns={"source_row": _("row"), "reasons": _("why")}),
                     hide_index=True,
                     width="stretch")
    else:
        st.success(_("No rejected rows in this upload."))
    flagged = store.flags(int(pick))         # rows stored with a query to the site (D50)
    if len(flagged):
        st.caption(_("Stored rows of this upload that raise a query to the site: {n}").format(
            n=flagged["source_row"].nunique()))
        f1, f2 = st.columns(2)
        state.download_button(f1, _("Flagged rows .xlsx"), frame_to_xlsx_bytes(flagged, "flags"),
                              f"flags_upload_{pick}.xlsx", "dl_flags_xlsx", "download_raw")
        state.download_button(f2, _("Flagged rows .csv"), frame_to_csv_bytes(flagged),
                              f"flags_upload_{pick}.csv", "dl_flags_csv", "download_raw")
        st.dataframe(flagged[["source_row", "subject_id", "code", "column_name", "value", "message"]].rename(columns={
            "source_row": _("Row in file"), "subject_id": _("Patient"), "code": _("Code"), "column_name": _("Column"),
            "value": _("Value"), "message": _("Message")}),
                     hide_index=True, width="stretch")

st.subheader(_("Data cuts"))
st.caption(_("Saving a cut freezes the data as stored now: reports made from it give the same numbers later."))
cuts = store.data_cuts()
if len(cuts):
    st.dataframe(cuts.rename(columns={"name": _("Cut name"), "cut_date": _("Cut date"), "frozen_at": _("Frozen at"),
                                      "made_by": _("Saved by"), "frozen_upload": _("Last upload held")}),
                 hide_index=True)
if not state.allowed("cuts"):
    st.caption(state.denial_text("cuts"))
else:
    with st.form("new_cut"):
        name = st.text_input(_("Cut name"), placeholder=_("e.g. DSMB 2026-12"))
        day = st.date_input(_("Cut date"), value=dt.date.today(), max_value=dt.date.today())
        if st.form_submit_button(_("Save data cut")) and name.strip():
            if name.strip() in set(cuts["name"]):
                st.error(_("A cut named {name} exists already; choose another name.").format(name=md(repr(name.strip()))))
            else:
                store.save_data_cut(name.strip(), day, state.user())
                st.rerun()

st.subheader(_("Audit log"))
people, actions = store.audit_people_and_actions()
f = st.columns(4)
who = f[0].selectbox(_("Person"), [None] + people, format_func=lambda v: _("everyone") if v is None else v,
                     key="audit_who")
what = f[1].selectbox(_("Action"), [None] + actions,
                      format_func=lambda v: _("every action") if v is None else action_label(v), key="audit_what")
since = f[2].date_input(_("From"), value=None, key="audit_since")
until = f[3].date_input(_("To"), value=None, key="audit_until")
filters = dict(actor=who, action=what, since=since, until=until)
total = store.audit_count(**filters)
PAGE = 50
pages = max(1, -(-total // PAGE))
page = st.number_input(_("Page"), min_value=1, max_value=pages, value=1, step=1, key="audit_page")
entries = derive_audit_words(store.audit_log(PAGE, (int(page) - 1) * PAGE, **filters))
entries["action"] = entries["action"].map(action_label)
st.caption(_("{total} entries; page {page} of {pages}, newest first.").format(total=total, page=int(page), pages=pages))
st.dataframe(entries.rename(columns={"seq": _("No."), "logged_at": _("When"), "actor": _("Who"),
                                     "action": _("Action"), "what": _("What")}),
             hide_index=True, width="stretch",
             column_config={_("What"): st.column_config.TextColumn(width="large")})
