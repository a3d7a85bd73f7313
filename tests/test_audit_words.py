"""The audit log in words (Uploads & audit page): each kind of entry is a sentence, not JSON."""
from __future__ import annotations

import json

import pytest

from toxdb.reports.audit import derive_audit_words, describe_audit

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("action, detail, words", [
    ("upload", {"upload_id": 3, "file": "ae.csv", "kind": "ae", "site": "SITE-A", "accepted": 10, "duplicates": 1,
                "corrections": 2, "rejected": 4},
     "Loaded ae.csv (ae) for site SITE-A as upload #3: 10 new, 2 corrected, 1 duplicates, 4 rejected."),
    ("save_mapping", {"site": "SITE-A", "kind": "ae", "mapping": {"PT": "subject_id"}, "version": 2},
     "Saved column mapping version 2 for site SITE-A (ae): PT → subject_id."),
    ("data_cut", {"name": "DSMB 1", "cut_date": "2026-06-30"}, 'Saved data cut "DSMB 1" (cut date 2026-06-30).'),
    ("acknowledge_advice", {"subject_id": "P-1", "agent": "S-1", "rule": "s1.renal", "comment": "ok"},
     "Acknowledged dose advice for P-1 (S-1, rule s1.renal). Comment: ok"),
    ("sign_in", {"identity": "x@y", "known": False}, "Signed in without a users row: shown the no-access page."),
    ("download", {"file": "rejected_upload_3.csv"}, "Downloaded rejected_upload_3.csv."),
    ("user_added", {"identity": "c@a.org", "role": "coordinator", "sites": ["SITE-A"], "active": True},
     "Added user c@a.org: coordinator, sites SITE-A, active."),
    ("query_raise", {"query_id": 4, "kind": "ae", "record_key": "k", "subject_id": "P-1", "site": "CAMS",
                     "text": "grade?"}, "Raised query #4 to site CAMS about P-1 (adverse event): grade?"),
    ("query_answer", {"query_id": 4, "from": "open", "to": "answered", "text": "grade 3, checked"},
     "Answered query #4: grade 3, checked"),
    ("query_close", {"query_id": 4, "from": "answered", "to": "closed", "text": ""}, "Closed query #4."),
    ("query_reopen", {"query_id": 4, "from": "closed", "to": "open", "text": "not yet"}, "Re-opened query #4: not yet"),
    ("review", {"kind": "ae", "record_key": "AE-7", "version": "2", "subject_id": "P-1"},
     "Marked adverse event record AE-7 of P-1 reviewed (version 2)."),
    ("week_reviewed", {"reference": "7 days ago", "cut": "Live", "items": {}},
     "Marked This week reviewed (compared with 7 days ago, data cut Live)."),
    ("something_new", {"a": 1}, "something_new: a: 1"),
])
def test_each_entry_reads_as_a_sentence(action, detail, words):
    assert describe_audit(action, json.dumps(detail)) == words


def test_the_frame_gets_words_and_loses_the_json():
    import pandas as pd

    frame = pd.DataFrame({"seq": [1], "logged_at": [pd.Timestamp("2026-01-01")], "actor": ["a"],
                          "action": ["data_cut"], "detail": ['{"name": "X", "cut_date": "2026-01-01"}']})
    out = derive_audit_words(frame)
    assert "detail" not in out.columns and out["what"].iloc[0] == 'Saved data cut "X" (cut date 2026-01-01).'


