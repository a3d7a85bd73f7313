"""Issue 9 (5): user text is shown as text in Markdown, charts and exports (D44)."""
import io
import re
import string

import pandas as pd
import pytest
from conftest import ROOT, run_app

from app.text import md, md_frame
from toxdb.plots.overview import plot_ae_by_grade, plot_enrolment
from toxdb.plots.toxicity import plot_top_terms_grade3
from toxdb.reports.export import frame_to_csv_bytes, frame_to_xlsx_bytes

HOSTILE = ["![x](http://host/x.png)", "[click](http://host)", "**bold** _it_", ":red[alarm] :material/home:",
           "$x^2$", "<b>site</b>", "# heading", "1. item", "> quote", "`code`", "a|b|c", "P-001\nline two"]


@pytest.mark.parametrize("text", HOSTILE)
def test_markdown_escaping_leaves_no_punctuation_unescaped_and_loses_nothing(text):
    out = md(text)
    # CommonMark: a backslash before ASCII punctuation is that character, so no construct can start
    unescaped = re.sub(r"\\[" + re.escape(string.punctuation) + "]", "", out)
    assert not set(unescaped) & set(string.punctuation), out
    assert re.sub(r"\\(.)", r"\1", out) == " ".join(text.splitlines())


def test_tables_for_st_table_escape_cells_headers_and_index():
    frame = pd.DataFrame({"why": ["![x](http://h/x.png)"], "**h**": ["ok"]}, index=pd.Index([2], name="row"))
    out = md_frame(frame)
    assert out.columns.tolist() == ["why", r"\*\*h\*\*"]
    assert out.iloc[0, 0] == r"\!\[x\]\(http\:\/\/h\/x\.png\)"


def test_chart_text_from_sites_and_terms_is_written_as_entities():
    by_grade = pd.DataFrame({"site": ["<b>A</b>"], "grade": [3], "patients": [1]})
    fig = plot_ae_by_grade(by_grade)
    assert list(fig.data[0].x) == ["&lt;b&gt;A&lt;/b&gt;"]
    pts = pd.DataFrame({"site": ["<a href='x'>B</a>"], "enrolled_on": [pd.Timestamp("2025-01-01")]})
    assert plot_enrolment(pts).data[0].name == "&lt;a href='x'&gt;B&lt;/a&gt;"
    table = pd.DataFrame({"phase": ["all"], "level": ["term"], "term": ["<i>Rash</i> & itch"], "n_ge3": [1],
                          "pct_g3": [10.0], "pct_g4": [0.0], "pct_g5": [0.0], "n_g3": [1], "n_g4": [0], "n_g5": [0]})
    assert list(plot_top_terms_grade3(table).data[0].y) == ["&lt;i&gt;Rash&lt;/i&gt; &amp; itch"]


def test_exported_headers_are_neutralised_like_cells():
    from toxdb.ingest.readers import read_table
    frame = pd.DataFrame({"=HYPERLINK(\"http://x\")": ["a"], "+cmd": ["b"], "@SUM(A1)": ["c"], "-x": ["d"], "ok": ["e"]})
    header = frame_to_csv_bytes(frame).decode("utf-8-sig").splitlines()[0]
    assert header == "\"'=HYPERLINK(\"\"http://x\"\")\",'+cmd,'@SUM(A1),'-x,ok"
    read = read_table(frame_to_xlsx_bytes(frame), "x.xlsx")
    assert read.columns == ["'=HYPERLINK(\"http://x\")", "'+cmd", "'@SUM(A1)", "'-x", "ok"]


@pytest.mark.app
def test_a_file_name_with_markdown_is_shown_literally_on_the_overview(app_env):
    from streamlit.testing.v1 import AppTest

    from toxdb.ingest.upload import commit_upload, prepare_upload
    from toxdb.store.db import Store

    first = pd.read_csv(ROOT / "sample_data" / "patients.csv")["subject_id"].iloc[0]
    with Store(app_env) as store:                 # app_env holds the sample trial
        raw = f"subject_id,term,grade,onset_date\n{first},Fatigue,1,2026-11-05\n".encode()
        plan = prepare_upload(store, raw, "![x](http://host/x.png).csv", kind="ae")
        assert commit_upload(store, plan, "tester") is not None
    at = run_app(AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=90))
    at.switch_page("app/pages/overview.py")          # the start page is This week; the box is on Overview
    run_app(at)
    box = next(i.value for i in at.info if "Latest upload" in i.value)
    assert r"\!\[x\]\(http\:\/\/host\/x\.png\)\.csv" in box
    assert "](http" not in box
