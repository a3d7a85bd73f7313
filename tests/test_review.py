"""Record review: marks tie to record_key + version, a correction makes a record unreviewed again, counts
per site and patient, one-click marking, permissions and the audit log (issue 12 item 4; D77, D78)."""
import pandas as pd
import pytest

from tests.conftest import write
from toxdb.ingest.upload import import_paths
from toxdb.review import (
    ReviewRefused,
    ae_review_records,
    compute_unreviewed_counts,
    derive_review_status,
    mark_reviewed,
)
from toxdb.store.queries import read_reviews

pytestmark = pytest.mark.unit


def status(store):
    records = ae_review_records(store.read_kind("ae", with_version_columns=True), store.read_kind("patients"))
    return derive_review_status(records, read_reviews(store))



def as_(monkeypatch, user, role, site=None):
    """Act as ``user`` with ``role`` (limited to ``site`` when given) for the rest of the test."""
    from toxdb import access

    me = access.Person(identity=user, role=role, sites=(site,) if site else ())
    monkeypatch.setattr(access, "acting_person", lambda trial=None: me)

def test_marking_everything_shown_then_a_correction_reopens_only_that_record(loaded_store, tmp_path, monkeypatch):
    as_(monkeypatch, "dr-pi", "investigator")
    before = status(loaded_store)
    assert len(before) == 3 and not before["reviewed"].any()
    shown = before[before["site"] == "SITE-A"]          # the conftest AEs are all SITE-A patients
    assert mark_reviewed(loaded_store, shown) == 3
    after = status(loaded_store)
    assert after["reviewed"].all() and set(after["reviewed_by"]) == {"dr-pi"}
    assert mark_reviewed(loaded_store, after) == 0        # nothing marked twice
    assert (loaded_store.audit_log()["action"] == "review").sum() == 3

    # P-001 AE-1's grade is corrected from 2 to 3: a new version, unreviewed again
    corrected = "subject_id,ae_ref,term,grade,onset_date,end_date,serious,attribution\n" \
                "P-001,AE-1,Diarrhea,3,2025-06-25,2025-06-30,N,probable\n"
    outcomes = import_paths(loaded_store, [write(tmp_path / "ae_fix.csv", corrected)], "coord")
    assert outcomes[0].counts.corrections == 1
    now = status(loaded_store)
    assert now.loc[~now["reviewed"], "label"].tolist() == ["Diarrhea grade 3, onset 2025-06-25"]
    per_patient = compute_unreviewed_counts(now, "subject_id").set_index("subject_id")
    assert per_patient.loc["P-001", ["records", "reviewed", "unreviewed"]].tolist() == [2, 1, 1]
    assert per_patient.loc["P-002", "unreviewed"] == 0
    per_site = compute_unreviewed_counts(now, "site").set_index("site")
    assert per_site.loc["SITE-A", "unreviewed"] == 1


def test_review_needs_the_permission_and_writes_nothing_otherwise(loaded_store, monkeypatch):
    as_(monkeypatch, "coord", "coordinator", "SITE-A")
    n = len(loaded_store.audit_log())
    with pytest.raises(ReviewRefused, match="review"):
        mark_reviewed(loaded_store, status(loaded_store))
    assert read_reviews(loaded_store).empty and len(loaded_store.audit_log()) == n


def test_a_mark_of_an_old_version_does_not_count():
    records = pd.DataFrame({"kind": ["ae"], "record_key": ["k"], "version": ["2"], "site": ["A"]})
    reviews = pd.DataFrame({"kind": ["ae"], "record_key": ["k"], "version": ["1"], "reviewed_by": ["x"],
                            "reviewed_at": pd.to_datetime(["2026-01-01"])})
    assert not derive_review_status(records, reviews)["reviewed"].any()
    assert derive_review_status(records, reviews.assign(version="2"))["reviewed"].all()


def test_filters_choose_what_is_shown():
    from toxdb.review import filter_review

    status = pd.DataFrame({"kind": ["ae", "ae", "lab_query", "ae"], "site": ["A", "B", "A", "A"],
                           "subject_id": ["P1", "P2", "P1", "P3"], "reviewed": [False, False, False, True]})
    assert filter_review(status).index.tolist() == [0, 1, 2, 3]
    assert filter_review(status, kinds=["ae"], sites=["A"]).index.tolist() == [0, 3]
    assert filter_review(status, subjects=["P1"], only_unreviewed=True).index.tolist() == [0, 2]
    assert filter_review(status, kinds=["ae"], only_unreviewed=True).index.tolist() == [0, 1]
