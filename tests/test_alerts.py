"""E-mail alerts end to end against a real SMTP server (aiosmtpd): an import raises them, SMTP
delivers them, corrections send follow-ups, failures wait and are retried (D90-D96)."""
from __future__ import annotations

import datetime as dt
import json
import math
import tomllib

import pytest
from conftest import PATIENTS_CSV, write
from smtp_support import SmtpServer, free_port, serve

from toxdb.alerts.deliver import send_due_alerts
from toxdb.cli import main as cli_main
from toxdb.ingest.upload import import_paths
from toxdb.monitoring.design import MonitoringDesign, compute_design
from toxdb.trial import DEFAULT_TRIAL_FILE, Trial

COMMITTEE = "dsmc-chair@example.org"
PI = "pi@example.org"
AE_HEAD = "subject_id,ae_ref,term,verbatim,grade,onset_date,serious,attribution,outcome\n"
DEATH = AE_HEAD + "P-001,AE-9,Sepsis,septic shock after cholangitis,5,2025-07-01,Y,unlikely,fatal\n"


def _trial(**alerts) -> Trial:
    raw = tomllib.loads(DEFAULT_TRIAL_FILE.read_text(encoding="utf-8"))
    raw["alerts"].update(alerts)
    return Trial.model_validate(raw)


def _import(store, tmp_path, name, text, trial=None):
    (outcome,) = import_paths(store, [write(tmp_path / name, text)], "site-coordinator", trial=trial)
    assert outcome.error is None, outcome.message
    return outcome


@pytest.fixture
def smtp_server(monkeypatch):
    yield from serve(monkeypatch)


@pytest.fixture
def with_patients(store, tmp_path):
    _import(store, tmp_path, "patients.csv", PATIENTS_CSV)
    return store


def test_grade5_upload_sends_one_message_to_the_committee_and_never_again(with_patients, tmp_path, smtp_server):
    store = with_patients
    outcome = _import(store, tmp_path, "ae.csv", DEATH)
    # grade 5 and serious: both rules, one message per role (committee, investigator)
    (msg,) = smtp_server.inbox.to(COMMITTEE)
    assert COMMITTEE in msg["To"] and "dsmc-statistician@example.org" in msg["To"]
    assert msg["From"] == "toxdb-alerts@example.org"
    assert "grade 5 event (death)" in msg["Subject"] and "P-001" in msg["Subject"]
    body = msg.get_content()
    for fact in ("Patient: P-001 (site SITE-A)", "Event: Sepsis", "Grade: 5", "Onset: 2025-07-01", "Serious: yes",
                 "septic shock after cholangitis", "http://localhost:8501/patient?subject=P-001",
                 "Where the trial stands against the stopping boundary"):
        assert fact in body, fact
    assert len(smtp_server.inbox.to(PI)) == 1
    assert "2 alerts raised; e-mails sent: 2" in outcome.message
    # as a committee member reads it (pytest -s shows it)
    print(f"\n--- as received ---\nFrom: {msg['From']}\nTo: {msg['To']}\nSubject: {msg['Subject']}\n\n{body}")

    # the same file again: identical upload, nothing stored, nothing sent
    _import(store, tmp_path, "ae.csv", DEATH)
    # the same rows in another file: duplicates, no new version, nothing sent
    _import(store, tmp_path, "ae-again.csv", DEATH + "P-002,AE-1,Nausea,,1,2025-07-02,N,possible,\n")
    assert len(smtp_server.inbox.messages) == 2
    alerts = store.alerts()
    assert sorted(alerts["role"]) == ["committee", "investigator"] and set(alerts["state"]) == {"sent"}
    sends = store.audit_log().query("action == 'alert_sent'")
    assert sorted(json.loads(d)["alert_id"] for d in sends["detail"]) == sorted(alerts["alert_id"])


def test_correction_to_grade4_sends_a_follow_up(with_patients, tmp_path, smtp_server):
    store = with_patients
    _import(store, tmp_path, "ae.csv", DEATH)
    smtp_server.inbox.messages.clear()
    _import(store, tmp_path, "ae-corrected.csv", DEATH.replace(",5,", ",4,").replace("fatal", "not recovered"))
    (follow_up,) = smtp_server.inbox.to(COMMITTEE)
    assert "Follow-up" in follow_up["Subject"] and "no longer a grade 5 event (death)" in follow_up["Subject"]
    body = follow_up.get_content()
    assert "(grade 5, serious: yes)" in body and "now stores it as grade 4" in body
    # the PI: the same follow-up, and sepsis at grade 4 is now a grade 4 non-haematological event
    (pi,) = smtp_server.inbox.to(PI)
    assert "makes it a grade 4 non-haematological event" in pi.get_content()
    # still an SAE: alerted once already, so not again
    assert "serious adverse event" not in follow_up["Subject"]
    # correcting it back to grade 5 alerts again (the withdrawal was withdrawn)
    smtp_server.inbox.messages.clear()
    _import(store, tmp_path, "ae-back.csv", DEATH.replace("fatal", "fatal (confirmed)"))
    (again,) = smtp_server.inbox.to(COMMITTEE)
    assert "A correction to an adverse event already stored makes it a grade 5 event (death)" in again.get_content()


