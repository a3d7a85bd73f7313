"""Invariants of the synthetic sample data that users and other tests rely on.

The data are generated into a temporary directory; the checks are properties (referential integrity,
CTCAE grade ranges, dates within the data cut, ...), not numbers copied from a run.
"""
from __future__ import annotations

import csv
import datetime as dt
import importlib.util
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
AS_OF = dt.date(2026, 11, 16)
SEED = 20250516


def _load_generator():
    name = "toxdb_sample_data_generate"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "sample_data" / "generate.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod   # dataclasses look the module up while it executes
    spec.loader.exec_module(mod)
    return mod


gen = _load_generator()

# CTCAE v5.0 grades that exist (clinical-rules.md section 9, plus the few other terms the sample uses).
ALLOWED_GRADES = {
    "Palmar-plantar erythrodysesthesia syndrome": (1, 3), "Diarrhea": (1, 5), "Nausea": (1, 3),
    "Vomiting": (1, 5), "Fatigue": (1, 3), "Mucositis oral": (1, 5), "Anorexia": (1, 5),
    "Abdominal pain": (1, 3), "Dermatitis radiation": (1, 5), "Gastritis": (1, 5), "Duodenal ulcer": (1, 5),
    "Upper gastrointestinal hemorrhage": (1, 5), "Biliary tract infection": (2, 5), "Hepatic failure": (3, 5),
    "Febrile neutropenia": (3, 5), "Neutrophil count decreased": (1, 4), "Platelet count decreased": (1, 4),
    "Anemia": (1, 5), "White blood cell decreased": (1, 4), "Lymphocyte count decreased": (1, 4),
    "Alanine aminotransferase increased": (1, 4), "Aspartate aminotransferase increased": (1, 4),
    "Blood bilirubin increased": (1, 4), "Alkaline phosphatase increased": (1, 4),
    "Creatinine increased": (1, 4), "Hypoalbuminemia": (1, 5), "Death NOS": (5, 5),
    # not in section 9, from the NCI CTCAE v5.0 spreadsheet
    "Dyspepsia": (1, 3), "Constipation": (1, 5), "Insomnia": (1, 3), "Dysgeusia": (1, 2),
    "Skin hyperpigmentation": (1, 2),
}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    out = tmp_path_factory.mktemp("sample")
    paths = gen.generate(out, seed=SEED, as_of=AS_OF, n_patients=44)
    frames = {k: pd.read_csv(paths[k], dtype=str, keep_default_na=False)
              for k in ("patients", "treatment", "adverse_events", "labs")}
    return paths, frames


def _dates(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s.replace("", None), format="%Y-%m-%d")


def test_generate_returns_existing_files(data):
    paths, _ = data
    for key in ("patients", "treatment", "adverse_events", "labs", "messy_xlsx", "messy_csv",
                "sdtm_dm", "sdtm_ex", "sdtm_ae"):
        assert paths[key].is_file(), key


def test_same_seed_gives_identical_bytes(data, tmp_path):
    paths, _ = data
    again = gen.generate(tmp_path, seed=SEED, as_of=AS_OF, n_patients=44)
    for key, p in paths.items():
        assert p.read_bytes() == again[key].read_bytes(), key


def test_other_seed_differs(data, tmp_path):
    paths, _ = data
    other = gen.generate(tmp_path, seed=SEED + 1, as_of=AS_OF, n_patients=44)
    assert paths["adverse_events"].read_bytes() != other["adverse_events"].read_bytes()


def test_canonical_columns(data):
    _, f = data
    assert list(f["patients"].columns) == gen.PATIENT_COLUMNS
    assert list(f["treatment"].columns) == gen.TREATMENT_COLUMNS
    assert list(f["adverse_events"].columns) == gen.AE_COLUMNS
    assert list(f["labs"].columns) == gen.LAB_COLUMNS


