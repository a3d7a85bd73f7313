"""Aalen-Johansen cumulative incidence of the first qualifying event, with competing events, and
numbers at risk (docs/monitoring.md). Pure functions: DataFrame in, result object out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

VARIANCE_METHOD = (
    "delta-method (Greenwood-type) variance of the Aalen-Johansen estimate, event counts "
    "multinomial given the risk set (Dinse & Larson 1986; Marubini & Valsecchi 1995)"
)
INTERVAL_METHOD = (
    "pointwise log(-log) transformed interval: CIF^exp(+/- z*se/(CIF*log CIF)); "
    "0 where CIF = 0"
)



@dataclass(frozen=True)
class CumulativeIncidenceResult:
    """``table``: one row per distinct observed time (see :func:`compute_cumulative_incidence`)."""

    table: pd.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)





def _check_time_status(data: pd.DataFrame, time_col: str, status_col: str) -> tuple[np.ndarray, np.ndarray]:
    for col in (time_col, status_col):
        if col not in data.columns:
            raise ValueError(f"cumulative incidence data needs a {col!r} column")
    t = pd.to_numeric(data[time_col], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    st = pd.to_numeric(data[status_col], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    if np.any(~np.isfinite(t)) or np.any(t < 0):
        raise ValueError(f"{time_col!r} must be finite and >= 0 for every patient")
    if np.any(~np.isin(st, [0, 1, 2])):
        raise ValueError(f"{status_col!r} must be 0 (censored), 1 (event) or 2 (competing event)")
    return t, st.astype(np.int64)


def compute_number_at_risk(
    data: pd.DataFrame, times: Sequence[float], time_col: str = "time"
) -> pd.DataFrame:
    """Number at risk at each of ``times``: patients with follow-up time >= t."""
    t = np.sort(pd.to_numeric(data[time_col], errors="coerce").to_numpy(dtype=float, na_value=np.nan))
    q = np.asarray(list(times), dtype=float)
    at_risk = t.size - np.searchsorted(t, q, side="left")
    return pd.DataFrame({"time": q, "n_at_risk": at_risk.astype(np.int64)})


def _aj_variance(cif: np.ndarray, s_before: np.ndarray, d1: np.ndarray, d: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The delta-method variance of the Aalen-Johansen estimate (formula in
    :func:`compute_cumulative_incidence`), via cumulative sums of the expanded square: O(J), not O(J^2)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(y > d, d / (y * (y - d)), 0.0)
    a_ = np.cumsum(w)
    b_ = np.cumsum(w * cif)
    c_ = np.cumsum(w * cif**2)
    d_ = np.cumsum(s_before**2 * d1 * (y - d1) / y**3)
    e_ = np.cumsum(s_before * d1 / y**2)
    g_ = np.cumsum(s_before * d1 * cif / y**2)
    var = cif**2 * a_ - 2 * cif * b_ + c_ + d_ - 2 * (cif * e_ - g_)
    return np.maximum(var, 0.0)


def _loglog_interval(cif: np.ndarray, se: np.ndarray, conf_level: float) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise log(-log) interval ``CIF^exp(+/- z se / (CIF log CIF))``; the estimate itself at 0 and 1."""
    z = stats.norm.ppf(0.5 + conf_level / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        inner = (cif > 0) & (cif < 1)
        logf = np.where(inner, np.log(np.where(inner, cif, 0.5)), np.nan)
        scale = np.where(inner, z * se / (cif * logf), 0.0)  # negative (log F < 0)
        lower = np.where(inner, cif ** np.exp(-scale), cif)
        upper = np.where(inner, cif ** np.exp(scale), cif)
    return lower, upper


def compute_cumulative_incidence(
    data: pd.DataFrame,
    time_col: str = "time",
    status_col: str = "status",
    conf_level: float = 0.95,
) -> CumulativeIncidenceResult:
    """Aalen-Johansen cumulative incidence of the first qualifying event with a competing event.

    ``data``: one row per patient, ``time`` (days from first treatment, >= 0) and ``status``
    (0 censored, 1 qualifying event, 2 competing event: death, recurrence, permanent
    discontinuation).  At each distinct time t: risk set Y = #{time >= t} (a patient censored on
    day t is still at risk for events on day t); events of both kinds at t share that risk set::

        CIF(t)     = CIF(t-)     + S(t-) * d1/Y
        CIF_2(t)   = CIF_2(t-)   + S(t-) * d2/Y
        S(t)       = S(t-) * (1 - (d1 + d2)/Y)          (event-free, overall Kaplan-Meier)

    so ``cif + cif_competing + survival = 1`` exactly; all steps are right-continuous.

    Variance: the delta-method (Greenwood-type) variance, treating (d1, d2) at each time as
    multinomial given Y::

        Var CIF(t) = sum_{t_j <= t} [ (CIF(t) - CIF(t_j))^2 d_j / (Y_j (Y_j - d_j))
                                      + S(t_j-)^2 d1_j (Y_j - d1_j) / Y_j^3
                                      - 2 (CIF(t) - CIF(t_j)) S(t_j-) d1_j / Y_j^2 ]

    (a term with Y_j = d_j contributes its first part as 0, since then CIF(t) = CIF(t_j)).
    Interval: pointwise log(-log) transform, ``CIF^exp(+/- z se / (CIF log CIF))``; 0 where
    CIF = 0.  ``one_minus_km`` is 1 - Kaplan-Meier treating competing events as censored, a
    labelled comparison only (it over-states incidence when events compete).

    Table columns: time, n_at_risk, n_event, n_competing, n_censored, cif, cif_competing,
    survival, variance, std_error, lower, upper, one_minus_km.
    """
    if not (0 < conf_level < 1):
        raise ValueError(f"conf_level must be strictly between 0 and 1, got {conf_level!r}")
    t, st = _check_time_status(data, time_col, status_col)
    times = np.unique(t)
    idx = np.searchsorted(times, t)
    d1 = np.bincount(idx[st == 1], minlength=times.size).astype(float)
    d2 = np.bincount(idx[st == 2], minlength=times.size).astype(float)
    c = np.bincount(idx[st == 0], minlength=times.size).astype(float)
    leaving = np.bincount(idx, minlength=times.size)
    y = (t.size - np.concatenate([[0], np.cumsum(leaving)])[:-1]).astype(float)
    d = d1 + d2

    s_after = np.cumprod(1.0 - d / y)
    s_before = np.concatenate([[1.0], s_after])[:-1]
    cif = np.cumsum(s_before * d1 / y)
    cif2 = np.cumsum(s_before * d2 / y)
    km_event = np.cumprod(1.0 - d1 / y)

    var = _aj_variance(cif, s_before, d1, d, y)
    se = np.sqrt(var)
    lower, upper = _loglog_interval(cif, se, conf_level)
    table = pd.DataFrame(
        {
            "time": times,
            "n_at_risk": y.astype(np.int64),
            "n_event": d1.astype(np.int64),
            "n_competing": d2.astype(np.int64),
            "n_censored": c.astype(np.int64),
            "cif": cif,
            "cif_competing": cif2,
            "survival": s_after,
            "variance": var,
            "std_error": se,
            "lower": lower,
            "upper": upper,
            "one_minus_km": 1.0 - km_event,
        }
    )
    summary = {
        "n": int(t.size),
        "n_event": int(d1.sum()),
        "n_competing": int(d2.sum()),
        "n_censored": int(c.sum()),
        "estimator": "Aalen-Johansen",
        "variance_method": VARIANCE_METHOD,
        "interval_method": INTERVAL_METHOD,
        "conf_level": conf_level,
        "final_cif": float(cif[-1]) if cif.size else 0.0,
        "final_one_minus_km": float(1 - km_event[-1]) if cif.size else 0.0,
        "comparison": "one_minus_km = 1 - Kaplan-Meier with competing events censored (over-states incidence)",
    }
    return CumulativeIncidenceResult(table=table, summary=summary)
