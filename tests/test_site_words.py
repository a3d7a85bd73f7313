"""Issue 10: site files in the words sites really use. Every row is stored, rejected with a reason,
or stored with a flag that raises a query to the site (D50)."""
import datetime as dt

from toxdb.clinical import ctcae
from toxdb.ingest.upload import commit_upload, prepare_upload

TODAY = dt.date(2026, 11, 23)


def _plan(store, text, name="ae.csv", **kw):
    return prepare_upload(store, text.encode("utf-8"), name, today=TODAY, **kw)


def _rejected(plan):
    p = plan.validation.problems
    return p[p["status"] == "rejected"]


# -- 1. stored with a flag -----------------------------------------------------------------------

def test_grade_the_term_does_not_have_is_stored_as_recorded_flagged_and_queried(loaded_store):
    # CTCAE v5: Nausea has grades 1-3 only, ALT increased 1-4; Fatigue 3 exists
    assert 4 not in ctcae.allowed_grades("Nausea") and 5 not in ctcae.allowed_grades("Alanine aminotransferase increased")
    text = ("subject_id,term,grade,onset_date\nP-001,Nausea,4,2025-06-22\n"
            "P-001,Alanine aminotransferase increased,5,2025-06-23\nP-001,Fatigue,3,2025-06-24\n"
            "P-001,Nausea,6,2025-06-25\n")
    plan = _plan(loaded_store, text, "site_ae.csv")
    assert _rejected(plan)["source_row"].tolist() == [5]          # only a grade outside 1-5 is refused
    assert plan.summary["flagged"] == 2 and plan.summary["new"] == 3
    counts = commit_upload(loaded_store, plan, "t")
    assert (counts.accepted, counts.rejected, counts.flagged) == (3, 1, 2)
    stored = loaded_store.read_kind("ae").set_index(["term", "grade"])
    assert ("Nausea", 4) in stored.index and ("Alanine aminotransferase increased", 5) in stored.index
    assert "confirm the grade" in stored.loc[("Nausea", 4), "flags"]
    flags = loaded_store.flags(counts.upload_id)
    assert flags["source_row"].tolist() == [2, 3]
    assert set(flags["code"]) == {"grade_not_allowed"}
    assert flags["message"].iloc[0].startswith("Nausea: grade 4 does not exist in CTCAE v5.0 (allowed: 1–3)")
    assert flags["column_name"].iloc[0] == "grade" and flags["value"].iloc[0] == "4"
    assert loaded_store.status_counts()["flagged_rows"] == 2
    # the same file again stores nothing new and raises no second query
    again = commit_upload(loaded_store, _plan(loaded_store, text + "\n", "site_ae_again.csv"), "t")
    assert again.flagged == 0 and len(loaded_store.flags()) == 2


def test_flags_of_a_site_are_listed_for_that_site_only(loaded_store):
    text = "subject_id,term,grade,onset_date\nP-001,Nausea,4,2025-06-22\n"
    commit_upload(loaded_store, _plan(loaded_store, text, site="SITE-A"), "t")
    assert len(loaded_store.flags(site="SITE-A")) == 1
    assert len(loaded_store.flags(site="SITE-B")) == 0
