"""Tabulate the NCI CTCAE v6.0 workbook: the term dictionary and the v5.0 -> v6.0 mapping sheet.

    python tools/tabulate_ctcae_v6.py [path/to/CTCAE_v6.0.xlsx [OUT_DIR]]

Writes ``toxdb/data/ctcae_v6_terms.csv`` (MedDRA code, SOC, term, which grades exist; the same
columns as ctcae_v5_terms.csv) and ``toxdb/data/ctcae_v5_to_v6.csv`` (one row per v5 term and per
grade it has: the v6 term and grade NCI maps it to, the kind of change, and the text to write under
"Other, specify" when NCI folds the term into one). Only facts are kept; no grade description,
definition or note is copied. A developer script: toxdb reads the CSVs, never the workbook.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = ROOT.parent / "shared" / "reference" / "ctcae_v6" / "CTCAE_v6.0.xlsx"
TERMS_TARGET = ROOT / "toxdb" / "data" / "ctcae_v6_terms.csv"
MAPPING_TARGET = ROOT / "toxdb" / "data" / "ctcae_v5_to_v6.csv"
V5_TERMS = ROOT / "toxdb" / "data" / "ctcae_v5_terms.csv"
CLEAN_SHEET = "CTCAE v6.0 Clean Copy"
MAPPING_SHEET = "CTCAE v5.0 to v6.0 Mapping"
EXPECTED_V6_TERMS = 850

# spot checks from the issue and the NCI sheet: v6 term -> grades that exist
SPEC_CHECKS = {
    "Thrombocytopenia": (1, 2, 3, 4, 5),
    "Neutrophil count decreased": (1, 2, 3, 4),
    "Alkaline phosphatase increased": (1,),
    "Lymphopenia": (1,),
    "Creatinine increased": (1, 2, 3, 4),
}


def _code(value) -> str:
    return f"{int(float(value)):d}" if str(value).strip() not in ("", "-") else ""


def _text(value) -> str:
    return " ".join(str(value).replace("\xa0", " ").split())


def _grades_text(grades: tuple[int, ...]) -> str:
    if len(grades) > 1 and grades == tuple(range(grades[0], grades[-1] + 1)):
        return f"{grades[0]}-{grades[-1]}"
    return ",".join(str(g) for g in grades)


def _sheet(path: Path, name: str) -> list[list]:
    from python_calamine import CalamineWorkbook

    return CalamineWorkbook.from_path(str(path)).get_sheet_by_name(name).to_python()


def tabulate_terms(path: Path) -> pd.DataFrame:
    rows = _sheet(path, CLEAN_SHEET)
    head = [_text(h) for h in rows[0]]
    code, soc, term = (next(i for i, h in enumerate(head) if h.endswith(k)) for k in ("LLT Code", "SOC", "Term"))
    grade_col = {g: head.index(f"Grade {g}") for g in range(1, 6)}
    out = []
    for r in rows[1:]:
        if not _text(r[term]):
            continue
        exists = tuple(g for g, c in grade_col.items() if _text(r[c]) not in ("", "-"))
        if not exists:
            raise SystemExit(f"no grade exists for {r[term]!r}")
        out.append({"meddra_code": _code(r[code]), "soc": _text(r[soc]), "term": _text(r[term]),
                    "grade_min": min(exists), "grade_max": max(exists), "grades": _grades_text(exists)})
    return pd.DataFrame(out)


def tabulate_mapping(path: Path) -> pd.DataFrame:
    rows = _sheet(path, MAPPING_SHEET)
    head = [_text(h) for h in rows[1]]        # row 0 says V5 / V6 over the two halves
    names = ["v5_code", "v5_soc", "v5_term", "v5_part", "v5_text", "change", "v6_code", "v6_soc", "v6_term",
             "v6_part", "v6_text", "v6_other_specify"]
    if len(head) < len(names) or "Change Type" not in head[5]:
        raise SystemExit(f"{MAPPING_SHEET}: unexpected header {head}")
    raw = pd.DataFrame([r[: len(names)] for r in rows[2:]], columns=names)
    raw = raw[raw["v5_part"].map(_text).isin(["Definition"] + [f"Grade {g}" for g in range(1, 6)])]
    part = raw["v5_part"].map(_text)
    v6_part = raw["v6_part"].map(_text)
    other = raw["v6_other_specify"].map(_text)
    return pd.DataFrame({
        "v5_term": raw["v5_term"].map(_text),
        "v5_meddra_code": raw["v5_code"].map(_code),
        "v5_grade": part.str.extract(r"Grade (\d)")[0].fillna(""),
        "change": raw["change"].map(_text),
        "v6_term": raw["v6_term"].map(_text),
        "v6_meddra_code": raw["v6_code"].map(_code),
        "v6_grade": v6_part.str.extract(r"Grade (\d)")[0].fillna(""),
        "v6_other_specify": other.where(other != "N/A", ""),
    }).reset_index(drop=True)


def check(terms: pd.DataFrame, mapping: pd.DataFrame) -> None:
    problems = []
    if len(terms) != EXPECTED_V6_TERMS:
        problems.append(f"expected {EXPECTED_V6_TERMS} v6 terms, found {len(terms)}")
    if terms["term"].duplicated().any():
        problems.append("duplicate v6 terms")
    by_term = terms.set_index("term")
    for term, grades in SPEC_CHECKS.items():
        found = by_term.loc[term, "grades"] if term in by_term.index else None
        if found != _grades_text(grades):
            problems.append(f"{term}: grades {found}, expected {grades}")
    unknown = set(mapping["v6_term"]) - set(terms["term"])
    if unknown:
        problems.append(f"mapping names v6 terms not in the dictionary: {sorted(unknown)[:5]}")
    v5 = pd.read_csv(V5_TERMS, dtype=str, keep_default_na=False)
    missing = set(v5["term"]) - set(mapping["v5_term"])
    if missing:
        problems.append(f"v5 terms without a mapping row: {sorted(missing)[:5]}")
    if mapping.duplicated(["v5_term", "v5_grade"]).any():
        problems.append("a v5 term and grade is mapped twice")
    if problems:
        raise SystemExit("CTCAE v6 tabulation failed checks:\n  " + "\n  ".join(problems))


def main(argv: list[str]) -> int:
    source = Path(argv[1]) if len(argv) > 1 else DEFAULT_SOURCE
    terms, mapping = tabulate_terms(source), tabulate_mapping(source)
    check(terms, mapping)
    out = Path(argv[2]) if len(argv) > 2 else TERMS_TARGET.parent
    terms.to_csv(out / TERMS_TARGET.name, index=False, lineterminator="\n")
    mapping.to_csv(out / MAPPING_TARGET.name, index=False, lineterminator="\n")
    print(f"wrote {len(terms)} terms and {len(mapping)} mapping rows to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
