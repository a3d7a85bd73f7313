"""Issue 10: site files in the words sites really use. Every row is stored, rejected with a reason,
or stored with a flag that raises a query to the site (D50)."""
import datetime as dt

import pytest

from toxdb.clinical import ctcae
from toxdb.ingest.upload import commit_upload, prepare_upload

TODAY = dt.date(2026, 11, 23)


def _plan(store, text, name="ae.csv", **kw):
    return prepare_upload(store, text.encode("utf-8"), name, today=TODAY, **kw)


def _rejected(plan):
    p = plan.validation.problems
    return p[p["status"] == "rejected"]


# -- 1. stored with a flag -----------------------------------------------------------------------

def test_grade_the_term_does_not_have_is_stored_as_recorded_flagged_and_queried(loaded_store):
    # CTCAE v5: Nausea has grades 1-3 only, ALT increased 1-4; Fatigue 3 exists
    assert 4 not in ctcae.allowed_grades("Nausea") and 5 not in ctcae.allowed_grades("Alanine aminotransferase increased")
    text = ("subject_id,term,grade,onset_date\nP-001,Nausea,4,2025-06-22\n"
            "P-001,Alanine aminotransferase increased,5,2025-06-23\nP-001,Fatigue,3,2025-06-24\n"
            "P-001,Nausea,6,2025-06-25\n")
    plan = _plan(loaded_store, text, "site_ae.csv")
    assert _rejected(plan)["source_row"].tolist() == [5]          # only a grade outside 1-5 is refused
    assert plan.summary["flagged"] == 2 and plan.summary["new"] == 3
    counts = commit_upload(loaded_store, plan, "t")
    assert (counts.accepted, counts.rejected, counts.flagged) == (3, 1, 2)
    stored = loaded_store.read_kind("ae").set_index(["term", "grade"])
    assert ("Nausea", 4) in stored.index and ("Alanine aminotransferase increased", 5) in stored.index
    assert "confirm the grade" in stored.loc[("Nausea", 4), "flags"]
    flags = loaded_store.flags(counts.upload_id)
    assert flags["source_row"].tolist() == [2, 3]
    assert set(flags["code"]) == {"grade_not_allowed"}
    assert flags["message"].iloc[0].startswith("Nausea: grade 4 does not exist in CTCAE v5.0 (allowed: 1–3)")
    assert flags["column_name"].iloc[0] == "grade" and flags["value"].iloc[0] == "4"
    assert loaded_store.status_counts()["flagged_rows"] == 2
    # the same file again stores nothing new and raises no second query
    again = commit_upload(loaded_store, _plan(loaded_store, text + "\n", "site_ae_again.csv"), "t")
    assert again.flagged == 0 and len(loaded_store.flags()) == 2


def test_flags_of_a_site_are_listed_for_that_site_only(loaded_store):
    text = "subject_id,term,grade,onset_date\nP-001,Nausea,4,2025-06-22\n"
    commit_upload(loaded_store, _plan(loaded_store, text, site="SITE-A"), "t")
    assert len(loaded_store.flags(site="SITE-A")) == 1
    assert len(loaded_store.flags(site="SITE-B")) == 0


# -- 2. terms outside CTCAE ----------------------------------------------------------------------

SDTM_AE = "USUBJID,AETERM,AEDECOD,AEBODSYS,AESEV,AESTDTC\n"


def test_meddra_term_outside_ctcae_is_stored_under_its_soc_other_specify_and_flagged(loaded_store):
    # "Application site pruritus" is a MedDRA PT, not a CTCAE v5 term; its SOC has an Other, specify
    assert ctcae.match_term("APPLICATION SITE PRURITUS").term is None
    other = "General disorders and administration site conditions - Other, specify"
    assert other in set(ctcae.load_ctcae()["term"])
    text = SDTM_AE + ("P-001,ITCHY PATCH SITE,APPLICATION SITE PRURITUS,"
                      "GENERAL DISORDERS AND ADMINISTRATION SITE CONDITIONS,MILD,2025-06-21\n"
                      "P-001,SOMETHING,NOT A TERM AT ALL,NO SUCH ORGAN CLASS,MILD,2025-06-22\n")
    plan = _plan(loaded_store, text, "ae_sdtm.csv")
    assert _rejected(plan)["source_row"].tolist() == [3]        # no SOC CTCAE knows: still refused
    counts = commit_upload(loaded_store, plan, "t")
    stored = loaded_store.read_kind("ae")
    row = stored[stored["upload_id"] == counts.upload_id].iloc[0]
    assert row["term"] == other
    assert row["soc"] == "General disorders and administration site conditions"
    assert row["reported_term"] == "APPLICATION SITE PRURITUS"    # the MedDRA term kept
    assert row["verbatim"] == "ITCHY PATCH SITE"                 # the verbatim kept
    codes = set(loaded_store.flags(counts.upload_id)["code"])
    assert "term_outside_ctcae" in codes


