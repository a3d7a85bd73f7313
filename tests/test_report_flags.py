"""The committee report counts the adverse-event rows stored with a flag (issue 10 item 2: "the
committee sees how many such rows there are"), by site and reason, as they stand in the cut."""
from __future__ import annotations

import datetime as dt

import pytest
from conftest import PATIENTS_CSV, TREATMENT_CSV, write

from toxdb.ingest.upload import import_paths
from toxdb.reports.committee.data_quality import build_flags
from toxdb.reports.committee.inputs import read_report_inputs
from toxdb.store.cuts import DataCut, resolve_cut, save_cut
from toxdb.trial import load_trial

pytestmark = pytest.mark.unit
HEAD = "subject_id,ae_ref,term,grade,onset_date,serious,attribution\n"
# CTCAE v5 gives alopecia grades 1-2 only, so grade 3 is stored with a flag; P-001 and P-002 are SITE-A,
# P-003 SITE-B (conftest's patients)
FLAGGED = HEAD + ("P-001,X1,Alopecia,3,2025-07-01,N,possible\nP-002,X2,Alopecia,3,2025-07-02,N,possible\n"
                  "P-003,X3,Alopecia,3,2025-07-20,N,possible\nP-003,X4,Nausea,2,2025-07-21,N,possible\n")
CORRECTED = HEAD + "P-002,X2,Alopecia,2,2025-07-02,N,possible\n"


def _table(store, cut):
    frame = build_flags(read_report_inputs(store, cut, load_trial())).frame
    return {row["site"]: int(row["grade_not_allowed"]) for _, row in frame.iterrows()}


def test_flagged_rows_by_site_as_they_stand_in_the_cut(store, tmp_path):
    for name, text, kind in (("p.csv", PATIENTS_CSV, "patients"), ("t.csv", TREATMENT_CSV, "treatment"),
                             ("ae.csv", FLAGGED, "ae")):
        (out,) = import_paths(store, [write(tmp_path / name, text)], "tester", kind=kind)
        assert out.counts is not None, out.message
    day = dt.date(2025, 8, 1)
    assert _table(store, DataCut(day)) == {"SITE-A": 2, "SITE-B": 1, "All sites": 3}
    save_cut(store, "Before the correction", day, "dm", today=day)
    # the site corrects P-002's grade to one CTCAE allows: that row no longer counts, today
    (out,) = import_paths(store, [write(tmp_path / "fix.csv", CORRECTED)], "tester", kind="ae")
    assert out.counts.corrections == 1
    assert _table(store, DataCut(day)) == {"SITE-A": 1, "SITE-B": 1, "All sites": 2}
    # ... but the cut saved before it still reports what the committee saw then
    assert _table(store, resolve_cut(store, "Before the correction", today=day)) == {
        "SITE-A": 2, "SITE-B": 1, "All sites": 3}