def test_corrections_setting_off_keeps_corrections_quiet(with_patients, tmp_path, smtp_server):
    trial = _trial(corrections=False)
    mild = DEATH.replace(",5,", ",3,").replace(",Y,", ",N,").replace("fatal", "not recovered")
    assert "1 accepted" in _import(with_patients, tmp_path, "ae.csv", mild, trial).message
    assert "1 corrected" in _import(with_patients, tmp_path, "ae2.csv", DEATH, trial).message
    assert smtp_server.inbox.messages == []


def test_refused_then_down_then_back(with_patients, tmp_path, smtp_server, capsys):
    store = with_patients
    smtp_server.inbox.refuse = "550 5.1.1 mailbox unavailable"
    _import(store, tmp_path, "ae.csv", DEATH)
    alerts = store.alerts()
    assert set(alerts["state"]) == {"failed"} and smtp_server.inbox.messages == []
    assert all("refused the recipients" in e and "550" in e for e in alerts["last_error"])
    # the first retry waits [alerts] retry_minutes[0] = 5 minutes after the attempt
    waited = (alerts["next_attempt_at"] - alerts["last_attempt_at"]).dt.total_seconds() / 60
    assert set(waited) == {5.0}

    # the server goes down: a scheduled run before the retry time tries nothing
    smtp_server.stop()
    store.close()
    db = str(store.path)
    assert cli_main(["alerts", "send", "--db", db]) == 0
    assert "nothing due" in capsys.readouterr().out
    # forcing it: still down, the reason says so, the next wait is longer (15 minutes)
    assert cli_main(["alerts", "send", "--db", db, "--all"]) == 1
    out = capsys.readouterr().out
    assert "could not be reached" in out
    from toxdb.store.db import Store

    with Store(db) as s:
        alerts = s.alerts()
        assert set(alerts["attempts"]) == {2}
        waited = (alerts["next_attempt_at"] - alerts["last_attempt_at"]).dt.total_seconds() / 60
        assert set(waited) == {15.0}
        due_at = alerts["next_attempt_at"].max().to_pydatetime()

    # back up on the same port, accepting: the scheduled run after the retry time delivers each once
    back = SmtpServer(smtp_server.port).start()
    try:
        with Store(db) as s:
            from toxdb.trial import load_trial

            result = send_due_alerts(s, load_trial(), "scheduler", now=due_at - dt.timedelta(minutes=1))
            assert result.summary["attempted"] == 0
            result = send_due_alerts(s, load_trial(), "scheduler", now=due_at)
            assert result.summary == {"configured": True, "attempted": 2, "sent": 2, "failed": 0}
        assert len(back.inbox.to(COMMITTEE)) == 1 and len(back.inbox.to(PI)) == 1
        assert cli_main(["alerts", "send", "--db", db, "--all"]) == 0      # nothing left: sends nothing
        assert len(back.inbox.messages) == 2
    finally:
        back.stop()


