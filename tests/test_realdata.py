"""Real public files that nobody on the team wrote, loaded as a new user would (skipped when absent)."""
import pytest
from conftest import SHARED

from toxdb.ingest.upload import import_paths

PILOT = SHARED / "realdata" / "cdiscpilot01_sdtm"
pytestmark = pytest.mark.skipif(not PILOT.exists(), reason="shared/realdata is not beside this checkout")


def test_cdisc_pilot_every_ae_row_is_stored_or_rejected_with_a_reason(store):
    out = import_paths(store, [PILOT / "dm.xpt", PILOT / "ex.xpt", PILOT / "ae.xpt", PILOT / "lb.csv"], "new-user")
    assert all(o.error is None for o in out), [o.message for o in out]
    ae = next(o for o in out if o.plan.kind == "ae")
    c = ae.counts
    assert c.accepted + c.rejected + c.duplicates == len(ae.plan.table.data) == 1191   # none lost
    stored = store.read_kind("ae")
    assert len(stored) == c.accepted
    assert set(stored["grade_source"]) == {"severity"}            # AESEV-only grades are flagged
    assert stored["flags"].str.contains("severity").all()
    rejected = store.rejected_rows(c.upload_id)
    assert len(rejected) == c.rejected and rejected["reasons"].str.len().min() > 20


@pytest.mark.parametrize("folder, file, kind", [
    ("uhn_oncology_ae", "ae.csv", "ae"),
    ("oxford_robusttoxicities", "Fake_data_time.csv", "ae"),
])
def test_other_public_ae_listings_read_and_map(store, folder, file, kind):
    from toxdb.ingest.mapping import detect_kind, map_columns
    from toxdb.ingest.readers import read_path
    table, _ = read_path(SHARED / "realdata" / folder / file)
    assert detect_kind(table) == kind
    assert map_columns(table, kind).missing_required == []
