"""The Alerts page in a real browser: loud without a mail server, acknowledgement by the user, and
the link a message carries opens that patient (D97, D94)."""
import os

import pytest
from e2e_support import browser_page, dashboard, wait_for_run
from playwright.sync_api import expect

SHOTS = os.environ.get("TOXDB_SHOTS")     # a folder to keep the screenshots in (default: the test's tmp)


@pytest.mark.e2e
def test_alerts_page_in_the_browser(tmp_path):
    shots = SHOTS or str(tmp_path)
    env = {"TOXDB_SMTP_URL": "", "TOXDB_USER": "dsmc-chair"}
    with dashboard(tmp_path / "e2e.duckdb", env=env) as url, browser_page() as page:
        page.goto(url + "/alerts")
        wait_for_run(page)
        expect(page.get_by_text("E-mail alerts cannot be sent.").first).to_be_visible(timeout=60_000)
        expect(page.locator("[data-testid=stSidebar]").get_by_text("alerts have not been sent")).to_be_visible()
        expect(page.locator("[data-testid=stException]")).to_have_count(0)
        page.screenshot(path=f"{shots}/alerts.png", full_page=True)
        page.get_by_role("button", name="Acknowledge alert").click()
        wait_for_run(page)
        expect(page.get_by_text("acknowledged by dsmc-chair").first).to_be_visible()
        page.screenshot(path=f"{shots}/alerts_acknowledged.png", full_page=True)
        # the link in a message: <dashboard_url>/patient?subject=...
        page.goto(url + "/patient?subject=ICC-01-009")
        wait_for_run(page)
        page.screenshot(path=f"{shots}/patient_from_link.png", full_page=True)
        expect(page.locator("[data-testid=stMain]").get_by_text("Patient ICC-01-009 · CAMS").first).to_be_visible()
        expect(page.locator("[data-testid=stException]")).to_have_count(0)
        page.screenshot(path=f"{shots}/patient_from_link.png", full_page=True)
