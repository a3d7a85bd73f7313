"""Acknowledged dose advice: the hint's fingerprint, handled-until-changed, the store, CLI and page."""
import io

import pandas as pd
import pytest
from cli_support import run_toxdb
from conftest import ROOT, run_app
from streamlit.testing.v1 import AppTest

from toxdb.dosing.advice import advice_hash, derive_acknowledged

ROW = {"subject_id": "P-001", "agent": "capecitabine", "action": "reduce", "dose_percent": 75.0,
       "dose_mg_per_intake": 1200.0, "rule": "cape.dose; cape.table.g3.n1",
       "reasons": "Diarrhea G3 (onset 2025-06-25, resolved 2025-06-30), 1st appearance [cape.table.g3.n1]",
       "tablets": "8 × 150 mg", "crcl": 90.1}


def test_advice_hash_is_stable_and_changes_with_the_advice():
    h = advice_hash(ROW)
    assert len(h) == 64 and h == advice_hash(dict(ROW)) == advice_hash(pd.Series(ROW))
    assert advice_hash(dict(ROW, dose_percent=75, crcl=50.0, tablets="other")) == h   # same advice
    for field, value in [("action", "stop"), ("dose_percent", 50.0), ("dose_mg_per_intake", 1000.0),
                         ("rule", "cape.dose"), ("reasons", "Diarrhea G2"), ("subject_id", "P-002"),
                         ("agent", "S-1")]:
        assert advice_hash(dict(ROW, **{field: value})) != h, field
    assert advice_hash(dict(ROW, dose_percent=float("nan"))) == advice_hash(dict(ROW, dose_percent=None))


def _acks(*rows):
    return pd.DataFrame([{"subject_id": s, "agent": a, "rule": "r", "advice_hash": h, "comment": c,
                          "made_by": "dr x", "made_at": pd.Timestamp(t)} for s, a, h, c, t in rows])


def test_derive_acknowledged_marks_handled_only_for_the_same_hash():
    changed = dict(ROW, subject_id="P-002", action="stop")
    table = pd.DataFrame([ROW, changed, dict(ROW, agent="RT", action="continue")])
    old_for_p2 = advice_hash(dict(changed, action="reduce"))            # acknowledged before new data
    acks = _acks(("P-001", "capecitabine", advice_hash(ROW), "first", "2026-01-01 10:00"),
                 ("P-001", "capecitabine", advice_hash(ROW), "seen again", "2026-01-02 10:00"),
                 ("P-002", "capecitabine", old_for_p2, "old", "2026-01-01 10:00"),
                 ("P-001", "S-1", advice_hash(ROW), "other agent", "2026-01-01 10:00"))
    out = derive_acknowledged(table, acks)
    assert out["handled"].tolist() == [True, False, False]
    assert out.loc[0, ["acknowledged_by", "ack_comment"]].tolist() == ["dr x", "seen again"]
    assert out.loc[0, "acknowledged_at"] == pd.Timestamp("2026-01-02 10:00")
    assert out.loc[1, "ack_comment"] is None and pd.isna(out.loc[1, "acknowledged_at"])
    assert out["subject_id"].tolist() == table["subject_id"].tolist()   # rows kept, in order
    none = derive_acknowledged(table, None)
    assert not none["handled"].any() and {"acknowledged_by", "acknowledged_at", "ack_comment"} <= set(none.columns)


def test_store_acknowledgement_round_trip(store):
    assert len(store.acknowledgements()) == 0
    v0 = store.data_version()
    store.acknowledge_advice("P-001", "capecitabine", "cape.dose", advice_hash(ROW), "reduced at cycle 3", "dr x")
    acks = store.acknowledgements()
    assert acks[["subject_id", "agent", "rule", "advice_hash", "comment", "made_by"]].values.tolist() == \
        [["P-001", "capecitabine", "cape.dose", advice_hash(ROW), "reduced at cycle 3", "dr x"]]
    assert pd.notna(acks.loc[0, "made_at"])
    assert store.data_version() != v0                                   # page caches see the change
    log = store.audit_log()
    assert (log["action"] == "acknowledge_advice").sum() == 1 and "P-001" in log["detail"].iloc[0]
    assert derive_acknowledged(pd.DataFrame([ROW]), acks)["handled"].tolist() == [True]


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory):
    db = tmp_path_factory.mktemp("advice") / "sample.duckdb"
    done = run_toxdb("init", "--db", db, "--sample")
    assert done.returncode == 0, done.stderr
    return db


def _export(db, *extra):
    done = run_toxdb("export", "advice", "--db", db, *extra, "--csv", text=False)
    assert done.returncode == 0, done.stderr.decode()
    return pd.read_csv(io.BytesIO(done.stdout), encoding="utf-8-sig", dtype=str, keep_default_na=False)


@pytest.mark.cli
def test_cli_export_advice_on_the_sample_trial(sample_db):
    out = _export(sample_db)
    assert list(out.columns[:6]) == ["subject_id", "agent", "action", "dose_percent", "dose_mg_per_intake", "rule"]
    assert len(out) > 0
    assert set(out["action"]) <= {"continue", "interrupt", "reduce", "stop"}
    assert not out.duplicated(["subject_id", "agent"]).any()            # one row per patient and agent
    assert (out["rule"] != "").all()


@pytest.mark.cli
def test_cli_export_advice_with_a_cut(sample_db):
    early = _export(sample_db, "--cut", "2020-01-01")                  # before anyone was treated
    assert list(early.columns[:6]) == ["subject_id", "agent", "action", "dose_percent", "dose_mg_per_intake",
                                       "rule"]
    assert len(early) == 0


@pytest.mark.app
def test_dose_advice_page_renders_and_acknowledges(app_env):
    at = run_app(AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=90))
    at.switch_page("app/pages/dose_advice.py")
    run_app(at)
    assert at.title[0].value == "Dose advice"
    metrics = {m.label: m.value for m in at.metric}
    assert {"Continue", "Interrupt", "Reduce", "Stop", "Handled"} <= set(metrics)
    boxes = [s for s in at.selectbox if s.label == "Hint"]
    assert boxes, "the sample trial has patients on treatment today"
    handled_before = int(metrics["Handled"].split(" / ")[0])
    at.text_area(key="ack_comment").input("checked with the PI")
    next(b for b in at.button if b.label == "Acknowledge").click()
    run_app(at)
    assert any("Acknowledged" in s.value for s in at.success)
    metrics = {m.label: m.value for m in at.metric}
    assert int(metrics["Handled"].split(" / ")[0]) == handled_before + 1
    from app import state
    acks = state.get_store().acknowledgements()
    assert acks["made_by"].tolist()[-1] == "coordinator-test" and acks["comment"].tolist()[-1] == "checked with the PI"
