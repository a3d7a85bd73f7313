"""Issue 10: a stored flag raises a query to the site (D50, D56). The query is one of the queries to
sites (D75, D76): the site's coordinator sees and answers it, the PI closes it; a correction that
removes the reason for the flag closes it by itself, with a note saying so."""
import datetime as dt

import pytest

from toxdb.clinical import ctcae
from toxdb.ingest.upload import commit_upload, prepare_upload
from toxdb.queries import (
    ANSWERED,
    CLOSED,
    FLAG_RAISER,
    OPEN,
    QueryRefused,
    act_on_query,
    compute_flag_counts,
    sync_flag_queries,
)
from toxdb.store.queries import read_flag_lines, read_queries, read_query_messages

TODAY = dt.date(2026, 11, 23)
HEAD = "subject_id,term,grade,onset_date\n"
# CTCAE v5.0 gives Nausea grades 1-3 only: grade 4 is stored as recorded, flagged and queried
NAUSEA_4_A = "P-001,Nausea,4,2025-06-22\n"       # P-001 is a SITE-A patient (conftest)
NAUSEA_4_B = "P-003,Nausea,4,2025-07-20\n"       # P-003 is a SITE-B patient


def as_(monkeypatch, user, role, site=None):
    from toxdb import access

    me = access.Person(identity=user, role=role, sites=(site,) if site else ())
    monkeypatch.setattr(access, "acting_person", lambda trial=None: me)


def upload(store, text, name, site):
    plan = prepare_upload(store, text.encode("utf-8"), name, today=TODAY, site=site)
    return commit_upload(store, plan, "uploader")


def counts_of(store, code="grade_not_allowed"):
    table = compute_flag_counts(read_flag_lines(store))
    row = table[(table["kind"] == "ae") & (table["code"] == code)]
    return (int(row["open"].sum()), int(row["resolved"].sum()))


def test_a_flagged_grade_is_an_open_query_to_its_site_answered_by_the_site_and_closed_by_the_pi(
        loaded_store, monkeypatch):
    store = loaded_store
    assert 4 not in ctcae.allowed_grades("Nausea")
    a = upload(store, HEAD + NAUSEA_4_A, "site_a_ae.csv", "SITE-A")
    b = upload(store, HEAD + NAUSEA_4_B, "site_b_ae.csv", "SITE-B")
    assert (a.flagged, a.queries_raised, b.flagged, b.queries_raised) == (1, 1, 1, 1)

    queries = read_queries(store)
    flag_queries = queries[queries["source"] == "flag"]
    assert sorted(flag_queries["subject_id"]) == ["P-001", "P-003"]
    assert set(flag_queries["status"]) == {OPEN} and set(flag_queries["raised_by"]) == {FLAG_RAISER}
    assert set(flag_queries["kind"]) == {"ae"}
    qa = int(flag_queries.loc[flag_queries["site"] == "SITE-A", "query_id"].iloc[0])
    first = read_query_messages(store, qa)
    # the question is the flag itself, in words: the term, the grade written, the grades CTCAE allows
    assert first["action"].tolist() == ["raise"]
    assert "Nausea" in first["text"].iloc[0] and "grade 4" in first["text"].iloc[0]
    assert "confirm the grade" in first["text"].iloc[0]
    assert "site_a_ae.csv" in flag_queries.loc[flag_queries["query_id"] == qa, "record_label"].iloc[0]

    # the SITE-A coordinator sees the SITE-A query and not the SITE-B one
    mine = read_queries(store.scoped(["SITE-A"]))
    assert mine.loc[mine["source"] == "flag", "subject_id"].tolist() == ["P-001"]
    assert counts_of(store) == (2, 0)

    # a SITE-B coordinator may not answer it; SITE-A's may; the PI closes it
    as_(monkeypatch, "coord-b", "coordinator", "SITE-B")
    with pytest.raises(QueryRefused):
        act_on_query(store, qa, "answer", "not ours")
    as_(monkeypatch, "coord-a", "coordinator", "SITE-A")
    assert act_on_query(store, qa, "answer", "Grade 4 is right: tube feeding was needed.") == ANSWERED
    as_(monkeypatch, "dr-pi", "investigator")
    assert act_on_query(store, qa, "close") == CLOSED
    assert read_query_messages(store, qa)["action"].tolist() == ["raise", "answer", "close"]
    # the committee's count: one flagged row still open (SITE-B), one resolved (closed by the PI)
    assert counts_of(store) == (1, 1)
    # running the check again changes nothing: no second query for the same flag
    again = sync_flag_queries(store)
    assert (again.raised, again.closed) == ([], 0)
    assert (read_queries(store)["source"] == "flag").sum() == 2


