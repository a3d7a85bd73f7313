"""``python -m toxdb report``: HTML and PDF of the sample trial from a saved cut, as a committee
member gets them. The PDF is inspected with poppler (pdfinfo, pdftotext, pdftoppm): A4, page count,
running header and page numbers on every page, no figure split across a page edge."""
from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from cli_support import run_toxdb
from conftest import ROOT

from toxdb.store.db import Store

pytestmark = pytest.mark.cli
needs_pdf = pytest.mark.skipif(not (shutil.which("pdfinfo") and Path("/usr/bin/chromium").exists()),
                               reason="needs Debian's chromium and poppler-utils")


@pytest.fixture(scope="module")
def db(tmp_path_factory, store_files):
    path = store_files.copy("sample", tmp_path_factory.mktemp("cli_report") / "sample.duckdb")
    with Store(path) as s:
        s.save_data_cut("DSMB-1", dt.date(2026, 6, 30), "dm")
    return path


def _report(db, out, *extra, user="chair"):
    return run_toxdb("report", "--db", db, "--cut", "DSMB-1", "--out", out, *extra, user=user)


def _hash(done) -> str:
    last = done.stdout.strip().splitlines()[-1]
    m = re.fullmatch(r"data hash: ([0-9a-f]{64})", last)
    assert m, done.stdout
    return m.group(1)


def test_html_report_hash_printed_last_and_audited(db, tmp_path):
    done = _report(db, tmp_path / "r.html", "--format", "html")
    assert done.returncode == 0, done.stderr
    h = _hash(done)
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert h in page and "DSMB-1" in page and "chair" in page
    again = _report(db, tmp_path / "r2.html", "--format", "html", user="someone-else")
    assert _hash(again) == h                       # the same cut gives the same hash, whoever builds it
    with Store(db, read_only=True) as s:
        log = s.audit_log()
    built = [json.loads(d) for a, d in zip(log["action"], log["detail"]) if a == "report"]
    assert {b["data_hash"] for b in built} == {h}
    assert set(log.loc[log["action"] == "report", "actor"]) == {"chair", "someone-else"}


def test_unknown_cut_is_a_sentence_not_a_traceback(db, tmp_path):
    done = run_toxdb("report", "--db", db, "--cut", "no-such-cut", "--out", tmp_path / "x.html")
    assert done.returncode == 2
    assert "no saved cut named 'no-such-cut'" in done.stderr and "DSMB-1" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "x.html").exists()


def _pages_text(pdf) -> list[str]:
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True).stdout
    return text.split("\f")[:-1]


@needs_pdf
def test_pdf_report_pages_header_and_whole_figures(db, tmp_path):
    pdf = tmp_path / "r.pdf"
    done = _report(db, pdf, "--format", "pdf")
    assert done.returncode == 0, done.stderr
    h = _hash(done)
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
    n = int(re.search(r"Pages:\s+(\d+)", info).group(1))
    assert re.search(r"Page size:\s+59[45]\.\d+ x 841\.\d+ pts \(A4\)", info)
    assert 8 <= n <= 40
    pages = _pages_text(pdf)
    assert len(pages) == n
    for i, text in enumerate(pages, start=1):           # running header and page number on every page
        assert f"Page {i} of {n}" in text
        assert "NCT07063888" in text and "DSMB-1" in text and h[:16] in text and "built by chair" in text
    figures = sorted({int(k) for k in re.findall(r"Figure (\d+)\.", "".join(pages))})
    assert len(figures) >= 8
    for k in figures:                                   # title above and caption below on one page
        on = [i for i, text in enumerate(pages) if f"Figure {k}." in text]
        assert len(on) == 1 and pages[on[0]].count(f"Figure {k}.") == 2, (k, on)
    assert "Evaluable patients enrolled" in "".join(pages)      # the charts were drawn (plotly's SVG text)
    png = tmp_path / "png"
    png.mkdir()
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(pdf), str(png / "p")], check=True)
    assert len(list(png.glob("p-*.png"))) == n


def test_a_role_without_report_may_not_build(db, tmp_path):
    trial = tmp_path / "trial.toml"          # the person at the keyboard acts as [roles] local_role
    trial.write_text((ROOT / "trial.toml").read_text(encoding="utf-8").replace(
        'local_role = "data_manager"', 'local_role = "viewer"', 1)
        + '\n[roles.viewer]\nactions = ["view"]\nown_sites_only = false\n', encoding="utf-8")
    done = run_toxdb("report", "--db", db, "--cut", "DSMB-1", "--out", tmp_path / "x.html", user="coord",
                     env={"TOXDB_TRIAL": str(trial)})
    assert done.returncode == 5 and "viewer" in done.stderr and not (tmp_path / "x.html").exists()


def test_the_report_carries_the_audit_head_it_was_built_at(db, tmp_path):
    # D68: a kept report is an anchor; the log cut back below its head is found out with it
    with Store(db, read_only=True) as s:
        before = s.audit_head()
    done = _report(db, tmp_path / "anchor.html", "--format", "html", user="chair")
    assert done.returncode == 0, done.stderr
    assert f"audit head: {before}" in done.stdout
    page = (tmp_path / "anchor.html").read_text(encoding="utf-8")
    assert str(before) in page and not (tmp_path / "anchor.html.part").exists()
    with Store(db, read_only=True) as s:
        newest = s.audit_log(1)
    assert newest["action"].iloc[0] == "report" and json.loads(newest["detail"].iloc[0])["audit_head"] == str(before)
    copy = tmp_path / "copy.duckdb"
    shutil.copy(db, copy)
    import duckdb
    con = duckdb.connect(str(copy))
    con.execute("DELETE FROM audit_log WHERE seq >= ?", [before.seq])
    con.close()
    check = run_toxdb("audit", "verify", "--db", copy, "--anchors", tmp_path / "anchor.html")
    assert check.returncode == 1 and f"ends at entry #{before.seq - 1}" in check.stderr