def test_without_a_soc_column_the_reason_says_what_would_let_it_be_stored(loaded_store):
    plan = _plan(loaded_store, "subject_id,term,grade,onset_date\nP-001,Application site pruritus,1,2025-06-21\n")
    assert "system organ class" in _rejected(plan)["reasons"].iloc[0]


def test_term_matcher_knows_meddra_terms_british_spellings_lay_and_chinese_words():
    cases = {"OEDEMA PERIPHERAL": "Edema limbs", "Tummy ache": "Abdominal pain", "DIARRHOEA": "Diarrhea",
             "anaemia": "Anemia", "Oesophagitis": "Esophagitis", "GASTROOESOPHAGEAL REFLUX DISEASE":
             "Gastroesophageal reflux disease", "RHINORRHOEA": "Rhinorrhea", "Upper respiratory tract infection":
             "Upper respiratory infection", "恶心": "Nausea", "手足综合征": "Palmar-plantar erythrodysesthesia syndrome",
             "中性粒细胞减少": "Neutrophil count decreased", "放射性皮炎": "Dermatitis radiation", "贫血": "Anemia"}
    for written, term in cases.items():
        assert ctcae.match_term(written).term == term, written


def test_vocabulary_tables_name_their_source_and_await_review():
    import pandas as pd

    from toxdb import DATA_DIR
    for name in ("ctcae_synonyms.csv", "ctcae_spellings.csv"):
        table = pd.read_csv(DATA_DIR / name, dtype=str, keep_default_na=False)
        assert (table["source"].str.len() > 5).all(), name
    assert "clinician" in (DATA_DIR / "README.md").read_text(encoding="utf-8")


def test_stores_made_before_reported_term_still_see_a_reupload_as_a_duplicate(tmp_path):
    import duckdb
    from conftest import AE_CSV, PATIENTS_CSV

    from toxdb.store.db import Store
    path = tmp_path / "old.duckdb"
    with Store(path) as s:
        for name, text in (("p.csv", PATIENTS_CSV), ("ae.csv", AE_CSV)):
            commit_upload(s, prepare_upload(s, text.encode(), name, today=TODAY), "t")
    con = duckdb.connect(str(path))       # make it look like a store from before migration 6
    con.execute("ALTER TABLE adverse_events DROP COLUMN reported_term")
    con.execute("UPDATE adverse_events SET row_hash = hash(" + ", ".join(
        c[0] for c in con.execute("SELECT column_name FROM information_schema.columns WHERE table_name ="
                                  " 'adverse_events' ORDER BY ordinal_position").fetchall()
        if c[0] not in ("record_key", "version", "upload_id", "source_row", "row_hash", "valid_from", "valid_to"))
        + ")")
    con.execute("DELETE FROM schema_version WHERE version = 6")
    con.close()
    with Store(path) as s:
        plan = prepare_upload(s, (AE_CSV + "\n").encode(), "ae_again.csv", today=TODAY)
        assert plan.summary["duplicates"] == 3 and plan.summary["corrections"] == 0


# -- 3. treatment names and value mapping --------------------------------------------------------

TREAT = "subject_id,treatment,cycle,start_date,end_date,dose,dose_unit\n"


def test_brand_generic_and_chinese_treatment_names_are_known(loaded_store):
    names = {"Xeloda": "capecitabine", "capecitabine": "capecitabine", "卡培他滨": "capecitabine",
             "希罗达": "capecitabine", "S-1": "S-1", "TS-1": "S-1", "Teysuno": "S-1",
             "tegafur/gimeracil/oteracil": "S-1", "替吉奥": "S-1", "radiotherapy": "RT", "IMRT": "RT",
             "VMAT": "RT", "放疗": "RT"}
    text = TREAT + "".join(f"P-003,{n},{i + 1},2025-08-{i + 1:02d},,,\n" for i, n in enumerate(names))
    plan = _plan(loaded_store, text, "tx.csv", kind="treatment")
    assert _rejected(plan).empty, _rejected(plan)["reasons"].tolist()
    assert plan.validation.rows["treatment"].astype(str).tolist() == list(names.values())


