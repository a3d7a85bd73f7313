"""Queries to sites: the state machine (including refused moves), permissions, the thread, counts and
ages per site, lab-vs-AE queries as raisable records, export (issue 12 item 5; D75, D76)."""
import datetime as dt

import pandas as pd
import pytest

from toxdb.queries import (
    ANSWERED,
    CLOSED,
    OPEN,
    QueryRefused,
    act_on_query,
    compute_query_counts,
    lab_query_records,
    next_status,
    queries_for_export,
    raise_query,
    record_choices,
)
from toxdb.store.queries import read_queries, read_query_messages

# a test without a tier mark is a unit test (conftest); the app and cli tests here say so


def as_(monkeypatch, user, role, site=None):
    """Act as ``user`` with ``role`` (limited to ``site`` when given) for the rest of the test."""
    from toxdb import access

    me = access.Person(identity=user, role=role, sites=(site,) if site else ())
    monkeypatch.setattr(access, "acting_person", lambda trial=None: me)


@pytest.mark.parametrize("status,action,after", [
    (OPEN, "answer", ANSWERED), (ANSWERED, "answer", ANSWERED), (OPEN, "close", CLOSED),
    (ANSWERED, "close", CLOSED), (ANSWERED, "reopen", OPEN), (CLOSED, "reopen", OPEN)])
def test_allowed_moves(status, action, after):
    assert next_status(status, action) == after


@pytest.mark.parametrize("status,action", [(CLOSED, "answer"), (CLOSED, "close"), (OPEN, "reopen"),
                                           (OPEN, "raise"), (OPEN, "delete")])
def test_refused_moves_say_why(status, action):
    with pytest.raises(QueryRefused) as err:
        next_status(status, action)
    assert str(err.value).strip()


def ae_record(store, subject="P-001"):
    ae = store.read_kind("ae", with_version_columns=True)
    choices = record_choices(ae[ae["subject_id"] == subject], "ae")
    row = choices.iloc[0]
    return {"kind": "ae", "record_key": row["record_key"], "subject_id": subject, "site": "SITE-A",
            "label": row["label"]}


def test_a_query_runs_from_raise_to_close_with_the_thread_and_the_audit_log(loaded_store, monkeypatch):
    store = loaded_store
    as_(monkeypatch, "dr-pi", "investigator")
    record = ae_record(store)
    assert "grade" in record["label"] and "onset" in record["label"]
    qid = raise_query(store, record, "  Is the grade 2 diarrhoea onset date right?  ")
    as_(monkeypatch, "coord-a", "coordinator", "SITE-A")
    assert act_on_query(store, qid, "answer", "Yes, checked against the chart.") == ANSWERED
    as_(monkeypatch, "dr-pi", "investigator")
    assert act_on_query(store, qid, "reopen", "Chart says 24 June; please correct.") == OPEN
    as_(monkeypatch, "coord-a", "coordinator", "SITE-A")
    act_on_query(store, qid, "answer", "Corrected in the next upload.")
    as_(monkeypatch, "dr-pi", "investigator")
    assert act_on_query(store, qid, "close") == CLOSED

    thread = read_query_messages(store, qid)
    assert list(thread["author"]) == ["dr-pi", "coord-a", "dr-pi", "coord-a", "dr-pi"]
    assert list(thread["action"]) == ["raise", "answer", "reopen", "answer", "close"]
    assert thread["text"].iloc[0] == "Is the grade 2 diarrhoea onset date right?"   # trimmed, kept as written
    assert thread["written_at"].notna().all()
    audit = store.audit_log()
    assert sorted(a for a in audit["action"] if a.startswith("query_")) == sorted(
        ["query_raise", "query_answer", "query_reopen", "query_answer", "query_close"])
    assert read_queries(store)["status"].tolist() == [CLOSED]


