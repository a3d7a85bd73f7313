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
