"""What the committee report reads, once: the snapshot of a cut, its derived events and statuses.

Every number of the report comes from the existing derivations (toxdb.clinical, toxdb.monitoring,
toxdb.dosing) applied to this one snapshot, so that the report and the pages agree.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from toxdb.clinical.events import DerivedEvents, derive_snapshot_events
from toxdb.clinical.treatment import derive_treatment_phase, prepare_treatment_log
from toxdb.reports.overview import derive_patient_status
from toxdb.store.cuts import DataCut, Snapshot, load_snapshot
from toxdb.store.db import Store


@dataclass
class ReportInputs:
    store: Store
    trial: object
    cut: DataCut
    snapshot: Snapshot
    derived: DerivedEvents
    patients: pd.DataFrame        # patients + started / on_treatment / off_treatment / died (D10)
    treatment: pd.DataFrame       # treatment rows started by the cut, with phase_derived (D2)
    log: pd.DataFrame             # prepare_treatment_log: the log as the status rule reads it
    uploads: pd.DataFrame

    @property
    def cut_ts(self) -> pd.Timestamp:
        return pd.Timestamp(self.cut.cut_date)

    def site_of(self) -> dict[str, str]:
        p = self.patients
        return dict(zip(p["subject_id"].astype(str), p["site"].astype(object).where(p["site"].notna(), "")))


def read_report_inputs(store: Store, cut: DataCut, trial) -> ReportInputs:
    snapshot = load_snapshot(store, cut)
    derived = derive_snapshot_events(snapshot, int(trial.phases.post_treatment_window_days))
    patients = derive_patient_status(snapshot, trial.phases)
    patients["subject_id"] = patients["subject_id"].astype(str)
    tr = snapshot.treatment
    tr = tr[pd.to_datetime(tr["start_date"]) <= pd.Timestamp(cut.cut_date)]
    treatment = derive_treatment_phase(tr.reset_index(drop=True)) if len(tr) else tr.assign(phase_derived=None)
    treatment["subject_id"] = treatment["subject_id"].astype(str)
    return ReportInputs(store, trial, cut, snapshot, derived, patients, treatment,
                        prepare_treatment_log(snapshot.treatment, cut.cut_date), store.uploads())
