"""Safety monitoring: stopping boundaries, operating characteristics, cumulative incidence.

Pure functions (DataFrame / numbers in, result objects out); no I/O, no streamlit, no duckdb.
The statistics are written up in docs/monitoring.md. Contents:

* Frequentist boundary family of Ivanova, Qaqish & Schell (2005)::

      alpha_n = Phi( Phi^-1(alpha) / (n/N)^delta )
      b_n     = smallest b with P(X_n >= b | p0) <= alpha_n      (P(X >= b) = binom.sf(b - 1))

  ``delta = 0`` is Pocock-type, ``delta = 0.5`` O'Brien-Fleming-type.  The nominal ``alpha`` is
  calibrated *exactly* (see :func:`compute_boundary`).
* Bayesian beta-binomial rule (Geller et al. 2003): ``b_n`` = smallest ``x`` with
  ``P(p > p0 | x of n) > threshold`` (strict) under a Beta(a, b) prior.
* Operating characteristics by exact forward recursion over the count distribution of the paths
  not yet stopped (:func:`compute_operating_characteristics`).
* The observed path of the trial against the boundary (:func:`compute_observed_path`).
* Aalen-Johansen cumulative incidence of the first qualifying event with competing events
  (:func:`compute_cumulative_incidence`).

Conventions: a boundary is stored as the *smallest count that stops* at a look (``boundary``,
pandas ``Int64``); ``<NA>`` means stopping is impossible at that look (``b_n > n``).  The maximum
acceptable count (clinfun's convention) is ``boundary - 1``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from toxdb.i18n import N_, _

__all__ = [
    "FREQUENTIST",
    "BAYESIAN",
    "BoundaryResult",
    "OperatingCharacteristicsResult",
    "ObservedPathResult",
    "compute_alpha_n",
    "compute_frequentist_stop_counts",
    "compute_bayesian_stop_counts",
    "compute_posterior_probability",
    "compute_crossing_by_look",
    "compute_boundary",
    "compute_operating_characteristics",
    "compute_observed_path",
]

FREQUENTIST = "frequentist"
BAYESIAN = "bayesian"


# --------------------------------------------------------------------------------------------
# result objects
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BoundaryResult:
    """A stopping boundary.

    ``table`` columns: ``n`` (look), ``boundary`` (Int64: smallest count of patients with a
    qualifying event among the first ``n`` that stops; ``<NA>`` when stopping is impossible),
    ``max_acceptable`` (``boundary - 1``, or ``n`` when stopping is impossible), and
    ``alpha_n`` (frequentist) or ``posterior_prob`` (Bayesian: P(p > p0 | boundary of n)).
    ``summary``: design facts (kind, p0, p1, cp0, delta, n_max, looks, alpha, crossing
    probabilities at p0 and p1, ...).
    """

    table: pd.DataFrame
    summary: dict[str, Any]

    @property
    def looks(self) -> np.ndarray:
        return self.table["n"].to_numpy(dtype=np.int64)

    @property
    def stop_counts(self) -> np.ndarray:
        """Integer array: the boundary with ``n + 1`` where stopping is impossible."""
        n = self.looks
        b = self.table["boundary"].to_numpy(dtype="float64", na_value=np.nan)
        return np.where(np.isnan(b), n + 1, b).astype(np.int64)


@dataclass(frozen=True)
class OperatingCharacteristicsResult:
    """``table``: p, p_cross, p_stop_early, expected_n (one row per true rate p)."""

    table: pd.DataFrame
    summary: dict[str, Any]


@dataclass(frozen=True)
class ObservedPathResult:
    """``table``: n, subject_id, start_date, event, x, boundary, crossed (one row per patient)."""

    table: pd.DataFrame
    summary: dict[str, Any]

# --------------------------------------------------------------------------------------------
# validation helpers
# --------------------------------------------------------------------------------------------


def _check_probability(name: str, value: float) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number strictly between 0 and 1, got {value!r}") from None
    if not (0.0 < v < 1.0):
        raise ValueError(f"{name} must be strictly between 0 and 1, got {value!r}")
    return v


def _check_n_max(n_max: int) -> int:
    if isinstance(n_max, bool) or int(n_max) != n_max or int(n_max) < 1:
        raise ValueError(f"n_max must be a positive whole number, got {n_max!r}")
    return int(n_max)


def _check_looks(looks: Sequence[int] | None, n_max: int) -> np.ndarray:
    if looks is None:
        return np.arange(1, n_max + 1, dtype=np.int64)
    arr = np.asarray(list(looks))
    if arr.size == 0:
        raise ValueError("looks must contain at least one patient count")
    if not np.all(np.equal(np.mod(arr, 1), 0)):
        raise ValueError(f"looks must be whole numbers, got {list(looks)!r}")
    arr = arr.astype(np.int64)
    if arr[0] < 1 or arr[-1] > n_max:
        raise ValueError(f"looks must lie between 1 and n_max={n_max}, got {arr[0]}..{arr[-1]}")
    if np.any(np.diff(arr) <= 0):
        raise ValueError("looks must be strictly increasing")
    return arr


def _check_delta(delta: float) -> float:
    d = float(delta)
    if not math.isfinite(d) or d < 0:
        raise ValueError(f"delta must be a finite number >= 0 (0 Pocock, 0.5 O'Brien-Fleming), got {delta!r}")
    return d


# --------------------------------------------------------------------------------------------
# boundaries
# --------------------------------------------------------------------------------------------


def compute_alpha_n(alpha: float, looks: Sequence[int], n_max: int, delta: float) -> np.ndarray:
    """Nominal level at each look: ``Phi(Phi^-1(alpha) / (n/N)^delta)``."""
    n = np.asarray(looks, dtype=float)
    z = stats.norm.ppf(alpha)
    return stats.norm.cdf(z / (n / n_max) ** delta)


def compute_frequentist_stop_counts(
    alpha: float, looks: Sequence[int], n_max: int, p0: float, delta: float
) -> np.ndarray:
    """Literal definition: smallest b with ``P(X_n >= b | p0) = binom.sf(b - 1, n, p0) <= alpha_n``.

    Returns an int array; ``n + 1`` where no b <= n qualifies (stopping impossible at that look).
    """
    looks = np.asarray(looks, dtype=np.int64)
    alpha_n = compute_alpha_n(alpha, looks, n_max, delta)
    b = np.arange(0, int(looks.max()) + 2)  # candidate b = 0 .. max(n) + 1
    tail = stats.binom.sf(b[None, :] - 1, looks[:, None], p0)  # P(X_n >= b); 0 for b > n
    ok = tail <= alpha_n[:, None]
    return np.argmax(ok, axis=1).astype(np.int64)  # b = n + 1 always qualifies (tail 0)


def compute_posterior_probability(x: Any, n: Any, p0: float, prior: tuple[float, float]) -> np.ndarray:
    """``P(p > p0 | x of n)`` under a Beta(a, b) prior: posterior Beta(a + x, b + n - x).

    Exact regularised incomplete beta (``scipy.stats.beta.sf``), no approximation.
    """
    a, b = prior
    x = np.asarray(x, dtype=float)
    n = np.asarray(n, dtype=float)
    return stats.beta.sf(p0, a + x, b + n - x)


def compute_bayesian_stop_counts(
    looks: Sequence[int], p0: float, prior: tuple[float, float], threshold: float
) -> np.ndarray:
    """Smallest x with ``P(p > p0 | x of n) > threshold`` (strict); ``n + 1`` when none <= n."""
    looks = np.asarray(looks, dtype=np.int64)
    x = np.arange(0, int(looks.max()) + 1)
    n = looks[:, None]
    post = compute_posterior_probability(x[None, :], n, p0, prior)
    ok = (post > threshold) & (x[None, :] <= n)
    first = np.argmax(ok, axis=1)
    return np.where(ok.any(axis=1), first, looks + 1).astype(np.int64)


def compute_crossing_by_look(
    looks: Sequence[int], stop_counts: Sequence[int], ps: Sequence[float] | float
) -> np.ndarray:
    """Probability of *first* crossing at each look, for each true rate p.

    Exact forward recursion: ``f`` holds P(X_n = x and not stopped before) for x = 0..n; between
    looks the count grows by Binomial(n_k - n_{k-1}, p); at a look the mass at x >= b_k is the
    crossing probability there and is removed.  Returns an array of shape (len(ps), len(looks)).
    """
    looks = np.asarray(looks, dtype=np.int64)
    stop = np.asarray(stop_counts, dtype=np.int64)
    p = np.atleast_1d(np.asarray(ps, dtype=float))[:, None]
    q = 1.0 - p
    width = int(looks[-1]) + 1
    f = np.zeros((p.shape[0], width))
    f[:, 0] = 1.0
    out = np.empty((p.shape[0], looks.size))
    prev = 0
    for k in range(looks.size):
        n = int(looks[k])
        d = n - prev
        if d == 1:
            new = f * q
            new[:, 1 : n + 1] += f[:, :n] * p
        else:
            pmf = stats.binom.pmf(np.arange(d + 1)[None, :], d, p)  # (P, d+1)
            new = np.zeros_like(f)
            for j in range(d + 1):
                new[:, j : prev + j + 1] += f[:, : prev + 1] * pmf[:, j : j + 1]
        b = int(stop[k])
        out[:, k] = new[:, b:].sum(axis=1)
        new[:, b:] = 0.0
        f = new
        prev = n
    return out


def _crossing_probability(looks: np.ndarray, stop: np.ndarray, p: float) -> float:
    return float(compute_crossing_by_look(looks, stop, [p]).sum())


def _calibrate_frequentist(
    looks: np.ndarray, n_max: int, p0: float, delta: float, cp0: float
) -> tuple[np.ndarray, float, float, float]:
    """Exact calibration of the nominal alpha.

    In z = Phi^-1(alpha) the condition ``P(X_n >= b | p0) <= alpha_n`` reads
    ``key(n, b) := Phi^-1(P(X_n >= b | p0)) * (n/N)^delta <= z``, so ``b_n(z) = 1 + #{b in 1..n:
    key(n, b) > z}``: every boundary in the family is a step function of z that changes only at a
    key.  The overall crossing probability at p0 is non-decreasing in z, so a bisection over the
    sorted distinct keys (log2 of their number of evaluations, no iteration cap) finds the largest
    key whose boundary keeps the crossing probability <= cp0.

    Returns (stop counts, alpha (= Phi(key)), alpha_next (the next breakpoint, at which the
    crossing probability first exceeds cp0; 1.0 if none), crossing probability at p0).
    """
    max_n = int(looks[-1])
    b = np.arange(1, max_n + 1)
    tail = stats.binom.sf(b[None, :] - 1, looks[:, None], p0)
    with np.errstate(divide="ignore"):
        keys = stats.norm.ppf(tail) * ((looks[:, None] / n_max) ** delta)
    keys = np.where(b[None, :] <= looks[:, None], keys, -np.inf)  # b > n: always satisfied
    candidates = np.unique(keys[np.isfinite(keys)])

    def stop_at(z: float) -> np.ndarray:
        return 1 + (keys > z).sum(axis=1)

    lo, hi = -1, candidates.size  # invariant: C(candidates[lo]) <= cp0 < C(candidates[hi])
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _crossing_probability(looks, stop_at(candidates[mid]), p0) <= cp0:
            lo = mid
        else:
            hi = mid
    if lo < 0:  # even the strictest boundary in the family crosses too often: never stop
        stop = looks + 1
        return stop, 0.0, float(stats.norm.cdf(candidates[0])) if candidates.size else 1.0, 0.0
    z = float(candidates[lo])
    stop = stop_at(z)
    alpha_next = float(stats.norm.cdf(candidates[hi])) if hi < candidates.size else 1.0
    # Report an alpha that reproduces the boundary through the literal definition (guards the
    # last-bit round trip Phi(Phi^-1(t)) at the breakpoint itself).
    alpha = float(stats.norm.cdf(z))
    for _ in range(64):
        if np.array_equal(compute_frequentist_stop_counts(alpha, looks, n_max, p0, delta), stop):
            break
        alpha = float(np.nextafter(alpha, 1.0))
    return stop, alpha, alpha_next, _crossing_probability(looks, stop, p0)


def _frequentist_design(look_arr: np.ndarray, n_max: int, p0: float, cp0: float, delta: float,
                        summary: dict[str, Any]) -> tuple[np.ndarray, float, dict[str, np.ndarray]]:
    """(stop counts, crossing probability at p0, extra table columns) of the calibrated Ivanova
    family; the design's facts are added to ``summary``."""
    cp0 = _check_probability("cp0", cp0)
    delta = _check_delta(delta)
    stop, alpha, alpha_next, c0 = _calibrate_frequentist(look_arr, n_max, p0, delta, cp0)
    alpha_n = compute_alpha_n(alpha, look_arr, n_max, delta) if alpha > 0 else np.zeros(look_arr.size)
    summary.update(
        design=N_("Pocock-type") if delta == 0 else (N_("O'Brien-Fleming-type") if delta == 0.5 else f"delta={delta:g}"),
        delta=delta,
        cp0=cp0,
        alpha=alpha,
        alpha_next=alpha_next,
        calibration="exact: bisection over every breakpoint alpha; crossing probability at p0 <= cp0",
    )
    return stop, c0, {"alpha_n": alpha_n}


