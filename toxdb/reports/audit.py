"""The audit log in words: one sentence per entry instead of its JSON detail (the Uploads & audit page).

    describe_audit(action, detail_json) -> "Loaded ae.csv (adverse events) for SITE-A as upload #3: ..."
    derive_audit_words(frame)           -> the page's frame with a "what" column, detail dropped

An action this module does not know is shown as its name and its detail's keys and values, so a
new kind of entry is never hidden. ``ACTION_LABELS`` names each action in a few words (the page's
filter); tests/test_audit_words.py checks that every action the code writes has words here.
"""
from __future__ import annotations

import json

import pandas as pd

from toxdb.i18n import N_, _
from toxdb.queries import RECORD_KINDS

# action -> a few words for the filter of the Uploads & audit page
ACTION_LABELS: dict[str, str] = {
    "upload": N_("file loaded"), "upload_repeated": N_("upload repeated"), "save_mapping": N_("column mapping saved"),
    "save_value_map": N_("values mapped"), "data_cut": N_("data cut saved"),
    "acknowledge_advice": N_("dose advice acknowledged"), "sign_in": N_("sign-in"), "sign_out": N_("sign-out"),
    "download": N_("file downloaded"), "export": N_("export (command line)"), "diff": N_("cut comparison (command line)"),
    "report": N_("committee report built"), "user_added": N_("user added"), "user_changed": N_("user changed"),
    "user_disabled": N_("user disabled"), "users_listed": N_("users listed (command line)"),
    "week_reviewed": N_("This week marked reviewed"),
    "review": N_("record marked reviewed"), "query_raise": N_("query raised"), "query_answer": N_("query answered"),
    "query_close": N_("query closed"), "query_reopen": N_("query re-opened"),
    "alerts_raised": N_("e-mail alerts raised"), "alert_sent": N_("e-mail alert sent"),
    "alert_failed": N_("e-mail alert not delivered"), "alert_acknowledged": N_("e-mail alert acknowledged"),
    "alerts_error": N_("alert rules failed"),
}


def action_label(action: str) -> str:
    """The action in a few words (its own name when it has none yet)."""
    return _(ACTION_LABELS[action]) if action in ACTION_LABELS else action


def _mapping_words(mapping: dict | None) -> str:
    return ", ".join(f"{src} → {canon}" for src, canon in (mapping or {}).items())


def _value_map_words(value_map: dict | None) -> str:
    """{column: {written: target}} as "column: written → target; ..."."""
    return "; ".join(f"{column}: " + ", ".join(f"{w} → {t}" for w, t in pairs.items())
                     for column, pairs in (value_map or {}).items())


def _sites_words(sites) -> str:
    return _("all sites") if sites in (None, "all") else ", ".join(map(str, sites))


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
    if action == "sign_in":
        return (_("Signed in.") if d.get("known", True) else
                _("Signed in without a users row: shown the no-access page."))
    if action == "download":
        text = _("Downloaded {file}.").format(file=get("file"))
        if d.get("cut"):
            text += " " + _("Data cut {cut}; sites: {sites}.").format(cut=get("cut"), sites=_sites_words(d.get("sites")))
        return text
    if action == "sign_out":
        return _("Signed out.")
    text = _describe_more(action, d, get)
    if text is None:
        text = _describe_alerts(action, d, get)
    if text is not None:
        return text
    if action in ("user_added", "user_changed", "user_disabled"):
        words = {"user_added": _("Added user {identity}: {role}, sites {sites}, {state}."),
                 "user_changed": _("Changed user {identity}: {role}, sites {sites}, {state}."),
                 "user_disabled": _("Disabled user {identity} ({role}, sites {sites}).")}[action]
        return words.format(identity=get("identity"), role=get("role"), sites=", ".join(d.get("sites") or []) or "-",
                            state=_("active") if d.get("active") else _("disabled"))
    shown = "; ".join(f"{k}: {v}" for k, v in d.items())
    return f"{action}: {shown}" if shown else action


