"""``boundary`` subcommand: print a toxicity stopping boundary and its operating characteristics.

    python -m toxdb boundary --n-max 66 --p0 0.30 --p1 0.45            # Pocock-type, cP0 0.10
    python -m toxdb boundary --n-max 30 --p0 0.1 --p1 0.3 --looks 2:30 --csv
    python -m toxdb boundary --n-max 66 --p0 0.30 --p1 0.45 --bayes 0.6,1.4 --threshold 0.90

``--csv`` prints ``n,boundary`` with one row per look; ``boundary`` is the smallest number of
patients with a qualifying event that stops at that look, empty when stopping is impossible.
Exit status: 0 on success, 2 on invalid arguments (message on stderr).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import numpy as np
import pandas as pd

from toxdb.monitoring.boundary import (
    BAYESIAN,
    FREQUENTIST,
    BoundaryResult,
    compute_boundary,
    compute_operating_characteristics,
)

__all__ = ["register", "run", "build_parser", "main"]

_DELTA_NAMES = {"pocock": 0.0, "obf": 0.5, "obrien-fleming": 0.5}


class UsageError(ValueError):
    """An invalid combination of arguments (reported with exit status 2)."""


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--n-max", type=int, required=True, metavar="N", help="planned number of evaluable patients")
    p.add_argument("--p0", type=float, required=True, metavar="P", help="acceptable toxicity rate")
    p.add_argument("--p1", type=float, default=None, metavar="P", help="unacceptable toxicity rate (OC grid end)")
    p.add_argument("--cp0", type=float, default=None, metavar="C",
                   help="max. probability of crossing when the rate is p0 (default 0.10; frequentist only)")
    p.add_argument("--delta", default=None, metavar="D",
                   help="boundary shape: 0 (Pocock, default), 0.5 (O'Brien-Fleming) or any x >= 0")
    p.add_argument("--looks", default=None, metavar="FIRST:LAST",
                   help="patient counts at which the committee looks (default 1:N)")
    p.add_argument("--bayes", default=None, metavar="A,B",
                   help="use the Bayesian beta-binomial rule with a Beta(A, B) prior")
    p.add_argument("--threshold", type=float, default=None, metavar="T",
                   help="posterior probability P(p > p0) that stops (with --bayes; default 0.90)")
    p.add_argument("--steps", type=int, default=6, metavar="K",
                   help="number of rates from p0 to p1 in the operating characteristics (default 6)")
    p.add_argument("--csv", action="store_true", help="print n,boundary as CSV")


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``boundary`` subcommand to an argparse ``subparsers`` object."""
    p = subparsers.add_parser(
        "boundary",
        help="toxicity stopping boundary and operating characteristics",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    _add_arguments(p)
    p.set_defaults(func=run)
    return p


def _parse_looks(text: str, n_max: int) -> list[int]:
    parts = text.split(":")
    if len(parts) != 2:
        raise UsageError(f"--looks must be FIRST:LAST, e.g. 2:{n_max}; got {text!r}")
    try:
        first, last = int(parts[0]), int(parts[1])
    except ValueError:
        raise UsageError(f"--looks must be two whole numbers FIRST:LAST; got {text!r}") from None
    if not (1 <= first <= last <= n_max):
        raise UsageError(f"--looks needs 1 <= FIRST <= LAST <= --n-max ({n_max}); got {text!r}")
    return list(range(first, last + 1))


def _parse_delta(text: str) -> float:
    key = text.strip().lower()
    if key in _DELTA_NAMES:
        return _DELTA_NAMES[key]
    try:
        value = float(key)
    except ValueError:
        raise UsageError(f"--delta must be a number >= 0 (0 Pocock, 0.5 O'Brien-Fleming); got {text!r}") from None
    if not np.isfinite(value) or value < 0:
        raise UsageError(f"--delta must be a finite number >= 0; got {text!r}")
    return value


def _parse_prior(text: str) -> tuple[float, float]:
    parts = text.split(",")
    try:
        a, b = (float(v) for v in parts)
    except ValueError:
        raise UsageError(f"--bayes must be A,B (two positive numbers, e.g. 0.6,1.4); got {text!r}") from None
    if not (a > 0 and b > 0 and np.isfinite(a) and np.isfinite(b)):
        raise UsageError(f"--bayes prior parameters must be positive; got {text!r}")
    return a, b


def _design_from_args(args: argparse.Namespace) -> dict[str, Any]:
    if args.n_max < 1:
        raise UsageError(f"--n-max must be at least 1; got {args.n_max}")
    if not (0 < args.p0 < 1):
        raise UsageError(f"--p0 must be strictly between 0 and 1; got {args.p0}")
    if args.p1 is not None and not (args.p0 < args.p1 < 1):
        raise UsageError(f"--p1 must be greater than --p0 ({args.p0}) and below 1; got {args.p1}")
    if args.steps < 2 and args.p1 is not None:
        raise UsageError(f"--steps must be at least 2; got {args.steps}")
    kw: dict[str, Any] = {"n_max": args.n_max, "p0": args.p0, "p1": args.p1}
    if args.looks is not None:
        kw["looks"] = _parse_looks(args.looks, args.n_max)
    if args.bayes is not None:
        if args.cp0 is not None or args.delta is not None:
            raise UsageError("--cp0 and --delta apply to the frequentist design only; drop them with --bayes")
        threshold = 0.90 if args.threshold is None else args.threshold
        if not (0 < threshold < 1):
            raise UsageError(f"--threshold must be strictly between 0 and 1; got {threshold}")
        kw.update(method=BAYESIAN, prior=_parse_prior(args.bayes), threshold=threshold)
    else:
        if args.threshold is not None:
            raise UsageError("--threshold needs --bayes A,B (it is the Bayesian posterior threshold)")
        cp0 = 0.10 if args.cp0 is None else args.cp0
        if not (0 < cp0 < 1):
            raise UsageError(f"--cp0 must be strictly between 0 and 1; got {cp0}")
        kw.update(method=FREQUENTIST, cp0=cp0, delta=0.0 if args.delta is None else _parse_delta(args.delta))
    return kw


def format_csv(result: BoundaryResult) -> str:
    lines = ["n,boundary"]
    for n, b in zip(result.table["n"].tolist(), result.table["boundary"].tolist()):
        lines.append(f"{int(n)},{'' if pd.isna(b) else int(b)}")
    return "\n".join(lines) + "\n"


def _runs(result: BoundaryResult) -> list[tuple[int, int, int | None]]:
    """Consecutive looks sharing a boundary: (first n, last n, boundary or None)."""
    out: list[tuple[int, int, int | None]] = []
    for n, b in zip(result.looks.tolist(), result.table["boundary"].tolist()):
        value = None if pd.isna(b) else int(b)
        if out and out[-1][2] == value:
            out[-1] = (out[-1][0], n, value)
        else:
            out.append((n, n, value))
    return out


def format_report(result: BoundaryResult, steps: int = 6) -> str:
    s = result.summary
    lines: list[str] = []
    if s["kind"] == FREQUENTIST:
        lines.append(
            f"Stopping boundary: {s['design']} (delta = {s['delta']:g}), N = {s['n_max']}, "
            f"p0 = {s['p0']:g}" + (f", p1 = {s['p1']:g}" if s["p1"] is not None else "") + f", cP0 = {s['cp0']:g}"
        )
        if s["alpha"] > 0:
            lines.append(
                f"Nominal alpha found: {s['alpha']:.6g} (exact search; every alpha from it up to, not "
                f"including, {s['alpha_next']:.6g} gives this boundary; at {s['alpha_next']:.6g} "
                f"P(cross | p0) would exceed cP0)"
            )
        else:
            lines.append("No boundary in the family keeps P(cross | p0) <= cP0: the design never stops.")
    else:
        lines.append(f"Stopping boundary: {s['design']}, N = {s['n_max']}, p0 = {s['p0']:g}"
                     + (f", p1 = {s['p1']:g}" if s["p1"] is not None else ""))
        lines.append("Stop when P(p > p0 | data) > threshold (exact incomplete beta).")
    lines.append(f"P(cross | p0 = {s['p0']:g}) = {s['p_cross_p0']:.4f}"
                 + (f";  P(cross | p1 = {s['p1']:g}) = {s['p_cross_p1']:.4f}" if s["p1"] is not None else ""))
    lines.append("")
    lines.append("Stop when the number of patients with a qualifying event reaches:")
    lines.append(f"  {'patients (n)':<14}{'stop at >=':>10}  {'max acceptable':>14}")
    for first, last, b in _runs(result):
        span = f"{first}" if first == last else f"{first}-{last}"
        if b is None:
            lines.append(f"  {span:<14}{'(none)':>10}  {'all':>14}")
        else:
            lines.append(f"  {span:<14}{b:>10}  {b - 1:>14}")
    oc = compute_operating_characteristics(result, n_grid=steps).table
    lines.append("")
    lines.append("Operating characteristics (exact recursion):")
    lines.append(f"  {'p':>6}  {'P(cross)':>9}  {'P(stop early)':>13}  {'E[N]':>7}")
    for row in oc.itertuples(index=False):
        lines.append(f"  {row.p:>6.3f}  {row.p_cross:>9.4f}  {row.p_stop_early:>13.4f}  {row.expected_n:>7.2f}")
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    """Compute and print the boundary; 0 on success, 2 on invalid arguments."""
    try:
        design = _design_from_args(args)
        result = compute_boundary(**design)
    except (UsageError, ValueError) as exc:
        print(f"toxdb boundary: error: {exc}", file=sys.stderr)
        return 2
    if args.csv:
        sys.stdout.write(format_csv(result))
    else:
        sys.stdout.write(format_report(result, steps=args.steps))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """A standalone parser (the project CLI registers the subcommand through :func:`register`)."""
    parser = argparse.ArgumentParser(prog="toxdb")
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Standalone entry: ``python -m toxdb.cli_boundary [boundary] --n-max ...``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] != "boundary":
        argv = ["boundary", *argv]
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
