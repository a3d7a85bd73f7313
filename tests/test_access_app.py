"""Who sees what in the dashboard (AppTest, D60-D64): a coordinator sees their own site's patients
only, on every page and in every download; a committee member cannot acknowledge; a person without a
users row sees one page saying so; local mode says so and refuses to be served to other machines."""
from __future__ import annotations

import csv

import pytest
from conftest import ROOT
from streamlit.testing.v1 import AppTest

from app.state import SAMPLE_DIR
from toxdb.store.db import Store
from toxdb.users import add_user

pytestmark = pytest.mark.app

AUTH = {"redirect_uri": "http://127.0.0.1:8501/oauth2callback", "cookie_secret": "x" * 32, "client_id": "toxdb",
        "client_secret": "s", "server_metadata_url": "http://127.0.0.1:1/.well-known/openid-configuration"}
PAGES = ["overview", "toxicity", "patient", "dose_advice", "monitoring", "upload", "labs", "eligibility", "history"]
SITE = "SYSU"
with open(SAMPLE_DIR / "patients.csv", encoding="utf-8") as fh:
    SITE_OF = {r["subject_id"]: r["site"] for r in csv.DictReader(fh)}
OWN = {s for s, site in SITE_OF.items() if site == SITE}
OTHERS = {s for s, site in SITE_OF.items() if site != SITE}
PEOPLE = {"coord@sysu.cn": ("coordinator", [SITE]), "pi@cams.cn": ("investigator", []),
          "dsmb@x.org": ("committee", []), "dm@cams.cn": ("data_manager", [])}


@pytest.fixture
def signed_store(app_env):
    with Store(app_env) as store:                 # app_env holds the sample trial
        for email, (role, sites) in PEOPLE.items():
            add_user(store, email, role=role, sites=sites, actor="setup")
    return app_env


def _app(email: str | None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=120)
    at.secrets["auth"] = AUTH
    at.user = {"is_logged_in": email is not None, **({"email": email, "name": email.split("@")[0]} if email else {})}
    return at


def _everything_shown(at: AppTest) -> bytes:
    """Every element of the run as its serialized message: text, tables (Arrow), charts, options."""
    out, stack = [], [at._tree]
    while stack:
        node = stack.pop()
        proto = getattr(node, "proto", None)
        if proto is not None and hasattr(proto, "SerializeToString"):
            out.append(proto.SerializeToString())
        stack.extend(getattr(node, "children", {}).values())
    return b"\n".join(out)


@pytest.fixture
def downloads(monkeypatch):
    """The bytes of every download button a page offers."""
    import streamlit as st
    from streamlit.delta_generator import DeltaGenerator

    seen: list[bytes] = []
    original = DeltaGenerator.download_button

    def capture(self, label, data, *args, **kwargs):
        seen.append(data if isinstance(data, bytes) else str(data).encode())
        return original(self, label, data, *args, **kwargs)

    monkeypatch.setattr(DeltaGenerator, "download_button", capture)
    # st.download_button was bound to the main container when streamlit was imported
    monkeypatch.setattr(st, "download_button", lambda *a, **k: capture(st._main, *a, **k))
    return seen


