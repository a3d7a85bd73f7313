"""Issue 9 (6), every page: site names, subject ids, terms, verbatim, file names, headers and comments
that look like Markdown or HTML are shown as the characters they are (D44).

The sample trial is loaded with every site name, one subject id and the verbatim texts replaced by
hostile text, plus a file with a hostile name and header whose rows are rejected, a query and an
acknowledged dose advice with hostile words. Every page then runs in AppTest and every element that
Streamlit renders as Markdown (text, captions, alerts, labels of widgets, expanders, tabs and metrics,
radio options, st.table cells) and every chart (plotly renders HTML tags in titles, names, ticks and
hover text) must be free of the unescaped payload; where Streamlit shows plain text (selectbox
options, dataframe headers) the text must arrive as typed, not with Markdown's backslashes.
"""
import csv
import io
import json

import pytest
from conftest import ROOT, run_app

PAGES = sorted(p.name for p in (ROOT / "app" / "pages").glob("*.py"))

# each hostile text with the piece that may only appear when it was NOT shown literally
HOSTILE_SITES = {"CAMS": "![x](http://h/x.png)", "PUMCH": "<b>zq</b> site", "ZSH": "**bold** :red[x]"}
SUBJECT = ("ICC-01-001", "ICC $x$ [a](http://h)")
VERBATIM = ["<script>alert(1)</script>", "[a](http://h)", "**bold**", "$x$ :red[x]", "![x](http://h/x.png)"]
FILE_NAME = "[a](http://h) <b>zq</b>.csv"
COMMENT = "**bold** <script>x</script> ![x](http://h/x.png)"
# what rendered Markdown or HTML would show if any of these went through unescaped
MARKDOWN_SIGNS = ["](http://h", "<b>zq", "**bold**", "$x$", ":red[x]", "<script"]
HTML_SIGNS = ["<b>zq", "<script", "<a href"]
# what Markdown escaping looks like where text is shown as plain text (backslashes on screen)
ESCAPED_SIGNS = [r"\*\*bold", r"\]\(http", r"\<b\>", r"\$x\$"]


def _hostile_csv(name: str) -> str:
    rows = list(csv.reader(io.StringIO((ROOT / "sample_data" / name).read_text(encoding="utf-8"))))
    head, body = rows[0], rows[1:]
    for i, row in enumerate(body):
        cells = dict(zip(head, row))
        if "site" in cells and cells["site"] in HOSTILE_SITES:
            row[head.index("site")] = HOSTILE_SITES[cells["site"]]
        if cells.get("subject_id") == SUBJECT[0]:
            row[head.index("subject_id")] = SUBJECT[1]
        if "verbatim" in cells:
            row[head.index("verbatim")] = VERBATIM[i % len(VERBATIM)]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([head, *body])
    return out.getvalue()


def _hostile_store(db):
    from toxdb.ingest.upload import commit_upload, prepare_upload
    from toxdb.store.db import Store

    with Store(db) as store:
        for name, kind in (("patients.csv", "patients"), ("treatment.csv", "treatment"),
                           ("adverse_events.csv", "ae"), ("labs.csv", "labs")):
            plan = prepare_upload(store, _hostile_csv(name).encode(), name, kind=kind)
            assert commit_upload(store, plan, "tester") is not None, plan.notes
        # a file whose name, a header and cells are hostile, and whose rows are rejected (unknown term)
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows([
            ["subject_id", "term", "grade", "onset_date", "**bold** <b>zq</b>"],
            [SUBJECT[1], "[a](http://h) rash", "2", "2025-07-01", "$x$"],
            [SUBJECT[1], "<script>x</script>", "9", "2025-07-02", ":red[x]"]])
        raw = out.getvalue()
        plan = prepare_upload(store, raw.encode(), FILE_NAME, kind="ae")
        assert commit_upload(store, plan, "tester") is not None
        assert plan.summary["rejected"] == 2
        _query_and_acknowledgement(store)


def _query_and_acknowledgement(store):
    from toxdb.queries import raise_query, record_choices

    ae = store.read_kind("ae", with_version_columns=True)
    mine = ae[ae["subject_id"] == SUBJECT[1]]
    assert len(mine), "the hostile subject id was stored"
    row = record_choices(mine, "ae").iloc[0]
    raise_query(store, {"kind": "ae", "record_key": row["record_key"], "subject_id": SUBJECT[1],
                        "site": HOSTILE_SITES["CAMS"], "label": row["label"]}, COMMENT)
    store.acknowledge_advice(SUBJECT[1], "capecitabine", "<b>zq</b>", "h", COMMENT, "tester")


def _markdown_texts(at) -> list[tuple[str, str]]:
    """(where, text) for everything Streamlit renders as Markdown on the page."""
    out = []
    for kind in ("markdown", "caption", "info", "warning", "error", "success", "toast"):
        out += [(kind, e.proto.body) for e in at.get(kind)]
    for e in at.get("metric"):
        out.append(("metric label", e.proto.label))
    for e in at.expander:
        out.append(("expander label", e.label))
    for e in at.tabs:
        out.append(("tab label", e.label))
    for kind in ("radio", "selectbox", "multiselect", "checkbox", "toggle", "button", "text_input", "text_area",
                 "number_input", "date_input", "slider", "select_slider", "download_button", "segmented_control",
                 "pills"):
        for e in at.get(kind):
            label = getattr(e.proto, "label", "")
            out.append((f"{kind} label", label))
            if kind == "radio":            # radio options are Markdown too; selectbox options are plain text
                out += [("radio option", o) for o in e.proto.options]
    for e in at.get("table"):
        frame = e.value
        out += [("table header", str(c)) for c in frame.columns]
        out += [("table cell", str(v)) for v in frame.astype(str).to_numpy().ravel()]
    return out


def _plain_texts(at) -> list[tuple[str, str]]:
    """(where, text) for what Streamlit shows as plain text: selectbox and multiselect options, dataframe
    headers. Escaping there would show the backslashes, so the text must arrive as typed."""
    out = []
    for kind in ("selectbox", "multiselect"):
        for e in at.get(kind):
            out += [(f"{kind} option", o) for o in e.proto.options]
    for e in at.get("dataframe"):
        out += [("dataframe header", str(c)) for c in e.value.columns]
    return out


def _chart_texts(at) -> list[str]:
    return [e.proto.spec for e in at.get("plotly_chart")]


@pytest.mark.app
@pytest.mark.parametrize("page", PAGES)
def test_hostile_user_text_is_shown_literally_on_every_page(fresh_app_env, monkeypatch, page):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("TOXDB_NO_SEED", "1")
    _hostile_store(fresh_app_env)
    at = run_app(AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=120))
    at.switch_page(f"app/pages/{page}")
    run_app(at)
    leaks = [(where, text) for where, text in _markdown_texts(at) for sign in MARKDOWN_SIGNS if sign in text]
    assert not leaks, leaks
    escaped = [(where, text) for where, text in _plain_texts(at) for sign in ESCAPED_SIGNS if sign in text]
    assert not escaped, escaped
    for spec in _chart_texts(at):
        figure = json.loads(spec)
        text = json.dumps(figure, ensure_ascii=False)
        assert not [s for s in HTML_SIGNS if s in text], [s for s in HTML_SIGNS if s in text]
