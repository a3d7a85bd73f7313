"""What the dose rules hand back: one ``Advice`` per patient and agent, and the trial-wide result."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, fields
from typing import Any

import pandas as pd

ACTIONS = ("continue", "interrupt", "reduce", "stop")
TABLE_COLUMNS = [
    "subject_id", "agent", "phase", "action", "dose_percent", "dose_level_mg",
    "dose_mg_per_intake_calculated", "dose_mg_per_intake", "tablets", "bsa", "crcl", "crcl_effect",
    "reasons", "rule", "resume_at_percent", "alternative", "pi_flags", "notes",
]
FLAG_COLUMNS = ["subject_id", "rule", "flag"]


@dataclass
class Advice:
    """One agent's advice for one patient at the cut (one row of DoseAdviceResult.table)."""

    subject_id: str
    agent: str
    phase: str | None = None
    action: str = "continue"
    dose_percent: float = float("nan")
    dose_level_mg: float = float("nan")
    dose_mg_per_intake_calculated: float = float("nan")
    dose_mg_per_intake: float = float("nan")
    tablets: str = ""
    bsa: float = float("nan")
    crcl: float = float("nan")
    crcl_effect: str = ""
    reasons: str = ""
    rule: str = ""
    resume_at_percent: float = float("nan")
    alternative: str = ""
    pi_flags: str = ""
    notes: str = ""
    tablet_counts: dict[int, int] = field(default_factory=dict)

    def as_row(self) -> dict[str, Any]:
        """The table row: every field but tablet_counts (plain values, so no deep copy as asdict makes)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "tablet_counts"}


@dataclass
class DoseAdviceResult:
    """``table``: one row per patient and agent; ``summary``: rows by action (per agent and total);
    ``flags``: PI flags (subject_id, rule, flag) for every patient, on treatment or not."""

    table: pd.DataFrame
    summary: pd.DataFrame
    flags: pd.DataFrame
    cut: dt.date


def join_unique(values) -> str:
    """Texts that may each hold several "; "-separated parts, joined once each in first-seen order."""
    seen = dict.fromkeys(p for v in values for p in str(v).split("; ") if p)
    return "; ".join(seen)
