"""An alert in words: the e-mail's subject and plain-text body for one role (D94).

Everything a reader needs without opening the dashboard: who (subject id and site), what (term,
grade, onset, seriousness, attribution, outcome), why it alerts, where the trial stands against
the stopping boundary, and a link to the patient. Text only; user-supplied text (terms, verbatim
descriptions) is written as it was stored, never interpreted. A coordinator hears only of their own
site's patients (toxdb.alerts.rules.recipients); boundary messages carry counts, never patients.
"""
from __future__ import annotations

import string
from typing import Any

import pandas as pd

from toxdb.alerts.rules import RULE_LABELS, page_link, patient_link
from toxdb.i18n import N_, _
from toxdb.monitoring.cohorts import COHORT_LABELS
from toxdb.monitoring.status import describe_crossing

ROLE_LABELS = {"committee": N_("data-safety committee"), "investigator": N_("principal investigator"),
               "data_manager": N_("data manager"), "coordinator": N_("site coordinator")}


def _rules(rules) -> str:
    return "; ".join(_(RULE_LABELS[r]) for r in rules)


def _text(value: Any) -> str:
    if value is None or (not isinstance(value, (list, dict)) and pd.isna(value)):
        return _("not recorded")
    if isinstance(value, pd.Timestamp):
        return f"{value:%Y-%m-%d}"
    return str(value)


def _serious(value: Any) -> str:
    if value is None or pd.isna(value):
        return _("not recorded")
    return _("yes") if bool(value) else _("no")


def standing_lines(standing: dict[str, dict] | None) -> list[str]:
    """Where each phase stands against the stopping boundary, one line each."""
    if not standing:
        return [_("(The stopping boundary could not be evaluated with the data stored.)")]
    lines = []
    for s in standing.values():
        key = s["phase"]
        phase = _(COHORT_LABELS[key])
        if s["crossed"]:
            lines.append("  - " + describe_crossing(s))
        elif s["n"] == 0:
            lines.append("  - " + _("{phase}: no patient is evaluable yet.").format(phase=phase))
        elif s["boundary_now"] is None:
            lines.append("  - " + _("{phase}: {x} of {n} evaluable patients with a grade ≥ {grade} event; "
                                    "no stopping boundary at n = {n}; not crossed.").format(
                phase=phase, x=s["x"], n=s["n"], grade=s["grade_min"]))
        else:
            lines.append("  - " + _("{phase}: {x} of {n} evaluable patients with a grade ≥ {grade} event; "
                                    "the boundary at n = {n} is {b}; not crossed.").format(
                phase=phase, x=s["x"], n=s["n"], grade=s["grade_min"], b=s["boundary_now"]))
    return lines


def compose_event_message(trial, event: dict, role: str, raised: list[str], cleared: list[str],
                          previous: dict | None, standing: list[str], correction: bool) -> tuple[str, str]:
    """(subject, body) of an event alert or follow-up for ``role``; ``standing``: :func:`standing_lines`."""
    tid, sid, term = trial.trial.id, _text(event.get("subject_id")), _text(event.get("term"))
    if raised:
        subject = _("[{trial}] {what}: patient {subject}, {term}, grade {grade}").format(
            trial=tid, what=_rules(raised), subject=sid, term=term, grade=_text(event.get("grade")))
    else:
        subject = _("[{trial}] Follow-up: patient {subject}, {term} is no longer a {what}").format(
            trial=tid, subject=sid, term=term, what=_rules(cleared))
    lines = [_("Trial {trial}: {title}").format(trial=tid, title=trial.trial.title), ""]
    if raised and correction:
        lines.append(_("A correction to an adverse event already stored makes it a {what}.").format(
            what=_rules(raised)))
    elif raised:
        lines.append(_("A site has reported an adverse event that alerts you: {what}.").format(what=_rules(raised)))
    if cleared:
        was = previous or {}
        lines.append(_("Follow-up: an earlier message said this event was a {what} (grade {grade}, serious: "
                       "{serious}). A correction now stores it as grade {now}, serious: {now_serious}; it no "
                       "longer meets that rule.").format(
            what=_rules(cleared), grade=_text(was.get("grade")), serious=_serious(was.get("serious")),
            now=_text(event.get("grade")), now_serious=_serious(event.get("serious"))))
    lines += ["",
              _("Patient: {subject} (site {site})").format(subject=sid, site=_text(event.get("site"))),
              _("Event: {term}").format(term=term),
              _("Description as reported: {verbatim}").format(verbatim=_text(event.get("verbatim"))),
              _("Grade: {grade}").format(grade=_text(event.get("grade"))),
              _("Onset: {onset}").format(onset=_text(event.get("onset_date"))),
              _("Serious: {serious}").format(serious=_serious(event.get("serious"))),
              _("Attribution: {attribution}").format(attribution=_text(event.get("attribution"))),
              _("Outcome: {outcome}").format(outcome=_text(event.get("outcome"))),
              _("Record: {key}, version {version}, upload #{upload}").format(
                  key=_text(event.get("ae_ref") or event.get("record_key")), version=event.get("version"),
                  upload=event.get("upload_id")),
              "", _("Where the trial stands against the stopping boundary:"), *standing, "",
              _("The patient in the dashboard: {link}").format(link=patient_link(trial, event.get("subject_id")))]
    return subject, "\n".join(lines + _footer(trial, role))