def _bayesian_design(look_arr: np.ndarray, p0: float, prior: tuple[float, float], threshold: float,
                     summary: dict[str, Any]) -> tuple[np.ndarray, float, dict[str, np.ndarray]]:
    """(stop counts, crossing probability at p0, extra table columns) of the beta-binomial rule."""
    a, b = (float(v) for v in prior)
    if not (a > 0 and b > 0 and math.isfinite(a) and math.isfinite(b)):
        raise ValueError(f"prior Beta(a, b) needs a > 0 and b > 0, got {prior!r}")
    threshold = _check_probability("threshold", threshold)
    stop = compute_bayesian_stop_counts(look_arr, p0, (a, b), threshold)
    post = np.where(stop <= look_arr, compute_posterior_probability(stop, look_arr, p0, (a, b)), np.nan)
    summary.update(
        design=f"Bayesian beta-binomial, Beta({a:g}, {b:g}) prior, threshold {threshold:g}",
        prior=(a, b),
        threshold=threshold,
        cp0=None,
        delta=None,
        alpha=None,
    )
    return stop, _crossing_probability(look_arr, stop, p0), {"posterior_prob": post}


def compute_boundary(
    n_max: int,
    p0: float,
    *,
    p1: float | None = None,
    cp0: float = 0.10,
    delta: float = 0.0,
    looks: Sequence[int] | None = None,
    method: str = FREQUENTIST,
    prior: tuple[float, float] = (0.6, 1.4),
    threshold: float = 0.90,
) -> BoundaryResult:
    """Stopping boundary for the number of patients with a qualifying toxicity.

    Frequentist (``method="frequentist"``): the Ivanova-Qaqish-Schell family with shape ``delta``,
    calibrated to the largest nominal alpha whose overall crossing probability at ``p0`` is
    ``<= cp0`` ("below cP0" read as "not above", D29).  The crossing probability is a step
    function of alpha, so the supremum is not attained: ``summary["alpha"]`` is the smallest
    alpha giving the chosen boundary (every alpha in ``[alpha, alpha_next)`` gives the same one)
    and ``summary["alpha_next"]`` is the breakpoint at which the crossing probability would
    exceed cp0.  The search is exact (see ``_calibrate_frequentist``).

    Bayesian (``method="bayesian"``): ``b_n`` = smallest x with ``P(p > p0 | x, n) > threshold``
    under a Beta(``prior``) prior; no calibration (``cp0`` and ``delta`` are ignored).

    ``looks`` is any strictly increasing list of patient counts within 1..n_max (default every
    patient).  ``N`` in ``(n/N)^delta`` is ``n_max``.
    """
    n_max = _check_n_max(n_max)
    p0 = _check_probability("p0", p0)
    if p1 is not None:
        p1 = _check_probability("p1", p1)
        if p1 <= p0:
            raise ValueError(f"p1 ({p1}) must be greater than p0 ({p0})")
    look_arr = _check_looks(looks, n_max)
    summary: dict[str, Any] = {
        "kind": method,
        "p0": p0,
        "p1": p1,
        "n_max": n_max,
        "looks": [int(v) for v in look_arr],
    }
    table = pd.DataFrame({"n": pd.array(look_arr, dtype="Int64")})
    if method == FREQUENTIST:
        stop, c0, extra = _frequentist_design(look_arr, n_max, p0, cp0, delta, summary)
    elif method == BAYESIAN:
        stop, c0, extra = _bayesian_design(look_arr, p0, prior, threshold, summary)
    else:
        raise ValueError(f"method must be {FREQUENTIST!r} or {BAYESIAN!r}, got {method!r}")

    possible = stop <= look_arr
    table["boundary"] = pd.array(np.where(possible, stop, 0), dtype="Int64")
    table.loc[~possible, "boundary"] = pd.NA
    table["max_acceptable"] = pd.array(np.minimum(stop - 1, look_arr), dtype="Int64")
    for name, values in extra.items():
        table[name] = np.asarray(values, dtype=float)
    summary["p_cross_p0"] = c0
    if p1 is not None:
        summary["p_cross_p1"] = _crossing_probability(look_arr, stop, p1)
    summary["first_possible_stop"] = (
        None if not possible.any() else {"n": int(look_arr[possible][0]), "events": int(stop[possible][0])}
    )
    return BoundaryResult(table=table, summary=summary)


