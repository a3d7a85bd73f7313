"""Issue 10: the four folders of real public files loaded as a new user would (every CSV of the
folder, kinds detected, no site, no mapping), with what happened to every row. Expected values are
derived here from the files and the CTCAE dictionary tables, not from running the import.
Skipped when shared/realdata is absent."""
import pandas as pd
import pytest
from conftest import SHARED

from toxdb import DATA_DIR
from toxdb.clinical.ctcae import load_ctcae
from toxdb.ingest.report import compute_import_table
from toxdb.ingest.upload import commit_upload, import_paths, prepare_upload

REAL = SHARED / "realdata"
pytestmark = pytest.mark.skipif(not REAL.exists(), reason="shared/realdata is not beside this checkout")
SEVERITY = {"MILD": 1, "MODERATE": 2, "SEVERE": 3}           # data contract: AESEV as a flagged fallback


def _load(store, folder, skip=()):
    files = [f for f in sorted((REAL / folder).iterdir()) if f.suffix == ".csv" and f.name not in skip]
    out = import_paths(store, files, "new-user")
    table = compute_import_table(out)
    print(f"\n{folder}\n" + table.to_string(index=False))
    return {o.plan.file_name if o.plan else str(o.path): o for o in out}, table


def _period_end(text: str) -> pd.Timestamp:
    """The last day a (possibly partial) ISO date can stand for."""
    t = pd.Timestamp(text)
    return t + (pd.offsets.YearEnd(0) if len(text) == 4 else pd.offsets.MonthEnd(0) if len(text) == 7
                else pd.Timedelta(0))


def _ctcae():
    terms = load_ctcae()
    grades = {t.casefold(): g for t, g in zip(terms["term"], terms["grades"])}
    other_by_soc = {s.casefold(): t for s, t in zip(terms["soc"], terms["term"]) if t.endswith(" - Other, specify")}
    return grades, other_by_soc


def _allowed(text: str) -> set[int]:
    if "-" in text:
        lo, hi = map(int, text.split("-"))
        return set(range(lo, hi + 1))
    return {int(g) for g in text.split(",")}


def test_cdisc_pilot_sdtm(store):
    files, table = _load(store, "cdiscpilot01_sdtm", skip=("lb.csv",))      # labs: issue 14's subject
    dm = pd.read_csv(REAL / "cdiscpilot01_sdtm" / "dm.csv", dtype=str)
    ae = pd.read_csv(REAL / "cdiscpilot01_sdtm" / "ae.csv", dtype=str)
    # DM: the enrolment date is RFSTDTC (RFICDTC is empty throughout); screen failures have none
    assert dm["RFICDTC"].isna().all()
    enrolled = dm.dropna(subset=["RFSTDTC"]).set_index("USUBJID")["RFSTDTC"].map(pd.Timestamp)
    d = files["dm.csv"].counts
    assert (d.accepted, d.rejected) == (len(enrolled), len(dm) - len(enrolled))
    # AE: rejected only when the onset lies wholly more than 42 days before enrolment (trial.toml)
    early = ae.apply(lambda r: r["USUBJID"] not in enrolled or
                     _period_end(r["AESTDTC"]) < enrolled[r["USUBJID"]] - pd.Timedelta(days=42), axis=1)
    a = files["ae.csv"].counts
    assert (a.accepted + a.rejected + a.duplicates, a.rejected, a.duplicates) == (len(ae), int(early.sum()), 0)
    stored = store.read_kind("ae").sort_values("source_row").reset_index(drop=True)
    kept = ae[~early.to_numpy()].reset_index(drop=True)
    grades, other_by_soc = _ctcae()
    # every stored row: its CTCAE term is the file's term (any case, synonyms table, British spelling) or
    # "<SOC> - Other, specify" of the file's AEBODSYS
    synonyms = pd.read_csv(DATA_DIR / "ctcae_synonyms.csv", dtype=str)
    syn = {s.casefold(): t for s, t in zip(synonyms["synonym"], synonyms["term"])}
    spell = pd.read_csv(DATA_DIR / "ctcae_spellings.csv", dtype=str)

    def us(text):
        for b, u in zip(spell["british"], spell["us"]):
            text = text.replace(b, u)
        return text

    outside = 0
    for written, soc, term in zip(kept["AEDECOD"], kept["AEBODSYS"], stored["term"]):
        w = written.casefold()
        if term == other_by_soc.get(soc.casefold()) and w not in grades:
            outside += 1
        else:
            # British spellings are made US on both sides of the comparison (D51)
            assert us(us(term.casefold())) == us(us(w)) or syn.get(w) == term, (written, term)
    flags = store.flags(files["ae.csv"].counts.upload_id)
    assert flags.query("code == 'term_outside_ctcae'")["source_row"].nunique() == outside
    # grades from AESEV that the stored term does not have: stored as recorded, flagged
    not_allowed = sum(SEVERITY[sev] not in _allowed(grades[t.casefold()])
                      for sev, t in zip(kept["AESEV"], stored["term"]))
    assert flags.query("code == 'grade_not_allowed'")["source_row"].nunique() == not_allowed
    assert (stored["grade"].to_numpy() == kept["AESEV"].map(SEVERITY).to_numpy()).all()
    # EX: PLACEBO and XANOMELINE are no protocol treatment; unmapped they are refused with the way out
    ex = files["ex.csv"]
    assert ex.counts.rejected == len(pd.read_csv(REAL / "cdiscpilot01_sdtm" / "ex.csv"))
    assert "--map" in store.rejected_rows(ex.counts.upload_id)["reasons"].iloc[0]
    row = table.set_index("file").loc["ae.csv"]
    assert (row["rows in"], row["stored"], row["rejected"]) == (len(ae), len(kept), int(early.sum()))


