"""Which CTCAE version an adverse-event file is written in, told by its terms (issue 14, item 4): a term
only v6 has (Thrombocytopenia, NCI's new name for Platelet count decreased) says v6; a term only v5 has
(Platelet count decreased, renamed in v6) says v5; a term in both (Fatigue) says nothing. Expected
values are read from NCI's v6.0 workbook ("CTCAE v5.0 to v6.0 Mapping": Platelet count decreased ->
Thrombocytopenia, a Deletion; Fatigue: No change)."""
from toxdb.clinical.ctcae_v6 import compute_terms_version


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
