"""Laboratory safety for the closed section: shift tables (baseline grade -> worst grade on
treatment) for every graded test, and the hepatic safety plot (peak ALT/AST vs peak bilirubin).

Lab values are graded by toxdb.clinical.labs (CTCAE version of record, baseline criteria for an
abnormal baseline); the baseline is the last value before the first treatment day (a value drawn
that day is taken as on treatment, as the lab grading does by default). On treatment: from the first
treatment day to the last dose plus the post-treatment window, and not after the cut (D80)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from toxdb.clinical.ctcae_versions import ctcae_version
from toxdb.clinical.labs import derive_lab_grades_with_baselines
from toxdb.i18n import N_, _
from toxdb.plots.committee import plot_hepatic
from toxdb.reports.committee.inputs import ReportInputs
from toxdb.reports.committee.model import ReportFigure, ReportTable

GRADE_KEYS = ["0", "1", "2", "3", "4"]
WORDS = (N_("missing"), N_("ULN"), N_("baseline"))      # cells shown translated


def derive_lab_periods(inp: ReportInputs) -> pd.DataFrame:
    """Graded lab values up to the cut with ``period``: "baseline" (before the first treatment day),
    "on treatment" (first treatment day to last dose + window) or "" (otherwise)."""
    labs = inp.snapshot.labs
    if labs is None or labs.empty:
        return pd.DataFrame(columns=["subject_id", "test_code", "collected_on", "grade", "period"])
    labs = labs[pd.to_datetime(labs["collected_on"]) <= inp.cut_ts].reset_index(drop=True)
    ms = inp.derived.milestones
    g = derive_lab_grades_with_baselines(labs, ms[["subject_id", "first_treatment"]], ctcae_version(
        inp.trial.ctcae.version))
    g = g[g["test_code"].notna()].copy()
    g["subject_id"] = g["subject_id"].astype(str)
    m = ms.set_index(ms["subject_id"].astype(str))
    day = pd.to_datetime(g["collected_on"]).dt.normalize()
    first = pd.to_datetime(g["subject_id"].map(m["first_treatment"]))
    end = pd.to_datetime(g["subject_id"].map(m["last_dose"])) + pd.Timedelta(
        days=int(inp.trial.phases.post_treatment_window_days))
    g["period"] = np.where(day < first, "baseline", np.where((day >= first) & (day <= end), "on treatment", ""))
    return g


def compute_shift_table(graded: pd.DataFrame, subjects) -> pd.DataFrame:
    """Per test and baseline grade (or "missing"): patients by worst on-treatment grade ("none": no
    graded value on treatment). Population: ``subjects`` with at least one graded value of the test."""
    g = graded[graded["subject_id"].isin(set(subjects)) & graded["grade"].notna()]
    base = g[g["period"] == "baseline"].sort_values("collected_on", kind="stable") \
        .groupby(["subject_id", "test_code"])["grade"].last()
    worst = g[g["period"] == "on treatment"].groupby(["subject_id", "test_code"])["grade"].max()
    pairs = g[["subject_id", "test_code"]].drop_duplicates().set_index(["subject_id", "test_code"]).index
    t = pd.DataFrame(index=pairs)
    t["baseline"] = base.reindex(pairs).astype("Int64").astype(str).replace("<NA>", "missing").to_numpy()
    t["worst"] = worst.reindex(pairs).astype("Int64").astype(str).replace("<NA>", "none").to_numpy()
    t = t.reset_index()
    counts = t.groupby(["test_code", "baseline", "worst"]).size().unstack("worst", fill_value=0)
    counts = counts.reindex(columns=GRADE_KEYS + ["none"], fill_value=0).reset_index()
    counts["total"] = counts[GRADE_KEYS + ["none"]].sum(axis=1)
    order = {k: i for i, k in enumerate(GRADE_KEYS + ["missing"])}
    counts = counts.assign(_o=counts["baseline"].map(order)).sort_values(["test_code", "_o"]).drop(columns="_o")
    return counts.rename(columns={"test_code": "test"}).reset_index(drop=True)


def compute_hepatic_points(graded: pd.DataFrame, alt_limit: float, bili_limit: float) -> pd.DataFrame:
    """Per patient: peak ALT or AST and peak bilirubin on treatment as multiples of ULN, or of the
    baseline when the baseline was above ULN; relative ("ULN" or "baseline") and in_quadrant."""
    g = graded[(graded["period"] == "on treatment") & graded["test_code"].isin(["ALT", "AST", "BILI"])].copy()
    uln_si = pd.to_numeric(g["uln"], errors="coerce") * pd.to_numeric(g["si_factor"], errors="coerce")
    base = pd.to_numeric(g["baseline_si"], errors="coerce")
    by_base = base.notna() & uln_si.notna() & (base > uln_si)
    g["x"] = np.where(by_base, g["si_value"].astype(float) / base, g["si_value"].astype(float) / uln_si)
    g["by_base"] = by_base
    g = g[np.isfinite(g["x"])]
    g["axis"] = np.where(g["test_code"] == "BILI", "bili", "alt")
    peak = g.sort_values("x", kind="stable").groupby(["subject_id", "axis"]).last()
    x = peak["x"].unstack("axis")
    rel = peak["by_base"].unstack("axis")
    x = x.dropna(subset=[c for c in ("alt", "bili") if c in x]) if {"alt", "bili"} <= set(x.columns) else x.iloc[0:0]
    out = pd.DataFrame({"subject_id": x.index.astype(str), "alt_x": x.get("alt", pd.Series(dtype=float)).to_numpy(),
                        "bili_x": x.get("bili", pd.Series(dtype=float)).to_numpy()})
    anyrel = rel.reindex(x.index).fillna(False).astype(bool).any(axis=1).to_numpy() if len(x) else np.array([], bool)
    out["relative"] = np.where(anyrel, "baseline", "ULN")
    out["in_quadrant"] = (out["alt_x"] >= alt_limit) & (out["bili_x"] >= bili_limit)
    return out.sort_values("subject_id").reset_index(drop=True)


def build_lab_safety(inp: ReportInputs) -> list:
    graded = derive_lab_periods(inp)
    started = inp.derived.milestones.loc[inp.derived.milestones["first_treatment"].notna(), "subject_id"].astype(str)
    shift = compute_shift_table(graded, started) if len(graded) else pd.DataFrame()
    labels = {"test": _("Test"), "baseline": _("Baseline grade"), **{k: _("Worst {grade}").format(grade=k)
                                                                       for k in GRADE_KEYS},
              "none": _("No value on treatment"), "total": _("Patients")}
    blocks: list = [ReportTable(
        "lab_shift", _("Lab shift tables: baseline grade to worst grade on treatment"), shift,
        _("Population: patients who started treatment with at least one graded value of the test. Grades: CTCAE "
          "v{version} (an abnormal baseline graded as multiples of baseline where CTCAE says so). Baseline: the "
          "last value before the first treatment day (missing: none). Worst on treatment: the highest grade from the "
          "first treatment day to {window} days after the last dose, up to the cut. Each patient once per "
          "test.").format(version=inp.trial.ctcae.version, window=inp.trial.phases.post_treatment_window_days),
        labels, empty_text=_("No graded lab value."), translate=("baseline",))]
    rep = inp.trial.report
    pts = compute_hepatic_points(graded, rep.hy_law_transaminase_x, rep.hy_law_bilirubin_x) if len(graded) else \
        pd.DataFrame(columns=["subject_id", "alt_x", "bili_x", "relative", "in_quadrant"])
    blocks.append(ReportFigure(
        "hepatic", _("Hepatic safety plot (potential Hy's law)"),
        plot_hepatic(pts, rep.hy_law_transaminase_x, rep.hy_law_bilirubin_x),
        _("One point per patient with ALT or AST and bilirubin on treatment ({n} patients): the peak of each as a "
          "multiple of ULN, or of the patient's baseline when that was above ULN (common after hepatectomy; "
          "diamonds). Shaded: ALT or AST ≥ {a}× and bilirubin ≥ {b}×, the potential Hy's-law quadrant (peaks "
          "need not be on the same day).").format(n=len(pts), a=f"{rep.hy_law_transaminase_x:g}",
                                                 b=f"{rep.hy_law_bilirubin_x:g}"), data=pts))
    quad = pts.loc[pts["in_quadrant"].astype(bool).to_numpy()].assign(alt_x=lambda d: d["alt_x"].round(2), bili_x=lambda d: d["bili_x"].round(2))
    blocks.append(ReportTable(
        "hys_law", _("Patients in the potential Hy's-law quadrant"), quad[["subject_id", "alt_x", "bili_x", "relative"]],
        _("Population: the patients of the plot above whose peaks are both in the shaded quadrant."),
        {"subject_id": _("Patient"), "alt_x": _("Peak ALT/AST (×)"), "bili_x": _("Peak bilirubin (×)"),
         "relative": _("Relative to")}, empty_text=_("No patient in the quadrant."), translate=("relative",)))
    return blocks