def _describe_more(action: str, d: dict, get) -> str | None:
    """Sentences for the entries of the command line, reports, reviews and queries (None: not one of
    them). Long: one case per action."""
    if action == "export":
        where = _("to {file}").format(file=get("to")) if d.get("to") not in (None, "stdout") else _("to the screen")
        cut = _("as of {cut}").format(cut=get("cut")) if d.get("cut") else _("(no data cut: every stored row)")
        return _("Exported {kind} from the command line {cut}, sites: {sites}: {rows} rows as {format} {where}.").format(
            kind=get("export"), cut=cut, sites=_sites_words(d.get("sites")), rows=get("rows"), format=get("format"),
            where=where)
    if action == "users_listed":
        return _("Listed the users from the command line ({n}).").format(n=get("rows"))
    if action == "diff":
        return _("Compared data cuts from the command line: {a} to {b}, {n} changes.").format(
            a=get("from"), b=get("to"), n=get("changes"))
    if action == "report":
        return _("Built the committee report of {cut} (cut date {date}, sections: {section}, {format}); data hash "
                 "{hash}.").format(cut=get("cut") or get("cut_date"), date=get("cut_date"), section=get("section"),
                                   format=get("format"), hash=str(get("data_hash"))[:16])
    if action == "save_value_map":
        return _("Saved value mapping for site {site} ({kind}): {values}.").format(
            site=get("site"), kind=get("kind"), values=_value_map_words(d.get("map")))
    if action == "week_reviewed":
        return _("Marked This week reviewed (compared with {reference}, data cut {cut}).").format(
            reference=get("reference"), cut=get("cut"))
    if action == "review":
        return _("Marked {kind} record {record} of {subject} reviewed (version {version}).").format(
            kind=_(RECORD_KINDS.get(d.get("kind"), str(get("kind")))), record=get("record_key"),
            subject=get("subject_id") or "-", version=get("version"))
    if action == "query_raise":
        return _("Raised query #{id} to site {site} about {subject} ({kind}): {text}").format(
            id=get("query_id"), site=get("site") or "-", subject=get("subject_id"),
            kind=_(RECORD_KINDS.get(d.get("kind"), str(get("kind")))), text=get("text"))
    if action in ("query_answer", "query_close", "query_reopen"):
        words = {"query_answer": _("Answered query #{id}"), "query_close": _("Closed query #{id}"),
                 "query_reopen": _("Re-opened query #{id}")}[action].format(id=get("query_id"))
        return words + (": " + str(get("text")) if d.get("text") else ".")
    return None


def derive_audit_words(frame: pd.DataFrame) -> pd.DataFrame:
    """The audit frame (seq, logged_at, actor, action, detail) with ``what`` in words, detail dropped."""
    what = [describe_audit(a, d) for a, d in zip(frame["action"], frame["detail"])]
    return frame.drop(columns=["detail"]).assign(what=what)


def derive_mapping_history(versions: pd.DataFrame) -> pd.DataFrame:
    """Every saved column-mapping version (Store.mapping_versions: site, kind, signature, version,
    mapping JSON, saved_by, saved_at), newest first, with the columns it mapped in words and whether
    it is the one in use (the newest for its site, kind and headers, D66)."""
    if versions.empty:
        return pd.DataFrame(columns=["site", "kind", "version", "in_use", "saved_by", "saved_at", "columns"])
    out = versions.copy()
    newest = out.groupby(["site", "kind", "signature"])["version"].transform("max")
    out["in_use"] = out["version"] == newest
    out["columns"] = [_mapping_words(json.loads(m) if isinstance(m, str) else m) for m in out["mapping"]]
    out = out.sort_values(["saved_at", "version"], ascending=False)
    return out[["site", "kind", "version", "in_use", "saved_by", "saved_at", "columns"]].reset_index(drop=True)


def _describe_alerts(action: str, d: dict, get) -> str | None:
    """Sentences for the e-mail alert entries (D90-D98; None: not one of them)."""
    if action == "alerts_raised":
        crossed = [phase for phase, on in (d.get("boundary") or {}).items() if on]
        text = _("Import #{upload}: {n} e-mail alerts put in the outbox.").format(
            upload=get("upload_id"), n=len(d.get("alert_ids") or []))
        return text + (" " + _("Stopping boundary crossed: {phases}.").format(phases=", ".join(crossed))
                       if crossed else "")
    if action == "alert_sent":
        return _("E-mail alert #{id} sent.").format(id=get("alert_id"))
    if action == "alert_failed":
        return _("E-mail alert #{id} could not be sent ({error}); next attempt {next}.").format(
            id=get("alert_id"), error=get("error"), next=get("next_attempt_at") or "-")
    if action == "alert_acknowledged":
        return _("Acknowledged e-mail alert #{id}.").format(id=get("alert_id"))
    if action == "alerts_error":
        return _("The alert rules could not be evaluated for upload #{upload}: {error}").format(
            upload=get("upload_id"), error=get("error"))
    return None
