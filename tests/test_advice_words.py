"""Dose advice in words (issue 12 item 7, D79): an interrupt reads as a hold with the resume dose, rule ids
become words in the reader's language, reasons lose their ids, every rule id the engine uses has words."""
import re
from pathlib import Path

import pandas as pd
import pytest

from toxdb.dosing.words import (
    advice_in_words,
    derive_advice_words,
    known_rule,
    reasons_in_words,
    rule_in_words,
)
from toxdb.i18n import language
from toxdb.trial import load_trial

# a test without a tier mark is a unit test (conftest); the app and cli tests here say so
TRIAL = load_trial(Path(__file__).resolve().parent.parent / "trial.toml")


def test_an_interrupt_reads_as_a_hold_with_the_dose_to_resume_at():
    row = {"agent": "capecitabine", "action": "interrupt", "dose_percent": 100.0, "dose_mg_per_intake": 1200.0,
           "tablets": "8 × 150 mg"}
    assert advice_in_words(row, TRIAL) == "hold; resume at 1200 mg per intake (100 %) when ≤ grade 1"
    rt = {"agent": "RT", "action": "interrupt", "dose_percent": float("nan"), "dose_mg_per_intake": float("nan")}
    assert advice_in_words(rt, TRIAL) == f"hold radiotherapy; resume when ≤ grade {TRIAL.holds.rt_resume_grade_max}"
    assert advice_in_words({**row, "action": "reduce", "dose_percent": 75.0, "dose_mg_per_intake": 1150.0},
                           TRIAL) == "reduce to 1150 mg per intake (75 %)"
    stop = advice_in_words({**row, "action": "stop", "alternative": "interrupt until grade 0-1, resume at 50 %"},
                           TRIAL)
    assert stop.startswith("stop capecitabine") and "resume at 50 %" in stop
    with language("zh_CN"):
        zh = advice_in_words(row, TRIAL)
    assert "1200" in zh and "hold" not in zh


def test_rule_ids_become_words_and_reasons_lose_their_ids():
    words = rule_in_words("cape.dose; cape.table.g3.n2; pi.rt_interruption", TRIAL)
    assert "cape." not in words and "pi." not in words
    assert "grade 3" in words and "appearance 2" in words
    assert f"more than {TRIAL.holds.rt_interruption_flag_days} weekdays" in words
    with language("zh_CN"):
        zh = rule_in_words("cape.table.g3.n2", TRIAL)
    assert "卡培他滨" in zh and "3 级" in zh and "第 2 次" in zh
    reason = ("Diarrhea G3 (onset 2026-10-06, resolved 2026-10-26), 1st appearance: interrupt until grade 0-1, "
              "resume at 75 % [cape.table.g3.n1]; Anorexia G2 (onset 2026-11-05, ongoing) [cape.table.g2.n1; cape.hfs]")
    assert reasons_in_words(reason) == ("Diarrhea G3 (onset 2026-10-06, resolved 2026-10-26), 1st appearance: "
                                        "interrupt until grade 0-1, resume at 75 %; Anorexia G2 (onset 2026-11-05, "
                                        "ongoing)")


def test_every_rule_id_written_in_the_dose_engine_has_words():
    root = Path(__file__).resolve().parent.parent / "toxdb" / "dosing"
    text = "\n".join(p.read_text(encoding="utf-8") for p in root.glob("*.py") if p.name != "words.py")
    ids = set(re.findall(r"\"((?:cape|s1|rt|crt|pi)\.[a-z0-9_.]+)\"", text))
    ids |= {f"rt.hold.{g}" for g in TRIAL.holds.rt_hold_term_groups}
    ids |= {"cape.table.g2.n1", "cape.table.g4.n2"}       # built from grade and appearance
    ids.discard("cape.table.g")
    assert len(ids) > 20
    assert [i for i in sorted(ids) if not known_rule(i)] == []


