"""AppTest of the Committee report page (Build report, downloads, permission) and the SAEs and deaths
page (sortable listings with downloads), on the sample trial."""
from __future__ import annotations

import datetime as dt
import json

import pytest
from conftest import ROOT, run_app
from streamlit.testing.v1 import AppTest

from toxdb.store.db import Store

pytestmark = pytest.mark.app
DASHBOARD = str(ROOT / "dashboard.py")


@pytest.fixture
def sample_db(tmp_path, monkeypatch, store_files):
    db = store_files.copy("sample", tmp_path / "page.duckdb")      # sample_data/ as seeded
    with Store(db) as s:
        s.save_data_cut("DSMB-1", dt.date(2026, 6, 30), "dm")
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("TOXDB_DB", str(db))
    monkeypatch.setenv("TOXDB_NO_SEED", "1")
    monkeypatch.setenv("TOXDB_USER", "chair")
    return db


def local_role(tmp_path, monkeypatch, role: str, extra: str = "") -> None:
    """Local mode acts as ``[roles] local_role``: a copy of the trial file with ``role`` there (and
    ``extra`` roles appended) makes the person at the keyboard that role."""
    text = (ROOT / "trial.toml").read_text(encoding="utf-8")
    text = text.replace('local_role = "data_manager"', f'local_role = "{role}"', 1) + extra
    path = tmp_path / "trial.toml"
    path.write_text(text, encoding="utf-8")
    monkeypatch.setenv("TOXDB_TRIAL", str(path))


def _page(name: str) -> AppTest:
    at = AppTest.from_file(DASHBOARD, default_timeout=600)
    run_app(at)
    at.switch_page(f"app/pages/{name}")
    return run_app(at)


def test_build_report_gives_html_and_records_the_hash(sample_db, monkeypatch, tmp_path):
    local_role(tmp_path, monkeypatch, "committee")
    at = _page("report.py")
    at.toggle(key="rep_pdf").set_value(False)
    at.button(key="rep_build").click()
    run_app(at)
    labels = [b.label for b in at.get("download_button")]
    assert labels == ["Download HTML"]
    shown = at.get("code")[0].value
    from app.state import _open_store          # the page's own connection (DuckDB allows one per file here)

    log = _open_store(str(sample_db.resolve())).audit_log()
    rows = log[log["action"] == "report"]
    assert list(rows["actor"]) == ["chair"]
    assert json.loads(rows["detail"].iloc[0])["data_hash"] == shown


def test_a_role_without_report_cannot_build_the_report(sample_db, monkeypatch, tmp_path):
    local_role(tmp_path, monkeypatch, "viewer", '\n[roles.viewer]\nactions = ["view"]\nown_sites_only = false\n')
    at = _page("report.py")
    assert at.button(key="rep_build").disabled
    assert any("committee and data managers" in w.value for w in at.warning)


def test_sae_and_death_listings_page(sample_db):
    at = _page("safety.py")
    heads = [h.value for h in at.subheader]
    assert heads[0].startswith("Serious adverse events (") and heads[1].startswith("Deaths (")
    assert {b.label for b in at.get("download_button")} >= {"Download CSV", "Download Excel"}
    sae = at.dataframe[0].value
    assert {"Patient", "Term", "Grade", "Onset", "Serious"} <= set(sae.columns)
    assert sae["Serious"].all()
