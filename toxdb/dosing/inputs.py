"""The adverse events as the dose rules read them, and the small text helpers their hints share.

Every dose rule (capecitabine, S-1, holds) starts from :func:`prepare_events`: one row per merged
event with onset on or before the cut, its worst grade, whether it is ongoing at the cut (D9) and
whether it is attributed only to RT (D16). Vectorised over the whole trial.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping

import numpy as np
import pandas as pd

from toxdb.arrays import as_dates
from toxdb.vocab import ON_TREATMENT, PHASES

OFF_PHASES = tuple(p for p in PHASES if p not in ON_TREATMENT)       # pre- and post-treatment
EVENT_COLUMNS = ["subject_id", "term", "term_key", "grade", "onset_date", "end_date", "phase", "soc_key",
                 "rt_only", "ongoing"]
_RT_ONLY = {"rt", "radiotherapy"}


def _each_distinct(s: pd.Series, fn) -> pd.Series:
    """``fn`` (an element-wise text function) worked out once per distinct value and spread back to
    the rows: a few phases or SOCs over a million rows."""
    codes, uniques = pd.factorize(s, use_na_sentinel=False)
    out = fn(pd.Series(uniques, dtype=s.dtype if len(uniques) else object)).take(codes)
    out.index = s.index
    return out


def text_key(s: pd.Series) -> pd.Series:
    """Text compared without case or outer spaces (missing -> "")."""
    return _each_distinct(s, lambda u: u.astype("string").fillna("").str.strip().str.lower())


def term_keys(terms: Iterable[str]) -> set[str]:
    """The trial file's term lists in the form :func:`text_key` gives."""
    return {str(t).strip().lower() for t in terms}


def is_haematological(term_key: pd.Series, trial) -> pd.Series:
    """Whether each term (in text_key form) is haematological: the trial file's one list
    (``holds.haematological_terms``) behind the hold rules, the PI flags and the e-mail alerts."""
    return term_key.isin(term_keys(trial.holds.haematological_terms))


def column(df: pd.DataFrame, *names: str, default=None) -> pd.Series:
    """The first of ``names`` that the frame has, else a column of ``default``."""
    for n in names:
        if n in df.columns:
            return df[n]
    return pd.Series(default, index=df.index, dtype=object)


def map_subject_dates(subjects: pd.Series, mapping) -> pd.Series:
    """subject_id -> date lookup (mapping: dict or Series); unknown subjects give NaT."""
    mapping = dict(mapping.items()) if isinstance(mapping, pd.Series) else dict(mapping)
    if not mapping:
        return pd.Series(pd.NaT, index=subjects.index, dtype="datetime64[ns]")
    return as_dates(subjects.map(mapping))


def _ae_phase(s: pd.Series) -> pd.Series:
    """An AE phase as written ("Post treatment") in its stored spelling ("post-treatment")."""
    return _each_distinct(s, lambda u: text_key(u).str.replace(r"[\s_]+", "-", regex=True))


def prepare_events(events: pd.DataFrame | None, cut: pd.Timestamp) -> pd.DataFrame:
    """Canonical event frame: onset on or before the cut, one row per (merged) event (EVENT_COLUMNS).

    Reads ``worst_grade`` (or ``grade``), ``phase``, ``soc`` and ``attributed_to`` when present; a
    frame already prepared is returned as it is."""
    if events is None or len(events) == 0:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in EVENT_COLUMNS}).astype(
            {"grade": float, "onset_date": "datetime64[ns]", "end_date": "datetime64[ns]",
             "rt_only": bool, "ongoing": bool})
    if "_prepared" in events.attrs:
        return events
    ev = pd.DataFrame({
        "subject_id": events["subject_id"].astype(str),
        "term": events["term"].astype(str).str.strip(),
        "grade": pd.to_numeric(column(events, "worst_grade", "grade"), errors="coerce").astype(float),
        "onset_date": as_dates(events["onset_date"]),
        "end_date": as_dates(column(events, "end_date")),
        "phase": _ae_phase(column(events, "phase")),
        "soc_key": text_key(column(events, "soc")),
        "rt_only": text_key(column(events, "attributed_to")).isin(_RT_ONLY),
    })
    ev["term_key"] = ev["term"].str.lower()
    ev = ev[ev["grade"].notna() & ev["onset_date"].notna() & (ev["onset_date"] <= cut)]
    # one fixed order, whatever order the store returned the rows in: the rules count appearances and
    # list reasons in this order, and acknowledgements are tied to the advice's words (D84)
    ev = ev.sort_values(["subject_id", "onset_date", "term_key", "grade", "end_date"], kind="stable",
                        na_position="last").reset_index(drop=True)
    ev["ongoing"] = ev["end_date"].isna() | (ev["end_date"] > cut)          # D9
    ev = ev[EVENT_COLUMNS]
    ev.attrs["_prepared"] = True
    return ev


