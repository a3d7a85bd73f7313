"""Queries to sites: a question about one record (an AE, a lab value, a treatment row, a patient, or a
lab-vs-AE discrepancy), answered by the site and closed by the person who asked.

Rules (docs/decisions.md D75, D76):

* Status: ``open`` -> ``answered`` (the site answers; it may add to its answer) -> ``closed`` (the
  asker is satisfied) or back to ``open`` (re-opened with a reason); a closed query may be re-opened.
  Any other move is refused with a sentence saying why, and nothing is written.
* Raising, closing and re-opening need the ``query`` permission; answering needs ``answer`` and, for a
  person tied to a site, a query of that site (``toxdb.permissions.allowed``). A raise, answer or
  re-open needs text; every move is one message of the thread and one audit-log row.
* Age of a query: whole days from its raising to ``now`` while it is not closed.

Public API
----------
next_status(status, action)                      -> the status after ``action`` (QueryRefused if not allowed)
raise_query(store, record, text, trial=None)      -> query number
raise_lab_queries(store, records, trial=None)     -> numbers of the lab-vs-AE queries raised (not raised twice)
act_on_query(store, query_id, action, text, trial=None)
compute_query_counts(queries, now)               -> per site: open, answered, closed, ages
derive_query_overview(queries, messages, now)    -> queries + age and the latest message
record_choices(frame, kind)                      -> record_key, subject_id, label for the raise form
lab_query_records(lab_query_table)               -> the lab-vs-AE queries as raisable records
queries_for_export(queries, messages)            -> one row per message with the query's fields
sync_flag_queries(store)                         -> raise a query per flagged stored row, close those corrected (D56)
compute_flag_counts(flag_lines)                  -> flagged records per kind of flag: open, resolved (D56)
"""
from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

import pandas as pd

from toxdb.i18n import N_, _
from toxdb.permissions import allowed, current_role, current_user

__all__ = [
    "ACTIONS",
    "ACTION_WORDS",
    "ANSWERED",
    "CLOSED",
    "OPEN",
    "RECORD_KINDS",
    "STATUSES",
    "STATUS_WORDS",
    "QueryRefused",
    "act_on_query",
    "compute_flag_counts",
    "compute_query_counts",
    "derive_queries_as_of",
    "derive_query_overview",
    "lab_query_key",
    "lab_query_records",
    "lab_query_version",
    "next_status",
    "queries_for_export",
    "query_age_days",
    "raise_lab_queries",
    "raise_query",
    "record_choices",
    "sync_flag_queries",
]

OPEN, ANSWERED, CLOSED = "open", "answered", "closed"
STATUSES = (OPEN, ANSWERED, CLOSED)
# action -> {status before: status after}
TRANSITIONS = {
    "answer": {OPEN: ANSWERED, ANSWERED: ANSWERED},
    "close": {OPEN: CLOSED, ANSWERED: CLOSED},
    "reopen": {ANSWERED: OPEN, CLOSED: OPEN},
}
ACTIONS = ("raise", *TRANSITIONS)
PERMISSION = {"raise": "query", "answer": "answer_query", "close": "query", "reopen": "query"}
TEXT_REQUIRED = {"raise", "answer", "reopen"}
RECORD_KINDS = {"ae": N_("adverse event"), "labs": N_("lab value"), "treatment": N_("treatment row"),
                "patients": N_("patient"), "lab_query": N_("lab-vs-AE query")}
FLAG_SOURCE = "flag"          # a query raised by a stored row's flag (D56)
FLAG_RAISER = "toxdb"         # who raises it: the upload check itself, not a person
STATUS_WORDS = {OPEN: N_("open"), ANSWERED: N_("answered"), CLOSED: N_("closed")}
ACTION_WORDS = {"raise": N_("raised"), "answer": N_("answered"), "close": N_("closed"), "reopen": N_("re-opened")}


class QueryRefused(ValueError):
    """An action the workflow or the person's permissions do not allow; the message says why."""


def next_status(status: str, action: str) -> str:
    """The status after ``action`` on a query whose status is ``status``."""
    moves = TRANSITIONS.get(action)
    if moves is None:
        raise QueryRefused(_("Unknown action {action}: one of {actions}.").format(
            action=action, actions=", ".join(TRANSITIONS)))
    if status not in moves:
        raise QueryRefused(_("A query that is {status} cannot be {done}.").format(
            status=_(STATUS_WORDS.get(status, status)), done=_(ACTION_WORDS[action])))
    return moves[status]