def compose_event_line(event: dict, raised: list[str], cleared: list[str]) -> str:
    """One line for a digest: patient, site, term, grade, onset, serious, and the rules."""
    what = describe_rules(raised, cleared)
    return _("{subject} (site {site}): {term}, grade {grade}, onset {onset}, serious: {serious}. {what}").format(
        subject=_text(event.get("subject_id")), site=_text(event.get("site")), term=_text(event.get("term")),
        grade=_text(event.get("grade")), onset=_text(event.get("onset_date")),
        serious=_serious(event.get("serious")), what=what)


def compose_event_lines(events: pd.DataFrame, whats: list[str]) -> list[str]:
    """:func:`compose_event_line` for many events at once (D99): each distinct value is put in words
    once, and the translated sentence is assembled column-wise from its literal pieces. ``whats``:
    per event, the rules in words (:func:`describe_rules`)."""
    words = {"subject": each_distinct(events["subject_id"], _text), "site": each_distinct(events["site"], _text),
             "term": each_distinct(events["term"], _text), "grade": each_distinct(events["grade"], _text),
             "onset": each_distinct(events["onset_date"], _text), "serious": each_distinct(events["serious"], _serious),
             "what": pd.Series(whats, index=events.index, dtype=object)}
    template = _("{subject} (site {site}): {term}, grade {grade}, onset {onset}, serious: {serious}. {what}")
    pieces = []                          # the sentence's literal pieces and its fields, in its own order
    for literal, field, _spec, _conv in string.Formatter().parse(template):
        pieces.append([literal] * len(events))
        if field is not None:
            pieces.append(words[field].tolist())
    return ["".join(row) for row in zip(*pieces)]


def describe_rules(raised: list[str], cleared: list[str]) -> str:
    """The rules an event line names: those raised, or the follow-up for those withdrawn."""
    return _rules(raised) if raised else _("follow-up, no longer: {what}").format(what=_rules(cleared))


def each_distinct(values: pd.Series, say) -> pd.Series:
    """``say`` applied once per distinct value of a column, to the value as a row dict would hold it
    (``to_numpy(dtype=object)``: Timestamps, ``pd.NA``, None); missing values each on their own."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    told = [say(v) for v in pd.Series(uniques).to_numpy(dtype=object).tolist()] if len(uniques) else []
    out = pd.Series(pd.array(told, dtype=object).take(codes, allow_fill=True) if len(told) else [None] * len(codes),
                    index=values.index, dtype=object)
    missing = codes < 0
    if missing.any():
        out[missing] = [say(v) for v in values[missing].to_numpy(dtype=object).tolist()]
    return out


DIGEST_LINES = 300      # events listed in one digest message; the rest are on the Alerts page


def compose_digest_message(trial, role: str, lines: list[str], upload_id: int,
                           standing: list[str]) -> tuple[str, str]:
    """(subject, body) of one message for many events of one import (``[alerts] digest_above``)."""
    n = len(lines)
    subject = _("[{trial}] {n} adverse events in upload #{upload} meet alert rules").format(
        trial=trial.trial.id, n=n, upload=upload_id)
    shown = [f"  - {line}" for line in lines[:DIGEST_LINES]]
    if n > DIGEST_LINES:
        shown.append("  " + _("... and {more} more: every one is on the Alerts page.").format(more=n - DIGEST_LINES))
    body = [_("Trial {trial}: {title}").format(trial=trial.trial.id, title=trial.trial.title), "",
            _("One import stored {n} adverse events that meet the alert rules; they are listed together in this "
              "message instead of one message each.").format(n=n), "", *shown, "",
            _("Where the trial stands against the stopping boundary:"), *standing]
    return subject, "\n".join(body + _footer(trial, role))


def compose_boundary_message(trial, phase: str, role: str, crossed: bool, standing: dict) -> tuple[str, str]:
    """(subject, body) of a boundary alert (newly crossed) or follow-up (no longer crossed)."""
    label = _(COHORT_LABELS[phase])
    if crossed:
        subject = _("[{trial}] Stopping boundary crossed: {phase}").format(trial=trial.trial.id, phase=label)
        what = describe_crossing(standing[phase])
    else:
        subject = _("[{trial}] Follow-up: stopping boundary no longer crossed: {phase}").format(
            trial=trial.trial.id, phase=label)
        what = _("After corrections, the {phase} no longer crosses the stopping boundary that an earlier "
                 "message reported crossed.").format(phase=label)
    lines = [_("Trial {trial}: {title}").format(trial=trial.trial.id, title=trial.trial.title), "", what, "",
             _("Where the trial stands against the stopping boundary:"), *standing_lines(standing), "",
             _("Monitoring in the dashboard: {link}").format(link=page_link(trial, "monitoring"))]
    return subject, "\n".join(lines + _footer(trial, role))


def _footer(trial, role: str) -> list[str]:
    scope = _("your site only") if role == "coordinator" else _("all sites")
    return ["", "-- ",
            _("Sent by toxdb to the {role} ({scope}). Acknowledge it on the Alerts page: {link}").format(
                role=_(ROLE_LABELS.get(role, role)), scope=scope, link=page_link(trial, "alerts"))]