def test_patients_and_sites(data):
    _, f = data
    p = f["patients"]
    assert len(p) >= 40
    assert p["subject_id"].is_unique
    assert p["site"].nunique() == 4
    # the site number is part of the subject id, one number per site
    site_no = p["subject_id"].str.extract(r"^ICC-(\d{2})-\d{3}$")[0]
    assert site_no.notna().all()
    assert (p.groupby("site")["subject_id"].apply(lambda s: s.str[4:6].nunique()) == 1).all()
    enrolled = _dates(p["enrolled_on"])
    assert enrolled.min() >= pd.Timestamp("2025-05-16") and enrolled.max() <= pd.Timestamp(AS_OF)
    assert set(p["sex"]) <= {"M", "F"}
    assert set(p["agent"]) <= {"capecitabine", "S-1"}
    assert set(p["serum_creatinine_unit"]) <= {"mg/dL", "µmol/L"}
    surgery = _dates(p["surgery_date"])
    weeks = (enrolled - surgery).dt.days / 7
    assert weeks.between(3, 10).all()


def test_at_least_one_s1_patient(data):
    _, f = data
    assert (f["patients"]["agent"] == "S-1").any()
    s1 = f["treatment"][f["treatment"]["treatment"] == "S-1"]
    assert len(s1) and set(s1["dose_unit"]) == {"mg"} and set(s1["phase"]) == {"maintenance"}


def test_treatment_dates(data):
    _, f = data
    t = f["treatment"]
    assert set(t["subject_id"]) <= set(f["patients"]["subject_id"])
    start, end = _dates(t["start_date"]), _dates(t["end_date"])
    assert start.notna().all()
    assert (end.isna() | (end >= start)).all()
    assert (start <= pd.Timestamp(AS_OF)).all() and (end.isna() | (end <= pd.Timestamp(AS_OF))).all()
    assert set(t["treatment"]) <= {"RT", "capecitabine", "S-1"}
    assert set(t["phase"]) <= {"concurrent", "maintenance"}
    # one row per RT course or chemotherapy cycle; cycles numbered through (concurrent 1-2, maintenance 3-8)
    assert not t.duplicated(["subject_id", "treatment", "cycle"]).any()
    chemo = t[t["treatment"] != "RT"]
    assert chemo.loc[chemo["phase"] == "concurrent", "cycle"].astype(int).between(1, 2).all()
    assert chemo.loc[chemo["phase"] == "maintenance", "cycle"].astype(int).between(3, 8).all()
    rt = t[t["treatment"] == "RT"]
    assert (rt["dose_unit"] == "Gy").all() and (rt["fractions"] != "").all()
    # concurrent cycle 1 starts with RT day 1
    c1 = t[(t["treatment"] != "RT") & (t["phase"] == "concurrent") & (t["cycle"] == "1")]
    merged = c1.merge(rt, on="subject_id", suffixes=("", "_rt"))
    assert (merged["start_date"] == merged["start_date_rt"]).all()


def test_ae_subjects_exist(data):
    _, f = data
    assert set(f["adverse_events"]["subject_id"]) <= set(f["patients"]["subject_id"])
    assert set(f["labs"]["subject_id"]) <= set(f["patients"]["subject_id"])


def test_ae_terms_and_grades(data):
    _, f = data
    ae = f["adverse_events"]
    assert set(ae["term"]) <= set(ALLOWED_GRADES), set(ae["term"]) - set(ALLOWED_GRADES)
    grades = ae["grade"].astype(int)
    lo = ae["term"].map(lambda t: ALLOWED_GRADES[t][0])
    hi = ae["term"].map(lambda t: ALLOWED_GRADES[t][1])
    bad = ae[(grades < lo) | (grades > hi)]
    assert bad.empty, bad[["subject_id", "term", "grade"]]


def test_ae_dates_and_values(data):
    _, f = data
    ae = f["adverse_events"]
    onset, end = _dates(ae["onset_date"]), _dates(ae["end_date"])
    assert onset.notna().all()
    assert (end.isna() | (end >= onset)).all()
    assert (onset <= pd.Timestamp(AS_OF)).all() and (end.isna() | (end <= pd.Timestamp(AS_OF))).all()
    assert set(ae["serious"]) <= {"Y", "N"}
    assert set(ae["attribution"]) <= {"unrelated", "unlikely", "possible", "probable", "definite"}
    assert set(ae["attributed_to"]) <= {"", "capecitabine", "S-1", "RT", "more than one"}
    assert set(ae["action_taken"]) <= {"none", "dose reduced", "interrupted", "withdrawn"}
    assert 200 <= len(ae) <= 500