def _check(action: str, site: str | None, text: str, trial) -> str:
    text = (text or "").strip()
    if not allowed(PERMISSION[action], site, trial):
        raise QueryRefused(_("{user} ({role}) may not do this: it needs the '{permission}' permission "
                             "for site {site} (trial.toml [roles]).").format(
            user=current_user(), role=_role(trial), permission=PERMISSION[action], site=site or "-"))
    if action in TEXT_REQUIRED and not text:
        raise QueryRefused(_("Write the text of the query or answer first."))
    return text


def _role(trial) -> str | None:
    return current_role(trial)


def raise_query(store, record: dict, text: str, trial=None) -> int:
    """Raise a query on ``record`` (kind, record_key, subject_id, site, label; source 'manual' or
    'lab_query'); returns its number."""
    from toxdb.store.queries import insert_query

    if record.get("kind") not in RECORD_KINDS:
        raise QueryRefused(_("A query is about an adverse event, a lab value, a treatment row, a patient or a "
                             "lab-vs-AE query."))
    site = record.get("site")
    site = None if site is None or pd.isna(site) else str(site)      # a patient with no site on file
    text = _check("raise", site, text, trial)
    return insert_query(store, kind=record["kind"], record_key=str(record["record_key"]),
                        subject_id=str(record["subject_id"]), site=site,
                        record_label=str(record.get("label") or record["record_key"]),
                        source=record.get("source") or "manual", text=text, user=current_user(),
                        role=_role(trial))


def raise_lab_queries(store, records: pd.DataFrame, trial=None) -> list[int]:
    """Raise each lab-vs-AE query of ``records`` (``lab_query_records``) that has no query open or answered
    yet, with its own words as the text; returns the new query numbers."""
    from toxdb.store.queries import read_queries

    existing = read_queries(store)
    busy = set(existing.loc[(existing["kind"] == "lab_query") & (existing["status"] != CLOSED), "record_key"])
    todo = records[~records["record_key"].isin(busy)]
    return [raise_query(store, r, r["label"], trial) for r in todo.to_dict("records")]


def act_on_query(store, query_id: int, action: str, text: str = "", trial=None) -> str:
    """Answer, close or re-open a query; returns its new status."""
    from toxdb.store.queries import read_query, update_query_status

    query = read_query(store, int(query_id))
    if query is None:
        raise QueryRefused(_("There is no query number {n}.").format(n=query_id))
    new = next_status(query["status"], action)
    text = _check(action, query["site"], text, trial)
    if not update_query_status(store, int(query_id), expected=query["status"], new=new, action=action, text=text,
                               user=current_user(), role=_role(trial)):
        raise QueryRefused(_("Query {n} changed while you were writing; look at it again.").format(n=query_id))
    return new


def query_age_days(queries: pd.DataFrame, now: dt.datetime) -> pd.Series:
    """Whole days from raising to ``now`` for queries not closed (empty for closed ones)."""
    raised = pd.to_datetime(queries["raised_at"])
    days = (pd.Timestamp(now) - raised).dt.days.astype("Int64")
    return days.where(queries["status"] != CLOSED)


def compute_query_counts(queries: pd.DataFrame, now: dt.datetime) -> pd.DataFrame:
    """Per site: open, answered, closed, total, and the median and oldest age (days) of open queries."""
    cols = ["site", *STATUSES, "total", "median_open_days", "oldest_open_days"]
    if not len(queries):
        return pd.DataFrame(columns=cols)
    q = queries.assign(site=queries["site"].fillna("-"), age=query_age_days(queries, now))
    counts = pd.crosstab(q["site"], q["status"]).reindex(columns=list(STATUSES), fill_value=0)
    counts["total"] = counts.sum(axis=1)
    open_age = q[q["status"] == OPEN].groupby("site")["age"]
    counts["median_open_days"] = open_age.median().astype(float)
    counts["oldest_open_days"] = open_age.max().astype(float)
    return counts.reset_index()[cols]


def derive_queries_as_of(queries: pd.DataFrame, messages: pd.DataFrame, at: dt.datetime) -> pd.DataFrame:
    """``queries`` as they stood at ``at``: those raised by then, each with the status its thread's
    messages up to ``at`` give (a report from a frozen cut shows the queries of that moment, D74)."""
    at = pd.Timestamp(at)
    q = queries[pd.to_datetime(queries["raised_at"]) <= at].copy()
    m = messages[(pd.to_datetime(messages["written_at"]) <= at) & messages["query_id"].isin(q["query_id"])]
    status: dict = {}
    for qid, action in zip(m.sort_values("written_at", kind="stable")["query_id"],
                           m.sort_values("written_at", kind="stable")["action"]):
        status[qid] = OPEN if action == "raise" else TRANSITIONS.get(action, {}).get(status.get(qid, OPEN),
                                                                                      status.get(qid, OPEN))
    q["status"] = q["query_id"].map(status).fillna(OPEN)
    return q.reset_index(drop=True)


