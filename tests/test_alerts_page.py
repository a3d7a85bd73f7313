"""The Alerts page and the sidebar (AppTest): every alert with its state, loud when e-mail cannot go
out, acknowledgement audited, a retry that reaches a real SMTP server (D97)."""
from __future__ import annotations

import json
import re

import pandas as pd
import pytest
from conftest import ROOT, run_app
from smtp_support import serve
from streamlit.testing.v1 import AppTest

pytestmark = pytest.mark.app
SAMPLE_AE = ROOT / "sample_data" / "adverse_events.csv"


def _sample_saes() -> int:
    """Serious events in the sample trial: each alerts the committee and the PI (one message each)."""
    ae = pd.read_csv(SAMPLE_AE)
    return int((ae["serious"] == "Y").sum())


def _alerts_page(monkeypatch):
    at = run_app(AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=120))
    at.switch_page("app/pages/alerts.py")
    return run_app(at)


def test_without_a_mail_server_the_page_and_sidebar_say_so(app_env, monkeypatch):
    monkeypatch.delenv("TOXDB_SMTP_URL", raising=False)
    at = _alerts_page(monkeypatch)
    n = 2 * _sample_saes()
    assert n > 0
    assert any(f"{n} alerts have not been sent" in w.value and "TOXDB_SMTP_URL" in w.value for w in at.sidebar.warning)
    assert any("E-mail alerts cannot be sent" in e.value and f"{n} alerts wait unsent" in e.value for e in at.error)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Pending"] == str(n) and metrics["Sent"] == "0"
    table = at.dataframe[0].value
    assert len(table) == n and set(table["State"]) == {"pending"}
    assert not [b for b in at.button if b.key == "alert_send"]        # nothing to send with
    # acknowledge the alert in view: who and when, on the page and in the audit log
    first = at.selectbox(key="alert_pick").value
    at.button(key="alert_ack").click()
    run_app(at)
    # the name is user text, so the message is escaped for Markdown (D44); read it as shown
    assert any(f"Alert #{first} acknowledged by coordinator-test" in _shown(s.value) for s in at.success)
    assert "acknowledged by coordinator-test" in at.dataframe[0].value.set_index("Alert").loc[first, "Details"]
    with _reader(at) as store:
        log = store.audit_log()
    acks = log[log["action"] == "alert_acknowledged"]
    assert [json.loads(d)["alert_id"] for d in acks["detail"]] == [first]
    assert set(acks["actor"]) == {"coordinator-test"}


def _shown(markdown: str) -> str:
    """Markdown source as the reader sees it (backslash escapes removed)."""
    return re.sub(r"\\(.)", r"\1", markdown)


def _reader(at):
    """The store the dashboard has open (a second connection would be refused: one writer)."""
    from app.state import get_store

    class _Open:
        def __enter__(self):
            return get_store()

        def __exit__(self, *exc):
            return False

    return _Open()


@pytest.fixture
def smtp_server(monkeypatch):
    yield from serve(monkeypatch)


def test_send_now_delivers_what_waits(app_env, monkeypatch, smtp_server):
    # the sample is seeded with the server down (no address configured yet)...
    monkeypatch.delenv("TOXDB_SMTP_URL")
    at = _alerts_page(monkeypatch)
    n = 2 * _sample_saes()
    # ...then e-mail is configured: the page offers to send, and it reaches the server
    monkeypatch.setenv("TOXDB_SMTP_URL", smtp_server.url)
    run_app(at)
    assert not [e for e in at.error if "cannot be sent" in e.value]
    at.button(key="alert_send").click()
    run_app(at)
    assert any(f"Sent: {n}; failed: 0." in _shown(s.value) for s in at.success)
    assert len(smtp_server.inbox.messages) == n
    assert set(at.dataframe[0].value["State"]) == {"sent"}
    assert not at.sidebar.warning


def test_the_link_in_a_message_opens_that_patient(app_env, monkeypatch):
    # the link is <dashboard_url>/patient?subject=<id> (toxdb.alerts.rules.patient_link)
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=120)
    run_app(at)
    at.switch_page("app/pages/patient.py")
    at.query_params["subject"] = "ICC-01-009"
    run_app(at)
    assert at.selectbox(key="patient_subject").value == "ICC-01-009"
