"""The trial at a glance: enrolment and treatment status by site, adverse events by grade.

"On treatment" is the one rule of toxdb.clinical.treatment (decision D10), the same the Patient page
and the dose advice use.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from toxdb.clinical.treatment import derive_treatment_status
from toxdb.i18n import _
from toxdb.store.cuts import Snapshot
from toxdb.vocab import KIND_LABELS

GRADES = [1, 2, 3, 4, 5]


@dataclass
class OverviewResult:
    table: pd.DataFrame               # one row per site (+ an "All sites" row)
    ae_by_grade: pd.DataFrame         # site, grade, events, patients (worst grade per patient)
    summary: dict = field(default_factory=dict)


def derive_patient_status(snapshot: Snapshot, phases) -> pd.DataFrame:
    """Add started / on_treatment / off_treatment / died columns to the patients as of the cut.

    ``phases``: the trial file's [phases] section, which the on-treatment rule (D10) reads."""
    status = derive_treatment_status(snapshot.patients, snapshot.treatment, snapshot.cut.cut_date, phases)
    cols = ["subject_id", "started", "on_treatment", "off_treatment", "died"]
    pts = snapshot.patients.assign(subject_id=snapshot.patients["subject_id"].astype(str))
    return pts.merge(status[cols], on="subject_id", how="left")


def compute_overview(snapshot: Snapshot, phases) -> OverviewResult:
    """Enrolment, treatment status and adverse events per site (and all sites) at the snapshot's cut."""
    pts = derive_patient_status(snapshot, phases)
    pts["site"] = pts["site"].fillna("(no site)")
    by_site = pts.groupby("site").agg(
        enrolled=("subject_id", "nunique"),
        started_treatment=("started", "sum"),
        on_treatment=("on_treatment", "sum"),
        off_treatment=("off_treatment", "sum"),
        died=("died", "sum"),
    )
    ae = snapshot.adverse_events.merge(pts[["subject_id", "site"]], on="subject_id", how="left")
    ae["site"] = ae["site"].fillna("(no site)")
    events = ae.groupby("site").agg(ae_rows=("term", "size"), serious=("serious", lambda s: int(s.fillna(False).sum())))
    worst = ae.groupby(["site", "subject_id"])["grade"].max().reset_index()
    g3 = worst[worst["grade"] >= 3].groupby("site")["subject_id"].nunique().rename("patients_grade_3_plus")
    table = by_site.join(events, how="left").join(g3, how="left").fillna(0).astype(int).reset_index()
    total = table.drop(columns="site").sum().to_frame().T.assign(site=_("All sites"))
    table = pd.concat([table, total[table.columns]], ignore_index=True)
    rows = []
    for (site, grade), grp in ae.groupby(["site", "grade"]):
        rows.append({"site": site, "grade": int(grade), "events": len(grp)})
    by_grade = pd.DataFrame(rows, columns=["site", "grade", "events"])
    worst_counts = worst.groupby(["site", "grade"]).size().rename("patients").reset_index()
    by_grade = by_grade.merge(worst_counts, on=["site", "grade"], how="left").fillna({"patients": 0})
    summary = {
        "cut_date": snapshot.cut.cut_date,
        "patients": int(pts["subject_id"].nunique()),
        "sites": int(pts["site"].nunique()),
        "on_treatment": int(pts["on_treatment"].sum()),
        "ae_rows": int(len(ae)),
        "serious": int(ae["serious"].fillna(False).sum()) if len(ae) else 0,
        "patients_grade_3_plus": int((worst["grade"] >= 3).sum()),
        "deaths": int(pts["died"].sum()),
    }
    return OverviewResult(table, by_grade, summary)


def describe_latest_upload(uploads: pd.DataFrame) -> str | None:
    if uploads.empty:
        return None
    u = uploads.iloc[-1]
    when = pd.Timestamp(u["uploaded_at"]).strftime("%Y-%m-%d %H:%M")
    return _("#{upload} {file} ({kind}) by {who} on {when}: {accepted} accepted, {corrected} corrected, "
             "{duplicates} duplicates, {rejected} rejected").format(
        upload=u["upload_id"], file=u["file_name"], kind=_(KIND_LABELS.get(u["kind"], u["kind"])), who=u["uploaded_by"],
        when=when, accepted=u["n_accepted"], corrected=u["n_corrections"], duplicates=u["n_duplicates"],
        rejected=u["n_rejected"])
