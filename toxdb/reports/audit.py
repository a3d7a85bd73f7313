"""The audit log in words: one sentence per entry instead of its JSON detail (the Uploads & audit page).

    describe_audit(action, detail_json) -> "Loaded ae.csv (adverse events) for SITE-A as upload #3: ..."
    derive_audit_words(frame)           -> the page's frame with a "what" column, detail dropped

An action this module does not know is shown as its name and its detail's keys and values, so a
new kind of entry is never hidden.
"""
from __future__ import annotations

import json

import pandas as pd

from toxdb.i18n import _
from toxdb.queries import RECORD_KINDS


def _mapping_words(mapping: dict | None) -> str:
    return ", ".join(f"{src} → {canon}" for src, canon in (mapping or {}).items())


def describe_audit(action: str, detail: str | dict | None) -> str:
    """One sentence for one audit entry. Long: one case per action, each a sentence of its own."""
    d = json.loads(detail) if isinstance(detail, str) and detail else (detail or {})
    d = d if isinstance(d, dict) else {"detail": d}
    get = lambda k: "" if d.get(k) is None else d.get(k)  # noqa: E731
    if action == "upload":
        return _("Loaded {file} ({kind}) for site {site} as upload #{id}: {new} new, {corr} corrected, "
                 "{dup} duplicates, {rej} rejected.").format(
            file=get("file"), kind=get("kind"), site=get("site") or _("(not given)"), id=get("upload_id"),
            new=get("accepted"), corr=get("corrections"), dup=get("duplicates"), rej=get("rejected"))
    if action == "upload_repeated":
        return _("Tried to load {file} again; it is identical to upload #{id}, nothing was added.").format(
            file=get("file"), id=get("same_as_upload"))
    if action == "save_mapping":
        return _("Saved column mapping version {version} for site {site} ({kind}): {mapping}.").format(
            version=get("version") or 1, site=get("site"), kind=get("kind"), mapping=_mapping_words(d.get("mapping")))
    if action == "data_cut":
        return _("Saved data cut \"{name}\" (cut date {date}).").format(name=get("name"), date=get("cut_date"))
    if action == "acknowledge_advice":
        text = _("Acknowledged dose advice for {subject} ({agent}, rule {rule}).").format(
            subject=get("subject_id"), agent=get("agent"), rule=get("rule"))
        return text + (" " + _("Comment: {comment}").format(comment=get("comment")) if d.get("comment") else "")
    if action == "query_raise":
        return _("Raised query #{n} to site {site} about {subject} ({kind}): {text}").format(
            n=get("query_id"), site=get("site") or _("(not given)"), subject=get("subject_id"),
            kind=_(RECORD_KINDS.get(d.get("kind"), str(get("kind")))), text=get("text"))
    if action in ("query_answer", "query_close", "query_reopen"):
        words = {"query_answer": _("Answered query #{n}"), "query_close": _("Closed query #{n}"),
                 "query_reopen": _("Re-opened query #{n}")}[action].format(n=get("query_id"))
        return words + (": " + str(get("text")) if d.get("text") else ".")
    if action == "review":
        return _("Marked {kind} {record} of {subject} reviewed (version {version}).").format(
            kind=get("kind"), record=get("record_key"), subject=get("subject_id") or "-", version=get("version"))
    if action == "week_reviewed":
        return _("Marked This week reviewed ({reference} to {cut}).").format(
            reference=get("reference"), cut=get("cut"))
    if action == "sign_in":
        return (_("Signed in.") if d.get("known", True) else
                _("Signed in without a users row: shown the no-access page."))
    if action == "download":
        return _("Downloaded {file}.").format(file=get("file"))
    if action in ("user_added", "user_changed", "user_disabled"):
        words = {"user_added": _("Added user {identity}: {role}, sites {sites}, {state}."),
                 "user_changed": _("Changed user {identity}: {role}, sites {sites}, {state}."),
                 "user_disabled": _("Disabled user {identity} ({role}, sites {sites}).")}[action]
        return words.format(identity=get("identity"), role=get("role"), sites=", ".join(d.get("sites") or []) or "-",
                            state=_("active") if d.get("active") else _("disabled"))
    shown = "; ".join(f"{k}: {v}" for k, v in d.items())
    return f"{action}: {shown}" if shown else action


def derive_audit_words(frame: pd.DataFrame) -> pd.DataFrame:
    """The audit frame (seq, logged_at, actor, action, detail) with ``what`` in words, detail dropped."""
    what = [describe_audit(a, d) for a, d in zip(frame["action"], frame["detail"])]
    return frame.drop(columns=["detail"]).assign(what=what)
