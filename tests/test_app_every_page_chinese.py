"""Every page in Chinese (AppTest, the sample trial, local mode = data_manager): no exception, and no
element text left in English (D34). "English" = a word of three or more ASCII letters that is not on the
allow-list below: units, identifiers and abbreviations clinicians write in Latin letters in Chinese
too, CTCAE names in NCI's English (shown beside the Chinese name, or alone where the translation
table has none), and the user's own data (sites, patient ids, file names, drug names as recorded)."""
from __future__ import annotations

import csv
import json
import re
from functools import cache

import pytest
from conftest import ROOT, run_app
from streamlit.testing.v1 import AppTest

from toxdb.trial import load_trial

PAGES = sorted(p.name for p in (ROOT / "app" / "pages").glob("*.py"))

# Latin words a Chinese clinical reader sees as they are: units, abbreviations, formats, products
ALLOWED_WORDS = {
    # units
    "mg", "mL", "min", "µmol", "mol", "umol", "mmol", "g/L", "Gy", "cGy", "day", "days",
    # clinical abbreviations and scales used as-is in Chinese clinical writing
    "CTCAE", "MedDRA", "SAE", "SAEs", "ECOG", "ALT", "AST", "ANC", "ALP", "GGT", "BSA", "CrCl", "ULN", "LLN",
    "WBC", "PLT", "HGB", "CREAT", "BILI", "ALB", "INR", "CRP", "LYM", "NEUT", "RBC", "TBIL", "IMRT", "VMAT",
    "Child", "Pugh", "Mosteller", "Cockcroft", "Gault", "Kaplan", "Meier", "Aalen", "Johansen", "Pocock",
    "Brien", "O'Brien", "Fleming", "Ivanova", "DSMB", "NCI", "ICC", "NCT", "SOC", "RECIST", "Child-Pugh", "Beta",
    "Greenwood", "KM", "Hy's",
    # file formats and tools
    "CSV", "csv", "Excel", "xlsx", "xls", "xpt", "PDF", "pdf", "SDTM", "SHA", "toxdb", "toml", "trial.toml",
    "utf", "UTF", "gbk", "GBK", "gb18030", "python", "duckdb", "DuckDB", "html", "png",
    # the languages' own names (the switch shows both)
    "Language", "English",
    # Streamlit's own icons (markdown ":material/print:")
    "material", "print",
}
# whole spans that are not prose: code, links' targets, file paths, placeholders in hover templates
IGNORED_SPANS = [re.compile(p) for p in (
    r"`[^`]*`", r"\]\([^)]*\)", r"\(\?[^)]*\)", r"%\{[^}]*\}", r"<[^>]+>", r"[\w./-]+\.(?:csv|xlsx|xpt|duckdb|toml|md|pdf)\b",
    r"（[^（）]*）",                      # NCI's English name in brackets beside the Chinese (ctcae_display_name)
    r"\b[A-Z]{2,}-\d+(?:-\d+)*\b", r"\bS-1\b", r"#\d+",
    r"\[[a-z_.]+\]",                   # a trial.toml section, e.g. [eligibility]
    r"\b[0-9a-f]{16,}\b",              # a file's SHA-256
    r"\bold_",                          # the prefix of a replaced value's column (old_<column>)
    r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+",     # an e-mail address (alert recipients, users)
    r"\bTOXDB_[A-Z_]+\b",               # an environment variable's name
)]
WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*[A-Za-z]|[A-Za-z]")


