"""Dose advice as the dashboard shows it: the inputs built from a data cut, a fingerprint of each hint,
and which hints a person has acknowledged (handled until new data change the advice).

Public API
----------
compute_snapshot_advice(snapshot, trial)     -> DoseAdviceResult (toxdb.dosing.result) as of the snapshot's cut
snapshot_advice_inputs(snapshot, trial)      -> dict of patients, events, labs, treatment, cut
advice_hash(row)                             -> sha256 hex of the fields that define the advice shown
derive_acknowledged(advice_table, acks)      -> advice_table + handled, acknowledged_by/_at, ack_comment
"""
from __future__ import annotations

import hashlib
import json
import math
from typing import Any, Mapping

import pandas as pd

from toxdb.clinical.events import DerivedEvents, derive_snapshot_events
from toxdb.clinical.labs import derive_lab_grades, derive_si_limits
from toxdb.dosing.engine import compute_dose_advice
from toxdb.dosing.result import ACTIONS, DoseAdviceResult

__all__ = ["HASH_FIELDS", "ACK_COLUMNS", "advice_hash", "derive_acknowledged", "compute_snapshot_advice",
           "snapshot_advice_inputs", "order_advice"]

# the fields that define the advice a person sees and acknowledges
HASH_FIELDS = ("subject_id", "agent", "action", "dose_percent", "dose_mg_per_intake", "rule", "reasons")
ACK_COLUMNS = ("handled", "acknowledged_by", "acknowledged_at", "ack_comment")
LAB_COLUMNS = ["subject_id", "collected_on", "test_code", "si_value", "uln", "lln"]


def _canonical(value: Any) -> Any:
    """One spelling per value: missing -> None, whole floats -> int, floats rounded to 6 places."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) or hasattr(value, "dtype"):
        try:
            f = float(value)
        except (TypeError, ValueError):
            return str(value)
        if math.isnan(f):
            return None
        return int(f) if f.is_integer() else round(f, 6)
    if isinstance(value, (int,)) and not isinstance(value, bool):
        return int(value)
    return str(value).strip()


def advice_hash(row: Mapping | pd.Series) -> str:
    """sha256 (hex) of subject_id, agent, action, dose_percent, dose_mg_per_intake, rule and reasons.

    Equal advice gives an equal hash whatever the dtypes (50 == 50.0, NaN == None); any change in
    those fields (new data, a new rule outcome) gives a new hash, so an acknowledgement lapses."""
    get = row.get if hasattr(row, "get") else (lambda k: row[k])
    payload = {f: _canonical(get(f)) for f in HASH_FIELDS}
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def derive_acknowledged(advice_table: pd.DataFrame, acks: pd.DataFrame | None) -> pd.DataFrame:
    """``advice_table`` with advice_hash, handled (an acknowledgement exists for the same subject,
    agent and hash), acknowledged_by, acknowledged_at and ack_comment (the latest matching
    acknowledgement; empty when not handled)."""
    out = advice_table.copy()
    out["advice_hash"] = [advice_hash(r) for r in out.to_dict("records")] if len(out) else pd.Series(dtype=object)
    keys = ["subject_id", "agent", "advice_hash"]
    if acks is None or len(acks) == 0 or not len(out):
        out["handled"] = False
        out["acknowledged_by"] = pd.Series(None, index=out.index, dtype=object)
        out["acknowledged_at"] = pd.Series(pd.NaT, index=out.index, dtype="datetime64[ns]")
        out["ack_comment"] = pd.Series(None, index=out.index, dtype=object)
        return out
    a = pd.DataFrame({
        "subject_id": acks["subject_id"].astype(str),
        "agent": acks["agent"].astype(str),
        "advice_hash": acks["advice_hash"].astype(str),
        "acknowledged_by": acks["made_by"].astype(object),
        "acknowledged_at": pd.to_datetime(acks["made_at"]),
        "ack_comment": acks["comment"].astype(object),
    })
    latest = a.sort_values("acknowledged_at", kind="stable").drop_duplicates(keys, keep="last")
    left = out.assign(_sid=out["subject_id"].astype(str), _agent=out["agent"].astype(str))
    merged = left.merge(latest.rename(columns={"subject_id": "_sid", "agent": "_agent"}),
                        on=["_sid", "_agent", "advice_hash"], how="left", validate="many_to_one")
    merged.index = out.index
    merged["handled"] = merged["acknowledged_at"].notna()
    merged["ack_comment"] = merged["ack_comment"].where(merged["handled"], None)
    return merged.drop(columns=["_sid", "_agent"])


def order_advice(table: pd.DataFrame) -> pd.DataFrame:
    """Rows that say something (not continue) first, by action severity, then subject and agent."""
    if not len(table):
        return table
    rank = {a: i for i, a in enumerate(reversed(ACTIONS))}     # stop, reduce, interrupt, continue
    return (table.assign(_rank=table["action"].map(rank).fillna(len(rank)))
            .sort_values(["_rank", "subject_id", "agent"], kind="stable")
            .drop(columns="_rank").reset_index(drop=True))


def _si_labs(labs: pd.DataFrame | None) -> pd.DataFrame:
    """Labs graded to SI with limits converted to the same unit as si_value."""
    if labs is None or len(labs) == 0:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in LAB_COLUMNS}).astype(
            {"collected_on": "datetime64[ns]", "si_value": float, "uln": float, "lln": float})
    graded = derive_si_limits(derive_lab_grades(labs))
    out = pd.DataFrame({
        "subject_id": graded["subject_id"].astype(str),
        "collected_on": pd.to_datetime(graded["collected_on"]),
        "test_code": graded["test_code"],
        "si_value": pd.to_numeric(graded["si_value"], errors="coerce").astype(float),
        "uln": graded["uln_si"],
        "lln": graded["lln_si"],
    })
    return out[out["test_code"].notna() & out["si_value"].notna()].reset_index(drop=True)[LAB_COLUMNS]


def snapshot_advice_inputs(snapshot, trial, derived: DerivedEvents | None = None) -> dict[str, Any]:
    """The arguments of toxdb.dosing.engine.compute_dose_advice for a cuts.Snapshot (labs are read when present).
    ``derived``: the snapshot's events when the caller has derived them already (same window)."""
    if derived is None:
        derived = derive_snapshot_events(snapshot, trial.phases.post_treatment_window_days)
    return {
        "patients": snapshot.patients,
        "events": derived.events,
        "labs": _si_labs(snapshot.labs),
        "treatment": snapshot.treatment,
        "cut": snapshot.cut.cut_date,
    }


def compute_snapshot_advice(snapshot, trial, derived: DerivedEvents | None = None) -> DoseAdviceResult:
    """Dose advice as of the snapshot's cut (one row per patient on treatment and agent)."""
    inputs = snapshot_advice_inputs(snapshot, trial, derived)
    return compute_dose_advice(inputs["patients"], inputs["events"], inputs["labs"], inputs["treatment"],
                               trial, inputs["cut"])