def test_cdisc_pilot_treatment_log_with_a_value_map(store):
    """The same EX once the site says what its names are: XANOMELINE is the study drug, placebo is kept
    as other (D52)."""
    pilot = REAL / "cdiscpilot01_sdtm"
    import_paths(store, [pilot / "dm.csv"], "new-user")
    out = import_paths(store, [pilot / "ex.csv"], "new-user", map_args=["XANOMELINE=capecitabine", "PLACEBO=other"])
    ex = pd.read_csv(pilot / "ex.csv", dtype=str)
    c = out[0].counts
    assert (c.accepted, c.other, c.rejected) == ((ex["EXTRT"] == "XANOMELINE").sum(), (ex["EXTRT"] == "PLACEBO").sum(), 0)


def test_uhn_oncology_ae(store):
    files, _table = _load(store, "uhn_oncology_ae")
    enrol = pd.read_csv(REAL / "uhn_oncology_ae" / "enrollment.csv", dtype=str).set_index("Subject")["ENROL_DATE_INT"]
    ae = pd.read_csv(REAL / "uhn_oncology_ae" / "ae.csv", dtype=str)
    early = (ae["AE_ONSET_DT_INT"].map(pd.Timestamp) < ae["Subject"].map(enrol).map(pd.Timestamp)
             - pd.Timedelta(days=42)).to_numpy()
    rest = ae[~early]
    same_key = rest.duplicated(["Subject", "CTCAE5_LLT_NM", "AE_ONSET_DT_INT"], keep="first")
    exact = rest.duplicated(keep="first")
    c = files["ae.csv"].counts
    assert (c.rejected, c.duplicates) == (int(early.sum()) + int((same_key & ~exact).sum()), int(exact.sum()))
    assert c.accepted == len(ae) - c.rejected - c.duplicates
    assert files["enrollment.csv"].counts.accepted == len(enrol)
    # demography.csv is a side table (D59): its sex is added to the stored patients, nothing else changes
    demo = pd.read_csv(REAL / "uhn_oncology_ae" / "demography.csv", dtype=str)
    assert files["demography.csv"].counts.corrections == len(demo)
    pts = store.read_kind("patients").set_index("subject_id")
    assert pts["sex"].to_dict() == dict(zip(demo["Subject"], demo["GENDER_CODE"].str[0]))
    assert pts["enrolled_on"].dt.strftime("%Y-%m-%d").to_dict() == enrol.to_dict()
    # the drug dates and the eligibility status name no column toxdb can place with certainty: asked about
    for name in ("drug1_admin.csv", "drug2_admin.csv", "ineligibility.csv"):
        assert files[name].counts is None and "enrolled_on" in files[name].message
    assert "TX1_DATE_INT" in files["drug1_admin.csv"].message


