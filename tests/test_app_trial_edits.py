"""Editing trial.toml takes effect on the next page run (D31): the pages' caches key on the trial
file's content, not only on the data version and the cut."""
import pytest
from conftest import ROOT, run_app
from streamlit.testing.v1 import AppTest

pytestmark = pytest.mark.app


def _reduce_count(at) -> int:
    return int(next(m.value for m in at.metric if m.label == "Reduce"))


def test_an_edited_trial_file_refreshes_cached_dose_advice(app_env, tmp_path, monkeypatch):
    trial = tmp_path / "trial.toml"
    text = (ROOT / "trial.toml").read_text(encoding="utf-8")
    trial.write_text(text, encoding="utf-8")
    monkeypatch.setenv("TOXDB_TRIAL", str(trial))
    at = run_app(AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=90))
    at.switch_page("app/pages/dose_advice.py")
    run_app(at)
    before = _reduce_count(at)
    # with no CrCl high enough for "no change", every capecitabine patient gets the renal reduction
    edited = text.replace("crcl_no_change_min = 51.0", "crcl_no_change_min = 999.0")
    assert edited != text
    trial.write_text(edited, encoding="utf-8")
    run_app(at)
    after = _reduce_count(at)
    assert after > before, (before, after)
    assert any("CrCl" in str(v) and "75 % of the planned dose" in str(v)
               for frame in at.dataframe for v in frame.value.get("CrCl effect", []))
