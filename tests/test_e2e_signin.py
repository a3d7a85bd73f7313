"""Sign-in in a real browser against a real OpenID Connect provider (oidc-provider-mock started on a
free port), Debian's Chromium (D60-D66): a coordinator of one site, a principal investigator, a
committee member and a person without a users row each sign in; what each sees and is refused is
checked, and the audit log names each of them."""
from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
from conftest import ROOT
from e2e_support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    dashboard,
    free_port,
    oidc_provider,
    sign_in,
    sign_in_secrets,
    wait_for_run,
)

pytestmark = pytest.mark.e2e
pytest.importorskip("oidc_provider_mock", reason="oidc-provider-mock (requirements-test.txt) is not installed")

SAMPLE = ROOT / "sample_data"
PEOPLE = {"coord@sysu.cn": ("coordinator", ["SYSU"], "Coordinator SYSU"),
          "pi@cams.cn": ("investigator", [], "Principal Investigator"),
          "dsmb@x.org": ("committee", [], "Committee Member")}
STRANGER = "stranger@else.org"


@pytest.fixture(scope="module")
def provider(tmp_path_factory):
    people = {email: name for email, (_, _, name) in PEOPLE.items()} | {STRANGER: "Someone Else"}
    with oidc_provider(people, tmp_path_factory.mktemp("oidc")) as base:
        yield base


def _store_with_people(db: Path) -> None:
    from toxdb.ingest.upload import seed_sample
    from toxdb.store.db import Store
    from toxdb.users import add_user

    with Store(db) as store:
        seed_sample(store, SAMPLE)
        for email, (role, sites, name) in PEOPLE.items():
            add_user(store, email, role=role, sites=sites, name=name, actor="setup")


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


def _sign_out(page):
    """The sidebar's Sign out: the provider's end-session page, then back to the sign-in button."""
    from playwright.sync_api import expect

    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="End session").click(timeout=60_000)
    wait_for_run(page)
    expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=60_000)


def _go(page, url: str, path: str):
    page.goto(f"{url}/{path}")
    wait_for_run(page)


def test_each_person_sees_their_part_and_the_log_names_them(provider, browser, tmp_path):
    from playwright.sync_api import expect

    db, tmp, port = tmp_path / "signin.duckdb", tmp_path, free_port()
    _store_with_people(db)
    with dashboard(db, port=port, args=("--secrets.files", str(sign_in_secrets(tmp / "secrets.toml", port, provider)))) as url:
        _journeys(browser, url, tmp)
    for shot in tmp.glob("*.png"):                  # kept for a person to look at
        (Path(os.environ.get("TOXDB_SHOTS", tmp)) / shot.name).write_bytes(shot.read_bytes())
    # the dashboard has stopped and let go of the file: the audit log names each person
    from toxdb.store.db import Store

    with Store(db, read_only=True) as store:
        log = store.audit_log(10_000)
        check = store.verify_audit()
    signed_in = set(log.loc[log["action"] == "sign_in", "actor"])
    assert signed_in >= {*PEOPLE, STRANGER}
    assert log.loc[log["action"] == "acknowledge_advice", "actor"].tolist() == ["pi@cams.cn"]
    uploads = log[log["action"] == "upload"]
    assert "coord@sysu.cn" in set(uploads["actor"])
    downloads = log[log["action"] == "download"]
    [(actor, detail)] = zip(downloads["actor"], downloads["detail"])
    assert actor == "coord@sysu.cn" and json.loads(detail)["file"] == "ae_sysu.csv"
    assert json.loads(detail)["sites"] == ["SYSU"] and json.loads(detail)["kind"] == "download_raw"
    signed_out = log[log["action"] == "sign_out"]
    assert set(signed_out["actor"]) == {"coord@sysu.cn", STRANGER}
    assert check.ok, check.problem


