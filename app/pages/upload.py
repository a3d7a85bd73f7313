"""Upload: pick a file, check the column mapping, read the validation report, then load."""
import hashlib

import pandas as pd
import streamlit as st

from app import state
from toxdb.ingest.mapping import (
    canonical_columns,
    header_signature,
    required_columns,
)
from toxdb.ingest.readers import MAX_FILE_MB, ReadError
from toxdb.ingest.upload import commit_upload, prepare_upload
from toxdb.reports.export import (
    frame_to_csv_bytes,
    frame_to_xlsx_bytes,
    rejected_rows_for_fixing,
)
from toxdb.vocab import KIND_LABELS, KINDS

store = state.get_store()
trial = state.get_trial()
st.title("Upload data")
st.caption("CSV (any common encoding and separator), Excel .xlsx (any sheet) or SDTM (.xpt or CSV). "
           "Nothing is stored until you press **Load**.")

done = st.session_state.pop("upload_done", None)
if done:
    st.success(done, icon=":material/check_circle:")
said = st.session_state.pop("upload_alerts", None)
if said:
    st.warning(said, icon=":material/notifications_active:")

sites = store.sites()
c1, c2 = st.columns([2, 1])
with c1:
    # the widget states and enforces toxdb's own size limit (TOXDB_MAX_FILE_MB), not Streamlit's default
    uploaded = st.file_uploader("File", type=["csv", "txt", "tsv", "xlsx", "xpt"],
                                max_upload_size=max(1, int(MAX_FILE_MB)),
                                key=f"upload_file_{st.session_state.get('upload_round', 0)}")
with c2:
    site = st.selectbox("Site", ["(not given)"] + sites + ["(new site)"], key="upload_site")
    if site == "(new site)":
        site = st.text_input("New site code", key="upload_new_site").strip() or None
    elif site == "(not given)":
        site = None
    order = st.radio("Dates like 03/06/2025 are", ["detect from the file", "day-first", "month-first"],
                     key="upload_order", horizontal=True)
day_first = {"detect from the file": None, "day-first": True, "month-first": False}[order]

if uploaded is None:
    st.info("Choose a file to see what it holds. Patients first, then treatment logs, adverse events and labs: "
            "rows that name an unknown patient are rejected.")
    st.stop()

raw = uploaded.getvalue()
file_key = hashlib.sha256(raw).hexdigest()[:16]
kind_key, map_key = f"kind_{file_key}", f"map_{file_key}"
chosen_kind = st.session_state.get(kind_key)
chosen_map = st.session_state.get(map_key)

try:
    plan = prepare_upload(store, raw, uploaded.name, kind=chosen_kind, site=site, day_first=day_first,
                          sheet=st.session_state.get(f"sheet_{file_key}"), mapping=chosen_map, trial=trial)
except ReadError as exc:
    st.error(str(exc), icon=":material/block:")
    st.stop()

table = plan.table
if len(table.sheets) > 1:
    st.selectbox("Sheet", table.sheets, index=table.sheets.index(table.sheet), key=f"sheet_{file_key}")

kind = st.selectbox("This file holds", KINDS, index=KINDS.index(plan.kind), format_func=lambda k: KIND_LABELS[k],
                    key=f"kindbox_{file_key}")
if kind != plan.kind:
    st.session_state[kind_key] = kind
    st.session_state.pop(map_key, None)
    st.rerun()
st.caption(f"Read as {table.reader}; {len(table.data):,} data rows, {len(table.columns)} columns."
           + (" Using the mapping saved for this site." if plan.saved_mapping_used else ""))
for note in plan.notes:
    st.caption(f"Note: {note}")

if plan.already_uploaded:
    a = plan.already_uploaded
    st.warning(f"This exact file was already uploaded as #{a['upload_id']} ({a['file_name']}, "
               f"{a['uploaded_at']:%Y-%m-%d %H:%M}, by {a['uploaded_by']}). Loading it again would add nothing.",
               icon=":material/content_copy:")

# -- column mapping ------------------------------------------------------------------------------
st.subheader("1 · Columns")
required = set(required_columns(plan.kind))
options = ["(not in this file)"] + table.columns
current = plan.mapping.columns
with st.expander("Column mapping", expanded=bool(plan.mapping.missing_required)):
    st.caption("Recognised columns are filled in; pick the file's column for anything missing. Required: "
               + ", ".join(sorted(required)))
    new_map: dict[str, str] = {}
    cols = st.columns(3)
    for i, canon in enumerate(canonical_columns(plan.kind)):
        src = current.get(canon)
        label = canon + (" *" if canon in required else "")
        pick = cols[i % 3].selectbox(label, options, index=options.index(src) if src in options else 0,
                                     key=f"m_{file_key}_{plan.kind}_{canon}")
        if pick != "(not in this file)":
            new_map[pick] = canon
    if plan.mapping.unmapped:
        st.caption("Not used: " + ", ".join(plan.mapping.unmapped))
    b1, b2 = st.columns(2)
    if b1.button("Apply mapping", key=f"apply_{file_key}"):
        st.session_state[map_key] = new_map
        st.rerun()
    if site and b2.button(f"Save this mapping for site {site}", key=f"save_{file_key}"):
        store.save_mapping(site, plan.kind, header_signature(table.columns), new_map, state.user())
        st.session_state[map_key] = new_map
        st.toast(f"Mapping saved for {site}; it will be offered for files with these columns.")

