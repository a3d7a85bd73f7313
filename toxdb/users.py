"""People: who may sign in, with which role and site(s) (D61). Checked here, stored by the store.

    add_user(store, "ana@hospital.cn", role="coordinator", sites=["SITE-A"], name="Ana", actor=me)
    set_user(store, "ana@hospital.cn", role="investigator", sites=[], actor=me)
    disable_user(store, "ana@hospital.cn", actor=me)
    find_person(store, "Ana@Hospital.cn")   -> Person or None

A role not defined in the trial file, a site the store does not know (unless ``new_sites``), an
identity that is not an e-mail address, or a site-bound role without a site is refused with a
``UserError`` whose message says what would be accepted. Every change is audited by the store.
"""
from __future__ import annotations

import re

from toxdb.access import Person, person_from_row, role_names
from toxdb.i18n import _
from toxdb.store.db import Store

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


class UserError(ValueError):
    """A user change that cannot be made; the message is a sentence for the person who asked."""


def find_person(store: Store, identity: str | None) -> Person | None:
    """The active or disabled person with this identity, or None when there is no users row."""
    return person_from_row(store.user(identity)) if identity else None


def _check(store: Store, identity: str, role: str, sites: list[str], new_sites: bool, trial) -> list[str]:
    if not _EMAIL.match(identity.strip()):
        raise UserError(_("{identity} is not an e-mail address; people are known by the e-mail their sign-in "
                          "gives").format(identity=identity))
    roles = role_names(trial)
    if role not in roles:
        raise UserError(_("There is no role {role}; the trial file defines {roles}.").format(
            role=role, roles=", ".join(roles)))
    sites = list(dict.fromkeys(s.strip() for s in sites if s.strip()))
    known = store.sites()
    unknown = [s for s in sites if s not in known]
    if unknown and not new_sites:
        raise UserError(_("Unknown site(s) {sites}; the store knows {known}. Check the spelling, or add a new "
                          "site with --new-site.").format(sites=", ".join(unknown), known=", ".join(known) or _("none")))
    own_only = (trial.roles.named() if trial else _trial().roles.named())[role].own_sites_only
    if own_only and not sites:
        raise UserError(_("A {role} works for their own site(s): give at least one site.").format(role=role))
    return sites


def _trial():
    from toxdb.trial import load_trial

    return load_trial()


def add_user(store: Store, identity: str, *, role: str, sites: list[str], actor: str, name: str | None = None,
             new_sites: bool = False, trial=None) -> Person:
    trial = trial or _trial()
    sites = _check(store, identity, role, sites, new_sites, trial)
    if store.user(identity) is not None:
        raise UserError(_("{identity} is already a user; change them with `users set`.").format(identity=identity))
    store.put_user(identity, name=name, role=role, sites=sites, active=True, actor=actor, action="user_added")
    return find_person(store, identity)


def set_user(store: Store, identity: str, *, actor: str, role: str | None = None, sites: list[str] | None = None,
             name: str | None = None, active: bool | None = None, new_sites: bool = False, trial=None) -> Person:
    """Change what is given (role, sites, name, active); the rest stays."""
    trial = trial or _trial()
    current = find_person(store, identity)
    if current is None:
        raise UserError(_("{identity} is not a user; add them with `users add`.").format(identity=identity))
    role = role or current.role
    sites = _check(store, identity, role, list(current.sites) if sites is None else sites, new_sites, trial)
    store.put_user(identity, name=current.name if name is None else name, role=role, sites=sites,
                   active=current.active if active is None else active, actor=actor,
                   action="user_disabled" if active is False else "user_changed")
    return find_person(store, identity)


def disable_user(store: Store, identity: str, *, actor: str, trial=None) -> Person:
    """Take away every right; the row stays (the log names the person)."""
    return set_user(store, identity, actor=actor, active=False, trial=trial)
