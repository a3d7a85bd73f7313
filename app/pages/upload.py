"""Upload: pick a file, check the column mapping, read the validation report, then load."""
import hashlib

import pandas as pd
import streamlit as st

from app import state
from app.text import md, md_frame
from toxdb.clinical.ctcae_v6 import describe_terms_version
from toxdb.i18n import N_, _
from toxdb.ingest.mapping import (
    canonical_columns,
    header_signature,
    required_columns,
)
from toxdb.ingest.readers import ReadError, SettingError, max_file_mb
from toxdb.ingest.upload import commit_upload, describe_flag_queries, describe_plan, prepare_upload
from toxdb.ingest.values import KEEP_AS_OTHER, ValueMapError, merge_value_maps, targets
from toxdb.reports.audit import derive_mapping_history
from toxdb.reports.export import (
    frame_to_csv_bytes,
    frame_to_xlsx_bytes,
    rejected_rows_for_fixing,
)
from toxdb.store.db import StoreError
from toxdb.vocab import KIND_LABELS, KINDS

state.require("upload")
store = state.get_store()
trial = state.get_trial()
me = state.person()
own_sites = getattr(store, "scope", None)      # a coordinator: their site(s) only (D64)
st.title(_("Upload data"))
st.caption(_("CSV (any common encoding and separator), Excel .xlsx (any sheet) or SDTM (.xpt or CSV). "
             "Nothing is stored until you press **Load**."))

done = st.session_state.pop("upload_done", None)
if done:
    st.success(md(done), icon=":material/check_circle:")
said = st.session_state.pop("upload_alerts", None)
if said:
    st.warning(md(said), icon=":material/notifications_active:")

try:
    limit_mb = max_file_mb()
except SettingError as exc:
    st.error(md(exc), icon=":material/settings:")
    st.stop()
sites = store.sites()
SITE_WORDS = (N_("(not given)"), N_("(new site)"))     # choices shown translated
c1, c2 = st.columns([2, 1])
with c1:
    # the widget states and enforces toxdb's own size limit (TOXDB_MAX_FILE_MB), not Streamlit's default
    uploaded = st.file_uploader(_("File"), type=["csv", "txt", "tsv", "xlsx", "xpt"],
                                max_upload_size=max(1, int(limit_mb)),
                                key=f"upload_file_{st.session_state.get('upload_round', 0)}")
with c2:
    choices = sites if own_sites is not None else ["(not given)"] + sites + ["(new site)"]
    site = st.selectbox(_("Site"), choices, key="upload_site",
                        format_func=lambda c: _(c) if c in SITE_WORDS else c)
    if site == "(new site)":
        site = st.text_input(_("New site code"), key="upload_new_site").strip() or None
    elif site == "(not given)":
        site = None
    order = st.radio(_("Dates like 03/06/2025 are"), [N_("detect from the file"), N_("day-first"), N_("month-first")],
                     key="upload_order", horizontal=True, format_func=_)
day_first = {"detect from the file": None, "day-first": True, "month-first": False}[order]

versions = derive_mapping_history(store.mapping_versions())      # a coordinator's store: their site(s) only
value_maps = store.saved_value_maps()
with st.expander(_("Saved mappings: every version ({n})").format(n=len(versions) + len(value_maps))):
    st.caption(_("A saved mapping is never overwritten: a new save adds a version and the newest is used. "
                 "Every save is also in the audit log."))
    if versions.empty and value_maps.empty:
        st.caption(_("No mapping saved yet."))
    if len(versions):
        st.dataframe(versions.rename(columns={
            "site": _("Site"), "kind": _("Kind"), "version": _("Version"), "in_use": _("In use"),
            "saved_by": _("Saved by"), "saved_at": _("Saved at"), "columns": _("File column → toxdb column")}),
            hide_index=True, width="stretch", key="mapping_versions")
    if len(value_maps):
        st.caption(_("Values mapped (the newest meaning of each written value):"))
        st.dataframe(value_maps.rename(columns={
            "site": _("Site"), "kind": _("Kind"), "column_name": _("Column"), "written": _("Written in the file"),
            "target": _("Means"), "saved_by": _("Saved by"), "saved_at": _("Saved at")}),
            hide_index=True, width="stretch", key="value_maps")

