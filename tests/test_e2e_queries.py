"""The PI's and the coordinator's journey in a real browser (issue 12): Dose advice reads as advice at
1400 px; the PI acknowledges a hint and raises a query; the site's coordinator sees and answers it; the
PI closes it; the audit log has all of it. Identity comes from TOXDB_USER / TOXDB_ROLE / TOXDB_SITE
until sign-in lands, so each person is a dashboard started with their identity on the same database."""
import json
import os
import re
from pathlib import Path

import pytest
from e2e_support import browser_page, dashboard, wait_for_run
from playwright.sync_api import expect

from toxdb.store.db import Store

pytestmark = [pytest.mark.e2e, pytest.mark.skip(
    reason="written for identities from TOXDB_ROLE/TOXDB_SITE, which sign-in (issue 11) replaced; it must sign "
           "each person in through the OIDC provider as tests/test_e2e_signin.py does (issue 12, left open)")]
SHOTS = Path(os.environ.get("TOXDB_SHOTS") or "")


def shot(page, tmp_path, name, full=False):
    folder = SHOTS if str(SHOTS) not in ("", ".") else tmp_path
    page.screenshot(path=str(folder / f"{name}.png"), full_page=full)


def no_exception(page):
    expect(page.locator("[data-testid=stException]")).to_have_count(0)


def as_person(db, user, role, site=None):
    env = {"TOXDB_USER": user, "TOXDB_ROLE": role, "TOXDB_SITE": site or ""}
    return dashboard(db, env=env)


def test_pi_acknowledges_and_queries_the_coordinator_answers_the_pi_closes(tmp_path):
    db = tmp_path / "journey.duckdb"
    with as_person(db, "dr-pi", "investigator") as url, browser_page(1400, 1000) as page:
        page.goto(url + "/dose_advice")
        wait_for_run(page)
        no_exception(page)
        expect(page.get_by_text("Hints that change the plan")).to_be_visible()
        shot(page, tmp_path, "dose_advice_1400")
        grid = page.locator("[data-testid=stDataFrame]").first
        box = grid.bounding_box()
        assert box["x"] + box["width"] <= 1400 and box["y"] < 1000      # the table starts on the first screen
        page.get_by_label("Comment").fill("Discussed with the treating physician; hold confirmed.")
        page.get_by_role("button", name="Acknowledge", exact=True).click()
        wait_for_run(page)
        expect(page.get_by_text(re.compile(r"^Acknowledged .* as dr-pi\.$"))).to_be_visible()
        shot(page, tmp_path, "dose_advice_acknowledged")

        page.goto(url + "/patient?subject=ICC-04-005")        # the address the advice table links to
        wait_for_run(page)
        expect(page.get_by_text("ICC-04-005").first).to_be_visible()
        no_exception(page)

        page.goto(url + "/queries")
        wait_for_run(page)
        page.get_by_role("tab", name="Raise a query").click()
        page.get_by_label("Question to the site").fill("Grade and onset of this event: please check against the chart.")
        page.get_by_role("button", name="Raise query").click()
        wait_for_run(page)
        raised = page.get_by_text(re.compile(r"Query #1 raised to site"))
        expect(raised).to_be_visible()
        site = re.search(r"site (\S+)\.$", raised.inner_text()).group(1)
        no_exception(page)
        shot(page, tmp_path, "queries_raised", full=True)

    with as_person(db, "coord-a", "coordinator", site) as url, browser_page(1400, 1000) as page:
        page.goto(url + "/queries")
        wait_for_run(page)
        expect(page.get_by_text(f"signed in as coord-a for site {site}")).to_be_visible()
        expect(page.get_by_role("tab", name="Queries")).to_be_visible()
        page.get_by_label("Your answer or comment").fill("Checked: grade and onset are as recorded.")
        page.get_by_role("button", name="Answer", exact=True).click()
        wait_for_run(page)
        expect(page.get_by_text("Query #1 is now answered.")).to_be_visible()
        no_exception(page)
        shot(page, tmp_path, "queries_answered", full=True)

    with as_person(db, "dr-pi", "investigator") as url, browser_page(1400, 1000) as page:
        page.goto(url + "/queries")
        wait_for_run(page)
        page.get_by_role("button", name="Close", exact=True).click()
        wait_for_run(page)
        expect(page.get_by_text("Query #1 is now closed.")).to_be_visible()
        no_exception(page)
        shot(page, tmp_path, "queries_closed", full=True)

    with Store(db, read_only=True) as store:
        log = store.audit_log(1000)
    mine = log[log["action"].isin(["acknowledge_advice", "query_raise", "query_answer", "query_close"])]
    got = sorted(zip(mine["action"], mine["actor"]))
    assert got == [("acknowledge_advice", "dr-pi"), ("query_answer", "coord-a"), ("query_close", "dr-pi"),
                   ("query_raise", "dr-pi")]
    answer = json.loads(mine.loc[mine["action"] == "query_answer", "detail"].iloc[0])
    assert answer["text"] == "Checked: grade and onset are as recorded." and answer["to"] == "answered"
