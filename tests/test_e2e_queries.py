"""The PI's and the coordinator's journey in Debian's Chromium (issue 12), each person signed in through
a real OpenID Connect provider (oidc-provider-mock on a free port) with their row in the users table:
the PI opens This week, follows a new grade 3 event to the patient, acknowledges the dose advice it
brings and raises a query about the event; the coordinator of the patient's site signs in, sees the
query and answers it; the PI closes it; the Uploads & audit page and the audit log name each step's
person. Screenshots are kept (TOXDB_SHOTS, else the test's folder) for a person to look at."""
from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

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

PI, COORD, OTHER = "pi@cams.cn", "coord@cams.cn", "coord@sysu.cn"
PEOPLE = {PI: ("investigator", [], "Principal Investigator"),
          COORD: ("coordinator", ["CAMS"], "Coordinator CAMS"),
          OTHER: ("coordinator", ["SYSU"], "Coordinator SYSU")}
SUBJECT = "ICC-01-016"     # CAMS, on capecitabine (concurrent phase) at today's cut, advice "continue" before
NEW_EVENT = f"subject_id,ae_ref,term,grade,onset_date,serious,attribution\n{SUBJECT},AE-J12,Diarrhea,3,2026-11-25,N,probable\n"
QUESTION = "Diarrhoea grade 3 from 25 Nov: please confirm the grade and whether capecitabine was held."
LONG = 90_000      # ms: a click's run may start after wait_for_run looked; a shared machine is slow
ANSWER = "Confirmed grade 3 (7 stools/day over baseline); capecitabine held since 26 Nov."


def _trial_of_last_week(db: Path, tmp: Path) -> None:
    """The sample trial, its users, a cut saved "last week" (frozen now), then one new grade 3 event."""
    from toxdb.ingest.upload import import_paths, seed_sample
    from toxdb.store.cuts import save_cut
    from toxdb.store.db import Store
    from toxdb.users import add_user
    import datetime as dt

    new = tmp / "ae_new_week.csv"
    new.write_text(NEW_EVENT, encoding="utf-8")
    with Store(db) as store:
        seed_sample(store, ROOT / "sample_data")
        for email, (role, sites, name) in PEOPLE.items():
            add_user(store, email, role=role, sites=sites, name=name, actor="setup")
        save_cut(store, "Last review", dt.date.today(), "setup")
        # the comparison reads a saved cut as of its save time, in whole seconds: an upload in the same
        # second would count as inside the cut (left for the store: compare by frozen_upload, D41)
        time.sleep(1.1)
        [outcome] = import_paths(store, [new], COORD, kind="ae")
        assert outcome.counts is not None, outcome.error


def _shot(page, folder: Path, name: str) -> None:
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def _no_exception(page) -> None:
    from playwright.sync_api import expect

    expect(page.locator("[data-testid=stException]")).to_have_count(0)


def _choose(page, label: str, option: str) -> None:
    """Pick ``option`` in the selectbox labelled ``label`` (typing narrows the list)."""
    box = page.get_by_role("combobox", name=label)
    box.click()
    box.fill(option)
    page.get_by_role("option", name=option).first.click()
    wait_for_run(page)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


def test_pi_follows_a_grade3_event_acknowledges_queries_the_coordinator_answers_the_pi_closes(browser, tmp_path):
    db, port = tmp_path / "journey.duckdb", free_port()
    shots = Path(os.environ.get("TOXDB_SHOTS") or tmp_path)
    _trial_of_last_week(db, tmp_path)
    people = {email: name for email, (_r, _s, name) in PEOPLE.items()}
    with oidc_provider(people, tmp_path) as provider:
        secrets = sign_in_secrets(tmp_path / "secrets.toml", port, provider)
        with dashboard(db, port=port, args=("--secrets.files", str(secrets))) as url:
            _pi_acknowledges_and_raises(browser, url, shots)
            _coordinators_see_their_own(browser, url, shots)
            _pi_closes_and_reads_the_audit_log(browser, url, shots)

    from toxdb.store.db import Store

    with Store(db, read_only=True) as store:
        log = store.audit_log(10_000)
        assert store.verify_audit().ok
    mine = log[log["action"].isin(["acknowledge_advice", "query_raise", "query_answer", "query_close"])]
    assert sorted(zip(mine["action"], mine["actor"])) == [
        ("acknowledge_advice", PI), ("query_answer", COORD), ("query_close", PI), ("query_raise", PI)]
    detail = {a: json.loads(d) for a, d in zip(mine["action"], mine["detail"])}
    assert detail["query_answer"]["text"] == ANSWER and detail["query_answer"]["to"] == "answered"
    assert detail["query_raise"]["subject_id"] == SUBJECT
    assert json.loads(log.loc[log["action"] == "acknowledge_advice", "detail"].iloc[0])["subject_id"] == SUBJECT