# --------------------------------------------------------------------------------------------
# operating characteristics
# --------------------------------------------------------------------------------------------


def compute_operating_characteristics(
    boundary: BoundaryResult, ps: Sequence[float] | None = None, n_grid: int = 6
) -> OperatingCharacteristicsResult:
    """P(cross | p), P(stop before the last look | p) and E[patients enrolled | p].

    ``ps`` defaults to ``n_grid`` evenly spaced rates from p0 to p1 (p0 alone when p1 is unset).
    The expected number of patients counts a trial stopped at look n_k as n_k patients (patients
    between looks are enrolled up to the look) and a trial never stopped as ``n_max``.
    """
    s = boundary.summary
    if ps is None:
        ps = [s["p0"]] if s.get("p1") is None else np.linspace(s["p0"], s["p1"], n_grid)
    p = np.atleast_1d(np.asarray(ps, dtype=float))
    if p.size == 0 or np.any((p < 0) | (p > 1)) or not np.all(np.isfinite(p)):
        raise ValueError("ps must be probabilities in [0, 1]")
    looks = boundary.looks
    by_look = compute_crossing_by_look(looks, boundary.stop_counts, p)
    p_cross = by_look.sum(axis=1)
    p_stop_early = by_look[:, :-1].sum(axis=1)
    n_max = int(s["n_max"])
    expected_n = by_look @ looks.astype(float) + (1.0 - p_cross) * n_max
    table = pd.DataFrame({"p": p, "p_cross": p_cross, "p_stop_early": p_stop_early, "expected_n": expected_n})
    summary = {
        "kind": s["kind"],
        "design": s.get("design"),
        "n_max": n_max,
        "p0": s["p0"],
        "p1": s.get("p1"),
        "alpha": s.get("alpha"),
        "method": "exact forward recursion over counts of paths not yet stopped",
    }
    return OperatingCharacteristicsResult(table=table, summary=summary)


