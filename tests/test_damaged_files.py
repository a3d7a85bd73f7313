"""Issue 9 (3, 4): a corpus of damaged files, built here byte by byte. For each: no traceback, the
rows stored plus the rows rejected equal the rows the file holds, the exit status says whether the
file was imported, and the message names the file, the line and what to do (D42)."""
from __future__ import annotations

import random
import subprocess
import sys

import duckdb
import pytest
from conftest import PATIENTS_CSV, ROOT, write

from toxdb.cli import main
from toxdb.store.db import Store

HEADER = "subject_id,ae_ref,term,grade,onset_date,serious,attribution"


def _rows(n: int) -> list[str]:
    subjects = ("P-001", "P-002", "P-003")
    return [f"{subjects[i % 3]},AE-{i:04d},Nausea,{1 + i % 3},2025-08-{1 + i % 28:02d},N,possible" for i in range(n)]


def _csv(lines: list[str], end: str = "\n") -> bytes:
    return (end.join([HEADER, *lines]) + end).encode()


def _garbage_line(n: int = 60) -> bytes:
    rng = random.Random(9)
    return bytes(b for b in (rng.randrange(256) for _ in range(n * 2)) if b not in (10, 13, 34, 44))[:n]


def _unbalanced_quote() -> bytes:
    lines = _rows(200)
    lines[1] = lines[1].replace(",Nausea,", ',"Nausea,')        # file line 3: a quote that never closes
    return _csv(lines)


def _nul_line() -> bytes:
    return _csv(_rows(20)) + b"\x00" * 64 + b"\n"


def _garbage_in_the_middle() -> bytes:
    lines = _csv(_rows(20)).split(b"\n")
    return b"\n".join(lines[:11] + [_garbage_line()] + lines[11:])   # line 12 of 22


def _long_line() -> bytes:
    lines = _rows(5)
    lines[1] = lines[1].replace("Nausea", "x" * (17 << 20))           # longer than pyarrow's 16 MB block
    return _csv(lines)


# name, bytes, rows in the file (None: the file is refused whole), rows stored, rows rejected, exit status,
# words in the message
CORPUS = [
    ("quote.csv", _unbalanced_quote, 200, 199, 1, 0, ["quote.csv, row 3", "quote", "never closes"]),
    ("mac.csv", lambda: _csv(_rows(20), end="\r"), 20, 20, 0, 0, ["carriage return"]),
    ("twice.csv", lambda: _csv(_rows(5)).replace(b"attribution", b"Grade", 1), None, 0, 0, 1,
     ["twice.csv", "'grade' (columns 4, 7)", "more than once"]),
    ("nul.csv", _nul_line, 21, 20, 1, 0, ["nul.csv, row 22", "NUL bytes"]),
    ("garbage.csv", _garbage_in_the_middle, 21, 20, 1, 0, ["garbage.csv, row 12", "not UTF-8"]),
    ("utf16.csv", lambda: _csv(_rows(20)).decode().encode("utf-16-le"), 20, 20, 0, 0, ["UTF-16-LE"]),
    ("utf32.csv", lambda: _csv(_rows(20)).decode().encode("utf-32-be"), 20, 20, 0, 0, ["UTF-32-BE"]),
    ("long.csv", _long_line, None, 0, 0, 1, ["long.csv: line 3 is 17.8 MB long", "line breaks"]),
    ("random.xpt", lambda: random.Random(1).randbytes(5000), None, 0, 0, 1,
     ["random.xpt", "SAS transport header"]),
]


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "corpus.duckdb"
    assert main(["import", "--db", str(path), str(write(tmp_path / "patients.csv", PATIENTS_CSV))]) == 0
    return path


def _counts(path):
    with Store(path, read_only=True) as s:
        c = s.status_counts()
    return c["adverse_events"], c["rejected_rows"]


@pytest.mark.parametrize("name, make, n_rows, stored, rejected, status, words", CORPUS, ids=[c[0] for c in CORPUS])
def test_a_damaged_file_is_named_and_contained(db, tmp_path, capsys, name, make, n_rows, stored, rejected,
                                               status, words):
    capsys.readouterr()
    path = tmp_path / name
    path.write_bytes(make())
    code = main(["import", "--db", str(db), "--kind", "ae", str(path)])      # an exception would fail here
    out = capsys.readouterr()
    text = out.out + out.err
    assert code == status, text
    assert "Traceback" not in text
    for w in words:
        assert w in text, text
    assert _counts(db) == (stored, rejected)
    if n_rows is not None:
        assert stored + rejected == n_rows


