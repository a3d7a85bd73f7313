"""Issue 10 on the Upload page (AppTest): a treatment name the trial does not know is mapped there,
or kept as other; the mapped rows then load."""
import pandas as pd
import pytest
from conftest import ROOT, run_app
from streamlit.testing.v1 import AppTest

pytestmark = pytest.mark.app


def test_upload_page_maps_an_unknown_treatment_name_and_keeps_placebo_as_other(app_env):
    at = run_app(AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=90))
    at.switch_page("app/pages/upload.py")
    run_app(at)
    first = pd.read_csv(ROOT / "sample_data" / "patients.csv")["subject_id"].iloc[0]
    text = (f"subject_id,treatment,cycle,start_date,end_date\n{first},XANOMELINE,42,2026-11-02,2026-11-15\n"
            f"{first},PLACEBO,,2026-11-02,\n")
    at.file_uploader[0].set_value(("ex.csv", text.encode(), "text/csv"))
    run_app(at)
    next(s for s in at.selectbox if s.label == "This file holds").set_value("treatment")
    run_app(at)
    assert {m.label: m.value for m in at.metric}["Rejected"] == "2"
    boxes = {s.label: s for s in at.selectbox if "which value is" in s.label}
    assert set(boxes) == {"treatment: which value is 'PLACEBO'?", "treatment: which value is 'XANOMELINE'?"}
    boxes["treatment: which value is 'XANOMELINE'?"].set_value("capecitabine")
    boxes["treatment: which value is 'PLACEBO'?"].set_value("other")
    next(b for b in at.button if b.label == "Apply value mapping").click()
    run_app(at)
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["Rejected"], metrics["New"]) == ("0", "1")
