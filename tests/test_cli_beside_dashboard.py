"""Issue 9 (7): the command line works beside a running dashboard (D45). The dashboard's store is a
shared Store: it holds the DuckDB file only while an operation runs."""
import os
import subprocess
import sys
import textwrap
import time

import pytest
from conftest import AE_CSV, PATIENTS_CSV, ROOT, TREATMENT_CSV, write

pytestmark = pytest.mark.cli

HOLDER = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r})
    from toxdb.store.db import Store
    s = Store({db!r}, shared={shared})
    print("READY", flush=True)
    end = time.time() + 600            # killed by the test; outlives a slow, busy machine
    while time.time() < end:          # a dashboard serving page runs: reads every half second
        s.status_counts(); s.read_kind("ae"); s.data_version()
        time.sleep(0.5)
""")


def _toxdb(*args, wait: str = "60"):
    env = {**os.environ, "TOXDB_USER": "ci", "TOXDB_LOCK_WAIT_S": wait}
    start = time.monotonic()
    run = subprocess.run([sys.executable, "-m", "toxdb", *args], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=240, check=False)
    return run, time.monotonic() - start


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "beside.duckdb"
    files = [write(tmp_path / "patients.csv", PATIENTS_CSV), write(tmp_path / "treatment.csv", TREATMENT_CSV)]
    run, _ = _toxdb("import", "--db", str(path), *map(str, files))
    assert run.returncode == 0, run.stderr
    return path


def _hold(db, shared: bool):
    proc = subprocess.Popen([sys.executable, "-c", HOLDER.format(root=str(ROOT), db=str(db), shared=shared)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout.readline().strip() == "READY"
    return proc


def test_status_export_and_import_work_while_the_dashboard_reads(db, tmp_path):
    holder = _hold(db, shared=True)
    try:
        status, _ = _toxdb("status", "--db", str(db), "--json")
        assert status.returncode == 0, status.stderr
        assert '"patients": 3' in status.stdout
        ae = write(tmp_path / "ae.csv", AE_CSV)
        imported, _ = _toxdb("import", "--db", str(db), str(ae))
        assert imported.returncode == 0, imported.stderr
        assert "3 accepted" in imported.stdout
        export, _ = _toxdb("export", "events", "--db", str(db), "--cut", "2025-12-31", "--csv")
        assert export.returncode == 0, export.stderr
        assert len(export.stdout.strip().splitlines()) == 1 + 3
        assert holder.poll() is None                   # the dashboard kept working throughout
    finally:
        holder.kill()
        holder.wait()
    from toxdb.store.db import Store

    with Store(db, read_only=True) as store:            # the export was recorded beside it (D67)
        log = store.audit_log(10)
    assert "export" in set(log["action"])


def test_import_waits_a_bounded_time_for_a_held_file_and_says_so(db, tmp_path):
    holder = _hold(db, shared=False)                   # a process that never lets go of the file
    try:
        ae = write(tmp_path / "ae.csv", AE_CSV)
        run, seconds = _toxdb("import", "--db", str(db), str(ae), wait="2")
    finally:
        holder.kill()
        holder.wait()
    assert run.returncode == 3
    assert "waiting up to 2 s" in run.stderr and "did not come free within 2 s" in run.stderr
    assert "Traceback" not in run.stderr
    assert 2 <= seconds < 60
