"""One permission check for every action a person takes in toxdb (raise or answer a query, mark a
record reviewed, ...): ``allowed(action, site)``.

Who acts comes from ``toxdb.identity`` (current_user / current_role); what a role may do comes from
``trial.toml [roles]`` (``Trial.permissions``). A person tied to one site (``TOXDB_SITE``, e.g. a site
coordinator) acts only on that site's records. When the sign-in module (``toxdb.access`` with
``allowed(user, action, site)``) is present, it decides instead: nothing else changes (D75).
"""
from __future__ import annotations

import importlib
import os

from toxdb.identity import current_role, current_user

__all__ = ["allowed", "current_site"]


def current_site() -> str | None:
    """The site the person acting belongs to (None: every site, e.g. the PI or the data manager)."""
    return os.environ.get("TOXDB_SITE") or None


def allowed(action: str, site: str | None = None, trial=None) -> bool:
    """May the person acting do ``action`` (a word of trial.toml [roles]) on a record of ``site``?"""
    try:
        access = importlib.import_module("toxdb.access")
    except ImportError:
        access = None
    if access is not None and hasattr(access, "allowed"):
        return bool(access.allowed(current_user(), action, site))
    if trial is None:
        from toxdb.trial import load_trial
        trial = load_trial()
    if action not in trial.permissions(current_role(trial)):
        return False
    mine = current_site()
    return mine is None or site is None or str(site) == mine
