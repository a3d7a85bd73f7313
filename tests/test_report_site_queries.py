"""The committee report's open queries include the queries to sites (issue 13): per site open, answered,
closed and the age of open ones, and the ones not yet closed listed, all as they stood when the cut was
frozen (a later answer or a later query does not change a report of that cut)."""
from __future__ import annotations

import datetime as dt

import pytest
from conftest import ROOT

from toxdb.ingest.upload import seed_sample
from toxdb.reports.committee import compute_committee_report
from toxdb.store.cuts import list_saved_cuts
from toxdb.store.db import Store
from toxdb.store.queries import insert_query, update_query_status
from toxdb.trial import load_trial


def _ask(store, subject, site, at, text="please check"):
    return insert_query(store, kind="patients", record_key=subject, subject_id=subject, site=site,
                        record_label="patient record", source="manual", text=text, user="pi@x", role="investigator",
                        at=at)


def _move(store, qid, before, after, action, at):
    assert update_query_status(store, qid, expected=before, new=after, action=action, text="done", user="c@x",
                               role="coordinator", at=at)


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_site_queries_as_they_stood_at_the_frozen_cut(tmp_path, lang):
    from toxdb.i18n import language

    now = dt.datetime.now().replace(microsecond=0)
    day = dt.timedelta(days=1)
    with Store(tmp_path / "q.duckdb") as store:
        seed_sample(store, ROOT / "sample_data")
        q1 = _ask(store, "ICC-01-001", "CAMS", now - 3 * day - dt.timedelta(hours=1))   # answered before the cut
        _move(store, q1, "open", "answered", "answer", now - 2 * day)
        q2 = _ask(store, "ICC-01-002", "CAMS", now - day - dt.timedelta(hours=1))        # closed after the cut
        q4 = _ask(store, "ICC-02-001", "SYSU", now - 5 * day)                          # closed before the cut
        _move(store, q4, "open", "closed", "close", now - 4 * day)
        store.save_data_cut("DSMB-Q", dt.date.today(), "dm")
        cut = next(c for c in list_saved_cuts(store) if c.name == "DSMB-Q")
        _move(store, q2, "open", "closed", "close", cut.frozen_at + dt.timedelta(hours=1))
        _ask(store, "ICC-02-002", "SYSU", cut.frozen_at + dt.timedelta(hours=2))         # after the cut: not shown
        with language(lang):
            report = compute_committee_report(store, cut, load_trial(), section="open")
            again = compute_committee_report(store, cut, load_trial(), section="open")
    counts = report.block("site_queries_by_site").frame.set_index("site")
    # by hand: CAMS q1 answered (3 days old), q2 open (1 day old); SYSU q4 closed
    assert counts.loc["CAMS", ["open", "answered", "closed", "total"]].tolist() == [1, 1, 0, 2]
    assert counts.loc["SYSU", ["open", "answered", "closed", "total"]].tolist() == [0, 0, 1, 1]
    assert counts.loc["CAMS", "oldest_open_days"] == 1 and counts.loc["CAMS", "median_open_days"] == 1
    listing = report.block("site_queries").frame
    assert listing["query_id"].tolist() == [q1, q2]
    assert listing["status"].tolist() == ["answered", "open"] and listing["age_days"].tolist() == [3, 1]
    assert report.summary["data_hash"] == again.summary["data_hash"]
    keys = [b.key for s in report.sections for b in s.blocks]
    assert keys.index("site_queries_by_site") > keys.index("completeness")
