"""The outbox in words, for the Alerts page, the sidebar and ``alerts list`` (D97)."""
from __future__ import annotations

import json

import pandas as pd

from toxdb.alerts.rules import RULE_LABELS
from toxdb.monitoring.cohorts import COHORT_LABELS
from toxdb.i18n import N_, _

STATE_LABELS = {"pending": N_("pending"), "sent": N_("sent"), "failed": N_("failed"), "digest": N_("in a digest")}


def _when(value) -> str:
    return "" if value is None or pd.isna(value) else f"{pd.Timestamp(value):%Y-%m-%d %H:%M}"


def _status(row: dict, states: dict) -> str:
    state = row["state"]
    if state == "digest":
        digest = int(row["digest_id"])
        text = _("listed in message #{id}: {status}").format(
            id=digest, status=_status(states[digest], states) if digest in states else "?")
    elif state == "sent":
        text = _("sent {at}").format(at=_when(row["sent_at"]))
    elif state == "failed":
        text = _("failed ({attempts} attempts): {error}; next attempt {at}").format(
            attempts=row["attempts"], error=row["last_error"], at=_when(row["next_attempt_at"]))
    else:
        text = _("pending: not sent yet")
    if isinstance(row.get("acknowledged_by"), str):
        text += "; " + _("acknowledged by {user} at {at}").format(user=row["acknowledged_by"],
                                                                 at=_when(row["acknowledged_at"]))
    return text


def _rules(raised: str, cleared: str) -> str:
    words = [_(RULE_LABELS[r]) for r in json.loads(raised)]
    words += [_("no longer: {rule}").format(rule=_(RULE_LABELS[r])) for r in json.loads(cleared)]
    return "; ".join(words)


def describe_alerts(alerts: pd.DataFrame) -> pd.DataFrame:
    """The outbox (Store.alerts) with ``state_label``, ``status`` (state, reason, next attempt,
    acknowledgement in words) and ``what`` (the rules raised or withdrawn)."""
    out = alerts.copy()
    records = out.to_dict("records")
    out["state_label"] = [_(STATE_LABELS[state]) for state in out["state"]]
    states = {int(r["alert_id"]): {**r, "acknowledged_by": None} for r in records if r["kind"] == "digest"}
    out["status"] = pd.Series([_status(r, states) for r in records], index=out.index, dtype=object)
    out["what"] = pd.Series([_rules(r["raised"], r["cleared"]) for r in records], index=out.index, dtype=object)
    out["label"] = pd.Series([_label(r, w) for r, w in zip(records, out["what"])], index=out.index, dtype=object)
    return out


def _label(row: dict, what: str) -> str:
    """A short name for one alert in the reader's language (the stored subject is in the trial
    file's language, D91): the rules and the patient, or the phase, or "one message for many"."""
    if row["kind"] == "digest":
        return _("one message listing several events")
    if row["kind"] == "boundary":
        return f"{what} · {_(COHORT_LABELS.get(row['phase'], row['phase']))}"
    return f"{what} · {row['subject_id']}"


def compute_alert_counts(alerts: pd.DataFrame) -> dict[str, int]:
    """{pending, failed, sent, unacknowledged}: counts of the outbox."""
    state = alerts["state"] if len(alerts) else pd.Series(dtype=object)
    unack = int(alerts["acknowledged_by"].isna().sum()) if len(alerts) else 0
    return {"pending": int((state == "pending").sum()), "failed": int((state == "failed").sum()),
            "sent": int((state == "sent").sum()), "unacknowledged": unack}
