"""The dashboard as Streamlit runs it (AppTest, no browser): first start, every page, the upload flow."""
import re
from pathlib import Path

import pytest
from conftest import ROOT, run_app
from streamlit.testing.v1 import AppTest

PAGES = sorted(p.name for p in (ROOT / "app" / "pages").glob("*.py"))


@pytest.mark.app
def test_first_start_seeds_the_sample_trial_and_opens_on_this_week(fresh_app_env):
    app_env = fresh_app_env
    assert not app_env.exists()
    at = run_app(AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=90))
    assert app_env.exists()
    assert at.title[0].value == "This week"          # the principal investigator's start page
    at.switch_page("app/pages/overview.py")
    run_app(at)
    assert at.title[0].value == "Trial overview"
    metrics = {m.label: m.value for m in at.metric}
    import pandas as pd
    patients = pd.read_csv(ROOT / "sample_data" / "patients.csv")
    assert metrics["Patients enrolled"] == f"{len(patients)} / 66"
    assert int(metrics["AE rows"]) == len(pd.read_csv(ROOT / "sample_data" / "adverse_events.csv"))
    sidebar_text = " ".join(c.value for c in at.sidebar.caption)
    assert str(app_env) in sidebar_text and "live" in sidebar_text.lower()


@pytest.mark.app
@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_without_exception(app_env, page):
    at = run_app(AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=90))
    at.switch_page(f"app/pages/{page}")
    run_app(at)
    assert not at.exception and len(at.main.children) > 0


@pytest.mark.app
def test_upload_flow_maps_checks_and_loads(app_env):
    at = run_app(AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=90))
    at.switch_page("app/pages/upload.py")
    run_app(at)
    before = {m.label: m.value for m in at.metric}
    assert "Rows in file" not in before                     # nothing chosen yet
    text = ("Patient ID,CTCAE Term,CTCAE Grade,Start Date,Resolution date\n"
            "ICC-01-001,Fatigue,G2,2026-11-02,\n"
            "ICC-01-001,Nausea,4,2026-11-03,\n"
            "NOBODY-1,Nausea,1,2026-11-03,\n")
    import pandas as pd
    first = pd.read_csv(ROOT / "sample_data" / "patients.csv")["subject_id"].iloc[0]
    text = text.replace("ICC-01-001", first)
    at.file_uploader[0].set_value(("site_export.csv", text.encode(), "text/csv"))
    run_app(at)
    kind_box = next(s for s in at.selectbox if s.label == "This file holds")
    assert kind_box.value == "ae"
    metrics = {m.label: m.value for m in at.metric}
    # grade 4 nausea is stored as recorded and flagged (D50); the unknown patient is rejected
    assert (metrics["Rows in file"], metrics["New"], metrics["Rejected"], metrics["Flagged"]) == ("3", "2", "1", "1")
    frames = [t.value for t in at.table]
    reasons = " ".join(" ".join(map(str, f["why"])) for f in frames if "why" in f.columns)
    assert "not in the patient table" in reasons
    flagged = " ".join(" ".join(map(str, d.value["message"])) for d in at.dataframe if "message" in d.value.columns)
    assert "grade 4 does not exist" in flagged
    assert any(b.label.startswith("Download rejected rows") for b in at.get("download_button"))
    load = next(b for b in at.button if b.label.startswith("Load"))
    load.click()
    run_app(at)
    # messages are escaped Markdown (D44): read them as the user sees them
    assert any("Loaded site_export.csv" in re.sub(r"\\(.)", r"\1", s.value) for s in at.success)
    store = _store_of(app_env)
    ae = store.read_kind("ae")
    new = ae[ae["onset_date"] == pd.Timestamp("2026-11-02")].query("term == 'Fatigue'")
    assert new[["subject_id", "grade"]].values.tolist() == [[first, 2]]
    last = store.uploads().iloc[-1]
    assert (last["file_name"], last["uploaded_by"], last["n_rejected"], last["n_flagged"]) == (
        "site_export.csv", "coordinator-test", 1, 1)


@pytest.mark.app
def test_upload_with_an_unknown_column_is_mapped_by_hand(app_env):
    at = run_app(AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=90))
    at.switch_page("app/pages/upload.py")
    run_app(at)
    import pandas as pd
    first = pd.read_csv(ROOT / "sample_data" / "patients.csv")["subject_id"].iloc[0]
    text = f"subject_id,term,grade,Tox began\n{first},Fatigue,1,2026-11-04\n"
    at.file_uploader[0].set_value(("odd.csv", text.encode(), "text/csv"))
    run_app(at)
    assert any("onset_date" in e.value for e in at.error)          # asks for the missing column
    box = next(s for s in at.selectbox if s.label.startswith("onset_date"))
    box.set_value("Tox began")
    next(b for b in at.button if b.label == "Apply mapping").click()
    run_app(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["New"] == "1"


@pytest.mark.app
def test_unreadable_upload_says_why(app_env):
    at = run_app(AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=90))
    at.switch_page("app/pages/upload.py")
    run_app(at)
    at.file_uploader[0].set_value(("photo.csv", b"\x89PNG\r\n\x1a\n" + bytes(100), "text/csv"))
    run_app(at)
    assert any("PNG image" in e.value for e in at.error)


def _store_of(db: Path):
    # the dashboard's process holds the file; AppTest runs in this process, so reuse its cached store
    from app import state
    return state.get_store()