def in_course(ev: pd.DataFrame, course_start: Mapping | pd.Series | None) -> pd.Series:
    """On treatment (not pre/post-treatment) and, when the course start is known, on or after it."""
    mask = ~ev["phase"].isin(OFF_PHASES)
    if course_start is not None and len(ev):
        start = map_subject_dates(ev["subject_id"], course_start)
        mask &= start.isna() | (ev["onset_date"] >= start)
    return mask


def with_empty(ev: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
    """An empty event frame with the derived columns a derive_* function would add."""
    return ev.assign(**{c: pd.Series(dtype=t) for c, t in columns.items()})


def ordinal(n: pd.Series) -> pd.Series:
    """1 -> "1st", 2 -> "2nd", 11 -> "11th" for a whole column."""
    n = n.fillna(0).astype(int)
    last, teen = n % 10, (n % 100 >= 11) & (n % 100 <= 13)
    suffix = np.where(teen, "th", np.select([last == 1, last == 2, last == 3], ["st", "nd", "rd"], "th"))
    return n.astype(str) + pd.Series(suffix, index=n.index, dtype=str)


def event_label(ev: pd.DataFrame) -> pd.Series:
    """'Diarrhea G3 (onset 2025-07-01, ongoing)' for each row."""
    status = np.where(ev["ongoing"], "ongoing", "resolved " + ev["end_date"].dt.strftime("%Y-%m-%d").fillna(""))
    return (ev["term"] + " G" + ev["grade"].astype(int).astype(str) + " (onset "
            + ev["onset_date"].dt.strftime("%Y-%m-%d") + ", " + pd.Series(status, index=ev.index) + ")")


def pct(p: float) -> str:
    return f"{p:g} %"


def per_subject_list(ev: pd.DataFrame, mask: pd.Series, column: str, split: bool = False) -> dict[str, list[str]]:
    """{subject: [values in order, unique]}; with ``split`` each value may hold several "; "-ids."""
    sub = ev[mask]
    if not len(sub):
        return {}
    seen: dict[str, dict[str, None]] = {}
    # one pass over plain Python values (a group-by with a Python function per group costs seconds
    # on a large trial's text columns)
    for sid, v in zip(sub["subject_id"].to_numpy(object), sub[column].to_numpy(object)):
        parts = seen.setdefault(sid, {})
        for p in (str(v).split("; ") if split else [str(v)]):
            if p:
                parts[p] = None
    return {sid: list(parts) for sid, parts in seen.items()}


@dataclass
class PatientInputs:
    """One patient's facts at the cut that every agent's advice reads (besides the event steps)."""

    subject_id: str
    phase: str | None                      # of the current chemotherapy cycle (D19)
    bsa: float = float("nan")
    crcl: float = float("nan")
    crcl_source: str = ""
    lab: Mapping[str, tuple] = field(default_factory=dict)    # test -> (value, ULN, date), D17
    notes: list[str] = field(default_factory=list)            # how the treatment status was read
    chemo_holds: list[tuple[str, str]] = field(default_factory=list)   # (rule, event label), D20
    rt_holds: list[tuple[str, str]] = field(default_factory=list)
    rt_interruption_days: int | None = None                   # D18
