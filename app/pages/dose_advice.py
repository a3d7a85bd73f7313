"""Dose advice: for every patient on treatment at the data cut, what the trial's dose rules say
(capecitabine / S-1 tables, renal adjustment, RT holds), with the rule behind each hint, and a way to
acknowledge a hint once it has been handled. The dashboard advises; the treating physician decides."""
from urllib.parse import quote

import streamlit as st

from app import state
from app.text import md
from toxdb.dosing.advice import (
    compute_snapshot_advice,
    derive_acknowledged,
    order_advice,
)
from toxdb.dosing.result import ACTIONS
from toxdb.dosing.words import derive_advice_words, flags_in_words, rule_in_words
from toxdb.i18n import N_, _, current_language
from toxdb.reports.export import frame_to_csv_bytes, frame_to_xlsx_bytes
from toxdb.store.cuts import load_snapshot

store = state.get_store()
cut = state.data_cut()
trial = state.get_trial()
ACTION_WORDS = {"continue": N_("Continue"), "interrupt": N_("Interrupt"), "reduce": N_("Reduce"), "stop": N_("Stop")}


@st.cache_data(show_spinner=False, max_entries=8)
def _advice(db: str, version: tuple, cut_key: tuple, rules: str, lang: str):
    result = compute_snapshot_advice(load_snapshot(store, cut), trial)
    table = derive_advice_words(order_advice(derive_acknowledged(result.table, store.acknowledgements())), trial)
    # the Patient page opens this patient: ?subject=ID (and the reader's language)
    table["patient_link"] = [f"patient?subject={quote(str(s))}&lang={lang}" for s in table["subject_id"]]
    return table, result.summary, result.flags


key = (str(store.path), store.data_version(), cut.key(), state.trial_key(), current_language())
with st.spinner(_("Applying the dose rules for this data cut…")):
    table, summary, flags = _advice(*key)

st.title(_("Dose advice"))
st.caption(_("{trial} · {cut} · hints from the rules in trial.toml; the treating physician decides.").format(
    trial=trial.trial.id, cut=md(cut.label)))

flash = st.session_state.pop("advice_flash", None)
if flash:
    st.success(md(flash))

c = st.columns(len(ACTIONS) + 1)
for i, action in enumerate(ACTIONS):
    c[i].metric(_(ACTION_WORDS[action]), int(summary.loc[action, "total"]) if action in summary.index else 0)
c[-1].metric(_("Handled"), f"{int(table['handled'].sum())} / {len(table)}" if len(table) else "0 / 0")

# the columns a PI needs first (patient, acknowledged, what to do) come first: visible at 1400 px
LABELS = {
    "patient_link": N_("Patient"), "ack_text": N_("Acknowledged"), "agent": N_("Agent"), "advice_text": N_("Advice"),
    "reason_text": N_("Reason"), "rule_text": N_("Rule"), "tablets": N_("Tablets per intake"),
    "ack_comment": N_("Comment"), "acknowledged_at": N_("Acknowledged at"),
    "phase": N_("Phase"), "crcl_text": N_("CrCl effect"), "notes": N_("Notes"),
}


def show(frame, key: str) -> None:
    """The table, then the whole reason and rule of the row the reader selects (a cell shows the start)."""
    view = frame[list(LABELS)].rename(columns={k: _(v) for k, v in LABELS.items()})
    event = st.dataframe(view, hide_index=True, width="stretch", key=key, on_select="rerun",
                         selection_mode="single-row", column_config={
        _("Patient"): st.column_config.LinkColumn(display_text=r"subject=([^&]+)", width="small",
                                                  help=_("Opens the patient's page")),
        _("Acknowledged"): st.column_config.TextColumn(width=150),
        _("Advice"): st.column_config.TextColumn(width=390),
        _("Reason"): st.column_config.TextColumn(width="large"),
        _("Rule"): st.column_config.TextColumn(width="medium"),
        _("Acknowledged at"): st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
    })
    rows = event.selection.rows if event is not None else []
    if rows:
        row = frame.iloc[rows[0]]
        with st.container(border=True):       # st.text: uploaded words are shown as text, never Markdown
            st.text(f"{row['subject_id']} · {row['agent']}: {row['advice_text']}")
            st.text(_("Reason: {reason}").format(reason=row["reason_text"] or "–"))
            st.text(_("Rule: {rule}").format(rule=row["rule_text"]))
    else:
        st.caption(_("Select a row to read its whole reason and rule."))


