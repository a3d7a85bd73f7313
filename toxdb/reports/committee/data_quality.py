"""Data completeness and timeliness by site, and the open queries, for the open section."""
from __future__ import annotations

import pandas as pd

from toxdb.i18n import N_, _
from toxdb.reports.committee.inputs import ReportInputs
from toxdb.reports.committee.model import ALL_SITES, NO_SITE, ReportTable
from toxdb.reports.monitoring import pct


def limit_rows(frame: pd.DataFrame, limit: int) -> tuple[pd.DataFrame, str]:
    """The first ``limit`` rows and the sentence that says how many more there are ("" when none)."""
    if len(frame) <= limit:
        return frame, ""
    return frame.head(limit), _("The first {shown} of {total} rows are printed; every row is in the "
                                "download of the page and counted in the data hash.").format(shown=limit,
                                                                                             total=len(frame))


def _share(mask: pd.Series, site: pd.Series) -> pd.Series:
    return mask.groupby(site).mean()


def _days_quantile(days: pd.Series, site: pd.Series, q: float) -> pd.Series:
    return days.groupby(site).quantile(q)


def compute_completeness(inp: ReportInputs) -> pd.DataFrame:
    """Per site (and all sites): AE rows and the share missing an attribution, a seriousness, an end
    date or a full onset date; days from onset to upload (median and 90th percentile); last upload."""
    sites = inp.site_of()
    ae = inp.snapshot.adverse_events
    none = NO_SITE
    site = ae["subject_id"].astype(str).map(sites).fillna(none).replace("", none)
    up = inp.uploads.set_index("upload_id")["uploaded_at"]
    uploaded = pd.to_datetime(ae["upload_id"].map(up))
    days = (uploaded.dt.normalize() - pd.to_datetime(ae["onset_date"])).dt.days.astype(float)
    precision = ae["onset_precision"].astype(object) if "onset_precision" in ae else pd.Series("day", index=ae.index)
    t = pd.DataFrame({
        "ae_rows": site.groupby(site).size(),
        "no_attribution": _share(ae["attribution"].isna(), site),
        "no_serious": _share(ae["serious"].isna(), site),
        "no_end": _share(ae["end_date"].isna(), site),
        "partial_onset": _share(precision.notna() & (precision != "day"), site),
        "days_median": _days_quantile(days, site, 0.5),
        "days_p90": _days_quantile(days, site, 0.9),
        "last_upload": uploaded.groupby(site).max(),
    })
    enrolled = inp.patients.assign(site=inp.patients["site"].fillna(none)).groupby("site")["subject_id"].nunique()
    t = t.reindex(enrolled.index.union(t.index))
    t.insert(0, "patients", enrolled.reindex(t.index).fillna(0).astype(int))
    allrow = {"patients": int(enrolled.sum()), "ae_rows": len(ae),
              "no_attribution": ae["attribution"].isna().mean(), "no_serious": ae["serious"].isna().mean(),
              "no_end": ae["end_date"].isna().mean(), "partial_onset": (precision.notna() & (precision != "day")).mean(),
              "days_median": days.median(), "days_p90": days.quantile(0.9), "last_upload": uploaded.max()}
    t.loc[ALL_SITES] = allrow
    t.index.name = "site"
    return t.reset_index()


