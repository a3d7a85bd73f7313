"""Message catalogues: every _() message in the code has a Simplified Chinese translation, plural
forms follow the language, and the grading notes written into the data are catalogue messages."""
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from conftest import ROOT

from toxdb.i18n import (
    LANGUAGES,
    _,
    catalogue_path,
    current_language,
    language,
    ngettext,
    set_language,
    translate_parts,
)

PLACEHOLDER = re.compile(r"\{(\w*)[^{}]*\}")


def extracted(root: Path) -> dict[str, tuple]:
    """msgid -> (msgid or (singular, plural), file) for every message pybabel would extract."""
    with open(ROOT / "babel.cfg", encoding="utf-8") as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    out = {}
    for filename, _lineno, message, _comments, _context in extract_from_dir(root, method_map, options_map):
        key = message[0] if isinstance(message, tuple) else message
        out[key] = (message, filename)
    return out


def untranslated(root: Path, code: str = "zh_CN") -> list[str]:
    """Messages with no (or an unchecked) translation, or whose placeholders differ from the English."""
    with catalogue_path(code).open("rb") as fh:
        catalog = read_po(fh, locale=code)
    problems = []
    for key, (message, filename) in sorted(extracted(root).items()):
        entry = catalog.get(key)
        strings = () if entry is None else (entry.string if isinstance(entry.string, tuple) else (entry.string,))
        if entry is None or not all(strings) or entry.fuzzy:
            problems.append(f"{filename}: {key!r} has no {code} translation")
            continue
        wanted = set(PLACEHOLDER.findall(key))
        for s in strings:
            if set(PLACEHOLDER.findall(s)) != wanted:
                problems.append(f"{filename}: {key!r}: the translation {s!r} has other placeholders")
    return problems


def test_every_message_in_the_code_has_a_chinese_translation():
    problems = untranslated(ROOT)
    assert not problems, "run pybabel extract/update (README, Translations) and translate:\n" + "\n".join(problems)


def test_the_check_finds_a_message_without_translation(tmp_path):
    (tmp_path / "toxdb").mkdir()
    (tmp_path / "toxdb" / "new.py").write_text(
        'from toxdb.i18n import _\nx = _("A sentence nobody has translated yet")\ny = _("Data cut")\n')
    problems = untranslated(tmp_path)
    assert len(problems) == 1 and "nobody has translated" in problems[0]


def test_chinese_messages_and_english_fallback():
    with language("zh_CN"):
        assert _("Data cut") == "数据截点"
        assert _("A message that is not in the catalogue") == "A message that is not in the catalogue"
    assert _("Data cut") == "Data cut"


def test_plural_forms_follow_the_language():
    one, many = "{n} patient", "{n} patients"
    assert ngettext(one, many, 1) == one and ngettext(one, many, 2) == many
    msg = ("{what}: {x} of {n} patient with a grade ≥ {grade} event; the boundary at n = {n} is {b}.",
           "{what}: {x} of {n} patients with a grade ≥ {grade} event; the boundary at n = {n} is {b}.")
    with language("zh_CN"):
        # Chinese has one form (nplurals=1): the same sentence for 1 and for 5
        assert ngettext(*msg, 1) == ngettext(*msg, 5)
        assert ngettext(*msg, 5).format(what="W", x=2, n=5, grade=3, b=2) == "W：5 例患者中有 2 例发生 ≥ 3 级事件；n = 5 时的边界为 2。"


def test_language_context_restores_and_rejects_unknown_codes():
    before = current_language()
    with language("zh_CN"):
        assert current_language() == "zh_CN"
    assert current_language() == before
    with pytest.raises(ValueError, match="unknown language"):
        set_language("fr")
    assert set(LANGUAGES) == {"en", "zh_CN"}


def test_grade_notes_are_translated_part_by_part():
    note = "no baseline: graded by multiples of ULN only; grade 3 if a transfusion was given"
    with language("zh_CN"):
        assert translate_parts(note) == "无基线值：仅按 ULN 的倍数分级; 如已输血则为 3 级"
    assert translate_parts(None) is None


def test_every_note_in_the_criteria_files_is_a_catalogue_message():
    from toxdb.clinical.labs import CRITERIA_FILES, CRITERIA_NOTES

    found = set()
    for path in CRITERIA_FILES.values():
        for test in json.loads(path.read_text(encoding="utf-8"))["tests"].values():
            for side in test["sides"]:
                for group in side["criteria"]:
                    for t in group["thresholds"]:
                        found.update(p for p in t.get("note", "").split("; ") if p)
    assert found <= set(CRITERIA_NOTES), found - set(CRITERIA_NOTES)


def test_charts_name_a_font_that_renders_chinese():
    from toxdb.plots.style import FONT

    assert "Noto Sans CJK SC" in FONT["family"]
    if not shutil.which("fc-list"):
        pytest.skip("fontconfig not installed")
    families = subprocess.run(["fc-list", ":lang=zh-cn", "family"], capture_output=True, text=True, check=False).stdout
    assert "Noto Sans CJK SC" in families, "apt-get install fonts-noto-cjk (.ci/run does)"
