"""Alerts: every e-mail alert with its state (pending, sent, failed with the reason, acknowledged by
whom), the message as sent, acknowledgement, and a retry. Loud when e-mail cannot go out (D97)."""
import streamlit as st

from app import state
from app.text import md
from toxdb.alerts.deliver import SmtpConfigError, send_due_alerts
from toxdb.alerts.outbox import compute_alert_counts, describe_alerts
from toxdb.i18n import _, ngettext

store = state.get_store()
trial = state.get_trial()
st.title(_("Alerts"))
st.caption(_("E-mails to the committee, the principal investigator and the data manager when an import stores a "
             "death, a serious adverse event, a grade 4 non-haematological event or crosses the stopping boundary. "
             "Who hears of what is set in trial.toml [alerts]."))

done = st.session_state.pop("alerts_done", None)
if done:
    st.success(md(done), icon=":material/check_circle:")

alerts = describe_alerts(store.alerts())
counts = compute_alert_counts(alerts)
waiting = counts["pending"] + counts["failed"]
problem = state.smtp_problem()
if problem:
    st.error(ngettext("**E-mail alerts cannot be sent.** {problem} {n} alert waits unsent: nobody has been told. "
                      "Set TOXDB_SMTP_URL (smtp://host:port or smtps://user:password@host:port) and "
                      "TOXDB_ALERT_FROM, then send them with `python -m toxdb alerts send`.",
                      "**E-mail alerts cannot be sent.** {problem} {n} alerts wait unsent: nobody has been told. "
                      "Set TOXDB_SMTP_URL (smtp://host:port or smtps://user:password@host:port) and "
                      "TOXDB_ALERT_FROM, then send them with `python -m toxdb alerts send`.",
                      waiting).format(problem=md(problem), n=waiting), icon=":material/mail_lock:")
elif counts["failed"]:
    st.warning(ngettext("{n} alert could not be sent; it is retried after a wait (the reason is in the table).",
                        "{n} alerts could not be sent; they are retried after a wait (the reasons are in the table).",
                        counts["failed"]).format(n=counts["failed"]), icon=":material/schedule_send:")

c = st.columns(4)
c[0].metric(_("Pending"), counts["pending"])
c[1].metric(_("Failed, to retry"), counts["failed"])
c[2].metric(_("Sent"), counts["sent"])
c[3].metric(_("Not acknowledged"), counts["unacknowledged"])

if not len(alerts):
    st.info(_("No alert has been raised."))
    st.stop()

columns = {"alert_id": _("Alert"), "created_at": _("Raised"), "state_label": _("State"), "status": _("Details"),
           "what": _("Why"), "subject_id": _("Patient"), "site": _("Site"), "phase": _("Phase"),
           "role": _("To (role)"), "recipients": _("Addresses")}
shown = alerts[list(columns)].astype({"subject_id": object, "site": object, "phase": object})
shown[["subject_id", "site", "phase"]] = shown[["subject_id", "site", "phase"]].fillna("")
st.dataframe(shown.rename(columns=columns), hide_index=True, width="stretch")

ids = alerts["alert_id"].tolist()
labels = dict(zip(ids, alerts["label"]))
pick = st.selectbox(_("Alert"), ids, format_func=lambda i: f"#{i} · {labels[i]}", key="alert_pick")
row = alerts.set_index("alert_id").loc[pick]
st.caption(_("The message as written (plain text), to {recipients}:").format(recipients=md(row["recipients"])))
st.code(f"{row['subject']}\n\n{row['body']}", language=None, wrap_lines=True)   # as sent: the trial file's language

left, right = st.columns(2)
site = row["site"] if isinstance(row["site"], str) else None
if isinstance(row["acknowledged_by"], str):
    left.info(_("Acknowledged by {user} at {at:%Y-%m-%d %H:%M}.").format(user=md(row["acknowledged_by"]),
                                                                       at=row["acknowledged_at"]))
elif not state.allowed("acknowledge_alert", site):
    left.caption(md(state.denial_text("acknowledge_alert", site)))
elif left.button(_("Acknowledge alert #{id} as {user}").format(id=pick, user=md(state.user())), key="alert_ack",
                 type="primary"):
    store.acknowledge_alert(int(pick), state.user())
    st.session_state["alerts_done"] = _("Alert #{id} acknowledged by {user}.").format(id=pick, user=state.user())
    st.rerun()

if waiting and not problem and state.allowed("send_alerts") and right.button(
        _("Send the {n} waiting now").format(n=waiting), key="alert_send"):
    try:
        result = send_due_alerts(store, trial, state.user(), ignore_back_off=True)
    except SmtpConfigError as exc:
        st.error(md(exc))
    else:
        s = result.summary
        st.session_state["alerts_done"] = _("Sent: {sent}; failed: {failed}.").format(sent=s["sent"],
                                                                                     failed=s["failed"])
        st.rerun()
