"""python -m toxdb export events / incidence / rejects."""
import io

import pandas as pd
import pytest
from conftest import AE_CSV, PATIENTS_CSV, TREATMENT_CSV, write

from toxdb.cli import main
from toxdb.ingest.upload import import_paths
from toxdb.store.db import Store

BAD_AE = AE_CSV + "P-404,AE-9,Diarrhea,2,2025-06-25,,N,possible\nP-001,AE-8,=cmd(),9,2025-06-25,,N,possible\n"


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "cli.duckdb"
    s = Store(path)
    files = [write(tmp_path / "patients.csv", PATIENTS_CSV), write(tmp_path / "treatment.csv", TREATMENT_CSV),
             write(tmp_path / "ae.csv", BAD_AE)]
    assert all(o.error is None for o in import_paths(s, files, "tester"))
    s.close()
    return path


def _csv(capsysbinary, argv) -> pd.DataFrame:
    assert main(argv) == 0
    out = capsysbinary.readouterr().out
    assert out.startswith(b"\xef\xbb\xbf")                    # BOM: Excel opens UTF-8 correctly
    return pd.read_csv(io.BytesIO(out), encoding="utf-8-sig", dtype=str, keep_default_na=False)


def test_export_events(db, capsysbinary):
    ev = _csv(capsysbinary, ["export", "events", "--db", str(db), "--cut", "2026-01-01", "--csv"])
    assert {"subject_id", "term", "worst_grade", "onset_date", "phase", "treatment_emergent"} <= set(ev.columns)
    got = ev.set_index("term")[["subject_id", "worst_grade", "onset_date", "phase", "treatment_emergent"]]
    assert got.loc["Diarrhea"].tolist() == ["P-001", "2", "2025-06-25", "concurrent", "True"]
    assert got.loc["Fatigue"].tolist() == ["P-002", "3", "2025-07-10", "concurrent", "True"]
    assert set(ev["phase"]) <= {"pre-treatment", "concurrent", "maintenance", "post-treatment"}


def test_export_events_cut_excludes_later_onsets(db, capsysbinary):
    ev = _csv(capsysbinary, ["export", "events", "--db", str(db), "--cut", "2025-06-30", "--csv"])
    assert sorted(ev["term"]) == ["Diarrhea", "Nausea"]           # Fatigue starts 07-10


def test_export_incidence_matches_page_table(db, capsysbinary):
    t = _csv(capsysbinary, ["export", "incidence", "--db", str(db), "--cut", "2026-01-01", "--phase", "all", "--csv"])
    anyae = t[t["Level"] == "any"].iloc[0]
    assert (anyae["At risk"], anyae["Grade 2"], anyae["Grade ≥3"], anyae["Any grade"]) == \
        ("2", "1 (50.0%)", "1 (50.0%)", "2 (100.0%)")
    n = _csv(capsysbinary, ["export", "incidence", "--db", str(db), "--cut", "2026-01-01", "--numbers", "--csv"])
    assert set(n["phase"]) == {"concurrent", "maintenance", "all"}
    assert n[(n["phase"] == "maintenance") & (n["level"] == "any")]["at_risk"].tolist() == ["0"]


def test_export_rejects(db, capsysbinary):
    r = _csv(capsysbinary, ["export", "rejects", "--db", str(db), "--csv"])
    assert list(r.columns[:3]) == ["file", "row", "reasons"]
    assert len(r) == 2 and set(r["file"]) == {"ae.csv"}
    assert not any(v.startswith("=") for v in r.to_numpy().ravel())    # formula cells are neutralised
    assert _csv(capsysbinary, ["export", "rejects", "--db", str(db), "--upload", "1", "--csv"]).empty


@pytest.mark.cli
def test_export_text_and_out_file(db, tmp_path, capsys):
    out = tmp_path / "events.csv"
    assert main(["export", "events", "--db", str(db), "--csv", "--out", str(out)]) == 0
    assert out.read_bytes().startswith(b"\xef\xbb\xbf") and b"Diarrhea" in out.read_bytes()
    assert main(["export", "incidence", "--db", str(db)]) == 0
    assert "Any adverse event" in capsys.readouterr().out


@pytest.mark.cli
def test_export_missing_db_and_bad_cut(tmp_path, capsys):
    assert main(["export", "events", "--db", str(tmp_path / "none.duckdb"), "--csv"]) == 3
    assert "no database" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["export", "events", "--cut", "2026-13-01", "--csv"])
    assert exc.value.code == 2


@pytest.mark.cli
def test_export_kinds_are_a_table_the_parser_offers():
    from toxdb.cli import build_parser
    from toxdb.cli.export import EXPORTS

    assert {"events", "incidence", "rejects", "advice", "queries"} <= set(EXPORTS)
    for name in EXPORTS:
        args = build_parser().parse_args(["export", name, "--csv"])
        assert args.export == name and args.func is not None


LABS_CSV = """subject_id,collected_on,test,value,unit,lln,uln
P-001,2025-06-10,CREAT,0.9,mg/dL,0.6,1.25
P-001,2025-06-30,CREAT,1.37,mg/dL,0.6,1.25
P-001,2025-07-02,PLT,20,10^9/L,150,400
P-001,2025-07-03,CRP,12,mg/L,,5
P-002,2025-07-10,ANC,1.6,10^9/L,2.0,7.5
"""


@pytest.mark.cli
@pytest.mark.parametrize(("flag", "grades"), [
    # P-001 creatinine: baseline 0.9 mg/dL (before the first treatment on 2025-06-16);
    # 1.37 = 1.10 x ULN (grade 1) and 1.52 x baseline: v5 grade 2; v6 grade 1 (baseline is not below LLN).
    # platelets 20: v5 grade 4 (<25), v6 grade 3 (<50 - 10). CRP is not graded. ANC 1.6, LLN 2.0: v5 1, v6 0.
    ([], ["0", "2", "4", "", "1"]),
    (["--ctcae", "5"], ["0", "2", "4", "", "1"]),
    (["--ctcae", "6"], ["0", "1", "3", "", "0"]),
])
def test_export_labs_one_row_per_value_with_the_chosen_version(db, tmp_path, capsysbinary, flag, grades):
    s = Store(db)
    assert all(o.error is None for o in import_paths(s, [write(tmp_path / "labs.csv", LABS_CSV)], "tester"))
    s.close()
    out = _csv(capsysbinary, ["export", "labs", "--db", str(db), "--cut", "2025-12-31", "--csv", *flag])
    assert out.columns.tolist() == ["subject_id", "collected_on", "test", "value", "unit", "lln", "uln",
                                    "baseline", "grade"]
    assert out["test"].tolist() == ["CREAT", "CREAT", "PLT", "CRP", "ANC"]
    assert out["grade"].tolist() == grades
    # the baseline in the value's unit: P-001's creatinine before 2025-06-16; P-002 has no lab before treatment
    assert [float(b) if b else None for b in out["baseline"]] == [0.9, 0.9, None, None, None]
    early = _csv(capsysbinary, ["export", "labs", "--db", str(db), "--cut", "2025-06-30", "--csv", *flag])
    assert early["collected_on"].tolist() == ["2025-06-10", "2025-06-30"]