# --------------------------------------------------------------------------------------------
# observed path
# --------------------------------------------------------------------------------------------


def _boundary_lookup(boundary_table: Any) -> tuple[dict[int, int], int]:
    table = boundary_table.table if hasattr(boundary_table, "table") else boundary_table
    if not {"n", "boundary"} <= set(table.columns):
        raise ValueError("boundary table needs columns 'n' and 'boundary'")
    lookup: dict[int, int] = {}
    for n, b in zip(table["n"].tolist(), table["boundary"].tolist()):
        if b is not None and not pd.isna(b):
            lookup[int(n)] = int(b)
    n_max = int(boundary_table.summary["n_max"]) if hasattr(boundary_table, "summary") else int(table["n"].max())
    return lookup, n_max


def _events_to_cross(x: int, n: int, lookup: dict[int, int], n_max: int) -> tuple[int, int] | None:
    """(k, m): the fewest further events k that reach the boundary at some future look n + m with
    all k among the next m patients (k <= m), and the smallest such m.  None when impossible."""
    best: tuple[int, int] | None = None
    for look in range(n + 1, n_max + 1):
        b = lookup.get(look)
        if b is None:
            continue
        m = look - n
        k = max(b - x, 0)
        if k <= m and (best is None or k < best[0]):
            best = (k, m)
            if k == 0:
                break
    return best


