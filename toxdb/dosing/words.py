"""Dose advice in words for people: what to do (an interrupt reads "hold; resume at X mg when ≤ grade 1",
never like a dose to give), the reason without rule ids, and the rule in words.

Rule ids (``cape.table.g3.n1``, ``pi.rt_interruption``, ...) stay in exports; people read the words of
``toxdb/data/dose_rules.csv`` (one row per rule id or id pattern, a column per language; ``{name}``
placeholders are filled from the id or from trial.toml [holds]). D79 in docs/decisions.md.

Public API
----------
rule_in_words(rule_ids, trial)          -> "; "-joined words of the "; "-separated rule ids
reasons_in_words(reasons)               -> the reasons without the bracketed rule ids, in the reader's language
flags_in_words(flags)                   -> PI flags (or a CrCl effect) in the reader's language
advice_in_words(row, trial)             -> the action as an instruction
derive_advice_words(table, trial)       -> table + advice_text, reason_text, rule_text (+ ack_text)
"""
from __future__ import annotations

import csv
import re
from functools import lru_cache

import pandas as pd

from toxdb import DATA_DIR
from toxdb.clinical.ctcae_names import ctcae_display_name
from toxdb.i18n import N_, _, current_language
from toxdb.vocab import RT

__all__ = [
    "RULES_CSV",
    "advice_in_words",
    "derive_advice_words",
    "flags_in_words",
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


# ---- the engine's English reasons, read back and said in the reader's language (D73) -------------
# The engine (toxdb/dosing/capecitabine.py, s1.py, holds.py, lab_checks.py) writes each reason in English
# as "<what it is about>: <what to do> [rule ids]"; exports and the advice hash keep that text. For people
# it is rebuilt here from messages of the catalogue: each English sentence below is a msgid whose
# {placeholders} become the pattern that reads it back, so the catalogue and the reader are one list.
# A part no pattern reads is shown as written (English), never hidden.
_EVENT = re.compile(r"^(?P<term>.+?) G(?P<grade>\d) \(onset (?P<onset>[\d-]+), "
                    r"(?:(?P<ongoing>ongoing)|resolved (?P<end>[\d-]*))\)(?:, (?P<n>\d+)(?:st|nd|rd|th) appearance)?$")
_LAB = re.compile(r"^(?P<test>ANC|platelets|BILI|ALT|AST|ALP|GGT) (?P<value>\S+) on (?P<day>[\d-]+) (?P<limit>[<>] .+?)"
                  r"(?P<g3> \(grade >= 3\))?$")
_ORDINAL_GRADE = re.compile(r"^(?:(?P<n>\d+)(?:st|nd|rd|th) )?grade (?P<grade>\d): (?P<rest>.+)$")
# what the part is about (before the first ": " that ends it)
_HEADS = (N_("CrCl {crcl} ({low} to < {high})"), N_("CrCl {crcl} (>= {low})"), N_("CrCl {crcl} < {low}"),
          N_("no level below {mg} mg per intake"))
# what to do (the rest of the part)
_STEPS = (
    N_("interrupt until grade 0-1, resume at {percent} %"),
    N_("physician's alternative taken (treatment continued): resume at {percent} %"),
    N_("stop for good, or {alternative}"), N_("stop for good"),
    N_("continue (unlikely to become serious)"),
    N_("interrupt until back within the limit"),
    N_("interrupt, resume at the same level"),
    N_("interrupt until grade <= 1, resume at the same level"),
    N_("resume one level lower (interrupt until grade <= 1)"), N_("resume one level lower"),
    N_("continue at the same level"), N_("stop"), N_("do not give"), N_("two levels lower"), N_("one level lower"),
    N_("standard"), N_("no change"), N_("{percent} % of the planned dose"),
    N_("blood counts: interrupt, resume at the same level"),
    N_("hold chemotherapy during chemoradiotherapy, resume at grade <= 1"),
    N_("hold chemotherapy during chemoradiotherapy"),
    N_("hold RT, resume at grade <= {grade}"),
    N_("grade 5 event: report to the committee within 24 hours"),
    N_("grade 4 non-haematological event: flag for the PI"),
)
_HFS = N_("hand-foot syndrome G2-3: interrupt until grade <= 1")
_WHOLE = (N_("RT interrupted {n} weekdays in total (> {limit})"),)
# free text of the trial file that reasons quote (the default trial.toml's words; other words stay as written)
_TRIAL_TEXTS = (N_("interrupt until grade 0-1, resume at 50 % (physician's choice)"),
                N_("capecitabine not advised (older label: contraindicated; the 2022 US label relaxed this)"))


@lru_cache(maxsize=None)
def _pattern(msgid: str) -> re.Pattern:
    parts = re.split(r"\{(\w+)\}", msgid)
    return re.compile("^" + "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>[^:]+?)" for i, p in enumerate(parts))
                      + "$")