def test_a_bad_size_setting_is_a_sentence_and_status_still_works(db, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TOXDB_MAX_FILE_MB", "abc")
    capsys.readouterr()
    path = write(tmp_path / "ae.csv", _csv(_rows(3)).decode())
    assert main(["import", "--db", str(db), str(path)]) == 1
    text = capsys.readouterr().out
    assert "TOXDB_MAX_FILE_MB" in text and "'abc'" in text and "number" in text
    assert main(["status", "--db", str(db)]) == 0
    assert _counts(db) == (0, 0)


@pytest.mark.cli
def test_status_starts_with_a_bad_size_setting(db):
    env = {"TOXDB_MAX_FILE_MB": "abc", "PATH": "/usr/bin:/bin", "TOXDB_USER": "ci"}
    run = subprocess.run([sys.executable, "-m", "toxdb", "status", "--db", str(db)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr and "patients" in run.stdout


def test_a_full_disk_is_a_sentence_and_stores_nothing(db, tmp_path, capsys, monkeypatch):
    import toxdb.store.db as store_db

    def disk_full(*args, **kwargs):
        raise duckdb.IOException("Could not write file \"corpus.duckdb.wal\": No space left on device")

    monkeypatch.setattr(store_db, "_audit", disk_full)
    path = write(tmp_path / "ae.csv", _csv(_rows(3)).decode())
    capsys.readouterr()
    assert main(["import", "--db", str(db), str(path)]) == 3
    text = capsys.readouterr().err
    assert "No space left on device" in text and "nothing of this change was stored" in text
    assert "Traceback" not in text
    assert _counts(db) == (0, 0)


def fan_out_xlsx(path, cells: int = 100_000, length: int = 32_000) -> None:
    """A small workbook whose every cell names one long shared string (built part by part)."""
    import zipfile

    rows = "".join(f'<row r="{r}">' + "".join(f'<c r="{col}{r}" t="s"><v>0</v></c>' for col in "ABCDEFGHIJ")
                   + "</row>" for r in range(1, cells // 10 + 1))
    parts = {
        "[Content_Types].xml": '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
        'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override '
        'PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.'
        'spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="'
        'application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName='
        '"/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.'
        'sharedStrings+xml"/></Types>',
        "_rels/.rels": '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
        '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
        '2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": '<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/'
        'spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        '<sheets><sheet name="AE" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.'
        'org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
        'officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2"'
        ' Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" '
        'Target="sharedStrings.xml"/></Relationships>',
        "xl/sharedStrings.xml": '<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/'
        f'spreadsheetml/2006/main" count="{cells}" uniqueCount="1"><si><t>{"x" * length}</t></si></sst>',
        "xl/worksheets/sheet1.xml": '<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/'
        f'spreadsheetml/2006/main"><sheetData>{rows}</sheetData></worksheet>',
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in parts.items():
            zf.writestr(name, text)


MEASURE = """
import resource, sys, time
sys.path.insert(0, {root!r})
from toxdb.ingest.readers import ReadError, read_path
start = time.perf_counter()
try:
    read_path({path!r})
    print("READ")
except ReadError as exc:
    print("REFUSED", exc)
print("SECONDS", time.perf_counter() - start)
# VmHWM: this process's peak since exec (ru_maxrss may keep the forking pytest worker's high mark)
hwm = [line for line in open("/proc/self/status") if line.startswith("VmHWM:")]
print("PEAK_MB", int(hwm[0].split()[1]) / 1024 if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


@pytest.mark.cli
def test_a_spreadsheet_that_fans_one_long_text_out_is_refused_quickly_and_small(tmp_path):
    path = tmp_path / "fan_out.xlsx"
    fan_out_xlsx(path)
    run = subprocess.run([sys.executable, "-c", MEASURE.format(root=str(ROOT), path=str(path))],
                         capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    lines = dict(line.split(" ", 1) for line in run.stdout.strip().splitlines())
    assert "REFUSED" in lines and "fan_out.xlsx" in lines["REFUSED"] and "memory" in lines["REFUSED"], run.stdout
    assert float(lines["SECONDS"]) < 5.0
    assert float(lines["PEAK_MB"]) < 500.0


def test_the_memory_estimate_counts_each_reference_to_a_shared_string(tmp_path):
    import zipfile

    from toxdb.ingest.xlsx_budget import CELL_OVERHEAD_BYTES, estimate_sheet_bytes

    path = tmp_path / "small.xlsx"
    fan_out_xlsx(path, cells=50, length=1000)
    with zipfile.ZipFile(path) as zf:
        (estimate,) = estimate_sheet_bytes(zf).values()
    text_per_cell = len("<si><t>") + 1000 + len("</t>")      # the shared string's XML up to its </si>
    first = len('<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
                ' count="50" uniqueCount="1">')
    assert estimate == 50 * CELL_OVERHEAD_BYTES + 50 * (first + text_per_cell)