def test_sae_and_grade_change_events(data):
    _, f = data
    ae = f["adverse_events"]
    assert (ae["serious"] == "Y").any()
    rows = ae.groupby(["subject_id", "ae_ref"]).agg(n=("grade", "size"), grades=("grade", "nunique"),
                                                     terms=("term", "nunique"))
    multi = rows[rows["n"] > 1]
    assert len(multi) >= 1 and (multi["grades"] > 1).all() and (multi["terms"] == 1).all()
    # the rows of a grade-change event follow each other in time
    for (_, _), g in ae[ae.set_index(["subject_id", "ae_ref"]).index.isin(multi.index)].groupby(
            ["subject_id", "ae_ref"]):
        assert list(g["onset_date"]) == sorted(g["onset_date"])


def test_pre_treatment_events_and_grade3_rate(data):
    _, f = data
    ae, t = f["adverse_events"], f["treatment"]
    first = t.assign(s=_dates(t["start_date"])).groupby("subject_id")["s"].min()
    ae = ae.assign(onset=_dates(ae["onset_date"]), first=ae["subject_id"].map(first), g=ae["grade"].astype(int))
    assert (ae["onset"] < ae["first"]).any(), "expected a few baseline events"
    on_treatment = ae[ae["onset"] >= ae["first"]]
    rate = on_treatment.loc[on_treatment["g"] >= 3, "subject_id"].nunique() / len(first)
    assert 0.15 <= rate <= 0.45


def test_labs_match_severe_cytopenias(data):
    _, f = data
    ae, labs = f["adverse_events"], f["labs"]
    anc = labs[labs["test"] == "ANC"].set_index(["subject_id", "collected_on"])["value"].astype(float)
    neut = ae[(ae["term"] == "Neutrophil count decreased") & (ae["grade"].astype(int) >= 3)]
    assert len(neut)
    for _, r in neut.iterrows():
        assert anc[(r["subject_id"], r["onset_date"])] < 1.0
    assert set(labs["test"]) == {"ANC", "PLT", "HGB", "WBC", "LYM", "ALT", "AST", "BILI", "ALP", "GGT",
                                 "CREAT", "ALB", "INR"}
    assert (_dates(labs["collected_on"]) <= pd.Timestamp(AS_OF)).all()


def _read_xlsx(path: Path, sheet: str) -> list[list]:
    try:
        from python_calamine import CalamineWorkbook
    except ImportError:  # pragma: no cover
        openpyxl = pytest.importorskip("openpyxl")
        wb = openpyxl.load_workbook(path, read_only=True)
        return [list(r) for r in wb[sheet].iter_rows(values_only=True)]
    wb = CalamineWorkbook.from_path(str(path))
    return wb.get_sheet_by_name(sheet).to_python()


def test_messy_xlsx(data):
    paths, f = data
    from python_calamine import CalamineWorkbook

    assert CalamineWorkbook.from_path(str(paths["messy_xlsx"])).sheet_names == ["AE listing", "Notes"]
    rows = _read_xlsx(paths["messy_xlsx"], "AE listing")
    header = rows[0]
    for col in ("Patient ID", "CTCAE Term", "CTCAE Grade", "Start Date", "Resolution date", "SAE", "Relationship"):
        assert col in header
    body = [dict(zip(header, r)) for r in rows[1:]]
    assert len(body) > 10
    known = set(f["patients"]["subject_id"])
    unknown = {r["Patient ID"] for r in body} - known
    assert len(unknown) == 1   # the one deliberate unknown subject
    assert any(str(r["Verbatim"]) == "=1+1" for r in body)   # stored as text, not a formula
    assert any(str(r["CTCAE Term"]) == "Tummy ache" for r in body)
    assert any(str(r["CTCAE Grade"]) in ("Grade 6", "G6", "6") for r in body)


def test_messy_latin1_csv(data):
    paths, f = data
    raw = paths["messy_csv"].read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    text = raw.decode("latin-1")
    assert "Diarrhée" in text
    rows = list(csv.DictReader(text.splitlines(), delimiter=";"))
    assert "Patient ID" in rows[0] and "CTCAE Grade" in rows[0]
    assert all(len(r["Start Date"].split("/")) == 3 for r in rows)   # day-first dd/mm/yyyy
    xlsx_rows = _read_xlsx(paths["messy_xlsx"], "AE listing")
    assert len(rows) == len(xlsx_rows) - 1
    assert len({r["Patient ID"] for r in rows} - set(f["patients"]["subject_id"])) == 1


