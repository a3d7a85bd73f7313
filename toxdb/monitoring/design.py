"""The stopping design: which rule, which rates, which looks (the trial file's [monitoring] section
by default, an alternative for comparison), and its boundary and operating characteristics.

The statistics are in toxdb.monitoring.boundary (docs/monitoring.md); this module only configures
them and caches the calibration per design.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from toxdb.i18n import _
from toxdb.monitoring.boundary import (
    BAYESIAN,
    FREQUENTIST,
    BoundaryResult,
    OperatingCharacteristicsResult,
    compute_boundary,
    compute_operating_characteristics,
)

__all__ = ["MonitoringDesign", "compute_design", "compute_design_comparison"]


@dataclass(frozen=True)
class MonitoringDesign:
    """A stopping design: hashable, so it can key a cache.  ``from_trial`` gives the design of
    record (trial file ``[monitoring]``); ``replace(...)`` an alternative."""

    method: str = FREQUENTIST
    n_max: int = 66
    p0: float = 0.30
    p1: float = 0.45
    cp0: float = 0.10
    delta: float = 0.0
    first_look: int = 1
    prior_a: float = 0.6
    prior_b: float = 1.4
    threshold: float = 0.90

    @classmethod
    def from_trial(cls, trial: Any) -> MonitoringDesign:
        m = trial.monitoring
        return cls(method=FREQUENTIST, n_max=int(m.n_max), p0=float(m.p0), p1=float(m.p1), cp0=float(m.cp0),
                   delta=float(m.delta), first_look=int(m.first_look), prior_a=float(m.bayes_a),
                   prior_b=float(m.bayes_b), threshold=float(m.bayes_threshold))

    def replace(self, **changes: Any) -> MonitoringDesign:
        return dataclasses.replace(self, **changes)

    @property
    def looks(self) -> list[int]:
        return list(range(int(self.first_look), int(self.n_max) + 1))

    @property
    def label(self) -> str:
        if self.method == BAYESIAN:
            return _("Bayesian beta-binomial, Beta({a:g}, {b:g}) prior, stop when P(rate > {p0:.0%}) > "
                     "{threshold:.0%}").format(a=self.prior_a, b=self.prior_b, p0=self.p0, threshold=self.threshold)
        if self.delta == 0:
            shape = _("Pocock-type (δ = 0)")
        elif self.delta == 0.5:
            shape = _("O'Brien–Fleming-type (δ = 0.5)")
        else:
            shape = f"δ = {self.delta:g}"
        return _("Frequentist {shape}, P(cross | {p0:.0%}) ≤ {cp0:.0%}").format(shape=shape, p0=self.p0, cp0=self.cp0)


@lru_cache(maxsize=64)
def compute_design(design: MonitoringDesign) -> tuple[BoundaryResult, OperatingCharacteristicsResult]:
    """Boundary and operating characteristics (rates from p0 to p1 in 6 steps), computed exactly.
    Cached per design (the calibration is the only costly step)."""
    kwargs: dict[str, Any] = dict(p1=design.p1, looks=design.looks, method=design.method)
    if design.method == BAYESIAN:
        kwargs.update(prior=(design.prior_a, design.prior_b), threshold=design.threshold)
    else:
        kwargs.update(cp0=design.cp0, delta=design.delta)
    boundary = compute_boundary(design.n_max, design.p0, **kwargs)
    oc = compute_operating_characteristics(boundary)
    return boundary, oc


def compute_design_comparison(
    designs: dict[str, MonitoringDesign], ps: Any = None, n_grid: int = 6
) -> pd.DataFrame:
    """Operating characteristics of several designs on the same rates, one row per rate:
    ``p`` then ``<name>: P(cross)``, ``<name>: P(stop early)``, ``<name>: expected N``."""
    out: pd.DataFrame | None = None
    for name, design in designs.items():
        boundary, _ = compute_design(design)
        grid = ps if ps is not None else np.linspace(design.p0, design.p1, n_grid)
        oc = compute_operating_characteristics(boundary, ps=grid).table
        oc = oc.rename(columns={"p_cross": f"{name}: P(cross)", "p_stop_early": f"{name}: P(stop early)",
                                "expected_n": f"{name}: expected N"})
        out = oc if out is None else out.merge(oc, on="p", how="outer")
    return out if out is not None else pd.DataFrame({"p": []})
