"""Site scoping (D64): a store seen through Store.scoped(sites) gives only those sites' patients to
every read, so every derivation and export is scoped; a coordinator's upload rejects other sites'
rows with that reason."""
from __future__ import annotations

import argparse
import datetime as dt

import pytest
from conftest import AE_CSV, PATIENTS_CSV, write

from toxdb.cli.export import EXPORTS, register
from toxdb.ingest.upload import commit_upload, import_paths, prepare_upload
from toxdb.store.cuts import DataCut, load_snapshot
from toxdb.store.queries import insert_query

pytestmark = pytest.mark.unit
TODAY = dt.date(2026, 11, 23)
LAB_CSV = ("subject_id,collected_on,test,value,unit,lln,uln\n"
           "P-001,2025-06-20,ALT,200,U/L,7,40\nP-003,2026-11-15,ALT,300,U/L,7,40\n")


@pytest.fixture
def two_sites(loaded_store, tmp_path):
    s = loaded_store
    import_paths(s, [write(tmp_path / "ae_b.csv", "subject_id,ae_ref,term,grade,onset_date,serious\n"
                                                  "P-003,AE-1,Vomiting,3,2025-08-01,Y\n"),
                     write(tmp_path / "labs.csv", LAB_CSV),
                     write(tmp_path / "tr_b.csv", "subject_id,treatment,phase,cycle,start_date,end_date,dose,dose_unit\n"
                                                  "P-003,S-1,maintenance,1,2026-11-10,,60,mg\n")], "tester")
    s.acknowledge_advice("P-003", "S-1", "rule.x", "h", None, "pi")
    s.acknowledge_advice("P-001", "capecitabine", "rule.y", "h", None, "pi")
    return s


def test_every_kind_is_read_for_the_sites_in_scope_only(two_sites):
    a = two_sites.scoped(["SITE-A"])
    snap = load_snapshot(a, DataCut(TODAY))
    for name in ("patients", "treatment", "adverse_events", "labs"):
        assert set(getattr(snap, name)["subject_id"]) <= {"P-001", "P-002"}, name
    assert set(snap.patients["subject_id"]) == {"P-001", "P-002"}
    assert set(a.read_kind("ae", with_history=True)["subject_id"]) == {"P-001", "P-002"}
    assert set(a.acknowledgements()["subject_id"]) == {"P-001"}
    full = load_snapshot(two_sites, DataCut(TODAY))
    assert "P-003" in set(full.adverse_events["subject_id"])             # the base store sees everyone
    assert a.sites() == ["SITE-A"] and two_sites.scoped(None) is two_sites


def test_the_scope_is_part_of_the_data_version(two_sites):
    versions = {two_sites.data_version(), two_sites.scoped(["SITE-A"]).data_version(),
                two_sites.scoped(["SITE-B"]).data_version()}
    assert len(versions) == 3


def test_uploads_raw_files_and_rejects_of_other_sites_are_not_offered(store, tmp_path):
    import_paths(store, [write(tmp_path / "p.csv", PATIENTS_CSV)], "dm")
    bad = "subject_id,ae_ref,term,grade,onset_date\nP-00{n},AE-9,Nausea,9,2025-08-01\n"
    for site, n in (("SITE-A", 1), ("SITE-B", 3)):
        plan = prepare_upload(store, bad.format(n=n).encode(), f"ae_{site}.csv", site=site, today=TODAY)
        commit_upload(store, plan, "dm")
    a = store.scoped(["SITE-A"])
    ids = dict(zip(store.uploads()["file_name"], store.uploads()["upload_id"]))
    assert a.uploads()["file_name"].tolist() == ["ae_SITE-A.csv"]
    assert a.upload_raw(int(ids["ae_SITE-B.csv"])) is None and a.upload_raw(int(ids["ae_SITE-A.csv"])) is not None
    assert a.rejected_rows()["file_name"].tolist() == ["ae_SITE-A.csv"]
    log = a.audit_log()
    assert all("SITE-B" not in d for d in log["detail"]) and any("SITE-A" in d for d in log["detail"])


