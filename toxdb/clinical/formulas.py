"""Clinical formulas: body-surface area, Cockcroft-Gault creatinine clearance, Child-Pugh class
(docs/clinical-rules.md section 5). Scalars, arrays or Series in; the same shape out."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from toxdb.i18n import _
from toxdb.trial import Formulas, Trial


def _is_number(x) -> bool:
    """A plain int or float (numpy floats included), not a bool: converted without pandas."""
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _as_float_array(x) -> np.ndarray:
    if _is_number(x):
        return np.asarray(float(x))
    if isinstance(x, (pd.Series, pd.Index)):
        return pd.to_numeric(x, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    if x is None or x is pd.NA or x is pd.NaT:
        return np.asarray(np.nan)
    arr = np.asarray(x, dtype=object)
    return pd.to_numeric(arr.ravel(), errors="coerce").astype(float).reshape(arr.shape)


def _shape_like(values: np.ndarray, *inputs):
    """Scalars in -> float out; any Series in -> Series on its index; else an ndarray."""
    for x in inputs:
        if isinstance(x, pd.Series):
            return pd.Series(np.broadcast_to(values, (len(x),)).astype(float), index=x.index)
    if values.ndim == 0:
        return float(values)
    return values


def compute_bsa(height_cm, weight_kg, method: str = "mosteller"):
    """Body-surface area in m².

    Mosteller = sqrt(height cm × weight kg / 3600); DuBois = 0.007184 × W^0.425 × H^0.725.
    Scalars give a float; arrays or Series are computed element-wise. A missing or non-positive
    height or weight gives NaN (the advice then says the BSA is unknown).
    """
    method = str(method).strip().lower()
    if method not in ("mosteller", "dubois"):
        raise ValueError(f"BSA method must be 'mosteller' or 'dubois', got {method!r}")
    h = _as_float_array(height_cm)
    w = _as_float_array(weight_kg)
    with np.errstate(invalid="ignore", divide="ignore"):
        ok = (h > 0) & (w > 0)
        hs, ws = np.where(ok, h, 1.0), np.where(ok, w, 1.0)
        if method == "mosteller":
            bsa = np.sqrt(hs * ws / 3600.0)
        else:
            bsa = 0.007184 * ws**0.425 * hs**0.725
        bsa = np.where(ok, bsa, np.nan)
    return _shape_like(bsa, height_cm, weight_kg)


_UMOL = {"umol/l", "µmol/l", "μmol/l", "micromol/l", "umol"}
_MGDL = {"mg/dl", "mg/100ml", "mg%"}


def _scr_divisor(unit) -> np.ndarray:
    """mg/dL -> 1, µmol/L -> 88.4, anything else (or missing) -> NaN: a unit is never guessed."""
    units = np.asarray(unit, dtype=object)

    def one(u) -> float:
        if u is None or (isinstance(u, float) and math.isnan(u)) or u is pd.NA:
            return np.nan
        key = str(u).strip().lower().replace(" ", "")
        if key in _MGDL:
            return 1.0
        if key in _UMOL:
            return 88.4
        return np.nan

    return np.vectorize(one, otypes=[float])(units) if units.ndim else np.asarray(one(units.item()))


def _female_factor(sex) -> np.ndarray:
    """F/female -> 0.85, M/male -> 1.0, anything else -> NaN."""
    values = np.asarray(sex, dtype=object)

    def one(s) -> float:
        key = "" if s is None or s is pd.NA else str(s).strip().lower()
        if key in ("f", "female", "woman", "w"):
            return 0.85
        if key in ("m", "male", "man"):
            return 1.0
        return np.nan

    return np.vectorize(one, otypes=[float])(values) if values.ndim else np.asarray(one(values.item()))


def compute_crcl(age, weight_kg, scr, scr_unit="mg/dL", sex=None):
    """Cockcroft–Gault creatinine clearance (mL/min).

    CrCl = (140 − age) × weight kg / (72 × SCr mg/dL), × 0.85 for women; SCr in µmol/L is divided
    by 88.4 first. ``scr_unit`` is "mg/dL" or "umol/L" (µmol/L and μmol/L spellings accepted), a
    scalar or one unit per value. ``sex`` is "F"/"M" (or female/male) and is required: an unknown
    sex, unit, or a missing/non-positive value gives NaN.
    """
    if sex is None:
        raise ValueError("compute_crcl needs sex ('F' or 'M'): Cockcroft–Gault is × 0.85 for women")
    a = _as_float_array(age)
    w = _as_float_array(weight_kg)
    c = _as_float_array(scr)
    unit_in = scr_unit.to_numpy(dtype=object) if isinstance(scr_unit, pd.Series) else scr_unit
    sex_in = sex.to_numpy(dtype=object) if isinstance(sex, pd.Series) else sex
    with np.errstate(invalid="ignore", divide="ignore"):
        scr_mg_dl = c / _scr_divisor(unit_in)
        ok = (w > 0) & (scr_mg_dl > 0) & np.isfinite(a)
        crcl = (140.0 - a) * w / (72.0 * scr_mg_dl) * _female_factor(sex_in)
        crcl = np.where(ok, crcl, np.nan)
    return _shape_like(np.asarray(crcl, dtype=float), age, weight_kg, scr)


def _cp_ordinal(value, field_name: str) -> int:
    """Ascites / encephalopathy as Child-Pugh points 1-3 from words or numbers."""
    key = str(value).strip().lower().replace("–", "-").replace("grade", "").replace(" ", "")
    table = {
        "ascites": {
            1: ("none", "absent", "no", "0", "0.0"),
            2: ("mild", "slight", "1", "1.0", "controlled"),
            3: ("moderate", "severe", "moderate-severe", "moderate/severe", "tense", "2", "3", "2.0"),
        },
        "encephalopathy": {
            1: ("none", "absent", "no", "0", "0.0"),
            2: ("1", "2", "1-2", "1.0", "2.0", "mild", "minimal", "controlled"),
            3: ("3", "4", "3-4", "3.0", "4.0", "severe", "refractory"),
        },
    }[field_name]
    for points, words in table.items():
        if key in words:
            return points
    raise ValueError(f"Child-Pugh {field_name} {value!r} not understood (none / mild / moderate-severe"
                     f"{' or grade 1-2 / 3-4' if field_name == 'encephalopathy' else ''})")


def compute_child_pugh(bilirubin_umol_l, albumin_g_l, inr, ascites="none", encephalopathy="none",
                       cutoffs: Formulas | Trial | None = None) -> tuple[int, str]:
    """Child-Pugh points and class, e.g. (5, "A5").

    Boundaries (cut-offs from the trial file's [formulas], the rules' defaults when ``cutoffs`` is None; D11):
    bilirubin (µmol/L) < 34 -> 1, 34–51 inclusive -> 2, > 51 -> 3; albumin (g/L) > 35 -> 1,
    28–35 inclusive -> 2, < 28 -> 3; INR < 1.7 -> 1, 1.7–2.3 inclusive -> 2, > 2.3 -> 3;
    ascites none / mild / moderate-severe; encephalopathy none / grade 1–2 / grade 3–4.
    A = 5–6, B = 7–9, C = 10–15.
    """
    if isinstance(cutoffs, Trial):
        cutoffs = cutoffs.formulas
    bili_lo, bili_hi = cutoffs.child_pugh_bilirubin_cutoffs_umol_l if cutoffs else (34.0, 51.0)
    alb_hi, alb_lo = sorted(cutoffs.child_pugh_albumin_cutoffs_g_l if cutoffs else (35.0, 28.0),
                            reverse=True)
    inr_lo, inr_hi = cutoffs.child_pugh_inr_cutoffs if cutoffs else (1.7, 2.3)
    values = {"bilirubin": bilirubin_umol_l, "albumin": albumin_g_l, "INR": inr}
    for name, v in values.items():
        if v is None or pd.isna(v):
            raise ValueError(f"Child-Pugh needs {name}")
    b, a, i = float(bilirubin_umol_l), float(albumin_g_l), float(inr)
    points = (
        (1 if b < bili_lo else 2 if b <= bili_hi else 3)
        + (1 if a > alb_hi else 2 if a >= alb_lo else 3)
        + (1 if i < inr_lo else 2 if i <= inr_hi else 3)
        + _cp_ordinal(ascites, "ascites")
        + _cp_ordinal(encephalopathy, "encephalopathy")
    )
    letter = "A" if points <= 6 else "B" if points <= 9 else "C"
    return points, f"{letter}{points}"




def compute_patient_bsa_crcl(patient, formulas: Formulas, cut, creatinine: tuple | None = None
                             ) -> tuple[float, float, str]:
    """(BSA, CrCl, where the CrCl comes from) of one patient at the cut, as the dose rules and the
    Patient page show them (D17).

    ``patient``: a mapping with height_cm, weight_kg, sex, age (or birth_date: completed years at the
    cut), serum_creatinine and serum_creatinine_unit. ``creatinine``: (value in µmol/L, ULN, date) of
    the latest creatinine lab up to the cut; without one the patient table's serum creatinine is
    used. A missing input gives NaN and a note naming it: a unit or a sex is never guessed."""
    cut = pd.Timestamp(cut)
    bsa = compute_bsa(patient.get("height_cm"), patient.get("weight_kg"), formulas.bsa)
    age = patient.get("age")
    age = float(age) if _is_number(age) else pd.to_numeric(pd.Series([age]), errors="coerce").iloc[0]
    if pd.isna(age) and patient.get("birth_date") is not None:
        born = pd.to_datetime(pd.Series([patient.get("birth_date")]), errors="coerce").iloc[0]
        if pd.notna(born):
            age = cut.year - born.year - ((cut.month, cut.day) < (born.month, born.day))
    if creatinine is not None:
        scr, unit = creatinine[0], "umol/L"
        source = _("CrCl from creatinine {value:g} µmol/L on {day:%Y-%m-%d}").format(value=scr, day=creatinine[2])
    else:
        scr, unit = patient.get("serum_creatinine"), patient.get("serum_creatinine_unit")
        source = _("CrCl from the patient table's serum creatinine")
    sex = patient.get("sex")
    crcl = compute_crcl(age, patient.get("weight_kg"), scr, unit, sex="" if sex is None else sex)
    if pd.isna(crcl):
        missing = [n for n, v in ((_("age"), age), (_("weight"), patient.get("weight_kg")), (_("creatinine"), scr),
                                  (_("creatinine unit"), unit), (_("sex"), sex)) if v is None or pd.isna(v)]
        source = (_("CrCl unknown (missing {what})").format(what=", ".join(missing)) if missing
                  else _("CrCl unknown (unit or sex not understood)"))
    return bsa, crcl, source
