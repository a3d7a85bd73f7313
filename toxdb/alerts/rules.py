"""Which events meet which alert rule and who hears of it: the trial file's ``[alerts]`` (D90, D93).

Pure functions on frames: no I/O. The haematological terms are the trial file's one list
(``holds.haematological_terms``, :func:`toxdb.dosing.inputs.is_haematological`).
"""
from __future__ import annotations

import pandas as pd

from toxdb.dosing.inputs import is_haematological, text_key
from toxdb.i18n import N_
from toxdb.trial import SITE_ROLE

EVENT_RULES = ("grade5", "sae", "grade4_nonhaem")
RULE_LABELS = {
    "grade5": N_("grade 5 event (death)"),
    "sae": N_("serious adverse event"),
    "grade4_nonhaem": N_("grade 4 non-haematological event"),
    "boundary": N_("stopping boundary crossed"),
}


def derive_alert_rules(events: pd.DataFrame, trial) -> pd.DataFrame:
    """Add one boolean column per event rule (``grade5``, ``sae``, ``grade4_nonhaem``) to adverse
    event rows (term, grade, serious). Grade 5 alerts whatever the attribution; a serious flag that
    is missing is not an SAE."""
    grade = pd.to_numeric(events["grade"], errors="coerce")
    serious = events["serious"].astype("boolean").fillna(False) if "serious" in events else False
    haem = is_haematological(text_key(events["term"]), trial)
    return events.assign(grade5=(grade == 5).to_numpy(dtype=bool),
                         sae=pd.Series(serious, index=events.index).to_numpy(dtype=bool),
                         grade4_nonhaem=((grade == 4) & ~haem).to_numpy(dtype=bool))


def met_rules(events: pd.DataFrame) -> list[frozenset]:
    """Per row of :func:`derive_alert_rules`, the set of event rules it meets (one set object per
    combination: a bulk import has thousands of rows and at most eight combinations)."""
    flags = zip(*(events[rule].to_numpy(dtype=bool).tolist() for rule in EVENT_RULES))
    sets: dict[tuple, frozenset] = {}
    return [sets.get(combo) or sets.setdefault(combo, frozenset(r for r, on in zip(EVENT_RULES, combo) if on))
            for combo in flags]


def recipients(trial, rule: str, site: str | None, people: pd.DataFrame | None = None) -> dict[str, list[str]]:
    """{role: addresses} a rule alerts for an event at ``site``: the role's addresses in the trial file
    and the active users of that role in the store's users table (``people``; their identity is the
    e-mail the identity provider gives). Committee, investigator and data manager hear of every site;
    coordinators (``[alerts.site_recipients]``, and users of a role limited to its own sites) only of
    their own site, and of a boundary crossing (counts, no patient) when a rule names them with
    ``site=None``."""
    a = trial.alerts
    roles = trial.roles.named()
    out: dict[str, list[str]] = {}
    for role in roles_for(trial, rule):
        if role == SITE_ROLE:
            if site is None:
                addresses = {x for group in a.site_recipients.values() for x in group}
            else:
                addresses = set(a.site_recipients.get(site, []))
        else:
            addresses = set(a.recipients.get(role, []))
        limited = role == SITE_ROLE or (role in roles and roles[role].own_sites_only)
        addresses |= _user_addresses(people, role, site if limited else None)
        if addresses:
            out[role] = sorted(addresses)
    return out


def _user_addresses(people: pd.DataFrame | None, role: str, site: str | None) -> set[str]:
    """E-mail identities of the active users with ``role`` (of ``site`` when given)."""
    if people is None or not len(people):
        return set()
    found = set()
    for identity, their_role, sites, active in people[["identity", "role", "sites", "active"]].itertuples(index=False):
        if their_role != role or not bool(active) or "@" not in str(identity):
            continue
        if site is None or site in list(sites):
            found.add(str(identity))
    return found


def roles_for(trial, rule: str) -> list[str]:
    """The roles a rule alerts (``[alerts] grade5 / sae / grade4_nonhaem / boundary``)."""
    a = trial.alerts
    by_rule = {"grade5": a.grade5, "sae": a.sae, "grade4_nonhaem": a.grade4_nonhaem, "boundary": a.boundary}
    return list(by_rule[rule])


def patient_link(trial, subject_id: str) -> str:
    """The Patient page of the dashboard for one patient (``[alerts] dashboard_url``)."""
    from urllib.parse import quote

    return f"{trial.alerts.dashboard_url}/patient?subject={quote(str(subject_id), safe='')}"


def page_link(trial, page: str) -> str:
    return f"{trial.alerts.dashboard_url}/{page}"


def retry_delay_minutes(trial, attempts: int) -> int:
    """Minutes to wait after the ``attempts``-th failed send (``[alerts] retry_minutes``; the last
    value repeats)."""
    steps = trial.alerts.retry_minutes
    return int(steps[min(max(attempts, 1), len(steps)) - 1])


def alerts_corrections(trial) -> bool:
    """Whether a correction that turns a stored event into an alert event alerts too."""
    return bool(trial.alerts.corrections)