def test_refused_actions_write_nothing(loaded_store, monkeypatch):
    store = loaded_store
    as_(monkeypatch, "dr-pi", "investigator")
    qid = raise_query(store, ae_record(store), "Please check.")
    n_audit = len(store.audit_log())
    as_(monkeypatch, "coord-b", "coordinator", "SITE-B")            # another site's coordinator
    with pytest.raises(QueryRefused, match="answer"):
        act_on_query(store, qid, "answer", "Not mine.")
    as_(monkeypatch, "coord-a", "coordinator", "SITE-A")
    with pytest.raises(QueryRefused):                               # a coordinator does not close
        act_on_query(store, qid, "close")
    with pytest.raises(QueryRefused):                               # an empty answer
        act_on_query(store, qid, "answer", "   ")
    with pytest.raises(QueryRefused):                               # a coordinator does not raise
        raise_query(store, ae_record(store), "?")
    as_(monkeypatch, "dr-pi", "investigator")
    with pytest.raises(QueryRefused):                               # an open query is not re-opened
        act_on_query(store, qid, "reopen", "again")
    with pytest.raises(QueryRefused):
        act_on_query(store, 999, "close")
    assert len(store.audit_log()) == n_audit
    assert read_query_messages(store, qid)["action"].tolist() == ["raise"]
    assert read_queries(store)["status"].tolist() == [OPEN]


def test_counts_and_ages_per_site_by_hand():
    now = dt.datetime(2026, 3, 20, 12, 0)
    q = pd.DataFrame({
        "site": ["A", "A", "A", "B", "B"],
        "status": [OPEN, OPEN, CLOSED, ANSWERED, OPEN],
        "raised_at": pd.to_datetime(["2026-03-10 09:00", "2026-03-18 13:00", "2026-01-01 00:00", "2026-03-01 00:00",
                                     "2026-03-19 12:00"]),
    })
    counts = compute_query_counts(q, now).set_index("site")
    assert counts.loc["A", ["open", "answered", "closed", "total"]].tolist() == [2, 0, 1, 3]
    # A's open queries are 10 and 1 whole days old (18 Mar 13:00 -> 20 Mar 12:00 is 1 day 23 h)
    assert counts.loc["A", "median_open_days"] == 5.5 and counts.loc["A", "oldest_open_days"] == 10
    assert counts.loc["B", ["open", "answered", "closed"]].tolist() == [1, 1, 0]
    assert counts.loc["B", "oldest_open_days"] == 1


def test_lab_vs_ae_queries_feed_the_same_workflow(loaded_store, monkeypatch):
    lab_table = pd.DataFrame({
        "subject_id": ["P-001"], "site": ["SITE-A"], "collected_on": pd.to_datetime(["2025-06-23"]),
        "test": ["ANC"], "value": [0.8], "lab_grade": [3], "reported_grade": [None], "issue": ["no AE reported"],
        "query": ["ANC grade 3 with no AE of Neutrophil count decreased"], "first_on": pd.to_datetime(["2025-06-23"]),
        "last_on": pd.to_datetime(["2025-06-23"]), "n_labs": [1]})
    records = lab_query_records(lab_table)
    assert records.loc[0, "record_key"] == "P-001|ANC|2025-06-23"
    changed = lab_query_records(lab_table.assign(value=[0.4]))
    assert changed.loc[0, "record_key"] == records.loc[0, "record_key"]
    assert changed.loc[0, "version"] != records.loc[0, "version"]
    as_(monkeypatch, "dm", "data_manager")
    qid = raise_query(loaded_store, records.iloc[0].to_dict(), "Please report the AE or explain.")
    q = read_queries(loaded_store)
    assert q.loc[0, "source"] == "lab_query" and q.loc[0, "site"] == "SITE-A" and q.loc[0, "query_id"] == qid


def test_export_has_one_row_per_message_with_text_as_written(loaded_store, monkeypatch):
    as_(monkeypatch, "dr-pi", "investigator")
    qid = raise_query(loaded_store, ae_record(loaded_store), "=HYPERLINK(\"x\") **bold**")
    as_(monkeypatch, "coord-a", "coordinator", "SITE-A")
    act_on_query(loaded_store, qid, "answer", "答复：已核对")
    out = queries_for_export(read_queries(loaded_store), read_query_messages(loaded_store))
    assert out["text"].tolist() == ["=HYPERLINK(\"x\") **bold**", "答复：已核对"]
    assert out["author"].tolist() == ["dr-pi", "coord-a"] and set(out["site"]) == {"SITE-A"}


