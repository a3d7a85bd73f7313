"""Delivering the outbox by SMTP, with retries and back-off (D95, D96).

Configured by the environment, never by the trial file (addresses are rules; a mail server and its
password belong to the deployment): ``TOXDB_SMTP_URL`` = ``smtp://host:port`` (STARTTLS when the
server offers it) or ``smtps://user:password@host:port`` (TLS from the start); ``TOXDB_ALERT_FROM``
= the sender's address. Without ``TOXDB_SMTP_URL`` nothing is sent and alerts stay pending.
A failed send keeps the alert with the reason in words and the time of the next attempt
(``[alerts] retry_minutes``); every attempt is audited.
"""
from __future__ import annotations

import datetime as dt
import os
import smtplib
import socket
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import unquote, urlsplit

from toxdb.alerts.rules import retry_delay_minutes
from toxdb.i18n import _

SMTP_URL_ENV = "TOXDB_SMTP_URL"
FROM_ENV = "TOXDB_ALERT_FROM"
TIMEOUT_SECONDS = 15


class SmtpConfigError(ValueError):
    """TOXDB_SMTP_URL cannot be used; the message says what would be accepted."""


@dataclass(frozen=True)
class SmtpConfig:
    secure: bool
    host: str
    port: int
    user: str | None
    password: str | None
    sender: str

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


def read_smtp_config(env=None) -> SmtpConfig | None:
    """The mail server from the environment; None when TOXDB_SMTP_URL is not set."""
    env = os.environ if env is None else env
    url = (env.get(SMTP_URL_ENV) or "").strip()
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise SmtpConfigError(_("{env} must look like smtp://host:port or smtps://user:password@host:port; "
                                "got {url!r}").format(env=SMTP_URL_ENV, url=_redact(url)))
    try:
        port = parts.port or (465 if parts.scheme == "smtps" else 25)
    except ValueError:
        raise SmtpConfigError(_("{env}: the port is not a number").format(env=SMTP_URL_ENV)) from None
    sender = (env.get(FROM_ENV) or "").strip() or f"toxdb@{socket.getfqdn()}"
    return SmtpConfig(parts.scheme == "smtps", parts.hostname, port,
                      unquote(parts.username) if parts.username else None,
                      unquote(parts.password) if parts.password else None, sender)


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url


@dataclass
class DeliveryResult:
    """What one delivery run did: ``table`` rows (alert_id, state, error); ``summary`` counts."""
    configured: bool
    table: list[dict] = field(default_factory=list)

    @property
    def summary(self) -> dict:
        states = [r["state"] for r in self.table]
        return {"configured": self.configured, "attempted": len(states), "sent": states.count("sent"),
                "failed": states.count("failed")}


def build_message(alert: dict, sender: str) -> EmailMessage:
    """The e-mail of one outbox row: plain text, UTF-8."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = alert["recipients"]
    msg["Subject"] = alert["subject"]
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(idstring=f"toxdb-alert-{alert['alert_id']}")
    msg["X-Toxdb-Alert"] = str(alert["alert_id"])
    msg.set_content(alert["body"])
    return msg


def _connect(config: SmtpConfig) -> smtplib.SMTP:
    if config.secure:
        server = smtplib.SMTP_SSL(config.host, config.port, timeout=TIMEOUT_SECONDS,
                                  context=ssl.create_default_context())
    else:
        server = smtplib.SMTP(config.host, config.port, timeout=TIMEOUT_SECONDS)
        server.ehlo()
        if server.has_extn("starttls"):
            server.starttls(context=ssl.create_default_context())
            server.ehlo()
    if config.user:
        server.login(config.user, config.password or "")
    return server


def _reason(exc: Exception, config: SmtpConfig) -> str:
    """Why a send failed, in words."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refused = "; ".join(f"{who}: {code} {text.decode(errors='replace') if isinstance(text, bytes) else text}"
                            for who, (code, text) in exc.recipients.items())
        return _("the mail server at {where} refused the recipients ({refused})").format(
            where=config.where, refused=refused)
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return _("the mail server at {where} did not accept the user name and password").format(where=config.where)
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return _("the mail server at {where} refused the message: {code} {text}").format(
            where=config.where, code=exc.smtp_code, text=text)
    if isinstance(exc, (OSError, smtplib.SMTPException)):
        return _("the mail server at {where} could not be reached: {error}").format(
            where=config.where, error=str(exc) or type(exc).__name__)
    raise exc


def send_due_alerts(store, trial, actor: str, *, now: dt.datetime | None = None, ignore_back_off: bool = False,
                    config: SmtpConfig | None = None, env=None) -> DeliveryResult:
    """Send every alert not yet sent whose next attempt is due. Without a mail server configured,
    nothing is attempted (``configured`` False) and the alerts stay pending."""
    config = config or read_smtp_config(env)
    if config is None:
        return DeliveryResult(configured=False)
    now = now or dt.datetime.now().replace(microsecond=0)
    due = store.due_alerts(now, ignore_back_off)
    result = DeliveryResult(configured=True)
    if not len(due):
        return result
    server, connect_error = None, None
    try:
        server = _connect(config)
    except Exception as exc:       # noqa: BLE001 - every reason is worded by _reason (or re-raised)
        connect_error = _reason(exc, config)
    try:
        for alert in due.to_dict("records"):
            error = connect_error
            if server is not None:
                try:
                    server.send_message(build_message(alert, config.sender))
                except Exception as exc:  # noqa: BLE001
                    error = _reason(exc, config)
            retry_at = None
            if error is not None:
                retry_at = now + dt.timedelta(minutes=retry_delay_minutes(trial, int(alert["attempts"]) + 1))
            store.record_alert_attempt(int(alert["alert_id"]), actor, error=error, next_attempt_at=retry_at, at=now)
            result.table.append({"alert_id": int(alert["alert_id"]), "state": "failed" if error else "sent",
                                 "error": error, "next_attempt_at": retry_at})
    finally:
        if server is not None:
            try:
                server.quit()
            except (OSError, smtplib.SMTPException):
                pass
    return result
