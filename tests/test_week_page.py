"""This week (AppTest): the PI's start page lists what is new with links to the patient, marks the
review, and a link opens the patient in the same data cut."""
import json

import pytest
from conftest import ROOT, run_app
from streamlit.testing.v1 import AppTest

from toxdb.store.db import Store

pytestmark = pytest.mark.app


def _app():
    return AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=120)


def test_this_week_is_the_start_page_and_marking_it_reviewed_resets_what_is_new(app_env):
    at = run_app(_app())
    assert at.title[0].value == "This week"
    metrics = {m.label: m.value for m in at.metric}
    assert int(metrics["New AEs"]) > 0          # a fresh database: everything arrived in the last 7 days
    new_aes = next(d.value for d in at.dataframe if "Term" in d.value.columns and "Upload" in d.value.columns)
    assert new_aes["Patient"].str.startswith("patient?subject=").all()
    next(b for b in at.button if b.label == "Mark as reviewed").click()
    run_app(at)
    assert at.selectbox(key="week_ref").value == "review"
    after = {m.label: m.value for m in at.metric}
    assert after["New AEs"] == "0" and after["Grade changes"] == "0"
    assert any("Nothing new." == c.value for c in at.caption)
    with Store(app_env, read_only=False) as s:
        log = s.audit_log()
    marks = log[log["action"] == "week_reviewed"]
    assert marks["actor"].tolist() == ["coordinator-test"]
    assert json.loads(marks["detail"].iloc[0])["items"]["new_aes"] == int(metrics["New AEs"])


def test_a_patient_link_opens_that_patient_in_the_linked_cut(app_env):
    at = run_app(_app())
    link = next(d.value for d in at.dataframe if "Patient" in d.value.columns)["Patient"].iloc[-1]
    subject = link.split("subject=")[1].split("&")[0]
    at = _app()
    at.query_params["subject"] = subject
    at.query_params["cut"] = "2026-06-30"
    run_app(at)
    at.switch_page("app/pages/patient.py")
    run_app(at)
    assert at.selectbox(key="patient_subject").value == subject
    assert at.session_state["cut_choice"] == "date"
    assert str(at.session_state["cut_date"]) == "2026-06-30"


def test_compare_cuts_page_counts_and_lists_the_changes(app_env):
    at = run_app(_app())
    at.switch_page("app/pages/compare.py")
    run_app(at)
    assert at.title[0].value == "Compare data cuts"
    # a fresh database: 7 days ago it was empty, so every stored row is added and nothing else
    import pandas as pd
    summary = at.dataframe[0].value.set_index("Table")
    assert summary.loc["adverse events", "added"] == len(pd.read_csv(ROOT / "sample_data" / "adverse_events.csv"))
    assert summary["corrected"].sum() == 0 and summary["withdrawn"].sum() == 0
    rows = next(d.value for d in at.dataframe if "Changed columns" in d.value.columns)
    assert rows["Patient"].str.startswith("patient?subject=").all()
    at.selectbox(key="cmp_a").set_value("live")
    run_app(at)
    assert at.dataframe[0].value[["added", "corrected", "withdrawn"]].to_numpy().sum() == 0
    assert any(c.value == "No change." for c in at.caption)


def test_on_treatment_counts_name_the_one_rule_in_their_footnote(app_env):
    from toxdb.clinical.treatment import describe_on_treatment_rule
    from toxdb.trial import load_trial
    rule = describe_on_treatment_rule(load_trial().phases)
    at = run_app(_app())
    assert any(rule in c.value for c in at.caption)                 # This week: cycles due
    at.switch_page("app/pages/overview.py")
    run_app(at)
    on = next(m for m in at.metric if m.label == "On treatment")
    assert on.help == rule
    assert any(rule in c.value for c in at.caption)
    at.switch_page("app/pages/timeliness.py")
    run_app(at)
    assert any(rule in c.value for c in at.caption)


def test_this_week_in_chinese(app_env):
    at = _app()
    at.query_params["lang"] = "zh_CN"
    run_app(at)
    assert at.title[0].value == "本周"
    assert "已知事件的分级变化 (" in " ".join(h.value for h in at.subheader)
    assert any(b.label == "标记为已审阅" for b in at.button)