def test_other_names_are_mapped_saved_per_site_and_other_is_kept_but_not_used(loaded_store):
    text = TREAT + "P-003,XANOMELINE,1,2025-08-01,2025-08-14,54,mg\nP-003,PLACEBO,,2025-08-01,,0,mg\n"
    plan = _plan(loaded_store, text, "ex.csv", kind="treatment")
    assert plan.unknown_values == {"treatment": ["PLACEBO", "XANOMELINE"]}
    assert len(_rejected(plan)) == 2 and "--map" in _rejected(plan)["reasons"].iloc[0]
    vmap = {"treatment": {"XANOMELINE": "capecitabine", "PLACEBO": "other"}}
    loaded_store.save_value_map("SITE-B", "treatment", vmap, "t")
    plan = _plan(loaded_store, text, "ex.csv", kind="treatment", site="SITE-B")       # the saved map applies
    assert _rejected(plan).empty and plan.summary["other"] == 1
    counts = commit_upload(loaded_store, plan, "t")
    assert (counts.accepted, counts.other) == (1, 1)
    tx = loaded_store.read_kind("treatment")
    assert set(tx[tx["subject_id"] == "P-003"]["treatment"]) == {"capecitabine"}    # placebo is not a treatment
    kept = loaded_store.other_treatments()
    assert kept[["subject_id", "name"]].values.tolist() == [["P-003", "PLACEBO"]]


def test_coded_columns_are_mappable_the_same_way(loaded_store):
    text = "subject_id,term,grade,onset_date,serious,attribution\nP-001,Nausea,Leve,2025-06-21,Oui,Possiblement\n"
    plan = _plan(loaded_store, text)
    assert set(plan.unknown_values) == {"grade", "serious", "attribution"}
    # a grade number outside 1-5 is refused with its reason, not offered as a word to map
    assert _plan(loaded_store, "subject_id,term,grade,onset_date\nP-001,Nausea,7,2025-06-21\n").unknown_values == {}
    plan = _plan(loaded_store, text, value_map={"grade": {"Leve": "1"}, "serious": {"Oui": "Y"},
                                                "attribution": {"Possiblement": "possible"}})
    row = plan.validation.rows.iloc[0]
    assert (row["grade"], bool(row["serious"]), row["attribution"]) == (1, True, "possible")


def test_map_arguments_parse_and_explain_mistakes():
    from toxdb.ingest.values import ValueMapError, parse_map_args
    assert parse_map_args("treatment", ["XANOMELINE=capecitabine", "PLACEBO=other"]) == {
        "treatment": {"XANOMELINE": "capecitabine", "PLACEBO": "other"}}
    assert parse_map_args("ae", ["serious:Oui=Y"]) == {"serious": {"Oui": "Y"}}
    with pytest.raises(ValueMapError, match="not a value"):
        parse_map_args("treatment", ["treatment:XANOMELINE=aspirin"])
    with pytest.raises(ValueMapError, match="VALUE=TARGET"):
        parse_map_args("treatment", ["XANOMELINE"])


# -- 4. units, optional columns, ignored columns -------------------------------------------------

def test_dose_units_as_sites_write_them_are_recognised_and_converted_where_certain(loaded_store):
    text = TREAT + ("P-003,S-1,1,2025-08-01,2025-08-14,120,mg/day\nP-003,S-1,2,2025-08-22,,120,mg/d\n"
                    "P-003,capecitabine,3,2025-09-01,,1000,mg/m²/d\nP-003,capecitabine,4,2025-09-22,,1000,mg/m2/day\n"
                    "P-003,capecitabine,5,2025-10-13,,1000,mg BID\nP-003,RT,,2025-08-01,,5600,cGy\n"
                    "P-003,RT,,2025-08-02,,56,Gy\n")
    plan = _plan(loaded_store, text, "tx.csv", kind="treatment")
    assert _rejected(plan).empty, _rejected(plan)["reasons"].tolist()
    rows = plan.validation.rows.sort_values("source_row")
    assert rows["dose_unit"].astype(str).tolist() == ["mg/day", "mg/day", "mg/m2/day", "mg/m2/day", "mg/day",
                                                       "Gy", "Gy"]
    assert rows["dose"].astype(float).tolist() == [120, 120, 1000, 1000, 2000, 56, 56]    # 1000 BID = 2000/day
    conv = plan.validation.flags.query("code == 'unit_converted'")
    assert conv["source_row"].tolist() == [6, 7]


