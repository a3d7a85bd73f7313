"""Rules as data, for real (D31): every key of the trial file is read by the code or is listed in
``toxdb.trial.INFORMATIONAL`` with what it is for, in the spirit of datasette's test_docs.py.

"Read" means an attribute access of that name somewhere in toxdb/, app/ or dashboard.py (trial.py
itself does not count); a name that two sections share (``intakes_per_day``, ``low_risk_terms``)
must be reached through its own section (``s1.intakes_per_day``). Also here: the rules that read
``future_tolerance_days`` and the S-1 ``nonhaem_grade2/3`` keys, and the trial file's fingerprint.
"""
from __future__ import annotations

import ast
import datetime as dt
import tomllib
from collections import Counter

import pandas as pd
import pytest
from conftest import ROOT, write
from pydantic import BaseModel

from toxdb import trial as trial_module
from toxdb.dosing.engine import advise_patient
from toxdb.ingest.upload import import_paths, prepare_upload
from toxdb.trial import DEFAULT_TRIAL_FILE, INFORMATIONAL, Trial, load_trial, trial_fingerprint

SOURCES = [p for p in sorted((ROOT / "toxdb").rglob("*.py")) + sorted((ROOT / "app").rglob("*.py"))
           + [ROOT / "dashboard.py"] if p != ROOT / "toxdb" / "trial.py"]


def _fields(model: type[BaseModel], path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every setting of the trial file as a path; sections (models) are walked into."""
    out = []
    for name, info in model.model_fields.items():
        kind = info.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            out += _fields(kind, (*path, name))
        else:
            out.append((*path, name))
    return out


def _role_keys() -> list[tuple[str, ...]]:
    """Each role is a table of the same keys ([roles.NAME] actions, own_sites_only): the keys of
    the Role model must be read (toxdb.access), whatever the roles are called."""
    raw = tomllib.loads(DEFAULT_TRIAL_FILE.read_text(encoding="utf-8"))
    named = [k for k in raw.get("roles", {}) if k not in Trial.model_fields["roles"].annotation.model_fields]
    assert named, "trial.toml defines no [roles.NAME]"
    return [("roles", "role", f) for f in trial_module.Role.model_fields]


KEYS = _fields(Trial) + _role_keys()
SHARED = {name for name, n in Counter(k[-1] for k in KEYS).items() if n > 1}


def _accesses() -> tuple[set[str], set[tuple[str, str]]]:
    """(attribute names read, (parent, attribute) pairs) over the sources; st.* is Streamlit's."""
    names, pairs = set(), set()
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Attribute):
                continue
            parent = node.value.attr if isinstance(node.value, ast.Attribute) else \
                node.value.id if isinstance(node.value, ast.Name) else None
            if parent == "st":
                continue
            names.add(node.attr)
            if parent:
                pairs.add((parent, node.attr))
    return names, pairs


NAMES, PAIRS = _accesses()


def _is_read(key: tuple[str, ...]) -> bool:
    if key[-1] in SHARED:
        return (key[-2], key[-1]) in PAIRS
    return key[-1] in NAMES


@pytest.mark.parametrize("key", KEYS, ids=".".join)
def test_every_trial_key_is_read_or_informational(key):
    dotted = ".".join(key)
    if dotted in INFORMATIONAL:
        assert not _is_read(key), f"{dotted} is read by the code: take it off INFORMATIONAL"
        assert INFORMATIONAL[dotted].strip(), f"say what {dotted} is for"
    else:
        assert _is_read(key), (f"trial.toml key {dotted} is read by no code: use it, or list it in "
                               "toxdb.trial.INFORMATIONAL with what it is for")


def test_informational_keys_exist():
    assert set(INFORMATIONAL) <= {".".join(k) for k in KEYS}


def test_the_check_finds_an_unread_key(tmp_path):
    # the guard itself: a name nobody reads is not "read"; one the code reads is
    assert not _is_read(("trial", "no_such_setting_anywhere"))
    assert _is_read(("phases", "post_treatment_window_days"))
    assert not _is_read(("s1", "stop_after_grade3_count_typo"))


# ------------------------------------------------------------------------------------------------
# future_tolerance_days: validation reads it (D30)
# ------------------------------------------------------------------------------------------------
TODAY = dt.date(2026, 11, 23)


def _trial(**info):
    t = load_trial()
    return t.model_copy(update={"trial": t.trial.model_copy(update=info)})


def _ae_rows(store, tmp_path, trial, onset: dt.date):
    from conftest import PATIENTS_CSV

    import_paths(store, [write(tmp_path / "patients.csv", PATIENTS_CSV)], "tester")
    text = f"subject_id,term,grade,onset_date\nP-001,Nausea,1,{onset.isoformat()}\n"
    plan = prepare_upload(store, text.encode(), "ae.csv", today=TODAY, trial=trial)
    return plan.summary["rejected"], plan.validation.problems


