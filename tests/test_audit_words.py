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
     "Marked ae AE-7 of P-1 reviewed (version 2)."),
    ("week_reviewed", {"reference": "7 days ago", "cut": "Live", "items": {}},
     "Marked This week reviewed (7 days ago to Live)."),
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