def _pi_acknowledges_and_raises(browser, url: str, shots: Path) -> None:
    """Long: the PI's Monday in order (This week, the patient, Dose advice, Queries), each step a few lines."""
    from playwright.sync_api import expect

    ctx, page = sign_in(browser, url, PI)
    page.goto(f"{url}/?since=Last%20review")
    wait_for_run(page)
    expect(page.get_by_role("heading", name="This week")).to_be_visible()
    expect(page.get_by_role("heading", name="New grade ≥ 3 events (1)")).to_be_visible()
    grid = page.locator("xpath=//div[@data-testid='stElementContainer'][.//h3[contains(., 'New grade ≥ 3 events')]]"
                        "/following-sibling::div[@data-testid='stElementContainer'][1]//div[@data-testid='stDataFrame']")
    expect(grid).to_be_visible()
    _no_exception(page)
    _shot(page, shots, "journey_1_week")
    # the patient cell of the new grade 3 event (first row, first column) is a link to the Patient page
    grid.scroll_into_view_if_needed()
    box = grid.bounding_box()
    x, y = box["x"] + 30, box["y"] + 36 + 17                # header row 36 px, data rows 35 px
    page.mouse.move(x, y)              # the grid (a canvas) makes the cell a link on hover, then a click opens it
    page.wait_for_timeout(500)
    with ctx.expect_page() as opened:
        page.mouse.click(x, y)
    patient = opened.value
    patient.wait_for_load_state()
    wait_for_run(patient)
    assert f"subject={SUBJECT}" in patient.url
    expect(patient.get_by_role("combobox", name="Patient")).to_be_visible()
    expect(patient.locator("td[role=gridcell]", has_text="hold; resume at").first).to_be_attached()
    _no_exception(patient)
    _shot(patient, shots, "journey_2_patient")
    patient.close()

    page.goto(f"{url}/dose_advice")
    wait_for_run(page)
    expect(page.get_by_text("Hints that change the plan")).to_be_visible()
    _choose(page, "Hint", SUBJECT)
    page.get_by_label("Comment").fill("Discussed with the treating physician; capecitabine held.")
    page.get_by_role("button", name="Acknowledge", exact=True).click()
    wait_for_run(page)
    expect(page.get_by_text(re.compile(rf"^Acknowledged {SUBJECT} · capecitabine .* as {re.escape(PI)}\.$"))) \
        .to_be_visible(timeout=LONG)
    _no_exception(page)
    _shot(page, shots, "journey_3_advice_acknowledged")

    page.goto(f"{url}/queries")
    wait_for_run(page)
    page.get_by_role("tab", name="Raise a query").click()
    _choose(page, "About", "adverse event")
    _choose(page, "Patient", SUBJECT)
    _choose(page, "Record", "Diarrhea grade 3")
    page.get_by_label("Question to the site").fill(QUESTION)
    page.get_by_role("button", name="Raise query").click()
    wait_for_run(page)
    expect(page.get_by_text("Query #1 raised to site CAMS.")).to_be_visible(timeout=LONG)
    _no_exception(page)
    _shot(page, shots, "journey_4_query_raised")
    ctx.close()


def _coordinators_see_their_own(browser, url: str, shots: Path) -> None:
    from playwright.sync_api import expect

    ctx, page = sign_in(browser, url, OTHER)          # another site's coordinator: not theirs to see
    page.goto(f"{url}/queries")
    wait_for_run(page)
    expect(page.get_by_text(f"signed in as {OTHER} for site SYSU", exact=False)).to_be_visible()
    expect(page.get_by_text("No query with this status.")).to_be_visible()
    ctx.close()

    ctx, page = sign_in(browser, url, COORD)
    page.goto(f"{url}/queries")
    wait_for_run(page)
    expect(page.get_by_text(f"signed in as {COORD} for site CAMS", exact=False)).to_be_visible()
    expect(page.get_by_role("combobox", name="Query")).to_match_aria_snapshot(
        f'- combobox "Query": "#1 · CAMS · {SUBJECT} · Diarrhea grade 3, onset 2026-11-25"')
    page.get_by_label("Your answer or comment").fill(ANSWER)
    page.get_by_role("button", name="Answer", exact=True).click()
    wait_for_run(page)
    expect(page.get_by_text("Query #1 is now answered.")).to_be_visible(timeout=LONG)
    _no_exception(page)
    _shot(page, shots, "journey_5_query_answered")
    ctx.close()


def _pi_closes_and_reads_the_audit_log(browser, url: str, shots: Path) -> None:
    from playwright.sync_api import expect

    ctx, page = sign_in(browser, url, PI)
    page.goto(f"{url}/queries")
    wait_for_run(page)
    expect(page.get_by_role("combobox", name="Query")).to_match_aria_snapshot(
        f'- combobox "Query": "#1 · CAMS · {SUBJECT} · Diarrhea grade 3, onset 2026-11-25"')
    page.get_by_label("Your answer or comment").fill("Thank you: grade and hold confirmed.")
    page.get_by_role("button", name="Close", exact=True).click()
    wait_for_run(page)
    expect(page.get_by_text("Query #1 is now closed.")).to_be_visible(timeout=LONG)
    _no_exception(page)
    _shot(page, shots, "journey_6_query_closed")

    page.goto(f"{url}/history")
    wait_for_run(page)
    expect(page.get_by_role("heading", name="Audit log")).to_be_visible()
    log = page.locator("[data-testid=stDataFrame]").last
    log.scroll_into_view_if_needed()
    for who, what in ((PI, "Closed query #1: Thank you"), (COORD, f"Answered query #1: {ANSWER[:20]}"),
                      (PI, f"Raised query #1 to site CAMS about {SUBJECT} (adverse event)"),
                      (PI, f"Acknowledged dose advice for {SUBJECT} (capecitabine")):
        row = log.locator("tr", has_text=what)          # the grid's rows are for screen readers (hidden)
        expect(row).to_have_count(1, timeout=LONG)
        expect(row).to_contain_text(who)
    _no_exception(page)
    _shot(page, shots, "journey_7_audit")
    ctx.close()
