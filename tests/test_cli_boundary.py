"""Tests for the ``boundary`` subcommand (toxdb/cli_boundary.py)."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from toxdb.cli import boundary as cli_boundary

ROOT = Path(__file__).resolve().parents[1]

# clinfun::toxbdry(0.1, 0.3, 2:30) (spec): stop at 2 for n = 2..3, 3 for 4..8, 4 for 9..13,
# 5 for 14..19, 6 for 20..26, 7 for 27..30.
CLINFUN_CSV = "n,boundary\n" + "".join(
    f"{n},{b}\n" for n, b in zip(range(2, 31), [2] * 2 + [3] * 5 + [4] * 5 + [5] * 6 + [6] * 7 + [7] * 4)
)


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="toxdb")
    sub = parser.add_subparsers(dest="command", required=True)
    cli_boundary.register(sub)
    try:
        args = parser.parse_args(["boundary", *argv])
        code = args.func(args)
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.cli
def test_register_sets_func():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    cli_boundary.register(sub)
    args = parser.parse_args(["boundary", "--n-max", "10", "--p0", "0.2"])
    assert args.func is cli_boundary.run


@pytest.mark.cli
def test_csv_matches_clinfun_reference(capsys):
    code, out, err = _run(["--n-max", "30", "--p0", "0.1", "--p1", "0.3", "--looks", "2:30", "--csv"], capsys)
    assert code == 0 and err == ""
    assert out == CLINFUN_CSV


@pytest.mark.cli
def test_csv_empty_where_stopping_impossible(capsys):
    # p0 = 0.3, every patient: 1 of 1 (P = 0.3), 2 of 2 (0.09) and 3 of 3 (0.027) are all above any
    # calibrated Pocock level here, so the first rows have an empty boundary.
    code, out, _ = _run(["--n-max", "66", "--p0", "0.30", "--p1", "0.45", "--csv"], capsys)
    lines = out.splitlines()
    assert code == 0 and lines[0] == "n,boundary" and len(lines) == 67
    assert lines[1:4] == ["1,", "2,", "3,"]


@pytest.mark.cli
def test_readable_report(capsys):
    code, out, _ = _run(["--n-max", "30", "--p0", "0.1", "--p1", "0.3", "--looks", "2:30"], capsys)
    assert code == 0
    assert "Nominal alpha found" in out
    assert "Operating characteristics" in out and "P(cross)" in out and "E[N]" in out
    assert "0.0974" in out and "0.8983" in out  # P(cross) at p0 and p1 (spec: 0.097, 0.898)
    assert "2-3" in out and "27-30" in out


@pytest.mark.cli
def test_bayesian_report_and_csv(capsys):
    code, out, _ = _run(["--n-max", "20", "--p0", "0.3", "--bayes", "1,1", "--threshold", "0.9", "--csv"], capsys)
    # Beta(1,1) prior, p0 0.3, threshold 0.9 by hand: 1 of 1 -> 0.91, 2 of 3 -> 0.9163 (stop)
    assert code == 0 and out.splitlines()[1:4] == ["1,1", "2,2", "3,2"]
    code, out, _ = _run(["--n-max", "20", "--p0", "0.3", "--p1", "0.45", "--bayes", "0.6,1.4"], capsys)
    assert code == 0 and "Bayesian" in out and "threshold 0.9" in out


@pytest.mark.cli
@pytest.mark.parametrize(
    "argv, message",
    [
        (["--n-max", "10", "--p0", "1.5"], "--p0"),
        (["--n-max", "0", "--p0", "0.2"], "--n-max"),
        (["--n-max", "10", "--p0", "0.3", "--p1", "0.2"], "--p1"),
        (["--n-max", "10", "--p0", "0.3", "--looks", "3-8"], "FIRST:LAST"),
        (["--n-max", "10", "--p0", "0.3", "--looks", "0:8"], "--looks"),
        (["--n-max", "10", "--p0", "0.3", "--looks", "2:11"], "--looks"),
        (["--n-max", "10", "--p0", "0.3", "--delta", "-1"], "--delta"),
        (["--n-max", "10", "--p0", "0.3", "--delta", "big"], "--delta"),
        (["--n-max", "10", "--p0", "0.3", "--cp0", "1"], "--cp0"),
        (["--n-max", "10", "--p0", "0.3", "--threshold", "0.9"], "--bayes"),
        (["--n-max", "10", "--p0", "0.3", "--bayes", "1"], "--bayes"),
        (["--n-max", "10", "--p0", "0.3", "--bayes", "0,1"], "positive"),
        (["--n-max", "10", "--p0", "0.3", "--bayes", "1,1", "--threshold", "1.2"], "--threshold"),
        (["--n-max", "10", "--p0", "0.3", "--bayes", "1,1", "--delta", "0.5"], "frequentist"),
        (["--n-max", "ten", "--p0", "0.3"], "--n-max"),
        (["--p0", "0.3"], "--n-max"),
    ],
)
def test_invalid_arguments_exit_2(argv, message, capsys):
    code, out, err = _run(argv, capsys)
    assert code == 2
    assert message in err and out == ""


@pytest.mark.cli
@pytest.mark.parametrize("delta", ["0.5", "obf", "0.25"])
def test_delta_accepted(delta, capsys):
    code, out, _ = _run(["--n-max", "12", "--p0", "0.2", "--delta", delta], capsys)
    assert code == 0 and "delta" in out


@pytest.mark.cli
def test_standalone_module_runs():
    proc = subprocess.run(
        [sys.executable, "-m", "toxdb.cli.boundary", "--n-max", "30", "--p0", "0.1", "--looks", "2:30", "--csv"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == CLINFUN_CSV