if plan.mapping.missing_required:
    st.error("No column is mapped for: " + ", ".join(plan.mapping.missing_required)
             + ". Pick them above and press Apply mapping.", icon=":material/extension:")
    st.subheader("Preview")
    st.dataframe(table.data.head(20), hide_index=True)
    st.stop()

# -- validation report ---------------------------------------------------------------------------
st.subheader("2 · Check")
s = plan.summary
m = st.columns(5)
m[0].metric("Rows in file", f"{s['rows']:,}")
m[1].metric("New", f"{s['new']:,}")
m[2].metric("Corrections", f"{s['corrections']:,}")
m[3].metric("Duplicates", f"{s['duplicates']:,}")
m[4].metric("Rejected", f"{s['rejected']:,}")

problems = plan.validation.problems
tabs = st.tabs(["Rows to load", "Rejected", "Duplicates", "Corrections", "File preview"])
rows_with_status = plan.rows_with_status()
with tabs[0]:
    to_load = rows_with_status[rows_with_status["status"].isin(["new", "correction"])]
    st.dataframe(to_load.drop(columns=["record_key"], errors="ignore").head(500), hide_index=True)
with tabs[1]:
    rej = problems[problems["status"] == "rejected"].assign(file_name=plan.file_name)
    if rej.empty:
        st.success("No row is rejected.")
    else:
        st.caption("Each reason names the row in your file, the column, the value and what would be accepted. "
                   "Download them, fix the cells and upload the fixed rows again.")
        shown = rej[["source_row", "reasons"]].rename(columns={"source_row": "row", "reasons": "why"}).head(100)
        st.table(shown.set_index("row"))
        if len(rej) > len(shown):
            st.caption(f"The first {len(shown)} of {len(rej):,} rejected rows; the downloads hold them all.")
        fix = rejected_rows_for_fixing(rej)
        d1, d2 = st.columns(2)
        d1.download_button("Download rejected rows (.xlsx)", frame_to_xlsx_bytes(fix, "rejected"),
                           file_name=f"rejected_{uploaded.name.rsplit('.', 1)[0]}.xlsx", key="dl_rej_xlsx")
        d2.download_button("Download rejected rows (.csv)", frame_to_csv_bytes(fix),
                           file_name=f"rejected_{uploaded.name.rsplit('.', 1)[0]}.csv", key="dl_rej_csv")
with tabs[2]:
    dups = problems[problems["status"] == "duplicate"][["source_row", "reasons"]]
    stored_dups = rows_with_status[rows_with_status["status"] == "duplicate"][["source_row"]]
    if len(stored_dups):
        dups = pd.concat([dups, stored_dups.assign(reasons="already stored with the same values")])
    st.dataframe(dups.rename(columns={"source_row": "row"}), hide_index=True, width="stretch")
with tabs[3]:
    corr = rows_with_status[rows_with_status["status"] == "correction"]
    st.caption("A correction changes a row already stored; the old version stays in the history.")
    st.dataframe(corr.drop(columns=["record_key"], errors="ignore"), hide_index=True)
with tabs[4]:
    st.dataframe(table.data.head(50), hide_index=True)

# -- load ----------------------------------------------------------------------------------------
st.subheader("3 · Load")
if plan.already_uploaded:
    st.button("Load", disabled=True, key="load_disabled")
else:
    label = f"Load {s['new'] + s['corrections']:,} rows"
    if st.button(label, type="primary", key="load"):
        counts = commit_upload(store, plan, state.user())
        st.session_state["upload_done"] = (
            f"Loaded {uploaded.name} as upload #{counts.upload_id}: {counts.accepted} new, "
            f"{counts.corrections} corrected, {counts.duplicates} duplicates, {counts.rejected} rejected "
            "(kept with their reasons on the Uploads page).")
        st.session_state["upload_alerts"] = plan.alerts.message if plan.alerts is not None else None
        st.session_state["upload_round"] = st.session_state.get("upload_round", 0) + 1
        st.rerun()
