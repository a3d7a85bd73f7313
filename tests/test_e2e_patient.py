"""The Patient page in a real browser: reached from the sidebar, the course figure is drawn."""
import pytest
from e2e_support import browser_page, dashboard, wait_for_run
from playwright.sync_api import expect


@pytest.mark.e2e
def test_patient_page_in_the_browser(tmp_path):
    with dashboard(tmp_path / "e2e.duckdb") as url, browser_page() as page:
        page.goto(url + "/")
        wait_for_run(page)
        page.get_by_role("link", name="Patient", exact=True).click()
        wait_for_run(page)
        expect(page.locator(".js-plotly-plot").first).to_be_visible(timeout=60_000)
        wait_for_run(page)
        expect(page.locator("[data-testid=stException]")).to_have_count(0)
        page.screenshot(path=str(tmp_path / "patient.png"), full_page=True)
        page.get_by_role("tab", name="All patients (swimmer plot)").click()
        wait_for_run(page)
        expect(page.get_by_text("On treatment at the cut").first).to_be_visible()
        expect(page.locator("[data-testid=stException]")).to_have_count(0)
        page.screenshot(path=str(tmp_path / "swimmer.png"), full_page=True)
