"""Loading small CSV uploads into a store at chosen times, for tests that compare data cuts."""
import datetime as dt

from conftest import AE_CSV, PATIENTS_CSV, TREATMENT_CSV

from toxdb.ingest.upload import prepare_upload

T1 = dt.datetime(2025, 8, 1, 10, 0)


def load_at(store, text: str, name: str, kind: str, at: dt.datetime, user: str = "tester"):
    """One upload stored as if made at ``at`` (the import path with the time fixed)."""
    plan = prepare_upload(store, text.encode(), name, kind=kind)
    v = plan.validation
    assert len(v.problems[v.problems["status"] == "rejected"]) == 0, v.problems["reasons"].tolist()
    return store.commit_upload(kind=plan.kind, file_name=name, raw=plan.raw, sha256=plan.sha256, uploaded_by=user,
                               site=plan.site, reader=plan.table.reader, day_first=v.day_first,
                               mapping=plan.mapping.as_source_map(), rows=v.rows, problems=v.problems,
                               n_rows=len(plan.table.data), at=at)


def load_base(store, at: dt.datetime = T1) -> None:
    """The conftest trial (3 patients, 4 treatment rows, 3 AEs) stored at ``at``."""
    load_at(store, PATIENTS_CSV, "patients.csv", "patients", at)
    load_at(store, TREATMENT_CSV, "treatment.csv", "treatment", at)
    load_at(store, AE_CSV, "ae.csv", "ae", at)
