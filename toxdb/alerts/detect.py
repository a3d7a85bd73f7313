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

from toxdb.alerts.message import (
    compose_boundary_message,
    compose_digest_message,
    compose_event_line,
    compose_event_message,
    standing_lines,
)
from toxdb.alerts.rules import (
    EVENT_RULES,
    alerts_corrections,
    derive_alert_rules,
    met_rules,
    recipients,
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


def _decide(store, trial, upload_id: int) -> list[dict]:
    """Per event version that raises or withdraws a rule: the event, and per role the rules raised and
    withdrawn, the earlier facts (for a follow-up) and whether it is a correction."""
    rows = store.alert_candidate_rows(upload_id)
    if not len(rows):
        return []
    rows = derive_alert_rules(rows, trial)
    alerted = _alerted_state(store.event_alert_ledger(upload_id))
    people = store.users()
    out = []
    by_role_of: dict[tuple, dict] = {}      # the same rules at the same site reach the same people
    columns = list(rows.columns)            # plain lists: DataFrame.to_dict costs ~50 us a row
    met_of = dict(zip(rows.index, met_rules(rows)))
    records = [dict(zip(columns, values)) for values in zip(*(rows[c].to_numpy(dtype=object).tolist() for c in columns))]
    for i, ev in zip(rows.index, records):
        key, version = ev["record_key"], int(ev["version"])
        state = alerted.get(key, {"raised": {}, "versions": set()})
        if version in state["versions"]:
            continue                                   # this version has had its message
        met = met_of[i]
        correction = version > 1
        new = [r for r in EVENT_RULES if r in met and r not in state["raised"]]
        if correction and not alerts_corrections(trial):
            new = []
        cleared = [r for r in EVENT_RULES if r in state["raised"] and r not in met]
        if not new and not cleared:
            continue
        key = (tuple(new), tuple(cleared), ev.get("site"))
        if key not in by_role_of:
            by_role_of[key] = _by_role(trial, new, cleared, ev.get("site"), people)
        out.append({"event": ev, "by_role": by_role_of[key], "correction": correction,
                    "previous": next((state["raised"][r] for r in cleared), None)})
    return out


def _by_role(trial, new: list[str], cleared: list[str], site, people) -> dict[str, dict]:
    """{role: {"addresses", "raised", "cleared"}} for the rules an event newly meets and no longer meets."""
    by_role: dict[str, dict] = {}
    for rule in new + cleared:
        for role, addresses in recipients(trial, rule, site, people).items():
            entry = by_role.setdefault(role, {"addresses": addresses, "raised": [], "cleared": []})
            entry["raised" if rule in new else "cleared"].append(rule)
    return by_role


def detect_event_alerts(store, trial, upload_id: int, standing: dict | None) -> list[dict]:
    """The outbox rows (one per event and role) an adverse-event upload raises. When one import
    raises more than ``[alerts] digest_above`` for a role, that role gets one message listing them
    (a digest); each event still has its own row, pointing at the digest (D92)."""
    decisions = _decide(store, trial, upload_id)
    per_group: dict[str, int] = {}          # a role and its addresses (coordinators: one group per site)
    for d in decisions:
        for role, entry in d["by_role"].items():
            group = _group(role, entry["addresses"])
            per_group[group] = per_group.get(group, 0) + 1
    digest_groups = {g for g, n in per_group.items() if n > trial.alerts.digest_above}
    text = standing_lines(standing)
    out, lines = [], {g: [] for g in digest_groups}
    for d in decisions:
        ev = d["event"]
        facts = {k: ev.get(k) for k in FACT_KEYS}
        line_of: dict[tuple, str] = {}                # a digest line is the same for every role
        for role, entry in d["by_role"].items():
            row = {"kind": "event", "record_key": ev["record_key"], "version": int(ev["version"]),
                   "subject_id": ev["subject_id"], "site": ev.get("site"), "raised": entry["raised"],
                   "cleared": entry["cleared"], "facts": facts, "role": role, "recipients": entry["addresses"]}
            group = _group(role, entry["addresses"])
            if group in digest_groups:
                said = (tuple(entry["raised"]), tuple(entry["cleared"]))
                if said not in line_of:
                    line_of[said] = compose_event_line(ev, entry["raised"], entry["cleared"])
                line = line_of[said]
                lines[group].append(line)
                row.update(subject=line, body="", state="digest", in_digest=group)
            else:
                row["subject"], row["body"] = compose_event_message(
                    trial, ev, role, entry["raised"], entry["cleared"], d["previous"], text, d["correction"])
            out.append(row)
    digests = []
    for group in sorted(digest_groups):
        role, addresses = group.split("|", 1)
        subject, body = compose_digest_message(trial, role, lines[group], upload_id, text)
        digests.append({"kind": "digest", "role": role, "recipients": addresses.split(","), "subject": subject,
                        "body": body, "digest_key": group, "raised": [], "cleared": []})
    return digests + out


def _group(role: str, addresses: list[str]) -> str:
    return f"{role}|{','.join(addresses)}"


def detect_boundary_alerts(store, trial, standing: dict) -> tuple[list[dict], dict[str, bool]]:
    """(outbox rows, changed {phase: crossed}) for phases that newly cross or no longer cross."""
    before = store.boundary_states()
    people = store.users()
    out, changed = [], {}
    for phase in COHORTS:
        crossed = bool(standing[phase]["crossed"])
        if crossed == before.get(phase, False):
            if phase not in before:
                changed[phase] = crossed               # first evaluation: remember it, nothing to say
            continue
        changed[phase] = crossed
        for role, addresses in recipients(trial, "boundary", None, people).items():
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
