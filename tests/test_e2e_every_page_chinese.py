"""Every page in Chinese in Debian's Chromium (the sample trial, local mode = data_manager): the page's
Chinese title is on screen, nothing raised, and a full-page screenshot is kept for a person to look at
(TOXDB_SCREENSHOTS=DIR keeps them; fonts-noto-cjk draws the glyphs, a missing font shows boxes)."""
import os
from pathlib import Path

import pytest
from conftest import ROOT
from e2e_support import browser_page, dashboard, wait_for_run
from playwright.sync_api import expect

from toxdb.i18n import _, language

SHOT_DIR = os.environ.get("TOXDB_SCREENSHOTS")
# page file -> its title in dashboard.py's navigation (English; the test translates it)
TITLES = {"week": "This week", "overview": "Overview", "toxicity": "Toxicity", "patient": "Patient",
          "dose_advice": "Dose advice", "monitoring": "Monitoring", "safety": "SAEs and deaths",
          "report": "Committee report", "ctcae_versions": "CTCAE v5 vs v6", "upload": "Upload", "queries": "Queries",
          "labs": "Lab queries", "eligibility": "Registration checks", "timeliness": "Site timeliness",
          "compare": "Compare data cuts", "history": "Uploads & audit", "alerts": "Alerts", "admin": "Admin"}


def test_every_page_file_has_a_title_here():
    assert set(TITLES) == {p.stem for p in (ROOT / "app" / "pages").glob("*.py")}


@pytest.mark.e2e
def test_every_page_in_chinese_renders_in_the_browser(tmp_path):
    shots = Path(SHOT_DIR or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    with language("zh_CN"):
        titles = {page: _(title) for page, title in TITLES.items()}
    with dashboard(tmp_path / "zh.duckdb") as url, browser_page() as page:
        for name, title in titles.items():
            page.goto(f"{url}/{'' if name == 'week' else name}?lang=zh_CN")
            wait_for_run(page)
            nav = page.locator("[data-testid=stSidebarNav]")
            expect(nav.get_by_text(title, exact=True).first).to_be_visible()
            expect(page.locator("[data-testid=stException]")).to_have_count(0)
            expect(page.locator("[data-testid=stMain]").get_by_text("Traceback")).to_have_count(0)
            shot = shots / f"{name}_zh_CN.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 20_000, name