def _by_templates(text: str, templates) -> str | None:
    for msgid in templates:
        m = _pattern(msgid).match(text)
        if m:
            values = {k: _(v) if k == "alternative" else v for k, v in m.groupdict().items()}
            return _(msgid).format(**values)
    return None


def _head(text: str) -> str | None:
    """What a reason is about: an adverse event, a lab value, a CrCl, in the reader's language."""
    m = _EVENT.match(text)
    if m:
        term = ctcae_display_name(m["term"])
        words = (_("{term} grade {grade} (onset {onset}, ongoing)") if m["ongoing"] else
                 _("{term} grade {grade} (onset {onset}, resolved {end})")).format(
            term=term, grade=m["grade"], onset=m["onset"], end=m["end"])
        return words + (_(", appearance {n}").format(n=m["n"]) if m["n"] else "")
    m = _LAB.match(text)
    if m:
        test = _("platelets") if m["test"] == "platelets" else m["test"]
        words = _("{test} {value} on {day} {limit}").format(test=test, value=m["value"], day=m["day"], limit=m["limit"])
        return words + (_(" (grade ≥ 3)") if m["g3"] else "")
    return _by_templates(text, _HEADS)


def _step(text: str) -> str | None:
    """What to do, in the reader's language (an S-1 step may start with "2nd grade 3: ")."""
    suffix = ""
    hfs = ", and " + _HFS
    if text.endswith(hfs) or text == _HFS:
        text, suffix = text[: -len(hfs)] if text != _HFS else "", _(_HFS)
    m = _ORDINAL_GRADE.match(text)
    if m and m["rest"] != "interrupt, resume at the same level":
        rest = _by_templates(m["rest"], _STEPS)
        if rest is None:
            return None
        what = (_("grade {grade} (appearance {n} of grade {grade})").format(grade=m["grade"], n=m["n"]) if m["n"]
                else _("grade {grade}").format(grade=m["grade"]))
        words = _("{what}: {step}").format(what=what, step=rest)
    elif text:
        words = _by_templates(text, _STEPS)
        if words is None:
            return None
    else:
        return suffix
    return _("{step}; and {more}").format(step=words, more=suffix) if suffix else words


def _one_reason(text: str) -> str:
    """One "<about>: <what to do>" part in the reader's language (as written when no pattern reads it)."""
    whole = _by_templates(text, _WHOLE) or _by_templates(text, _STEPS)
    if whole is not None:
        return whole
    start = 0
    while True:                       # the first ": " whose left side reads as what the part is about
        cut = text.find(": ", start)
        if cut < 0:
            return text
        head, step = _head(text[:cut]), _step(text[cut + 2:])
        if head is not None and step is not None:
            return _("{about}: {step}").format(about=head, step=step)
        start = cut + 2


def _split_parts(text: str) -> list[str]:
    """The parts of "; "-joined reasons, each without its bracketed rule ids (ids may hold "; ")."""
    parts, buf = [], ""
    for piece in re.split(r"(\[[a-z0-9_.;\s]+\])", text):
        if piece.startswith("[") and piece.endswith("]"):
            parts.append(buf.strip())
            buf = ""
        else:
            buf += piece
    tail = [p.strip() for p in buf.split("; ")] if buf.strip() else []
    return [p.lstrip("; ").strip() for p in parts + tail if p.lstrip("; ").strip()]


def reasons_in_words(reasons) -> str:
    """The reasons without the bracketed rule ids, each part in the reader's language."""
    if reasons is None or (isinstance(reasons, float) and pd.isna(reasons)):
        return ""
    if current_language() == "en":
        return _BRACKETED_IDS.sub("", str(reasons)).strip()
    return _("; ").join(_one_reason(p) for p in _split_parts(str(reasons)))


def flags_in_words(text) -> str:
    """PI flags (or a CrCl effect), "; "-joined, in the reader's language (as written when unknown)."""
    if text is None or (isinstance(text, float) and pd.isna(text)) or not str(text):
        return ""
    text = str(text)
    if current_language() == "en":
        return text
    whole = _one_reason(text)          # a CrCl effect may quote trial-file words holding "; "
    return whole if whole != text else _("; ").join(_one_reason(p) for p in text.split("; "))


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
    """``table`` (dose advice rows) + advice_text, reason_text, rule_text and crcl_text in the reader's language, and
    ack_text when the table says which hints are acknowledged (``derive_acknowledged``)."""
    rows = table.to_dict("records")
    out = table.assign(advice_text=[advice_in_words(r, trial) for r in rows],
                       reason_text=[reasons_in_words(r.get("reasons")) for r in rows],
                       rule_text=[rule_in_words(r.get("rule"), trial) for r in rows],
                       crcl_text=[flags_in_words(r.get("crcl_effect")) for r in rows])
    if "handled" in table.columns:
        out["ack_text"] = [acknowledged_in_words(r) for r in rows]
    return out
