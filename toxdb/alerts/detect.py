"""After an import: which alerts it raises, put in the outbox (D91, D92).

Event rules are evaluated on the adverse-event rows the upload stored. For each event and rule the
outbox remembers whether the last message raised it or withdrew it, so that:
- a new version that meets a rule not yet alerted raises it (a correction too, with
  ``[alerts] corrections``), once per event version;
- a new version that no longer meets a rule alerted before sends a follow-up saying so;
- a duplicate, or a correction that changes nothing alerting, sends nothing.
The boundary is evaluated after every import that can move it (patients, treatment, adverse events):
a phase that newly crosses raises one alert per role; one that no longer crosses, a follow-up.
"""
from __future__ import annotations

import datetime as dt
import json

import pandas as pd

from toxdb.alerts.message import compose_boundary_message, compose_event_message
from toxdb.alerts.rules import (
    EVENT_RULES,
    alerts_corrections,
    derive_alert_rules,
    recipients,
    rules_of,
)
from toxdb.clinical.events_sql import read_first_qualifying_rows
from toxdb.i18n import language
from toxdb.monitoring.status import compute_boundary_standing
from toxdb.store.cuts import DataCut, load_snapshot
from toxdb.vocab import COHORTS

BOUNDARY_KINDS = ("patients", "treatment", "ae")
FACT_KEYS = ("term", "grade", "onset_date", "serious", "subject_id", "site")


def compute_standing(store, trial, today: dt.date | None = None) -> dict:
    """Where each phase stands against the stopping boundary, live (today's cut)."""
    cut = DataCut(today or dt.date.today())
    snapshot = load_snapshot(store, cut, with_labs=False, with_ae=False)
    firsts = read_first_qualifying_rows(store, cut, int(trial.phases.post_treatment_window_days), trial.monitoring)
    return compute_boundary_standing(snapshot, trial, events=firsts)


def _alerted_state(ledger: pd.DataFrame) -> dict[str, dict]:
    """{record_key: {"raised": {rule: facts when raised}, "versions": {versions with a message}}}:
    the rules whose latest message raised them (not yet withdrawn)."""
    out: dict[str, dict] = {}
    for row in ledger.to_dict("records"):
        state = out.setdefault(row["record_key"], {"raised": {}, "versions": set()})
        state["versions"].add(int(row["version"]))
        facts = json.loads(row["facts"])
        for rule in json.loads(row["raised"]):
            state["raised"][rule] = facts
        for rule in json.loads(row["cleared"]):
            state["raised"].pop(rule, None)
    return out


def detect_event_alerts(store, trial, upload_id: int, standing: dict | None) -> list[dict]:
    """The outbox rows (one per event and role) an adverse-event upload raises. Long: the loop
    decides raise / follow-up / nothing per event and groups the rules by recipient role."""
    rows = store.alert_candidate_rows(upload_id)
    if not len(rows):
        return []
    rows = derive_alert_rules(rows, trial)
    alerted = _alerted_state(store.event_alert_ledger(upload_id))
    out = []
    for ev in rows.to_dict("records"):
        key, version = ev["record_key"], int(ev["version"])
        state = alerted.get(key, {"raised": {}, "versions": set()})
        if version in state["versions"]:
            continue                                   # this version has had its message
        met = rules_of(ev)
        correction = version > 1
        new = [r for r in EVENT_RULES if r in met and r not in state["raised"]]
        if correction and not alerts_corrections(trial):
            new = []
        cleared = [r for r in EVENT_RULES if r in state["raised"] and r not in met]
        if not new and not cleared:
            continue
        previous = next((state["raised"][r] for r in cleared), None)
        by_role: dict[str, dict] = {}
        for rule in new + cleared:
            for role, addresses in recipients(trial, rule, ev.get("site")).items():
                entry = by_role.setdefault(role, {"addresses": addresses, "raised": [], "cleared": []})
                entry["raised" if rule in new else "cleared"].append(rule)
        facts = {k: ev.get(k) for k in FACT_KEYS}
        for role, entry in by_role.items():
            subject, body = compose_event_message(trial, ev, role, entry["raised"], entry["cleared"], previous,
                                                  standing, correction)
            out.append({"kind": "event", "record_key": key, "version": version, "subject_id": ev["subject_id"],
                        "site": ev.get("site"), "raised": entry["raised"], "cleared": entry["cleared"],
                        "facts": facts, "role": role, "recipients": entry["addresses"], "subject": subject,
                        "body": body})
    return out


def detect_boundary_alerts(store, trial, standing: dict) -> tuple[list[dict], dict[str, bool]]:
    """(outbox rows, changed {phase: crossed}) for phases that newly cross or no longer cross."""
    before = store.boundary_states()
    out, changed = [], {}
    for phase in COHORTS:
        crossed = bool(standing[phase]["crossed"])
        if crossed == before.get(phase, False):
            if phase not in before:
                changed[phase] = crossed               # first evaluation: remember it, nothing to say
            continue
        changed[phase] = crossed
        for role, addresses in recipients(trial, "boundary", None).items():
            subject, body = compose_boundary_message(trial, phase, role, crossed, standing)
            out.append({"kind": "boundary", "phase": phase, "raised": ["boundary"] if crossed else [],
                        "cleared": [] if crossed else ["boundary"], "facts": standing[phase], "role": role,
                        "recipients": addresses, "subject": subject, "body": body})
    return out, changed


def raise_alerts(store, trial, upload_id: int, kind: str, actor: str, today: dt.date | None = None) -> list[int]:
    """Evaluate the alert rules on what an upload stored and put what they raise in the outbox.
    Messages are written in the trial file's language. Returns the new alert ids."""
    if kind not in BOUNDARY_KINDS:
        return []
    with language(trial.trial.language):
        standing = compute_standing(store, trial, today)
        alerts = detect_event_alerts(store, trial, upload_id, standing) if kind == "ae" else []
        boundary_alerts, changed = detect_boundary_alerts(store, trial, standing)
    return store.add_alerts(alerts + boundary_alerts, changed, upload_id, actor)
