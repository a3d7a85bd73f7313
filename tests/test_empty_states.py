"""Issue 9 (6): every page and every export has a friendly empty state: an empty store, patients only,
patients and treatment without adverse events."""
import pytest
from conftest import PATIENTS_CSV, ROOT, TREATMENT_CSV, run_app, write

from toxdb.cli import main
from toxdb.ingest.upload import import_paths
from toxdb.store.db import Store

PAGES = sorted(p.name for p in (ROOT / "app" / "pages").glob("*.py"))
STAGES = {"empty": [], "patients": [("patients.csv", PATIENTS_CSV)],
          "treatment": [("patients.csv", PATIENTS_CSV), ("treatment.csv", TREATMENT_CSV)]}


def _fill(db, tmp_path, stage):
    with Store(db) as store:
        files = [write(tmp_path / name, text) for name, text in STAGES[stage]]
        assert all(o.error is None for o in import_paths(store, files, "tester"))


@pytest.mark.app
@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("page", PAGES)
def test_every_page_has_an_empty_state(fresh_app_env, tmp_path, monkeypatch, stage, page):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("TOXDB_NO_SEED", "1")
    _fill(fresh_app_env, tmp_path, stage)
    at = run_app(AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=90))
    at.switch_page(f"app/pages/{page}")
    run_app(at)
    assert len(at.main.children) > 0


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("what", ["events", "incidence", "rejects", "advice", "queries", "labs"])
def test_every_export_has_an_empty_state(tmp_path, capsys, stage, what):
    db = tmp_path / "e.duckdb"
    Store(db).close()
    _fill(db, tmp_path, stage)
    capsys.readouterr()
    code = main(["export", what, "--db", str(db)] + (["--cut", "2026-11-16"] if what != "rejects" else []))
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "Traceback" not in out.err
    if what in ("events", "rejects", "queries", "labs"):
        assert "No rows to export" in out.err and out.out == ""
    csv_code = main(["export", what, "--db", str(db), "--csv"])
    assert csv_code == 0 and capsys.readouterr().out.strip()       # a CSV keeps its header row


@pytest.mark.app
@pytest.mark.parametrize("page, words", [("overview.py", ["No adverse events at this cut", "No patient is enrolled"]),
                                         ("toxicity.py", ["No patient has started treatment", "No grade ≥ 3"])])
def test_an_empty_store_shows_sentences_not_empty_axes(fresh_app_env, monkeypatch, page, words):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("TOXDB_NO_SEED", "1")
    Store(fresh_app_env).close()
    at = run_app(AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=90))
    at.switch_page(f"app/pages/{page}")
    run_app(at)
    assert not at.get("plotly_chart")
    infos = " ".join(i.value for i in at.info)
    for w in words:
        assert w in infos
