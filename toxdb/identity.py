"""Who is at the keyboard when no one signs in: TOXDB_USER, else the OS login name.

This is the identity of local mode (no sign-in configured) and of every CLI command; such a person
acts as ``[roles] local_role`` of the trial file (``toxdb.access.local_person``, D62). Signed-in
people come from the identity provider and the store's users table (app/state.py ``person()``).
"""
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
