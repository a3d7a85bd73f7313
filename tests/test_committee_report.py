"""The committee report built in-process from the sample trial: its counts agree with the exports
counted independently, its data hash is stable and moves with a correction, every table has a
footnote, user text is escaped, and the HTML is self-contained."""
from __future__ import annotations

import datetime as dt
import io
import re

import pandas as pd
import pytest
from conftest import ROOT, write

from toxdb.cli.export import build_events, build_incidence
from toxdb.ingest.upload import import_paths
from toxdb.reports.committee import compute_committee_report, render_report_html
from toxdb.reports.committee.html import css_string
from toxdb.reports.committee.model import ReportFigure, ReportTable
from toxdb.store.cuts import list_saved_cuts
from toxdb.store.db import Store
from toxdb.trial import load_trial

CUT = dt.date(2026, 6, 30)


@pytest.fixture(scope="module")
def sample(tmp_path_factory, store_files):
    s = Store(store_files.copy("sample", tmp_path_factory.mktemp("report") / "sample.duckdb"))
    s.save_data_cut("DSMB-1", CUT, "dm")
    yield s
    s.close()


@pytest.fixture(scope="module")
def report(sample):
    cut = next(c for c in list_saved_cuts(sample) if c.name == "DSMB-1")
    return compute_committee_report(sample, cut, load_trial(), user="committee-chair")


class _Args:
    cut = CUT
    window = None
    site = None
    attribution = None
    serious_only = False
    phase = None
    numbers = True


def _n(cell: str) -> int:
    return int(str(cell).split(" ")[0])


def test_sections_in_committee_order(report):
    keys = [b.key for s in report.sections for b in s.blocks]
    assert [s.key for s in report.sections] == ["open", "closed"]
    order = ["synopsis", "enrolment", "disposition", "registration", "completeness", "queries_by_site",
             "exposure", "cycles", "incidence_concurrent", "incidence_maintenance", "incidence_all",
             "operating_characteristics", "boundary_concurrent", "cif_all", "sae", "deaths", "grade45",
             "lab_shift", "hepatic", "advice_summary"]
    assert [keys.index(k) for k in order] == sorted(keys.index(k) for k in order)


def test_every_table_states_population_and_rule(report):
    for s in report.sections:
        for b in s.blocks:
            if isinstance(b, ReportTable):
                assert b.footnote.startswith("Population") or "design" in b.footnote.lower(), b.key
                assert len(b.footnote) > 60, b.key


def test_incidence_equals_export_incidence(sample, report):
    exported = build_incidence(sample, _Args())          # the Toxicity page's numbers for the same cut
    for phase in ("concurrent", "maintenance", "all"):
        mine = report.block(f"incidence_{phase}").frame
        theirs = exported[exported["phase"] == phase].reset_index(drop=True)
        assert len(mine) == len(theirs) > 1
        for g in (1, 2, 3, 4, 5):
            assert [_n(c) for c in mine[f"g{g}"]] == theirs[f"n_g{g}"].tolist(), (phase, g)
        assert [_n(c) for c in mine["ge3"]] == theirs["n_ge3"].tolist()


def test_incidence_counted_independently_from_export_events(sample, report):
    ev = build_events(sample, _Args())
    te = ev[ev["treatment_emergent"].astype(str) == "True"]
    for phase in ("concurrent", "maintenance", "all"):
        rows = te if phase == "all" else te[te["emergent_phase"] == phase]
        worst = rows.groupby(["term", "subject_id"])["worst_grade"].max().reset_index()
        table = report.block(f"incidence_{phase}").frame
        terms = table[table["level"] == "term"].set_index("term")
        for term, grp in worst.groupby("term"):
            assert _n(terms.loc[term, "any"]) == len(grp), (phase, term)
            assert _n(terms.loc[term, "ge3"]) == int((grp["worst_grade"] >= 3).sum()), (phase, term)
        anyrow = table[table["level"] == "any"].iloc[0]
        per_patient = rows.groupby("subject_id")["worst_grade"].max()
        assert _n(anyrow["any"]) == len(per_patient)
        assert _n(anyrow["ge3"]) == int((per_patient >= 3).sum())


def test_listings_match_export_events(sample, report):
    ev = build_events(sample, _Args())
    serious = ev[ev["serious"].astype(str) == "True"]
    assert report.block("sae").full_rows == len(serious) > 0
    assert sorted(report.block("sae").frame["subject_id"]) == sorted(serious["subject_id"])
    assert report.block("grade45").full_rows == int((ev["worst_grade"].astype(int) >= 4).sum())


def test_hash_same_on_rebuild_and_over_the_same_data(sample, report):
    cut = next(c for c in list_saved_cuts(sample) if c.name == "DSMB-1")
    again = compute_committee_report(sample, cut, load_trial(), user="someone else")
    assert again.summary["data_hash"] == report.summary["data_hash"]
    assert re.fullmatch(r"[0-9a-f]{64}", report.summary["data_hash"])


