"""The one permission check: may this user do this action (at this site)?

Roles and their actions are data (trial.toml [roles]); the user's role comes from the identity
module (toxdb.identity.current_role). Sign-in (issue 11) replaces how the role is found; callers
keep calling ``allowed``.
"""
from __future__ import annotations

from toxdb.identity import current_role
from toxdb.trial import load_trial


def allowed(user: str, action: str, site: str | None = None, trial=None) -> bool:
    """True when ``user``'s role lists ``action`` in the trial file ([roles]). ``site`` is accepted
    for site-bound actions; roles are not tied to sites yet."""
    trial = trial or load_trial()
    return action in trial.permissions(current_role(trial))
