"""Who is acting. No identity provider is reachable here, so identity sits behind one function:
TOXDB_USER (or the login name) locally; a deployment can replace this with its own provider."""
from __future__ import annotations

import getpass
import os


def current_user() -> str:
    user = os.environ.get("TOXDB_USER")
    if user:
        return user
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return "unknown"


def current_role(trial) -> str:
    return os.environ.get("TOXDB_ROLE") or trial.roles.default_role
