"""Start the real dashboard on a free port and drive it with Debian's Chromium (never a downloaded one)."""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def dashboard(db: Path, env: dict | None = None, timeout: float = 90, port: int | None = None,
              args: tuple[str, ...] = (), address: str | None = "127.0.0.1"):
    """The dashboard on ``port`` (default: a free one); ``args``: more `streamlit run` options
    (e.g. ``--secrets.files PATH`` for sign-in); ``address=None``: as the shipped config says."""
    port = port or free_port()
    environ = {**os.environ, "TOXDB_DB": str(db), **(env or {})}
    log = open(db.with_suffix(".log"), "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard.py"), "--server.headless", "true",
         "--server.port", str(port), *(("--server.address", address) if address else ()),
         "--server.fileWatcherType", "none",
         "--client.toolbarMode", "viewer", "--browser.gatherUsageStats", "false", *args],
        cwd=ROOT, env=environ, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + timeout
        while True:
            try:
                if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("dashboard did not start:\n" + db.with_suffix(".log").read_text())
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def wait_for_run(page, timeout: float = 120_000) -> None:
    """Wait (Playwright's retrying ``expect``) until Streamlit has finished its script run and no
    placeholder skeleton is left; then once more, since a finished run may trigger another. The
    timeout is generous: a first run that calibrates a boundary takes a while on a loaded machine,
    and ``expect`` returns as soon as the page is ready."""
    from playwright.sync_api import expect

    app = page.locator("[data-testid=stApp]")
    expect(app).to_have_attribute("data-test-script-state", "notRunning", timeout=timeout)
    expect(page.locator("[data-testid=stSkeleton]")).to_have_count(0, timeout=timeout)
    page.wait_for_timeout(300)
    expect(app).to_have_attribute("data-test-script-state", "notRunning", timeout=timeout)


@contextlib.contextmanager
def browser_page(width: int = 1400, height: int = 1000):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            yield page
        finally:
            browser.close()
