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
    text = (f"subject_id,treatment,cycle,start_date,end_date,nurse_comment\n"
            f"{first},XANOMELINE,42,2026-11-02,2026-11-15,ok\n{first},PLACEBO,,2026-11-02,,\n")
    at.file_uploader[0].set_value(("ex.csv", text.encode(), "text/csv"))
    run_app(at)
    next(s for s in at.selectbox if s.label == "This file holds").set_value("treatment")
    run_app(at)
    assert {m.label: m.value for m in at.metric}["Rejected"] == "2"
    assert any(c.value == "Ignored columns: nurse_comment" for c in at.caption)
    boxes = {s.label: s for s in at.selectbox if "which value is" in s.label}
    assert set(boxes) == {"treatment: which value is 'PLACEBO'?", "treatment: which value is 'XANOMELINE'?"}
    boxes["treatment: which value is 'XANOMELINE'?"].set_value("capecitabine")
    boxes["treatment: which value is 'PLACEBO'?"].set_value("other")
    next(b for b in at.button if b.label == "Apply value mapping").click()
    run_app(at)
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["Rejected"], metrics["New"]) == ("0", "1")


def test_a_flagged_row_is_loaded_and_the_monitoring_page_counts_it(app_env):
    at = run_app(AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=90))
    at.switch_page("app/pages/upload.py")
    run_app(at)
    first = pd.read_csv(ROOT / "sample_data" / "patients.csv")["subject_id"].iloc[0]
    text = f"subject_id,term,grade,onset_date\n{first},Nausea,4,2026-11-03\n"
    at.file_uploader[0].set_value(("ae_flag.csv", text.encode(), "text/csv"))
    run_app(at)
    assert {m.label: m.value for m in at.metric}["Flagged"] == "1"
    next(b for b in at.button if b.label.startswith("Load")).click()
    run_app(at)
    assert any("1 stored rows flagged" in s.value and "1 query raised to the site" in s.value for s in at.success)
    at.switch_page("app/pages/monitoring.py")
    run_app(at)
    assert any("1 with a grade CTCAE does not give the term (1 open, 0 resolved)" in c.value for c in at.caption)
    at.switch_page("app/pages/queries.py")          # the flag is an open query to the site (D56)
    run_app(at)
    listed = next(d.value for d in at.dataframe if "Raised by" in d.value.columns)
    mine = listed[listed["Raised by"] == "toxdb"]
    assert len(mine) == 1 and "ae_flag.csv" in mine["Record"].iloc[0]
    assert "confirm the grade" in mine["Last message"].iloc[0]
    at.switch_page("app/pages/history.py")         # the latest upload is the one shown first
    run_app(at)
    assert any("raise a query to the site: 1" in c.value for c in at.caption)


def test_patient_page_lists_other_treatments_and_does_not_count_them_as_exposure(app_env):
    first = pd.read_csv(ROOT / "sample_data" / "patients.csv")["subject_id"].iloc[0]
    at = run_app(AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=90))
    at.switch_page("app/pages/patient.py")
    run_app(at)
    at.selectbox(key="patient_subject").set_value(first)
    run_app(at)
    cycles_before = {m.label: m.value for m in at.metric}["Cycles"]
    assert not any(s.value == "Other treatments recorded" for s in at.subheader)

    at.switch_page("app/pages/upload.py")
    run_app(at)
    text = (f"subject_id,treatment,cycle,start_date,end_date,dose,dose_unit\n"
            f"{first},Traditional herbal decoction,,2025-06-10,2025-06-20,30,g/day\n")
    at.file_uploader[0].set_value(("other.csv", text.encode(), "text/csv"))
    run_app(at)
    next(s for s in at.selectbox if s.label == "This file holds").set_value("treatment")
    run_app(at)
    next(s for s in at.selectbox if "which value is 'Traditional herbal decoction'" in s.label).set_value("other")
    next(b for b in at.button if b.label == "Apply value mapping").click()
    run_app(at)
    next(b for b in at.button if b.label.startswith("Load")).click()
    run_app(at)

    at.switch_page("app/pages/patient.py")
    run_app(at)
    at.selectbox(key="patient_subject").set_value(first)
    run_app(at)
    assert any(s.value == "Other treatments recorded" for s in at.subheader)
    table = next(d.value for d in at.dataframe if "Name" in d.value.columns and "Dose unit" in d.value.columns)
    assert table[["Name", "Dose", "Dose unit"]].values.tolist() == [["Traditional herbal decoction", 30.0, "g/day"]]
    assert str(table["Start"].iloc[0])[:10] == "2025-06-10" and str(table["End"].iloc[0])[:10] == "2025-06-20"
    # not protocol exposure: the patient's cycle count is what it was
    assert {m.label: m.value for m in at.metric}["Cycles"] == cycles_before
