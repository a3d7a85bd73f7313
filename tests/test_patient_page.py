"""The Patient page as Streamlit runs it (AppTest): opens on the first patient, switches to another."""
import pytest
from conftest import ROOT, run_app
from streamlit.testing.v1 import AppTest


@pytest.mark.app
def test_patient_page_renders_and_switches_patient(app_env):
    at = run_app(AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=90))
    at.switch_page("app/pages/patient.py")
    run_app(at)
    assert at.title[0].value == "Patient"
    box = at.selectbox(key="patient_subject")
    first = box.value
    assert len(box.options) > 1 and "·" in box.options[0]                  # "ID · site"
    metrics = {m.label for m in at.metric}
    assert {"BSA (m²)", "CrCl (mL/min)", "Worst grade", "Treated patients"} <= metrics
    box.select_index(3)
    run_app(at)
    assert at.selectbox(key="patient_subject").value != first
    assert any(s.value.startswith("Adverse events") for s in at.subheader)
