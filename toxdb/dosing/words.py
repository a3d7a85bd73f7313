"""Dose advice in words for people: what to do (an interrupt reads "hold; resume at X mg when ≤ grade 1",
never like a dose to give), the reason without rule ids, and the rule in words.

Rule ids (``cape.table.g3.n1``, ``pi.rt_interruption``, ...) stay in exports; people read the words of
``toxdb/data/dose_rules.csv`` (one row per rule id or id pattern, a column per language; ``{name}``
placeholders are filled from the id or from trial.toml [holds]). D79 in docs/decisions.md.

Public API
----------
rule_in_words(rule_ids, trial)          -> "; "-joined words of the "; "-separated rule ids
reasons_in_words(reasons)               -> the reasons without the bracketed rule ids
advice_in_words(row, trial)             -> the action as an instruction
derive_advice_words(table, trial)       -> table + advice_text, reason_text, rule_text (+ ack_text)
"""
from __future__ import annotations

import csv
import re
from functools import lru_cache

import pandas as pd

from toxdb import DATA_DIR
from toxdb.i18n import _, current_language
from toxdb.vocab import RT

__all__ = [
    "RULES_CSV",
    "advice_in_words",
    "derive_advice_words",
    "known_rule",
    "reasons_in_words",
    "rule_in_words",
]

RULES_CSV = DATA_DIR / "dose_rules.csv"
# chemotherapy resumes "when the event is back to grade 0-1": the capecitabine toxicity table, the S-1
# rules and the holds during chemoradiotherapy all say so (docs/clinical-rules.md); RT resumes at
# trial.toml holds.rt_resume_grade_max
CHEMO_RESUME_GRADE = 1
_BRACKETED_IDS = re.compile(r"\s*\[[a-z0-9_.;\s]+\]")


@lru_cache(maxsize=1)
def _rules() -> tuple[tuple[re.Pattern, dict[str, str]], ...]:
    """(pattern of the id, {language: template}), exact ids before patterns."""
    with RULES_CSV.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    out = []
    for row in sorted(rows, key=lambda r: "{" in r["rule"]):
        parts = re.split(r"\{(\w+)\}", row["rule"])
        regex = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>[a-z0-9_]+)" for i, p in enumerate(parts))
        out.append((re.compile(f"^{regex}$"), {k: v for k, v in row.items() if k != "rule"}))
    return tuple(out)


def _trial_values(trial) -> dict:
    h = trial.holds
    return {"rt_hold_grade_min": h.rt_hold_grade_min, "chemo_hold_nonhaem_grade_min": h.chemo_hold_nonhaem_grade_min,
            "chemo_hold_hfs_grade_min": h.chemo_hold_hfs_grade_min,
            "rt_interruption_flag_days": h.rt_interruption_flag_days}


def known_rule(rule_id: str) -> bool:
    return any(p.match(rule_id) for p, _t in _rules())


def _one(rule_id: str, values: dict, lang: str) -> str:
    for pattern, templates in _rules():
        m = pattern.match(rule_id)
        if m:
            text = templates.get(lang) or templates["en"]
            return text.format(**values, **m.groupdict())
    return rule_id          # a rule the table does not know yet: shown as it is rather than hidden


def rule_in_words(rule_ids, trial) -> str:
    if rule_ids is None or (isinstance(rule_ids, float) and pd.isna(rule_ids)):
        return ""
    values, lang = _trial_values(trial), current_language()
    ids = [r.strip() for r in str(rule_ids).split(";") if r.strip()]
    return "; ".join(dict.fromkeys(_one(r, values, lang) for r in ids))


def reasons_in_words(reasons) -> str:
    if reasons is None or (isinstance(reasons, float) and pd.isna(reasons)):
        return ""
    return _BRACKETED_IDS.sub("", str(reasons)).strip()


def _mg(value) -> str | None:
    return None if value is None or pd.isna(value) else f"{float(value):.0f}"


def advice_in_words(row, trial) -> str:
    """The action of one advice row as an instruction."""
    action, agent = row["action"], row["agent"]
    mg, pct = _mg(row.get("dose_mg_per_intake")), _mg(row.get("dose_percent"))
    if agent == RT:
        if action == "interrupt":
            return _("hold radiotherapy; resume when ≤ grade {grade}").format(grade=trial.holds.rt_resume_grade_max)
        return _("stop radiotherapy") if action == "stop" else _("continue radiotherapy")
    if action == "interrupt":
        if mg is None:
            return _("hold; resume when ≤ grade {grade}").format(grade=CHEMO_RESUME_GRADE)
        return _("hold; resume at {mg} mg per intake ({percent} %) when ≤ grade {grade}").format(
            mg=mg, percent=pct, grade=CHEMO_RESUME_GRADE)
    if action == "stop":
        alternative = row.get("alternative")
        text = _("stop {agent}").format(agent=agent)
        return text + (_(" (or: {alternative})").format(alternative=alternative) if alternative else "")
    if action == "reduce":
        return _("reduce to {mg} mg per intake ({percent} %)").format(mg=mg, percent=pct)
    return _("continue at {mg} mg per intake ({percent} %)").format(mg=mg, percent=pct) if mg else _("continue")


def acknowledged_in_words(row) -> str:
    """"✓ who, date" for an acknowledged hint, else that it waits for acknowledgement."""
    if not row.get("handled"):
        return _("waiting")
    at = row.get("acknowledged_at")
    when = "" if at is None or pd.isna(at) else pd.Timestamp(at).strftime("%Y-%m-%d")
    return _("✓ {user}, {day}").format(user=row.get("acknowledged_by") or "", day=when)


def derive_advice_words(table: pd.DataFrame, trial) -> pd.DataFrame:
    """``table`` (dose advice rows) + advice_text, reason_text and rule_text in the reader's language, and
    ack_text when the table says which hints are acknowledged (``derive_acknowledged``)."""
    rows = table.to_dict("records")
    out = table.assign(advice_text=[advice_in_words(r, trial) for r in rows],
                       reason_text=[reasons_in_words(r.get("reasons")) for r in rows],
                       rule_text=[rule_in_words(r.get("rule"), trial) for r in rows])
    if "handled" in table.columns:
        out["ack_text"] = [acknowledged_in_words(r) for r in rows]
    return out
