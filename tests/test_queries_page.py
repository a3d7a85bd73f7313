"""The Queries page through AppTest: the PI raises a query, the site's coordinator answers, the PI
closes; the PI marks everything shown reviewed (issue 12 items 4 and 5)."""
import pytest
from conftest import ROOT, run_app
from streamlit.testing.v1 import AppTest

from app.state import SAMPLE_DIR
from toxdb.ingest.upload import seed_sample
from toxdb.store.db import Store
from toxdb.users import add_user

pytestmark = pytest.mark.app


AUTH = {"redirect_uri": "http://127.0.0.1:8501/oauth2callback", "cookie_secret": "x" * 32, "client_id": "toxdb",
        "client_secret": "s", "server_metadata_url": "http://127.0.0.1:1/.well-known/openid-configuration"}


def open_page(app_env, user, role, site=None):
    """The Queries page as ``user`` signed in (a users row with ``role`` and ``site``)."""
    with Store(app_env) as store:
        if not store.sites():
            seed_sample(store, SAMPLE_DIR)
        if store.user(user) is None:
            add_user(store, user, role=role, sites=[site] if site else [], actor="setup")
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=120)
    at.secrets["auth"] = AUTH
    at.user = {"is_logged_in": True, "email": user, "name": user.split("@")[0]}
    run_app(at)
    at.switch_page("app/pages/queries.py")
    return run_app(at)


# AppTest does not expose a dataframe's key: each table is found by a column only it has
MARKS = {"queries_table": "Last message", "queries_thread": "Who", "queries_counts": "Median age of open (days)",
         "review_table": "Version", "review_by_site": ("Site", "Unreviewed")}


def frame(at, key):
    mark = MARKS[key]
    mark = (mark,) if isinstance(mark, str) else mark
    for df in at.dataframe:
        cols = set(df.value.columns)
        if set(mark) <= cols and not (key == "review_by_site" and "Patient" in cols):
            return df.value
    raise KeyError(key)


def button(at, label):
    return next(b for b in at.button if b.label == label)


def test_raise_answer_close_through_the_page(app_env, monkeypatch):
    at = open_page(app_env, "dr-pi@example.org", "investigator")
    assert at.title[0].value == "Queries to sites"
    at.selectbox(key="raise_kind").set_value("ae")
    run_app(at)
    subject = at.selectbox(key="raise_subject").options[0]
    at.text_area(key="raise_text").input("Please confirm the onset date.")
    button(at, "Raise query").click()
    run_app(at)
    assert any("Query #1 raised to site" in s.value for s in at.success), [s.value for s in at.success]

    table = frame(at, "queries_table")
    assert table["Status"].tolist() == ["open"] and table["Raised by"].tolist() == ["dr-pi@example.org"]
    site = table["Site"].iloc[0]

    other = "SYSU" if site != "SYSU" else "CAMS"
    at = open_page(app_env, "coord-x@example.org", "coordinator", other)     # another site's coordinator sees nothing
    assert frame(at, "queries_counts").empty
    at = open_page(app_env, "coord-a@example.org", "coordinator", site)
    assert frame(at, "queries_table")["Patient"].tolist() == [f"patient?subject={subject}&lang=en"]
    at.text_area(key="query_text").input("Onset confirmed from the clinic note.")
    button(at, "Answer").click()
    run_app(at)
    assert any("now answered" in s.value for s in at.success)

    at = open_page(app_env, "dr-pi@example.org", "investigator")
    button(at, "Close").click()
    run_app(at)
    thread = frame(at, "queries_thread")
    assert thread["Who"].tolist() == ["dr-pi@example.org", "coord-a@example.org", "dr-pi@example.org"]
    assert thread["Action"].tolist() == ["raised", "answered", "closed"]
    counts = frame(at, "queries_counts").set_index("Site")
    assert counts.loc[site, ["Open", "Answered", "Closed"]].tolist() == [0, 0, 1]


def test_mark_everything_shown_reviewed(app_env, monkeypatch):
    at = open_page(app_env, "dr-pi@example.org", "investigator")
    at.multiselect(key="review_kinds").set_value(["ae"])
    run_app(at)
    n = len(frame(at, "review_table"))
    assert n > 0
    button(at, f"Mark all {n} shown as reviewed").click()
    run_app(at)
    assert any(f"{n} records marked reviewed by dr-pi@example.org" in s.value for s in at.success)
    assert frame(at, "review_table").empty        # only unreviewed are shown
    by_site = frame(at, "review_by_site")
    assert set(by_site["Unreviewed"]) == {0}


def test_review_of_selected_records_and_of_one_patient(app_env, monkeypatch):
    at = open_page(app_env, "dr-pi@example.org", "investigator")
    subject = at.multiselect(key="review_subjects").options[0]
    at.multiselect(key="review_subjects").set_value([subject])
    run_app(at)
    listed = frame(at, "review_table")
    assert set(listed["Patient"]) == {subject}
    counts = frame(at, "review_by_site")
    button(at, f"Mark all {len(listed)} shown as reviewed").click()
    run_app(at)
    after = frame(at, "review_by_site")
    assert after["Unreviewed"].sum() == counts["Unreviewed"].sum() - len(listed)


def test_lab_vs_ae_queries_are_raised_in_one_click(app_env, monkeypatch):
    at = open_page(app_env, "dm@example.org", "data_manager")
    at.selectbox(key="raise_kind").set_value("lab_query")
    run_app(at)
    n = len(at.selectbox(key="raise_subject").options)
    assert n > 0, "the sample trial has lab-vs-AE queries"
    next(b for b in at.button if b.label.startswith("Raise every lab-vs-AE query")).click()
    run_app(at)
    table = frame(at, "queries_table")
    assert len(table) >= n and set(table["Status"]) == {"open"}
    next(b for b in at.button if b.label.startswith("Raise every lab-vs-AE query")).click()
    run_app(at)
    assert any("0 lab-vs-AE queries raised" in s.value for s in at.success)     # not raised twice


def test_a_coordinator_cannot_raise_or_review(app_env, monkeypatch):
    at = open_page(app_env, "coord-a@example.org", "coordinator", "CAMS")
    assert any("needs the 'query' permission" in i.value for i in at.info)
    assert not [b for b in at.button if b.label.startswith("Mark all")]