def export(frame):
    """Ids and words together: the rule ids are for the data manager's files, the words for people."""
    out = frame.drop(columns=["patient_link", "advice_hash", "ack_text", "crcl_text"], errors="ignore").copy()
    out["acknowledged_at"] = out["acknowledged_at"].dt.strftime("%Y-%m-%d %H:%M:%S")
    return out


if not len(table):
    st.info(_("No patient is on capecitabine, S-1 or RT at this data cut, so there is no dose advice."))
else:
    attention = table[table["action"] != "continue"]
    rest = table[table["action"] == "continue"]
    st.subheader(_("Hints that change the plan ({n})").format(n=len(attention)))
    if len(attention):
        show(attention, "advice_attention")
    else:
        st.success(_("Every patient on treatment continues as planned."))
    with st.expander(_("Continue as planned ({n})").format(n=len(rest))):
        if len(rest):
            show(rest, "advice_rest")
        else:
            st.caption(_("None."))
    d = st.columns(2)
    state.download_button(d[0], _("Download dose advice (.xlsx)"), frame_to_xlsx_bytes(export(table), "dose advice"),
                          f"dose_advice_{cut.cut_date:%Y-%m-%d}.xlsx", "advice_xlsx")
    state.download_button(d[1], _("Download dose advice (.csv)"), frame_to_csv_bytes(export(table)),
                          f"dose_advice_{cut.cut_date:%Y-%m-%d}.csv", "advice_csv")

    st.subheader(_("Acknowledge a hint"))
    st.caption(_("A handled hint stays handled until new data change the advice (action, dose, rule or reasons); "
                 "then it opens again."))
    open_rows = table.index[~table["handled"]].tolist()
    if not state.allowed("acknowledge"):
        st.info(state.denial_text("acknowledge"), icon=":material/lock:")
    elif not open_rows:
        st.success(_("Every hint at this cut has been acknowledged."))
    else:
        with st.form("ack_advice", clear_on_submit=True):
            pick = st.selectbox(
                _("Hint"), open_rows, key="ack_pick",
                format_func=lambda i: f"{table.at[i, 'subject_id']} · {table.at[i, 'agent']} · "
                                      f"{table.at[i, 'advice_text']}")
            comment = st.text_area(_("Comment"), placeholder=_("e.g. discussed with Dr X, dose reduced from cycle 3"),
                                   key="ack_comment")
            if st.form_submit_button(_("Acknowledge"), type="primary") and pick is not None:
                state.require("acknowledge")
                row = table.loc[pick]
                store.acknowledge_advice(row["subject_id"], row["agent"], row["rule"], row["advice_hash"],
                                         comment.strip() or None, state.user())
                st.session_state["advice_flash"] = _("Acknowledged {subject} · {agent} ({advice}) as {user}.").format(
                    subject=row["subject_id"], agent=row["agent"], advice=row["advice_text"], user=state.user())
                st.rerun()

st.subheader(_("Flags for the principal investigator"))
if len(flags):
    st.dataframe(flags.assign(rule=[rule_in_words(r, trial) for r in flags["rule"]],
                              flag=[flags_in_words(f) for f in flags["flag"]]).rename(
        columns={"subject_id": _("Patient"), "rule": _("Rule"), "flag": _("Flag")}), hide_index=True, width="stretch")
else:
    st.success(_("No PI flags at this data cut."))