if uploaded is None:
    st.info(_("Choose a file to see what it holds. Patients first, then treatment logs, adverse events and labs: "
              "rows that name an unknown patient are rejected."))
    st.stop()

state.require("upload", site)
raw = uploaded.getvalue()
file_key = hashlib.sha256(raw).hexdigest()[:16]
kind_key, map_key = f"kind_{file_key}", f"map_{file_key}"
chosen_kind = st.session_state.get(kind_key)
chosen_map = st.session_state.get(map_key)

try:
    plan = prepare_upload(store, raw, uploaded.name, kind=chosen_kind, site=site, day_first=day_first,
                          sheet=st.session_state.get(f"sheet_{file_key}"), mapping=chosen_map, trial=trial,
                          allowed_sites=own_sites, value_map=st.session_state.get(f"vmap_{file_key}"),
                          ctcae=st.session_state.get("upload_ctcae") or None)
except (ReadError, ValueMapError) as exc:
    st.error(md(exc), icon=":material/block:")
    st.stop()

table = plan.table
if len(table.sheets) > 1:
    st.selectbox(_("Sheet"), table.sheets, index=table.sheets.index(table.sheet), key=f"sheet_{file_key}")

kind = st.selectbox(_("This file holds"), KINDS, index=KINDS.index(plan.kind), format_func=lambda k: _(KIND_LABELS[k]),
                    key=f"kindbox_{file_key}")
if kind != plan.kind:
    st.session_state[kind_key] = kind
    st.session_state.pop(map_key, None)
    st.rerun()
st.caption(_("Read as {reader}; {rows} data rows, {columns} columns.").format(
    reader=md(table.reader), rows=f"{len(table.data):,}", columns=len(table.columns))
    + (" " + _("Using the mapping saved for this site.") if plan.saved_mapping_used else ""))
for note in plan.notes:
    st.caption(_("Note: {note}").format(note=md(note)))
if plan.kind == "ae":                # which CTCAE version the file's terms are written in (D35)
    st.radio(_("CTCAE version of the terms"), ["", "5.0", "6.0"], key="upload_ctcae", horizontal=True,
             format_func=lambda v: _("as the terms tell") if not v else f"CTCAE v{v}",
             help=_("Declare the version the site's file uses, or let its terms tell (terms only one version "
                    "has). It is kept with the upload."))
    if plan.terms_version is not None:
        st.caption(md(describe_terms_version(plan.terms_version, trial.ctcae.version)))

if plan.adds_nothing:
    st.warning(md(describe_plan(plan)), icon=":material/content_copy:")

# -- column mapping ------------------------------------------------------------------------------
st.subheader(_("1 · Columns"))
required = set(required_columns(plan.kind))
NOT_IN_FILE = N_("(not in this file)")
options = [NOT_IN_FILE] + table.columns
current = plan.mapping.columns
with st.expander(_("Column mapping"), expanded=bool(plan.mapping.missing_required)):
    st.caption(_("Recognised columns are filled in; pick the file's column for anything missing. Required: "
                 "{columns}").format(columns=", ".join(sorted(required))))
    new_map: dict[str, str] = {}
    cols = st.columns(3)
    for i, canon in enumerate(canonical_columns(plan.kind)):
        src = current.get(canon)
        label = canon + (" *" if canon in required else "")
        pick = cols[i % 3].selectbox(label, options, index=options.index(src) if src in options else 0,
                                     key=f"m_{file_key}_{plan.kind}_{canon}",
                                     format_func=lambda c: _(c) if c == NOT_IN_FILE else c)
        if pick != NOT_IN_FILE:
            new_map[pick] = canon
    if plan.mapping.unmapped:
        st.caption(_("Not used: {columns}").format(columns=", ".join(md(h) for h in plan.mapping.unmapped)))
    b1, b2 = st.columns(2)
    if b1.button(_("Apply mapping"), key=f"apply_{file_key}"):
        st.session_state[map_key] = new_map
        st.rerun()
    if site and state.allowed("map", site) and b2.button(_("Save this mapping for site {site}").format(site=site),
                                                                key=f"save_{file_key}"):
        store.save_mapping(site, plan.kind, header_signature(table.columns), new_map, state.user())
        st.session_state[map_key] = new_map
        st.toast(_("Mapping saved for {site}; it will be offered for files with these columns.").format(site=md(site)))