# one representative detail per action the code writes (as the code writes it)
WRITTEN = {
    "upload": {"upload_id": 1, "file": "a.csv", "kind": "ae", "site": "S", "accepted": 1, "duplicates": 0,
               "corrections": 0, "rejected": 0},
    "upload_repeated": {"file": "a.csv", "same_as_upload": 1},
    "save_mapping": {"site": "S", "kind": "ae", "mapping": {"PT": "subject_id"}, "version": 1},
    "save_value_map": {"site": "S", "kind": "treatment", "map": {"treatment": {"希罗达": "capecitabine"}}},
    "data_cut": {"name": "DSMB 1", "cut_date": "2026-06-30", "last_upload": 3},
    "acknowledge_advice": {"subject_id": "P-1", "agent": "capecitabine", "rule": "r", "advice_hash": "h",
                           "comment": None},
    "sign_in": {"identity": "a@b", "known": True, "site": None},
    "sign_out": {"identity": "a@b"},
    "download": {"file": "sae.csv", "kind": "report", "cut": "live (today, 2026-12-02)", "sites": ["SYSU"]},
    "export": {"export": "events", "cut": "2026-06-30", "sites": ["SYSU"], "rows": 12, "format": "csv",
               "to": "events.csv"},
    "diff": {"from": "DSMB 1", "to": "DSMB 2", "changes": 4, "sites": "all", "format": "text", "to_file": "stdout"},
    "report": {"cut": "DSMB 1", "cut_date": "2026-06-30", "frozen_at": "", "section": "all", "format": "pdf",
               "data_hash": "ab" * 32, "file": "r.pdf", "audit_head": "3:" + "c" * 64},
    "user_added": {"identity": "c@a", "role": "coordinator", "sites": ["S"], "active": True},
    "user_changed": {"identity": "c@a", "role": "coordinator", "sites": ["S"], "active": False, "before": {}},
    "user_disabled": {"identity": "c@a", "role": "coordinator", "sites": ["S"], "active": False},
    "users_listed": {"rows": 4, "format": "text"},
    "week_reviewed": {"reference": "my last review", "cut": "live", "items": {"new_ae": 2}},
    "review": {"kind": "ae", "record_key": "P-1|AE-1", "version": "2", "subject_id": "P-1"},
    "query_raise": {"query_id": 4, "kind": "ae", "record_key": "k", "subject_id": "P-1", "site": "S", "text": "grade?"},
    "query_answer": {"query_id": 4, "from": "open", "to": "answered", "text": "grade 2"},
    "query_close": {"query_id": 4, "from": "answered", "to": "closed", "text": ""},
    "query_reopen": {"query_id": 4, "from": "closed", "to": "open", "text": "check the date"},
    "alerts_raised": {"upload_id": 3, "alert_ids": [7, 8], "boundary": {"all": True, "maintenance": False}},
    "alert_sent": {"alert_id": 7, "error": None, "next_attempt_at": None},
    "alert_failed": {"alert_id": 8, "error": "connection refused", "next_attempt_at": "2026-12-02 17:05:00"},
    "alert_acknowledged": {"alert_id": 7},
    "alerts_error": {"upload_id": 3, "error": "ValueError('x')"},
}


def _actions_in_code() -> set[str]:
    """Every action name the code writes to the audit log, read from the source."""
    import re

    from conftest import ROOT

    from toxdb.queries import TRANSITIONS
    from toxdb.reports.week import REVIEW_ACTION

    found = {REVIEW_ACTION, *(f"query_{a}" for a in TRANSITIONS)}
    calls = re.compile(r"(?:record_audit|write_audit|_audit|append_many|record_cli_action)\(([^\n]*)")
    for path in [*(ROOT / "toxdb").rglob("*.py"), *(ROOT / "app").rglob("*.py")]:
        text = path.read_text(encoding="utf-8")
        for m in calls.finditer(text):
            first = re.search(r',\s*"([a-z_]+)"\s*,', m.group(1))
            if first:
                found.add(first.group(1))
        found |= set(re.findall(r'action="(user_[a-z]+)"', text))
        found |= set(re.findall(r'args=\("([a-z_]+)"', text))
    return found


def test_every_action_the_code_writes_reads_in_words():
    written = _actions_in_code()
    assert {"upload", "download", "export", "sign_out", "review", "query_raise"} <= written   # the scan finds them
    missing = written - set(WRITTEN)
    assert not missing, f"add a sentence (toxdb/reports/audit.py) and an example here for: {sorted(missing)}"
    from toxdb.reports.audit import ACTION_LABELS, action_label

    for action, detail in WRITTEN.items():
        words = describe_audit(action, json.dumps(detail))
        assert not words.startswith(f"{action}:") and "{" not in words, (action, words)
        assert action in ACTION_LABELS and action_label(action) != action


def test_command_line_and_browser_entries_name_what_who_needs():
    export = describe_audit("export", json.dumps(WRITTEN["export"]))
    assert export == ("Exported events from the command line as of 2026-06-30, sites: SYSU: 12 rows as csv "
                      "to events.csv.")
    assert describe_audit("download", json.dumps(WRITTEN["download"])) == (
        "Downloaded sae.csv. Data cut live (today, 2026-12-02); sites: SYSU.")
    assert describe_audit("save_value_map", json.dumps(WRITTEN["save_value_map"])) == (
        "Saved value mapping for site S (treatment): treatment: 希罗达 → capecitabine.")
    assert describe_audit("query_answer", json.dumps(WRITTEN["query_answer"])) == "Answered query #4: grade 2"