def derive_query_overview(queries: pd.DataFrame, messages: pd.DataFrame, now: dt.datetime) -> pd.DataFrame:
    """``queries`` + age_days (not closed), last_author, last_action, last_text, last_at (the thread's latest
    message)."""
    out = queries.assign(age_days=query_age_days(queries, now)) if len(queries) else queries.assign(age_days=[])
    last = (messages.sort_values("written_at", kind="stable").drop_duplicates("query_id", keep="last")
            .rename(columns={"author": "last_author", "action": "last_action", "text": "last_text",
                             "written_at": "last_at"})[["query_id", "last_author", "last_action", "last_text",
                                                        "last_at"]])
    return out.merge(last, on="query_id", how="left")


def _fmt_date(value) -> str:
    return "" if pd.isna(value) else pd.Timestamp(value).strftime("%Y-%m-%d")


def record_choices(frame: pd.DataFrame, kind: str) -> pd.DataFrame:
    """The current records of one kind (read with version columns) as record_key, subject_id, label."""
    f = frame.reset_index(drop=True)
    if kind == "ae":
        label = [_("{term} grade {grade}, onset {onset}").format(term=t, grade=g, onset=_fmt_date(o))
                 for t, g, o in zip(f["term"], f["grade"], f["onset_date"])]
    elif kind == "labs":
        label = [_("{test} {value} {unit} on {day}").format(test=t, value=v, unit="" if pd.isna(u) else u,
                                                           day=_fmt_date(d))
                 for t, v, u, d in zip(f["test"], f["value"], f["unit"], f["collected_on"])]
    elif kind == "treatment":
        label = [_("{treatment} cycle {cycle} from {day}").format(
            treatment=t, cycle="-" if pd.isna(c) else int(c), day=_fmt_date(d))
                 for t, c, d in zip(f["treatment"], f["cycle"], f["start_date"])]
    else:
        label = [_("patient record") for _row in range(len(f))]
    return pd.DataFrame({"record_key": f["record_key"].astype(str), "subject_id": f["subject_id"].astype(str),
                         "label": label})


def lab_query_key(row) -> str:
    """A lab-vs-AE query's identity: patient, test and the first value of its episode."""
    return f"{row['subject_id']}|{row['test']}|{_fmt_date(row['first_on'])}"


def lab_query_version(row) -> str:
    """Changes when anything the query says changes (worst value, grades, span): a review lapses."""
    parts = [row.get(c) for c in ("collected_on", "value", "lab_grade", "reported_grade", "issue", "last_on",
                                  "n_labs")]
    text = "|".join("" if pd.isna(p) else str(p) for p in parts)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def lab_query_records(table: pd.DataFrame) -> pd.DataFrame:
    """Lab-vs-AE queries (toxdb.clinical.lab_queries) as records a query can be raised on."""
    rows = table.to_dict("records")
    return pd.DataFrame({
        "kind": "lab_query",
        "record_key": [lab_query_key(r) for r in rows],
        "version": [lab_query_version(r) for r in rows],
        "subject_id": table["subject_id"].astype(str).to_numpy(),
        "site": table["site"].to_numpy(),
        "label": [f"{r['test']} {_fmt_date(r['collected_on'])}: {r['query']}" for r in rows],
        "source": "lab_query",
    })


def queries_for_export(queries: pd.DataFrame, messages: pd.DataFrame) -> pd.DataFrame:
    """One row per message: query number, site, patient, record, status now, then who wrote what and when."""
    cols = ["query_id", "site", "subject_id", "kind", "record_key", "record_label", "status", "raised_by",
            "raised_at"]
    out = messages.merge(queries[cols], on="query_id", how="inner")
    out = out[cols + ["written_at", "author", "role", "action", "text"]].sort_values(
        ["query_id", "written_at"], kind="stable")
    for c in ("raised_at", "written_at"):
        out[c] = pd.to_datetime(out[c]).dt.strftime("%Y-%m-%d %H:%M:%S")
    return out.reset_index(drop=True)


# -- flags as queries (D50, D56) ---------------------------------------------------------------------
@dataclass(frozen=True)
class FlagQuerySync:
    raised: list[int]         # numbers of the queries raised now
    linked: int               # flagged versions tied to a query raised before (same record, same flags)
    closed: int               # queries closed because a correction removed their flags