def test_hash_changes_when_a_correction_lands_after_a_new_cut(tmp_path, store_files):
    s = Store(store_files.copy("sample", tmp_path / "c.duckdb"))       # sample_data/ as seeded
    trial = load_trial()
    s.save_data_cut("A", CUT, "dm")
    s.save_data_cut("B", CUT, "dm")          # no new data in between: same numbers, same hash
    cuts = {c.name: c for c in list_saved_cuts(s)}
    h_a = compute_committee_report(s, cuts["A"], trial, section="closed").summary["data_hash"]
    assert compute_committee_report(s, cuts["B"], trial, section="closed").summary["data_hash"] == h_a
    ae = pd.read_csv(ROOT / "sample_data" / "adverse_events.csv", dtype=str, keep_default_na=False)
    row = ae[(ae["grade"] == "2") & (ae["onset_date"] < "2026-01-01")].head(1).copy()
    row["grade"] = "3"                                     # a site corrects one event's grade
    buf = io.StringIO()
    row.to_csv(buf, index=False)
    out = import_paths(s, [write(tmp_path / "correction.csv", buf.getvalue())], "site", kind="ae")
    assert out[0].counts.corrections == 1
    s.save_data_cut("C", CUT, "dm")
    cuts = {c.name: c for c in list_saved_cuts(s)}
    assert compute_committee_report(s, cuts["C"], trial, section="closed").summary["data_hash"] != h_a
    assert compute_committee_report(s, cuts["A"], trial, section="closed").summary["data_hash"] == h_a
    s.close()


def test_html_is_self_contained_and_escapes_user_text(sample, report):
    report.summary["built_by"] = '<script>alert(1)</script>"x'
    try:
        page = render_report_html(report)
    finally:
        report.summary["built_by"] = "committee-chair"
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert not re.search(r"<script[^>]+src=", page)        # plotly.js inline, nothing fetched
    from plotly.offline import get_plotlyjs

    rest = page.replace(get_plotlyjs(), "")                 # the bundle names URLs only for maps and MathJax
    assert get_plotlyjs() in page and not re.search(r"https?://", rest)
    assert page.count("<thead>") == sum(isinstance(b, ReportTable) and not b.frame.empty
                                        for s in report.sections for b in s.blocks)
    n_fig = sum(isinstance(b, ReportFigure) for s in report.sections for b in s.blocks)
    assert page.count('<figure class="block figure"') == n_fig >= 8
    assert "@top-left" in page and "counter(pages)" in page


def test_css_string_cannot_end_the_style():
    assert css_string('a"b\\c</style>') == '"a\\"b\\\\c\\3C /style>"'


def test_open_section_has_no_results_by_grade(sample):
    cut = next(c for c in list_saved_cuts(sample) if c.name == "DSMB-1")
    open_only = compute_committee_report(sample, cut, load_trial(), section="open")
    keys = {b.key for s in open_only.sections for b in s.blocks}
    assert keys.isdisjoint({"incidence_all", "sae", "deaths", "boundary_all", "exposure"})
    assert {"synopsis", "enrolment", "disposition", "completeness"} <= keys


def test_hash_is_the_same_in_either_language(sample, report):
    from toxdb.i18n import language

    cut = next(c for c in list_saved_cuts(sample) if c.name == "DSMB-1")
    with language("zh_CN"):
        zh = compute_committee_report(sample, cut, load_trial(), user="主任委员")
        page = render_report_html(zh)
    assert zh.summary["data_hash"] == report.summary["data_hash"]
    assert "数据安全监查委员会报告" in page and "第 " in page


def test_advice_of_patients_on_treatment_equals_the_whole_trials(sample):
    from toxdb.dosing.advice import compute_snapshot_advice
    from toxdb.reports.committee.inputs import read_report_inputs
    from toxdb.reports.committee.listings import compute_advice_on_treatment

    cut = next(c for c in list_saved_cuts(sample) if c.name == "DSMB-1")
    inp = read_report_inputs(sample, cut, load_trial())
    whole = compute_snapshot_advice(inp.snapshot, inp.trial, derived=inp.derived).table
    mine = compute_advice_on_treatment(inp).table
    assert len(whole) > 5
    pd.testing.assert_frame_equal(mine.reset_index(drop=True), whole.reset_index(drop=True))


def test_death_listing_of_a_later_cut(sample):
    from toxdb.reports.committee.inputs import read_report_inputs
    from toxdb.reports.committee.listings import compute_death_listing
    from toxdb.store.cuts import DataCut

    inp = read_report_inputs(sample, DataCut(dt.date(2026, 11, 30)), load_trial())
    deaths = compute_death_listing(inp.patients, inp.derived)
    # sample_data: ICC-02-006 died 2026-08-18; last treatment row ended 2026-02-18 (181 days); no grade 5 AE
    assert deaths[["subject_id", "site", "death_on"]].values.tolist() == [["ICC-02-006", "SYSU", "2026-08-18"]]
    assert int(deaths["days_from_last_dose"].iloc[0]) == 181
    assert deaths["cause"].iloc[0] == ""


def test_exposure_late_cycles_counted_within_a_phase(report):
    rows = dict(report.block("exposure").frame.values.tolist())
    tr = pd.read_csv(ROOT / "sample_data" / "treatment.csv", parse_dates=["start_date"])
    tr = tr[(tr["treatment"] == "capecitabine") & (tr["start_date"] <= pd.Timestamp(CUT))]
    late, patients = 0, set()
    for (sid, _phase), grp in tr.groupby(["subject_id", "phase"]):    # the pause between phases is planned
        days = grp["start_date"].sort_values().diff().dt.days.dropna()
        n = int((days > 21).sum())
        late += n
        if n:
            patients.add(sid)
    assert rows["capecitabine: cycles started late / patients"] == f"{late} / {len(patients)}"
