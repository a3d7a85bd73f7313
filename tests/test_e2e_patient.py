"""The Patient page in a real browser: reached from the sidebar, the course figure is drawn."""
import pytest
from e2e_support import browser_page, dashboard, wait_for_run


@pytest.mark.e2e
def test_patient_page_in_the_browser(tmp_path):
    with dashboard(tmp_path / "e2e.duckdb") as url, browser_page() as page:
        page.goto(url + "/")
        wait_for_run(page)
        page.get_by_role("link", name="Patient", exact=True).click()
        wait_for_run(page)
        page.wait_for_selector(".js-plotly-plot", timeout=60_000)
        wait_for_run(page)
        assert page.locator(".js-plotly-plot").count() >= 1
        assert page.locator("[data-testid=stException]").count() == 0
        page.screenshot(path=str(tmp_path / "patient.png"), full_page=True)
        page.get_by_role("tab", name="All patients (swimmer plot)").click()
        wait_for_run(page)
        page.wait_for_timeout(800)
        assert page.locator("[data-testid=stException]").count() == 0
        page.screenshot(path=str(tmp_path / "swimmer.png"), full_page=True)
