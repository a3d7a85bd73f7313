"""Uploads & audit: every upload with its raw file, every rejected row, saved data cuts, the audit log."""
import datetime as dt

import streamlit as st

from app import state
from app.text import md
from toxdb.reports.export import (
    frame_to_csv_bytes,
    frame_to_xlsx_bytes,
    rejected_rows_for_fixing,
)

store = state.get_store()
st.title("Uploads & audit")

uploads = store.uploads()
st.subheader("Uploads")
if uploads.empty:
    st.info("Nothing uploaded yet.")
else:
    st.dataframe(uploads.drop(columns=["sha256"]).iloc[::-1], hide_index=True, width="stretch")
    pick = st.selectbox("Upload", uploads["upload_id"].iloc[::-1].tolist(),
                        format_func=lambda i: f"#{i} {uploads.set_index('upload_id').loc[i, 'file_name']}",
                        key="hist_upload")
    row = uploads.set_index("upload_id").loc[pick]
    st.caption(f"SHA-256 {row['sha256']} · {row['size_bytes']:,} bytes · read as {md(row['reader'])}")
    c1, c2, c3 = st.columns(3)
    raw = store.upload_raw(int(pick))
    if raw is not None:
        c1.download_button("Download the raw file as uploaded", raw, file_name=row["file_name"], key="dl_raw")
    rejected = store.rejected_rows(int(pick))
    if len(rejected):
        fix = rejected_rows_for_fixing(rejected)
        c2.download_button(f"Rejected rows ({len(rejected)}) .xlsx", frame_to_xlsx_bytes(fix, "rejected"),
                           file_name=f"rejected_upload_{pick}.xlsx", key="dl_hist_xlsx")
        c3.download_button(f"Rejected rows ({len(rejected)}) .csv", frame_to_csv_bytes(fix),
                           file_name=f"rejected_upload_{pick}.csv", key="dl_hist_csv")
        st.dataframe(rejected[["source_row", "reasons"]].rename(columns={"source_row": "row"}), hide_index=True,
                     width="stretch")
    else:
        st.success("No rejected rows in this upload.")

st.subheader("Data cuts")
st.caption("Saving a cut freezes the data as stored now: reports made from it give the same numbers later.")
cuts = store.data_cuts()
if len(cuts):
    st.dataframe(cuts, hide_index=True)
with st.form("new_cut"):
    name = st.text_input("Name", placeholder="e.g. DSMB 2026-12")
    day = st.date_input("Cut date", value=dt.date.today(), max_value=dt.date.today())
    if st.form_submit_button("Save data cut") and name.strip():
        if name.strip() in set(cuts["name"]):
            st.error(f"A cut named {md(repr(name.strip()))} exists already; choose another name.")
        else:
            store.save_data_cut(name.strip(), day, state.user())
            st.rerun()

st.subheader("Audit log")
st.dataframe(store.audit_log(), hide_index=True, width="stretch")