def compute_observed_path(
    patients: pd.DataFrame, boundary_table: Any, n_max: int | None = None
) -> ObservedPathResult:
    """The trial's observed count X_n against the boundary.

    ``patients``: one row per evaluable patient with ``subject_id``, ``start_date`` (start of
    protocol treatment, or of the phase for a per-phase chart) and ``first_event_date`` (first
    qualifying grade >= 3 event up to the data cut, NaT if none; the caller applies the cut).
    Patients without a start date have not started and are left out (counted in the summary).
    Patients are ordered by start_date, ties broken by subject_id; ``x`` at row n is how many of
    the first n have had an event.  ``boundary`` is the stopping count at that n (``<NA>`` when
    n is not a look or stopping is impossible there); ``crossed`` is ``x >= boundary``.

    ``boundary_table`` is a :class:`BoundaryResult` or a DataFrame with ``n`` and ``boundary``;
    ``n_max`` defaults to the design's (or the table's largest n).

    Summary ``k_more`` / ``m_next``: with x events among the n patients so far, ``k_more`` is the
    fewest further events that would reach the boundary at a future look n + m <= n_max when all of
    them occur among the next m patients (so k <= m), and ``m_next`` is the smallest such m.
    Events that later occur among the n patients already treated also count towards X (follow-up
    continues); ``k_more_now`` is the number of such events that would reach the boundary at the
    current n (None when not possible or n is not a look).
    """
    needed = {"subject_id", "start_date", "first_event_date"}
    missing = needed - set(patients.columns)
    if missing:
        raise ValueError(f"patients is missing column(s): {', '.join(sorted(missing))}")
    lookup, design_n_max = _boundary_lookup(boundary_table)
    n_max = design_n_max if n_max is None else int(n_max)
    df = patients[["subject_id", "start_date", "first_event_date"]].copy()
    df["start_date"] = pd.to_datetime(df["start_date"])
    df["first_event_date"] = pd.to_datetime(df["first_event_date"])
    n_excluded = int(df["start_date"].isna().sum())
    df = df[df["start_date"].notna()]
    if df["subject_id"].duplicated().any():
        dup = df.loc[df["subject_id"].duplicated(), "subject_id"].astype(str).unique().tolist()
        raise ValueError(f"duplicate subject_id in patients: {', '.join(dup[:5])}")
    df = df.sort_values(["start_date", "subject_id"], kind="mergesort").reset_index(drop=True)
    n_pat = len(df)
    event = df["first_event_date"].notna().to_numpy()
    x = np.cumsum(event).astype(np.int64)
    ns = np.arange(1, n_pat + 1)
    bnd = pd.array([lookup.get(int(v)) for v in ns], dtype="Int64")
    crossed = (pd.Series(x) >= pd.Series(bnd)).fillna(False).astype(bool).to_numpy()
    table = pd.DataFrame(
        {
            "n": ns,
            "subject_id": df["subject_id"].to_numpy(),
            "start_date": df["start_date"],
            "event": event,
            "x": x,
            "boundary": bnd,
            "crossed": crossed,
        }
    )
    x_now = int(x[-1]) if n_pat else 0
    first = int(ns[crossed][0]) if crossed.any() else None
    nxt = None if first is not None or n_pat >= n_max else _events_to_cross(x_now, n_pat, lookup, n_max)
    k_now = None
    if n_pat in lookup and first is None and lookup[n_pat] - x_now <= n_pat - x_now:
        k_now = lookup[n_pat] - x_now
    summary: dict[str, Any] = {
        "n": n_pat,
        "x": x_now,
        "n_max": n_max,
        "n_excluded_no_start": n_excluded,
        "first_crossing_n": first,
        "first_crossing_x": int(x[first - 1]) if first is not None else None,
        "crossed": first is not None,
        "k_more": nxt[0] if nxt else None,
        "m_next": nxt[1] if nxt else None,
        "cross_at_n": n_pat + nxt[1] if nxt else None,
        "k_more_now": k_now,
    }
    summary["sentence"] = _path_sentence(summary)
    return ObservedPathResult(table=table, summary=summary)


def _path_sentence(s: dict[str, Any]) -> str:
    n, x = s["n"], s["x"]
    head = (_("{x} of {n} patients so far had a qualifying event").format(x=x, n=n) if n
            else _("No evaluable patients yet"))
    if s["crossed"]:
        return _("{head}; the stopping boundary was first crossed at patient {n} ({x} events).").format(
            head=head, n=s["first_crossing_n"], x=s["first_crossing_x"])
    if n >= s["n_max"]:
        return _("{head}; all {n} planned patients are in and the boundary was not crossed.").format(
            head=head, n=s["n_max"])
    if s["k_more"] is None:
        return _("{head}; no number of further events among the remaining patients would cross the "
                 "boundary.").format(head=head)
    k, m, at = s["k_more"], s["m_next"], s["cross_at_n"]
    if k == 0:
        return _("{head}; the look at patient {at} crosses the boundary even with no further events.").format(
            head=head, at=at)
    if m == 1:
        return _("{head}; {k} more among the next patient would cross (at patient {at}, {events} events).").format(
            head=head, k=k, at=at, events=x + k)
    return _("{head}; {k} more among the next {m} patients would cross (at patient {at}, {events} events).").format(
        head=head, k=k, m=m, at=at, events=x + k)