@cache
def data_words() -> tuple[re.Pattern, frozenset[str]]:
    """The user's data and NCI's names: whole CTCAE terms and SOCs (both versions), and the words of the
    sample trial's sites, ids, agents, files, people and lab test codes."""
    phrases = set()
    for name in ("ctcae_v5_terms.csv", "ctcae_v6_terms.csv"):
        with open(ROOT / "toxdb" / "data" / name, encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                phrases.update((row["term"], row["soc"]))
    trial = load_trial(ROOT / "trial.toml")
    phrases.add(trial.trial.title)
    words = set()
    for name in ("patients.csv", "treatment.csv", "adverse_events.csv", "labs.csv"):
        with open(ROOT / "sample_data" / name, encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                for col in ("site", "agent", "treatment", "test", "unit", "dose_unit", "term", "verbatim",
                            "off_treatment_reason"):       # free text as the site wrote it
                    if row.get(col):
                        phrases.add(row[col])
        words.add(name)
    units = json.loads((ROOT / "toxdb" / "data" / "lab_units.json").read_text(encoding="utf-8"))
    words.update(units.get("tests", {}))
    phrases.update(trial.roles.named())          # role names are identifiers (trial.toml, the CLI)
    phrases.update(("sample-data", "coordinator-test", "Capecitabine"))     # the seeding uploader, the test user
    alternation = "|".join(re.escape(p) for p in sorted(phrases, key=len, reverse=True) if p)
    return re.compile(rf"(?<![A-Za-z])(?:{alternation})(?![A-Za-z])"), frozenset(words)


def english_words(text: str) -> list[str]:
    """The words of ``text`` a Chinese reader would meet untranslated."""
    phrases, words = data_words()
    text = re.sub(r"\\(.)", r"\1", text)        # Markdown escapes (user text is shown escaped, D44)
    text = phrases.sub(" ", text)
    for span in IGNORED_SPANS:
        text = span.sub(" ", text)
    found = []
    for w in WORD.findall(text):
        if len(w) < 3 or w in ALLOWED_WORDS or w in words or w.lower() in ALLOWED_WORDS:
            continue
        found.append(w)
    return found


def element_texts(at: AppTest) -> list[tuple[str, str]]:
    """(where, text) for every text a reader sees: titles, captions, markdown, labels, help, options,
    placeholders, table headers, chart titles, axis titles, legend names and hover templates. A
    widget's ``value`` is its stored key (e.g. "live"), not what is shown, and table cells hold data."""
    out: list[tuple[str, str]] = []

    def walk(node) -> None:
        kind = getattr(node, "type", "?")
        for attr in ("value", "label", "body", "help", "placeholder", "options"):
            if attr == "value" and kind in ("selectbox", "multiselect", "radio", "select_slider", "text_input",
                                            "number_input", "date_input", "text_area", "toggle", "checkbox",
                                            "dataframe", "table", "json", "metric", "code"):
                continue
            try:
                v = getattr(node, attr)
            except Exception:       # an element without that part
                continue
            if isinstance(v, str):
                out.append((f"{kind}.{attr}", v))
            elif isinstance(v, (list, tuple)):
                out.extend((f"{kind}.{attr}", x) for x in v if isinstance(x, str))
        if kind in ("dataframe", "table"):
            try:
                out.extend((f"{kind}.column", str(c)) for c in node.value.columns)
            except Exception:
                pass
        if kind == "plotly_chart":
            _chart_texts(json.loads(node.proto.spec), out)
        for child in (getattr(node, "children", None) or {}).values():
            walk(child)

    walk(at._tree)
    return out


def _chart_texts(spec: dict, out: list) -> None:
    def grab(o, path: str) -> None:
        if isinstance(o, dict):
            for k, x in o.items():
                if k in ("text", "name", "hovertemplate") and isinstance(x, str):
                    out.append((f"chart {path}{k}", x))
                elif k not in ("x", "y", "z", "customdata", "text"):
                    grab(x, f"{path}{k}.")
        elif isinstance(o, list):
            for x in o:
                grab(x, path)

    grab(spec.get("data"), "data.")
    grab(spec.get("layout"), "layout.")


def test_the_check_finds_english_and_lets_data_through():
    assert english_words("Patients by worst grade") == ["Patients", "worst", "grade"]
    assert english_words("腹泻（Diarrhea）2 级，ICC-01-003 · CAMS · capecitabine，文件 `labs.csv`") == []
    assert english_words("Platelet count decreased 1 级，ALT 120 U/L") == []
    assert english_words("降至 ≤ 1 级后恢复 (data as stored)") == ["data", "stored"]


@pytest.mark.app
@pytest.mark.parametrize("page", PAGES)
def test_every_page_in_chinese_has_no_english_left(app_env, page):
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=120)
    at.query_params["lang"] = "zh_CN"
    at.switch_page(f"app/pages/{page}")
    run_app(at)
    left = sorted({f"{where}: {text[:160]!r} -> {words}" for where, text in element_texts(at)
                   if (words := english_words(text))})
    assert not left, f"{page}: {len(left)} texts still in English:\n" + "\n".join(left)