def test_a_correction_that_removes_the_flag_closes_its_query_with_a_note(loaded_store):
    store = loaded_store
    upload(store, HEAD + NAUSEA_4_A + NAUSEA_4_B, "site_ae.csv", None)
    flag_q = read_queries(store)
    flag_q = flag_q[flag_q["source"] == "flag"]
    assert len(flag_q) == 2 and set(flag_q["status"]) == {OPEN}
    assert counts_of(store) == (2, 0)
    qa = int(flag_q.loc[flag_q["subject_id"] == "P-001", "query_id"].iloc[0])

    # the site corrects P-001's nausea to grade 3 (a grade CTCAE has): same event, new version
    fixed = upload(store, HEAD + "P-001,Nausea,3,2025-06-22\n", "site_ae_fixed.csv", None)
    assert (fixed.corrections, fixed.flagged, fixed.queries_raised, fixed.queries_closed) == (1, 0, 0, 1)
    status = read_queries(store).set_index("query_id")["status"]
    assert status[qa] == CLOSED
    others = [q for q in flag_q["query_id"] if q != qa]
    assert status[others[0]] == OPEN                   # P-003's flag is still a question
    thread = read_query_messages(store, qa)
    assert thread["action"].tolist() == ["raise", "close"]
    assert thread["author"].tolist() == [FLAG_RAISER, FLAG_RAISER]
    note = thread["text"].iloc[-1]
    assert "automatically" in note and "site_ae_fixed.csv" in note and "without a flag" in note
    assert counts_of(store) == (1, 1)


def test_a_correction_of_something_else_keeps_the_flag_and_its_query(loaded_store):
    store = loaded_store
    upload(store, "subject_id,term,grade,onset_date,end_date\nP-001,Nausea,4,2025-06-22,\n", "ae1.csv", None)
    before = read_queries(store)
    before = before[before["source"] == "flag"]
    # the end date is added; grade 4 is still there: the same question, not a second one
    later = upload(store, "subject_id,term,grade,onset_date,end_date\nP-001,Nausea,4,2025-06-22,2025-06-30\n",
                   "ae2.csv", None)
    assert later.corrections == 1 and later.queries_raised == 0 and later.queries_closed == 0
    after = read_queries(store)
    after = after[after["source"] == "flag"]
    assert after["query_id"].tolist() == before["query_id"].tolist() and set(after["status"]) == {OPEN}
    assert counts_of(store) == (1, 0)


def test_a_coordinators_own_upload_raises_the_query_in_their_scope(loaded_store):
    mine = loaded_store.scoped(["SITE-A"])             # what the Upload page uses for a coordinator (D64)
    counts = upload(mine, HEAD + NAUSEA_4_A, "site_a_ae.csv", "SITE-A")
    assert (counts.flagged, counts.queries_raised) == (1, 1)
    seen = read_queries(mine)
    assert seen.loc[seen["source"] == "flag", "site"].tolist() == ["SITE-A"]
    assert counts_of(mine) == (1, 0) and counts_of(loaded_store.scoped(["SITE-B"])) == (0, 0)