def test_oxford_robust_toxicities(store):
    files, _table = _load(store, "oxford_robusttoxicities")
    tox = pd.read_csv(REAL / "oxford_robusttoxicities" / "Fake_data_time.csv", dtype=str)
    c = files["Fake_data_time.csv"].counts
    # no patients file in the folder: every row names a patient the store does not hold
    assert (c.accepted, c.rejected) == (0, len(tox))
    reasons = store.rejected_rows(c.upload_id)["reasons"]
    assert reasons.str.contains("not in the patient table").all()


def test_clindata_rawplus(store):
    files, _table = _load(store, "clindata_rawplus")
    # the demographics page has no enrolment date: it waits for the user, who is asked in words which of
    # the file's date columns (if any) is the enrolment date (D58)
    dm_words = files["rawplus_dm.csv"].message
    assert files["rawplus_dm.csv"].counts is None and "enrolled_on" in dm_words
    assert "firstparticipantdate" in dm_words and "record_dt" in dm_words and "is the enrolment date?" in dm_words
    # the AE page's only event name is aeterm, the reported term: read as the term (D58), so the file is
    # imported; with no patient stored, every row is rejected with that reason
    ae = pd.read_csv(REAL / "clindata_rawplus" / "rawplus_ae.csv", dtype=str)
    c = files["rawplus_ae.csv"].counts
    assert c is not None and (c.accepted, c.rejected) == (0, len(ae))
    ex = pd.read_csv(REAL / "clindata_rawplus" / "rawplus_ex.csv", dtype=str)
    assert files["rawplus_ex.csv"].counts.rejected == len(ex)


def test_clindata_rawplus_after_the_user_names_the_enrolment_date(store):
    """The user's answer to the question above: firstparticipantdate (the first day in the study)."""
    folder = REAL / "clindata_rawplus"
    dm = pd.read_csv(folder / "rawplus_dm.csv", dtype=str)
    plan = prepare_upload(store, (folder / "rawplus_dm.csv").read_bytes(), "rawplus_dm.csv",
                          mapping={"firstparticipantdate": "enrolled_on"})
    c = commit_upload(store, plan, "new-user")
    # a birth date given only to the year or month (1951----, 1964-06--) keeps the row, left empty, flagged
    partial = dm["brthdat"].notna() & ~dm["brthdat"].str.fullmatch(r"\d{4}-\d{2}-\d{2}", na=False)
    assert (c.accepted, c.rejected, c.flagged) == (len(dm), 0, int(partial.sum()))
    assert c.queries_raised == int(partial.sum())                 # each flag is a query to the site (D56)
    ae = pd.read_csv(folder / "rawplus_ae.csv", dtype=str)
    plan = prepare_upload(store, (folder / "rawplus_ae.csv").read_bytes(), "rawplus_ae.csv")
    c = commit_upload(store, plan, "new-user")
    # the public file masks every reported term as XXX: no event can be named, each row says so
    assert (ae["aeterm"] == "XXX").all() and (c.accepted, c.rejected) == (0, len(ae))
    reasons = store.rejected_rows(c.upload_id)["reasons"]
    assert reasons.str.contains("not a CTCAE v5.0 term").all()
    print(f"\nclindata_rawplus, enrolment = firstparticipantdate: dm {len(dm)} in, {len(dm)} stored, "
          f"{int(partial.sum())} flagged; ae {len(ae)} in, 0 stored, {len(ae)} rejected")