def _args(kind: str, **extra) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    argv = ["export", kind] + sum(([f"--{k}", str(v)] for k, v in extra.items()), [])
    return parser.parse_args(argv + (["--cut", "2026-11-23"] if EXPORTS[kind].uses_cut else []))


@pytest.mark.parametrize("kind", list(EXPORTS))
def test_every_export_of_a_scoped_store_holds_no_other_site_patient(two_sites, tmp_path, kind):
    # a rejected row for each site, so the rejects export has something of both
    for site, n in (("SITE-A", 1), ("SITE-B", 3)):
        text = f"subject_id,ae_ref,term,grade,onset_date\nP-00{n},AE-7,Nausea,9,2025-08-01\n"
        commit_upload(two_sites, prepare_upload(two_sites, text.encode(), f"r_{site}.csv", site=site, today=TODAY), "dm")
    # a flagged row (Nausea has no grade 4, D50) and a query to the site for each site
    for site, n in (("SITE-A", 1), ("SITE-B", 3)):
        text = f"subject_id,ae_ref,term,grade,onset_date\nP-00{n},AE-8,Nausea,4,2025-08-02\n"
        commit_upload(two_sites, prepare_upload(two_sites, text.encode(), f"f_{site}.csv", site=site, today=TODAY), "dm")
        insert_query(two_sites, kind="patients", record_key=f"P-00{n}", subject_id=f"P-00{n}", site=site,
                     record_label=f"P-00{n}", source="manual", text="Please check the enrolment date.", user="pi",
                     role="investigator")
    args = _args(kind)
    scoped = EXPORTS[kind].build(two_sites.scoped(["SITE-A"]), args).astype(str).to_csv(index=False)
    everyone = EXPORTS[kind].build(two_sites, args).astype(str).to_csv(index=False)
    assert "P-003" not in scoped
    if kind != "incidence":              # incidence is counts by term: no patient ids in it at all
        assert "P-003" in everyone                                # the check can fail
    if kind not in ("incidence", "advice"):                       # SITE-A has no one on treatment now
        assert "P-001" in scoped


def test_a_coordinators_upload_rejects_other_sites_rows_with_that_reason(loaded_store):
    a = loaded_store.scoped(["SITE-A"])
    ae = AE_CSV + "P-003,AE-9,Nausea,1,2025-08-01,,N,possible\n"
    plan = prepare_upload(a, ae.encode(), "ae2.csv", site="SITE-A", allowed_sites=("SITE-A",), today=TODAY)
    reasons = plan.validation.problems.set_index("source_row")["reasons"]
    assert reasons[5] == ("ae2.csv, row 5, column 'subject_id' = 'P-003': this patient is enrolled at site "
                          "SITE-B; you may upload for your own site(s) only (SITE-A)")
    patients = PATIENTS_CSV + "P-004,SITE-B,2025-07-15,F,68,160,58,1.1,mg/dL,S-1\n"
    plan = prepare_upload(a, patients.encode(), "p2.csv", site="SITE-A", allowed_sites=("SITE-A",), today=TODAY)
    rejected = plan.validation.problems[plan.validation.problems["status"] == "rejected"]
    assert sorted(rejected["source_row"]) == [4, 5]             # P-003 (SITE-B) and the new SITE-B patient
    assert "the row is for site SITE-B; you may upload for your own site(s) only (SITE-A)" in rejected["reasons"].iloc[1]
    counts = commit_upload(a, plan, "coord")
    assert counts.rejected == 2                                 # the rest of the file still loads (duplicates)
    assert set(loaded_store.read_kind("patients")["site"]) == {"SITE-A", "SITE-B"}
    assert loaded_store.read_kind("patients").set_index("subject_id").loc["P-003", "site"] == "SITE-B"
