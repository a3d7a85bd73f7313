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

import numpy as np
import pandas as pd

from toxdb.alerts.message import (
    compose_boundary_message,
    compose_digest_message,
    compose_event_lines,
    compose_event_message,
    describe_rules,
    each_distinct,
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
OUTBOX_COLUMNS = ["kind", "record_key", "version", "phase", "subject_id", "site", "raised", "cleared", "facts",
                  "role", "recipients", "subject", "body", "state", "digest_key", "in_digest"]


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


def _decide(store, trial, upload_id: int, rows: pd.DataFrame, alerted: dict, people) -> list[dict]:
    """Per event version that raises or withdraws a rule: the event, and per role the rules raised and
    withdrawn, the earlier facts (for a follow-up) and whether it is a correction. ``rows``: candidate
    rows with their rules (:func:`derive_alert_rules`) and a ``pos`` column; the per-event path, for
    corrections and events alerted before (D99)."""
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


def detect_event_alerts(store, trial, upload_id: int, standing: dict | None) -> pd.DataFrame:
    """The outbox rows (one per event and role, :func:`alerts_frame`) an adverse-event upload raises.
    When one import raises more than ``[alerts] digest_above`` for a role, that role gets one message
    listing them (a digest); each event still has its own row, pointing at the digest (D92).
    Long: first versions of events never alerted (the bulk of a large import) are handled column-wise,
    the few corrections and events alerted before one by one; both end in one frame in row order (D99)."""
    rows = store.alert_candidate_rows(upload_id)
    if not len(rows):
        return alerts_frame([])
    rows = derive_alert_rules(rows, trial).reset_index(drop=True)
    rows["pos"] = range(len(rows))
    ledger = store.event_alert_ledger(upload_id)
    people = store.users()
    fresh = (rows["version"].to_numpy() == 1) & ~rows["record_key"].isin(set(ledger["record_key"])).to_numpy()
    decisions = _decide(store, trial, upload_id, rows[~fresh], _alerted_state(ledger), people)
    bulk = _bulk_rows(trial, rows[fresh & rows[list(EVENT_RULES)].to_numpy().any(axis=1)], people)
    single = pd.DataFrame(
        [{"pos": d["event"]["pos"], "order": j, "decision": n, "role": role, "raised_list": entry["raised"],
          "cleared_list": entry["cleared"], "recipients_list": entry["addresses"]}
         for n, d in enumerate(decisions) for j, (role, entry) in enumerate(d["by_role"].items())],
        columns=["pos", "order", "decision", "role", "raised_list", "cleared_list", "recipients_list"])
    out = pd.concat([bulk, single], ignore_index=True).sort_values(["pos", "order"], kind="stable", ignore_index=True)
    if not len(out):
        return alerts_frame([])
    out["group"] = pd.Series([_group(r, a) for r, a in zip(out["role"].tolist(), out["recipients_list"].tolist())],
                             index=out.index, dtype=object)
    counts = out["group"].value_counts()
    digest_groups = set(counts.index[counts > trial.alerts.digest_above])
    events = rows.set_index("pos").loc[out["pos"]].reset_index()
    text = standing_lines(standing)
    in_digest = out["group"].isin(digest_groups).to_numpy()
    subject = pd.Series("", index=out.index, dtype=object)
    body = pd.Series("", index=out.index, dtype=object)
    if in_digest.any():
        said: dict[tuple, str] = {}          # the rules in words, once per combination
        whats = [said[k] if k in said else said.setdefault(k, describe_rules(*k)) for k in
                 zip(map(tuple, out.loc[in_digest, "raised_list"]), map(tuple, out.loc[in_digest, "cleared_list"]))]
        subject[in_digest] = compose_event_lines(events[in_digest].set_index(out.index[in_digest]), whats)
    records = events[~in_digest].to_dict("records")
    for i, ev in zip(out.index[~in_digest], records):
        d = decisions[int(out.at[i, "decision"])] if pd.notna(out.at[i, "decision"]) else None
        subject[i], body[i] = compose_event_message(
            trial, ev, out.at[i, "role"], out.at[i, "raised_list"], out.at[i, "cleared_list"],
            d["previous"] if d else None, text, bool(d and d["correction"]))
    frame = _event_frame(events, out, subject, body, in_digest)
    digests = []
    for group in sorted(digest_groups):
        role, addresses = group.split("|", 1)
        lines = subject[(out["group"] == group).to_numpy()].tolist()
        subject_d, body_d = compose_digest_message(trial, role, lines, upload_id, text)
        digests.append({"kind": "digest", "role": role, "recipients": addresses.split(","), "subject": subject_d,
                        "body": body_d, "digest_key": group, "raised": [], "cleared": []})
    return pd.concat([alerts_frame(digests), frame], ignore_index=True)


def _bulk_rows(trial, fresh: pd.DataFrame, people) -> pd.DataFrame:
    """One row per fresh event (first version, never alerted) and role it alerts: its rules raised,
    the role's addresses; recipients worked out once per combination of rules and site."""
    combo = fresh[list(EVENT_RULES)].to_numpy().astype(int) @ [1, 2, 4]
    keys = pd.DataFrame({"combo": combo, "site": fresh["site"].to_numpy(dtype=object)}, index=fresh.index)
    plans = []
    for (c, site), _ in keys.groupby(["combo", "site"], dropna=False, sort=False):
        site = None if pd.isna(site) else site
        new = [r for n, r in enumerate(EVENT_RULES) if c & (1 << n)]
        for j, (role, entry) in enumerate(_by_role(trial, new, [], site, people).items()):
            plans.append({"combo": c, "site_key": "\0" if site is None else site, "order": j, "role": role,
                          "raised_list": entry["raised"], "cleared_list": [], "recipients_list": entry["addresses"]})
    keys = keys.assign(pos=fresh["pos"].to_numpy(), site_key=keys["site"].where(keys["site"].notna(), "\0"))
    if not plans:
        return pd.DataFrame(columns=["pos", "order", "role", "raised_list", "cleared_list", "recipients_list"])
    return keys[["pos", "combo", "site_key"]].merge(pd.DataFrame(plans), on=["combo", "site_key"]).drop(
        columns=["combo", "site_key"])


def _event_frame(events: pd.DataFrame, out: pd.DataFrame, subject, body, in_digest) -> pd.DataFrame:
    """The outbox columns of event rows, JSON written column-wise (each distinct value once)."""
    parts = [_json_column(events[k], out.index).tolist() for k in FACT_KEYS]
    keys = [json.dumps(k) for k in FACT_KEYS]
    template = "{{" + ", ".join(f"{k}: {{}}" for k in keys) + "}}"      # keys are plain words
    facts = [template.format(*values) for values in zip(*parts)]
    return pd.DataFrame({
        "kind": "event", "record_key": events["record_key"].to_numpy(dtype=object),
        "version": pd.array(events["version"].to_numpy(), dtype="Int64"), "phase": None,
        "subject_id": events["subject_id"].to_numpy(dtype=object), "site": events["site"].to_numpy(dtype=object),
        "raised": _json_once(out["raised_list"].tolist()), "cleared": _json_once(out["cleared_list"].tolist()),
        "facts": facts, "role": out["role"].to_numpy(dtype=object),
        "recipients": _joined_once(out["recipients_list"].tolist()), "subject": subject, "body": body,
        "state": ["digest" if d else "pending" for d in in_digest],
        "digest_key": None, "in_digest": np.where(in_digest, out["group"].to_numpy(dtype=object), None),
    }, index=out.index)


def _json_column(values: pd.Series, index) -> pd.Series:
    """JSON text of each value as ``json.dumps(..., default=str)`` writes it, once per distinct value."""
    return each_distinct(values, lambda v: json.dumps(v, default=str)).set_axis(index)


def alerts_frame(alerts: list[dict]) -> pd.DataFrame:
    """Outbox rows given as dicts (digests, boundary alerts, an implementation that works row by row)
    as the frame :meth:`toxdb.store.db.Store.add_alerts` stores."""
    return pd.DataFrame({
        "kind": [a["kind"] for a in alerts],
        "record_key": pd.Series([a.get("record_key") for a in alerts], dtype=object),
        "version": pd.Series([a.get("version") for a in alerts], dtype="Int64"),
        "phase": pd.Series([a.get("phase") for a in alerts], dtype=object),
        "subject_id": pd.Series([a.get("subject_id") for a in alerts], dtype=object),
        "site": pd.Series([a.get("site") for a in alerts], dtype=object),
        "raised": _json_once([a.get("raised", []) for a in alerts]),
        "cleared": _json_once([a.get("cleared", []) for a in alerts]),
        "facts": _json_once([a.get("facts", {}) for a in alerts]),
        "role": [a["role"] for a in alerts],
        "recipients": [", ".join(a["recipients"]) for a in alerts],
        "subject": [a["subject"] for a in alerts],
        "body": [a["body"] for a in alerts],
        "state": [a.get("state", "pending") for a in alerts],
        "digest_key": pd.Series([a.get("digest_key") for a in alerts], dtype=object),
        "in_digest": pd.Series([a.get("in_digest") for a in alerts], dtype=object),
    }, columns=OUTBOX_COLUMNS)


def _joined_once(lists: list) -> list[str]:
    """Addresses as one text, joined once per list object (a plan's list is shared by its rows)."""
    seen: dict[int, str] = {}
    return [seen[id(o)] if id(o) in seen else seen.setdefault(id(o), ", ".join(o)) for o in lists]


def _json_once(objects: list) -> list[str]:
    """JSON text of each object, written once per object (one event's facts go to several roles)."""
    seen: dict[int, str] = {}
    return [seen[id(o)] if id(o) in seen else seen.setdefault(id(o), json.dumps(o, default=str)) for o in objects]


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
    if isinstance(alerts, list):
        alerts = alerts_frame(alerts)
    frame = pd.concat([f for f in (alerts, alerts_frame(boundary_alerts)) if len(f)] or [alerts_frame([])],
                      ignore_index=True)
    return store.add_alerts(frame, changed, upload_id, actor)