def _run(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_a_coordinator_sees_no_other_sites_patient_on_any_page_or_download(signed_store, downloads):
    at = _run(_app("coord@sysu.cn"))
    shown_own = set()
    for page in PAGES:
        at.switch_page(f"app/pages/{page}.py")
        _run(at)
        blob = _everything_shown(at) + b"".join(downloads)
        leaked = sorted(s for s in OTHERS if s.encode() in blob)
        assert not leaked, f"{page} shows patients of other sites: {leaked[:5]}"
        shown_own |= {s for s in OWN if s.encode() in blob}
    assert len(shown_own) == len(OWN)            # the check can fail: their own patients are there
    # the pages that offer downloads were reached, and their files were checked above
    assert downloads


def test_an_investigator_sees_every_site(signed_store):
    at = _run(_app("pi@cams.cn"))
    at.switch_page("app/pages/patient.py")
    _run(at)
    blob = _everything_shown(at)
    assert {s for s in SITE_OF if s.encode() in blob} == set(SITE_OF)


def _title_after_switch(email: str, page: str) -> list[str] | None:
    at = _run(_app(email))
    try:
        at.switch_page(f"app/pages/{page}.py")
    except ValueError as exc:           # not in this person's navigation
        assert "Could not find a navigation page" in str(exc)
        return None
    _run(at)
    return [t.value for t in at.title]


@pytest.mark.parametrize("email, page, reached", [
    ("coord@sysu.cn", "upload", True), ("coord@sysu.cn", "admin", False),
    ("dsmb@x.org", "upload", False), ("dsmb@x.org", "admin", False),
    ("pi@cams.cn", "upload", False), ("dm@cams.cn", "admin", True), ("dm@cams.cn", "upload", True),
])
def test_pages_follow_the_role(signed_store, email, page, reached):
    # a page the person may not use is not in their navigation at all
    titles = _title_after_switch(email, page)
    own = {"upload": "Upload data", "admin": "Admin: users"}[page]
    assert (titles is not None and own in titles) is reached


@pytest.mark.parametrize("email, page, words", [
    ("coord@sysu.cn", "admin", "Your role (coordinator) may not manage users."),
    ("dsmb@x.org", "upload", "Your role (committee) may not load data files."),
])
def test_a_page_refuses_by_itself_too(signed_store, email, page, words):
    # opened directly (not through the router), the page's own check refuses in words
    at = AppTest.from_file(str(ROOT / "app" / "pages" / f"{page}.py"), default_timeout=120)
    at.secrets["auth"] = AUTH
    at.user = {"is_logged_in": True, "email": email}
    _run(at)
    assert [e.value for e in at.error] == [words] and not at.title


def test_the_committee_cannot_acknowledge(signed_store):
    at = _run(_app("dsmb@x.org"))
    at.switch_page("app/pages/dose_advice.py")
    _run(at)
    assert not any(b.label == "Acknowledge" for b in at.get("form_submit_button") if hasattr(b, "label"))
    assert "Your role (committee) may not acknowledge dose advice." in [i.value for i in at.info]


def test_an_investigator_acknowledges_and_the_log_names_them(signed_store):
    at = _run(_app("pi@cams.cn"))
    at.switch_page("app/pages/dose_advice.py")
    _run(at)
    at.text_area(key="ack_comment").input("seen")
    next(b for b in at.get("form_submit_button") if b.label == "Acknowledge").click()
    _run(at)
    with Store(signed_store, read_only=True) if False else _open(signed_store) as store:
        log = store.audit_log()
    acts = log[log["action"] == "acknowledge_advice"]
    assert acts["actor"].tolist() == ["pi@cams.cn"]
    assert "sign_in" in set(log[log["actor"] == "pi@cams.cn"]["action"])


def _open(path):
    """The app's own store object (this process holds the file)."""
    from app.state import _open_store

    class _Same:
        def __enter__(self):
            return _open_store(str(path.resolve()))

        def __exit__(self, *exc):
            return False
    return _Same()


def test_a_person_without_a_users_row_sees_only_that(signed_store):
    at = _run(_app("stranger@else.org"))
    assert [t.value for t in at.title] == ["No access"]
    assert "you are not a user of this dashboard" in at.warning[0].value
    assert not at.dataframe and not at.metric and not at.sidebar.selectbox


def test_a_disabled_person_sees_only_that(signed_store):
    with _open(signed_store) as store:
        from toxdb.users import disable_user
        disable_user(store, "pi@cams.cn", actor="dm")
    at = _run(_app("pi@cams.cn"))
    assert [t.value for t in at.title] == ["No access"] and "disabled" in at.warning[0].value


def test_not_signed_in_shows_the_sign_in_button_only(signed_store):
    at = _run(_app(None))
    assert [b.label for b in at.button] == ["Sign in"] and not at.dataframe


def test_local_mode_says_so_and_acts_as_data_manager(app_env):
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=120)
    _run(at)
    assert any("Local mode: no sign-in" in c.value and "data_manager" in c.value for c in at.sidebar.caption)
    assert [t.value for t in at.title] == ["This week"]          # the start page


