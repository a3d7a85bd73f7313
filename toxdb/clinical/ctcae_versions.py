"""CTCAE versions: which exist, the version of record, and how a version is written.

The dictionary and mapping of v6.0 live in ``toxdb.clinical.ctcae_v6``; lab grading for both
versions in ``toxdb.clinical.labs``. The trial file names the version of record
(``[ctcae] version``); the other version is computed beside it, never instead of it.
"""
from __future__ import annotations

from typing import Any

CTCAE_VERSIONS = ("5.0", "6.0")
DEFAULT_VERSION = "5.0"


def ctcae_version(value: Any) -> str:
    """'5', 5, 5.0, 'v5', 'CTCAE v5.0' -> '5.0'; ValueError naming the versions for anything else."""
    text = str(value).strip().lower().removeprefix("ctcae").strip().removeprefix("v").strip()
    try:
        canonical = f"{float(text):.1f}"
    except ValueError:
        canonical = text
    if canonical not in CTCAE_VERSIONS:
        raise ValueError(f"CTCAE version {value!r} not known; one of {', '.join(CTCAE_VERSIONS)}")
    return canonical


def other_version(version: Any) -> str:
    """The version that is not ``version`` ('5.0' <-> '6.0')."""
    v = ctcae_version(version)
    return next(o for o in CTCAE_VERSIONS if o != v)


def version_suffix(version: Any) -> str:
    """Column suffix of a version: '5.0' -> 'v5' (grade_v5, ctcae_term_v5, ...)."""
    return "v" + ctcae_version(version).split(".")[0]


def version_of_record(trial: Any = None) -> str:
    """The trial file's CTCAE version of record (``[ctcae] version``; 5.0 when no trial is given)."""
    if trial is None:
        from toxdb.trial import load_trial

        trial = load_trial()
    return ctcae_version(trial.ctcae.version)
