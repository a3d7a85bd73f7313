"""Links that keep the view (AppTest): the data cut, the patient and the main filters are in the
address, so a link opens the same view, and changing a filter updates the address."""
import pandas as pd
import pytest
from conftest import ROOT, run_app
from streamlit.testing.v1 import AppTest

pytestmark = pytest.mark.app


def _open(page: str, **params):
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=120)
    for k, v in params.items():
        at.query_params[k] = v
    run_app(at)
    at.switch_page(f"app/pages/{page}")
    return run_app(at)


def test_toxicity_filters_come_from_and_go_to_the_address(app_env):
    site = min(pd.read_csv(ROOT / "sample_data" / "patients.csv")["site"].unique())
    at = _open("toxicity.py", phase="concurrent", site=[site], serious="1", attribution=["probable", "nonsense"],
               cut="2026-06-30")
    assert at.selectbox(key="tox_phase").value == "concurrent"
    assert at.multiselect(key="tox_sites").value == [site]
    assert at.checkbox(key="tox_serious").value is True
    assert at.multiselect(key="tox_attr").value == []          # an unknown attribution: the filter is not applied
    assert at.session_state["cut_choice"] == "date" and str(at.session_state["cut_date"]) == "2026-06-30"
    at.checkbox(key="tox_serious").uncheck()
    at.selectbox(key="tox_phase").set_value("maintenance")
    run_app(at)
    assert at.query_params.get("phase") == "maintenance"
    assert "serious" not in at.query_params
    assert at.query_params.get("site") == site and at.query_params.get("cut") == "2026-06-30"


def test_a_saved_cut_in_the_address_is_the_cut_in_view(app_env):
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=120)
    run_app(at)
    import datetime as dt
    import os

    from toxdb.store.db import Store
    with Store(os.environ["TOXDB_DB"]) as s:
        s.save_data_cut("DSMB 1", dt.date(2026, 5, 31), "dm")
    at = _open("overview.py", cut="DSMB 1")
    assert at.session_state["cut_choice"] == "DSMB 1"
    assert "DSMB 1" in at.caption[0].value


def test_lab_query_filters_in_the_address(app_env):
    at = _open("labs.py", window="7")
    assert at.number_input(key="labq_window").value == 7
    at.number_input(key="labq_window").set_value(10)
    run_app(at)
    assert at.query_params.get("window") == "10"
