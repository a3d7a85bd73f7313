"""Twin test for the column-wise event alert detection (D99): every outbox row an import writes is the
one the per-event implementation of issue 15 wrote. That implementation is frozen below (``_old_*``,
copied from toxdb/alerts/detect.py before the change) and run on a second store fed the same files;
the two outboxes must agree on every column but ids and timestamps, in the same order, with each
event row pointing at the same digest."""
from __future__ import annotations

import json
import tomllib

import pandas as pd
import pytest
from conftest import write

from toxdb.alerts import detect
from toxdb.alerts.message import (
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
from toxdb.ingest.upload import import_paths
from toxdb.store.db import Store
from toxdb.trial import DEFAULT_TRIAL_FILE, Trial
from toxdb.users import add_user, disable_user

FACT_KEYS = ("term", "grade", "onset_date", "serious", "subject_id", "site")


# ---- the per-event implementation as it was (reference only) ---------------------------------------
def _old_alerted_state(ledger):
    out = {}
    for row in ledger.to_dict("records"):
        state = out.setdefault(row["record_key"], {"raised": {}, "versions": set()})
        state["versions"].add(int(row["version"]))
        facts = json.loads(row["facts"])
        for rule in json.loads(row["raised"]):
            state["raised"][rule] = facts
        for rule in json.loads(row["cleared"]):
            state["raised"].pop(rule, None)
    return out


def _old_decide(store, trial, upload_id):
    rows = store.alert_candidate_rows(upload_id)
    if not len(rows):
        return []
    rows = derive_alert_rules(rows, trial)
    alerted = _old_alerted_state(store.event_alert_ledger(upload_id))
    people = store.users()
    out, by_role_of = [], {}
    columns = list(rows.columns)
    met_of = dict(zip(rows.index, met_rules(rows)))
    records = [dict(zip(columns, values)) for values in zip(*(rows[c].to_numpy(dtype=object).tolist() for c in columns))]
    for i, ev in zip(rows.index, records):
        key, version = ev["record_key"], int(ev["version"])
        state = alerted.get(key, {"raised": {}, "versions": set()})
        if version in state["versions"]:
            continue
        met = met_of[i]
        correction = version > 1
        new = [r for r in EVENT_RULES if r in met and r not in state["raised"]]
        if correction and not alerts_corrections(trial):
            new = []
        cleared = [r for r in EVENT_RULES if r in state["raised"] and r not in met]
        if not new and not cleared:
            continue
        k = (tuple(new), tuple(cleared), ev.get("site"))
        if k not in by_role_of:
            by_role_of[k] = _old_by_role(trial, new, cleared, ev.get("site"), people)
        out.append({"event": ev, "by_role": by_role_of[k], "correction": correction,
                    "previous": next((state["raised"][r] for r in cleared), None)})
    return out


def _old_by_role(trial, new, cleared, site, people):
    by_role = {}
    for rule in new + cleared:
        for role, addresses in recipients(trial, rule, site, people).items():
            entry = by_role.setdefault(role, {"addresses": addresses, "raised": [], "cleared": []})
            entry["raised" if rule in new else "cleared"].append(rule)
    return by_role


def _old_detect_event_alerts(store, trial, upload_id, standing):
    decisions = _old_decide(store, trial, upload_id)
    per_group = {}
    for d in decisions:
        for role, entry in d["by_role"].items():
            group = f"{role}|{','.join(entry['addresses'])}"
            per_group[group] = per_group.get(group, 0) + 1
    digest_groups = {g for g, n in per_group.items() if n > trial.alerts.digest_above}
    text = standing_lines(standing)
    out, lines = [], {g: [] for g in digest_groups}
    for d in decisions:
        ev = d["event"]
        facts = {k: ev.get(k) for k in FACT_KEYS}
        for role, entry in d["by_role"].items():
            row = {"kind": "event", "record_key": ev["record_key"], "version": int(ev["version"]),
                   "subject_id": ev["subject_id"], "site": ev.get("site"), "raised": entry["raised"],
                   "cleared": entry["cleared"], "facts": facts, "role": role, "recipients": entry["addresses"]}
            group = f"{role}|{','.join(entry['addresses'])}"
            if group in digest_groups:
                line = compose_event_line(ev, entry["raised"], entry["cleared"])
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


# ---- awkward data ----------------------------------------------------------------------------------
PATIENTS = """subject_id,site,enrolled_on,sex,age,height_cm,weight_kg,serum_creatinine,serum_creatinine_unit,agent
P-001,SITE-A,2025-06-02,M,61,170,65,0.9,mg/dL,capecitabine
P-002,SITE-A,2025-06-20,F,55,158,52,70,umol/L,capecitabine
P-003,SITE-B,2025-07-15,F,68,160,58,1.1,mg/dL,S-1
P-004,SITE-C,2025-07-20,M,49,175,80,1.0,mg/dL,capecitabine
"""
HEAD = "subject_id,ae_ref,term,verbatim,grade,onset_date,serious,attribution,outcome\n"
FIRST = HEAD + "".join([  # noqa: FLY002 - one row a line
    'P-001,AE-1,Sepsis,"septic shock, after cholangitis",5,2025-07-01,Y,unlikely,fatal\n',
    "P-001,AE-2,Neutrophil count decreased,ANC 0.3,4,2025-07-03,N,definite,recovered\n",
    "P-001,AE-3,Diarrhoea,腹泻 水样便,4,2025-07-04,,probable,recovering\n",           # serious missing
    "P-002,AE-1,Platelet count decreased,,4,2025-07-05,Y,possible,\n",               # haem but SAE
    'P-002,AE-2,Lung infection,"pneumonia ""right lower lobe""",3,2025-07-06,Y,possible,not recovered\n',
    "P-002,AE-3,Nausea,,2,2025-07-07,N,possible,recovered\n",                        # not alerting
    "P-003,AE-1,Hepatic failure,肝衰竭,5,2025-07-20,Y,possible,fatal\n",
    "P-003,AE-2,Cholangitis,,3,,Y,unlikely,recovering\n",                           # onset missing
    "P-004,AE-1,Fatigue,,4,2025-07-25,N,possible,recovering\n",
    "P-004,AE-2,Biliary fistula,bile leak,3,2025-07-26,Y,unlikely,\n",
])
# corrections: grade 5 -> 4 (clears grade5, raises grade4_nonhaem), SAE -> not (clears sae), 3 -> 4 non-haem,
# haem grade 4 -> serious (raises sae), missing serious -> Y; unchanged rows; and new events of version 1
SECOND = HEAD + "".join([  # noqa: FLY002 - one row a line
    'P-001,AE-1,Sepsis,"septic shock, after cholangitis",4,2025-07-01,Y,unlikely,not recovered\n',
    "P-001,AE-2,Neutrophil count decreased,ANC 0.3,4,2025-07-03,Y,definite,recovered\n",
    "P-001,AE-3,Diarrhoea,腹泻 水样便,4,2025-07-04,Y,probable,recovering\n",
    "P-002,AE-1,Platelet count decreased,,4,2025-07-05,Y,possible,\n",
    'P-002,AE-2,Lung infection,"pneumonia ""right lower lobe""",3,2025-07-06,N,possible,recovered\n',
    "P-002,AE-3,Nausea,,4,2025-07-07,N,possible,recovered\n",
    "P-003,AE-3,Anaemia,,4,2025-07-28,N,possible,\n",
    "P-004,AE-3,Death NOS,,5,2025-08-01,,unrelated,fatal\n",
])


def _trial(language: str) -> Trial:
    raw = tomllib.loads(DEFAULT_TRIAL_FILE.read_text(encoding="utf-8"))
    raw["trial"]["language"] = language
    raw["alerts"].update(digest_above=3, grade5=["committee", "coordinator"],
                         sae=["committee", "investigator", "coordinator"], grade4_nonhaem=["investigator", "coordinator"],
                         site_recipients={"SITE-A": ["coord-a@example.org"], "SITE-C": ["coord-c@example.org"]})
    return Trial.model_validate(raw)


def _outbox(store) -> list[tuple]:
    table = store.alerts().sort_values("alert_id")
    position = {a: i for i, a in enumerate(table["alert_id"])}
    keep = [c for c in table.columns if c not in ("alert_id", "created_at", "digest_id")]
    rows = []
    for rec in table.to_dict("records"):
        digest = rec["digest_id"]
        rows.append(tuple(None if _missing(rec[c]) else rec[c] for c in keep)
                    + (None if _missing(digest) else position[int(digest)],))
    return rows


def _missing(value) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _run(path, tmp_path, trial, files) -> list[tuple]:
    store = Store(path)
    import_paths(store, [write(tmp_path / "patients.csv", PATIENTS)], "setup", trial=trial)
    add_user(store, "dsmb.member@hospital.org", role="committee", sites=[], actor="setup")
    add_user(store, "left@hospital.org", role="committee", sites=[], actor="setup")
    disable_user(store, "left@hospital.org", actor="setup")
    add_user(store, "coord.a2@hospital.org", role="coordinator", sites=["SITE-A"], actor="setup")
    add_user(store, "coord.b@hospital.org", role="coordinator", sites=["SITE-B", "SITE-C"], actor="setup")
    add_user(store, "pi.two@hospital.org", role="investigator", sites=[], actor="setup")
    for name, text in files:
        (outcome,) = import_paths(store, [write(tmp_path / name, text)], "site-coordinator", trial=trial)
        assert outcome.error is None, outcome.message
    out = _outbox(store)
    store.close()
    return out


@pytest.mark.parametrize("language", ["en", "zh_CN"])
def test_column_wise_detection_writes_the_outbox_the_per_event_one_wrote(tmp_path, monkeypatch, language):
    monkeypatch.delenv("TOXDB_SMTP_URL", raising=False)
    trial = _trial(language)
    files = [("ae.csv", FIRST), ("ae-same.csv", FIRST), ("ae-corrected.csv", SECOND), ("ae-back.csv", FIRST)]
    (tmp_path / "new").mkdir()
    (tmp_path / "old").mkdir()
    new = _run(tmp_path / "new.duckdb", tmp_path / "new", trial, files)
    monkeypatch.setattr(detect, "detect_event_alerts", _old_detect_event_alerts)
    old = _run(tmp_path / "old.duckdb", tmp_path / "old", trial, files)
    kinds = {r[1] for r in old}
    assert len(old) > 40 and kinds >= {"event", "digest"}                        # the cases happened:
    assert any(r[8] != "[]" for r in old) and any(r[3] == 2 and r[7] != "[]" for r in old)  # follow-ups, corrections
    assert {r[6] for r in old} >= {"SITE-A", "SITE-B", "SITE-C"}
    assert len(new) == len(old)
    for i, (a, b) in enumerate(zip(new, old)):
        assert a == b, f"outbox row {i}:\nnew {a}\nold {b}"
