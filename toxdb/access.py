"""Who may do what: the one permission check that pages, the CLI and reports call (D60).

Roles and their actions are data: ``[roles.NAME]`` in trial.toml (``actions``, ``own_sites_only``).
Each person (identity = the e-mail the identity provider gives, lower case) has a row in the store's
users table: name, role, site(s), active. In local mode (no sign-in configured) and for CLI commands
the person at the keyboard is the OS user acting as ``[roles] local_role`` (D62).

Public API (all other modules use only these)::

    from toxdb.access import Person, allowed, denial, require, scope, AccessDenied, ACTIONS

    allowed(person, "upload", site="SITE-A")  -> bool
    denial(person, "upload", site="SITE-A")   -> None when allowed, else a sentence saying why
    require(person, "acknowledge")            -> None, or raises AccessDenied(sentence)
    scope(person)                             -> None (all sites) or the tuple of sites the person
                                                 may see; pass it to Store.scoped(...)
    person_from_row(row) / local_person()     -> a Person (from a users row / the OS user)

In the dashboard (app/state.py) the same check is bound to the session's person:
``state.person()``, ``state.user()`` (the identity the audit log records), ``state.allowed(action,
site)``, ``state.require(action, site)`` (stops the page with the reason), ``state.get_store()``
(already scoped to the person's sites: build every table, chart and export from it) and
``state.download_button(container, label, data, file_name, key, action="report")`` (offered only
when allowed, audited when pressed). The CLI uses ``local_person()``.

``site=None`` asks whether the person may take the action at all; a call that acts on one site's
data (an upload, a mapping, a patient's advice) passes that site, and a role with
``own_sites_only`` is then refused any site that is not theirs. An inactive person may do nothing.
A new action (a new page or button that needs its own right) is added to ``ACTIONS`` here, with
the words that name it, and to the roles in trial.toml that have it.
"""
from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from toxdb.i18n import N_, _

# action -> what it lets a person do (shown in denials and on the Admin page)
ACTIONS: dict[str, str] = {
    "view": N_("see the trial's pages, tables and charts"),
    "report": N_("build reports and download tables and exports"),
    "download_raw": N_("download uploaded files and rejected rows"),
    "upload": N_("load data files"),
    "map": N_("save column mappings"),
    "acknowledge": N_("acknowledge dose advice"),
    "answer_query": N_("answer data queries"),
    "query": N_("raise, close and re-open queries to sites"),
    "review": N_("mark records reviewed"),
    "cuts": N_("save data cuts"),
    "users": N_("manage users"),
    "trial_file": N_("change the trial file"),
    "acknowledge_alert": N_("acknowledge e-mail alerts"),
    "send_alerts": N_("send waiting e-mail alerts now"),
}


class AccessDenied(PermissionError):
    """Raised by ``require``; the message is a sentence for the person refused."""


@dataclass(frozen=True)
class Person:
    """Who is acting: identity (e-mail or OS login), display name, role, site(s), active."""
    identity: str
    role: str
    name: str = ""
    sites: tuple[str, ...] = field(default_factory=tuple)
    active: bool = True
    local: bool = False          # the OS user in local mode or on the command line

    @property
    def label(self) -> str:
        """Name and identity as the audit log and the sidebar show them."""
        return f"{self.name} <{self.identity}>" if self.name and self.name != self.identity else self.identity


def _roles(trial=None) -> dict:
    if trial is None:
        from toxdb.trial import load_trial

        trial = load_trial()
    return trial.roles.named()


def role_names(trial=None) -> list[str]:
    return list(_roles(trial))


def denial(person: Person | None, action: str, site: str | None = None, trial=None) -> str | None:
    """None when ``person`` may take ``action`` (on ``site``'s data when given), else why not."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; one of {', '.join(ACTIONS)}")
    what = _(ACTIONS[action])
    if person is None:
        return _("You are not signed in, so you may not {what}.").format(what=what)
    if not person.active:
        return _("The account {who} is disabled; ask a data manager.").format(who=person.identity)
    role = _roles(trial).get(person.role)
    if role is None:
        return _("The role {role} of {who} is not defined in the trial file; ask a data manager.").format(
            role=person.role, who=person.identity)
    if action not in role.actions:
        return _("Your role ({role}) may not {what}.").format(role=person.role, what=what)
    if role.own_sites_only and site is not None and site not in person.sites:
        return _("You may {what} for your own site(s) only ({sites}), not for site {site}.").format(
            what=what, sites=", ".join(person.sites) or _("none"), site=site)
    if role.own_sites_only and not person.sites:
        return _("No site is assigned to {who}; ask a data manager.").format(who=person.identity)
    return None


def allowed(person: Person | None, action: str, site: str | None = None, trial=None) -> bool:
    """May ``person`` take ``action`` (on ``site``'s data when given)? The one permission check."""
    return denial(person, action, site, trial) is None


def require(person: Person | None, action: str, site: str | None = None, trial=None) -> None:
    """Raise AccessDenied with the worded reason unless ``allowed``."""
    reason = denial(person, action, site, trial)
    if reason is not None:
        raise AccessDenied(reason)


def scope(person: Person | None, trial=None) -> tuple[str, ...] | None:
    """The sites whose patients ``person`` may see: None for all sites, else their own site(s)
    (an empty tuple, nothing, for a person without a role or site)."""
    if person is None or not person.active:
        return ()
    role = _roles(trial).get(person.role)
    if role is None:
        return ()
    return tuple(person.sites) if role.own_sites_only else None


def local_person(trial=None) -> Person:
    """The OS user (or TOXDB_USER) as ``[roles] local_role``: local mode and the command line."""
    from toxdb.identity import current_user

    if trial is None:
        from toxdb.trial import load_trial

        trial = load_trial()
    return Person(identity=current_user(), role=trial.roles.local_role, local=True)


def person_from_row(row: dict | None) -> Person | None:
    """A users-table row (identity, name, role, sites, active) as a Person; None stays None."""
    if row is None:
        return None
    return Person(identity=row["identity"], role=row["role"], name=row.get("name") or "",
                  sites=tuple(row.get("sites") or ()), active=bool(row.get("active", True)))


# ------------------------------------------------------------------------------------------------
# the person acting in this run (core modules that act for someone: queries, reviews)

_ACTING: contextvars.ContextVar[Person | None] = contextvars.ContextVar("toxdb_acting_person", default=None)


@contextmanager
def acting_as(person: Person | None) -> Iterator[Person | None]:
    """Within the block, ``acting_person()`` is ``person`` (the dashboard sets the session's person
    around each page run; None leaves the default)."""
    token = _ACTING.set(person)
    try:
        yield person
    finally:
        _ACTING.reset(token)


def acting_person(trial=None) -> Person:
    """Who is acting in this run: the person the dashboard set (``acting_as``), else the person at
    the keyboard as ``[roles] local_role`` (local mode and the command line)."""
    return _ACTING.get() or local_person(trial)


def acting_sites(trial=None) -> tuple[str, ...] | None:
    """The sites the person acting is limited to (None: every site)."""
    return scope(acting_person(trial), trial)