def test_local_mode_served_to_other_machines_shows_nothing(app_env, monkeypatch):
    from streamlit import config

    before = config.get_config_options()["server.address"].value
    config.set_option("server.address", "0.0.0.0")          # as `streamlit run --server.address 0.0.0.0`
    try:
        at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=120)
        _run(at)
    finally:
        config.set_option("server.address", before)
    assert [t.value for t in at.title] == ["Sign-in is not configured"]
    assert "served to other machines" in at.error[0].value
    assert not at.dataframe and not at.metric


def test_the_shipped_config_listens_locally_and_hides_developer_tools():
    import tomllib

    cfg = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert cfg["server"]["address"] == "127.0.0.1"
    assert cfg["browser"]["gatherUsageStats"] is False
    assert cfg["client"]["toolbarMode"] == "viewer"            # no Deploy, no Clear cache
    assert cfg["client"]["showErrorDetails"] == "none" and cfg["client"]["showErrorLinks"] is False


def test_the_audit_log_pages_through_everything_and_filters_by_person(app_env):
    with Store(app_env) as store:                 # app_env holds the sample trial
        for i in range(120):
            store.record_audit("alice@x.org" if i % 3 == 0 else "bob@x.org", "download", {"file": f"f{i}.csv"})
        total = store.audit_count()
    at = _run(AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=120))
    at.switch_page("app/pages/history.py")
    _run(at)
    pages = -(-total // 50)
    assert f"{total} entries; page 1 of {pages}, newest first." in [c.value for c in at.caption]
    at.number_input(key="audit_page").set_value(pages)
    _run(at)
    table = at.dataframe[-1].value
    assert len(table) == total - 50 * (pages - 1) and table["No."].min() == 1      # the oldest entry is reachable
    at.selectbox(key="audit_who").set_value("alice@x.org")
    at.number_input(key="audit_page").set_value(1)
    _run(at)
    table = at.dataframe[-1].value
    assert set(table["Who"]) == {"alice@x.org"} and len(table) == 40
    assert table["What"].str.startswith("Downloaded f").all()                      # words, not JSON


def test_an_error_in_a_page_is_worded_and_logged_not_a_traceback(app_env, monkeypatch, caplog):
    import toxdb.reports.overview as overview

    def broken(*args, **kwargs):
        raise RuntimeError("secret internals: /srv/toxdb/data")

    monkeypatch.setattr(overview, "compute_overview", broken)
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=120)
    _run(at)
    at.switch_page("app/pages/overview.py")
    with caplog.at_level("ERROR", logger="toxdb"):
        _run(at)                                         # no exception reaches Streamlit's own display
    shown = " ".join(e.value for e in at.error)
    assert "Something went wrong while showing this page" in shown and "secret internals" not in shown
    assert "secret internals" in caplog.text             # the details are in the server's log


def test_the_admin_page_adds_a_person_and_refuses_an_unknown_site_in_words(signed_store):
    at = _run(_app("dm@cams.cn"))
    at.switch_page("app/pages/admin.py")
    _run(at)
    at.text_input(key="admin_email").input("New@Site.cn")
    at.selectbox(key="admin_role").set_value("coordinator")
    at.text_input(key="admin_new_site").input("")
    at.multiselect(key="admin_sites").set_value(["WCH"])
    next(b for b in at.get("form_submit_button") if b.label == "Save").click()
    _run(at)
    assert "Saved new@site.cn." in [s.value for s in at.success]
    at.text_input(key="admin_email").input("other@site.cn")
    at.multiselect(key="admin_sites").set_value([])
    at.selectbox(key="admin_role").set_value("coordinator")
    next(b for b in at.get("form_submit_button") if b.label == "Save").click()
    _run(at)
    assert [e.value for e in at.error] == ["A coordinator works for their own site(s): give at least one site."]
    with _open(signed_store) as store:
        row = store.user("new@site.cn")
        log = store.audit_log()
    assert (row["role"], list(row["sites"])) == ("coordinator", ["WCH"])
    assert log.loc[log["action"] == "user_added", "actor"].iloc[0] == "dm@cams.cn"