def _flag_versions(lines: pd.DataFrame) -> pd.DataFrame:
    """One row per flagged stored version: its record, whether it is current, its query, the flags'
    fingerprint (codes, columns and values) and their words."""
    what = lines["code"].astype(str) + "|" + lines["column_name"].fillna("").astype(str) + "|" \
        + lines["value"].fillna("").astype(str)
    lines = lines.assign(what=what)
    return lines.groupby(["upload_id", "source_row"], sort=True).agg(
        kind=("kind", "first"), record_key=("record_key", "first"), version=("version", "first"),
        subject_id=("subject_id", "first"), site=("site", "first"), file_name=("file_name", "first"),
        current=("current", "any"), closed_by=("closed_by", "first"), closed_by_file=("closed_by_file", "first"),
        query_id=("query_id", "max"), query_status=("query_status", "first"),
        fingerprint=("what", lambda w: "\n".join(sorted(set(w)))),
        text=("message", lambda m: "; ".join(dict.fromkeys(str(x) for x in m)))).reset_index()


def _closing_note(version: pd.Series, flagged_now: bool) -> str:
    upload = "-" if pd.isna(version["closed_by"]) else int(version["closed_by"])
    file = "" if pd.isna(version["closed_by_file"]) else version["closed_by_file"]
    if flagged_now:
        return _("Closed automatically: upload #{upload} ({file}) corrected this record; the corrected row is "
                 "flagged for another reason and has its own query.").format(upload=upload, file=file)
    return _("Closed automatically: upload #{upload} ({file}) corrected this record, and its value is now "
             "accepted without a flag.").format(upload=upload, file=file)


def sync_flag_queries(store, at: dt.datetime | None = None) -> FlagQuerySync:
    """Make every stored flag a query to its site (D56): a current flagged version without a query gets
    one, open, in words (or keeps the query of the version just before it when a correction left the same
    flags, whatever that query's status); a query none of whose versions is current any more, because a
    correction stored the record without these flags, is closed with a note saying so. Raised and
    closed by the upload check itself; safe to run again (nothing changes the second time)."""
    from toxdb.store.queries import read_flag_lines, write_flag_queries

    lines = read_flag_lines(store)
    if not len(lines):
        return FlagQuerySync([], 0, 0)
    v = _flag_versions(lines)
    # a flag carried unchanged from the version just before (a correction of something else) keeps its query
    known = v[v["query_id"].notna()]
    known = dict(zip(zip(known["record_key"], known["fingerprint"], known["version"].astype(int)),
                     known["query_id"].astype(int)))
    todo = v[v["query_id"].isna() & v["current"]]
    hit = [known.get((k, f, int(n) - 1)) for k, f, n in zip(todo["record_key"], todo["fingerprint"], todo["version"])]
    todo = todo.assign(query_id=pd.array(hit, dtype="Int64"))
    links = todo[todo["query_id"].notna()]
    new = todo[todo["query_id"].isna()].drop(columns="query_id")
    new = new.assign(label=[_("{kind}, row {row} of {file}").format(kind=_(RECORD_KINDS.get(k, k)), row=r, file=f)
                            for k, r, f in zip(new["kind"], new["source_row"], new["file_name"])])
    tied = pd.concat([v[v["query_id"].notna()], links], ignore_index=True)
    live = tied.groupby("query_id")["current"].any()
    stale = tied[tied["query_id"].isin(live[~live].index) & (tied["query_status"] != CLOSED)]
    stale = stale.sort_values("upload_id").drop_duplicates("query_id", keep="last")
    flagged_now = set(v.loc[v["current"], "record_key"])
    closes = pd.DataFrame({"query_id": stale["query_id"].astype(int),
                           "text": [_closing_note(r, r["record_key"] in flagged_now) for _i, r in stale.iterrows()]})
    raised, closed = write_flag_queries(
        store, new=new[["upload_id", "source_row", "kind", "record_key", "subject_id", "site", "label", "text"]],
        links=links, closes=closes, user=FLAG_RAISER, at=at)
    return FlagQuerySync(raised, len(links), closed)


def compute_flag_counts(lines: pd.DataFrame) -> pd.DataFrame:
    """Flagged records per kind of flag (code): ``open`` while the record's latest flagged version is
    current and its query is not closed, else ``resolved`` (closed by a person, or corrected)."""
    cols = ["kind", "code", "open", "resolved", "total"]
    if not len(lines):
        return pd.DataFrame(columns=cols)
    last = lines.sort_values("version", kind="stable").drop_duplicates(["kind", "record_key", "code"], keep="last")
    is_open = last["current"].astype(bool) & (last["query_status"].isna() | (last["query_status"] != CLOSED))
    out = last.assign(open=is_open.astype(int), resolved=(~is_open).astype(int)).groupby(
        ["kind", "code"], as_index=False)[["open", "resolved"]].sum()
    out["total"] = out["open"] + out["resolved"]
    return out[cols]