def test_sdtm_subset(data):
    paths, f = data
    dm = pd.read_csv(paths["sdtm_dm"], dtype=str, keep_default_na=False)
    ex = pd.read_csv(paths["sdtm_ex"], dtype=str, keep_default_na=False)
    ae = pd.read_csv(paths["sdtm_ae"], dtype=str, keep_default_na=False)
    for col in ("STUDYID", "DOMAIN", "USUBJID", "SUBJID", "RFSTDTC", "RFENDTC", "RFICDTC", "SITEID", "AGE",
                "SEX", "DTHDTC"):
        assert col in dm.columns
    for col in ("USUBJID", "EXTRT", "EXDOSE", "EXDOSU", "EXSTDTC", "EXENDTC", "VISITNUM"):
        assert col in ex.columns
    for col in ("USUBJID", "AESEQ", "AESPID", "AETERM", "AEDECOD", "AETOXGR", "AESEV", "AESER", "AEREL",
                "AEACN", "AEOUT", "AESTDTC", "AEENDTC"):
        assert col in ae.columns
    assert dm["SITEID"].nunique() == 1
    assert not set(dm["SUBJID"]) & set(f["patients"]["subject_id"])
    assert set(ae["USUBJID"]) <= set(dm["USUBJID"]) and set(ex["USUBJID"]) <= set(dm["USUBJID"])
    assert (ae["AESTDTC"] == "2026-03").sum() >= 1
    g = ae["AETOXGR"].astype(int)
    lo = ae["AEDECOD"].map(lambda t: ALLOWED_GRADES[t][0])
    hi = ae["AEDECOD"].map(lambda t: ALLOWED_GRADES[t][1])
    assert ((g >= lo) & (g <= hi)).all()


def test_committed_sample_matches_generator(tmp_path):
    """The CSVs committed in sample_data/ are the generator's default output."""
    committed = ROOT / "sample_data"
    if not (committed / "adverse_events.csv").is_file():
        pytest.skip("sample files not generated")
    fresh = gen.generate(tmp_path, seed=gen.DEFAULT_SEED, as_of=gen.DEFAULT_AS_OF,
                         n_patients=gen.DEFAULT_N_PATIENTS)
    for key, p in fresh.items():
        if p.suffix == ".csv":
            rel = p.relative_to(tmp_path)
            assert (committed / rel).read_bytes() == p.read_bytes(), f"{rel} is stale: rerun generate.py"


def test_large_generator(tmp_path):
    paths = gen.generate_large_ae_csv(tmp_path / "big_ae.csv", n_patients=300, n_rows=5_000, seed=7)
    ae = pd.read_csv(paths["adverse_events"], dtype=str, keep_default_na=False)
    pts = pd.read_csv(paths["patients"], dtype=str, keep_default_na=False)
    assert len(ae) == 5_000
    assert list(ae.columns) == gen.AE_COLUMNS
    assert set(ae["subject_id"]) <= set(pts["subject_id"]) and pts["subject_id"].is_unique
    assert set(ae["term"]) <= set(ALLOWED_GRADES)
    g = ae["grade"].astype(int)
    assert ((g >= ae["term"].map(lambda t: ALLOWED_GRADES[t][0]))
            & (g <= ae["term"].map(lambda t: ALLOWED_GRADES[t][1]))).all()
    onset, end = _dates(ae["onset_date"]), _dates(ae["end_date"])
    assert (end.isna() | (end >= onset)).all() and (onset <= pd.Timestamp(AS_OF)).all()
    tr = pd.read_csv(paths["treatment"], dtype=str, keep_default_na=False)
    assert set(tr["subject_id"]) <= set(pts["subject_id"])
    assert not tr.duplicated(["subject_id", "treatment", "cycle"]).any()
    again = gen.generate_large_ae_csv(tmp_path / "again.csv", n_patients=300, n_rows=5_000, seed=7)
    assert again["adverse_events"].read_bytes() == paths["adverse_events"].read_bytes()