@pytest.mark.parametrize("tolerance, days_ahead, rejected", [
    (0, 0, 0), (0, 1, 1),             # the default: nothing after today
    (3, 3, 0), (3, 4, 1),             # three days of tolerance: the 3rd day is fine, the 4th is not
])
def test_future_tolerance_days_is_applied(store, tmp_path, tolerance, days_ahead, rejected):
    n, problems = _ae_rows(store, tmp_path, _trial(future_tolerance_days=tolerance),
                           TODAY + dt.timedelta(days=days_ahead))
    assert n == rejected
    if rejected:
        latest = TODAY + dt.timedelta(days=tolerance)
        assert f"in the future (after {latest.isoformat()})" in problems["reasons"].iloc[0]


# ------------------------------------------------------------------------------------------------
# S-1 nonhaem_grade2 / nonhaem_grade3: the S-1 rules read them (D15)
# ------------------------------------------------------------------------------------------------
CUT = dt.date(2025, 9, 1)
# BSA 2.0: sqrt(160 × 90 / 3600) = 2 -> 60 mg per intake; CrCl (140 - 68) × 90 / (72 × 1.0) = 90
PATIENT = dict(subject_id="P1", sex="M", age=68, height_cm=160, weight_kg=90, serum_creatinine=1.0,
               serum_creatinine_unit="mg/dL")


def _s1(trial, *events):
    ev = pd.DataFrame([dict(subject_id="P1", term=t, grade=g, onset_date=pd.Timestamp(on),
                            end_date=pd.Timestamp(end) if end else pd.NaT, phase="maintenance", soc="")
                       for t, g, on, end in events])
    (adv,) = advise_patient(PATIENT, ev, None, None, trial=trial, cut=CUT, agent="S-1", phase="maintenance")
    return adv


def _s1_trial(**s1):
    t = load_trial()
    return t.model_copy(update={"s1": t.s1.model_copy(update=s1)})


def test_s1_grade3_action_comes_from_the_trial_file():
    resolved_g3 = ("Diarrhea", 3, "2025-08-01", "2025-08-10")
    default = _s1(_s1_trial(), resolved_g3)
    assert (default.action, default.dose_level_mg) == ("reduce", 50)             # one level lower: 60 -> 50
    same_level = _s1(_s1_trial(nonhaem_grade3="interrupt"), resolved_g3)
    assert (same_level.action, same_level.dose_level_mg) == ("continue", 60)     # resolved, level kept
    ongoing = _s1(_s1_trial(nonhaem_grade3="interrupt"), ("Diarrhea", 3, "2025-08-25", None))
    assert (ongoing.action, ongoing.dose_level_mg) == ("interrupt", 60)
    stopped = _s1(_s1_trial(nonhaem_grade3="stop"), resolved_g3)
    assert stopped.action == "stop" and "s1.nonhaem.g3.stop" in stopped.rule


def test_s1_grade2_action_comes_from_the_trial_file():
    ongoing_g2 = ("Nausea", 2, "2025-08-25", None)
    assert _s1(_s1_trial(), ongoing_g2).action == "interrupt"                    # same level, 60 mg
    assert _s1(_s1_trial(nonhaem_grade2="continue"), ongoing_g2).action == "continue"
    lower = _s1(_s1_trial(nonhaem_grade2="interrupt_reduce"), ("Nausea", 2, "2025-08-01", "2025-08-05"))
    assert (lower.action, lower.dose_level_mg) == ("reduce", 50) and "s1.nonhaem.g2" in lower.rule


def test_s1_actions_are_validated():
    raw = tomllib.loads(DEFAULT_TRIAL_FILE.read_text(encoding="utf-8"))
    raw["s1"]["nonhaem_grade2"] = "halve"
    with pytest.raises(Exception, match="nonhaem_grade2"):
        Trial.model_validate(raw)


# ------------------------------------------------------------------------------------------------
# the fingerprint that keys cached pages
# ------------------------------------------------------------------------------------------------
def test_fingerprint_follows_the_content(tmp_path):
    path = tmp_path / "trial.toml"
    path.write_bytes(DEFAULT_TRIAL_FILE.read_bytes())
    first = trial_fingerprint(path)
    assert first == trial_fingerprint(path) and len(first) == 64
    path.write_text(path.read_text(encoding="utf-8").replace("post_treatment_window_days = 30",
                                                             "post_treatment_window_days = 28"), encoding="utf-8")
    assert trial_fingerprint(path) != first
    assert trial_module.load_trial(path).phases.post_treatment_window_days == 28
