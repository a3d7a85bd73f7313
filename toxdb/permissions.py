"""The permission check bound to the person acting in this run, for core modules that act for someone
(queries to sites, record review). The rule itself is ``toxdb.access.allowed`` (D60); who acts is
``toxdb.access.acting_person`` (the signed-in person around a page run, the OS user on the command line).
"""
from __future__ import annotations

from toxdb import access

__all__ = ["allowed", "current_site", "current_user", "current_role"]


def allowed(action: str, site: str | None = None, trial=None) -> bool:
    """May the person acting do ``action`` (a name of ``toxdb.access.ACTIONS``) on a record of ``site``?"""
    return access.allowed(access.acting_person(trial), action, site, trial)


def current_user(trial=None) -> str:
    """The identity of the person acting, as the audit log and the query threads record it."""
    return access.acting_person(trial).identity


def current_role(trial=None) -> str:
    return access.acting_person(trial).role


def current_site(trial=None) -> str | None:
    """The one site the person acting is limited to (None: every site, or several)."""
    sites = access.acting_sites(trial)
    return sites[0] if sites is not None and len(sites) == 1 else None
