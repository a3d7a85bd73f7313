"""A real SMTP server for the alert tests: aiosmtpd on a free 127.0.0.1 port, in a thread."""
from __future__ import annotations

import email
import socket
from email.policy import default as default_policy

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """Every message the server accepted; ``refuse`` (e.g. "550 mailbox unavailable") refuses recipients."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.refuse: str | None = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse:
            return self.refuse
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.original_content or envelope.content, policy=default_policy)
        msg["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.messages.append(msg)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list:
        return [m for m in self.messages if address in m["X-Envelope-To"].split(", ")]


class _Login:
    """Accepts one user name and password (AUTH PLAIN / LOGIN)."""

    def __init__(self, user: str, password: str):
        self.user, self.password = user.encode(), password.encode()

    def __call__(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult, LoginPassword

        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
            self.user, self.password)
        return AuthResult(success=ok, handled=False)   # the server words the refusal (535)


class SmtpServer:
    def __init__(self, port: int | None = None, login: tuple[str, str] | None = None):
        self.port = port or free_port()
        self.inbox = Inbox()
        self.controller = None
        self.login = login

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self):
        import warnings

        warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS")   # a test server
        extra = {} if self.login is None else {"authenticator": _Login(*self.login), "auth_required": True,
                                               "auth_require_tls": False}
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port, **extra)
        self.controller.start()
        return self

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


def serve(monkeypatch):
    """For a fixture: a running SMTP server that TOXDB_SMTP_URL points at; its ``inbox`` holds what it
    received. ``yield from serve(monkeypatch)``."""
    server = SmtpServer().start()
    monkeypatch.setenv("TOXDB_SMTP_URL", server.url)
    monkeypatch.setenv("TOXDB_ALERT_FROM", "toxdb-alerts@example.org")
    yield server
    server.stop()
