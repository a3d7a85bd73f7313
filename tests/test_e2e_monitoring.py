"""End to end: the real dashboard in Debian's Chromium, Monitoring page of a crossed trial."""
from __future__ import annotations

import pytest
from e2e_support import browser_page, dashboard, wait_for_run
from playwright.sync_api import expect
from test_monitoring_page import build_trial_db


@pytest.mark.e2e
def test_monitoring_page_in_browser(tmp_path):
    # 6 of 8 patients with a grade 3 event: the boundary of record at n = 8 is 6
    db = build_trial_db(tmp_path / "crossed.duckdb", n_patients=8, n_events=6)
    # Streamlit's scroll container is inside the page: a tall viewport shows the whole page
    with dashboard(db, env={"TOXDB_NO_SEED": "1"}) as url, browser_page(1500, 3400) as page:
        # a bookmarked page address opened first still goes through the router (sidebar, banner)
        page.goto(url + "/monitoring", wait_until="domcontentloaded")
        wait_for_run(page)
        expect(page.get_by_role("link", name="Overview", exact=True)).to_have_count(1)
        # boundary + cumulative incidence: at least two figures
        expect(page.locator(".js-plotly-plot").nth(1)).to_be_visible(timeout=60_000)
        wait_for_run(page)
        expect(page.get_by_text("Stopping boundary crossed (all treatment-emergent events)").first).to_be_visible()
        expect(page.get_by_text("6 of 8 patients so far").first).to_be_visible()
        expect(page.locator("[data-testid=stException]")).to_have_count(0)
        page.screenshot(path=str(tmp_path / "monitoring.png"), full_page=True)
    assert (tmp_path / "monitoring.png").stat().st_size > 10_000