def test_a_bad_value_in_an_optional_column_keeps_the_row_with_the_value_empty_and_a_warning(loaded_store):
    text = TREAT + "P-003,S-1,1,2025-08-01,2025-08-14,sixty,mg/week\n"
    plan = _plan(loaded_store, text, "tx.csv", kind="treatment")
    assert _rejected(plan).empty
    row = plan.validation.rows.iloc[0]
    assert str(row["start_date"].date()) == "2025-08-01" and str(row["end_date"].date()) == "2025-08-14"
    assert row.isna()[["dose", "dose_unit"]].all()
    flags = plan.validation.flags
    assert set(flags["column"]) == {"dose", "dose_unit"} and set(flags["code"]) == {"value_left_empty"}
    counts = commit_upload(loaded_store, plan, "t")
    assert counts.flagged == 1 and len(loaded_store.flags(counts.upload_id)) == 2


def test_unit_suffixes_in_headers_are_understood_and_converted(store):
    text = ("subject_id,enrolled_on,serum_creatinine_mg_dl,height_m,weight_lb,favourite_colour\n"
            "A-1,2025-06-01,0.9,1.62,110,blue\n")
    plan = prepare_upload(store, text.encode(), "patients.csv", today=TODAY)
    row = plan.validation.rows.iloc[0]
    assert row["serum_creatinine"] == 0.9 and row["serum_creatinine_unit"] == "mg/dL"
    assert abs(row["height_cm"] - 162) < 1e-9 and abs(row["weight_kg"] - 110 * 0.45359237) < 1e-9
    assert plan.mapping.unmapped == ["favourite_colour"]
    text2 = "subject_id,enrolled_on,Creatinine (µmol/L)\nA-2,2025-06-01,80\n"
    row2 = prepare_upload(store, text2.encode(), "p2.csv", today=TODAY).validation.rows.iloc[0]
    assert (row2["serum_creatinine"], row2["serum_creatinine_unit"]) == (80, "umol/L")


def _cli(*args):
    from cli_support import run_toxdb
    return run_toxdb(*args)


@pytest.mark.cli
def test_cli_lists_ignored_columns(tmp_path):
    from conftest import write
    f = write(tmp_path / "p.csv", "subject_id,enrolled_on,favourite_colour\nA-1,2025-06-01,blue\n")
    out = _cli("import", "--db", tmp_path / "c.duckdb", f)
    assert out.returncode == 0 and "ignored columns: favourite_colour" in out.stdout


@pytest.mark.cli
def test_cli_map_values_saved_for_the_site(tmp_path):
    from conftest import write
    db = tmp_path / "c.duckdb"
    p = write(tmp_path / "p.csv", "subject_id,enrolled_on\nA-1,2025-06-01\n")
    ex = write(tmp_path / "ex.csv", TREAT + "A-1,XANOMELINE,1,2025-06-02,,54,mg\nA-1,PLACEBO,,2025-06-02,,0,mg\n")
    first = _cli("import", "--db", db, p, ex)
    assert "values of treatment no vocabulary knows: PLACEBO, XANOMELINE" in first.stdout
    out = _cli("import", "--db", db, "--site", "S1", "--map", "XANOMELINE=capecitabine", "--map", "PLACEBO=other",
               write(tmp_path / "ex2.csv", ex.read_text() + "\n"))
    assert out.returncode == 0 and "1 accepted" in out.stdout and "1 kept as other" in out.stdout, out.stdout
    again = _cli("import", "--db", db, "--site", "S1", write(tmp_path / "ex3.csv", TREAT +
                 "A-1,XANOMELINE,2,2025-06-23,,54,mg\n"))           # the site's saved map applies
    assert "1 accepted" in again.stdout and "0 rejected" in again.stdout, again.stdout


# -- 5. Chinese site files -----------------------------------------------------------------------

