"""Site timeliness rules (D72): days since new data, late AE entry, nothing reported in the last
cycle, traffic lights. Expected values worked out by hand from the small frames below."""
import datetime as dt

import pandas as pd
import pytest
from conftest import ROOT, run_app
from streamlit.testing.v1 import AppTest

from toxdb.reports.timeliness import (
    compute_open_query_counts,
    compute_site_timeliness,
    derive_late_light,
    derive_upload_light,
)
from toxdb.trial import Timeliness

NOW = dt.datetime(2025, 9, 1, 12, 0)
RULES = Timeliness(ae_entry_max_days=14, upload_amber_days=14, upload_red_days=28, late_share_red=0.10,
                   query_open_max_days=14)
PATIENTS = pd.DataFrame({"subject_id": ["A1", "A2", "B1"], "site": ["SITE-A", "SITE-A", "SITE-B"]})


def _activity(rows):
    return pd.DataFrame(rows, columns=["subject_id", "n_rows", "last_date", "last_entered"]).astype(
        {"last_date": "datetime64[ns]", "last_entered": "datetime64[ns]"})


ACTIVITY = {
    "patients": _activity([("A1", 1, "2025-06-01", "2025-06-02"), ("B1", 1, "2025-06-01", "2025-06-02")]),
    "treatment": _activity([("A1", 3, "2025-08-20", "2025-08-25 09:00"), ("B1", 2, "2025-07-20", "2025-07-25")]),
    # A1's AE data last stored 25 Aug; B1's last on 1 Aug
    "ae": _activity([("A1", 2, "2025-08-10", "2025-08-25 09:00"), ("B1", 1, "2025-07-01", "2025-08-01")]),
    # A1 has no lab since 10 Aug; B1 had labs on 22 July
    "labs": _activity([("A1", 5, "2025-08-10", "2025-08-12"), ("B1", 5, "2025-07-22", "2025-07-23")]),
}
STATUS = pd.DataFrame({"subject_id": ["A1", "A2", "B1"], "on_treatment": [True, False, True],
                       "cycle_start": pd.to_datetime(["2025-08-20", None, "2025-07-20"]),
                       "rt_start": pd.to_datetime([None, None, None])})
# A1: two AEs, one stored 3 days after onset, one 20 days after (late); B1: one stored 31 days after onset
ENTRIES = pd.DataFrame({"subject_id": ["A1", "A1", "B1"], "onset_date": pd.to_datetime(["2025-08-01", "2025-08-05",
                                                                                          "2025-07-01"]),
                        "entered_at": pd.to_datetime(["2025-08-04 10:00", "2025-08-25 09:00", "2025-08-01 08:00"])})
UPLOADS = pd.DataFrame({"kind": ["labs"], "site": ["SITE-B"], "uploaded_at": pd.to_datetime(["2025-08-30 10:00"])})


@pytest.fixture
def result():
    return compute_site_timeliness(PATIENTS, STATUS, ACTIVITY, ENTRIES, UPLOADS, NOW, RULES)


def test_days_since_the_last_new_data_of_each_kind(result):
    t = result.table.set_index("site")
    # SITE-A: treatment and AEs stored 25 Aug 09:00 -> 7 days to 1 Sep 12:00; labs 12 Aug -> 20 days
    assert t.loc["SITE-A", ["days_since_treatment", "days_since_ae", "days_since_labs"]].tolist() == [7, 7, 20]
    # SITE-B: an upload named for SITE-B on 30 Aug counts for labs (2 days), AEs last stored 1 Aug (31 days)
    assert t.loc["SITE-B", ["days_since_ae", "days_since_labs"]].tolist() == [31, 2]
    assert t.loc["SITE-A", "upload_light"] == "amber" and t.loc["SITE-B", "upload_light"] == "red"


def test_late_ae_entries_per_site(result):
    t = result.table.set_index("site")
    assert t.loc["SITE-A", ["ae_rows", "ae_late"]].tolist() == [2, 1]
    assert t.loc["SITE-B", ["ae_rows", "ae_late"]].tolist() == [1, 1]
    assert t.loc["SITE-A", "entry_light"] == "red"         # 1 of 2 = 50 % > 10 %


def test_nothing_reported_in_the_last_cycle(result):
    p = result.patients.set_index("subject_id")
    # A1 (cycle from 20 Aug): AE data stored 25 Aug (a report), last lab 10 Aug (none in the cycle)
    assert (bool(p.loc["A1", "no_ae_report"]), bool(p.loc["A1", "no_labs"])) == (False, True)
    # B1 (cycle from 20 July): AE data stored 1 Aug, lab on 22 July: nothing missing, so not listed
    assert "B1" not in p.index and "A2" not in p.index        # A2 is not on treatment
    t = result.table.set_index("site")
    assert t.loc["SITE-A", "cycle_light"] == "amber" and t.loc["SITE-B", "cycle_light"] == "green"
    assert t.loc["SITE-A", "light"] == "red" and t.loc["SITE-B", "light"] == "red"


@pytest.mark.parametrize("days, light", [(0, "green"), (14, "green"), (15, "amber"), (28, "amber"), (29, "red"),
                                         (None, "red")])
def test_upload_light_thresholds(days, light):
    assert derive_upload_light(pd.Series([days], dtype=float), 14, 28).iloc[0] == light


@pytest.mark.parametrize("late, total, light", [(0, 10, "green"), (1, 10, "amber"), (2, 10, "red"), (0, 0, "green")])
def test_late_entry_light(late, total, light):
    assert derive_late_light(pd.Series([late]), pd.Series([total]), 0.10).iloc[0] == light


def test_queries_open_too_long_hook():
    assert compute_open_query_counts(None, NOW, 14) is None
    q = pd.DataFrame({"site": ["SITE-A", "SITE-A", "SITE-B"],
                      "opened_at": pd.to_datetime(["2025-08-01", "2025-08-30", "2025-08-10"])})
    assert compute_open_query_counts(q, NOW, 14).to_dict() == {"SITE-A": 1, "SITE-B": 1}


@pytest.mark.app
def test_site_timeliness_page_renders_lights_and_chart(app_env):
    at = run_app(AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=120))
    at.switch_page("app/pages/timeliness.py")
    run_app(at)
    assert at.title[0].value == "Site timeliness"
    table = at.dataframe[0].value
    import pandas as pd
    sites = pd.read_csv(ROOT / "sample_data" / "patients.csv")["site"].nunique()
    assert len(table) == sites
    assert table["Overall"].str.match(r"^(🟢|🟡|🔴) ").all()
    assert (table["Days since AEs"] == 0).all()            # the sample trial was stored just now
    assert len(at.get("plotly_chart")) == 1
