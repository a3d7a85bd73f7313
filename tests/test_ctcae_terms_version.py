"""Which CTCAE version an adverse-event file is written in, told by its terms (issue 14, item 4): a term
only v6 has (Thrombocytopenia, NCI's new name for Platelet count decreased) says v6; a term only v5 has
(Platelet count decreased, renamed in v6) says v5; a term in both (Fatigue) says nothing. Expected
values are read from NCI's v6.0 workbook ("CTCAE v5.0 to v6.0 Mapping": Platelet count decreased ->
Thrombocytopenia, a Deletion; Fatigue: No change). The version is kept with the upload (D35, migration 9)."""

import pytest
from cli_support import run_toxdb
from conftest import PATIENTS_CSV, ROOT, write

from toxdb.clinical.ctcae_v6 import compute_terms_version
from toxdb.ingest.upload import import_paths
from toxdb.store.db import Store


def test_a_term_only_v6_has_says_v6():
    found = compute_terms_version(["Fatigue", "Thrombocytopenia", "Fatigue", None, ""])
    assert (found.version, found.only_v6, found.only_v5, found.mixed) == ("6.0", ("Thrombocytopenia",), (), False)


def test_a_term_only_v5_has_says_v5_whatever_its_case_and_spacing():
    found = compute_terms_version(["fatigue", "  platelet   count decreased "])
    assert (found.version, found.only_v5, found.only_v6) == ("5.0", ("platelet   count decreased",), ())


def test_terms_in_both_dictionaries_tell_nothing():
    found = compute_terms_version(["Fatigue", "Nausea", "Diarrhea", "Not a CTCAE term at all"])
    assert (found.version, found.only_v5, found.only_v6) == (None, (), ())


def test_a_file_with_both_kinds_is_mixed():
    found = compute_terms_version(["Platelet count decreased", "Thrombocytopenia"])
    assert found.version is None and found.mixed
    assert (found.only_v5, found.only_v6) == (("Platelet count decreased",), ("Thrombocytopenia",))


def test_the_uploader_reads_which_version_and_what_happens_to_its_terms():
    from toxdb.clinical.ctcae_v6 import describe_terms_version
    from toxdb.i18n import language

    v6 = compute_terms_version(["Thrombocytopenia", "Fatigue"])
    words = describe_terms_version(v6, "5")
    assert "CTCAE v6.0" in words and "Thrombocytopenia" in words and "records CTCAE v5.0" in words
    assert "version of record" in describe_terms_version(compute_terms_version(["Platelet count decreased"]), "5.0")
    assert "do not tell" in describe_terms_version(compute_terms_version(["Fatigue"]), "5.0")
    with language("zh_CN"):
        zh = describe_terms_version(v6, "5")
    assert "Thrombocytopenia" in zh and "v6.0" in zh and "术语" in zh


# -- the version kept with an adverse-event upload (migration 9) ----------------------------------------

V6_AE = """subject_id,ae_ref,term,grade,onset_date,end_date,serious,attribution
P-001,AE-1,Thrombocytopenia,2,2025-06-25,2025-06-30,N,probable
P-001,AE-2,Fatigue,1,2025-06-20,,N,possible
"""
BOTH_AE = """subject_id,ae_ref,term,grade,onset_date,end_date,serious,attribution
P-002,AE-1,Fatigue,2,2025-07-10,2025-07-20,N,possible
"""


def _upload_versions(store) -> list:
    return [None if v is None or v != v else v for v in store.uploads()["ctcae_version"]]


def test_the_version_is_kept_with_the_upload_told_by_the_terms_or_the_version_of_record(store, tmp_path):
    files = [write(tmp_path / "patients.csv", PATIENTS_CSV), write(tmp_path / "v6.csv", V6_AE),
             write(tmp_path / "plain.csv", BOTH_AE)]
    out = import_paths(store, files, "tester", kind=None)
    assert [o.error for o in out] == [None, None, None]
    # patients carry no terms; Thrombocytopenia is v6 only; Fatigue tells nothing: the version of record
    assert _upload_versions(store) == [None, "6.0", "5.0"]
    assert "CTCAE v6.0" in out[1].message and "CTCAE v5.0" in out[2].message


def test_a_declared_version_wins_and_a_contradiction_is_noted(store, tmp_path):
    import_paths(store, [write(tmp_path / "patients.csv", PATIENTS_CSV)], "tester")
    out = import_paths(store, [write(tmp_path / "v6.csv", V6_AE)], "tester", ctcae="5")
    assert _upload_versions(store)[-1] == "5.0"
    assert any("declared CTCAE v5.0, but 1 terms are only in v6.0 (e.g. Thrombocytopenia)" in n
               for n in out[0].plan.notes)


