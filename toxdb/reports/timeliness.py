"""Site timeliness: whose data are late (decision D72). Per site, as of a data cut:

* days since the site's last new data of each kind (the latest time a row of that kind for one of
  its patients was stored, or an upload named for the site);
* adverse events first stored more than ``ae_entry_max_days`` after onset;
* patients on treatment (D10) with no adverse-event report or no labs in their last cycle (since the
  latest cycle's start, or the RT start without chemotherapy): an AE report is an AE with onset in
  the cycle, or AE data stored for the patient since the cycle began;
* queries open longer than ``query_open_max_days`` (a hook: the counts come from the queries
  workflow when it is there, ``open_queries`` with site and opened_at).

Traffic lights (green / amber / red) per measure and overall (the worst), thresholds in trial.toml
[timeliness].
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from toxdb.vocab import KINDS

LIGHTS = ("green", "amber", "red")
NO_SITE = "(no site)"


@dataclass
class TimelinessResult:
    table: pd.DataFrame          # one row per site
    patients: pd.DataFrame       # patients on treatment with something missing in their last cycle
    history: pd.DataFrame        # site, month, n, median_delay_days, late: AE entry delays by month of entry
    summary: dict = field(default_factory=dict)


def _site_of(patients: pd.DataFrame) -> pd.Series:
    p = patients.assign(subject_id=patients["subject_id"].astype(str)).drop_duplicates("subject_id", keep="last")
    return p.set_index("subject_id")["site"].astype(object).fillna(NO_SITE)


def _worst(*lights: pd.Series) -> pd.Series:
    rank = pd.concat([lt.map({k: i for i, k in enumerate(LIGHTS)}) for lt in lights], axis=1).max(axis=1)
    return rank.map(dict(enumerate(LIGHTS)))


def derive_upload_light(days: pd.Series, amber: int, red: int) -> pd.Series:
    """green up to ``amber`` days since the last new data, amber up to ``red``, red beyond or never."""
    d = days.astype(float)
    return pd.Series(np.where(d.isna() | (d > red), "red", np.where(d > amber, "amber", "green")), index=days.index)


def derive_late_light(late: pd.Series, total: pd.Series, share_red: float) -> pd.Series:
    """green with no late AE entry, amber while the late share is at most ``share_red``, red above."""
    share = late / total.where(total > 0)
    return pd.Series(np.where(late <= 0, "green", np.where(share > share_red, "red", "amber")), index=late.index)


def compute_days_since(activity: dict[str, pd.DataFrame], uploads: pd.DataFrame, sites: pd.Series,
                       now: dt.datetime) -> pd.DataFrame:
    """Per site and kind: whole days from the site's last new data of that kind to ``now``."""
    out = {}
    for kind in KINDS:
        a = activity[kind]
        last = a.assign(site=a["subject_id"].astype(str).map(sites).fillna(NO_SITE)).groupby("site")["last_entered"].max()
        named = uploads[(uploads["kind"] == kind) & uploads["site"].notna() & (pd.to_datetime(uploads["uploaded_at"])
                                                                                 <= pd.Timestamp(now))]
        if len(named):
            last = pd.concat([last, pd.to_datetime(named["uploaded_at"]).groupby(named["site"]).max()]) \
                .groupby(level=0).max()
        out[f"days_since_{kind}"] = (pd.Timestamp(now) - pd.to_datetime(last)).dt.days
    frame = pd.DataFrame(out)
    return frame.reindex(sorted(set(sites.unique()) | set(frame.index)))


def compute_missing_last_cycle(status: pd.DataFrame, activity: dict[str, pd.DataFrame], sites: pd.Series
                               ) -> pd.DataFrame:
    """Patients on treatment with no AE report or no labs since their last cycle began."""
    on = status[status["on_treatment"].to_numpy(bool)]
    began = pd.to_datetime(on["cycle_start"]).fillna(pd.to_datetime(on["rt_start"]))
    sid = on["subject_id"].astype(str)
    ae = activity["ae"].assign(subject_id=activity["ae"]["subject_id"].astype(str)).set_index("subject_id")
    labs = activity["labs"].assign(subject_id=activity["labs"]["subject_id"].astype(str)).set_index("subject_id")
    last_onset = pd.to_datetime(sid.map(ae["last_date"]))
    ae_stored = pd.to_datetime(sid.map(ae["last_entered"])).dt.normalize()
    last_lab = pd.to_datetime(sid.map(labs["last_date"]))
    has_ae = ((last_onset >= began) | (ae_stored >= began)).to_numpy(bool)
    has_labs = (last_lab >= began).to_numpy(bool)
    out = pd.DataFrame({"subject_id": sid.to_numpy(), "site": sid.map(sites).fillna(NO_SITE).to_numpy(),
                        "cycle_start": began.to_numpy(), "last_ae_onset": last_onset.to_numpy(),
                        "last_lab": last_lab.to_numpy(), "no_ae_report": ~has_ae, "no_labs": ~has_labs})
    return out