def build_completeness(inp: ReportInputs) -> ReportTable:
    t = compute_completeness(inp)
    out = pd.DataFrame({"site": t["site"], "patients": t["patients"].astype(int),
                        "ae_rows": t["ae_rows"].fillna(0).astype(int)})
    for c in ("no_attribution", "no_serious", "no_end", "partial_onset"):
        out[c] = [pct(v) if pd.notna(v) else "–" for v in t[c]]
    for c in ("days_median", "days_p90"):
        out[c] = [f"{v:.0f}" if pd.notna(v) else "–" for v in t[c]]
    out["last_upload"] = [pd.Timestamp(v).strftime("%Y-%m-%d") if pd.notna(v) else "–" for v in t["last_upload"]]
    return ReportTable(
        "completeness", _("Data completeness and timeliness by site"), out,
        _("Population: adverse-event rows stored for the cut (every version as frozen with the cut), by the site of "
          "the patient. Missing: share of rows without an attribution, a seriousness, an end date (ongoing or not "
          "recorded) or a full onset date (month or year only, imputed). Days to upload: from onset to the upload "
          "that stored the row's current version (a correction restarts the clock)."),
        {"site": _("Site"), "patients": _("Patients"), "ae_rows": _("AE rows"),
         "no_attribution": _("No attribution"), "no_serious": _("No seriousness"), "no_end": _("No end date"),
         "partial_onset": _("Partial onset"), "days_median": _("Days to upload, median"),
         "days_p90": _("Days to upload, 90th pct"), "last_upload": _("Last upload")}, translate=("site",))


def build_queries(inp: ReportInputs, compute_lab_queries) -> list[ReportTable]:
    """Open queries: no query store exists, so the open lab queries (lab values without a matching AE)."""
    res = compute_lab_queries(inp.snapshot, inp.trial, derived=inp.derived)
    t = res.table
    sites = t.groupby(t["site"].astype(object).fillna(NO_SITE)).agg(
        queries=("subject_id", "size"), patients=("subject_id", "nunique"),
        no_ae=("issue", lambda s: int((s == "no AE reported").sum()))).reset_index()
    by_site = ReportTable(
        "queries_by_site", _("Open queries by site"), sites,
        _("Population: lab values on treatment graded 1 or higher by the cut. A query is a value (the worst of an "
          "episode) with no adverse event of the matching term within {days} days, or only one of a lower grade; "
          "{n} queries in {p} patients.").format(
            days=res.window_days, n=len(t), p=res.summary["patients_with_queries"]),
        {"site": _("Site"), "queries": _("Queries"), "patients": _("Patients"), "no_ae": _("No AE reported")},
        empty_text=_("No open lab query."), translate=("site",))
    listing = pd.DataFrame({"subject_id": t["subject_id"], "site": t["site"],
                            "collected_on": pd.to_datetime(t["collected_on"]).dt.strftime("%Y-%m-%d"),
                            "test": t["test"], "lab_grade": t["lab_grade"], "reported_grade": t["reported_grade"],
                            "query": t["query"]})
    shown, note = limit_rows(listing, inp.trial.report.listing_max_rows)
    rows = ReportTable(
        "queries", _("Open lab queries"), shown,
        _("Population: as in the table above, one row per query, by patient and date; AE grade empty when no AE "
          "is reported."),
        {"subject_id": _("Patient"), "site": _("Site"), "collected_on": _("Collected"), "test": _("Test"),
         "lab_grade": _("Lab grade"), "reported_grade": _("AE grade"), "query": _("Query")},
        note=note, empty_text=_("No open lab query."), full_rows=len(listing), data=listing)
    return [by_site, rows] if len(t) else [by_site]


def report_moment(inp: ReportInputs) -> pd.Timestamp:
    """The moment the report's data stand at: when a saved cut was frozen, else the end of the cut day
    (never after now)."""
    if inp.cut.frozen_at is not None:
        return pd.Timestamp(inp.cut.frozen_at)
    end = pd.Timestamp(inp.cut.cut_date) + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)
    return min(end, pd.Timestamp.now())


