"""The PI's Monday in Debian's Chromium: This week opens first, and a patient link (as the table
holds it) opens that patient in the same data cut. Screenshots are kept in the test's folder."""
import os
from pathlib import Path

import pandas as pd
import pytest
from e2e_support import ROOT, browser_page, dashboard, wait_for_run

SHOT_DIR = os.environ.get("TOXDB_SCREENSHOTS")


@pytest.mark.e2e
def test_this_week_then_a_patient_link_in_the_same_cut(tmp_path):
    shots = Path(SHOT_DIR or tmp_path)
    subject = pd.read_csv(ROOT / "sample_data" / "patients.csv")["subject_id"].iloc[3]
    from playwright.sync_api import expect
    with dashboard(tmp_path / "week.duckdb") as url, browser_page() as page:
        page.goto(url)
        wait_for_run(page)
        expect(page.get_by_role("heading", name="This week")).to_be_visible()
        expect(page.get_by_text("Grade changes of known events", exact=False).first).to_be_visible()
        page.screenshot(path=str(shots / "week.png"), full_page=True)
        page.goto(f"{url}/patient?subject={subject}&lang=en&cut=2026-06-30")
        wait_for_run(page)
        expect(page.get_by_role("heading", name="Patient", exact=True)).to_be_visible()
        expect(page.get_by_role("combobox", name="Patient")).to_be_visible()
        expect(page.get_by_role("main").get_by_text(f"Patient {subject}", exact=False).first).to_be_attached()
        expect(page.locator("[data-testid=stSidebar]").get_by_text("2026-06-30", exact=False).first).to_be_visible()
        assert f"subject={subject}" in page.url and "cut=2026-06-30" in page.url
        page.screenshot(path=str(shots / "week_patient_link.png"), full_page=True)
