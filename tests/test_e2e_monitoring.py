"""End to end: the real dashboard in Debian's Chromium, Monitoring page of a crossed trial."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from test_monitoring_page import build_trial_db

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(port: int, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited early with code {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                if r.read().decode().strip() == "ok":
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise TimeoutError("streamlit did not report healthy in time")


def _settle(page) -> None:
    page.wait_for_selector('[data-testid=stApp][data-test-script-state="notRunning"]', timeout=60_000)
    page.wait_for_function("document.querySelectorAll('[data-testid=stSkeleton]').length === 0", timeout=60_000)


@pytest.mark.e2e
def test_monitoring_page_in_browser(tmp_path):
    from playwright.sync_api import sync_playwright

    # 6 of 8 patients with a grade 3 event: the boundary of record at n = 8 is 6
    db = build_trial_db(tmp_path / "crossed.duckdb", n_patients=8, n_events=6)
    port = _free_port()
    env = {**os.environ, "TOXDB_DB": str(db), "TOXDB_NO_SEED": "1"}
    log = open(tmp_path / "streamlit.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "dashboard.py", "--server.headless", "true",
         "--server.port", str(port), "--server.fileWatcherType", "none", "--client.toolbarMode", "viewer",
         "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        _wait_healthy(port, proc)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            try:
                # Streamlit's scroll container is inside the page: a tall viewport shows the whole page
                page = browser.new_page(viewport={"width": 1500, "height": 3400})
                # the first script run registers the st.navigation pages (until then Streamlit would
                # serve pages/monitoring.py on its own, without the router, sidebar and banner)
                page.goto(f"http://127.0.0.1:{port}/", wait_until="domcontentloaded")
                _settle(page)
                page.goto(f"http://127.0.0.1:{port}/monitoring", wait_until="domcontentloaded")
                _settle(page)
                page.wait_for_selector(".js-plotly-plot", timeout=60_000)
                _settle(page)
                assert page.locator(".js-plotly-plot").count() >= 2  # boundary + cumulative incidence
                banner = page.get_by_text("Stopping boundary crossed (all treatment-emergent events)")
                assert banner.count() >= 1
                assert page.get_by_text("6 of 8 patients so far").count() >= 1
                assert page.locator('[data-testid=stException]').count() == 0
                page.screenshot(path=str(tmp_path / "monitoring.png"), full_page=True)
            finally:
                browser.close()
        assert (tmp_path / "monitoring.png").stat().st_size > 10_000
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
