"""Dose advice: for every patient on treatment at the data cut, what the trial's dose rules say
(capecitabine / S-1 tables, renal adjustment, RT holds), with the rule behind each hint, and a way to
acknowledge a hint once it has been handled. The dashboard advises; the treating physician decides."""
import streamlit as st

from app import state
from app.text import md
from toxdb.dosing.advice import (
    compute_snapshot_advice,
    derive_acknowledged,
    order_advice,
)
from toxdb.dosing.result import ACTIONS
from toxdb.store.cuts import load_snapshot

store = state.get_store()
cut = state.data_cut()
trial = state.get_trial()


@st.cache_data(show_spinner="Applying the dose rules for this data cut…", max_entries=8)
def _advice(db: str, version: tuple, cut_key: tuple, rules: str):
    result = compute_snapshot_advice(load_snapshot(store, cut), trial)
    table = order_advice(derive_acknowledged(result.table, store.acknowledgements()))
    return table, result.summary, result.flags


key = (str(store.path), store.data_version(), cut.key(), state.trial_key())
table, summary, flags = _advice(*key)

st.title("Dose advice")
st.caption(f"{trial.trial.id} · {md(cut.label)} · hints from the rules in trial.toml; the treating physician decides.")

flash = st.session_state.pop("advice_flash", None)
if flash:
    st.success(md(flash))

c = st.columns(len(ACTIONS) + 1)
for i, action in enumerate(ACTIONS):
    c[i].metric(action.capitalize(), int(summary.loc[action, "total"]) if action in summary.index else 0)
c[-1].metric("Handled", f"{int(table['handled'].sum())} / {len(table)}" if len(table) else "0 / 0")

LABELS = {
    "subject_id": "Patient", "agent": "Agent", "phase": "Phase", "action": "Action", "dose_percent": "Dose %",
    "dose_mg_per_intake_calculated": "Calculated mg/intake", "dose_mg_per_intake": "Rounded mg/intake",
    "tablets": "Tablets", "crcl": "CrCl (mL/min)", "crcl_effect": "CrCl effect", "reasons": "Reasons",
    "rule": "Rule", "resume_at_percent": "Resume at %", "alternative": "Alternative", "notes": "Notes",
    "handled": "Handled", "acknowledged_by": "Acknowledged by", "acknowledged_at": "Acknowledged at",
    "ack_comment": "Comment",
}
COLUMN_CONFIG = {
    "Dose %": st.column_config.NumberColumn(format="%.1f %%", width="small"),
    "Calculated mg/intake": st.column_config.NumberColumn(format="%.0f"),
    "Rounded mg/intake": st.column_config.NumberColumn(format="%.0f"),
    "CrCl (mL/min)": st.column_config.NumberColumn(format="%.0f", width="small"),
    "Resume at %": st.column_config.NumberColumn(format="%.0f %%", width="small"),
    "Handled": st.column_config.CheckboxColumn(width="small"),
    "Acknowledged at": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
    "Reasons": st.column_config.TextColumn(width="large"),
}


def show(frame, key: str) -> None:
    st.dataframe(frame[list(LABELS)].rename(columns=LABELS), hide_index=True, width="stretch",
                 column_config=COLUMN_CONFIG, key=key)


if not len(table):
    st.info("No patient is on capecitabine, S-1 or RT at this data cut, so there is no dose advice.")
else:
    attention = table[table["action"] != "continue"]
    rest = table[table["action"] == "continue"]
    st.subheader(f"Hints that change the plan ({len(attention)})")
    if len(attention):
        show(attention, "advice_attention")
    else:
        st.success("Every patient on treatment continues as planned.")
    with st.expander(f"Continue as planned ({len(rest)})"):
        if len(rest):
            show(rest, "advice_rest")
        else:
            st.caption("None.")

    st.subheader("Acknowledge a hint")
    st.caption("A handled hint stays handled until new data change the advice (action, dose, rule or reasons); "
               "then it opens again.")
    open_rows = table.index[~table["handled"]].tolist()
    if not open_rows:
        st.success("Every hint at this cut has been acknowledged.")
    else:
        with st.form("ack_advice", clear_on_submit=True):
            pick = st.selectbox(
                "Hint", open_rows, key="ack_pick",
                format_func=lambda i: f"{table.at[i, 'subject_id']} · {table.at[i, 'agent']} · "
                                      f"{table.at[i, 'action']} · {table.at[i, 'rule']}")
            comment = st.text_area("Comment", placeholder="e.g. discussed with Dr X, dose reduced from cycle 3",
                                   key="ack_comment")
            if st.form_submit_button("Acknowledge", type="primary") and pick is not None:
                row = table.loc[pick]
                store.acknowledge_advice(row["subject_id"], row["agent"], row["rule"], row["advice_hash"],
                                         comment.strip() or None, state.user())
                st.session_state["advice_flash"] = (f"Acknowledged {row['subject_id']} · {row['agent']} "
                                                    f"({row['action']}) as {state.user()}.")
                st.rerun()

st.subheader("Flags for the principal investigator")
if len(flags):
    st.dataframe(flags.rename(columns={"subject_id": "Patient", "rule": "Rule", "flag": "Flag"}),
                 hide_index=True, width="stretch")
else:
    st.success("No PI flags at this data cut.")