def build_site_queries(inp: ReportInputs) -> list[ReportTable]:
    """Queries to sites (the queries workflow) as they stood at the cut: open / answered / closed and the
    age of the open ones per site, then the open and answered ones listed."""
    from toxdb.queries import ANSWERED, OPEN, compute_query_counts, derive_queries_as_of, derive_query_overview
    from toxdb.store.queries import read_queries, read_query_messages

    at = report_moment(inp)
    messages = read_query_messages(inp.store)
    queries = derive_queries_as_of(read_queries(inp.store), messages, at)
    counts = compute_query_counts(queries, at)
    counts["site"] = counts["site"].replace("-", NO_SITE)
    by_site = ReportTable(
        "site_queries_by_site", _("Queries to sites by site"), counts,
        _("Population: queries raised to the sites about one record each (Queries page), as they stood at "
          "{at}: status after the last message by then. Age: whole days from raising to then, for queries not "
          "closed.").format(at=f"{at:%Y-%m-%d %H:%M}"),
        {"site": _("Site"), "open": _("Open"), "answered": _("Answered"), "closed": _("Closed"), "total": _("Total"),
         "median_open_days": _("Median age of open (days)"), "oldest_open_days": _("Oldest open (days)")},
        empty_text=_("No query to a site by the cut."), translate=("site",))
    waiting = derive_query_overview(queries, messages[pd.to_datetime(messages["written_at"]) <= at], at)
    waiting = waiting[waiting["status"].isin([OPEN, ANSWERED])].sort_values(["site", "query_id"])
    listing = pd.DataFrame({"query_id": waiting["query_id"].astype(int), "site": waiting["site"],
                            "subject_id": waiting["subject_id"], "record_label": waiting["record_label"],
                            "status": waiting["status"], "raised_by": waiting["raised_by"],
                            "age_days": waiting["age_days"], "last_text": waiting["last_text"]}).reset_index(drop=True)
    shown, note = limit_rows(listing, inp.trial.report.listing_max_rows)
    rows = ReportTable(
        "site_queries", _("Queries to sites not yet closed"), shown,
        _("Population: the queries above that were open or answered at that moment, by site and number; the "
          "last message of each thread as written."),
        {"query_id": _("No."), "site": _("Site"), "subject_id": _("Patient"), "record_label": _("Record"),
         "status": _("Status"), "raised_by": _("Raised by"), "age_days": _("Age (days)"),
         "last_text": _("Last message")},
        note=note, empty_text=_("No open query to a site."), full_rows=len(listing), data=listing,
        translate=("status",))
    return [by_site, rows] if len(listing) else [by_site]


# the adverse-event flags the committee is told of (D50, D51): rows counted as recorded, queried to the site
FLAG_WORDS = {"grade_not_allowed": N_("Grade CTCAE does not give the term"),
              "term_outside_ctcae": N_("Term outside CTCAE (stored under 'Other, specify')")}


def build_flags(inp: ReportInputs) -> ReportTable:
    """Adverse-event rows of the cut that are stored with a flag, by site and reason (D56): the rows
    as they stand in the cut (a correction that stored the row again without the flag removes it)."""
    ae = inp.snapshot.adverse_events
    flags = inp.store.flags()
    flags = flags[(flags["kind"] == "ae") & flags["code"].isin(FLAG_WORDS)]
    if inp.cut.frozen_upload is not None:
        flags = flags[flags["upload_id"] <= inp.cut.frozen_upload]
    rows = pd.DataFrame(columns=["upload_id", "source_row", "subject_id"]) if ae is None else \
        ae[["upload_id", "source_row", "subject_id"]].astype({"upload_id": "int64", "source_row": "int64"})
    held = flags.astype({"upload_id": "int64", "source_row": "int64"}).merge(
        rows.drop(columns="subject_id"), on=["upload_id", "source_row"])
    site = held["subject_id"].astype(str).map(inp.site_of()).fillna(NO_SITE)
    if len(held):
        out = (held.assign(site=site).groupby(["site", "code"]).size().unstack("code", fill_value=0)
               .reindex(columns=list(FLAG_WORDS), fill_value=0))
        out.loc[ALL_SITES] = out.sum()
        out = out.rename_axis(index="site", columns=None).reset_index()
    else:
        out = pd.DataFrame(columns=["site", *FLAG_WORDS])
    return ReportTable(
        "flags", _("Adverse-event rows stored with a query to the site"), out,
        _("Population: adverse-event rows of the cut stored with a flag, by the site of the patient. They are "
          "counted as recorded in every table of this report (any grade), and each raised a query to its site."),
        {"site": _("Site"), **{code: _(words) for code, words in FLAG_WORDS.items()}},
        empty_text=_("No adverse-event row of the cut is stored with a flag."), translate=("site",))
