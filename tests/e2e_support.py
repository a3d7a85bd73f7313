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


@contextlib.contextmanager
def oidc_provider(people: dict[str, str], log_dir: Path):
    """A real OpenID Connect provider (oidc-provider-mock) on a free port of 127.0.0.1 that knows
    ``people`` ({e-mail: display name}); yields its base address."""
    import json

    port = free_port()
    log = open(log_dir / "oidc.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "oidc_provider_mock", "-p", str(port), "-H", "127.0.0.1"],
                            stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            try:
                urllib.request.urlopen(base + "/.well-known/openid-configuration", timeout=2).read()
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError("the OpenID provider did not start") from None
                time.sleep(0.3)
        for email, name in people.items():
            req = urllib.request.Request(f"{base}/users/{email}", method="PUT",
                                         data=json.dumps({"email": email, "name": name}).encode(),
                                         headers={"Content-Type": "application/json"})
            urllib.request.urlopen(req, timeout=5).read()
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        log.close()


def sign_in_secrets(path: Path, port: int, provider: str) -> Path:
    """The dashboard's secrets file for sign-in through ``provider`` (the dashboard on ``port``)."""
    path.write_text(f"""[auth]
redirect_uri = "http://127.0.0.1:{port}/oauth2callback"
cookie_secret = "{os.urandom(16).hex()}"
client_id = "toxdb"
client_secret = "not-checked-by-the-mock"
server_metadata_url = "{provider}/.well-known/openid-configuration"
""", encoding="utf-8")
    return path


def sign_in(browser, url: str, email: str, width: int = 1400, height: int = 1000):
    """A fresh browser context signed in as ``email`` through the provider's form: (context, page)."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": width, "height": height})
    # the provider's page asks a CDN for its stylesheet: only 127.0.0.1 is reachable
    context.route("**/*", lambda route: route.continue_() if "127.0.0.1" in route.request.url else route.abort())
    page = context.new_page()
    page.goto(url)
    wait_for_run(page)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_placeholder("sub").fill(email)
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(url + "/**", timeout=60_000)
    wait_for_run(page)
    expect(page.get_by_text("Sign in with your hospital account")).to_have_count(0)
    return context, page
