"""A nightly `python -m toxdb import FILE` without --kind reads the file once: the table read to find
its kind is the one validated (issue 9, import speed). With several files each is read again when its
turn comes, so that a batch never holds every table in memory at once."""
from conftest import AE_CSV, PATIENTS_CSV, write

import toxdb.ingest.upload as upload


def _counting(monkeypatch):
    calls = []
    real = upload.read_table

    def counted(raw, name, sheet=None):
        calls.append(name)
        return real(raw, name, sheet)

    monkeypatch.setattr(upload, "read_table", counted)
    return calls


def test_one_file_without_a_kind_is_read_once_and_imported_as_with_the_kind(store, tmp_path, monkeypatch):
    patients = write(tmp_path / "patients.csv", PATIENTS_CSV)
    ae = write(tmp_path / "ae.csv", AE_CSV)
    calls = _counting(monkeypatch)
    first = upload.import_paths(store, [patients], "tester")
    second = upload.import_paths(store, [ae], "tester")
    assert calls == ["patients.csv", "ae.csv"]
    assert first[0].plan.kind == "patients" and second[0].plan.kind == "ae"
    assert second[0].counts.accepted == 3 and second[0].counts.rejected == 0


def test_several_files_are_each_read_again_in_turn(store, tmp_path, monkeypatch):
    files = [write(tmp_path / "ae.csv", AE_CSV), write(tmp_path / "patients.csv", PATIENTS_CSV)]
    calls = _counting(monkeypatch)
    out = upload.import_paths(store, files, "tester")
    assert [o.plan.kind for o in out] == ["patients", "ae"]         # patients first, whatever the order given
    assert sorted(calls) == sorted(["ae.csv", "patients.csv"] * 2)
    assert out[1].counts.accepted == 3