@pytest.mark.cli
def test_cli_export_site_queries(loaded_store, monkeypatch, capsysbinary):
    import io

    from toxdb.cli import main

    as_(monkeypatch, "dr-pi", "investigator")
    first = raise_query(loaded_store, ae_record(loaded_store), "=cmd() check grade")
    raise_query(loaded_store, ae_record(loaded_store, "P-002"), "Is this SAE reported?")
    as_(monkeypatch, "dr-pi", "investigator")
    act_on_query(loaded_store, first, "close")
    path = loaded_store.path
    loaded_store.close()
    assert main(["export", "site-queries", "--db", str(path), "--status", "open", "--csv"]) == 0
    out = pd.read_csv(io.BytesIO(capsysbinary.readouterr().out), encoding="utf-8-sig", dtype=str)
    assert out["text"].tolist() == ["Is this SAE reported?"] and out["status"].tolist() == ["open"]
    assert main(["export", "site-queries", "--db", str(path), "--csv"]) == 0
    out = pd.read_csv(io.BytesIO(capsysbinary.readouterr().out), encoding="utf-8-sig", dtype=str)
    assert len(out) == 3 and not out["text"].str.startswith("=").any()     # a formula is never live


def test_lab_queries_are_raised_once_each_until_closed(loaded_store, monkeypatch):
    lab_table = pd.DataFrame({
        "subject_id": ["P-001", "P-002"], "site": ["SITE-A", "SITE-A"],
        "collected_on": pd.to_datetime(["2025-06-23", "2025-07-08"]), "test": ["ANC", "PLT"], "value": [0.8, 40.0],
        "lab_grade": [3, 3], "reported_grade": [None, None], "issue": ["no AE reported"] * 2,
        "query": ["ANC grade 3 with no AE", "PLT grade 3 with no AE"],
        "first_on": pd.to_datetime(["2025-06-23", "2025-07-08"]), "last_on": pd.to_datetime(["2025-06-23", "2025-07-08"]),
        "n_labs": [1, 1]})
    from toxdb.queries import raise_lab_queries

    as_(monkeypatch, "dm", "data_manager")
    records = lab_query_records(lab_table)
    first = raise_lab_queries(loaded_store, records)
    assert len(first) == 2
    assert raise_lab_queries(loaded_store, records) == []                # already open: not raised twice
    act_on_query(loaded_store, first[0], "close")
    assert len(raise_lab_queries(loaded_store, records)) == 1            # closed: a new query may be raised
    thread = read_query_messages(loaded_store)
    assert "ANC grade 3 with no AE" in thread["text"].iloc[0]


def test_role_permissions_come_from_the_trial_file(monkeypatch):
    from toxdb.permissions import allowed

    as_(monkeypatch, "c", "coordinator", "SITE-A")
    assert allowed("answer_query", "SITE-A") and not allowed("answer_query", "SITE-B")
    assert not allowed("query", "SITE-A")
    as_(monkeypatch, "pi", "investigator")
    assert allowed("query", "SITE-B") and allowed("review") and allowed("answer_query", "SITE-B")
    as_(monkeypatch, "dsmb", "committee")
    assert not allowed("query") and not allowed("review") and not allowed("answer_query", "SITE-A")
    as_(monkeypatch, "dsmc", "committee")
    assert not allowed("query") and not allowed("review")


def test_a_record_of_a_patient_without_a_site_can_be_queried(loaded_store, monkeypatch):
    as_(monkeypatch, "dr-pi", "investigator")
    record = {**ae_record(loaded_store), "site": float("nan")}
    qid = raise_query(loaded_store, record, "Which site treats this patient?")
    q = read_queries(loaded_store)
    assert q.loc[q["query_id"] == qid, "site"].isna().all()
    counts = compute_query_counts(q, dt.datetime.now())
    assert counts["site"].tolist() == ["-"] and counts["open"].tolist() == [1]