if plan.mapping.unmapped:
    st.caption(_("Ignored columns: {columns}").format(columns=", ".join(plan.mapping.unmapped)))

if plan.mapping.missing_required:
    st.error(_("No column is mapped for: {columns}. Pick them above and press Apply mapping.").format(
        columns=", ".join(plan.mapping.missing_required)), icon=":material/extension:")
    st.subheader(_("Preview"))
    st.dataframe(table.data.head(20), hide_index=True)
    st.stop()

# -- value mapping (D52) -------------------------------------------------------------------------
if plan.unknown_values:
    with st.expander(_("Values this file writes in its own words"), expanded=True):
        st.caption(_("Say what each value means. Until it is mapped, a row with it is rejected. "
                     "A treatment that is not a protocol treatment can be kept as other: stored, never used "
                     "to place events in a treatment phase."))
        picked: dict[str, dict[str, str]] = {}
        for column, values in plan.unknown_values.items():
            choices = [_("(not mapped: row rejected)")] + targets(plan.kind, column)
            for i, value in enumerate(values[:30]):
                pick = st.selectbox(_("{column}: which value is '{value}'?").format(column=column, value=value),
                                    choices, key=f"v_{file_key}_{column}_{i}",
                                    format_func=lambda c: _("not a protocol treatment: keep as other")
                                    if c == KEEP_AS_OTHER else c)
                if pick != choices[0]:
                    picked.setdefault(column, {})[value] = pick
        v1, v2 = st.columns(2)
        if v1.button(_("Apply value mapping"), key=f"vapply_{file_key}"):
            st.session_state[f"vmap_{file_key}"] = merge_value_maps(plan.value_map, picked)
            st.rerun()
        if site and v2.button(_("Save these values for site {site}").format(site=site), key=f"vsave_{file_key}"):
            store.save_value_map(site, plan.kind, picked, state.user())
            st.session_state[f"vmap_{file_key}"] = merge_value_maps(plan.value_map, picked)
            st.rerun()

# -- validation report ---------------------------------------------------------------------------
st.subheader(_("2 · Check"))
s = plan.summary
m = st.columns(6)
m[0].metric(_("Rows in file"), f"{s['rows']:,}")
m[1].metric(_("New"), f"{s['new']:,}")
m[2].metric(_("Corrections"), f"{s['corrections']:,}")
m[3].metric(_("Duplicates"), f"{s['duplicates']:,}")
m[4].metric(_("Rejected"), f"{s['rejected']:,}")
m[5].metric(_("Flagged"), f"{s['flagged']:,}", help=_("Stored, and a query is raised to the site"))

problems = plan.validation.problems
tabs = st.tabs([_("Rows to load"), _("Rejected"), _("Flagged"), _("Duplicates"), _("Corrections"), _("File preview")])
rows_with_status = plan.rows_with_status()
with tabs[0]:
    to_load = rows_with_status[rows_with_status["status"].isin(["new", "correction"])]
    st.dataframe(to_load.drop(columns=["record_key"], errors="ignore").head(500), hide_index=True)
