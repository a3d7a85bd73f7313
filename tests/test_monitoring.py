"""Tests for toxdb.monitoring and toxdb.monitoring_plots.

Expected values come from the spec (clinfun reference), hand calculation written out here, or an
independent computation in this file (brute-force enumeration of toxicity sequences, numerical
integration, numerical differentiation), never from running the code under test.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import integrate, special, stats

from toxdb.monitoring.boundary import (
    BoundaryResult,
    compute_bayesian_stop_counts,
    compute_boundary,
    compute_crossing_by_look,
    compute_frequentist_stop_counts,
    compute_observed_path,
    compute_operating_characteristics,
)
from toxdb.monitoring.incidence import (
    compute_cumulative_incidence,
    compute_number_at_risk,
)
from toxdb.plots.monitoring import plot_boundary, plot_cumulative_incidence

FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ------------------------------------------------------------------------------------------
# independent helpers (brute force)
# ------------------------------------------------------------------------------------------


def brute_force_oc(n_max: int, looks: list[int], stop: list[int], p: float) -> tuple[float, float, float]:
    """Enumerate all 2**n_max toxicity sequences: (P(cross), P(stop before last look), E[N])."""
    p_cross = p_early = e_n = 0.0
    for seq in itertools.product((0, 1), repeat=n_max):
        k = sum(seq)
        w = p**k * (1 - p) ** (n_max - k)
        enrolled = n_max
        for i, (n, b) in enumerate(zip(looks, stop)):
            if sum(seq[:n]) >= b:
                p_cross += w
                p_early += w if i < len(looks) - 1 else 0.0
                enrolled = n
                break
        e_n += w * enrolled
    return p_cross, p_early, e_n


def manual_boundary(n_max: int, looks: list[int], stop: list[int], p0: float = 0.2) -> BoundaryResult:
    """A BoundaryResult written by hand (stop = n + 1 means no stop at that look)."""
    table = pd.DataFrame(
        {
            "n": looks,
            "boundary": pd.array([b if b <= n else None for n, b in zip(looks, stop)], dtype="Int64"),
        }
    )
    return BoundaryResult(table=table, summary={"kind": "manual", "n_max": n_max, "p0": p0, "p1": None})


# ------------------------------------------------------------------------------------------
# frequentist boundary
# ------------------------------------------------------------------------------------------

# clinfun::toxbdry(0.1, 0.3, 2:30): maximum acceptable counts 1/3 2/8 3/13 4/19 5/26 6/30, i.e.
# stop at 2 for n = 2..3, 3 for 4..8, 4 for 9..13, 5 for 14..19, 6 for 20..26, 7 for 27..30.
CLINFUN_STOP = [2] * 2 + [3] * 5 + [4] * 5 + [5] * 6 + [6] * 7 + [7] * 4


def test_clinfun_reference_boundary():
    r = compute_boundary(30, 0.1, p1=0.3, cp0=0.10, delta=0.0, looks=range(2, 31))
    assert r.table["n"].tolist() == list(range(2, 31))
    assert r.table["boundary"].tolist() == CLINFUN_STOP
    assert r.table["max_acceptable"].tolist() == [b - 1 for b in CLINFUN_STOP]
    assert r.summary["p_cross_p0"] == pytest.approx(0.097, abs=5e-4)
    assert r.summary["p_cross_p1"] == pytest.approx(0.898, abs=5e-4)
    assert r.summary["p_cross_p0"] <= 0.10


def test_clinfun_reference_operating_characteristics():
    r = compute_boundary(30, 0.1, p1=0.3, looks=range(2, 31))
    oc = compute_operating_characteristics(r, [0.1, 0.3]).table
    assert oc["p_cross"].tolist() == pytest.approx([0.097, 0.898], abs=5e-4)


@pytest.mark.parametrize(
    "n, p0, alpha, expected",
    [
        # n = 3, p0 = 0.1: P(X>=1) = 0.271, P(X>=2) = 3*0.01*0.9 + 0.001 = 0.028, P(X>=3) = 0.001
        (3, 0.1, 0.30, 1),
        (3, 0.1, 0.03, 2),
        (3, 0.1, 0.02, 3),
        (3, 0.1, 0.0005, 4),  # 4 = n + 1: stopping impossible
        # n = 1, p0 = 0.3: P(X>=1) = 0.3
        (1, 0.3, 0.31, 1),
        (1, 0.3, 0.29, 2),
    ],
)
def test_literal_boundary_off_by_one(n, p0, alpha, expected):
    assert compute_frequentist_stop_counts(alpha, [n], n, p0, 0.0).tolist() == [expected]


def test_alpha_n_obrien_fleming_shape():
    # delta = 0.5, N = 4, alpha = 0.05: alpha_1 = Phi(z_0.05 / sqrt(1/4)) = Phi(2 z_0.05) = Phi(-3.2897)
    from toxdb.monitoring.boundary import compute_alpha_n

    a = compute_alpha_n(0.05, [1, 4], 4, 0.5)
    assert a[0] == pytest.approx(0.000501, abs=2e-6)
    assert a[1] == pytest.approx(0.05)


def _independent_calibration(n_max, looks, p0, delta, cp0):
    """Brute force: every breakpoint alpha, boundary at the midpoints between them (literal
    definition with binom.sf), crossing by enumeration of sequences; keep the largest <= cp0."""
    cands = []
    for n in looks:
        for b in range(1, n + 1):
            tail = stats.binom.sf(b - 1, n, p0)
            cands.append(stats.norm.cdf(stats.norm.ppf(tail) * (n / n_max) ** delta))
    cands = np.unique(cands)
    probes = np.concatenate([[cands[0] / 2], (cands[:-1] + cands[1:]) / 2, [(cands[-1] + 1) / 2]])
    best = None
    for a in probes:
        z = stats.norm.ppf(a)
        stop = []
        for n in looks:
            an = stats.norm.cdf(z / (n / n_max) ** delta)
            stop.append(next(b for b in range(0, n + 2) if (stats.binom.sf(b - 1, n, p0) if b <= n else 0.0) <= an))
        if brute_force_oc(n_max, looks, stop, p0)[0] <= cp0:
            best = stop
    return best


@pytest.mark.parametrize(
    "n_max, looks, p0, delta, cp0",
    [
        (8, list(range(1, 9)), 0.2, 0.0, 0.10),
        (8, list(range(1, 9)), 0.2, 0.5, 0.10),
        (9, [3, 6, 9], 0.3, 0.0, 0.15),
        (9, [2, 4, 7, 9], 0.25, 0.5, 0.05),
        (10, list(range(2, 11)), 0.15, 0.25, 0.10),
    ],
)
def test_calibration_matches_brute_force(n_max, looks, p0, delta, cp0):
    expected = _independent_calibration(n_max, looks, p0, delta, cp0)
    r = compute_boundary(n_max, p0, cp0=cp0, delta=delta, looks=looks)
    assert r.stop_counts.tolist() == expected
    s = r.summary
    # the reported alpha reproduces the boundary by the literal definition ...
    assert compute_frequentist_stop_counts(s["alpha"], looks, n_max, p0, delta).tolist() == expected
    # ... and the next breakpoint crosses too often (so no larger alpha qualifies)
    if s["alpha_next"] < 1:
        nxt = compute_frequentist_stop_counts(s["alpha_next"] * (1 + 1e-9), looks, n_max, p0, delta)
        assert brute_force_oc(n_max, looks, nxt.tolist(), p0)[0] > cp0


def test_trial_default_design_is_valid():
    r = compute_boundary(66, 0.30, p1=0.45, cp0=0.10, delta=0.0)
    assert r.summary["p_cross_p0"] <= 0.10
    assert r.summary["alpha"] < r.summary["alpha_next"]
    assert r.table["boundary"].dtype == "Int64"
    assert r.table["boundary"].isna().sum() == 3  # 3 of 3 is not extreme enough at p0 = 0.3
    assert list(r.table.columns[:2]) == ["n", "boundary"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(n_max=0, p0=0.3), "n_max"),
        (dict(n_max=10, p0=1.2), "p0"),
        (dict(n_max=10, p0=0.3, p1=0.2), "p1"),
        (dict(n_max=10, p0=0.3, cp0=0.0), "cp0"),
        (dict(n_max=10, p0=0.3, delta=-1), "delta"),
        (dict(n_max=10, p0=0.3, looks=[3, 2]), "increasing"),
        (dict(n_max=10, p0=0.3, looks=[1, 11]), "between 1 and n_max"),
        (dict(n_max=10, p0=0.3, method="bayesian", prior=(0, 1)), "prior"),
        (dict(n_max=10, p0=0.3, method="magic"), "method"),
    ],
)
def test_invalid_design_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        compute_boundary(**kwargs)


# ------------------------------------------------------------------------------------------
# operating characteristics: brute force over all 2^n sequences
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "n_max, looks, stop",
    [
        (6, [1, 2, 3, 4, 5, 6], [7, 2, 3, 3, 4, 4]),  # stop = n + 1: no stop possible at n = 1
        (8, [1, 2, 3, 4, 5, 6, 7, 8], [2, 2, 3, 3, 3, 4, 4, 5]),
        (8, [2, 5, 8], [2, 3, 4]),  # sparse looks: patients between looks enrolled up to the look
        (10, [3, 7, 9], [3, 4, 5]),  # last look before N: never-stopped trials run to N
        (9, [4, 9], [10, 3]),
    ],
)
@pytest.mark.parametrize("p", [0.05, 0.3, 0.62])
def test_operating_characteristics_brute_force(n_max, looks, stop, p):
    exp_cross, exp_early, exp_n = brute_force_oc(n_max, looks, stop, p)
    res = compute_operating_characteristics(manual_boundary(n_max, looks, stop), [p])
    row = res.table.iloc[0]
    assert row["p_cross"] == pytest.approx(exp_cross, abs=1e-12)
    assert row["p_stop_early"] == pytest.approx(exp_early, abs=1e-12)
    assert row["expected_n"] == pytest.approx(exp_n, abs=1e-10)


def test_operating_characteristics_default_grid():
    r = compute_boundary(20, 0.2, p1=0.4)
    oc = compute_operating_characteristics(r)
    assert oc.table["p"].tolist() == pytest.approx([0.2, 0.24, 0.28, 0.32, 0.36, 0.4])
    assert oc.table["p_cross"].iloc[0] == pytest.approx(r.summary["p_cross_p0"])
    assert list(oc.table.columns) == ["p", "p_cross", "p_stop_early", "expected_n"]


def test_crossing_by_look_sums_to_at_most_one():
    by = compute_crossing_by_look([1, 2, 3], [1, 2, 3], [0.0, 1.0, 0.5])
    # p = 0: never; p = 1: first patient crosses; p = 0.5: 1/2 at look 1 then never more.
    assert by.tolist() == [[0, 0, 0], [1, 0, 0], [0.5, 0, 0]]


# ------------------------------------------------------------------------------------------
# Bayesian rule
# ------------------------------------------------------------------------------------------


def _posterior_by_quad(x, n, p0, a, b):
    """P(p > p0 | x of n) by integrating the Beta(a + x, b + n - x) density numerically."""
    aa, bb = a + x, b + n - x
    log_norm = special.gammaln(aa + bb) - special.gammaln(aa) - special.gammaln(bb)
    dens = lambda t: math.exp(log_norm + (aa - 1) * math.log(t) + (bb - 1) * math.log1p(-t))  # noqa: E731
    val, _ = integrate.quad(dens, p0, 1, epsabs=1e-13, epsrel=1e-12, limit=200)
    return val


@pytest.mark.parametrize("n, expected_stop", [(10, 6), (20, 9), (40, 16), (66, 25)])
def test_bayesian_boundary_trial_prior_against_quadrature(n, expected_stop):
    # expected_stop: the smallest x with quad-integrated posterior > 0.90 (verified below).
    post = [_posterior_by_quad(x, n, 0.30, 0.6, 1.4) for x in (expected_stop - 1, expected_stop)]
    assert post[0] <= 0.90 < post[1]
    got = compute_bayesian_stop_counts([n], 0.30, (0.6, 1.4), 0.90)
    assert got.tolist() == [expected_stop]


# Uniform prior Beta(1, 1), p0 = 0.3, threshold 0.9, by hand:
#   n=1, x=1: Beta(2,1): 1 - 0.3^2 = 0.91 > 0.9                      -> stop at 1
#   n=2, x=1: Beta(2,2): 1 - (3*0.09 - 2*0.027) = 0.784; x=2: 0.973   -> stop at 2
#   n=3, x=1: 0.6517; x=2: Beta(3,2): 1 - (4*0.027*0.7 + 0.0081) = 0.9163 -> stop at 2
@pytest.mark.parametrize("n, expected", [(1, 1), (2, 2), (3, 2)])
def test_bayesian_boundary_hand_worked(n, expected):
    assert compute_bayesian_stop_counts([n], 0.3, (1.0, 1.0), 0.9).tolist() == [expected]


@pytest.mark.parametrize("a, b", [(1, 1), (1, 3), (2, 5)])
def test_bayesian_integer_prior_matches_binomial_identity(a, b):
    # For integer shape parameters P(Beta(A, B) > p0) = P(Binomial(A + B - 1, p0) <= A - 1).
    looks = list(range(1, 41))
    expected = []
    for n in looks:
        xs = [x for x in range(n + 1) if stats.binom.cdf(a + x - 1, a + b + n - 1, 0.25) > 0.85]
        expected.append(xs[0] if xs else n + 1)
    assert compute_bayesian_stop_counts(looks, 0.25, (a, b), 0.85).tolist() == expected


def test_bayesian_threshold_is_strict():
    # threshold equal to the posterior of x = 1 of 1 -> x = 1 does not stop; just below it does.
    post = stats.beta.sf(0.5, 2.0, 1.0)
    assert compute_bayesian_stop_counts([1], 0.5, (1.0, 1.0), post).tolist() == [2]
    assert compute_bayesian_stop_counts([1], 0.5, (1.0, 1.0), np.nextafter(post, 0)).tolist() == [1]


def test_bayesian_compute_boundary_summary_and_table():
    r = compute_boundary(66, 0.30, p1=0.45, method="bayesian", prior=(0.6, 1.4), threshold=0.90)
    assert r.summary["kind"] == "bayesian"
    assert "posterior_prob" in r.table.columns
    row = r.table.set_index("n").loc[40]
    assert row["boundary"] == 16
    assert row["posterior_prob"] == pytest.approx(_posterior_by_quad(16, 40, 0.3, 0.6, 1.4), abs=1e-9)
    # no calibration: the posterior rule's crossing probability at p0 is simply reported
    oc = compute_operating_characteristics(r, [0.30]).table
    assert oc["p_cross"].iloc[0] == pytest.approx(r.summary["p_cross_p0"])


# ------------------------------------------------------------------------------------------
# properties
# ------------------------------------------------------------------------------------------


@FAST
@given(
    n_max=st.integers(2, 40),
    p0=st.floats(0.05, 0.6),
    cp0=st.floats(0.02, 0.3),
    bayes=st.booleans(),
)
def test_boundary_monotone_and_rises_at_most_one(n_max, p0, cp0, bayes):
    kw = dict(method="bayesian", prior=(0.6, 1.4), threshold=0.9) if bayes else dict(cp0=cp0, delta=0.0)
    stop = compute_boundary(n_max, p0, **kw).stop_counts  # n + 1 where no stop is possible
    d = np.diff(stop)
    assert np.all(d >= 0) and np.all(d <= 1)


@FAST
@given(n_max=st.integers(2, 40), p0=st.floats(0.05, 0.6), cp0=st.floats(0.02, 0.3), delta=st.floats(0, 1))
def test_boundary_rises_at_most_one_per_patient_any_delta(n_max, p0, cp0, delta):
    # (For delta > 0 the family itself can *fall*, e.g. N=56, p0=0.039, cp0=0.14, delta=0.5.)
    r = compute_boundary(n_max, p0, cp0=cp0, delta=delta)
    assert np.all(np.diff(r.stop_counts) <= 1)
    assert r.summary["p_cross_p0"] <= cp0


@FAST
@given(
    stop=st.lists(st.integers(1, 8), min_size=1, max_size=15),
    p=st.floats(0.0, 0.95),
    dp=st.floats(0.01, 0.05),
)
def test_crossing_probability_increasing_in_p(stop, p, dp):
    looks = list(range(1, len(stop) + 1))
    by = compute_crossing_by_look(looks, stop, [p, p + dp]).sum(axis=1)
    assert by[1] >= by[0] - 1e-12


# ------------------------------------------------------------------------------------------
# observed path
# ------------------------------------------------------------------------------------------

BOUNDARY_10 = pd.DataFrame(
    {"n": list(range(1, 11)), "boundary": pd.array([None, None, 3, 3, 4, 4, 4, 5, 5, 5], dtype="Int64")}
)


def _patients(events: list[bool], start: str = "2025-06-01") -> pd.DataFrame:
    n = len(events)
    return pd.DataFrame(
        {
            "subject_id": [f"P{i:02d}" for i in range(1, n + 1)],
            "start_date": pd.date_range(start, periods=n, freq="7D"),
            "first_event_date": [pd.Timestamp("2025-12-01") if e else pd.NaT for e in events],
        }
    )


def test_observed_path_k_more_among_next_m():
    # x = 2 of 4; n=5 needs 2 more among 1 (no); n=6 needs 4-2 = 2 among 2 (yes).
    res = compute_observed_path(_patients([True, False, True, False]), BOUNDARY_10)
    assert res.table["x"].tolist() == [1, 1, 2, 2]
    assert res.table["crossed"].tolist() == [False] * 4
    s = res.summary
    assert (s["n"], s["x"], s["first_crossing_n"], s["k_more"], s["m_next"], s["cross_at_n"]) == (4, 2, None, 2, 2, 6)
    assert s["k_more_now"] == 1  # b_4 = 3: one more event among the first 4 would cross now
    assert s["sentence"] == (
        "2 of 4 patients so far had a qualifying event; 2 more among the next 2 patients would cross "
        "(at patient 6, 4 events)."
    )


def test_observed_path_first_crossing_and_order():
    df = _patients([True, True, True, False, True])
    df = df.iloc[::-1].reset_index(drop=True)  # input order must not matter
    res = compute_observed_path(df, BOUNDARY_10)
    assert res.table["subject_id"].tolist() == ["P01", "P02", "P03", "P04", "P05"]
    assert res.table["x"].tolist() == [1, 2, 3, 3, 4]
    assert res.table["crossed"].tolist() == [False, False, True, True, True]
    assert res.summary["first_crossing_n"] == 3
    assert "first crossed at patient 3 (3 events)" in res.summary["sentence"]


def test_observed_path_ties_broken_by_subject_id():
    df = pd.DataFrame(
        {
            "subject_id": ["B", "A", "C"],
            "start_date": pd.to_datetime(["2025-06-01", "2025-06-01", "2025-05-01"]),
            "first_event_date": pd.to_datetime([pd.NaT, "2025-07-01", pd.NaT]),
        }
    )
    res = compute_observed_path(df, BOUNDARY_10)
    assert res.table["subject_id"].tolist() == ["C", "A", "B"]
    assert res.table["x"].tolist() == [0, 1, 1]


def test_observed_path_sparse_looks_zero_more_needed():
    table = pd.DataFrame({"n": [5, 10], "boundary": pd.array([2, 4], dtype="Int64")})
    res = compute_observed_path(_patients([True, True, False]), table, n_max=10)
    assert res.table["boundary"].isna().all()  # n = 1..3 are not looks
    assert (res.summary["k_more"], res.summary["m_next"]) == (0, 2)
    assert "look at patient 5 crosses the boundary even with no further events" in res.summary["sentence"]


@pytest.mark.parametrize(
    "events, table, fragment",
    [
        ([False] * 10, BOUNDARY_10, "all 10 planned patients are in"),
        ([False], pd.DataFrame({"n": [1, 2], "boundary": pd.array([None, None], dtype="Int64")}),
         "no number of further events"),
        ([], BOUNDARY_10, "No evaluable patients yet; 3 more among the next 3 patients would cross"),
    ],
)
def test_observed_path_sentences(events, table, fragment):
    assert fragment in compute_observed_path(_patients(events), table).summary["sentence"]


def test_observed_path_excludes_not_started_and_rejects_duplicates():
    df = _patients([True, False])
    df.loc[1, "start_date"] = pd.NaT
    res = compute_observed_path(df, BOUNDARY_10)
    assert res.summary["n"] == 1 and res.summary["n_excluded_no_start"] == 1
    with pytest.raises(ValueError, match="duplicate"):
        compute_observed_path(pd.concat([_patients([True]), _patients([False])]), BOUNDARY_10)
    with pytest.raises(ValueError, match="first_event_date"):
        compute_observed_path(_patients([True]).drop(columns="first_event_date"), BOUNDARY_10)


# ------------------------------------------------------------------------------------------
# cumulative incidence: hand-worked example
# ------------------------------------------------------------------------------------------

# 10 patients (days, status: 0 censored, 1 grade>=3 event, 2 competing event).
HAND = pd.DataFrame(
    {
        "time": [2, 4, 4, 5, 6, 6, 8, 9, 10, 10],
        "status": [1, 1, 0, 2, 1, 2, 0, 1, 0, 2],
    }
)
# By hand (risk set Y = #time >= t; the patient censored on day 4 is at risk on day 4):
#  t   Y  d1 d2 c   S(t-)   CIF                         CIF2                    S(t)
#  2  10  1  0  0   1       1/10                        0                       9/10
#  4   9  1  0  1   9/10    1/10 + (9/10)/9 = 1/5       0                       4/5
#  5   7  0  1  0   4/5     1/5                         (4/5)/7 = 4/35          24/35
#  6   6  1  1  0   24/35   1/5 + 4/35 = 11/35          4/35 + 4/35 = 8/35      16/35
#  8   4  0  0  1   16/35   11/35                       8/35                    16/35
#  9   3  1  0  0   16/35   11/35 + 16/105 = 7/15       8/35                    32/105
# 10   2  0  1  1   32/105  7/15                        8/35 + 16/105 = 8/21    16/105
# 1 - KM (competing censored): 1/10, 1/5, 1/5, 1/3, 1/3, 5/9, 5/9.
HAND_EXPECTED = pd.DataFrame(
    {
        "time": [2.0, 4, 5, 6, 8, 9, 10],
        "n_at_risk": [10, 9, 7, 6, 4, 3, 2],
        "n_event": [1, 1, 0, 1, 0, 1, 0],
        "n_competing": [0, 0, 1, 1, 0, 0, 1],
        "n_censored": [0, 1, 0, 0, 1, 0, 1],
        "cif": [1 / 10, 1 / 5, 1 / 5, 11 / 35, 11 / 35, 7 / 15, 7 / 15],
        "cif_competing": [0, 0, 4 / 35, 8 / 35, 8 / 35, 8 / 35, 8 / 21],
        "survival": [9 / 10, 4 / 5, 24 / 35, 16 / 35, 16 / 35, 32 / 105, 16 / 105],
        "one_minus_km": [1 / 10, 1 / 5, 1 / 5, 1 / 3, 1 / 3, 5 / 9, 5 / 9],
    }
)


def test_aalen_johansen_hand_worked():
    res = compute_cumulative_incidence(HAND)
    got = res.table[HAND_EXPECTED.columns]
    pd.testing.assert_frame_equal(got, HAND_EXPECTED, check_dtype=False, atol=1e-12)
    assert res.summary["n_event"] == 4 and res.summary["n_competing"] == 3 and res.summary["n_censored"] == 3
    assert "delta-method" in res.summary["variance_method"]
    assert "log(-log)" in res.summary["interval_method"]


def test_aalen_johansen_variance_hand_worked():
    v = compute_cumulative_incidence(HAND).table["variance"].tolist()
    # t = 2: S^2 d1 (Y - d1) / Y^3 = 9/1000 (the binomial variance 0.1 * 0.9 / 10)
    assert v[0] == pytest.approx(0.009, abs=1e-15)
    # t = 4 (no competing events yet, equals Greenwood for 1 - KM): 0.8^2 (1/90 + 1/72) = 0.016
    #   j=1: 0.1^2/90 + 0.009 - 2*0.1*1/100 ; j=2: 0.9^2 * 8/729
    assert v[1] == pytest.approx(0.01 / 90 + 0.009 - 0.002 + 0.81 * 8 / 729, abs=1e-15)
    assert v[1] == pytest.approx(0.016, abs=1e-15)


def test_aalen_johansen_interval_hand_worked():
    row = compute_cumulative_incidence(HAND).table.iloc[0]
    f, se, z = 0.1, math.sqrt(0.009), stats.norm.ppf(0.975)
    s = z * se / (f * math.log(f))
    assert row["lower"] == pytest.approx(f ** math.exp(-s), rel=1e-12)  # ~0.00573
    assert row["upper"] == pytest.approx(f ** math.exp(s), rel=1e-12)  # ~0.358
    assert 0.0057 < row["lower"] < 0.0058 and 0.357 < row["upper"] < 0.359


def _aj_final_cif(h1, h2):
    s, f = 1.0, 0.0
    for a, b in zip(h1, h2):
        f += s * a
        s *= 1 - a - b
    return f


def test_aalen_johansen_variance_by_numerical_delta_method():
    # Independent: numerical gradient of the final CIF w.r.t. the hazards, multinomial covariance.
    y = np.array([10, 9, 7, 6, 4, 3, 2], float)
    d1 = np.array([1, 1, 0, 1, 0, 1, 0], float)
    d2 = np.array([0, 0, 1, 1, 0, 0, 1], float)
    h1, h2 = d1 / y, d2 / y
    eps, var = 1e-7, 0.0
    for j in range(y.size):
        g = np.zeros(2)
        for k in range(2):
            plus, minus = [h1.copy(), h2.copy()], [h1.copy(), h2.copy()]
            plus[k][j] += eps
            minus[k][j] -= eps
            g[k] = (_aj_final_cif(*plus) - _aj_final_cif(*minus)) / (2 * eps)
        cov = np.array([[h1[j] * (1 - h1[j]), -h1[j] * h2[j]], [-h1[j] * h2[j], h2[j] * (1 - h2[j])]]) / y[j]
        var += g @ cov @ g
    got = compute_cumulative_incidence(HAND).table["variance"].iloc[-1]
    assert got == pytest.approx(var, rel=1e-6)


def test_aalen_johansen_no_competing_equals_one_minus_km_with_greenwood():
    rng = np.random.default_rng(7)
    df = pd.DataFrame({"time": rng.integers(0, 60, 80), "status": rng.integers(0, 2, 80)})
    t = compute_cumulative_incidence(df).table
    np.testing.assert_allclose(t["cif"], t["one_minus_km"], atol=1e-12)
    # Greenwood: S^2 * cumsum(d / (Y (Y - d)))
    y, d = t["n_at_risk"].to_numpy(float), t["n_event"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        gw = (1 - t["cif"]) ** 2 * np.cumsum(np.where(y > d, d / (y * (y - d)), 0))
    np.testing.assert_allclose(t["variance"], gw, atol=1e-12)


def test_number_at_risk_counts_ties_as_at_risk():
    got = compute_number_at_risk(HAND, [0, 4, 4.5, 10, 11])
    assert got["n_at_risk"].tolist() == [10, 9, 7, 2, 0]


@pytest.mark.parametrize(
    "df, message",
    [
        (pd.DataFrame({"time": [-1], "status": [1]}), "time"),
        (pd.DataFrame({"time": [1], "status": [3]}), "status"),
        (pd.DataFrame({"time": [1]}), "status"),
    ],
)
def test_cumulative_incidence_rejects_bad_input(df, message):
    with pytest.raises(ValueError, match=message):
        compute_cumulative_incidence(df)


def test_cumulative_incidence_event_on_day_zero_and_empty():
    t = compute_cumulative_incidence(pd.DataFrame({"time": [0, 3], "status": [1, 0]})).table
    assert t["time"].tolist() == [0, 3] and t["cif"].tolist() == [0.5, 0.5]
    empty = compute_cumulative_incidence(pd.DataFrame({"time": [], "status": []}))
    assert empty.table.empty


@FAST
@given(
    rows=st.lists(st.tuples(st.integers(0, 30), st.integers(0, 2)), min_size=1, max_size=40),
)
def test_cumulative_incidence_properties(rows):
    df = pd.DataFrame(rows, columns=["time", "status"])
    t = compute_cumulative_incidence(df).table
    for col in ("cif", "cif_competing", "one_minus_km"):
        v = t[col].to_numpy()
        assert np.all(np.diff(v) >= -1e-12) and v.min() >= 0 and v.max() <= 1 + 1e-12
    np.testing.assert_allclose(t["cif"] + t["cif_competing"] + t["survival"], 1.0, atol=1e-12)
    assert np.all(t["lower"] <= t["cif"] + 1e-12) and np.all(t["cif"] <= t["upper"] + 1e-12)
    assert np.all(t["one_minus_km"] >= t["cif"] - 1e-12)  # 1 - KM over-states incidence


# ------------------------------------------------------------------------------------------
# plots
# ------------------------------------------------------------------------------------------


def test_plot_boundary_with_crossing():
    b = manual_boundary(10, list(range(1, 11)), [2, 3, 3, 3, 4, 4, 4, 5, 5, 5])
    obs = compute_observed_path(_patients([True, True, True, True, False]), b)
    assert obs.summary["first_crossing_n"] == 3
    fig = plot_boundary(b, obs)
    names = [tr.name for tr in fig.data]
    assert "Stopping boundary" in names and "Observed: patients with event" in names
    boundary_trace = fig.data[names.index("Stopping boundary")]
    assert boundary_trace.line.shape == "hv" and len(boundary_trace.x) == 10
    assert any(tr.fill == "tonexty" for tr in fig.data)  # stop region shaded
    assert any("First crossing" in (a.text or "") for a in fig.layout.annotations)
    assert fig.layout.xaxis.title.text and fig.layout.yaxis.title.text and fig.layout.title.text


def test_plot_boundary_without_observed():
    fig = plot_boundary(compute_boundary(12, 0.2))
    assert len(fig.layout.annotations) == 0
    assert fig.layout.title.text


def test_plot_cumulative_incidence():
    res = compute_cumulative_incidence(HAND)
    fig = plot_cumulative_incidence(res, risk_times=[0, 5, 10])
    names = [tr.name or "" for tr in fig.data]
    km = [tr for tr in fig.data if "Kaplan" in (tr.name or "")]
    assert km and km[0].line.dash == "dash"
    assert any("Aalen" in n for n in names)
    assert any(tr.fill == "tonexty" for tr in fig.data)  # confidence band
    risk = [tr for tr in fig.data if tr.mode == "text"]
    assert risk and list(risk[0].text) == ["10", "7", "2"]
    cif_trace = next(tr for tr in fig.data if "Aalen" in (tr.name or ""))
    assert cif_trace.line.shape == "hv" and cif_trace.x[0] == 0 and cif_trace.y[0] == 0