def compute_entry_history(entries: pd.DataFrame, sites: pd.Series, max_days: int) -> pd.DataFrame:
    """AE entry delay (days from onset to first stored) by site and month of entry."""
    if not len(entries):
        return pd.DataFrame(columns=["site", "month", "n", "median_delay_days", "late"])
    delay = (pd.to_datetime(entries["entered_at"]).dt.normalize() - pd.to_datetime(entries["onset_date"])).dt.days
    frame = pd.DataFrame({"site": entries["subject_id"].astype(str).map(sites).fillna(NO_SITE).to_numpy(),
                          "month": pd.to_datetime(entries["entered_at"]).dt.to_period("M").dt.to_timestamp(),
                          "delay": delay.to_numpy(), "late": (delay > max_days).to_numpy()})
    return frame.groupby(["site", "month"]).agg(n=("delay", "size"), median_delay_days=("delay", "median"),
                                                late=("late", "sum")).reset_index()


def compute_open_query_counts(open_queries: pd.DataFrame | None, now: dt.datetime, max_days: int) -> pd.Series | None:
    """Hook for the queries workflow: per site, queries open longer than ``max_days`` (None: no queries yet)."""
    if open_queries is None:
        return None
    age = (pd.Timestamp(now) - pd.to_datetime(open_queries["opened_at"])).dt.days
    return (age > max_days).groupby(open_queries["site"].fillna(NO_SITE)).sum()


def compute_site_timeliness(patients: pd.DataFrame, status: pd.DataFrame, activity: dict[str, pd.DataFrame],
                            entries: pd.DataFrame, uploads: pd.DataFrame, now: dt.datetime, rules,
                            open_queries: pd.DataFrame | None = None) -> TimelinessResult:
    """The Site timeliness table (one row per site with traffic lights), its patients and history.
    ``rules``: the trial file's [timeliness] section."""
    sites = _site_of(patients)
    table = compute_days_since(activity, uploads, sites, now)
    delay = (pd.to_datetime(entries["entered_at"]).dt.normalize() - pd.to_datetime(entries["onset_date"])).dt.days
    ae_site = entries["subject_id"].astype(str).map(sites).fillna(NO_SITE)
    table["ae_rows"] = ae_site.groupby(ae_site).size().reindex(table.index).fillna(0).astype(int)
    table["ae_late"] = (delay > rules.ae_entry_max_days).groupby(ae_site).sum().reindex(table.index).fillna(0) \
        .astype(int)
    missing = compute_missing_last_cycle(status, activity, sites)
    by = missing.groupby("site")
    table["on_treatment"] = by.size().reindex(table.index).fillna(0).astype(int)
    table["no_ae_last_cycle"] = by["no_ae_report"].sum().reindex(table.index).fillna(0).astype(int)
    table["no_labs_last_cycle"] = by["no_labs"].sum().reindex(table.index).fillna(0).astype(int)
    both = (missing["no_ae_report"] & missing["no_labs"]).groupby(missing["site"]).sum().reindex(table.index).fillna(0)
    days = table[[f"days_since_{k}" for k in ("treatment", "ae", "labs")]].max(axis=1, skipna=False)
    table["upload_light"] = derive_upload_light(days, rules.upload_amber_days, rules.upload_red_days)
    table["entry_light"] = derive_late_light(table["ae_late"], table["ae_rows"], rules.late_share_red)
    some = (table["no_ae_last_cycle"] + table["no_labs_last_cycle"]) > 0
    table["cycle_light"] = np.where(both > 0, "red", np.where(some, "amber", "green"))
    late_q = compute_open_query_counts(open_queries, now, rules.query_open_max_days)
    table["queries_open_late"] = pd.NA if late_q is None else late_q.reindex(table.index).fillna(0).astype(int)
    table["light"] = _worst(table["upload_light"], table["entry_light"], table["cycle_light"])
    table = table.rename_axis("site").reset_index()
    flagged = missing[(missing["no_ae_report"] | missing["no_labs"]).to_numpy()].sort_values(["site", "subject_id"])
    summary = {"sites": len(table), "red": int((table["light"] == "red").sum()),
               "amber": int((table["light"] == "amber").sum()), "ae_late": int(table["ae_late"].sum()),
               "ae_entry_max_days": int(rules.ae_entry_max_days)}
    return TimelinessResult(table, flagged.reset_index(drop=True),
                            compute_entry_history(entries, sites, rules.ae_entry_max_days), summary)


def read_site_timeliness(store, cut, trial, open_queries: pd.DataFrame | None = None) -> TimelinessResult:
    """compute_site_timeliness from the store as of ``cut`` (a DataCut): the reads it needs."""
    from toxdb.clinical.treatment import derive_treatment_status
    from toxdb.store.cuts import load_snapshot

    snap = load_snapshot(store, cut, with_labs=False, with_ae=False)
    status = derive_treatment_status(snap.patients, snap.treatment, cut.cut_date, trial.phases)
    activity = {k: store.subject_activity(k, cut.as_of, cut.cut_date) for k in KINDS}
    entries = store.ae_entry_times(cut.as_of, cut.cut_date)
    now = cut.frozen_at or dt.datetime.now().replace(microsecond=0)
    return compute_site_timeliness(snap.patients, status, activity, entries, store.uploads(), now, trial.timeliness,
                                   open_queries)