with tabs[1]:
    rej = problems[problems["status"] == "rejected"].assign(file_name=plan.file_name)
    if rej.empty:
        st.success(_("No row is rejected."))
    else:
        st.caption(_("Each reason names the row in your file, the column, the value and what would be accepted. "
                     "Download them, fix the cells and upload the fixed rows again."))
        shown = rej[["source_row", "reasons"]].rename(columns={"source_row": _("row"), "reasons": _("why")}).head(100)
        st.table(md_frame(shown.set_index(_("row"))))
        if len(rej) > len(shown):
            st.caption(_("The first {n} of {total} rejected rows; the downloads hold them all.").format(
                n=len(shown), total=f"{len(rej):,}"))
        fix = rejected_rows_for_fixing(rej)
        d1, d2 = st.columns(2)
        state.download_button(d1, _("Download rejected rows (.xlsx)"), frame_to_xlsx_bytes(fix, "rejected"),
                              f"rejected_{uploaded.name.rsplit('.', 1)[0]}.xlsx", "dl_rej_xlsx", "upload")
        state.download_button(d2, _("Download rejected rows (.csv)"), frame_to_csv_bytes(fix),
                              f"rejected_{uploaded.name.rsplit('.', 1)[0]}.csv", "dl_rej_csv", "upload")
with tabs[2]:
    flagged = plan.validation.flags
    if flagged.empty:
        st.success(_("No row is flagged."))
    else:
        st.caption(_("These rows are stored as the file has them and counted; each raises a query to the site. "
                     "The list of all flags: python -m toxdb export flags --csv"))
        st.dataframe(flagged.drop(columns=["record_key"]).head(500), hide_index=True)
with tabs[3]:
    dups = problems[problems["status"] == "duplicate"][["source_row", "reasons"]]
    stored_dups = rows_with_status[rows_with_status["status"] == "duplicate"][["source_row"]]
    if len(stored_dups):
        dups = pd.concat([dups, stored_dups.assign(reasons=_("already stored with the same values"))])
    st.dataframe(dups.rename(columns={"source_row": _("row"), "reasons": _("why")}), hide_index=True, width="stretch")
with tabs[4]:
    st.caption(_("A correction changes a row already stored; the old version stays in the history. "
                 "Each value that will change:"))
    st.dataframe(plan.changes().drop(columns=["record_key"]).rename(columns={
        "source_row": _("row"), "column": _("column"), "stored": _("stored now"), "incoming": _("after loading")}),
        hide_index=True)
with tabs[5]:
    st.dataframe(table.data.head(50), hide_index=True)

# -- load ----------------------------------------------------------------------------------------
st.subheader(_("3 · Load"))
if plan.adds_nothing:
    st.button(_("Load"), disabled=True, key="load_disabled")
else:
    label = _("Load {n} rows").format(n=f"{s['new'] + s['corrections']:,}")
    if st.button(label, type="primary", key="load"):
        try:
            counts = commit_upload(store, plan, state.user())
        except StoreError as exc:              # disk full, database busy: a sentence, nothing stored
            st.error(md(exc), icon=":material/error:")
            st.stop()
        st.session_state["upload_done"] = (
            _("Loaded {file} as upload #{upload}: {new} new, {corrected} corrected, {duplicates} duplicates, "
              "{rejected} rejected (kept with their reasons on the Uploads page).").format(
                file=uploaded.name, upload=counts.upload_id, new=counts.accepted, corrected=counts.corrections,
                duplicates=counts.duplicates, rejected=counts.rejected) + " "
            + _("{n} stored rows flagged for a query to the site.").format(n=counts.flagged)
            + (" " + _("Terms kept as CTCAE v{version}.").format(version=plan.ctcae_version) if plan.ctcae_version
               else "")
            + (" " + describe_flag_queries(counts).removeprefix("; ").replace("; ", ". ") + "."
               if describe_flag_queries(counts) else ""))
        st.session_state["upload_alerts"] = plan.alerts.message if plan.alerts is not None else None
        st.session_state["upload_round"] = st.session_state.get("upload_round", 0) + 1
        st.rerun()
