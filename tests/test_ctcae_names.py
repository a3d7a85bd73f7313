"""Chinese names of CTCAE SOCs and terms (toxdb/data/ctcae_names_zh.csv): the table names real CTCAE
entries, covers every SOC and every term of the sample trial, and incidence tables show both names."""
import csv

import pandas as pd
from conftest import ROOT

from toxdb.clinical.ctcae_names import ctcae_display_name, ctcae_names, derive_ctcae_display
from toxdb.clinical.incidence import format_incidence
from toxdb.i18n import language

DATA = ROOT / "toxdb" / "data"


def _dictionary(version: str) -> pd.DataFrame:
    return pd.read_csv(DATA / f"ctcae_v{version}_terms.csv")


def test_every_row_names_a_ctcae_soc_or_term_of_v5_or_v6():
    v5, v6 = _dictionary("5"), _dictionary("6")
    terms, socs = set(v5["term"]) | set(v6["term"]), set(v5["soc"]) | set(v6["soc"])
    with open(DATA / "ctcae_names_zh.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    unknown = [r["english"] for r in rows if r["english"] not in (socs if r["kind"] == "soc" else terms)]
    assert not unknown
    assert len({(r["kind"], r["english"]) for r in rows}) == len(rows)          # no name given twice
    assert all(r["chinese"].strip() and r["chinese"] != r["english"] for r in rows)


def test_every_soc_and_every_sample_trial_term_has_a_chinese_name():
    names = ctcae_names("zh_CN")
    assert set(_dictionary("5")["soc"]) <= {e for k, e in names if k == "soc"}
    sample = pd.read_csv(ROOT / "sample_data" / "adverse_events.csv")
    missing = sorted(set(sample["term"]) - {e for k, e in names if k == "term"})
    assert not missing


def test_display_names_follow_the_language():
    assert ctcae_display_name("Diarrhea") == "Diarrhea"
    with language("zh_CN"):
        assert ctcae_display_name("Diarrhea") == "腹泻（Diarrhea）"
        assert ctcae_display_name("Investigations", "soc") == "各类检查（Investigations）"
        assert ctcae_display_name("Hiccups") == "Hiccups"                     # not in the table: English
        shown = derive_ctcae_display(pd.Series(["Nausea", None, "Nausea"]))
        assert shown.iloc[0] == shown.iloc[2] == "恶心（Nausea）" and pd.isna(shown.iloc[1])


def test_incidence_table_shows_both_names_in_chinese():
    table = pd.DataFrame({"phase": ["all"], "level": ["term"], "soc": ["Gastrointestinal disorders"],
                          "term": ["Diarrhea"], "at_risk": [10],
                          **{f"n_{k}": [1] for k in ("g1", "g2", "g3", "g4", "g5", "ge3", "any")},
                          **{f"pct_{k}": [10.0] for k in ("g1", "g2", "g3", "g4", "g5", "ge3", "any")}})
    assert format_incidence(table)["Term"].tolist() == ["Diarrhea"]
    with language("zh_CN"):
        out = format_incidence(table)
    assert out["Term"].tolist() == ["腹泻（Diarrhea）"]
    assert out["System organ class"].tolist() == ["胃肠系统疾病（Gastrointestinal disorders）"]
