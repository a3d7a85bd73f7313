"""Tabulate the CTCAE lab grading criteria of v5.0 and v6.0 from the NCI workbooks into toxdb/data/.

    python tools/tabulate_lab_criteria.py [--v5 CTCAE_v5.0_2017-11-27.csv] [--v6 CTCAE_v6.0.xlsx] [--out DIR]

Writes ``toxdb/data/lab_criteria_v5.json`` and ``toxdb/data/lab_criteria_v6.json``. A developer
script: the NCI files exist only on dev machines, so toxdb reads the JSON, never the workbooks.

For every test the trial grades, each grade cell of its CTCAE term is split into its clauses (NCI
separates alternatives with ';') and every clause is read:

* a numeric clause in the test's SI unit (or as a multiple of ULN / LLN / baseline) becomes a
  threshold: the bound nearer to normal decides (``<1.5 - 1.0 x 10^9/L`` -> grade if value < 1.5);
  a range written without '<' or '>' keeps its lower bound for increases (``1.5 - 3.0 x baseline``
  -> value >= 1.5 x baseline) and its upper bound for decreases (v5 ``125-129 mmol/L`` counts whole
  mmol/L, so -> value < 130, which is how v6 writes it: ``125 - <130``);
* the same numbers in another unit (/mm3, g/dL, mg/dL) are checked against the SI clause;
* a qualifier says when the threshold applies (``if baseline was normal``, ``if baseline was >ULN``,
  ``if baseline is below LLN``, ``if on anticoagulation``, ...); criteria that need a fact a lab
  value lacks (symptoms, a transfusion) become notes on the lower grade they would raise;
* purely clinical clauses (``hospitalization indicated``, ``life-threatening consequences``) give no
  lab threshold.

A clause that fits none of these stops the script, naming the term, grade and text: the data are
never a guess. Only numbers and the structure of the criteria are kept; no NCI sentence is copied.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT.parent / "shared" / "reference"
DEFAULT_V5 = REFERENCE / "ctcae_v5" / "CTCAE_v5.0_2017-11-27.csv"
DEFAULT_V6 = REFERENCE / "ctcae_v6" / "CTCAE_v6.0.xlsx"
V6_SHEET = "CTCAE v6.0 Clean Copy"
TARGETS = {"5.0": ROOT / "toxdb" / "data" / "lab_criteria_v5.json",
           "6.0": ROOT / "toxdb" / "data" / "lab_criteria_v6.json"}

# test code -> (SI unit, the clause scales read as SI, scales that restate them in another unit with
# their factor to SI, sides: (direction, v5 term, v6 term))
COUNTS = ({"x 10^9/L"}, {"/mm3": 0.001})
TESTS: dict[str, tuple[str, set, dict, list[tuple[str, str, str]]]] = {
    "ANC": ("10^9/L", *COUNTS, [("low", "Neutrophil count decreased", "Neutrophil count decreased")]),
    "PLT": ("10^9/L", *COUNTS, [("low", "Platelet count decreased", "Thrombocytopenia")]),
    "WBC": ("10^9/L", *COUNTS, [("low", "White blood cell decreased", "White blood cell decreased")]),
    "LYM": ("10^9/L", *COUNTS, [("low", "Lymphocyte count decreased", "Lymphopenia")]),
    "HGB": ("g/L", {"g/L"}, {"g/dL": 10.0, "mmol/L": None}, [("low", "Anemia", "Anemia")]),
    "ALB": ("g/L", {"g/L"}, {"g/dL": 10.0}, [("low", "Hypoalbuminemia", "Hypoalbuminemia")]),
    "ALT": ("U/L", {"x ULN", "x baseline"}, {},
            [("high", "Alanine aminotransferase increased", "Alanine aminotransferase increased")]),
    "AST": ("U/L", {"x ULN", "x baseline"}, {},
            [("high", "Aspartate aminotransferase increased", "Aspartate aminotransferase increased")]),
    "BILI": ("umol/L", {"x ULN", "x baseline"}, {},
             [("high", "Blood bilirubin increased", "Blood bilirubin increased")]),
    "ALP": ("U/L", {"x ULN", "x baseline"}, {},
            [("high", "Alkaline phosphatase increased", "Alkaline phosphatase increased")]),
    "GGT": ("U/L", {"x ULN", "x baseline"}, {}, [("high", "GGT increased", "GGT increased")]),
    "CREAT": ("umol/L", {"x ULN", "x baseline"}, {}, [("high", "Creatinine increased", "Creatinine increased")]),
    "INR": ("ratio", {"", "x baseline"}, {}, [("high", "INR increased", "INR increased")]),
    "K": ("mmol/L", {"mmol/L"}, {}, [("high", "Hyperkalemia", "Hyperkalemia"), ("low", "Hypokalemia", "Hypokalemia")]),
    "SODIUM": ("mmol/L", {"mmol/L"}, {},
               [("high", "Hypernatremia", "Hypernatremia"), ("low", "Hyponatremia", "Hyponatremia")]),
}

# qualifier (after the numbers) -> when the threshold applies
QUALIFIERS = {
    "": "always",
    "if baseline was normal": "baseline_not_above_uln",
    "if baseline was normal or less than normal": "baseline_not_above_uln",
    "if baseline was abnormal": "baseline_above_uln",
    "if baseline was >uln": "baseline_above_uln",
    # v6 ALT/AST grade 3: read as describing the baseline; v6 gives no other rule above 5 x ULN
    "if baseline was >uln up to 5 x uln": "baseline_above_uln",
    "if baseline is below lln": "baseline_below_lln",
    "if on anticoagulation": "on_anticoagulation",
    "and asymptomatic": "always",
    "regardless of symptoms": "always",
    "symptomatic": "symptomatic",
}
# clauses that describe the patient, not the value: no threshold (the value's grade stands)
CLINICAL = {"-", "death", "life-threatening consequences", "urgent intervention indicated", "intervention initiated",
            "intervention indicated", "hospitalization indicated", "monitoring only indicated",
            "dose adjustment indicated", "bleeding"}
TRANSFUSION = "transfusion indicated"
NUMBER = r"\d[\d,]*(?:\.\d+)?"
CLAUSE = re.compile(
    rf"^(?P<sym>symptomatic with\s+)?(?P<op>[<>])?\s*(?P<a>LLN|ULN|baseline|{NUMBER})"
    rf"(?:\s*-\s*(?P<bop><)?\s*(?P<b>{NUMBER}))?"
    r"\s*(?P<scale>x\s*(?:ULN|LLN|baseline)|x\s*10\^9/L|/mm3|g/dL|g/L|mmol/L|mg/dL)?"
    r"\s*(?P<qual>.*)$", re.IGNORECASE)
REFS = {"lln": "LLN", "uln": "ULN", "baseline": "baseline"}

ABOUT = [
    "CTCAE {version} grading of laboratory values, tabulated by tools/tabulate_lab_criteria.py from {source}.",
    "Values are compared in the SI unit named per test. A threshold is {{grade, op, x, of}}: the limit is x times",
    "the reference named by 'of' (LLN, ULN or baseline), or x itself when 'of' is absent; 'and' lists further",
    "conditions that must all hold. Within a group the thresholds are tried from the highest grade down and the",
    "first that holds gives the group's grade. A side's grade is the highest grade of the groups that apply:",
    "'when' = always; baseline_not_above_uln (baseline <= ULN, or no baseline); baseline_above_uln (baseline > ULN);",
    "baseline_known (any known baseline); baseline_below_lln (baseline < LLN); on_anticoagulation is tabulated but",
    "not applied (lab data do not say who is anticoagulated: the note says which criteria were used).",
    "'<' for decreases and '>' for increases make the bound nearer to normal exclusive and the far bound inclusive;",
    "'>=' marks a bound that CTCAE writes without '>' (e.g. '1.5 - 3.0 x baseline').",
    "A 'note' is reported with the grade when CTCAE would grade higher on clinical facts the value lacks.",
    "Lab grading never gives grade 5.",
]


class CriteriaError(SystemExit):
    pass


def _num(text: str) -> float:
    return float(text.replace(",", ""))


def _clean(cell: object) -> str:
    s = str(cell).replace("\xa0", " ")
    s = re.sub(r"10e9\s*/\s*L|10\^9\s*/\s*L", "10^9/L", s, flags=re.IGNORECASE)
    s = re.sub(r"^\s*(?:Hemoglobin \(Hgb\)|Hgb)\s+", "", s)
    return " ".join(s.split())


def _bound(m: re.Match, direction: str, where: str) -> tuple[str, float, str | None]:
    """(op, x, of) of the bound nearer to normal."""
    scale = (m["scale"] or "").lower()
    of = REFS.get(scale.replace("x", "").strip()) if scale.startswith("x") and "10^9" not in scale else None
    if m["op"]:
        want = "<" if direction == "low" else ">"
        if m["op"] != want:
            raise CriteriaError(f"{where}: '{m['op']}' in a {direction} criterion")
        a = m["a"].lower()
        return m["op"], (1.0 if a in REFS else _num(m["a"])), REFS.get(a, of)
    if direction == "high" and m["b"] and m["a"].lower() not in REFS:
        return ">=", _num(m["a"]), of
    if direction == "low" and m["b"]:
        if m["bop"]:
            return "<", _num(m["b"]), of
        upper = _num(m["b"])
        if upper == int(upper) and _num(m["a"]) == int(_num(m["a"])):
            return "<", upper + 1, of          # whole units: '125-129' runs up to 130
    raise CriteriaError(f"{where}: cannot read a bound from {m.group(0)!r}")


def _read_cell(code: str, direction: str, grade: int, cell: str, where: str) -> dict:
    """The parts of one grade cell: thresholds by 'when', symptom bounds, transfusion, other units."""
    si_unit, scales, other_scales, _ = TESTS[code]
    out: dict = {"thresholds": [], "symptomatic": [], "transfusion": False, "other": []}
    if cell.lower() == "present":          # v6 Lymphopenia: a count below LLN, one grade only
        out["thresholds"].append(("always", {"grade": grade, "op": "<", "x": 1.0, "of": "LLN"}))
        return out
    if cell.lower() == ">baseline and uln":  # v6 ALP: above both
        out["thresholds"].append(("always", {"grade": grade, "op": ">", "x": 1.0, "of": "ULN",
                                             "and": [{"op": ">", "x": 1.0, "of": "baseline"}]}))
        return out
    for clause in (c.strip() for c in cell.split(";")):
        low = clause.lower()
        if low in CLINICAL or not clause:
            continue
        if low == TRANSFUSION:
            out["transfusion"] = True
            continue
        m = CLAUSE.match(clause)
        if m is None:
            raise CriteriaError(f"{where}: clause {clause!r} is neither a criterion nor a known clinical clause")
        qual = m["qual"].strip().lower()
        if qual not in QUALIFIERS:
            raise CriteriaError(f"{where}: qualifier {qual!r} not understood in {clause!r}")
        scale = " ".join((m["scale"] or "").split())
        scale_key = re.sub(r"^x\s*", "x ", scale)
        op, x, of = _bound(m, direction, where)
        if scale_key in other_scales or scale in other_scales:
            out["other"].append((op, x, other_scales.get(scale_key, other_scales.get(scale)), of))
            continue
        if scale_key not in scales:
            raise CriteriaError(f"{where}: scale {scale!r} not expected for {code} (SI {si_unit})")
        when = QUALIFIERS[qual]
        if m["sym"] or when == "symptomatic":
            out["symptomatic"].append((op, x, of))
            continue
        if when == "always" and of == "baseline":
            when = "baseline_known"           # v5 creatinine: '> 1.5 - 3.0 x baseline', no qualifier
        threshold = {"grade": grade, "op": op, "x": x}
        if of:
            threshold["of"] = of
        out["thresholds"].append((when, threshold))
    return out


def _check_other_units(cells: dict[int, dict], where: str) -> None:
    """A bound restated in another unit must be the same limit (e.g. 1500/mm3 = 1.5 x 10^9/L)."""
    si = {(t["op"], t.get("of"), round(t["x"], 6)) for c in cells.values() for _, t in c["thresholds"]}
    for g, c in cells.items():
        for op, x, factor, of in c["other"]:
            if factor is None:
                continue   # Hgb in mmol/L: NCI rounds it, no exact restatement to check
            if (op, of, round(x * factor if of is None else x, 6)) not in si:
                raise CriteriaError(f"{where} grade {g}: {op}{x} in another unit matches no SI threshold")


def _side(code: str, direction: str, term: str, row: dict[int, str], source: str) -> dict:
    where = f"{source}: {term}"
    cells = {g: _read_cell(code, direction, g, _clean(row[g]), f"{where} grade {g}") for g in range(1, 5)}
    _check_other_units(cells, where)
    groups: dict[str, list[dict]] = {}
    for g in range(4, 0, -1):
        for when, t in cells[g]["thresholds"]:
            groups.setdefault(when, []).append(t)
    # facts a value lacks: a transfusion at grade g, symptoms at grade g -> a note on lower grades
    for g, cell in cells.items():
        for group in groups.values():
            for t in group:
                if cell["transfusion"] and t["grade"] < g:
                    _add_note(t, f"grade {g} if a transfusion was given")
                for op, x, of in cell["symptomatic"]:
                    if t["grade"] < g and (t["op"], t["x"], t.get("of")) == (op, x, of):
                        _add_note(t, f"grade {g} if symptomatic")
    if "on_anticoagulation" in groups:
        for when, group in groups.items():
            if when != "on_anticoagulation":
                for t in group:
                    _add_note(t, "criteria for patients not on anticoagulants")
    order = ["always", "baseline_not_above_uln", "baseline_above_uln", "baseline_known", "baseline_below_lln",
             "on_anticoagulation"]
    criteria = [{"when": w, "thresholds": groups[w]} for w in order if w in groups]
    if not any(c["when"] != "on_anticoagulation" for c in criteria):
        raise CriteriaError(f"{where}: no lab threshold found")
    return {"direction": direction, "term": term, "criteria": criteria}


def _add_note(t: dict, note: str) -> None:
    t["note"] = note if "note" not in t else f"{t['note']}; {note}"


def read_v5(path: Path) -> dict[str, dict[int, str]]:
    raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    return {" ".join(r["CTCAE Term"].split()): {g: r[f"Grade {g}"] for g in range(1, 6)}
            for _, r in raw.iterrows()}


def read_v6(path: Path) -> dict[str, dict[int, str]]:
    from python_calamine import CalamineWorkbook

    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_name(V6_SHEET).to_python()
    head = [str(h).replace("\xa0", " ").strip() for h in rows[0]]
    col = {g: head.index(f"Grade {g}") for g in range(1, 6)}
    term = next(i for i, h in enumerate(head) if h.endswith("Term"))
    return {" ".join(str(r[term]).split()): {g: str(r[col[g]]) for g in range(1, 6)} for r in rows[1:] if r[term]}


def tabulate(version: str, grades_by_term: dict[str, dict[int, str]], source: str) -> dict:
    tests = {}
    for code, (si_unit, _, _, sides) in TESTS.items():
        out_sides = []
        for direction, v5_term, v6_term in sides:
            term = v5_term if version == "5.0" else v6_term
            if term not in grades_by_term:
                raise CriteriaError(f"{source}: term {term!r} not found")
            out_sides.append(_side(code, direction, term, grades_by_term[term], source))
        tests[code] = {"si_unit": si_unit, "sides": out_sides}
    return {"about": [line.format(version=version, source=source) for line in ABOUT],
            "ctcae_version": version, "tests": tests}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--v5", type=Path, default=DEFAULT_V5)
    parser.add_argument("--v6", type=Path, default=DEFAULT_V6)
    parser.add_argument("--out", type=Path, default=None, help="folder to write to (default: toxdb/data)")
    args = parser.parse_args(argv)
    tables = {"5.0": tabulate("5.0", read_v5(args.v5), args.v5.name),
              "6.0": tabulate("6.0", read_v6(args.v6), f"{args.v6.name} ({V6_SHEET})")}
    for version, table in tables.items():
        target = (args.out / TARGETS[version].name) if args.out else TARGETS[version]
        target.write_text(json.dumps(table, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"wrote CTCAE {version} criteria for {len(table['tests'])} tests to {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
