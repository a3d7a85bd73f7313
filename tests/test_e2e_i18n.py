"""The dashboard in Chinese in Debian's Chromium: the sidebar, the navigation and the CJK glyphs render
(a screenshot is kept in the test's folder: look at it)."""
import os
from pathlib import Path

import pytest
from e2e_support import browser_page, dashboard, wait_for_run
from playwright.sync_api import expect

SHOT_DIR = os.environ.get("TOXDB_SCREENSHOTS")


@pytest.mark.e2e
def test_overview_in_chinese(tmp_path):
    with dashboard(tmp_path / "zh.duckdb") as url, browser_page() as page:
        page.goto(url + "/?lang=zh_CN")
        wait_for_run(page)
        side = page.locator("[data-testid=stSidebar]")
        for words in ("数据截点", "概览", "毒性", "实验室质疑", "实验室分级：CTCAE v5.0（记录版本）"):
            expect(side.get_by_text(words, exact=False).first).to_be_visible()
        shot = Path(SHOT_DIR or tmp_path) / "overview_zh_CN.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 20_000
        # the choice stays in the address, so a reload keeps Chinese
        assert "lang=zh_CN" in page.url
        page.reload()
        wait_for_run(page)
        expect(side.get_by_text("数据截点").first).to_be_visible()