ZH_AE = ("受试者编号,中心,不良事件名称,CTCAE分级,开始日期,结束日期,是否严重,与研究药物关系\n"
         "P-001,01,恶心,2级,2025年6月21日,2025/6/25,否,可能有关\n"
         "P-001,01,手足综合征,Ⅲ,2025/6/22,,是,很可能有关\n"
         "P-001,01,中性粒细胞减少,IV级,2025年6月23日,,否,肯定有关\n"
         "P-001,01,血小板减少,1,2025-06-24,,否,可能无关\n"
         "P-001,01,贫血,Ⅱ,2025-06-25,,否,无关\n"
         "P-001,01,放射性皮炎,2级,2025-06-26,,否,可能相关\n"
         "P-001,01,腹泻,第3级,2025-06-27,,否,可能有关\n"
         "P-001,01,乏力,Ⅰ,2025-06-28,,否,可能有关\n"
         "P-001,01,呕吐,Ⅴ,2025-06-29,,是,可能无关\n")
ZH_EXPECTED = [("Nausea", 2, False, "possible"), ("Palmar-plantar erythrodysesthesia syndrome", 3, True, "probable"),
               ("Neutrophil count decreased", 4, False, "definite"), ("Platelet count decreased", 1, False, "unlikely"),
               ("Anemia", 2, False, "unrelated"), ("Dermatitis radiation", 2, False, "possible"),
               ("Diarrhea", 3, False, "possible"), ("Fatigue", 1, False, "possible"), ("Vomiting", 5, True, "unlikely")]


def test_chinese_ae_file_in_gbk_gb18030_and_utf8_is_read_recognised_and_stored(loaded_store):
    for encoding in ("gbk", "gb18030", "utf-8"):
        text = ZH_AE if encoding != "gb18030" else ZH_AE.replace("P-001,01,", "P-001,0\U00020000,", 1)
        raw = text.encode(encoding)        # U+20000 is outside GBK: four bytes in GB18030
        plan = prepare_upload(loaded_store, raw, f"ae_{encoding}.csv", today=TODAY)
        assert plan.kind == "ae", encoding
        assert not plan.mapping.missing_required, plan.mapping.columns
        assert _rejected(plan).empty, _rejected(plan)["reasons"].tolist()
        rows = plan.validation.rows.sort_values("source_row")
        got = list(zip(rows["term"].astype(str), rows["grade"].astype(int), rows["serious"].astype(bool),
                       rows["attribution"].astype(str)))
        assert got == ZH_EXPECTED, encoding
        assert rows["reported_term"].astype(str).tolist()[0] == "恶心"          # the verbatim is kept
        assert str(rows["onset_date"].iloc[0].date()) == "2025-06-21" and str(rows["end_date"].iloc[0].date()) == "2025-06-25"
        assert "中心" in plan.mapping.unmapped
    with pytest.raises(UnicodeEncodeError):
        "\U00020000".encode("gbk")


def test_every_canonical_column_has_a_chinese_header():
    from toxdb.ingest.mapping import load_column_synonyms
    for kind, cols in load_column_synonyms().items():
        for c in cols:
            assert any("\u4e00" <= ch <= "\u9fff" for syn in c.synonyms for ch in syn), (kind, c.name)


# -- 6. subject ids ------------------------------------------------------------------------------

def test_subject_ids_differing_in_case_or_spaces_are_one_patient_and_flagged(loaded_store):
    # P-001 is stored; 'p-001 ' and ' P-001' are the same patient written otherwise
    text = "subject_id,term,grade,onset_date\np-001 ,Nausea,1,2025-06-21\n P-001,Fatigue,1,2025-06-22\n" \
           "P-001,Vomiting,1,2025-06-23\n"
    plan = _plan(loaded_store, text)
    assert _rejected(plan).empty
    assert set(plan.validation.rows["subject_id"].astype(str)) == {"P-001"}
    flagged = plan.validation.flags.query("code == 'subject_id_variant'")
    assert flagged["source_row"].tolist() == [2, 3]
    assert "read as 'P-001'" in flagged["message"].iloc[0]


def test_a_patients_file_keeps_the_first_spelling_of_an_id(store):
    text = "subject_id,enrolled_on\nICC-07,2025-06-01\n"
    commit_upload(store, prepare_upload(store, text.encode(), "p.csv", today=TODAY), "t")
    text2 = "subject_id,enrolled_on\nicc-07,2025-06-01\nNEW-1,2025-06-02\nnew-1,2025-06-02\n"
    plan = prepare_upload(store, text2.encode(), "p2.csv", today=TODAY)
    commit_upload(store, plan, "t")
    assert sorted(store.read_kind("patients")["subject_id"]) == ["ICC-07", "NEW-1"]
    assert plan.validation.flags.query("code == 'subject_id_variant'")["source_row"].tolist() == [2]