def test_a_store_from_before_gets_the_column(tmp_path):
    path = tmp_path / "old.duckdb"
    s = Store(path)
    cur = s.cursor()
    cur.execute("ALTER TABLE uploads DROP COLUMN ctcae_version")
    cur.execute("DELETE FROM schema_version WHERE version = 9")
    s.close()
    s = Store(path)
    assert "ctcae_version" in s.uploads().columns
    s.close()


@pytest.mark.cli
def test_import_declares_the_version_on_the_command_line(tmp_path):
    db = tmp_path / "t.duckdb"
    patients, ae = write(tmp_path / "patients.csv", PATIENTS_CSV), write(tmp_path / "ae.csv", BOTH_AE)
    run = run_toxdb("import", "--db", db, "--ctcae", "6", patients, ae, user="ci")
    assert run.returncode == 0, run.stderr
    assert "terms in CTCAE v6.0" in run.stdout
    s = Store(db)
    assert _upload_versions(s) == [None, "6.0"]
    s.close()


# -- tables in v5.0 or v6.0 terms (NCI's mapping sheet, written out by hand here) -----------------------
def _events():
    import pandas as pd

    return pd.DataFrame({
        "subject_id": ["A", "B", "B", "C"], "event_id": [1, 2, 3, 4],
        "term": ["Platelet count decreased", "Anal hemorrhage", "Rectal hemorrhage", "Fatigue"],
        "soc": ["Investigations", "Gastrointestinal disorders", "Gastrointestinal disorders",
                "General disorders and administration site conditions"],
        "worst_grade": [3, 1, 2, 2], "onset_date": pd.to_datetime(["2025-07-01"] * 4),
        "emergent_phase": ["concurrent"] * 4, "treatment_emergent": [True] * 4})


def test_events_in_v6_terms_follow_nci_mapping():
    from toxdb.clinical.ctcae_v6 import derive_events_in_version

    ev = derive_events_in_version(_events(), "6")
    assert ev["term"].tolist() == ["Thrombocytopenia", "Hematochezia", "Hematochezia", "Fatigue"]
    # Thrombocytopenia sits under Blood and lymphatic system disorders in v6 (Investigations in v5)
    assert ev["soc"].tolist()[:2] == ["Blood and lymphatic system disorders", "Gastrointestinal disorders"]
    assert derive_events_in_version(_events(), "5.0")["term"].tolist()[0] == "Platelet count decreased"


def test_incidence_in_v6_terms_counts_a_patient_once_under_a_merged_term():
    import pandas as pd

    from toxdb.clinical.ctcae_v6 import derive_events_in_version
    from toxdb.clinical.incidence import compute_incidence

    milestones = pd.DataFrame({"subject_id": ["A", "B", "C"], "first_treatment": pd.to_datetime(["2025-06-01"] * 3),
                               "concurrent_start": pd.to_datetime(["2025-06-01"] * 3),
                               "maintenance_start": pd.NaT})
    result = compute_incidence(derive_events_in_version(_events(), "6.0"), milestones, phases=("concurrent",),
                               window_days=30)
    terms = result.table[result.table["level"] == "term"].set_index("term")
    # patient B had anal (grade 1) and rectal (grade 2) hemorrhage: one patient with Hematochezia, worst grade 2
    hematochezia = terms.loc["Hematochezia"]
    assert (hematochezia["n_any"], hematochezia["n_g2"], hematochezia["n_g1"]) == (1, 1, 0)
    assert (terms.at["Thrombocytopenia", "n_any"], terms.at["Thrombocytopenia", "n_g3"]) == (1, 1)
    assert "Platelet count decreased" not in terms.index


@pytest.mark.app
def test_toxicity_table_in_v6_terms_names_the_version_in_its_footnote(app_env):
    from conftest import run_app
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=120)
    at.switch_page("app/pages/toxicity.py")
    run_app(at)
    terms = lambda: set(at.dataframe[0].value["Term"])  # noqa: E731
    assert "Platelet count decreased" in terms() and "Thrombocytopenia" not in terms()
    at.radio(key="tox_terms").set_value("6.0")
    run_app(at)
    assert "Thrombocytopenia" in terms() and "Platelet count decreased" not in terms()
    footnote = " ".join(c.value for c in at.caption)
    assert "AE terms in CTCAE v6.0 through NCI's v5.0 to v6.0 mapping" in footnote
