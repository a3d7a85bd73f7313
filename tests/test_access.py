"""The one permission check (toxdb.access, D60) as a table: role x action x site -> allowed.

Expected values are the issue's words (issue 11), not the code's: a coordinator uploads and maps
for their own site only; an investigator reads all sites, acknowledges advice and answers queries;
the committee views and builds reports only; a data manager does everything, plus users, cuts and
the trial file. From issue 12: the site's coordinator answers the queries of their own site; the PI
and the medical monitor raise, close and re-open queries and mark records reviewed. From issue 15:
everyone an alert can reach acknowledges it (a coordinator for their own site only); only the data
manager sends waiting alerts by hand (D98).
"""
from __future__ import annotations

import tomllib

import pytest

from toxdb.access import ACTIONS, AccessDenied, Person, allowed, denial, local_person, require, scope
from toxdb.trial import DEFAULT_TRIAL_FILE, Trial, TrialFileError, load_trial, read_trial

pytestmark = pytest.mark.unit

COORD = Person("coord@a.org", "coordinator", "Coord A", sites=("SITE-A",))
PI = Person("pi@x.org", "investigator", "PI")
DSMB = Person("dsmb@x.org", "committee")
DM = Person("dm@x.org", "data_manager")
MM = Person("mm@x.org", "medical_monitor")
PEOPLE = {"coordinator": COORD, "investigator": PI, "committee": DSMB, "data_manager": DM, "medical_monitor": MM}

Y, N = True, False
# role -> action -> (anywhere, on SITE-A, on SITE-B)
TABLE = {
    "coordinator": {"view": (Y, Y, N), "report": (Y, Y, N), "download_raw": (Y, Y, N), "upload": (Y, Y, N),
                    "map": (Y, Y, N), "acknowledge": (N, N, N), "answer_query": (Y, Y, N), "cuts": (N, N, N),
                    "users": (N, N, N), "trial_file": (N, N, N), "query": (N, N, N), "review": (N, N, N),
                    "acknowledge_alert": (Y, Y, N), "send_alerts": (N, N, N)},
    "investigator": {"view": (Y, Y, Y), "report": (Y, Y, Y), "download_raw": (Y, Y, Y), "upload": (N, N, N),
                     "map": (N, N, N), "acknowledge": (Y, Y, Y), "answer_query": (Y, Y, Y), "cuts": (N, N, N),
                     "users": (N, N, N), "trial_file": (N, N, N), "query": (Y, Y, Y), "review": (Y, Y, Y),
                     "acknowledge_alert": (Y, Y, Y), "send_alerts": (N, N, N)},
    "medical_monitor": {a: ((Y, Y, Y) if a in ("view", "report", "query", "review", "acknowledge_alert") else (N, N, N)) for a in ACTIONS},
    "committee": {a: ((Y, Y, Y) if a in ("view", "report", "acknowledge_alert") else (N, N, N)) for a in ACTIONS},
    "data_manager": {a: (Y, Y, Y) for a in ACTIONS},
}
CASES = [(role, action, site, expected)
         for role, actions in TABLE.items() for action, row in actions.items()
         for site, expected in zip((None, "SITE-A", "SITE-B"), row)]


def test_the_table_covers_every_role_and_action():
    assert set(TABLE) == set(load_trial().roles.named())
    assert all(set(actions) == set(ACTIONS) for actions in TABLE.values())


@pytest.mark.parametrize("role, action, site, expected", CASES,
                         ids=[f"{r}-{a}-{s or 'any'}" for r, a, s, _ in CASES])
def test_role_action_site(role, action, site, expected):
    person = PEOPLE[role]
    assert allowed(person, action, site) is expected
    reason = denial(person, action, site)
    assert (reason is None) is expected
    if expected:
        require(person, action, site)
    else:
        with pytest.raises(AccessDenied, match="may not|own site"):
            require(person, action, site)


def test_denials_say_why_in_words():
    assert denial(DSMB, "acknowledge") == "Your role (committee) may not acknowledge dose advice."
    assert denial(COORD, "upload", "SITE-B") == (
        "You may load data files for your own site(s) only (SITE-A), not for site SITE-B.")
    assert "disabled" in denial(Person("x@y", "data_manager", active=False), "view")
    assert "not signed in" in denial(None, "view")
    assert "not defined in the trial file" in denial(Person("x@y", "surgeon"), "view")
    assert "No site is assigned" in denial(Person("x@y", "coordinator"), "view")


def test_a_coordinator_of_two_sites_may_act_on_both():
    both = Person("c@x", "coordinator", sites=("SITE-A", "SITE-C"))
    assert allowed(both, "upload", "SITE-C") and allowed(both, "map", "SITE-A")
    assert not allowed(both, "upload", "SITE-B")


def test_scope_is_own_sites_or_all():
    assert scope(COORD) == ("SITE-A",)
    assert scope(PI) is None and scope(DM) is None and scope(DSMB) is None
    assert scope(None) == () and scope(Person("x@y", "data_manager", active=False)) == ()


def test_unknown_action_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown action"):
        allowed(DM, "delete_everything")


def test_local_person_is_the_os_user_as_local_role(monkeypatch):
    monkeypatch.setenv("TOXDB_USER", "alice")
    me = local_person()
    assert (me.identity, me.role, me.local) == ("alice", "data_manager", True)
    assert allowed(me, "users")


def test_roles_come_from_the_trial_file(tmp_path):
    text = DEFAULT_TRIAL_FILE.read_text(encoding="utf-8").replace(
        'actions = ["view", "report", "acknowledge_alert"]\n', 'actions = ["view", "report", "acknowledge_alert", "acknowledge"]\n')
    path = tmp_path / "trial.toml"
    path.write_text(text, encoding="utf-8")
    trial = read_trial(path)
    assert text != DEFAULT_TRIAL_FILE.read_text(encoding="utf-8")        # the committee's line was edited
    assert allowed(DSMB, "acknowledge", trial=trial)
    assert not allowed(DSMB, "acknowledge")


def test_an_unknown_action_in_the_trial_file_is_refused_naming_it(tmp_path):
    raw = tomllib.loads(DEFAULT_TRIAL_FILE.read_text(encoding="utf-8"))
    raw["roles"]["committee"]["actions"] = ["view", "fly"]
    with pytest.raises(Exception, match="unknown action.*fly"):
        Trial.model_validate(raw)
    path = tmp_path / "trial.toml"
    path.write_text(DEFAULT_TRIAL_FILE.read_text(encoding="utf-8").replace(
        'local_role = "data_manager"', 'local_role = "admin"'), encoding="utf-8")
    with pytest.raises(TrialFileError, match="local_role"):
        read_trial(path)
