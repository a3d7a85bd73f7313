"""Registration checks: the eligibility criteria that the data can check (docs/clinical-rules.md section 1).

Public API
----------
compute_registration_checks(snapshot, trial, ...) -> RegistrationChecks (.table, .patients, .summary)

Checks, each with a value, a status (``ok`` / ``outside protocol`` / ``unknown``) and a reason in words;
the limits come from ``trial.toml`` [eligibility]:

* ``age``: age at enrolment strictly above ``age_min_exclusive`` and below ``age_max_exclusive``
  (18 and 80: 19-79 are inside, 18 and 80 are outside).
* ``child_pugh``: class from the last bilirubin, albumin and INR before the first treatment (and, when
  the surgery date is known, not before the surgery: the criterion is post-operative), plus the
  recorded ascites and encephalopathy; the class (e.g. "B7") must be in ``child_pugh_allowed``.
  Cut-offs from [formulas] (``toxdb.clinical.formulas.compute_child_pugh``).
* ``ecog``: ECOG performance status <= ``ecog_max`` (unknown when not recorded).
* ``surgery_to_treatment``: days from surgery to the first treatment < ``max_days_surgery_to_treatment``
  (122: 121 days is inside, 122 outside).

Decisions on points the rules leave open (D21, D24, D25 in docs/decisions.md; each is also stated in
the reason where it applies):

* Age is in completed years at enrolment. A birth date, when given, wins over the recorded age (it is
  exact); when both are given and differ the reason says so. "Older than 18" therefore means 19 or
  more completed years: a patient of 18 years and 6 months is outside.
* Ascites or encephalopathy missing (or the column absent) counts as none, with "(assumed none: not
  recorded)" in the reason; a value that cannot be read makes the class unknown.
* Labs: values in SI after ``derive_lab_grades`` (a unit is never guessed: an unreadable value is
  skipped and an earlier one used). A value on the day of the first treatment counts as before it
  only with ``same_day_counts=True``; by default it does not (D21).
  A patient not yet treated is checked on the labs up to the cut.
* Not yet treated: ``surgery_to_treatment`` is ``outside protocol`` when the limit has already passed
  at the cut, otherwise ``unknown`` (days so far given).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from toxdb.clinical.formulas import compute_child_pugh
from toxdb.clinical.labs import derive_lab_grades
from toxdb.clinical.treatment import derive_treatment_milestones
from toxdb.i18n import N_

__all__ = ["CHECKS", "CHECK_COLUMNS", "STATUSES", "RegistrationChecks", "compute_registration_checks"]

OK, OUTSIDE, UNKNOWN = "ok", "outside protocol", "unknown"
STATUSES = (OUTSIDE, UNKNOWN, OK)                 # most urgent first
CHECKS = {"age": N_("Age at enrolment"), "child_pugh": N_("Child-Pugh class"), "ecog": "ECOG",
          "surgery_to_treatment": N_("Days from surgery to first treatment")}      # shown as _(label)
CHECK_COLUMNS = ["subject_id", "site", "check", "label", "value", "status", "reason"]
PATIENT_COLUMNS = ["subject_id", "site", "enrolled_on", "first_treatment", "flag", "n_outside", "n_unknown",
                   *CHECKS]
_CP_TESTS = {"BILI": "bilirubin", "ALB": "albumin", "INR": "INR"}


@dataclass
class RegistrationChecks:
    table: pd.DataFrame                  # CHECK_COLUMNS: one row per patient x check
    patients: pd.DataFrame               # PATIENT_COLUMNS: one row per patient, flagged patients first
    summary: dict = field(default_factory=dict)


def _day(s) -> pd.Series:
    return pd.to_datetime(s, errors="coerce").astype("datetime64[ns]").dt.normalize()


def _col(frame: pd.DataFrame, name: str) -> pd.Series:
    return frame[name] if name in frame else pd.Series(None, index=frame.index, dtype=object)


def _completed_years(birth: pd.Series, on: pd.Series) -> pd.Series:
    """Whole years between two date columns (NaN when either is missing)."""
    years = on.dt.year - birth.dt.year
    before_birthday = (on.dt.month < birth.dt.month) | ((on.dt.month == birth.dt.month) & (on.dt.day < birth.dt.day))
    return (years - before_birthday.astype("float64")).astype("float64")


def _fmt(x: float) -> str:
    return f"{x:g}"


def _check_age(p: pd.DataFrame, lo: float, hi: float) -> pd.DataFrame:
    recorded = pd.to_numeric(_col(p, "age"), errors="coerce").astype("float64")
    from_birth = _completed_years(_day(_col(p, "birth_date")), p["enrolled_on"])
    age = from_birth.where(from_birth.notna(), recorded)
    source = pd.Series(np.where(from_birth.notna(), "from the birth date at enrolment", "as recorded"),
                       index=p.index, dtype=object)
    status = np.where(age.isna(), UNKNOWN, np.where((age > lo) & (age < hi), OK, OUTSIDE))
    age_txt = age.map(lambda a: "" if pd.isna(a) else _fmt(a))
    reason = pd.Series(np.where(
        status == OK, age_txt + " years (" + source + f") is above {_fmt(lo)} and below {_fmt(hi)}",
        age_txt + " years (" + source + f") is not above {_fmt(lo)} and below {_fmt(hi)}"), index=p.index)
    reason = reason.where(age.notna(), "no age and no birth date recorded")
    differ = from_birth.notna() & recorded.notna() & (from_birth.round() != recorded.round())
    reason = reason.where(~differ, reason + "; the recorded age is " + recorded.map(
        lambda a: "" if pd.isna(a) else _fmt(a)) + ": check it")
    return pd.DataFrame({"subject_id": p["subject_id"], "check": "age",
                         "value": age_txt.where(age.notna(), None), "status": status, "reason": reason})


def _pre_treatment_labs(labs: pd.DataFrame | None, p: pd.DataFrame, same_day_counts: bool,
                        cut: pd.Timestamp) -> pd.DataFrame:
    """Last SI value of BILI, ALB and INR per patient before the first treatment (post-operative)."""
    cols = ["subject_id", "test_code", "si_value", "collected_on"]
    if labs is None or len(labs) == 0:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    from toxdb.clinical.labs import lab_test_code

    # grade only the three tests Child-Pugh needs (labs may be a million rows)
    t_codes, t_uniques = pd.factorize(labs["test"])
    wanted = np.array([lab_test_code(u) in _CP_TESTS for u in t_uniques] + [False])
    sub = labs.loc[wanted[t_codes]]
    if sub.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    g = derive_lab_grades(sub)
    g = pd.DataFrame({"subject_id": g["subject_id"].astype(str).to_numpy(), "test_code": g["test_code"].to_numpy(),
                      "si_value": pd.to_numeric(g["si_value"]).to_numpy(dtype="float64", na_value=np.nan),
                      "collected_on": _day(g["collected_on"]).to_numpy()})
    g = g[g["si_value"].notna()]
    limits = p[["subject_id", "first_treatment", "surgery_date"]]
    g = g.merge(limits, on="subject_id", how="inner")
    end = g["first_treatment"].fillna(cut + pd.Timedelta(days=1))      # not treated: up to the cut
    before = (g["collected_on"] <= end) if same_day_counts else (g["collected_on"] < end)
    before &= g["collected_on"] <= cut
    post_op = g["surgery_date"].isna() | (g["collected_on"] >= g["surgery_date"])
    g = g[(before & post_op).to_numpy(bool)]
    return (g.sort_values(["subject_id", "test_code", "collected_on"], kind="stable")
            .drop_duplicates(["subject_id", "test_code"], keep="last")[cols])


def _lab_days(days: list[pd.Timestamp]) -> str:
    lo, hi = min(days), max(days)
    return f"labs of {lo:%Y-%m-%d}" if lo == hi else f"labs of {lo:%Y-%m-%d} to {hi:%Y-%m-%d}"


def _check_child_pugh(p: pd.DataFrame, last: pd.DataFrame, trial, allowed: list[str]) -> pd.DataFrame:
    wide = last.pivot(index="subject_id", columns="test_code", values="si_value") if len(last) else pd.DataFrame()
    dates = last.pivot(index="subject_id", columns="test_code", values="collected_on") if len(last) else pd.DataFrame()
    vals = {code: wide[code].reindex(p["subject_id"]).to_numpy() if code in wide else np.full(len(p), np.nan)
            for code in _CP_TESTS}
    when = {code: dates[code].reindex(p["subject_id"]).to_numpy() if code in dates else np.full(len(p), None)
            for code in _CP_TESTS}
    ascites, enceph = _col(p, "ascites"), _col(p, "encephalopathy")
    rows = []
    # one call per patient: patients are few (the trial plans 66), labs were reduced above
    for i, sid in enumerate(p["subject_id"].to_numpy()):
        b, a, inr = (vals[c][i] for c in _CP_TESTS)
        missing = [name for code, name in _CP_TESTS.items() if pd.isna(vals[code][i])]
        asc, enc = ascites.iloc[i], enceph.iloc[i]
        asc_txt, enc_txt = f"ascites {asc}", f"encephalopathy {enc}"
        if asc is None or pd.isna(asc) or str(asc).strip() == "":
            asc, asc_txt = "none", "ascites none (assumed: not recorded)"
        if enc is None or pd.isna(enc) or str(enc).strip() == "":
            enc, enc_txt = "none", "encephalopathy none (assumed: not recorded)"
        if missing:
            rows.append((sid, None, UNKNOWN, "no " + ", ".join(missing) + " before the first treatment"
                         + " (after surgery)" * bool(pd.notna(p["surgery_date"].iloc[i]))))
            continue
        try:
            points, cls = compute_child_pugh(b, a, inr, asc, enc, cutoffs=trial)
        except ValueError as exc:
            rows.append((sid, None, UNKNOWN, str(exc)))
            continue
        on = [pd.Timestamp(when[c][i]) for c in _CP_TESTS]
        basis = (f"bilirubin {_fmt(round(b, 1))} µmol/L, albumin {_fmt(round(a, 1))} g/L, INR {_fmt(round(inr, 2))}"
                 f" ({_lab_days(on)}), {asc_txt}, {enc_txt}")
        status = OK if cls in allowed else OUTSIDE
        verdict = "allowed" if status == OK else "not allowed"
        text = f"{cls} ({points} points) from {basis}: {verdict} (allowed: {', '.join(allowed)})"
        rows.append((sid, cls, status, text))
    out = pd.DataFrame(rows, columns=["subject_id", "value", "status", "reason"])
    return out.assign(check="child_pugh")


def _check_ecog(p: pd.DataFrame, ecog_max: int) -> pd.DataFrame:
    ecog = pd.to_numeric(_col(p, "ecog"), errors="coerce").astype("float64")
    txt = ecog.map(lambda e: "" if pd.isna(e) else f"{int(e)}")
    status = np.where(ecog.isna(), UNKNOWN, np.where(ecog <= ecog_max, OK, OUTSIDE))
    reason = pd.Series(np.where(status == OK, "ECOG " + txt + f" is at most {ecog_max}",
                                "ECOG " + txt + f" is above {ecog_max}"), index=p.index)
    reason = reason.where(ecog.notna(), "ECOG not recorded")
    return pd.DataFrame({"subject_id": p["subject_id"], "check": "ecog", "value": txt.where(ecog.notna(), None),
                         "status": status, "reason": reason})


def _check_surgery(p: pd.DataFrame, max_days: int, cut: pd.Timestamp) -> pd.DataFrame:
    surgery, first = p["surgery_date"], p["first_treatment"]
    days = (first - surgery).dt.days.astype("float64")
    so_far = (cut - surgery).dt.days.astype("float64")
    txt = days.map(lambda d: "" if pd.isna(d) else f"{int(d)}")
    so_txt = so_far.map(lambda d: "" if pd.isna(d) else f"{int(d)}")
    treated, has_surgery = first.notna(), surgery.notna()
    status = np.select(
        [~has_surgery, treated & (days < max_days), treated, so_far >= max_days],
        [UNKNOWN, OK, OUTSIDE, OUTSIDE], default=UNKNOWN)
    fmt = lambda d: d.dt.strftime("%Y-%m-%d")
    span = "surgery " + fmt(surgery) + " to first treatment " + fmt(first) + ": " + txt + " days"
    reason = np.select(
        [(~has_surgery).to_numpy(bool), treated & (days < max_days), treated, so_far >= max_days],
        ["surgery date not recorded",
         span + f", less than {max_days}",
         span + f", not less than {max_days}" + np.where(days < 0, " (treatment before surgery: check the dates)", ""),
         "not treated yet; " + so_txt + " days since surgery on " + fmt(surgery) + f", already {max_days} or more"],
        default="not treated yet; " + so_txt + " days since surgery so far")
    value = txt.where(treated & has_surgery, None)
    return pd.DataFrame({"subject_id": p["subject_id"], "check": "surgery_to_treatment", "value": value,
                         "status": status, "reason": reason})


def _no_registration_checks() -> RegistrationChecks:
    summary = {"patients": 0, "patients_outside": 0, "patients_unknown_only": 0, "patients_any_flag": 0,
               "patients_ok": 0, "by_check": {c: dict.fromkeys(STATUSES, 0) for c in CHECKS}}
    table = pd.DataFrame({c: pd.Series(dtype=object) for c in CHECK_COLUMNS})
    wide = pd.DataFrame({c: pd.Series(dtype=object) for c in PATIENT_COLUMNS})
    for c in ("enrolled_on", "first_treatment"):
        wide[c] = pd.Series(dtype="datetime64[ns]")
    return RegistrationChecks(table, wide, summary)


def compute_registration_checks(snapshot, trial, *, same_day_counts: bool = False,
                                milestones: pd.DataFrame | None = None) -> RegistrationChecks:
    """Age, Child-Pugh, ECOG and surgery-to-treatment checks for every patient of the snapshot.

    ``snapshot``: cuts.Snapshot (patients: subject_id, site, enrolled_on, age and/or birth_date,
    surgery_date, ecog, ascites, encephalopathy; treatment; labs). ``trial``: the trial file
    ([eligibility] limits, [formulas] Child-Pugh cut-offs). See the module docstring for the rules.
    """
    el = trial.eligibility
    cut = pd.Timestamp(snapshot.cut.cut_date).normalize()
    pat = snapshot.patients
    if pat.empty:                    # nobody registered yet: empty tables, zero counts
        return _no_registration_checks()
    if milestones is None:
        milestones = derive_treatment_milestones(snapshot.treatment, snapshot.cut.cut_date)
    ft = pd.Series(_day(milestones["first_treatment"]).to_numpy(), index=milestones["subject_id"].astype(str))
    p = pd.DataFrame({
        "subject_id": pat["subject_id"].astype(str).to_numpy(),
        "site": _col(pat, "site").to_numpy(),
        "enrolled_on": _day(pat["enrolled_on"]).to_numpy(),
        "surgery_date": _day(_col(pat, "surgery_date")).to_numpy(),
        "age": _col(pat, "age").to_numpy(),
        "birth_date": _day(_col(pat, "birth_date")).to_numpy(),
        "ecog": _col(pat, "ecog").to_numpy(),
        "ascites": _col(pat, "ascites").to_numpy(),
        "encephalopathy": _col(pat, "encephalopathy").to_numpy(),
    })
    # no treatment yet (patients are registered first): every first treatment is unknown, not a crash
    first = p["subject_id"].map(ft) if len(ft) else pd.Series(pd.NaT, index=p.index)
    p["first_treatment"] = pd.to_datetime(first).astype("datetime64[ns]")
    p = p.reset_index(drop=True)

    last = _pre_treatment_labs(snapshot.labs, p, same_day_counts, cut)
    parts = [
        _check_age(p, el.age_min_exclusive, el.age_max_exclusive),
        _check_child_pugh(p, last, trial, list(el.child_pugh_allowed)),
        _check_ecog(p, el.ecog_max),
        _check_surgery(p, el.max_days_surgery_to_treatment, cut),
    ]
    table = pd.concat(parts, ignore_index=True)
    table["site"] = table["subject_id"].map(dict(zip(p["subject_id"], p["site"])))
    table["label"] = table["check"].map(CHECKS)
    order = {c: i for i, c in enumerate(CHECKS)}
    table = table.assign(_o=table["check"].map(order)).sort_values(["subject_id", "_o"], kind="stable") \
        .drop(columns="_o")[CHECK_COLUMNS].reset_index(drop=True)
    table["value"] = table["value"].astype(object).where(table["value"].notna(), None)

    status = table.pivot(index="subject_id", columns="check", values="status").reindex(p["subject_id"])
    wide = p[["subject_id", "site", "enrolled_on", "first_treatment"]].copy()
    for c in CHECKS:
        wide[c] = status[c].to_numpy()
    st = wide[list(CHECKS)]
    wide["n_outside"] = (st == OUTSIDE).sum(axis=1).to_numpy()
    wide["n_unknown"] = (st == UNKNOWN).sum(axis=1).to_numpy()
    wide["flag"] = np.where(wide["n_outside"] > 0, OUTSIDE, np.where(wide["n_unknown"] > 0, UNKNOWN, OK))
    rank = {s: i for i, s in enumerate(STATUSES)}
    wide = wide.assign(_r=wide["flag"].map(rank)).sort_values(["_r", "subject_id"], kind="stable") \
        .drop(columns="_r")[PATIENT_COLUMNS].reset_index(drop=True)

    per_check = {c: {s: int((table.loc[table["check"] == c, "status"] == s).sum()) for s in STATUSES}
                 for c in CHECKS}
    summary = {
        "patients": len(p),
        "patients_outside": int((wide["flag"] == OUTSIDE).sum()),
        "patients_unknown_only": int((wide["flag"] == UNKNOWN).sum()),
        "patients_any_flag": int((wide["flag"] != OK).sum()),
        "patients_ok": int((wide["flag"] == OK).sum()),
        "by_check": per_check,
    }
    return RegistrationChecks(table, wide, summary)