def test_derive_advice_words_adds_the_three_columns():
    table = pd.DataFrame([{"subject_id": "P-1", "agent": "capecitabine", "action": "continue", "dose_percent": 100.0,
                           "dose_mg_per_intake": 1650.0, "reasons": "", "rule": "cape.dose"}])
    out = derive_advice_words(table, TRIAL)
    assert out.loc[0, "advice_text"] == "continue at 1650 mg per intake (100 %)"
    assert out.loc[0, "rule_text"].startswith("Capecitabine starting dose") and out.loc[0, "reason_text"] == ""


@pytest.mark.app
def test_dose_advice_page_shows_words_not_rule_ids_and_links_the_patient(app_env):
    from conftest import ROOT, run_app
    from streamlit.testing.v1 import AppTest

    at = run_app(AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=120))
    at.switch_page("app/pages/dose_advice.py")
    run_app(at)
    table = at.dataframe[0].value
    assert list(table.columns[:4]) == ["Patient", "Acknowledged", "Agent", "Advice"]
    assert table["Patient"].str.match(r"^patient\?subject=[^&]+&lang=en$").all()
    held = table[table["Advice"].str.startswith("hold")]
    assert len(held) and held["Advice"].str.contains(r"resume at \d+ mg per intake \(\d+ %\) when ≤ grade 1").all()
    shown = " ".join(" ".join(map(str, f.value.astype(str).to_numpy().ravel())) for f in at.dataframe)
    assert not re.search(r"\b(cape|s1|rt|crt|pi)\.[a-z]", shown), "a rule id is shown to users"
    assert set(table["Acknowledged"]) == {"waiting"}
    first = at.selectbox(key="ack_pick").value
    at.text_area(key="ack_comment").input("hold confirmed")
    next(b for b in at.button if b.label == "Acknowledge").click()
    run_app(at)
    done = at.dataframe[0].value
    subject = done["Patient"].str.extract(r"subject=([^&]+)")[0]
    import datetime as dt
    expected = f"✓ coordinator-test, {dt.date.today():%Y-%m-%d}"
    assert first is not None and (done["Acknowledged"] == expected).sum() == 1
    assert set(done.loc[done["Acknowledged"] == expected, "Advice"]) <= set(table["Advice"])
    assert subject.notna().all()
    assert [b.label for b in at.get("download_button")] == ["Download dose advice (.xlsx)",
                                                            "Download dose advice (.csv)"]


@pytest.mark.app
def test_patient_page_opens_from_the_address_and_shows_advice_in_words(app_env):
    from conftest import ROOT, run_app
    from streamlit.testing.v1 import AppTest

    at = run_app(AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=120))
    at.switch_page("app/pages/patient.py")
    at.query_params["subject"] = "ICC-04-005"       # on capecitabine with a hold in the sample trial
    run_app(at)
    assert at.selectbox(key="patient_subject").value == "ICC-04-005"
    advice = next(f.value for f in at.dataframe if "Advice" in f.value.columns)
    assert advice["Advice"].str.startswith("hold; resume at").any()
    shown = " ".join(" ".join(map(str, f.value.astype(str).to_numpy().ravel())) for f in at.dataframe)
    assert not re.search(r"\b(cape|s1|rt|crt|pi)\.[a-z]", shown), "a rule id is shown to users"
    assert any("No query about this patient." in c.value for c in at.caption)


