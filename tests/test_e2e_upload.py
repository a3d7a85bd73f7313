"""A coordinator's journey in a real browser: open the dashboard, upload a file, see the overview change."""
import pandas as pd
import pytest
from conftest import ROOT
from e2e_support import browser_page, dashboard, wait_for_run
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def _metric(page, label: str):
    """The value of the metric labelled ``label`` (a locator: ``expect`` retries it until it holds)."""
    box = page.locator("[data-testid=stMetric]", has_text=label).first
    return box.locator("[data-testid=stMetricValue]")


def test_upload_through_the_browser_changes_the_overview(tmp_path):
    patients = pd.read_csv(ROOT / "sample_data" / "patients.csv")
    ae_rows = len(pd.read_csv(ROOT / "sample_data" / "adverse_events.csv"))
    subject = patients["subject_id"].iloc[0]
    upload = tmp_path / "new_events.csv"
    upload.write_text(f"subject_id,term,grade,onset_date\n{subject},Fatigue,1,2026-11-05\n"
                      f"{subject},Vomiting,2,2026-11-06\n{subject},Nausea,7,2026-11-06\n"
                      f"{subject},Alopecia,3,2026-11-07\n")
    with dashboard(tmp_path / "e2e.duckdb") as url, browser_page() as page:
        page.goto(url + "/overview")          # the start page is This week; the coordinator opens Overview
        wait_for_run(page)
        expect(page.get_by_role("heading", name="Trial overview")).to_be_visible()
        expect(_metric(page, "AE rows")).to_have_text(str(ae_rows))
        page.screenshot(path=str(tmp_path / "overview_before.png"), full_page=True)

        page.get_by_role("link", name="Upload", exact=True).click()
        wait_for_run(page)
        page.locator("[data-testid=stFileUploaderDropzoneInput]").set_input_files(str(upload))
        wait_for_run(page)
        expect(_metric(page, "New")).to_have_text("3")
        expect(_metric(page, "Rejected")).to_have_text("1")
        expect(_metric(page, "Flagged")).to_have_text("1")          # alopecia has no grade 3: kept, queried
        page.get_by_role("tab", name="Rejected").click()
        expect(page.get_by_text("grade 7 does not exist", exact=False).first).to_be_visible()
        page.screenshot(path=str(tmp_path / "upload_check.png"), full_page=True)
        page.get_by_role("tab", name="Flagged").click()
        expect(page.get_by_text("stored as the file has them", exact=False).first).to_be_visible()
        page.screenshot(path=str(tmp_path / "upload_flagged.png"), full_page=True)
        page.get_by_role("button", name="Load 3 rows").click()
        wait_for_run(page)
        expect(page.get_by_text("Loaded new_events.csv", exact=False).first).to_be_visible()

        page.get_by_role("link", name="Overview", exact=True).click()
        wait_for_run(page)
        expect(_metric(page, "AE rows")).to_have_text(str(ae_rows + 3))
        expect(page.get_by_text("new_events.csv", exact=False).first).to_be_visible()   # latest upload
        page.screenshot(path=str(tmp_path / "overview_after.png"), full_page=True)
