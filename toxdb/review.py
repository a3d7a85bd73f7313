"""Record review: the PI or medical monitor marks each adverse event (and each lab-vs-AE query) reviewed.

Rules (docs/decisions.md D77, D78):

* A mark belongs to one version of one record (``record_key`` + ``version``). A correction stores a new
  version, so the record is unreviewed again until someone marks the new version; the old mark stays in
  the store and the audit log. A lab-vs-AE query's version is a fingerprint of what it says
  (``toxdb.queries.lab_query_version``).
* Marking needs the ``review`` permission for the record's site (``toxdb.permissions.allowed``); records
  already reviewed in their current version are not marked twice. Every mark is an audit-log row.

Public API
----------
ae_review_records(ae, patients)          -> kind, record_key, version, subject_id, site, label (one per AE row)
derive_review_status(records, reviews)   -> records + reviewed, reviewed_by, reviewed_at
compute_unreviewed_counts(status, by)    -> per site or patient: records, reviewed, unreviewed
filter_review(status, kinds, sites, subjects, only_unreviewed) -> the records a view shows
mark_reviewed(store, records, trial=None) -> how many records were marked
"""
from __future__ import annotations

import pandas as pd

from toxdb.i18n import _
from toxdb.permissions import allowed, current_user

__all__ = [
    "ReviewRefused",
    "ae_review_records",
    "compute_unreviewed_counts",
    "derive_review_status",
    "filter_review",
    "mark_reviewed",
]


class ReviewRefused(PermissionError):
    """The person acting may not mark these records reviewed; the message says why."""


def ae_review_records(ae: pd.DataFrame, patients: pd.DataFrame) -> pd.DataFrame:
    """Adverse-event rows (read with version columns) as reviewable records, with the patient's site."""
    sites = dict(zip(patients["subject_id"].astype(str), patients["site"]))
    sid = ae["subject_id"].astype(str)
    onset = pd.to_datetime(ae["onset_date"]).dt.strftime("%Y-%m-%d")
    label = [_("{term} grade {grade}, onset {onset}").format(term=t, grade=g, onset=o)
             for t, g, o in zip(ae["term"].astype(str), ae["grade"], onset)]
    return pd.DataFrame({"kind": "ae", "record_key": ae["record_key"].astype(str).to_numpy(),
                         "version": ae["version"].astype(int).astype(str).to_numpy(), "subject_id": sid.to_numpy(),
                         "site": sid.map(sites).to_numpy(), "label": label})


def derive_review_status(records: pd.DataFrame, reviews: pd.DataFrame) -> pd.DataFrame:
    """``records`` (kind, record_key, version) + reviewed / reviewed_by / reviewed_at: the latest mark of
    exactly this version; a mark of an earlier version does not count."""
    out = records.reset_index(drop=True)
    keys = ["kind", "record_key", "version"]
    if reviews is None or not len(reviews):
        return out.assign(reviewed=False, reviewed_by=pd.Series(None, index=out.index, dtype=object),
                          reviewed_at=pd.Series(pd.NaT, index=out.index, dtype="datetime64[ns]"))
    marks = reviews.assign(**{k: reviews[k].astype(str) for k in keys}).sort_values("reviewed_at", kind="stable")
    marks = marks.drop_duplicates(keys, keep="last")[[*keys, "reviewed_by", "reviewed_at"]]
    merged = out.assign(**{k: out[k].astype(str) for k in keys}).merge(marks, on=keys, how="left",
                                                                          validate="many_to_one")
    merged["reviewed"] = merged["reviewed_at"].notna()
    return merged


def compute_unreviewed_counts(status: pd.DataFrame, by: str = "site") -> pd.DataFrame:
    """Per ``by`` (site or subject_id): records, reviewed, unreviewed; most unreviewed first."""
    if not len(status):
        return pd.DataFrame(columns=[by, "records", "reviewed", "unreviewed"])
    g = status.assign(**{by: status[by].fillna("-")}).groupby(by)["reviewed"]
    out = pd.DataFrame({"records": g.size(), "reviewed": g.sum().astype(int)})
    out["unreviewed"] = out["records"] - out["reviewed"]
    return out.reset_index().sort_values(["unreviewed", by], ascending=[False, True], kind="stable",
                                         ignore_index=True)


def filter_review(status: pd.DataFrame, kinds=None, sites=None, subjects=None,
                  only_unreviewed: bool = False) -> pd.DataFrame:
    """The records of the chosen kinds, sites and patients (None or empty: all); only the unreviewed ones
    when asked."""
    keep = pd.Series(True, index=status.index)
    for column, chosen in (("kind", kinds), ("site", sites), ("subject_id", subjects)):
        if chosen:
            keep &= status[column].isin(list(chosen))
    if only_unreviewed:
        keep &= ~status["reviewed"].astype(bool)
    return status[keep]


def mark_reviewed(store, records: pd.DataFrame, trial=None) -> int:
    """Mark ``records`` (kind, record_key, version, subject_id, site, and optionally ``reviewed``) reviewed
    by the person acting; those already reviewed in this version are skipped. Returns how many were marked."""
    from toxdb.store.queries import insert_reviews

    todo = records[~records["reviewed"].astype(bool)] if "reviewed" in records else records
    refused = sorted({str(s) for s in todo["site"].dropna().unique() if not allowed("review", s, trial)})
    if len(todo) and (refused or not allowed("review", None, trial)):
        raise ReviewRefused(_("{user} may not mark records reviewed{sites}: it needs the 'review' permission "
                              "(trial.toml [roles]).").format(
            user=current_user(), sites=(" (" + ", ".join(refused) + ")") if refused else ""))
    return insert_reviews(store, todo, current_user())
