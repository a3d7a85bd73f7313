"""CTCAE v5.0 against v6.0 for the trial's lab values: which values and which patients change grade.

Every lab value is graded under both versions at once (``derive_lab_grades`` gives grade_v5 and
grade_v6, each against the patient's baseline where the version asks for one), so the comparison
needs no second reading of the data. A value is *on treatment* when its date falls in the
concurrent or maintenance phase by the same rule as an adverse event's onset
(``derive_ae_phase``, docs/clinical-rules.md section 2); it is *new* under a version when it is
graded above the worst grade the patient had for that CTCAE term before the first treatment (the
AE rule for a worsening, D8).

Public API
----------
derive_lab_version_rows(snapshot, trial) -> one row per graded lab value, both versions, phase, new_v5/new_v6
compute_lab_version_changes(snapshot, trial) -> LabVersionChanges (.table values, .patients, .summary)
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from toxdb.clinical.events import derive_ae_phase
from toxdb.clinical.labs import derive_lab_grades_with_baselines, lab_grade_columns
from toxdb.clinical.treatment import derive_treatment_milestones

__all__ = ["VALUE_COLUMNS", "PATIENT_COLUMNS", "LabVersionChanges", "derive_lab_version_rows",
           "compute_lab_version_changes"]

VERSIONS = ("5.0", "6.0")
ROW_COLUMNS = ["subject_id", "site", "collected_on", "test", "test_code", "value", "unit", "si_value", "si_unit",
               "term_v5", "grade_v5", "term_v6", "grade_v6", "phase", "on_treatment", "new_v5", "new_v6"]
VALUE_COLUMNS = ["subject_id", "site", "collected_on", "test_code", "value", "unit", "si_value", "si_unit",
                 "phase", "term_v5", "grade_v5", "term_v6", "grade_v6", "change"]
PATIENT_COLUMNS = ["subject_id", "site", "test_code", "worst_v5", "worst_v6", "change"]


@dataclass
class LabVersionChanges:
    table: pd.DataFrame            # VALUE_COLUMNS: every lab value whose grade differs between the versions
    patients: pd.DataFrame         # PATIENT_COLUMNS: per patient and test, worst on-treatment grade that differs
    summary: dict = field(default_factory=dict)


def _empty(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})


def _site_of(snapshot, subjects: pd.Series) -> pd.Series:
    patients = snapshot.patients
    if patients is None or "site" not in patients.columns:
        return pd.Series(pd.NA, index=subjects.index, dtype="string")
    lookup = patients.drop_duplicates("subject_id").set_index(patients.drop_duplicates("subject_id")["subject_id"]
                                                              .astype(str))["site"]
    return pd.Series(lookup.reindex(subjects.astype(str).to_numpy()).to_numpy(), index=subjects.index,
                     dtype="string")


def _new_under(rows: pd.DataFrame, milestones: pd.DataFrame, window_days: int, version: str) -> pd.DataFrame:
    """Phase and 'new' (on treatment, above the pre-treatment worst of the term) under one version."""
    cols = lab_grade_columns(version)
    frame = pd.DataFrame({
        "subject_id": rows["subject_id"].astype(str).to_numpy(),
        "term": rows[cols["ctcae_term"]].astype(object).fillna("").to_numpy(),
        "grade": pd.to_numeric(rows[cols["grade"]], errors="coerce").astype(float).fillna(0).to_numpy(),
        "onset_date": pd.to_datetime(rows["collected_on"]).to_numpy(),
    }, index=rows.index)
    phased = derive_ae_phase(frame, milestones, window_days)
    grade = frame["grade"].to_numpy()
    base = pd.to_numeric(phased["baseline_grade"]).astype(float).to_numpy()
    on = phased["treatment_emergent"].to_numpy(dtype=bool)
    new = on & (grade > 0) & (np.isnan(base) | (grade > np.nan_to_num(base, nan=0.0)))
    return pd.DataFrame({"phase": phased["phase"].astype(str).to_numpy(), "on": on, "new": new}, index=rows.index)


def derive_lab_version_rows(snapshot, trial) -> pd.DataFrame:
    """One row per lab value up to the cut that either version can grade (ROW_COLUMNS): its grade and
    CTCAE term under v5.0 and v6.0, its phase, and whether it is a new on-treatment grade under each
    version (``new_v5``, ``new_v6``)."""
    labs = snapshot.labs
    if labs is None or len(labs) == 0:
        return _empty(ROW_COLUMNS)
    cut = pd.Timestamp(snapshot.cut.cut_date)
    labs = labs.loc[(pd.to_datetime(labs["collected_on"]).dt.normalize() <= cut).to_numpy()].reset_index(drop=True)
    milestones = derive_treatment_milestones(snapshot.treatment, snapshot.cut.cut_date)
    graded = derive_lab_grades_with_baselines(labs, milestones[["subject_id", "first_treatment"]])
    graded = graded.loc[graded["test_code"].notna() & graded["si_value"].notna()].reset_index(drop=True)
    if graded.empty:
        return _empty(ROW_COLUMNS)
    window = int(trial.phases.post_treatment_window_days)
    v5 = _new_under(graded, milestones, window, "5.0")
    v6 = _new_under(graded, milestones, window, "6.0")
    c5, c6 = lab_grade_columns("5.0"), lab_grade_columns("6.0")
    out = pd.DataFrame({
        "subject_id": graded["subject_id"].astype(str),
        "site": _site_of(snapshot, graded["subject_id"]),
        "collected_on": pd.to_datetime(graded["collected_on"]).dt.normalize(),
        "test": graded["test"].astype(object),
        "test_code": graded["test_code"].astype(object),
        "value": pd.to_numeric(graded["value"], errors="coerce"),
        "unit": graded["unit"].astype(object) if "unit" in graded else None,
        "si_value": pd.to_numeric(graded["si_value"]).astype(float),
        "si_unit": graded["si_unit"].astype(object),
        "term_v5": graded[c5["ctcae_term"]].astype(object),
        "grade_v5": graded[c5["grade"]].astype("Int64"),
        "term_v6": graded[c6["ctcae_term"]].astype(object),
        "grade_v6": graded[c6["grade"]].astype("Int64"),
        "phase": v5["phase"],
        "on_treatment": v5["on"],
        "new_v5": v5["new"],
        "new_v6": v6["new"],
    })
    return out[ROW_COLUMNS]


def _change(v5: pd.Series, v6: pd.Series) -> pd.Series:
    a, b = v5.fillna(-1).astype(int), v6.fillna(-1).astype(int)
    return pd.Series(np.where(b > a, "higher under v6", "lower under v6"), index=v5.index, dtype=object)


def compute_lab_version_changes(snapshot, trial) -> LabVersionChanges:
    """The lab values whose grade differs between CTCAE v5.0 and v6.0 (every value up to the cut),
    and per patient and test the worst on-treatment grade under each version where they differ."""
    rows = derive_lab_version_rows(snapshot, trial)
    differs = rows["grade_v5"].fillna(-1).astype(int) != rows["grade_v6"].fillna(-1).astype(int)
    values = rows.loc[differs.to_numpy()].copy()
    values["change"] = _change(values["grade_v5"], values["grade_v6"])
    values = values.sort_values(["subject_id", "collected_on", "test_code"], kind="stable").reset_index(drop=True)

    on = rows.loc[rows["on_treatment"].to_numpy(dtype=bool)]
    worst = (on.groupby(["subject_id", "test_code"], sort=True)
             .agg(site=("site", "first"), worst_v5=("grade_v5", "max"), worst_v6=("grade_v6", "max"))
             .reset_index())
    worst = worst.loc[(worst["worst_v5"].fillna(-1).astype(int) != worst["worst_v6"].fillna(-1).astype(int))
                      .to_numpy()].copy()
    worst["change"] = _change(worst["worst_v5"], worst["worst_v6"])
    worst = worst[PATIENT_COLUMNS].reset_index(drop=True)

    ge3 = {v: set(on.loc[(on[f"grade_v{v[0]}"].fillna(0) >= 3).to_numpy(), "subject_id"]) for v in VERSIONS}
    summary = {
        "values_graded": len(rows),
        "values_changed": len(values),
        "values_higher_v6": int((values["change"] == "higher under v6").sum()),
        "values_lower_v6": int((values["change"] == "lower under v6").sum()),
        "patients_changed": int(worst["subject_id"].nunique()),
        "patients_ge3_v5": len(ge3["5.0"]),
        "patients_ge3_v6": len(ge3["6.0"]),
        "version_of_record": str(trial.ctcae.version),
    }
    return LabVersionChanges(values[VALUE_COLUMNS], worst, summary)