def _journeys(browser, url: str, tmp: Path) -> None:
    """Long: one story told in order (coordinator, committee, PI, stranger), each step a few lines."""
    from playwright.sync_api import expect

    patients = pd.read_csv(SAMPLE / "patients.csv")
    own = patients[patients["site"] == "SYSU"]["subject_id"].iloc[0]
    other = patients[patients["site"] == "CAMS"]["subject_id"].iloc[0]
    upload = tmp / "ae_sysu.csv"
    upload.write_text(f"subject_id,term,grade,onset_date\n{own},Fatigue,1,2026-11-05\n{other},Nausea,2,2026-11-06\n")

    # the coordinator: their site only; upload for another site's patient refused with the reason
    ctx, page = sign_in(browser, url, "coord@sysu.cn")
    expect(page.get_by_text("Signed in as").first).to_contain_text("coord@sysu.cn")
    expect(page.get_by_role("link", name="Admin", exact=True)).to_have_count(0)
    _go(page, url, "upload")
    page.locator("[data-testid=stFileUploaderDropzoneInput]").set_input_files(str(upload))
    wait_for_run(page)
    page.get_by_role("tab", name="Rejected").click()
    expect(page.get_by_text(f"this patient is enrolled at site CAMS", exact=False).first).to_be_visible()
    page.screenshot(path=str(tmp / "coordinator_upload.png"), full_page=True)
    page.get_by_role("button", name="Load 1 rows").click()
    expect(page.get_by_text("Loaded ae_sysu.csv as upload #", exact=False)).to_be_visible(timeout=60_000)
    _go(page, url, "patient")
    expect(page.get_by_text(other)).to_have_count(0)
    _go(page, url, "history")                        # a raw file downloaded: in the log with the site
    with page.expect_download() as got:
        page.get_by_role("button", name="Download the raw file as uploaded").click()
    assert got.value.suggested_filename == "ae_sysu.csv"
    wait_for_run(page)
    _sign_out(page)
    ctx.close()

    # the committee: read-only, no upload page, no acknowledgement
    ctx, page = sign_in(browser, url, "dsmb@x.org")
    expect(page.get_by_role("link", name="Upload", exact=True)).to_have_count(0)
    _go(page, url, "dose_advice")
    expect(page.get_by_text("Your role (committee) may not acknowledge dose advice.")).to_be_visible()
    expect(page.get_by_role("button", name="Acknowledge")).to_have_count(0)
    page.screenshot(path=str(tmp / "committee_advice.png"), full_page=True)
    ctx.close()

    # the principal investigator: acknowledges a hint, recorded under their e-mail
    ctx, page = sign_in(browser, url, "pi@cams.cn")
    _go(page, url, "dose_advice")
    page.get_by_role("button", name="Acknowledge").click()
    expect(page.get_by_text("as pi@cams.cn").first).to_be_visible(timeout=60_000)
    ctx.close()

    # someone the provider knows but the users table does not: one page saying so
    ctx, page = sign_in(browser, url, STRANGER)
    expect(page.get_by_role("heading", name="No access")).to_be_visible()
    expect(page.get_by_text("you are not a user of this dashboard", exact=False)).to_be_visible()
    expect(page.locator("[data-testid=stSidebarNav]")).to_have_count(0)
    page.screenshot(path=str(tmp / "no_access.png"), full_page=True)
    _sign_out(page)
    ctx.close()




def _outside_address() -> str | None:
    """An address of this machine that is not loopback (None when it has none)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.254.254.254", 1))          # no packet is sent: this only picks an interface
            ip = s.getsockname()[0]
        except OSError:
            return None
    return None if ip.startswith("127.") else ip


def test_the_readme_command_opens_in_local_mode_on_this_machine_only(browser, tmp_path):
    from playwright.sync_api import expect

    port = free_port()
    # no --server.address: the shipped .streamlit/config.toml decides, as after `streamlit run dashboard.py`
    # (the module's browser: a second Playwright in the same process would clash with the first)
    with dashboard(tmp_path / "local.duckdb", port=port, address=None) as url:
        page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        page.goto(url)
        wait_for_run(page)
        expect(page.get_by_role("heading", name="This week")).to_be_visible()          # the start page
        expect(page.get_by_text("Local mode: no sign-in", exact=False)).to_be_visible()
        outside = _outside_address()
        if outside is not None:
            with pytest.raises(OSError):
                urllib.request.urlopen(f"http://{outside}:{port}/_stcore/health", timeout=3)
