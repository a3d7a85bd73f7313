"""Lab values the dose rules check: the latest value of each test in the current cycle (D17), and
the blood-count and liver limits of the trial file applied to them."""
from __future__ import annotations

from typing import Mapping

import pandas as pd

from toxdb.arrays import as_dates, map_distinct
from toxdb.clinical.labs import lab_test_code
from toxdb.dosing.inputs import column, map_subject_dates

LAB_COLUMNS = ["subject_id", "collected_on", "test_code", "si_value", "uln"]


def _test_code(text) -> str | None:
    """The graded test a written code names (NEUT -> ANC, the lab grading's synonyms); other codes
    are kept upper-cased so that a check never matches them by accident."""
    if text is None or pd.isna(text):
        return None
    return lab_test_code(text) or str(text).strip().upper()


def prepare_labs(labs: pd.DataFrame | None, cut: pd.Timestamp) -> pd.DataFrame:
    """Lab rows with a date and a number up to the cut (LAB_COLUMNS), by subject, test and date."""
    if labs is None or len(labs) == 0:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in LAB_COLUMNS}).astype(
            {"collected_on": "datetime64[ns]", "si_value": float, "uln": float})
    code = map_distinct(column(labs, "test_code", "test"), _test_code).astype(object)
    out = pd.DataFrame({
        "subject_id": labs["subject_id"].astype(str),
        "collected_on": as_dates(labs["collected_on"]),
        "test_code": code.where(code.notna(), None),
        "si_value": pd.to_numeric(column(labs, "si_value", "value"), errors="coerce").astype(float),
        "uln": pd.to_numeric(column(labs, "uln"), errors="coerce").astype(float),
    })
    out = out[out["collected_on"].notna() & out["si_value"].notna() & (out["collected_on"] <= cut)]
    return out.sort_values(["subject_id", "test_code", "collected_on"], kind="stable")


def latest_labs(labs: pd.DataFrame, window_start: Mapping[str, pd.Timestamp]) -> dict[str, dict[str, tuple]]:
    """{subject: {test: (value, uln, date)}}: the latest value of each test from the window start."""
    if not len(labs) or not window_start:
        return {}
    start = map_subject_dates(labs["subject_id"], window_start)
    inside = labs[start.notna() & (labs["collected_on"] >= start)]
    last = inside.groupby(["subject_id", "test_code"], sort=False).tail(1)
    out: dict[str, dict[str, tuple]] = {}
    for sid, test, value, uln, when in zip(last["subject_id"], last["test_code"], last["si_value"],
                                           last["uln"], last["collected_on"]):
        out.setdefault(sid, {})[test] = (value, uln, when)
    return out


def lab_text(test: str, value: float, when: pd.Timestamp, limit: str) -> str:
    return f"{test} {value:g} on {when:%Y-%m-%d} {limit}"


def count_checks(lab: Mapping[str, tuple], anc_below: float, plt_below: float, rule_anc: str,
                 rule_plt: str) -> list[tuple[str, str]]:
    """(rule, text) for a latest ANC or platelet count below its limit (×10⁹/L)."""
    hits = []
    if "ANC" in lab and lab["ANC"][0] < anc_below:
        hits.append((rule_anc, lab_text("ANC", lab["ANC"][0], lab["ANC"][2], f"< {anc_below:g} ×10⁹/L")))
    if "PLT" in lab and lab["PLT"][0] < plt_below:
        hits.append((rule_plt, lab_text("platelets", lab["PLT"][0], lab["PLT"][2], f"< {plt_below:g} ×10⁹/L")))
    return hits


def uln_checks(lab: Mapping[str, tuple], limits: Mapping[str, tuple[float, str]]) -> tuple[list, list]:
    """(hits, notes) for tests above a multiple of their ULN; a missing ULN is noted, not guessed."""
    hits, notes = [], []
    for test, (times, rule) in limits.items():
        if test not in lab:
            continue
        value, uln, when = lab[test]
        if pd.isna(uln) or uln <= 0:
            notes.append(f"{test} on {when:%Y-%m-%d} has no ULN: not checked")
        elif value > times * uln:
            hits.append((rule, lab_text(test, value, when, f"> {times:g} × ULN ({times * uln:g})")))
    return hits, notes
