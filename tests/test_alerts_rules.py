"""The trial file's [alerts]: which events alert whom (D90, D93)."""
from __future__ import annotations

import tomllib

import pandas as pd
import pytest

from toxdb.alerts.rules import derive_alert_rules, met_rules, recipients
from toxdb.trial import DEFAULT_TRIAL_FILE, Trial, load_trial


def _raw():
    return tomllib.loads(DEFAULT_TRIAL_FILE.read_text(encoding="utf-8"))


def _trial_with(**alerts):
    raw = _raw()
    raw["alerts"].update(alerts)
    return Trial.model_validate(raw)


def test_shipped_file_has_placeholder_recipients_only():
    a = load_trial().alerts
    addresses = [x for group in a.recipients.values() for x in group]
    assert addresses and all(x.endswith("@example.org") for x in addresses)
    assert "committee" in a.grade5 and "committee" in a.boundary


@pytest.mark.parametrize("change, words", [
    ({"grade5": ["committee", "pharmacist"]}, "pharmacist"),
    ({"recipients": {"committee": ["not an address"]}}, "not e-mail addresses"),
    ({"dashboard_url": "toxdb.example.org"}, "http"),
    ({"retry_minutes": [5, 0]}, "above 0"),
])
def test_bad_alert_settings_name_the_problem(change, words):
    with pytest.raises(Exception, match=words):
        _trial_with(**change)


def test_rules_by_hand():
    trial = load_trial()
    ev = pd.DataFrame({
        "term": ["Death NOS", "Fatigue", "Diarrhea", "Neutrophil count decreased", "platelet count decreased ",
                 "Nausea"],
        "grade": [5, 3, 4, 4, 4, 2],
        "serious": pd.array([None, True, False, True, None, None], dtype="boolean"),
    })
    got = met_rules(derive_alert_rules(ev, trial))
    # grade 5 alone; SAE alone; grade 4 diarrhoea is non-haematological; the two counts are
    # haematological (the trial file's list, any case and spacing); a grade 2 nausea alerts nobody
    assert got == [{"grade5"}, {"sae"}, {"grade4_nonhaem"}, {"sae"}, set(), set()]


def test_coordinators_hear_only_of_their_site():
    trial = _trial_with(grade5=["committee", "coordinator"], boundary=["committee", "coordinator"],
                        site_recipients={"SITE-A": ["a@example.org"], "SITE-B": ["b@example.org"]})
    assert recipients(trial, "grade5", "SITE-A") == {
        "committee": ["dsmc-chair@example.org", "dsmc-statistician@example.org"], "coordinator": ["a@example.org"]}
    assert "coordinator" not in recipients(trial, "grade5", "SITE-C")       # no coordinator listed there
    assert recipients(trial, "boundary", None)["coordinator"] == ["a@example.org", "b@example.org"]
    assert "coordinator" not in recipients(trial, "sae", "SITE-A")           # SAE rule does not name them


def test_links_and_back_off_come_from_the_trial_file():
    from toxdb.alerts.rules import patient_link, retry_delay_minutes

    trial = _trial_with(dashboard_url="https://toxdb.example.org/", retry_minutes=[5, 30])
    assert patient_link(trial, "ICC 01/007") == "https://toxdb.example.org/patient?subject=ICC%2001%2F007"
    assert [retry_delay_minutes(trial, n) for n in (1, 2, 3, 9)] == [5, 30, 30, 30]
