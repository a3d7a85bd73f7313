"""After every import (browser and CLI alike, through toxdb.ingest.upload.commit_upload): raise the
alerts, then try to send what is due (D91, D95)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from toxdb.alerts.deliver import DeliveryResult, SmtpConfigError, send_due_alerts
from toxdb.alerts.detect import raise_alerts
from toxdb.i18n import _, ngettext


@dataclass
class AlertReport:
    """What an import did about alerts: the ids raised, the delivery run, or why none ran."""
    raised: list[int]
    delivery: DeliveryResult | None = None
    error: str | None = None

    @property
    def summary(self) -> dict:
        out = {"raised": len(self.raised), "error": self.error}
        if self.delivery is not None:
            out.update(self.delivery.summary)
        return out

    @property
    def message(self) -> str | None:
        """One sentence for the person who imported (None when nothing alerted)."""
        if self.error:
            return self.error
        if not self.raised:
            return None
        said = ngettext("{n} alert raised", "{n} alerts raised", len(self.raised)).format(n=len(self.raised))
        if self.delivery is None or not self.delivery.configured:
            return _("{said}; no mail server is configured (TOXDB_SMTP_URL), so it waits in the outbox: "
                     "see the Alerts page or `python -m toxdb alerts list`").format(said=said)
        s = self.delivery.summary
        return _("{said}; e-mails sent: {sent}, failed (will be retried): {failed}").format(
            said=said, sent=s["sent"], failed=s["failed"])


def notify_after_import(store, trial, upload_id: int, kind: str, actor: str, *, today: dt.date | None = None,
                        env=None) -> AlertReport:
    """Raise the alerts an import calls for and send what is due. The import is already stored, so a
    problem here is reported in words, never raised. The rules are judged on the whole trial, even
    when a coordinator imports through a view of their own site (the boundary is the trial's, D98)."""
    store = getattr(store, "base", store)
    try:
        raised = raise_alerts(store, trial, upload_id, kind, actor, today)
    except Exception as exc:  # noqa: BLE001 - the upload is committed; say what went wrong
        store.record_audit(actor, "alerts_error", {"upload_id": upload_id, "error": repr(exc)})
        return AlertReport([], error=_("The upload is stored, but its alerts could not be evaluated ({error}); "
                                       "tell the data manager.").format(error=exc))
    try:
        delivery = send_due_alerts(store, trial, actor, env=env)
    except SmtpConfigError as exc:
        return AlertReport(raised, error=str(exc))
    return AlertReport(raised, delivery)