# ---- reasons in the reader's language (D73): read back from the engine's English, said through the catalogue
def _advice_cases():
    """The engine's own reasons for the kinds of hint it gives (hold, table step, S-1 step, counts, liver,
    renal), from the dose rules' public entry point."""
    import numpy as np

    from test_dosing import BSA2, CUT, GI, HFS, TRIAL as DOSING_TRIAL, events, labs_df
    from toxdb.dosing.engine import advise_patient

    def run(ev=None, labs=None, agent="capecitabine", phase="concurrent", on_rt=True, patient=BSA2):
        return advise_patient(patient, ev, labs, None, trial=DOSING_TRIAL, cut=CUT, agent=agent, phase=phase,
                              on_rt=on_rt)

    out = []
    out += run(events(("Diarrhea", 3, "2025-08-28", None, GI)))                       # RT hold + chemo hold + table
    out += run(events((HFS, 2, "2025-08-28", None, "Skin")))                           # HFS
    out += run(labs=labs_df(("PLT", 70, np.nan, "2025-08-30"), ("ALT", 201, 40, "2025-08-30")))
    out += run(events(("Fatigue", 3, "2025-08-10", None, "General disorders"),
                      ("Nausea", 3, "2025-08-20", None, GI)), agent="S-1", phase="maintenance", on_rt=False)
    out += run(events(("Vomiting", 2, "2025-08-28", None, GI)), agent="S-1", phase="maintenance", on_rt=False)
    out += run(None, agent="capecitabine", phase="maintenance", on_rt=False, patient=dict(BSA2, age=100))  # CrCl 40
    out += run(None, agent="S-1", phase="maintenance", on_rt=False, patient=dict(BSA2, age=100))
    return [a for a in out if a.reasons]


ALLOWED_LATIN = {"mg", "L", "CrCl", "ANC", "ALT", "AST", "BILI", "ULN", "S"}   # units, lab and drug abbreviations


def _english_words(text: str) -> set[str]:
    """Latin words left in a Chinese text, the CTCAE term's own English name beside it (D33) excepted."""
    text = re.sub(r"（[^（）]*）", "", text)
    return set(re.findall(r"[A-Za-z]+", text)) - ALLOWED_LATIN


def test_a_hold_reason_in_chinese_has_no_english_words_but_units_and_drug_names():
    advice = _advice_cases()
    kinds = {a.agent for a in advice}
    assert kinds == {"capecitabine", "RT", "S-1"}, kinds
    for a in advice:
        with language("zh_CN"):
            zh = reasons_in_words(a.reasons)
        assert not _english_words(zh), (a.reasons, zh)
        assert "[" not in zh and re.search(r"[\u4e00-\u9fff]", zh)
        # as many parts as the English says (none dropped or merged)
        assert len(zh.split("；")) == len(reasons_in_words(a.reasons).split("; ")), (a.reasons, zh)


def test_an_rt_hold_reads_in_chinese_as_the_protocol_says_it():
    rt = next(a for a in _advice_cases() if a.agent == "RT")
    with language("zh_CN"):
        zh = reasons_in_words(rt.reasons)
    # grade 3 diarrhoea, ongoing: hold RT until grade <= [holds] rt_resume_grade_max
    assert zh == f"腹泻（Diarrhea） 3 级（2025-08-28 发生，持续中）：暂停放疗，恢复至 ≤ {TRIAL.holds.rt_resume_grade_max} 级后继续"
    assert reasons_in_words(rt.reasons) == (f"Diarrhea G3 (onset 2025-08-28, ongoing): hold RT, resume at grade <= "
                                            f"{TRIAL.holds.rt_resume_grade_max}")


def test_pi_flags_and_crcl_effects_in_chinese_and_unknown_words_kept():
    from toxdb.dosing.words import flags_in_words

    with language("zh_CN"):
        assert flags_in_words("Vomiting G4 (onset 2025-08-01, resolved 2025-08-05): grade 4 non-haematological "
                              "event: flag for the PI") == \
            "呕吐（Vomiting） 4 级（2025-08-01 发生，2025-08-05 已缓解）：4 级非血液学事件：提请主要研究者关注"
        assert flags_in_words("RT interrupted 9 weekdays in total (> 7)") == "放疗累计中断 9 个工作日（> 7）"
        assert flags_in_words("CrCl 40 (30 to < 51): 75 % of the planned dose") == "CrCl 40（30 至 < 51）：计划剂量的 75 %"
        # a sentence the reader does not know is shown as written, never dropped
        assert reasons_in_words("something new happened [x.y]") == "something new happened"
    assert flags_in_words("RT interrupted 9 weekdays in total (> 7)") == "RT interrupted 9 weekdays in total (> 7)"
