"""The Toxicity page (AppTest): counts in the table match a tiny store worked by hand."""
import pytest
from conftest import AE_CSV, PATIENTS_CSV, ROOT, TREATMENT_CSV, write
from streamlit.testing.v1 import AppTest

from toxdb.ingest.upload import import_paths
from toxdb.store.db import Store

pytestmark = pytest.mark.app

# conftest's store, worked by hand (30-day window, no maintenance anywhere):
#   P-001 RT + 2 concurrent capecitabine cycles: Diarrhea g2 (06-25), Nausea g1 (06-20) -> worst 2
#   P-002 RT only: Fatigue g3 serious (07-10) -> worst 3
#   P-003 no treatment: not at risk
# at risk: concurrent 2, maintenance 0, any treatment 2
EXPECTED_ALL = {  # (level, term) -> Grade 1, Grade 2, Grade 3, Grade ≥3, Any grade
    ("all", ""): ("0 (0.0%)", "1 (50.0%)", "1 (50.0%)", "1 (50.0%)", "2 (100.0%)"),
    ("term", "Diarrhea"): ("0 (0.0%)", "1 (50.0%)", "0 (0.0%)", "0 (0.0%)", "1 (50.0%)"),
    ("term", "Nausea"): ("1 (50.0%)", "0 (0.0%)", "0 (0.0%)", "0 (0.0%)", "1 (50.0%)"),
    ("term", "Fatigue"): ("0 (0.0%)", "0 (0.0%)", "1 (50.0%)", "1 (50.0%)", "1 (50.0%)"),
}
COLS = ["Grade 1", "Grade 2", "Grade 3", "Grade ≥3", "Any grade"]


@pytest.fixture
def page(tmp_path, monkeypatch):
    db = tmp_path / "page.duckdb"
    s = Store(db)
    files = [write(tmp_path / "patients.csv", PATIENTS_CSV), write(tmp_path / "treatment.csv", TREATMENT_CSV),
             write(tmp_path / "ae.csv", AE_CSV)]
    assert all(o.error is None for o in import_paths(s, files, "tester"))
    s.close()
    monkeypatch.setenv("TOXDB_DB", str(db))
    monkeypatch.setenv("TOXDB_NO_SEED", "1")
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60)
    at.run()
    at.switch_page("app/pages/toxicity.py")
    at.run()
    assert not at.exception, at.exception
    return at


def _rows(at) -> dict:
    df = at.dataframe[0].value
    return {(r["Level"], r["Term"]): tuple(r[c] for c in COLS) for _, r in df.iterrows()}


def test_table_counts_match_hand_worked(page):
    assert [m.value for m in page.metric][:3] == ["2", "0", "2"]
    rows = _rows(page)
    for key, expected in EXPECTED_ALL.items():
        assert rows[key] == expected, key
    assert any("once per term" in c.value for c in page.caption)


def test_filters_and_drill_down(page):
    page.checkbox(key="tox_serious").check().run()
    assert not page.exception
    rows = _rows(page)
    assert rows[("all", "")] == ("0 (0.0%)", "0 (0.0%)", "1 (50.0%)", "1 (50.0%)", "1 (50.0%)")
    assert ("term", "Diarrhea") not in rows
    page.checkbox(key="tox_serious").uncheck().run()
    page.selectbox(key="tox_phase").set_value("concurrent").run()
    labels = page.selectbox(key="tox_row").options
    page.selectbox(key="tox_row").set_value(next(i for i, lab in enumerate(labels) if lab.endswith("Diarrhea")))
    page.selectbox(key="tox_grade").set_value("Grade 2").run()
    assert not page.exception
    src = page.dataframe[1].value
    assert src[["Patient", "Term", "Grade"]].values.tolist() == [["P-001", "Diarrhea", 2]]
    assert {"Upload", "File", "Row in file"} <= set(src.columns)
    assert src["File"].iloc[0] == "ae.csv" and int(src["Row in file"].iloc[0]) == 2
