"""The grade >= 3 monitoring path with lab grades added: a labelled sensitivity analysis.

The path of record counts adverse events as the sites reported them (their grades stay as reported).
Under CTCAE v6.0 some lab thresholds moved, so the committee asks what the path would look like if
lab values themselves were counted: here a patient also qualifies on the date of an on-treatment
lab value graded at or above ``[monitoring] grade_min`` that is new for them (above the worst grade
of its CTCAE term before the first treatment, ``toxdb.clinical.lab_versions``). The path is
computed three times, per cohort: AEs as reported; AEs plus lab grades under v5.0; AEs plus lab
grades under v6.0. The same cohorts, boundary and design as the Monitoring page (``compute_monitoring``);
only the qualifying events differ (decision D32).

Public API
----------
derive_lab_qualifying_rows(snapshot, trial, version) -> rows shaped like the AE rows the cohorts read
compute_monitoring_sensitivity(snapshot, trial) -> SensitivityResult (.table, .summary)
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from toxdb.clinical.lab_versions import derive_lab_version_rows
from toxdb.i18n import N_
from toxdb.monitoring.cohorts import derive_monitoring_cohorts
from toxdb.monitoring.status import compute_monitoring
from toxdb.vocab import COHORTS

__all__ = ["ANALYSES", "SENSITIVITY_COLUMNS", "SensitivityResult", "derive_lab_qualifying_rows",
           "compute_monitoring_sensitivity"]

# analysis -> (CTCAE version of the lab grades added, or None, label)
ANALYSES = {
    "reported": (None, N_("AEs as reported (of record)")),
    "labs_v5": ("5.0", N_("AEs + lab values graded by CTCAE v5.0")),
    "labs_v6": ("6.0", N_("AEs + lab values graded by CTCAE v6.0")),
}
SENSITIVITY_COLUMNS = ["phase", "analysis", "n", "x", "boundary_now", "crossed", "first_crossing_n", "sentence"]


@dataclass
class SensitivityResult:
    table: pd.DataFrame              # SENSITIVITY_COLUMNS, one row per cohort and analysis
    summary: dict = field(default_factory=dict)


def derive_lab_qualifying_rows(snapshot, trial, version: str, rows: pd.DataFrame | None = None) -> pd.DataFrame:
    """On-treatment lab values new for the patient and graded >= ``[monitoring] grade_min`` under
    ``version``, in the shape of the AE rows ``derive_monitoring_cohorts`` reads (subject_id, term,
    grade, onset_date, attribution, te, phase). ``rows``: ``derive_lab_version_rows`` when already made."""
    rows = derive_lab_version_rows(snapshot, trial) if rows is None else rows
    v = version[0]
    grade = pd.to_numeric(rows[f"grade_v{v}"], errors="coerce").astype(float)
    keep = (rows[f"new_v{v}"].to_numpy(dtype=bool) & (grade.fillna(0) >= int(trial.monitoring.grade_min))).to_numpy()
    sel = rows.loc[keep]
    return pd.DataFrame({
        "subject_id": sel["subject_id"].astype(object).to_numpy(),
        "term": pd.array(sel[f"term_v{v}"].astype(object).to_numpy(), dtype="string"),
        "grade": grade[keep].to_numpy(),
        "onset_date": pd.to_datetime(sel["collected_on"]).astype("datetime64[us]").to_numpy(),
        "attribution": pd.array([None] * len(sel), dtype="string"),
        "te": np.ones(len(sel), dtype=bool),
        "phase": pd.array(sel["phase"].astype(object).to_numpy(), dtype="string"),
    })


def compute_monitoring_sensitivity(snapshot, trial) -> SensitivityResult:
    """Per cohort (all, concurrent, maintenance) and analysis (``ANALYSES``): patients evaluable (n),
    patients with a qualifying event (x), the boundary at n, whether the path has crossed, and the
    sentence on where it stands."""
    rows = derive_lab_version_rows(snapshot, trial)
    out = []
    crossed_any = {}
    for key, (version, label) in ANALYSES.items():
        extra = None if version is None else derive_lab_qualifying_rows(snapshot, trial, version, rows)
        cohorts = derive_monitoring_cohorts(snapshot, trial, extra_events=extra)
        for phase in COHORTS:
            s = compute_monitoring(snapshot, trial, phase, cohort=cohorts[phase]).summary
            out.append({"phase": phase, "analysis": key, "n": s["n"], "x": s["x"], "boundary_now": s["boundary_now"],
                        "crossed": s["crossed"], "first_crossing_n": s["first_crossing_n"], "sentence": s["sentence"]})
            crossed_any[(key, phase)] = s["crossed"]
    table = pd.DataFrame(out, columns=SENSITIVITY_COLUMNS)
    summary = {
        "labels": {k: label for k, (_, label) in ANALYSES.items()},
        "crossed_reported": any(v for (k, _), v in crossed_any.items() if k == "reported"),
        "crossed_v6": any(v for (k, _), v in crossed_any.items() if k == "labs_v6"),
        "crossed_v5": any(v for (k, _), v in crossed_any.items() if k == "labs_v5"),
        "lab_values_graded": len(rows),
    }
    return SensitivityResult(table, summary)
