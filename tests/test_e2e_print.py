"""End to end: the printable view of the Monitoring and Toxicity pages in Debian's Chromium, printed
to A4 PDF as a browser would: no sidebar, every phase one after the other, no chart split."""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from e2e_support import browser_page, dashboard, wait_for_run
from playwright.sync_api import expect
from test_monitoring_page import build_trial_db

pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(not shutil.which("pdftotext"), reason="needs poppler-utils (pdftotext)")]


def _pdf_pages(page, path) -> list[str]:
    page.emulate_media(media="print")
    page.pdf(path=str(path), format="A4", print_background=True)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True).stdout
    return text.split("\f")[:-1]


def test_printable_monitoring_and_toxicity(tmp_path):
    db = build_trial_db(tmp_path / "crossed.duckdb", n_patients=8, n_events=6)
    with dashboard(db, env={"TOXDB_NO_SEED": "1", "TOXDB_USER": "chair"}) as url, browser_page(1100, 1400) as page:
        page.goto(url + "/monitoring?print=1", wait_until="domcontentloaded")
        wait_for_run(page)
        expect(page.locator(".js-plotly-plot").nth(4)).to_be_attached(timeout=90_000)    # 3 boundaries, 2 curves
        wait_for_run(page)
        expect(page.locator("[data-testid=stSidebar]")).to_be_hidden()
        for title in ("All treatment-emergent events", "Concurrent phase (chemoradiotherapy)", "Maintenance phase"):
            expect(page.get_by_role("heading", name=title)).to_be_visible()
        expect(page.get_by_text("Printable view ·").first).to_be_visible()
        expect(page.get_by_text("printed by chair").first).to_be_visible()
        page.screenshot(path=str(tmp_path / "print_monitoring.png"), full_page=True)
        pages = _pdf_pages(page, tmp_path / "monitoring.pdf")
        assert len(pages) >= 3
        text = "".join(pages)
        assert "Database:" not in text                        # the sidebar (database path) is not printed
        for p in pages:                                     # a chart's title and its axis title on one page
            assert p.count("Stopping boundary: ") == len(re.findall(r"Evaluable patients enrolled", p)), p[:300]
        assert text.count("Stopping boundary: ") == 3

        page.emulate_media(media="screen")
        page.goto(url + "/toxicity?print=1", wait_until="domcontentloaded")
        wait_for_run(page)
        expect(page.locator("[data-testid=stTable]").first).to_be_visible()
        expect(page.get_by_text("Source rows behind a count")).to_have_count(0)
        expect(page.locator("[data-testid=stSidebar]")).to_be_hidden()
        for title in ("Concurrent (chemoradiotherapy): patients by worst grade",
                      "Maintenance: patients by worst grade", "All treatment-emergent: patients by worst grade"):
            expect(page.get_by_role("heading", name=re.compile("^" + re.escape(title)))).to_be_visible()
        expect(page.locator("[data-testid=stTable]")).to_have_count(3)        # every phase, every row
        page.screenshot(path=str(tmp_path / "print_toxicity.png"), full_page=True)
        tox = _pdf_pages(page, tmp_path / "toxicity.pdf")
        text = "".join(tox)
        assert "Diarrhea" in text and "Database:" not in text
        words = " ".join(text.split())                     # a long heading wraps onto two lines
        for phase in ("Concurrent (chemoradiotherapy)", "Maintenance", "All treatment-emergent"):
            assert f"{phase}: patients by worst grade" in words, phase
        subprocess.run(["pdftoppm", "-png", "-r", "50", str(tmp_path / "toxicity.pdf"), str(tmp_path / "toxicity")],
                       check=False)