def test_no_mail_server_leaves_alerts_pending(with_patients, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("TOXDB_SMTP_URL", raising=False)
    outcome = _import(with_patients, tmp_path, "ae.csv", DEATH)
    assert "no mail server is configured" in outcome.message
    assert set(with_patients.alerts()["state"]) == {"pending"}
    with_patients.close()
    assert cli_main(["alerts", "send", "--db", str(with_patients.path)]) == 2
    assert "TOXDB_SMTP_URL" in capsys.readouterr().err


def test_a_server_that_is_down_at_import_time(with_patients, tmp_path, monkeypatch):
    monkeypatch.setenv("TOXDB_SMTP_URL", f"smtp://127.0.0.1:{free_port()}")     # nothing listens there
    outcome = _import(with_patients, tmp_path, "ae.csv", DEATH)
    assert "failed (will be retried): 2" in outcome.message
    assert all("could not be reached" in e for e in with_patients.alerts()["last_error"])


# ------------------------------------------------------------------------------------------------
# the stopping boundary: a trial small enough to count by hand
# ------------------------------------------------------------------------------------------------
def _boundary_by_hand(n: int, alpha: float, p0: float) -> int:
    """The smallest count b with P(X >= b | n, p0) <= alpha (the exact binomial tail)."""
    tail = lambda b: sum(math.comb(n, k) * p0 ** k * (1 - p0) ** (n - k) for k in range(b, n + 1))
    return next(b for b in range(n + 1) if tail(b) <= alpha)


def test_boundary_crossing_sends_one_alert_per_phase(store, tmp_path, smtp_server):
    raw = tomllib.loads(DEFAULT_TRIAL_FILE.read_text(encoding="utf-8"))
    raw["monitoring"].update(n_max=10)
    raw["alerts"].update(boundary=["committee"])
    trial = Trial.model_validate(raw)
    boundary = compute_design(MonitoringDesign.from_trial(trial))[0].table.set_index("n")
    # three patients on concurrent treatment: at n = 3 the stopping count is 3 of 3 (Pocock-type:
    # the same nominal level at every look; P(X >= 3 | 3, 0.30) = 0.027, P(X >= 2) = 0.216)
    alpha = float(boundary.loc[3, "alpha_n"])
    assert _boundary_by_hand(3, alpha, 0.30) == 3 == int(boundary.loc[3, "boundary"])
    _import(store, tmp_path, "patients.csv", PATIENTS_CSV, trial)
    _import(store, tmp_path, "treatment.csv", "subject_id,treatment,phase,cycle,start_date,end_date\n" + "".join(
        f"P-00{i},capecitabine,concurrent,1,2025-08-0{i},2025-08-14\n" for i in (1, 2, 3)), trial)
    two = AE_HEAD + "P-001,AE-1,Diarrhea,,3,2025-08-05,N,probable,\nP-002,AE-1,Fatigue,,3,2025-08-06,N,possible,\n"
    _import(store, tmp_path, "ae1.csv", two, trial)
    assert smtp_server.inbox.messages == []          # 2 of 3: not crossed, nothing sent
    _import(store, tmp_path, "ae2.csv", two + "P-003,AE-1,Mucositis oral,,3,2025-08-07,N,possible,\n", trial)
    got = smtp_server.inbox.to(COMMITTEE)
    assert sorted(m["Subject"].split(": ", 1)[1] for m in got) == [
        "all treatment-emergent events", "concurrent phase"]          # maintenance: nobody is there yet
    assert "3 of 3 patients with a grade ≥ 3 event; the boundary at n = 3 is 3" in got[0].get_content()
    # a later import that leaves the boundary crossed says nothing more, also when a coordinator of
    # SITE-B makes it through their site's view (alone, P-003 is 1 of 1: the boundary is the trial's, D98)
    _import(store.scoped(["SITE-B"]), tmp_path, "ae3.csv", AE_HEAD + "P-003,AE-2,Nausea,,1,2025-08-08,N,possible,\n",
            trial)
    assert len(smtp_server.inbox.messages) == 2
    assert store.boundary_states() == {"all": True, "concurrent": True, "maintenance": False}


def test_alerts_list_prints_every_alert_with_its_state(with_patients, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("TOXDB_SMTP_URL", raising=False)
    _import(with_patients, tmp_path, "ae.csv", DEATH)
    (first, second) = sorted(with_patients.alerts()["alert_id"])
    assert with_patients.acknowledge_alert(int(first), "dsmc-chair")
    assert not with_patients.acknowledge_alert(int(first), "someone-else")      # once, by the first
    with_patients.close()
    capsys.readouterr()
    assert cli_main(["alerts", "list", "--db", str(with_patients.path), "--json"]) == 0
    rows = {r["alert_id"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(rows) == {first, second}
    assert rows[first]["acknowledged_by"] == "dsmc-chair" and "acknowledged by dsmc-chair" in rows[first]["status"]
    assert {r["state"] for r in rows.values()} == {"pending"}
    assert {r["role"] for r in rows.values()} == {"committee", "investigator"}
    assert cli_main(["alerts", "list", "--db", str(with_patients.path)]) == 0
    text = capsys.readouterr().out
    assert "pending: not sent yet" in text and "to committee: dsmc-chair@example.org" in text


def test_messages_are_written_in_the_trial_files_language(with_patients, tmp_path, smtp_server):
    raw = tomllib.loads(DEFAULT_TRIAL_FILE.read_text(encoding="utf-8"))
    raw["trial"]["language"] = "zh_CN"
    _import(with_patients, tmp_path, "ae.csv", DEATH, Trial.model_validate(raw))
    (msg,) = smtp_server.inbox.to(COMMITTEE)
    assert "5 级事件（死亡）" in msg["Subject"]
    body = msg.get_content()
    assert "患者：P-001（中心 SITE-A）" in body and "septic shock after cholangitis" in body   # reported text as is


def test_a_server_that_wants_a_password(with_patients, tmp_path, monkeypatch):
    server = SmtpServer(login=("toxdb", "s3cret/+")).start()
    try:
        monkeypatch.setenv("TOXDB_SMTP_URL", f"smtp://toxdb:wrong@127.0.0.1:{server.port}")
        _import(with_patients, tmp_path, "ae.csv", DEATH)
        errors = set(with_patients.alerts()["last_error"])
        assert errors == {f"the mail server at 127.0.0.1:{server.port} did not accept the user name and password"}
        assert "wrong" not in " ".join(errors)                       # the password is never repeated
        monkeypatch.setenv("TOXDB_SMTP_URL", f"smtp://toxdb:s3cret%2F%2B@127.0.0.1:{server.port}")  # URL-quoted
        assert send_due_alerts(with_patients, Trial.model_validate(
            tomllib.loads(DEFAULT_TRIAL_FILE.read_text(encoding="utf-8"))), "cron", ignore_back_off=True
        ).summary["sent"] == 2
        assert len(server.inbox.to(COMMITTEE)) == 1
    finally:
        server.stop()


def test_a_bad_smtp_url_is_explained(with_patients, tmp_path, monkeypatch):
    monkeypatch.setenv("TOXDB_SMTP_URL", "mail.example.org:25")
    outcome = _import(with_patients, tmp_path, "ae.csv", DEATH)
    assert "TOXDB_SMTP_URL must look like smtp://host:port" in outcome.message
    assert set(with_patients.alerts()["state"]) == {"pending"}


def test_many_events_in_one_import_go_in_one_message_per_role(with_patients, tmp_path, smtp_server):
    trial = _trial(digest_above=2)
    three = AE_HEAD + "".join(f"P-00{i},AE-1,Lung infection,,3,2025-07-2{i},Y,possible,not recovered\n" for i in (1, 2, 3))
    _import(with_patients, tmp_path, "ae.csv", three, trial)
    (digest,) = smtp_server.inbox.to(COMMITTEE)
    assert "3 adverse events in upload #2 meet alert rules" in digest["Subject"]
    body = digest.get_content()
    for i in (1, 2, 3):
        assert f"P-00{i} (site SITE-{'B' if i == 3 else 'A'}): Lung infection, grade 3, onset 2025-07-2{i}, " \
               "serious: yes. serious adverse event" in body
    assert len(smtp_server.inbox.messages) == 2                       # the committee's and the PI's
    alerts = with_patients.alerts()
    events = alerts[alerts["kind"] == "event"]
    assert len(events) == 6 and set(events["state"]) == {"digest"}   # each event still has its row per role
    from toxdb.alerts.outbox import describe_alerts

    status = describe_alerts(alerts).set_index("alert_id")["status"]
    assert all(status[i].startswith("listed in message #") and "sent" in status[i] for i in events["alert_id"])
    # two more of the same events, unchanged: nothing again
    _import(with_patients, tmp_path, "ae-again.csv", three + "P-001,AE-2,Nausea,,1,2025-07-09,N,possible,\n", trial)
    assert len(smtp_server.inbox.messages) == 2


def test_users_of_a_role_hear_of_it_and_a_coordinator_only_of_their_site(with_patients, tmp_path, smtp_server):
    from toxdb.users import add_user, disable_user

    store = with_patients
    add_user(store, "dsmb.member@hospital.org", role="committee", sites=[], actor="setup")
    add_user(store, "left@hospital.org", role="committee", sites=[], actor="setup")
    disable_user(store, "left@hospital.org", actor="setup")
    add_user(store, "coord.a@hospital.org", role="coordinator", sites=["SITE-A"], actor="setup")
    add_user(store, "coord.b@hospital.org", role="coordinator", sites=["SITE-B"], actor="setup")
    trial = _trial(grade5=["committee", "coordinator"], sae=["committee"])
    _import(store, tmp_path, "ae.csv", DEATH, trial)                       # P-001 is a SITE-A patient
    # the committee's message (one: grade 5 and SAE together) reaches the file's addresses and the user
    (msg,) = smtp_server.inbox.to("dsmb.member@hospital.org")
    assert COMMITTEE in msg["To"]
    assert len(smtp_server.inbox.to("coord.a@hospital.org")) == 1
    assert smtp_server.inbox.to("coord.b@hospital.org") == [] and smtp_server.inbox.to("left@hospital.org") == []
    # on the Alerts page, SITE-B's coordinator sees no alert about SITE-A's patient; SITE-A's sees them
    assert "P-001" not in set(store.scoped(["SITE-B"]).alerts()["subject_id"].dropna())
    assert set(store.scoped(["SITE-A"]).alerts()["subject_id"]) == {"P-001"}
